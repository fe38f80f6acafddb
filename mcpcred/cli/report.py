"""The one place where errors become ``error:``/``hint:`` lines and exit codes.

Stdlib only, so that both the typer application and the fast paths (the shim,
``audit-config``) report errors identically without importing the framework.
Tracebacks are printed only in debug mode, and never with local variables,
which may hold tokens.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from mcpcred.errors import EXIT_INTERRUPTED, EXIT_SOFTWARE, McpcredError
from mcpcred.terminal import printable


def stderr(line: str) -> None:
    """Write one line to stderr now."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def debug_enabled(args: list[str]) -> bool:
    """``--debug`` on the command line or ``MCPCRED_DEBUG=1`` in the environment."""
    return "--debug" in args or os.environ.get("MCPCRED_DEBUG") == "1"


def guarded(body: Callable[[], int], *, debug: bool) -> int:
    """Run ``body`` and map whatever it raises to a message and an exit code."""
    try:
        return body()
    except McpcredError as exc:
        stderr(f"error: {printable(exc.message)}")  # messages name servers from configs
        if exc.hint:
            stderr(f"hint: {printable(exc.hint)}")
        if debug:
            _print_traceback()
        return exc.exit_code
    except KeyboardInterrupt:
        stderr("error: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as exc:
        stderr(f"error: unexpected {type(exc).__name__} (a bug in mcpcred)")
        if debug:
            _print_traceback()
        else:
            stderr("hint: re-run with --debug for a traceback and report it")
        return EXIT_SOFTWARE


def _silence_stdout() -> None:
    """After EPIPE, point stdout at devnull so the interpreter's final flush is quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def _print_traceback() -> None:
    """The current exception's traceback; ``traceback`` is imported only for it."""
    import traceback

    traceback.print_exc()
