"""``mcpcred wrap --bind``: an env variable points at a login (or a named secret)."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run

VARIABLE = "GITHUB_PERSONAL_ACCESS_TOKEN"


def _config(home: Path, servers: dict[str, object]) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"mcpServers": servers}, indent=2) + "\n")
    return path


def _entry(path: Path, server: str) -> dict[str, object]:
    entry = json.loads(path.read_text())["mcpServers"][server]
    assert isinstance(entry, dict)
    return entry


@pytest.fixture
def pat() -> str:
    return tokengen.generate("github-pat", random.Random(9))


def test_bind_replaces_a_plaintext_token_which_moves_to_the_keychain(
    keychain: dict[str, str], home: Path, pat: str
) -> None:
    config = _config(home, {"github": {"command": "npx", "args": ["x"], "env": {VARIABLE: pat}}})
    original = config.read_text()
    result = run(
        "wrap", "claude-desktop", "-s", "github", "--bind", f"{VARIABLE}=oauth:github", "-y"
    )
    assert result.code == 0, result.stderr
    assert pat not in config.read_text() + result.stdout + result.stderr
    assert _entry(config, "github")["env"] == {VARIABLE: "mcpcred:oauth/github"}
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") == pat
    assert "not logged in to github yet" in result.stderr
    assert "mcpcred login github" in result.stderr
    again = run(
        "wrap", "claude-desktop", "-s", "github", "--bind", f"{VARIABLE}=oauth:github", "-y"
    )
    assert again.code == 0 and "nothing to change" in again.stderr
    back = run("unwrap", "claude-desktop", "--restore-secrets", "-y")
    assert back.code == 0, back.stderr
    assert config.read_text() == original


def test_bind_adds_the_variable_and_unwrap_takes_it_away(
    keychain: dict[str, str], home: Path
) -> None:
    config = _config(home, {"gl": {"command": "npx", "args": ["-y", "gitlab-mcp"]}})
    original = config.read_text()
    result = run(
        "wrap", "claude-desktop", "-s", "gl", "--bind", "GITLAB_TOKEN=oauth:gitlab/work",
        "--bind", "EXTRA=secret:team-key", "-y",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert _entry(config, "gl")["env"] == {
        "GITLAB_TOKEN": "mcpcred:oauth/gitlab/work",
        "EXTRA": "mcpcred:secret/team-key",
    }
    assert "mcpcred login gitlab --account work" in result.stderr
    assert "mcpcred secret set team-key" in result.stderr
    assert run("unwrap", "claude-desktop", "-y").code == 0
    assert config.read_text() == original  # env did not exist before: it is gone again


def test_bind_over_an_existing_reference_is_undone_by_unwrap(
    keychain: dict[str, str], home: Path
) -> None:
    config = _config(
        home, {"gh": {"command": "npx", "args": ["x"], "env": {VARIABLE: "mcpcred:secret/old"}}}
    )
    assert (
        run("wrap", "claude-desktop", "-s", "gh", "--bind", f"{VARIABLE}=oauth:github", "-y").code
        == 0
    )
    assert _entry(config, "gh")["env"] == {VARIABLE: "mcpcred:oauth/github"}
    # unwrapped, the server would get the text "mcpcred:secret/old": it stays wrapped
    kept = run("unwrap", "claude-desktop", "-y")
    assert kept.code == 0, kept.stderr
    assert "kept on mcpcred: it still needs mcpcred:secret/old" in kept.stderr
    assert _entry(config, "gh")["env"] == {VARIABLE: "mcpcred:oauth/github"}
    # with the values, the bind is undone and the value it replaced comes back
    stored = subprocess.run(
        [sys.executable, "-m", "mcpcred", "secret", "set", "old", "--from-stdin"],
        input="old-value-1234",
        capture_output=True,
        text=True,
        check=False,
    )
    assert stored.returncode == 0, stored.stderr
    assert run("unwrap", "claude-desktop", "--restore-secrets", "-y").code == 0
    assert _entry(config, "gh") == {
        "command": "npx",
        "args": ["x"],
        "env": {VARIABLE: "old-value-1234"},
    }


@pytest.mark.parametrize(
    "bind",
    [
        "NOEQUALS",
        "VAR=github",  # no kind
        "VAR=vault:github",
        "1VAR=oauth:github",
        "VAR=oauth:Git Hub",
        "VAR=oauth:a/b/c",
        "VAR=secret:a/b",
    ],
)
def test_malformed_binds_are_usage_errors_and_change_nothing(
    keychain: dict[str, str], home: Path, pat: str, bind: str
) -> None:
    config = _config(home, {"github": {"command": "npx", "env": {VARIABLE: pat}}})
    before = config.read_bytes()
    result = run("wrap", "claude-desktop", "-s", "github", "--bind", bind, "-y")
    assert result.code == 2, result.stderr
    assert "--bind" in result.stderr
    assert config.read_bytes() == before


def test_bind_needs_a_server(keychain: dict[str, str], home: Path, pat: str) -> None:
    config = _config(home, {"github": {"command": "npx", "env": {VARIABLE: pat}}})
    before = config.read_bytes()
    result = run("wrap", "claude-desktop", "--bind", f"{VARIABLE}=oauth:github", "-y")
    assert result.code == 2
    assert "--bind needs --server" in result.stderr
    assert config.read_bytes() == before
