"""Issue 12 §6: the directory walk finds client configs wherever they live, and says what it skips."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred import discovery
from mcpcred.audit.formats import json as json_format
from mcpcred.audit.formats import sarif, text
from mcpcred.audit.scan import scan
from mcpcred.host import Host
from tests.support.sarif import validate

OPAQUE = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"
CONFIG = {
    "mcpServers": {"svc": {"command": "node", "args": ["s.js"], "env": {"ACME_TOKEN": OPAQUE}}}
}
VSCODE = {"servers": {"svc": {"command": "node", "args": ["s.js"], "env": {"ACME_TOKEN": OPAQUE}}}}


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


@pytest.mark.parametrize(
    ("relative", "document", "client"),
    [
        (
            "dotfiles/Library/Application Support/Claude/claude_desktop_config.json",
            CONFIG,
            "claude-desktop",
        ),
        ("dotfiles/AppData/Roaming/Claude/claude_desktop_config.json", CONFIG, "claude-desktop"),
        ("dotfiles/Library/Application Support/Code/User/mcp.json", VSCODE, "vscode"),
        ("dotfiles/AppData/Roaming/Code/User/profiles/work/mcp.json", VSCODE, "vscode"),
        (
            "dotfiles/Library/Application Support/Code/User/globalStorage/"
            "saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
            CONFIG,
            "cline",
        ),
        ("dotfiles/.aws/amazonq/mcp.json", CONFIG, "amazon-q"),
        (
            "dotfiles/.config/opencode/opencode.json",
            {
                "mcp": {
                    "svc": {
                        "type": "local",
                        "command": ["node"],
                        "environment": CONFIG["mcpServers"]["svc"]["env"],
                    }
                }
            },
            "opencode",
        ),
        ("repo/.crush.json", {"mcp": {"svc": CONFIG["mcpServers"]["svc"]}}, "crush"),
        ("dotfiles/.config/amp/settings.json", {"amp.mcpServers": CONFIG["mcpServers"]}, "amp"),
        ("repo/.kiro/settings/mcp.json", CONFIG, "kiro"),
        ("repo/.roo/mcp.json", CONFIG, "roo-code"),
        ("repo/.junie/mcp/mcp.json", CONFIG, "jetbrains"),
        ("repo/.github/mcp.json", CONFIG, "copilot-cli"),
        ("dotfiles/.config/goose/config.yaml", {"extensions": CONFIG["mcpServers"]}, "goose"),
        (
            "repo/.continue/mcpServers/team.yaml",
            {"mcpServers": [{"name": "svc", **CONFIG["mcpServers"]["svc"]}]},
            "continue",
        ),
        ("dotfiles/home/.copilot/mcp-config/.mcp.json", CONFIG, "claude-code"),
        # chezmoi source names: dot_X is .X, private_ and friends are attributes
        ("chezmoi/private_dot_cursor/mcp.json", CONFIG, "cursor"),
        ("chezmoi/dot_mcp.json", CONFIG, "claude-code"),
        ("chezmoi/dot_codeium/windsurf/private_mcp_config.json", CONFIG, "windsurf"),
        ("chezmoi/dot_vscode/mcp.json", VSCODE, "vscode"),
    ],
)
def test_a_client_config_is_found_wherever_it_lives(
    relative: str, document: object, client: str, project: Path
) -> None:
    path = _write(project / relative, document)
    report = scan([str(project)], Host.current())
    assert [(f.display_path, f.client) for f in report.files] == [
        (os.path.relpath(path, project), client)
    ]
    assert [f.rule for f in report.findings if f.rule.startswith("secret/")] == [
        "secret/generic-secret"
    ]


def test_skipped_folders_are_reported_with_the_reason(project: Path) -> None:
    _write(project / "node_modules" / "pkg" / ".mcp.json", CONFIG)
    _write(project / "web" / "node_modules" / "pkg" / ".mcp.json", CONFIG)
    (project / ".git").mkdir()
    _write(project / "Library" / "Caches" / "x" / ".mcp.json", CONFIG)
    report = scan([str(project)], Host.current())
    assert report.findings == []
    skipped = {(s.path, s.reason) for s in report.skipped}
    assert skipped == {
        (".git", "version control data"),
        ("node_modules", "dependencies"),
        (os.path.join("web", "node_modules"), "dependencies"),
        ("Library", "application data; only client config paths inside it were read"),
    }
    document = json.loads(json_format.render(report))
    assert {(s["path"], s["reason"]) for s in document["skipped"]} == skipped
    rendered = text.render(report, color=False)
    assert "Skipped (dependencies): node_modules, " in rendered
    assert "Skipped (version control data): .git" in rendered
    log = json.loads(sarif.render(report, str(project)))
    validate(log)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert sorted(n["message"]["text"] for n in notes) == [
        "Skipped 1 folder(s), not scanned: application data; only client config paths inside "
        "it were read",
        "Skipped 1 folder(s), not scanned: version control data",
        "Skipped 2 folder(s), not scanned: dependencies",
    ]
    assert all(n["level"] == "note" for n in notes)


def test_too_deep_and_symlinked_folders_are_reported(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discovery, "MAX_DEPTH", 2)
    _write(project / "a" / "b" / "c" / ".mcp.json", CONFIG)
    (project / "link").symlink_to(project / "a")
    report = scan([str(project)], Host.current())
    assert report.findings == []
    reasons = {(s.path, s.reason) for s in report.skipped}
    assert (os.path.join("a", "b", "c"), "deeper than 2 folders") in reasons
    assert ("link", "symbolic link to a folder; not followed") in reasons


def test_nothing_skipped_means_no_skipped_line(project: Path) -> None:
    _write(project / ".mcp.json", CONFIG)
    report = scan([str(project)], Host.current())
    assert report.skipped == []
    assert "Skipped" not in text.render(report, color=False)
    assert json.loads(json_format.render(report))["skipped"] == []


_segments = st.sampled_from(["", ".", "..", "a", ".vscode", "dot_cursor", "private_dot_x", "é b"])


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(_segments, max_size=6), st.sampled_from(["", "/", "//", "./"]))
def test_parent_names_are_those_of_purepath(segments: list[str], head: str) -> None:
    """``_parent_names`` splits the path itself (``clients.base.path_parts``) instead of
    building a PurePath: it must name the same folders ("." and "//" included), for a
    normalised absolute path (what ``infer`` passes) and for any other."""
    from pathlib import PurePath

    path = head + "/".join(segments)
    expected = tuple(discovery.source_name(p) for p in reversed(PurePath(path).parts[:-1]))
    assert discovery._parent_names(path) == expected
    normalised = os.path.abspath("/" + "/".join(segments) + "/x.json")
    expected = tuple(discovery.source_name(p) for p in reversed(PurePath(normalised).parts[:-1]))
    assert discovery._parent_names(normalised) == expected
