"""Claude Code and Gemini CLI start wrapped servers and see them connect.

Neither client can call a tool without a model, but both health-check every
server (``claude mcp list``, ``gemini mcp list``), which spawns it. The server
here is a gate in front of server-everything: it execs the real server only
when ``GITHUB_PERSONAL_ACCESS_TOKEN`` holds the expected token (compared by
digest, so the token never appears in argv), and exits otherwise. "Connected"
therefore proves the shim injected the secret; the same entry unwrapped with
its reference left in place must fail.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_real_clients import _bin
from tests.support import tokengen
from tests.support.cli import run
from tests.support.mcp_parts import everything_js

pytestmark = pytest.mark.slow

GATE = """\
import hashlib, os, sys
digest, command = sys.argv[1], sys.argv[3:]
value = os.environ.get("GITHUB_PERSONAL_ACCESS_TOKEN", "")
if hashlib.sha256(value.encode()).hexdigest() != digest:
    sys.stderr.write("gate: wrong or missing token\\n")
    sys.exit(3)
os.execvp(command[0], command)
"""


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(99))


def _entry(tmp_path: Path, token: str) -> dict[str, object]:
    gate = tmp_path / "gate.py"
    gate.write_text(GATE)
    digest = hashlib.sha256(token.encode()).hexdigest()
    return {
        "command": sys.executable,
        "args": [str(gate), digest, "--", "node", everything_js(), "stdio"],
        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": token},
    }


def _client(*argv: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return result.stdout + result.stderr


def _line(output: str, name: str) -> str:
    return next((line for line in output.splitlines() if line.lstrip("✓✗✔✘ ").startswith(name)), "")


def test_claude_code_connects_to_a_wrapped_server(
    keychain: dict[str, str], home: Path, tmp_path: Path, token: str
) -> None:
    config = home / ".claude.json"
    config.write_text(json.dumps({"mcpServers": {"gated": _entry(tmp_path, token)}}, indent=2))
    # the gate itself works: without the token the server does not connect
    broken = json.loads(config.read_text())
    broken["mcpServers"]["gated"]["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] = "wrong"
    config.write_text(json.dumps(broken, indent=2))
    assert "Connected" not in _line(_client(_bin("claude"), "mcp", "list"), "gated")
    config.write_text(json.dumps({"mcpServers": {"gated": _entry(tmp_path, token)}}, indent=2))

    wrapped = run("wrap", "claude-code", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    assert token not in config.read_text()

    line = _line(_client(_bin("claude"), "mcp", "list"), "gated")
    assert "Connected" in line and "Failed" not in line, line


def test_gemini_cli_connects_to_a_wrapped_server(
    keychain: dict[str, str], home: Path, tmp_path: Path, token: str
) -> None:
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(
        "// Gemini settings\n"
        + json.dumps({"mcpServers": {"gated": _entry(tmp_path, token)}}, indent=2)
        + "\n"
    )
    wrapped = run("wrap", "gemini-cli", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    text = settings.read_text()
    assert token not in text
    assert text.startswith("// Gemini settings\n")

    trust = {"GEMINI_CLI_TRUST_WORKSPACE": "true"}
    line = _line(_client(_bin("gemini"), "mcp", "list", env=trust), "gated")
    assert "Connected" in line and "Disconnected" not in line, line

    # A plain unwrap never hands the server a literal reference (issue 12): the entry stays
    # on the shim, still without the token, and still connects.
    assert run("unwrap", "gemini-cli", "--yes").code == 0
    text = settings.read_text()
    assert token not in text and '"shim"' in text and "mcpcred:secret/" in text
    line = _line(_client(_bin("gemini"), "mcp", "list", env=trust), "gated")
    assert "Connected" in line and "Disconnected" not in line, line


def test_claude_code_connects_to_a_guarded_server(
    keychain: dict[str, str], home: Path, tmp_path: Path, token: str
) -> None:
    """Through the relay: Claude Code's handshake passes, and the log names Claude Code."""
    config = home / ".claude.json"
    config.write_text(json.dumps({"mcpServers": {"gated": _entry(tmp_path, token)}}, indent=2))
    data = tmp_path / "data"
    env = {"MCPCRED_DATA_DIR": str(data)}
    guarded = run(
        "guard", "claude-code", "--server", "gated", "--deny", "get-env", "--yes", env=env
    )
    assert guarded.code == 0, guarded.stderr
    assert token not in config.read_text()

    line = _line(_client(_bin("claude"), "mcp", "list", env=env), "gated")
    assert "Connected" in line and "Failed" not in line, line
    records = [json.loads(text) for text in (data / "log" / "audit.jsonl").read_text().splitlines()]
    events = {record["event"] for record in records}
    assert {"inject", "session"} <= events, events
    session = next(r for r in records if r["event"] == "session")
    assert session["client"] == "claude-code" and session["outcome"] == "ok"
    assert session.get("client_name"), session  # Claude Code's own clientInfo.name
    inject = next(r for r in records if r["event"] == "inject")
    assert inject["credentials"] == ["secret/github-pat"], inject
    assert token not in (data / "log" / "audit.jsonl").read_text()
    assert run("log", "verify", env=env).code == 0
