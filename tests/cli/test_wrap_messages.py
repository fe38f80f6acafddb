"""What wrap, unwrap and status say is exactly what happened.

"already wrapped" only when it is true; a server left with credentials is
named with the reason; unwrap never starts a server with literal references;
status flags a reference that a server would receive as text.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.support import tokengen
from tests.support.cli import run


@pytest.fixture
def config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    return path


def test_nothing_to_change_says_what_was_left_and_why(
    keychain: dict[str, str], config: Path
) -> None:
    token = tokengen.generate("openai-api-key", random.Random(2))
    # an OAuth client secret: neither a header nor the URL, so no bridge can take it
    remote = {"type": "sse", "url": "https://mcp.example.com/sse", "oauth": {"clientSecret": token}}
    config.write_text(json.dumps({"mcpServers": {"search": remote}}))
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "already wrapped" not in result.stderr
    assert last.startswith("nothing to change (left as they are, with credentials mcpcred")
    assert last.endswith(": search)")
    assert token not in result.stderr

    config.write_text(json.dumps({"mcpServers": {}}))
    empty = run("wrap", "claude-desktop", "--yes")
    assert empty.code == 0
    assert "nothing to change: Claude Desktop's config has no servers" in empty.stderr

    config.write_text(json.dumps({"mcpServers": {"memory": {"command": "npx"}}}))
    assert run("wrap", "claude-desktop", "--yes").code == 0
    again = run("wrap", "claude-desktop", "--yes")
    assert "nothing to change (already wrapped: memory)" in again.stderr


def test_status_flags_references_a_server_gets_as_text(
    keychain: dict[str, str], config: Path
) -> None:
    plain = {"command": "npx", "env": {"GITHUB_TOKEN": "mcpcred:secret/github-pat"}}
    config.write_text(json.dumps({"mcpServers": {"github": plain}}))
    result = run("status", "--json")
    assert result.code == 0, result.stderr
    (server,) = json.loads(result.stdout)["servers"]
    assert server["credentials"] == [{"reference": "mcpcred:secret/github-pat", "state": "literal"}]
    assert "claude-desktop/github holds mcpcred:secret/github-pat where mcpcred does not" in (
        result.stderr
    )
    text = run("status", env={"COLUMNS": "200"})
    assert "mcpcred:secret/github-pat (literal)" in text.stdout


def test_a_run_that_writes_names_what_it_left(keychain: dict[str, str], config: Path) -> None:
    token = tokengen.generate("openai-api-key", random.Random(6))
    remote = {"type": "sse", "url": "https://mcp.example.com/sse", "oauth": {"clientSecret": token}}
    servers = {"search": remote, "memory": {"command": "npx"}}
    config.write_text(json.dumps({"mcpServers": servers}))
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "left in the file: the credentials of search (see the notes above)"
    )
    assert token not in result.stderr


def test_the_diff_hides_credentials_that_stay_in_the_file(
    keychain: dict[str, str], config: Path
) -> None:
    """Context lines of the diff may show another server's token: it is redacted too."""
    rng = random.Random(9)
    github = tokengen.generate("github-pat", rng)
    slack = tokengen.generate("slack-bot-token", rng)
    config.write_text(
        "{\n"
        '  "mcpServers": {\n'
        f'    "github": {{"command": "npx", "env": {{"GITHUB_TOKEN": "{github}"}}}},\n'
        f'    "slack": {{"command": "npx", "env": {{"SLACK_BOT_TOKEN": "{slack}"}}}}\n'
        "  }\n"
        "}\n"
    )
    result = run("wrap", "claude-desktop", "--server", "github", "--dry-run")
    assert result.code == 0, result.stderr
    assert '"slack"' in result.stdout  # the context line is there...
    assert slack not in result.stdout + result.stderr  # ...without the token
    assert github not in result.stdout + result.stderr


def test_status_flags_a_reference_in_a_remote_url(keychain: dict[str, str], home: Path) -> None:
    """A headers helper resolves headers; a reference in the URL reaches the server as text."""
    helper = "/opt/mcpcred headers --header 'X-Api-Key: mcpcred:secret/api-key'"
    remote = {
        "type": "http",
        "url": "https://mcp.example.com/mcp?key={{mcpcred:secret/url-key}}",
        "headersHelper": helper,
    }
    (home / ".claude.json").write_text(json.dumps({"mcpServers": {"api": remote}}))
    result = run("status", "--json")
    assert result.code == 1, result.stderr  # the helper's api-key is missing (docs/cli.md)
    document = json.loads(result.stdout)
    (server,) = document["servers"]
    states = {c["reference"]: c["state"] for c in server["credentials"]}
    assert states == {"mcpcred:secret/url-key": "literal", "mcpcred:secret/api-key": "missing"}
    assert [u["reference"] for u in document["unresolved"]] == ["mcpcred:secret/api-key"]
    assert "only headers are resolved" in result.stderr


def test_weak_defaults_move_quietly_and_audit_agrees(
    keychain: dict[str, str], config: Path, home: Path
) -> None:
    """A demo password moves like any credential (harmless, and the file is then clean),
    under a name that says whose it is; where it cannot move (a remote URL), wrap leaves it
    without the "rotate it" warning a leak gets, as audit-config does not count the server
    as unwrapped either. audit-config's fix names the wrap command where wrap can help."""
    local = "postgres://postgres:postgres@localhost/db"
    servers = {
        "pg": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres", local]},
        "app": {"command": "npx", "env": {"PASSWORD": "changeme"}},
        "demo": {"type": "sse", "url": "http://admin:admin@localhost:8080/sse"},
    }
    original = json.dumps({"mcpServers": servers}, indent=2) + "\n"
    config.write_text(original)
    audit = run("audit-config", "--format", "json", str(config))
    findings = json.loads(audit.stdout)["findings"]
    assert {f["rule"] for f in findings if f["rule"].startswith("secret/")} == {
        "secret/weak-default-credential"
    }
    assert not [f for f in findings if f["rule"] == "hygiene/unwrapped-server"]
    fixes = {f["server"]: f["fix"] for f in findings if f["rule"].startswith("secret/")}
    assert fixes["app"].endswith("mcpcred wrap claude-desktop --server app")
    assert "mcpcred wrap" not in fixes["demo"]

    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 0, result.stderr
    assert "rotate it" not in result.stderr.split("restart Claude Desktop")[0]
    assert "left in the file" not in result.stderr
    wrapped = json.loads(config.read_text())["mcpServers"]
    assert wrapped["app"]["env"]["PASSWORD"] == "mcpcred:secret/app-password"
    assert "{{mcpcred:secret/pg-secret}}" in wrapped["pg"]["args"][-1]
    assert wrapped["demo"] == servers["demo"]
    again = run("wrap", "claude-desktop", "--yes")
    last = again.stderr.strip().splitlines()[-1]
    assert last == (
        "nothing to change (already wrapped: pg, app; left as they are, holding only a "
        "well-known default password mcpcred cannot move: demo)"
    )
    back = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert config.read_text() == original
