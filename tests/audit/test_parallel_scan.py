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
