"""Any sequence of wrap / wrap --bind / guard / unwrap gives the original file back.

``unwrap --restore-secrets`` after any such sequence must restore the config
byte for byte: a second ``wrap --bind`` adds to the first wrap's record instead
of replacing it.
"""

from __future__ import annotations

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
