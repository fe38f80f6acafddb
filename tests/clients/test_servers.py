"""Each adapter finds every server in its client's real file shapes, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.audit.scan import parse, read_text
from mcpcred.clients import BY_ID, is_wrapped
from mcpcred.discovery import infer
from mcpcred.host import Host
from mcpcred.models import ServerEntry
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


def _by_name(entries: list[ServerEntry]) -> dict[str, ServerEntry]:
    return {e.name: e for e in entries}


def test_opencode_reads_argv_arrays_v1_and_v2_not_overrides(project: Path) -> None:
    """``"jira": {"enabled": false}`` turns off a server defined elsewhere: no server here."""
    entries = _servers("opencode/opencode.jsonc", project / "opencode.jsonc")
    assert {e.client for e in entries} == {"opencode"}
    assert _shape(entries) == {
        "github": ("stdio", "npx"),
        "stripe": ("stdio", "npx"),
        "notes": ("stdio", "uvx"),
        "tracker": ("remote", None),
        "docs": ("remote", None),
        "sentry": ("stdio", "npx"),  # V2: mcp.servers.<name>
    }
    named = _by_name(entries)
    # the command array is the argv: the rest of it are the args
    assert named["github"].arg_texts() == ["-y", "@modelcontextprotocol/server-github@2025.4.8"]
    assert [k.name for k, _ in named["github"].env] == ["GITHUB_PERSONAL_ACCESS_TOKEN", "LOG"]
    assert named["sentry"].pointer == ("mcp", "servers", "sentry")
    assert named["tracker"].headers[0][0].name == "Authorization"


def test_a_v1_opencode_server_called_servers_is_still_a_server(project: Path) -> None:
    path = project / "opencode.json"
    path.write_text('{"mcp": {"servers": {"type": "local", "command": ["x", "--y"]}}}')
    document = parse(str(path), read_text(str(path)))
    candidate = infer(str(path), Host.current())
    [entry] = candidate.adapter.servers(document, candidate.location)
    assert (entry.name, entry.command_text(), entry.arg_texts()) == ("servers", "x", ["--y"])


def test_cline_reads_the_nested_transport_and_the_flat_form(home: Path) -> None:
    path = home / ".cline" / "data" / "settings" / "cline_mcp_settings.json"
    entries = _servers("cline/cline_mcp_settings.json", path)
    assert {e.client for e in entries} == {"cline"}
    assert entries[0].location.scope == "user"
    assert _shape(entries) == {
        "notion": ("stdio", "npx"),
        "slack": ("stdio", "npx"),
        "tracker": ("remote", None),
        "legacy-sse": ("remote", None),
    }
    named = _by_name(entries)
    assert [k.name for k, _ in named["notion"].env] == ["NOTION_TOKEN"]
    assert named["notion"].arg_texts()[-1] == "@notionhq/notion-mcp-server@1.8.1"
    assert [k.name for k, _ in named["tracker"].headers] == ["Authorization"]
    adapter = BY_ID["cline"]
    assert adapter.remote_transport(named["tracker"].node) == "http"
    assert adapter.remote_transport(named["legacy-sse"].node) == "sse"  # no type: SSE


def test_amp_reads_its_dotted_key(project: Path) -> None:
    entries = _servers("amp/settings.json", project / ".amp" / "settings.json")
    assert {e.client for e in entries} == {"amp"}
    assert _shape(entries) == {
        "figma": ("stdio", "npx"),
        "notes": ("stdio", "uvx"),
        "tracker": ("remote", None),
    }


@pytest.mark.parametrize(
    ("relative", "destination", "client", "shape"),
    [
        (
            "copilot-cli/mcp-config.json",
            ".copilot/mcp-config.json",
            "copilot-cli",
            {"github": "stdio", "notes": "stdio", "tracker": "remote", "docs": "remote"},
        ),
        (
            "copilot-cli/mcp-config.json",
            "project:.github/mcp.json",
            "copilot-cli",
            {"github": "stdio", "notes": "stdio", "tracker": "remote", "docs": "remote"},
        ),
        (
            "kiro/mcp.json",
            "project:.kiro/settings/mcp.json",
            "kiro",
            {"gitlab": "stdio", "notes": "stdio", "tracker": "remote"},
        ),
        (
            "crush/crush.json",
            "project:.crush.json",
            "crush",
            {"openai-tools": "stdio", "notes": "stdio", "tracker": "remote", "github": "remote"},
        ),
        (
            "roo-code/mcp_settings.json",
            "project:.roo/mcp.json",
            "roo-code",
            {"brave": "stdio", "docs": "stdio", "tracker": "remote"},
        ),
        (
            "amazon-q/mcp.json",
            "project:.amazonq/mcp.json",
            "amazon-q",
            {"postgres": "stdio", "notes": "stdio", "tracker": "remote"},
        ),
        (
            "lm-studio/mcp.json",
            ".lmstudio/mcp.json",
            "lm-studio",
            {"exa": "remote", "stripe": "stdio", "hf": "remote"},
        ),
        (
            "jetbrains/mcp.json",
            "project:.junie/mcp/mcp.json",
            "jetbrains",
            {"sentry": "stdio", "local-files": "stdio"},
        ),
    ],
)
def test_each_new_client_file_is_attributed_and_read(
    relative: str,
    destination: str,
    client: str,
    shape: dict[str, str],
    home: Path,
    project: Path,
) -> None:
    where, _, rest = destination.rpartition(":")
    path = (project if where == "project" else home) / rest
    entries = _servers(relative, path)
    assert {e.client for e in entries} == {client}
    assert {e.name: e.transport for e in entries} == shape
    assert entries[0].location.scope == ("project" if where == "project" else "user")


def test_goose_reads_its_extensions_but_not_the_ones_it_runs_itself(home: Path) -> None:
    entries = _servers("goose/config.yaml", home / ".config" / "goose" / "config.yaml")
    assert {e.client for e in entries} == {"goose"}
    assert entries[0].location.scope == "user"
    assert _shape(entries) == {
        "github": ("stdio", "npx"),
        "slack": ("stdio", "npx"),
        "notes": ("stdio", "uvx"),
        "tracker": ("remote", None),
    }
    named = _by_name(entries)
    assert [k.name for k, _ in named["github"].env] == ["GITHUB_PERSONAL_ACCESS_TOKEN"]
    assert named["tracker"].url is not None
    assert named["tracker"].url.to_python() == "https://mcp.example.com/mcp"


def test_continue_reads_a_list_of_servers_by_name(project: Path) -> None:
    path = project / ".continue" / "mcpServers" / "team.yaml"
    entries = _servers("continue/config.yaml", path)
    assert {e.client for e in entries} == {"continue"}
    assert _shape(entries) == {
        "notion": ("stdio", "npx"),
        "gitlab": ("stdio", "npx"),
        "notes": ("stdio", "uvx"),
        "tracker": ("remote", None),
    }
    named = _by_name(entries)
    assert named["gitlab"].pointer == ("mcpServers", 1)
    # headers sit under requestOptions in Continue's YAML
    assert [k.name for k, _ in named["tracker"].headers] == ["X-Api-Key"]


def test_a_claude_style_json_block_in_continues_folder_is_continues(project: Path) -> None:
    path = project / ".continue" / "mcpServers" / "mcp.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"mcpServers": {"a": {"command": "x", "env": {"T": "y"}}}}')
    document = parse(str(path), read_text(str(path)))
    candidate = infer(str(path), Host.current())
    assert candidate.adapter.id == "continue"
    assert [e.name for e in candidate.adapter.servers(document, candidate.location)] == ["a"]
