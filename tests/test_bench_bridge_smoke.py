"""The remote bridge benchmark (benchmarks/bench_bridge.py) still runs end to end.

Tiny counts, no targets: this only catches a benchmark broken by a change
elsewhere (the bridge, the shim's options, the keychain, the test servers).
Without ``--check`` it exits 0 whatever the figures, and 1 when the run itself
is broken (an answer missing or wrong, a client that did not list the tools).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_bridge.py"


@pytest.mark.slow
def test_bench_bridge_runs_quickly_end_to_end() -> None:
    result = subprocess.run(
        [sys.executable, str(BENCH), "--calls", "20", "--warmup", "2", "--sizes", "1",
         "--runs", "1", "--mem-calls", "50,100"],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "BENCHMARK BROKEN" not in result.stdout, output[-3000:]
    for heading in ("== first tools/list", "== latency", "== throughput", "== memory",
                    "== targets =="):  # fmt: skip
        assert heading in result.stdout, output[-3000:]
    assert "after 100 calls" in result.stdout
    assert "the shim exited 0" in result.stdout, output[-3000:]
