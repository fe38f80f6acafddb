"""A server that repeats a key hides the first value from every parser: wrap refuses.

``"TOKEN": "ghp_…", "TOKEN": "changeme"`` reads as ``changeme``; moving only
what the parser sees would leave the real token in the file (and the backup).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(3))


@pytest.fixture
def config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    return path


@pytest.mark.parametrize(
    ("servers", "line", "key"),
    [
        (
            '"github": {"command": "npx",\n "env": {"GITHUB_TOKEN": "@T@",\n'
            ' "GITHUB_TOKEN": "changeme"}}',
            2,
            "'GITHUB_TOKEN' of server 'github'",
        ),
        (
            '"github": {"command": "npx", "env": {"GITHUB_TOKEN": "@T@"}},\n'
            ' "github": {"command": "npx"}',
            1,
            "'github' in the servers",
        ),
    ],
)
def test_repeated_keys_are_refused_and_nothing_moves(
    keychain: dict[str, str], config: Path, token: str, servers: str, line: int, key: str
) -> None:
    text = '{"mcpServers": {' + servers.replace("@T@", token) + "}}\n"
    config.write_text(text)
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 3, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {config}:{line}:")
    assert key in first and "more than once" in first
    assert token not in result.stderr
    assert config.read_text() == text
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None


def test_a_repeated_key_on_the_way_to_the_servers_is_refused(
    keychain: dict[str, str], home: Path, token: str
) -> None:
    """``"mcpServers"`` twice hides a whole list; a repeated key elsewhere is not wrap's business."""
    path = home / ".claude.json"
    hidden = '"mcpServers": {"github": {"command": "npx", "env": {"GITHUB_TOKEN": "@T@"}}}'
    for text, refused in (
        ("{" + hidden + ',\n "mcpServers": {}}', True),
        ('{"projects": {"/p": {' + hidden + '},\n "/p": {}}}', True),
        ('{"theme": "dark", "theme": "light", ' + hidden + "}", False),
    ):
        text = text.replace("@T@", token)
        path.write_text(text)
        result = run("wrap", "claude-code", "--yes")
        if refused:
            assert result.code == 3, result.stderr
            assert "appears more than once" in result.stderr.splitlines()[0]
            assert path.read_text() == text
        else:
            assert result.code == 0, result.stderr
            assert token not in path.read_text()
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") == token


def test_a_toml_config_is_not_refused_for_its_tables(keychain: dict[str, str], home: Path) -> None:
    """TOML tables defined piecewise are not repeated keys."""
    path = home / ".codex" / "config.toml"
    path.parent.mkdir()
    path.write_text(
        '[mcp_servers.a]\ncommand = "npx"\n[mcp_servers.a.env]\nX = "1"\n'
        '[mcp_servers.b]\ncommand = "uvx"\n'
    )
    result = run("wrap", "codex", "--yes")
    assert result.code == 0, result.stderr


def test_unwrap_refuses_a_repeated_key_too_and_says_why(
    keychain: dict[str, str], config: Path, token: str
) -> None:
    """A repeated key added after wrap (by hand, by a client): unwrap cannot restore what
    it cannot see either; the one line names the place and does not speak of moving."""
    server = {"command": "npx", "env": {"T": token}}
    config.write_text(json.dumps({"mcpServers": {"github": server}}))
    assert run("wrap", "claude-desktop", "--yes").code == 0
    wrapped = config.read_text()
    text = wrapped.replace('"env": {', '"env": {"T": "changeme", ', 1)
    config.write_text(text)
    result = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert result.code == 3, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {config}:1:") and "'T' of server 'github'" in first
    assert "cannot see (move or restore) the others" in first
    assert "keep one of them" in result.stderr
    assert config.read_text() == text
