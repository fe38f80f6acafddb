"""The CLI start-up benchmark (benchmarks/bench_cli.py) still runs end to end.

One round, no targets enforced: this only catches a benchmark broken by a change elsewhere
(a command's arguments, the keychain fixture, the isolated HOME). It runs against this
interpreter's own install (``--venv``), so it needs no package registry.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_cli.py"


@pytest.mark.slow
def test_bench_cli_runs_quickly_end_to_end() -> None:
    venv = Path(sys.executable).parent.parent
    if not (venv / "bin" / "mcpcred").exists() or not list(venv.glob("lib/python*/site-packages")):
        pytest.skip("the tests do not run from a virtual environment with mcpcred installed")
    result = subprocess.run(
        [sys.executable, str(BENCH), "--venv", str(venv), "--runs", "1", "--warmup", "0"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, (out + result.stderr)[-3000:]
    assert "BENCHMARK BROKEN" not in out
    assert "store: gnome-keyring on a private D-Bus session bus" in out
    for command in ("--version", "--help", "clients", "status", "wrap --dry-run"):
        assert re.search(rf"^installed \(new\) +{re.escape(command)} ", out, re.M), out[-3000:]
        assert f"`mcpcred {command}` added median <= " in out
