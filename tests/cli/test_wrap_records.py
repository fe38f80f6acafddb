"""Any sequence of wrap / wrap --bind / guard / unwrap gives the original file back.

``unwrap --restore-secrets`` after any such sequence must restore the config
byte for byte: a second ``wrap --bind`` adds to the first wrap's record instead
of replacing it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support import tokengen
from tests.support.cli import run

STEPS: dict[str, tuple[str, ...]] = {
    "wrap": ("wrap", "claude-desktop", "--yes"),
    "bind-github": (
        "wrap", "claude-desktop", "--yes", "--server", "github",
        "--bind", "GITHUB_PERSONAL_ACCESS_TOKEN=oauth:github",
    ),
    "bind-extra": (
        "wrap", "claude-desktop", "--yes", "--server", "github", "--bind", "EXTRA=secret:extra",
    ),
    "bind-memory": (
        "wrap", "claude-desktop", "--yes", "--server", "memory", "--bind", "API_TOKEN=secret:x",
    ),
    "guard": ("guard", "claude-desktop", "--server", "memory", "--yes"),
    "unwrap": ("unwrap", "claude-desktop", "--yes"),
    "unwrap-github": ("unwrap", "claude-desktop", "--server", "github", "--yes"),
    "restore": ("unwrap", "claude-desktop", "--restore-secrets", "--yes"),
}  # fmt: skip


def _original(token: str) -> str:
    # JSONC with a comment and odd layout: only the spans that change may move
    return (
        "{\n"
        "  // my servers\n"
        '  "mcpServers": {\n'
        '    "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"],\n'
        f'      "env": {{"GITHUB_PERSONAL_ACCESS_TOKEN": "{token}"}}}},\n'
        '    "memory": {"command": "uvx", "args": ["mcp-server-memory"]}\n'
        "  }\n"
        "}\n"
    )


@pytest.fixture
def config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    return path


def _check(config: Path, steps: list[str], original: str) -> None:
    for step in steps:
        result = run(*STEPS[step])
        assert result.code == 0, f"{steps}: {step}: {result.stderr}"
    back = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert config.read_text() == original, steps


def test_a_second_bind_keeps_the_first_wraps_record(keychain: dict[str, str], config: Path) -> None:
    original = _original(tokengen.generate("github-pat", random.Random(1)))
    config.write_text(original)
    _check(config, ["wrap", "bind-github", "bind-extra"], original)


@pytest.mark.parametrize("seed", range(4))
def test_random_sequences_restore_the_file_byte_for_byte(
    keychain: dict[str, str], config: Path, seed: int
) -> None:
    rng = random.Random(seed)
    original = _original(tokengen.generate("github-pat", rng))
    config.write_text(original)
    _check(config, [rng.choice(sorted(STEPS)) for _ in range(4)], original)


def _codex(token: str, linear: str) -> str:
    return (
        "# codex\n"
        "[mcp_servers.github]\n"
        'command = "npx"\n'
        'args = ["-y", "@modelcontextprotocol/server-github"]  # pinned later\n'
        "\n"
        "[mcp_servers.github.env]\n"
        f'GITHUB_PERSONAL_ACCESS_TOKEN = "{token}"\n'
        "\n"
        "[mcp_servers.memory]\n"
        'command = "uvx"\n'
        "startup_timeout_sec = 5\n"
        "\n"
        "[mcp_servers.linear]\n"
        'url = "https://mcp.linear.app/mcp"\n'
        "\n"
        "[mcp_servers.linear.http_headers]\n"
        f'Authorization = "Bearer {linear}"\n'
    )


def _claude_code(token: str, linear: str) -> str:
    servers = {
        "github": {
            "type": "stdio",
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": token},
        },
        "memory": {"command": "uvx", "args": ["mcp-server-memory"]},
        "linear": {
            "type": "http",
            "url": "https://mcp.linear.app/mcp",
            "headers": {"Authorization": f"Bearer {linear}", "X-Team": "core"},
        },
    }
    return json.dumps({"numStartups": 3, "mcpServers": servers}, indent=2)


@pytest.mark.parametrize("client", ["codex", "claude-code"])
@pytest.mark.parametrize("seed", range(3))
def test_random_sequences_in_clients_with_remote_servers(
    keychain: dict[str, str], home: Path, client: str, seed: int
) -> None:
    rng = random.Random(100 + seed)
    token = tokengen.generate("github-pat", rng)
    linear = tokengen.generate("linear-api-key", rng)
    if client == "codex":
        path, original = home / ".codex" / "config.toml", _codex(token, linear)
    else:
        path, original = home / ".claude.json", _claude_code(token, linear)
    path.parent.mkdir(exist_ok=True)
    path.write_text(original)
    steps = [
        tuple(client if word == "claude-desktop" else word for word in STEPS[name])
        for name in (rng.choice(sorted(STEPS)) for _ in range(4))
    ]
    for step in steps:
        result = run(*step)
        assert result.code == 0, f"{steps}: {step}: {result.stderr}"
    back = run("unwrap", client, "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert path.read_text() == original, steps
