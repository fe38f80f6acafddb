"""Detection quality on a fresh seed of the benchmark's labelled corpus (no timing here).

The benchmark (benchmarks/bench_audit.py) reports recall and precision on its
default seed; this test generates a different, smaller corpus so a change to
the detector that loses recall or precision fails CI rather than waiting for
someone to run the benchmark.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.support.cli import run

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.mark.slow
def test_recall_and_precision_on_a_fresh_corpus(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import bench_audit
        import corpus as gen
    finally:
        sys.path.remove(str(BENCHMARKS))
    root = tmp_path / "corpus"
    corpus = gen.build(120, seed=20261121)
    corpus.write(root)
    assert len(corpus.secrets) > 250
    result = run(
        "audit-config", ".", "--format", "json", "--output", str(tmp_path / "r.json"), cwd=root
    )
    assert result.code == 1, result.stderr
    quality = bench_audit.score_mcpcred(corpus, root, json.loads((tmp_path / "r.json").read_text()))
    misses = [(m.path, m.what, m.detail) for m in quality.false_negatives][:5]
    alarms = [(m.path, m.what, m.detail) for m in quality.false_positives][:5]
    assert quality.recall >= 0.98, misses
    assert quality.precision >= 0.99, alarms
