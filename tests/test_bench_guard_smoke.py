"""The guard relay benchmark (benchmarks/bench_guard.py) still runs end to end.

Tiny counts, no targets: this only catches a benchmark broken by a change
elsewhere (the shim's guard mode, the audit log, the keychain, the scripted
server). Without ``--check`` the benchmark exits 0 whatever the figures, and 1
when the run itself is broken: an answer missing or not the server's bytes, or
the guard not on.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_guard.py"


@pytest.mark.slow
def test_bench_guard_runs_quickly_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--calls", "50", "--warmup", "5", "--sizes", "1",
         "--runs", "1", "--mem-calls", "100,300"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "BENCHMARK BROKEN" not in result.stdout
    assert "checked: the shim relays" in result.stdout, output[-3000:]
    for heading in ("== latency", "== throughput", "== memory", "== targets =="):
        assert heading in result.stdout, output[-3000:]
    assert "after 300 calls" in result.stdout
    assert "audit log: none" not in result.stdout, output[-3000:]
