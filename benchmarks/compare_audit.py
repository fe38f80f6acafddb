"""Compare two ``mcpcred`` installs' ``audit-config`` output byte for byte.

A speed change to the scanner must not change one byte of any report, nor the exit
code. This runs the OLD and the NEW executable on the same folders, in every format
(``text``, colour forced too; ``json`` and ``--pretty``; ``jsonl``; ``sarif`` and
``--pretty``), each folder scanned as ``.`` from inside it and by its absolute path
from elsewhere, and compares stdout, stderr and the exit code. Trees to use:
``bench_audit.py --keep DIR`` builds them (timing trees and the labelled corpus);
``tests/fixtures`` has one file per client shape.

    python benchmarks/compare_audit.py --old OLD/bin/mcpcred --new .venv/bin/mcpcred DIR...

Exit code 0 when every run matched, 1 otherwise (the differing runs are listed, with
the first differing byte offset; reports are never printed: they hold redacted
evidence only, but a tree may be someone's real configs). ``--home DIR`` sets HOME
for both (user-scope files, ``~/`` paths, permission findings); by default HOME is an
empty temporary folder, so the machine's own client configs never enter a report.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FORMATS: tuple[tuple[str, ...], ...] = (
    ("--format", "text"),
    ("--format", "json"),
    ("--format", "json", "--pretty"),
    ("--format", "jsonl"),
    ("--format", "sarif"),
    ("--format", "sarif", "--pretty"),
)


def _run(binary: str, cwd: Path, args: list[str], env: dict[str, str]) -> tuple[int, bytes, bytes]:
    done = subprocess.run(
        [binary, "audit-config", *args], cwd=cwd, env=env, capture_output=True, check=False
    )
    return done.returncode, done.stdout, done.stderr


def _first_difference(a: bytes, b: bytes) -> int:
    """The offset of the first byte that differs (the shorter length if one is a prefix)."""
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return index
    return min(len(a), len(b))


def compare(old: str, new: str, folders: list[Path], home: Path) -> int:
    """Run every case on every folder; print one line per case; return the mismatches."""
    base = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    base["HOME"] = str(home)
    elsewhere = Path(tempfile.gettempdir())
    mismatches = 0
    for folder in folders:
        cases: list[tuple[str, Path, list[str], dict[str, str]]] = []
        for fmt in FORMATS:
            tag = " ".join(fmt[1:])
            cases.append((f"{tag} .", folder, [".", *fmt], base))
            cases.append((f"{tag} absolute", elsewhere, [str(folder.resolve()), *fmt], base))
        cases.append(
            ("text colour", folder, [".", "--format", "text"], {**base, "FORCE_COLOR": "1"})
        )
        for tag, cwd, args, env in cases:
            before = _run(old, cwd, args, env)
            after = _run(new, cwd, args, env)
            same = before == after
            mismatches += not same
            detail = f"exit {before[0]}, {len(before[1])} bytes"
            if not same:
                where = _first_difference(before[1], after[1])
                detail = (
                    f"exit {before[0]}/{after[0]}, {len(before[1])}/{len(after[1])} bytes, "
                    f"first difference at byte {where}, stderr "
                    + ("same" if before[2] == after[2] else "differs")
                )
            print(f"{'same' if same else 'DIFFERS':8} {folder.name}: {tag} ({detail})", flush=True)
    return mismatches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="the mcpcred executable before")
    parser.add_argument("--new", required=True, help="the mcpcred executable after")
    parser.add_argument("--home", type=Path, help="HOME for both (default: an empty folder)")
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for folder in args.folders:
        if not folder.is_dir():
            print(f"not a folder: {folder}")
            return 2
    # Each case runs from its own folder: a relative executable is resolved here first.
    old, new = (os.path.abspath(shutil.which(b) or b) for b in (args.old, args.new))
    with tempfile.TemporaryDirectory(prefix="mcpcred-compare-") as empty:
        home = args.home.resolve() if args.home else Path(empty)
        mismatches = compare(old, new, [f.resolve() for f in args.folders], home)
    print("every run matched" if not mismatches else f"{mismatches} run(s) differ")
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
