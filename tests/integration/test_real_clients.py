"""Configs written by the real clients (Claude Code, Codex, Gemini CLI from npm) are audited right.

Each client's own ``mcp add`` command writes a server with a credential into a
temporary HOME and project, in whatever shape and location that client really
uses today; ``mcpcred audit-config`` with no arguments must then find every
credential, attribute it to the right client and scope, and point at it.
``scripts/test`` installs the clients and sets ``MCPCRED_REAL_CLIENTS``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from tests.support import tokengen
from tests.support.cli import run

pytestmark = pytest.mark.slow


DEFAULT_CLIENTS = (
    Path(__file__).resolve().parents[2] / ".cache" / "real-clients" / "node_modules" / ".bin"
)


def _bin(name: str) -> str:
    directory = os.environ.get("MCPCRED_REAL_CLIENTS") or str(DEFAULT_CLIENTS)
    path = Path(directory) / name
    if not path.exists():
        pytest.fail(
            f"real client '{name}' is not installed: run ./scripts/test, which installs it from npm "
            "and sets MCPCRED_REAL_CLIENTS"
        )
    return str(path)


def _client(name: str, *args: str, env: dict[str, str] | None = None) -> None:
    environment = {**os.environ, **(env or {})}
    result = subprocess.run(
        [_bin(name), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{name} {args[:3]} failed: {result.stderr[-500:]}"


@pytest.fixture
def tokens() -> dict[str, str]:
    rng = random.Random(2026)
    return {
        "claude_user": tokengen.generate("github-pat", rng),
        "claude_local": tokengen.generate("slack-bot-token", rng),
        "claude_project": tokengen.generate("openai-api-key", rng),
        "claude_header": tokengen.generate("linear-api-key", rng),
        "codex": tokengen.generate("github-pat", rng),
        "gemini_user": tokengen.generate("anthropic-api-key", rng),
        "gemini_header": tokengen.generate("huggingface-token", rng),
    }


def _located(
    report: dict[str, list[dict[str, object]]], home: Path, project: Path
) -> dict[str, tuple[str, str]]:
    """token value -> (client, scope) for every secret finding, read back from the file."""
    files = {f["path"]: (f["client"], f["scope"]) for f in report["files"]}
    found: dict[str, tuple[str, str]] = {}
    for finding in report["findings"]:
        if not str(finding["rule"]).startswith("secret/"):
            continue
        shown = str(finding["path"])
        path = home / shown[2:] if shown.startswith("~") else project / shown
        line = path.read_text().splitlines()[int(str(finding["line"])) - 1]
        found[line[int(str(finding["column"])) - 1 :]] = files[shown]  # type: ignore[assignment]
    return found


def test_audit_finds_what_the_real_clients_wrote(
    home: Path, project: Path, tokens: dict[str, str]
) -> None:
    codex_home = home / ".codex"
    codex_home.mkdir()
    env = {"HOME": str(home), "CODEX_HOME": str(codex_home)}
    _client(
        "claude",
        "mcp",
        "add",
        "--scope",
        "user",
        "gh",
        "-e",
        f"GITHUB_PERSONAL_ACCESS_TOKEN={tokens['claude_user']}",
        "--",
        "npx",
        "-y",
        "@modelcontextprotocol/server-github",
        env=env,
    )
    _client(
        "claude",
        "mcp",
        "add",
        "--scope",
        "local",
        "slack",
        "-e",
        f"SLACK_BOT_TOKEN={tokens['claude_local']}",
        "--",
        "node",
        "s.js",
        env=env,
    )
    _client(
        "claude",
        "mcp",
        "add",
        "--scope",
        "project",
        "oai",
        "-e",
        f"OPENAI_API_KEY={tokens['claude_project']}",
        "--",
        "node",
        "s.js",
        env=env,
    )
    _client(
        "claude",
        "mcp",
        "add",
        "--transport",
        "http",
        "--scope",
        "user",
        "linear",
        "https://mcp.example.com/mcp",
        "--header",
        f"Authorization: Bearer {tokens['claude_header']}",
        env=env,
    )
    _client(
        "codex",
        "mcp",
        "add",
        "gh",
        "--env",
        f"GITHUB_PERSONAL_ACCESS_TOKEN={tokens['codex']}",
        "--",
        "npx",
        "-y",
        "pkg@1.0.0",
        env=env,
    )
    _client(
        "gemini",
        "mcp",
        "add",
        "-s",
        "user",
        "-e",
        f"ANTHROPIC_API_KEY={tokens['gemini_user']}",
        "claude",
        "node",
        "s.js",
        env=env,
    )
    _client(
        "gemini",
        "mcp",
        "add",
        "-s",
        "project",
        "-t",
        "http",
        "-H",
        f"Authorization: Bearer {tokens['gemini_header']}",
        "hf",
        "https://mcp.example.com/mcp",
        env=env,
    )

    result = run("audit-config", "--format", "json", env=env)
    assert result.code == 1, result.stderr
    report = json.loads(result.stdout)
    located = _located(report, home, project)
    expected = {
        "claude_user": ("claude-code", "user"),
        "claude_local": ("claude-code", "user"),  # ~/.claude.json projects.<path>.mcpServers
        "claude_project": ("claude-code", "project"),
        "claude_header": ("claude-code", "user"),
        "codex": ("codex", "user"),
        "gemini_user": ("gemini-cli", "user"),
        "gemini_header": ("gemini-cli", "project"),
    }
    for name, where in expected.items():
        matches = [place for text, place in located.items() if text.startswith(tokens[name])]
        assert matches == [where], name
    for value in tokens.values():
        assert value not in result.stdout
    local = next(
        f
        for f in report["findings"]
        if f["server"] == "slack" and str(f["rule"]).startswith("secret/")
    )
    assert local["rule"] == "secret/slack-bot-token"


def test_clients_command_sees_what_the_real_clients_wrote(home: Path, project: Path) -> None:
    codex_home = home / ".codex"
    codex_home.mkdir()
    env = {"HOME": str(home), "CODEX_HOME": str(codex_home)}
    _client("claude", "mcp", "add", "--scope", "user", "a", "--", "node", "a.js", env=env)
    _client(
        "claude",
        "mcp",
        "add",
        "--transport",
        "http",
        "--scope",
        "user",
        "b",
        "https://x.example.com/mcp",
        env=env,
    )
    _client("codex", "mcp", "add", "c", "--", "node", "c.js", env=env)
    _client("gemini", "mcp", "add", "-s", "user", "d", "node", "d.js", env=env)
    result = run("clients", "--json", env=env)
    clients = {c["id"]: c["servers"] for c in json.loads(result.stdout)["clients"]}
    assert clients["claude-code"] == {"stdio": 1, "remote": 1, "wrapped": 0}
    assert clients["codex"] == {"stdio": 1, "remote": 0, "wrapped": 0}
    assert clients["gemini-cli"] == {"stdio": 1, "remote": 0, "wrapped": 0}
