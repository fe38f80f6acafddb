"""Stdlib-only front ends for the commands that run in hot paths.

``audit-config`` runs in CI and pre-commit hooks, often on every commit; typer
and its dependencies cost more to import than scanning a hundred files. This
module parses the same options with ``argparse`` and calls the same
``audit_run.run``. Anything it does not handle itself (``--help``, the global
options) falls back to the typer application, so the help text has one source.
A test keeps the option sets of both front ends identical.
"""

from __future__ import annotations

import argparse
import sys

from mcpcred.audit.formats import FORMATS
from mcpcred.cli import audit_run
from mcpcred.cli.report import debug_enabled, guarded, stderr
from mcpcred.errors import EXIT_USAGE


class _Usage(Exception):
    """argparse found a usage error; its message is in ``args[0]``."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise _Usage(message)


def audit_parser() -> argparse.ArgumentParser:
    """The fast-path parser for ``audit-config`` (help is typer's, not this)."""
    parser = _Parser(prog="mcpcred audit-config", add_help=False, allow_abbrev=False)
    parser.add_argument("paths", nargs="*")
    parser.add_argument("--format", "-f", choices=FORMATS, default="text")
    parser.add_argument("--output", "-o")
    parser.add_argument("--fail-on", choices=audit_run.SEVERITIES)
    parser.add_argument("--baseline")
    parser.add_argument("--write-baseline")
    parser.add_argument("--ignore-parse-errors", action="store_true")
    parser.add_argument("--config")
    parser.add_argument("--pretty", action="store_true")
    parser.add_argument("--debug", action="store_true")
    return parser


def handles(args: list[str]) -> bool:
    """Whether the fast path can serve this command line on its own."""
    return bool(args) and args[0] == "audit-config" and not {"-h", "--help"} & set(args)


def audit_config(args: list[str]) -> int:
    """Run ``audit-config`` (``args`` without the command name)."""
    try:
        parsed = audit_parser().parse_args(args)
    except _Usage as exc:
        stderr(f"error: {exc.args[0]}")
        stderr("hint: see `mcpcred audit-config --help`")
        return EXIT_USAGE
    options = audit_run.AuditOptions(
        paths=list(parsed.paths),
        format=parsed.format,
        output=parsed.output,
        fail_on=parsed.fail_on,
        baseline=parsed.baseline,
        write_baseline=parsed.write_baseline,
        ignore_parse_errors=parsed.ignore_parse_errors,
        config=parsed.config,
        pretty=parsed.pretty,
    )
    return guarded(lambda: audit_run.run(options), debug=debug_enabled(args))


def main(args: list[str]) -> int:
    """Dispatch a fast-path command; ``handles(args)`` must be true."""
    return audit_config(args[1:])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main(sys.argv[1:]))
