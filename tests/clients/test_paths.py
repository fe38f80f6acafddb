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
    }
