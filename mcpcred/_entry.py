"""Console-script entry point: dispatch before importing the CLI framework.

Commands on hot paths (the spawn-time shim on every MCP server start;
``audit-config`` in CI and pre-commit hooks) must not pay for typer, pydantic and rich on
every run, so they are recognised here from ``argv`` and served by stdlib-only
front ends. Everything else, ``--help`` included, goes to the typer app.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run mcpcred with ``argv`` (default: the process arguments); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "shim":
        from mcpcred.shim.main import main as shim

        return shim(args[1:])
    if args and args[0] == "headers":
        from mcpcred.shim.headers import main as headers

        return headers(args[1:])
    if args and args[0] == "__complete":  # every TAB: the completion engine, no framework
        from mcpcred.cli.complete import main as complete

        return complete(args[1:])
    if args and args[0] == "completion" and not {"-h", "--help"} & set(args):
        from mcpcred.cli.shells import main as completion  # also runs at every shell start

        return completion(args[1:])
    from mcpcred.cli import fast

    if fast.handles(args):
        return fast.main(args)
    from mcpcred.cli.app import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
