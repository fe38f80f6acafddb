"""Large scans use worker processes; the report must be identical to a serial scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpcred.audit import scan as scan_module
from mcpcred.host import Host


def test_parallel_and_serial_scans_agree(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    count = scan_module.PARALLEL_THRESHOLD + 10
    for index in range(count):
        folder = project / f"repo{index:03d}"
        folder.mkdir()
        servers = {
            "s": {
                "command": "npx",
                "args": ["-y", "pkg"],
                "env": {"API_TOKEN": f"q7Vt2LmX9sRb4KdZ1wYc8N{index:04d}"},
            }
        }
        (folder / ".mcp.json").write_text(json.dumps({"mcpServers": servers}))
    (project / "repo000" / ".mcp.json").write_text("{broken")
    parallel = scan_module.scan([str(project)], Host.current())
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 10**9)
    serial = scan_module.scan([str(project)], Host.current())
    assert parallel.findings == serial.findings
    assert [f.secret_digest for f in parallel.findings] == [
        f.secret_digest for f in serial.findings
    ]
    assert parallel.files == serial.files
    assert len(parallel.files) == count
    assert {f.rule for f in parallel.findings} >= {"error/parse", "secret/generic-secret"}


def _round_trip(value: object) -> object:
    import pickle

    return pickle.loads(pickle.dumps(value))  # noqa: S301 - the bytes were just made here


def test_what_crosses_to_and_from_a_worker_pickles_to_itself(project: Path) -> None:
    """Jobs and outcomes pickle as their fields (``__reduce__``), severity as a number."""
    from mcpcred.models import Finding, Severity

    path = project / ".mcp.json"
    path.write_text(
        json.dumps({"mcpServers": {"s": {"env": {"API_TOKEN": "q7Vt2LmX9sRb4KdZ1wYc8N"}}}})
    )
    host = Host.current()
    jobs = list(scan_module.plan([str(project)], host).jobs)
    assert jobs and _round_trip(jobs) == jobs
    job = scan_module.Job("p", "shown", None, True, token_file=True)
    assert _round_trip(job) == job
    finding = Finding("secret/x", Severity.HIGH, "a", 1, 2, "m", secret_digest=b"d")
    for worst in (None, *Severity):
        outcome = scan_module.FileOutcome(
            scan_module.ScannedFile("p", "d", "c", "user", 3, error="e"),
            [finding],
            suppressed=2,
            everything=[finding, finding],
            rendered="r\u2026",
            count=1,
            parse_errors=1,
            severities=(1, 2, 3),
            worst=worst,
        )
        again = _round_trip(outcome)
        assert isinstance(again, scan_module.FileOutcome)
        assert again == outcome
        assert again.worst is worst  # the member itself, not an int equal to it
        assert again.everything is not None and again.everything[0].secret_digest == b"d"
    empty = scan_module.FileOutcome(None, [])
    assert _round_trip(empty) == empty
