"""Console-script entry point.

It dispatches before importing the CLI framework: the spawn-time shim (coming
with ``wrap``) must not pay for typer and rich on every server start, and the
same place keeps ``python -m mcpcred`` and ``mcpcred`` identical.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run mcpcred with ``argv`` (default: the process arguments); return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    from mcpcred.cli import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
