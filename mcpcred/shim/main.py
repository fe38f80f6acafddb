"""The shim's entry: parse, resolve, become (guard, bridge to) the server, or fail visibly."""

from __future__ import annotations

import os
import sys

from mcpcred.errors import McpcredError, ShimError
from mcpcred.guard.settings import load as guard_settings
from mcpcred.shim import fail
from mcpcred.shim.launch import become
from mcpcred.shim.options import USAGE, ShimOptions, parse
from mcpcred.shim.resolve import prepare


def main(args: list[str]) -> int:
    """Run ``mcpcred shim ARGS``; a local server's success execs it and never returns here."""
    options: ShimOptions | None = None
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    try:
        options = parse(args)
        guard = guard_settings(options.server, os.environ, client=options.client)
        if guard is not None:
            from mcpcred.guard.run import run

            return run(options, guard, os.environ)
        if options.url is not None:  # a remote server: bridge stdio to it (imports httpx)
            from mcpcred.bridge.remote import run as bridge

            return bridge(options, os.environ)
        argv, env = prepare(options, os.environ)
        become(argv, env)
        raise ShimError(f"could not start {argv[0]!r}")  # become() only returns by raising
    except McpcredError as exc:
        return fail.report(exc, options.label() if options else None)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug must still fail visibly, without locals or values
        error = ShimError(f"unexpected {type(exc).__name__} (a bug in mcpcred)")
        return fail.report(error, options.label() if options else None)
