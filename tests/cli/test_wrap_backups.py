"""Every backup mcpcred writes passes ``audit-config`` with no secret finding.

The backup of a file is kept as the file is once secrets become references;
credentials that stay in the file (servers not chosen, remote servers wrap
cannot help, a URL's password) are redacted in the backup, not copied.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from tests.support import tokengen
from tests.support.cli import run


@pytest.fixture
def tokens() -> dict[str, str]:
    rng = random.Random(23)
    kinds = (
        "github-pat", "linear-api-key", "openai-api-key", "slack-bot-token", "notion-token",
        "anthropic-api-key",
    )  # fmt: skip
    return {kind: tokengen.generate(kind, rng) for kind in kinds}


@pytest.fixture
def config(home: Path, project: Path, tokens: dict[str, str]) -> Path:
    path = home / ".claude.json"
    servers = {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"],
            "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": tokens["github-pat"]},
        },
        "db": {
            "command": "npx",
            "args": ["-y", "server-postgres", "postgres://app:Hx7-kq2Lm9vR4tZ@db.internal/app"],
        },
        "linear": {
            "type": "http",
            "url": "https://mcp.linear.app/mcp",
            "headers": {"Authorization": f"Bearer {tokens['linear-api-key']}"},
        },
        "search": {
            "type": "sse",
            "url": f"https://mcp.example.com/sse?key={tokens['openai-api-key']}",
        },
        "slack": {
            "command": "npx",
            "args": ["-y", "server-slack", f"--token={tokens['slack-bot-token']}"],
        },
    }
    local = {"notion": {"command": "npx", "env": {"NOTION_TOKEN": tokens["notion-token"]}}}
    path.write_text(
        json.dumps(
            {
                "primaryApiKey": tokens["anthropic-api-key"],  # the client's own, not a server's
                "mcpServers": servers,
                "projects": {str(project): {"mcpServers": local}},
            },
            indent=2,
        )
    )
    return path


def test_no_backup_holds_a_secret(
    keychain: dict[str, str], config: Path, tokens: dict[str, str], home: Path
) -> None:
    for command in (
        ("wrap", "claude-code", "--server", "github", "--yes"),
        ("wrap", "claude-code", "--yes"),
        ("unwrap", "claude-code", "--server", "notion", "--restore-secrets", "--yes"),
        ("unwrap", "claude-code", "--restore-secrets", "--yes"),
    ):
        result = run(*command)
        assert result.code == 0, f"{command}: {result.stderr}"
    data = home / ".local" / "share" / "mcpcred"
    backups = sorted(p for p in (data / "backups").rglob("*") if p.is_file())
    assert len(backups) == 4
    written = sorted(p for p in data.rglob("*") if p.is_file())
    for path in written:
        text = path.read_text()
        for token in [*tokens.values(), "Hx7-kq2Lm9vR4tZ"]:
            assert token not in text, path.name
    for path in backups:
        assert os.stat(path).st_mode & 0o777 == 0o600
    audit = run("audit-config", *map(str, backups), "--format", "json")
    report = json.loads(audit.stdout)
    assert report["summary"]["files"] == len(backups)
    assert report["summary"]["parse_errors"] == 0
    secrets = [f for f in report["findings"] if f["rule"].startswith("secret/")]
    assert secrets == []
    assert "REDACTED" in backups[0].read_text()


def test_blocks_the_client_does_not_read_and_repeated_keys_stay_out_of_backups(
    keychain: dict[str, str], home: Path, project: Path, tokens: dict[str, str]
) -> None:
    """audit-config scans every block of servers (an ``mcpServers`` block in a VS Code
    file), with its positional-argument rules; a value a repeated key hides is in the file
    too. wrap cannot start those servers, so it says it leaves them, and neither its
    backup nor its diff may copy them."""
    neon = "napi_k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7i8o9p0a1s2d3f4g5h6j7k8l9z0x1c2v3b4"
    bare = "Xk29fPq7LmZ3vB8nR4tY6wE1sD5gH0jA"
    vscode = project / ".vscode" / "mcp.json"
    vscode.parent.mkdir()
    vscode.write_text(
        json.dumps(
            {
                "servers": {"gh": {"command": "npx", "env": {"GH_TOKEN": tokens["github-pat"]}}},
                "mcpServers": {
                    "neon": {"command": "npx", "args": ["-y", "@neondatabase/mcp-server-neon",
                                                        "start", neon]},
                    "thing": {"command": "npx", "args": ["-y", "@acme/mcp-server-thing", bare]},
                },
            },
            indent=2,
        )
    )  # fmt: skip
    zed = home / ".config" / "zed" / "settings.json"
    zed.parent.mkdir(parents=True)
    server = {"command": "npx", "env": {"NOTION_TOKEN": tokens["notion-token"]}}
    hidden = json.dumps(tokens["openai-api-key"])
    zed.write_text(
        f'{{"language_models": {{"openai": {{"api_key": {hidden}, "api_key": "x"}}}},\n'
        f' "context_servers": {{"notion": {json.dumps(server)}}}}}\n'
    )
    dry = run("wrap", "zed", "--dry-run")
    assert dry.code == 0, dry.stderr
    assert tokens["openai-api-key"] not in dry.stderr + dry.stdout  # diff context lines

    result = run("wrap", "vscode", "--yes")
    assert result.code == 0, result.stderr
    assert "mcpServers/neon, mcpServers/thing" in result.stderr
    assert "left in the file: the credentials of mcpServers/neon, mcpServers/thing" in (
        result.stderr
    )
    again = run("wrap", "vscode", "--yes")
    assert again.stderr.strip().splitlines()[-1] == (
        "nothing to change (already wrapped: gh; in blocks the client does not read, with "
        "credentials left in the file: mcpServers/neon, mcpServers/thing)"
    )
    assert run("wrap", "zed", "--yes").code == 0
    data = home / ".local" / "share" / "mcpcred"
    written = sorted(p for p in data.rglob("*") if p.is_file())
    for path in written:
        for token in (neon, bare, *tokens.values()):
            assert token not in path.read_text(), path
    backups = [p for p in written if "backups" in p.parts]
    # the data folder as a whole, as a user would check it: the walk reads the backups
    audit = run("audit-config", str(data), "--format", "json")
    report = json.loads(audit.stdout)
    assert report["summary"]["files"] == len(backups) == 2
    secrets = [f for f in report["findings"] if f["rule"].startswith("secret/")]
    assert secrets == []
