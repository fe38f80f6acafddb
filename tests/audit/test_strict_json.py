"""A comment in a file its client reads as strict JSON is reported: the client skips it silently."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.audit.scan import scan
from mcpcred.host import Host

SERVERS = '{\n  // added by hand\n  "%s": {"a": {"command": "node", "args": ["a.js"]}},\n}\n'


@pytest.mark.parametrize(
    ("relative", "key", "client", "reported"),
    [
        ("cline-data/cline_mcp_settings.json", "mcpServers", "cline", True),
        (".crush.json", "mcp", "crush", True),
        (".github/mcp.json", "mcpServers", "copilot-cli", True),  # a workspace file
        (".amp/settings.json", "amp.mcpServers", "amp", False),  # Amp reads JSONC
        ("opencode.json", "mcp", "opencode", False),  # so does opencode
    ],
)
def test_comments_in_a_strict_json_file_are_reported(
    project: Path, relative: str, key: str, client: str, reported: bool
) -> None:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SERVERS % key)
    report = scan([str(path)], Host.current())
    assert [f.client for f in report.files] == [client]
    found = [f for f in report.findings if f.rule == "hygiene/not-strict-json"]
    assert bool(found) is reported
    if reported:
        assert (found[0].line, found[0].column) == (1, 1)
        assert "strict JSON" in found[0].message
    # the same file without the comment and the trailing comma is fine for every client
    path.write_text(SERVERS.replace("  // added by hand\n", "").replace("}},\n}", "}}\n}") % key)
    clean = scan([str(path)], Host.current())
    assert not [f for f in clean.findings if f.rule == "hygiene/not-strict-json"]


def test_a_strict_file_without_servers_is_not_reported(project: Path) -> None:
    path = project / ".crush.json"
    path.write_text('{\n  // theme only\n  "mcp": {},\n  "options": {}\n}\n')
    report = scan([str(path)], Host.current())
    assert not [f for f in report.findings if f.rule == "hygiene/not-strict-json"]
