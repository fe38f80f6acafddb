"""The OAuth start-up benchmark (benchmarks/bench_oauth.py) still runs end to end.

Tiny run counts, no timing targets: this only catches a benchmark broken by a
change elsewhere (the shim, the keychain, the login, the test OAuth server).
Without ``--check`` the benchmark exits 0 whatever the figures, and 1 when the
run itself is broken: a shim that fails, or a refresh count that is off.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_oauth.py"


@pytest.mark.slow
def test_bench_oauth_runs_quickly_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--quick", "--runs", "2", "--refresh-runs", "1",
         "--rounds", "1", "--warmup", "0"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for heading in ("== 1-2.", "== 3.", "== 4.", "== targets =="):
        assert heading in result.stdout, output[-3000:]
    assert "make exactly 1 refresh request: 1 of 1 rounds" in result.stdout
    assert "BENCHMARK BROKEN" not in result.stdout
