"""Locations with a ``*``: a whole folder (VS Code profiles) or a file pattern (agent files)."""

from __future__ import annotations

import os
from pathlib import Path

from mcpcred.clients import BY_ID
from mcpcred.discovery import expand
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


def _found(pattern: Path) -> list[str]:
    location = ConfigLocation("x", str(pattern), "user", "json")
    return [os.path.relpath(loc.path, pattern.parents[1]) for loc in expand(location)]


def test_a_star_segment_and_a_star_in_a_file_name(tmp_path: Path) -> None:
    for relative in ("p/a/mcp.json", "p/b/mcp.json", "p/c/other.json", "agents/x.json"):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text("{}")
    (tmp_path / "agents" / "notes.txt").write_text("")
    (tmp_path / "agents" / "dir.json").mkdir()  # a folder is no config file
    assert _found(tmp_path / "p" / "*" / "mcp.json") == ["a/mcp.json", "b/mcp.json"]
    assert _found(tmp_path / "agents" / "*.json") == ["agents/x.json"]
    assert _found(tmp_path / "missing" / "*.json") == []


def test_the_newer_clients_glob_locations_find_their_files(home: Path, project: Path) -> None:
    kiro = home / ".kiro" / "agents" / "reviewer.json"
    amazon_q = home / ".aws" / "amazonq" / "cli-agents" / "default.json"
    block = project / ".continue" / "mcpServers" / "team.yaml"
    for path in (kiro, amazon_q, block):
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    host = Host.current()
    found: dict[str, list[str]] = {}
    for client in ("kiro", "amazon-q", "continue"):
        adapter = BY_ID[client]
        locations = adapter.user_locations(host) + adapter.project_locations(project)
        found[client] = [loc.path for location in locations for loc in expand(location)]
    assert str(kiro) in found["kiro"]
    assert str(amazon_q) in found["amazon-q"]
    assert found["continue"] == [str(block)]
