"""Each adapter finds every server in its client's real file shapes, and nothing else."""

from __future__ import annotations

from pathlib import Path

from mcpcred.clients import BY_ID, is_wrapped
from mcpcred.discovery import infer
from mcpcred.host import Host
from mcpcred.models import ServerEntry
from mcpcred.parsing.files import parse, read_text
from tests.support import fixtures


def _servers(relative: str, destination: Path) -> list[ServerEntry]:
    fixtures.render(relative, destination)
    candidate = infer(str(destination), Host.current())
    document = parse(str(destination), read_text(str(destination)))
    return candidate.adapter.servers(document, candidate.location)


def _shape(entries: list[ServerEntry]) -> dict[str, tuple[str, str | None]]:
    return {e.name: (e.transport, e.command_text()) for e in entries}


def test_claude_desktop_keeps_only_mcp_servers(project: Path) -> None:
    entries = _servers(
        "claude-desktop/claude_desktop_config.json", project / "claude_desktop_config.json"
    )
    assert _shape(entries) == {"github": ("stdio", "npx"), "filesystem": ("stdio", "npx")}
    assert {e.client for e in entries} == {"claude-desktop"}
    assert [k.name for k, _ in entries[0].env] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]


def test_claude_code_user_file_has_user_and_local_scope_servers(home: Path) -> None:
    entries = _servers("claude-code/.claude.json", home / ".claude.json")
    assert _shape(entries) == {
        "sentry": ("stdio", "npx"),
        "linear": ("remote", None),
        "postgres": ("stdio", "npx"),
    }
    postgres = entries[2]
    assert postgres.pointer == ("projects", "/work/app", "mcpServers", "postgres")
    assert entries[1].url is not None and entries[1].headers[0][0].name == "Authorization"


def test_claude_code_project_file_and_wrapped_detection(project: Path) -> None:
    entries = _servers("claude-code/.mcp.json", project / ".mcp.json")
    assert [e.name for e in entries] == ["stripe", "wrapped"]
    assert [is_wrapped(e) for e in entries] == [False, True]
    assert entries[0].location.scope == "project"


def test_cursor_crlf_file(project: Path) -> None:
    entries = _servers("cursor/mcp.json", project / ".cursor" / "mcp.json")
    assert _shape(entries) == {"brave": ("stdio", "npx"), "docs": ("remote", None)}
    assert {e.client for e in entries} == {"cursor"}


def test_vscode_servers_key_and_legacy_settings(project: Path) -> None:
    entries = _servers("vscode/mcp.json", project / ".vscode" / "mcp.json")
    assert _shape(entries) == {"postgres": ("stdio", "npx"), "github-remote": ("remote", None)}
    legacy = _servers("vscode/settings.json", project / ".vscode" / "settings.json")
    assert _shape(legacy) == {"notion": ("stdio", "npx")}
    assert legacy[0].pointer == ("mcp", "servers", "notion")


def test_windsurf_server_url(home: Path) -> None:
    entries = _servers(
        "windsurf/mcp_config.json", home / ".codeium" / "windsurf" / "mcp_config.json"
    )
    assert _shape(entries) == {"exa": ("remote", None), "slack": ("stdio", "npx")}
    assert entries[0].location.scope == "user"


def test_zed_current_legacy_remote_and_extension_shapes(project: Path) -> None:
    entries = _servers("zed/settings.json", project / ".zed" / "settings.json")
    assert _shape(entries) == {
        "current": ("stdio", "npx"),
        "legacy": ("stdio", "uvx"),
        "remote": ("remote", None),
        "extension-owned": ("stdio", None),
    }
    legacy = entries[1]
    assert legacy.arg_texts() == ["mcp-server-git"]
    assert [k.name for k, _ in legacy.env] == ["GITLAB_TOKEN"]


def test_codex_toml_tables(project: Path) -> None:
    entries = _servers("codex/config.toml", project / ".codex" / "config.toml")
    assert _shape(entries) == {
        "github": ("stdio", "docker"),
        "figma": ("remote", None),
        "openai": ("stdio", "uvx"),
    }
    assert [k.name for k, _ in entries[0].env] == ["GITHUB_TOOLSETS"]
    assert [k.name for k, _ in entries[1].headers] == ["Authorization"]


def test_gemini_http_url(project: Path) -> None:
    entries = _servers("gemini-cli/settings.json", project / ".gemini" / "settings.json")
    assert _shape(entries) == {
        "gitlab": ("stdio", "npx"),
        "remote": ("remote", None),
        "shell": ("stdio", "bash"),
    }
    assert {e.client for e in entries} == {"gemini-cli"}


def test_every_adapter_reads_an_empty_object() -> None:
    from mcpcred.parsing.jsonc import parse_jsonc
    from mcpcred.parsing.toml import parse_toml

    for adapter in BY_ID.values():
        for document in (parse_jsonc("{}"), parse_toml("")):
            location = (
                adapter.project_locations(Path("/p"))[:1]
                or adapter.user_locations(Host.current())[:1]
            )
            for loc in location:
                assert adapter.servers(document, loc) == []


def test_non_object_servers_are_skipped(project: Path) -> None:
    path = project / ".mcp.json"
    path.write_text('{"mcpServers": {"a": "oops", "b": [], "c": {"command": "x"}}}')
    document = parse(str(path), read_text(str(path)))
    candidate = infer(str(path), Host.current())
    assert [e.name for e in candidate.adapter.servers(document, candidate.location)] == ["c"]
