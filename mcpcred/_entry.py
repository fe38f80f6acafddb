"""Console-script entry point: dispatch before importing the CLI framework.

Commands on hot paths (``audit-config`` in CI and pre-commit hooks; the
spawn-time shim when it arrives) must not pay for typer, pydantic and rich on
every run, so they are recognised here from ``argv`` and served by stdlib-only
front ends. Everything else, ``--help`` included, goes to the typer app.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run mcpcred with ``argv`` (default: the process arguments); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from mcpcred.cli import fast

    if fast.handles(args):
        return fast.main(args)
    from mcpcred.cli.app import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
