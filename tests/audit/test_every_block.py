"""Issue 12 §6: every block of servers in a file is scanned, not only the one its client reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpcred.audit.scan import scan
from mcpcred.host import Host
from mcpcred.models import Finding

OPAQUE = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"
SERVER = {"command": "node", "args": ["s.js"], "env": {"ACME_API_KEY": OPAQUE}}
CLEAN = {"command": "node", "args": ["s.js"]}


def _secrets(path: Path) -> list[Finding]:
    return [f for f in scan([str(path)], Host.current()).findings if f.rule.startswith("secret/")]


@pytest.mark.parametrize(
    ("relative", "document", "block"),
    [
        (".vscode/mcp.json", {"servers": {"a": CLEAN}, "mcpServers": {"b": SERVER}}, "mcpServers"),
        (".cursor/mcp.json", {"mcpServers": {"a": CLEAN}, "servers": {"b": SERVER}}, "servers"),
        (
            "claude_desktop_config.json",
            {"mcpServers": {"a": CLEAN}, "context_servers": {"b": SERVER}},
            "context_servers",
        ),
        (
            ".zed/settings.json",
            {"context_servers": {}, "mcp_servers": {"b": SERVER}},
            "mcp_servers",
        ),
        (
            ".gemini/settings.json",
            {"mcpServers": {}, "mcp": {"servers": {"b": SERVER}}},
            "mcp.servers",
        ),
        (".cursor/mcp.json", {"mcpServers": {}, "mcp": {"b": SERVER}}, "mcp"),
    ],
)
def test_a_block_the_client_does_not_read_is_scanned(
    relative: str, document: dict[str, object], block: str, project: Path
) -> None:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2))
    found = _secrets(path)
    assert [(f.rule, f.server) for f in found] == [("secret/generic-secret", "b")]
    assert f"in '{block}'" in found[0].message
    assert OPAQUE not in found[0].message
    assert found[0].fix is not None and "mcpcred wrap" not in found[0].fix.split(";")[0]


def test_a_block_the_client_reads_is_reported_once(project: Path) -> None:
    path = project / ".vscode" / "mcp.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"servers": {"b": SERVER}}))
    found = _secrets(path)
    assert [(f.rule, f.server) for f in found] == [("secret/generic-secret", "b")]
    assert "does not read" not in found[0].message


def test_members_that_are_not_servers_are_left_alone(project: Path) -> None:
    path = project / ".cursor" / "mcp.json"
    path.parent.mkdir()
    settings = {"mcpServers": {}, "mcp": {"allowed": ["a"], "policy": {"mode": "strict"}}}
    path.write_text(json.dumps(settings))
    report = scan([str(path)], Host.current())
    assert report.findings == []
    assert report.files[0].servers == 0
