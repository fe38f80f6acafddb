"""Every client's config paths on macOS, Windows and Linux, and the variables that move them.

The expected paths are written out literally (from the clients' docs, see
docs/clients.md) rather than computed, so a regression in an adapter shows up
as a readable diff.
"""

from __future__ import annotations

import pytest

from mcpcred.clients import ADAPTERS, BY_ID
from mcpcred.host import Host

LINUX = Host("linux", {}, "/home/ann", "/work/proj")
MACOS = Host("macos", {}, "/Users/ann", "/work/proj")
WINDOWS = Host(
    "windows",
    {
        "APPDATA": "C:\\Users\\ann\\AppData\\Roaming",
        "LOCALAPPDATA": "C:\\Users\\ann\\AppData\\Local",
        "USERPROFILE": "C:\\Users\\ann",
    },
    "C:\\Users\\ann",
    "C:\\work\\proj",
)

EXPECTED: dict[str, dict[str, list[tuple[str, str]]]] = {
    "claude-desktop": {
        "linux": [("/home/ann/.config/Claude/claude_desktop_config.json", "user")],
        "macos": [
            ("/Users/ann/Library/Application Support/Claude/claude_desktop_config.json", "user")
        ],
        "windows": [
            ("C:\\Users\\ann\\AppData\\Roaming\\Claude\\claude_desktop_config.json", "user"),
            (
                "C:\\Users\\ann\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache"
                "\\Roaming\\Claude\\claude_desktop_config.json",
                "user",
            ),
        ],
    },
    "claude-code": {
        "linux": [
            ("/home/ann/.claude.json", "user"),
            ("/etc/claude-code/managed-mcp.json", "system"),
        ],
        "macos": [
            ("/Users/ann/.claude.json", "user"),
            ("/Library/Application Support/ClaudeCode/managed-mcp.json", "system"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.claude.json", "user"),
            ("C:\\Program Files\\ClaudeCode\\managed-mcp.json", "system"),
        ],
    },
    "cursor": {
        "linux": [("/home/ann/.cursor/mcp.json", "user")],
        "macos": [("/Users/ann/.cursor/mcp.json", "user")],
        "windows": [("C:\\Users\\ann\\.cursor\\mcp.json", "user")],
    },
    "vscode": {
        "linux": [
            ("/home/ann/.config/Code/User/mcp.json", "user"),
            ("/home/ann/.config/Code/User/settings.json", "user"),
            ("/home/ann/.config/Code/User/profiles/*/mcp.json", "user"),
            ("/home/ann/.config/Code - Insiders/User/mcp.json", "user"),
            ("/home/ann/.config/Code - Insiders/User/settings.json", "user"),
            ("/home/ann/.config/Code - Insiders/User/profiles/*/mcp.json", "user"),
        ],
        "macos": [
            ("/Users/ann/Library/Application Support/Code/User/mcp.json", "user"),
            ("/Users/ann/Library/Application Support/Code/User/settings.json", "user"),
            ("/Users/ann/Library/Application Support/Code/User/profiles/*/mcp.json", "user"),
            ("/Users/ann/Library/Application Support/Code - Insiders/User/mcp.json", "user"),
            ("/Users/ann/Library/Application Support/Code - Insiders/User/settings.json", "user"),
            (
                "/Users/ann/Library/Application Support/Code - Insiders/User/profiles/*/mcp.json",
                "user",
            ),
        ],
        "windows": [
            ("C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\mcp.json", "user"),
            ("C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\settings.json", "user"),
            ("C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\profiles\\*\\mcp.json", "user"),
            ("C:\\Users\\ann\\AppData\\Roaming\\Code - Insiders\\User\\mcp.json", "user"),
            ("C:\\Users\\ann\\AppData\\Roaming\\Code - Insiders\\User\\settings.json", "user"),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Code - Insiders\\User\\profiles\\*\\mcp.json",
                "user",
            ),
        ],
    },
    "windsurf": {
        "linux": [
            ("/home/ann/.codeium/windsurf/mcp_config.json", "user"),
            ("/home/ann/.codeium/windsurf-next/mcp_config.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.codeium/windsurf/mcp_config.json", "user"),
            ("/Users/ann/.codeium/windsurf-next/mcp_config.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.codeium\\windsurf\\mcp_config.json", "user"),
            ("C:\\Users\\ann\\.codeium\\windsurf-next\\mcp_config.json", "user"),
        ],
    },
    "zed": {
        "linux": [("/home/ann/.config/zed/settings.json", "user")],
        "macos": [("/Users/ann/.config/zed/settings.json", "user")],
        "windows": [("C:\\Users\\ann\\AppData\\Roaming\\Zed\\settings.json", "user")],
    },
    "codex": {
        "linux": [("/home/ann/.codex/config.toml", "user"), ("/etc/codex/config.toml", "system")],
        "macos": [("/Users/ann/.codex/config.toml", "user"), ("/etc/codex/config.toml", "system")],
        "windows": [("C:\\Users\\ann\\.codex\\config.toml", "user")],
    },
    "gemini-cli": {
        "linux": [
            ("/home/ann/.gemini/settings.json", "user"),
            ("/etc/gemini-cli/settings.json", "system"),
            ("/etc/gemini-cli/system-defaults.json", "system"),
        ],
        "macos": [
            ("/Users/ann/.gemini/settings.json", "user"),
            ("/Library/Application Support/GeminiCli/settings.json", "system"),
            ("/Library/Application Support/GeminiCli/system-defaults.json", "system"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.gemini\\settings.json", "user"),
            ("C:\\ProgramData\\gemini-cli\\settings.json", "system"),
            ("C:\\ProgramData\\gemini-cli\\system-defaults.json", "system"),
        ],
    },
    "opencode": {
        "linux": [
            ("/home/ann/.config/opencode/config.json", "user"),
            ("/home/ann/.config/opencode/opencode.json", "user"),
            ("/home/ann/.config/opencode/opencode.jsonc", "user"),
            ("/home/ann/.opencode/opencode.json", "user"),
            ("/home/ann/.opencode/opencode.jsonc", "user"),
            ("/etc/opencode/opencode.json", "system"),
            ("/etc/opencode/opencode.jsonc", "system"),
        ],
        "macos": [
            ("/Users/ann/.config/opencode/config.json", "user"),
            ("/Users/ann/.config/opencode/opencode.json", "user"),
            ("/Users/ann/.config/opencode/opencode.jsonc", "user"),
            ("/Users/ann/.opencode/opencode.json", "user"),
            ("/Users/ann/.opencode/opencode.jsonc", "user"),
            ("/Library/Application Support/opencode/opencode.json", "system"),
            ("/Library/Application Support/opencode/opencode.jsonc", "system"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.config\\opencode\\config.json", "user"),
            ("C:\\Users\\ann\\.config\\opencode\\opencode.json", "user"),
            ("C:\\Users\\ann\\.config\\opencode\\opencode.jsonc", "user"),
            ("C:\\Users\\ann\\.opencode\\opencode.json", "user"),
            ("C:\\Users\\ann\\.opencode\\opencode.jsonc", "user"),
            ("C:\\ProgramData\\opencode\\opencode.json", "system"),
            ("C:\\ProgramData\\opencode\\opencode.jsonc", "system"),
        ],
    },
    "copilot-cli": {
        "linux": [
            ("/home/ann/.copilot/mcp-config.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.copilot/mcp-config.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.copilot\\mcp-config.json", "user"),
        ],
    },
    "cline": {
        "linux": [
            ("/home/ann/.cline/data/settings/cline_mcp_settings.json", "user"),
            (
                "/home/ann/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Code - Insiders/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/VSCodium/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
        ],
        "macos": [
            ("/Users/ann/.cline/data/settings/cline_mcp_settings.json", "user"),
            (
                "/Users/ann/Library/Application Support/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Code - Insiders/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Cursor/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Windsurf/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/VSCodium/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
                "user",
            ),
        ],
        "windows": [
            ("C:\\Users\\ann\\.cline\\data\\settings\\cline_mcp_settings.json", "user"),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Code - Insiders\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Cursor\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Windsurf\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\VSCodium\\User\\globalStorage\\saoudrizwan.claude-dev\\settings\\cline_mcp_settings.json",
                "user",
            ),
        ],
    },
    "kiro": {
        "linux": [
            ("/home/ann/.kiro/settings/mcp.json", "user"),
            ("/home/ann/.kiro/agents/*.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.kiro/settings/mcp.json", "user"),
            ("/Users/ann/.kiro/agents/*.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.kiro\\settings\\mcp.json", "user"),
            ("C:\\Users\\ann\\.kiro\\agents\\*.json", "user"),
        ],
    },
    "amp": {
        "linux": [
            ("/home/ann/.config/amp/settings.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.config/amp/settings.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.config\\amp\\settings.json", "user"),
        ],
    },
    "crush": {
        "linux": [
            ("/home/ann/.config/crush/crushrc", "user"),
            ("/home/ann/.config/crush/crush.json", "user"),
            ("/home/ann/.local/share/crush/crush.json", "user"),
            ("/etc/crush/crush.json", "system"),
        ],
        "macos": [
            ("/Users/ann/.config/crush/crushrc", "user"),
            ("/Users/ann/.config/crush/crush.json", "user"),
            ("/Users/ann/.local/share/crush/crush.json", "user"),
            ("/etc/crush/crush.json", "system"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.config\\crush\\crushrc", "user"),
            ("C:\\Users\\ann\\.config\\crush\\crush.json", "user"),
            ("C:\\Users\\ann\\AppData\\Local\\crush\\crush.json", "user"),
        ],
    },
    "roo-code": {
        "linux": [
            (
                "/home/ann/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Code - Insiders/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Cursor/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/Windsurf/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/home/ann/.config/VSCodium/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
        ],
        "macos": [
            (
                "/Users/ann/Library/Application Support/Code/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Code - Insiders/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Cursor/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/Windsurf/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
            (
                "/Users/ann/Library/Application Support/VSCodium/User/globalStorage/rooveterinaryinc.roo-cline/settings/mcp_settings.json",
                "user",
            ),
        ],
        "windows": [
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Code\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Code - Insiders\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Cursor\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\Windsurf\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json",
                "user",
            ),
            (
                "C:\\Users\\ann\\AppData\\Roaming\\VSCodium\\User\\globalStorage\\rooveterinaryinc.roo-cline\\settings\\mcp_settings.json",
                "user",
            ),
        ],
    },
    "amazon-q": {
        "linux": [
            ("/home/ann/.aws/amazonq/cli-agents/*.json", "user"),
            ("/home/ann/.aws/amazonq/agents/default.json", "user"),
            ("/home/ann/.aws/amazonq/mcp.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.aws/amazonq/cli-agents/*.json", "user"),
            ("/Users/ann/.aws/amazonq/agents/default.json", "user"),
            ("/Users/ann/.aws/amazonq/mcp.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.aws\\amazonq\\cli-agents\\*.json", "user"),
            ("C:\\Users\\ann\\.aws\\amazonq\\agents\\default.json", "user"),
            ("C:\\Users\\ann\\.aws\\amazonq\\mcp.json", "user"),
        ],
    },
    "lm-studio": {
        "linux": [
            ("/home/ann/.lmstudio/mcp.json", "user"),
            ("/home/ann/.cache/lm-studio/mcp.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.lmstudio/mcp.json", "user"),
            ("/Users/ann/.cache/lm-studio/mcp.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.lmstudio\\mcp.json", "user"),
        ],
    },
    "jetbrains": {
        "linux": [
            ("/home/ann/.junie/mcp/mcp.json", "user"),
        ],
        "macos": [
            ("/Users/ann/.junie/mcp/mcp.json", "user"),
        ],
        "windows": [
            ("C:\\Users\\ann\\.junie\\mcp\\mcp.json", "user"),
        ],
    },
    "goose": {
        "linux": [("/home/ann/.config/goose/config.yaml", "user")],
        "macos": [("/Users/ann/.config/goose/config.yaml", "user")],
        "windows": [
            ("C:\\Users\\ann\\AppData\\Roaming\\Block\\goose\\config\\config.yaml", "user")
        ],
    },
    "continue": {
        "linux": [("/home/ann/.continue/config.yaml", "user")],
        "macos": [("/Users/ann/.continue/config.yaml", "user")],
        "windows": [("C:\\Users\\ann\\.continue\\config.yaml", "user")],
    },
}
HOSTS = {"linux": LINUX, "macos": MACOS, "windows": WINDOWS}


def test_every_adapter_has_a_path_table() -> None:
    assert set(EXPECTED) == {a.id for a in ADAPTERS}


@pytest.mark.parametrize("client", sorted(EXPECTED))
@pytest.mark.parametrize("os_name", ["linux", "macos", "windows"])
def test_user_locations(client: str, os_name: str) -> None:
    locations = BY_ID[client].user_locations(HOSTS[os_name])
    assert [(loc.path, loc.scope) for loc in locations] == EXPECTED[client][os_name]
    assert all(loc.client == client for loc in locations)


def _with(host: Host, **env: str) -> Host:
    return Host(host.os, {**host.env, **env}, host.home, host.cwd)


@pytest.mark.parametrize(
    ("client", "host", "expected"),
    [
        (
            "claude-desktop",
            _with(LINUX, XDG_CONFIG_HOME="/x/cfg"),
            "/x/cfg/Claude/claude_desktop_config.json",
        ),
        (
            "claude-desktop",
            _with(WINDOWS, APPDATA="D:\\roam"),
            "D:\\roam\\Claude\\claude_desktop_config.json",
        ),
        ("claude-code", _with(LINUX, CLAUDE_CONFIG_DIR="/x/claude"), "/x/claude/.claude.json"),
        ("claude-code", _with(MACOS, CLAUDE_CONFIG_DIR="/x/claude"), "/x/claude/.claude.json"),
        ("vscode", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/Code/User/mcp.json"),
        ("zed", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/zed/settings.json"),
        ("codex", _with(LINUX, CODEX_HOME="/x/codex"), "/x/codex/config.toml"),
        ("codex", _with(WINDOWS, CODEX_HOME="D:\\codex"), "D:\\codex\\config.toml"),
        ("gemini-cli", _with(LINUX, GEMINI_CLI_HOME="/x/g"), "/x/g/.gemini/settings.json"),
        ("cursor", _with(WINDOWS, USERPROFILE="D:\\prof"), "D:\\prof\\.cursor\\mcp.json"),
        ("opencode", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/opencode/config.json"),
        ("opencode", _with(MACOS, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/opencode/config.json"),
        ("copilot-cli", _with(LINUX, COPILOT_HOME="/x/cp"), "/x/cp/mcp-config.json"),
        # the docs once said XDG_CONFIG_HOME moves it; the CLI does not (the client wins)
        (
            "copilot-cli",
            _with(LINUX, XDG_CONFIG_HOME="/x/cfg"),
            "/home/ann/.copilot/mcp-config.json",
        ),
        ("cline", _with(LINUX, CLINE_MCP_SETTINGS_PATH="/x/c.json"), "/x/c.json"),
        (
            "cline",
            _with(LINUX, CLINE_DATA_DIR="/x/data"),
            "/x/data/settings/cline_mcp_settings.json",
        ),
        (
            "cline",
            _with(LINUX, CLINE_DIR="/x/cl"),
            "/x/cl/data/settings/cline_mcp_settings.json",
        ),
        ("amp", _with(LINUX, AMP_SETTINGS_FILE="/x/amp.json"), "/x/amp.json"),
        ("amp", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/amp/settings.json"),
        # the crushrc first: in one folder it wins over crush.json
        ("crush", _with(LINUX, CRUSH_GLOBAL_CONFIG="/x/crush"), "/x/crush/crushrc"),
        ("crush", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/crush/crushrc"),
        ("goose", _with(LINUX, XDG_CONFIG_HOME="/x/cfg"), "/x/cfg/goose/config.yaml"),
        ("goose", _with(LINUX, GOOSE_PATH_ROOT="/x/g"), "/x/g/config/config.yaml"),
        ("continue", _with(LINUX, CONTINUE_GLOBAL_DIR="/x/c"), "/x/c/config.yaml"),
        ("kiro", _with(WINDOWS, USERPROFILE="D:\\prof"), "D:\\prof\\.kiro\\settings\\mcp.json"),
    ],
)
def test_environment_variables_move_the_user_file(client: str, host: Host, expected: str) -> None:
    assert BY_ID[client].user_locations(host)[0].path == expected


def test_relative_xdg_config_home_is_ignored_as_the_spec_says() -> None:
    host = _with(LINUX, XDG_CONFIG_HOME="relative/dir")
    assert BY_ID["zed"].user_locations(host)[0].path == "/home/ann/.config/zed/settings.json"


def test_gemini_system_paths_can_be_overridden() -> None:
    host = _with(
        LINUX,
        GEMINI_CLI_SYSTEM_SETTINGS_PATH="/opt/g/s.json",
        GEMINI_CLI_SYSTEM_DEFAULTS_PATH="/opt/g/d.json",
    )
    paths = [loc.path for loc in BY_ID["gemini-cli"].user_locations(host)]
    assert paths[1:] == ["/opt/g/s.json", "/opt/g/d.json"]


def test_project_locations() -> None:
    from pathlib import PurePosixPath

    root = PurePosixPath("/work/proj")
    found = {a.id: [loc.path for loc in a.project_locations(root)] for a in ADAPTERS}
    assert found == {
        "claude-desktop": [],
        "claude-code": ["/work/proj/.mcp.json"],
        "cursor": ["/work/proj/.cursor/mcp.json"],
        "vscode": [
            "/work/proj/.vscode/mcp.json",
            "/work/proj/.vscode/settings.json",
            "/work/proj/.devcontainer/devcontainer.json",
        ],
        "windsurf": ["/work/proj/.windsurf/mcp_config.json"],
        "zed": ["/work/proj/.zed/settings.json"],
        "codex": ["/work/proj/.codex/config.toml"],
        "gemini-cli": ["/work/proj/.gemini/settings.json"],
        "opencode": [
            "/work/proj/opencode.json",
            "/work/proj/opencode.jsonc",
            "/work/proj/.opencode/opencode.json",
            "/work/proj/.opencode/opencode.jsonc",
        ],
        "copilot-cli": ["/work/proj/.mcp.json", "/work/proj/.github/mcp.json"],
        "cline": [],  # no project scope (cline/cline #13596)
        "kiro": ["/work/proj/.kiro/settings/mcp.json"],
        "amp": ["/work/proj/.amp/settings.json"],
        "crush": [
            "/work/proj/.crushrc",
            "/work/proj/crushrc",
            "/work/proj/.crush.json",
            "/work/proj/crush.json",
        ],
        "roo-code": ["/work/proj/.roo/mcp.json"],
        "amazon-q": ["/work/proj/.amazonq/mcp.json"],
        "lm-studio": [],
        "jetbrains": ["/work/proj/.junie/mcp/mcp.json"],
        "goose": [],
        # workspace blocks: read by Continue's IDE extensions (not by the `cn` CLI)
        "continue": [
            "/work/proj/.continue/mcpServers/*.yaml",
            "/work/proj/.continue/mcpServers/*.json",
        ],
    }


def test_opencode_extra_files_and_crush_state_move_with_their_variables() -> None:
    host = _with(LINUX, OPENCODE_CONFIG="/x/oc.json", OPENCODE_CONFIG_DIR="/x/ocd")
    paths = [loc.path for loc in BY_ID["opencode"].user_locations(host)]
    assert "/x/oc.json" in paths
    assert {"/x/ocd/opencode.json", "/x/ocd/opencode.jsonc"} <= set(paths)
    host = _with(LINUX, CRUSH_GLOBAL_DATA="/x/state", XDG_DATA_HOME="/x/share")
    assert BY_ID["crush"].user_locations(host)[2].path == "/x/state/crush.json"
    host = _with(LINUX, XDG_DATA_HOME="/x/share")
    assert BY_ID["crush"].user_locations(host)[2].path == "/x/share/crush/crush.json"
    # Crush never runs a crushrc from its data folder: only from the config folder
    assert [loc.format for loc in BY_ID["crush"].user_locations(host)][:3] == [
        "shell",
        "json",
        "json",
    ]
