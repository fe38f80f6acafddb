"""Remote entries the real clients wrote themselves, wrapped, and read back by those clients.

Claude Code, Codex and Gemini CLI (from npm, ``MCPCRED_REAL_CLIENTS``) each add a
remote server with a credential through their own ``mcp add``, in whatever shape
they write today. ``mcpcred wrap`` must move the credential into the real
keychain, and the client must still list the entry afterwards: as a stdio
server running the bridge (``mcpcred shim --url``), or, for a header the client
fetches through its helper hook, as the same remote server. ``unwrap
--restore-secrets`` gives the client's own file back byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.mcp_parts import _client_bin

pytestmark = pytest.mark.slow

MCPCRED = Path(sys.executable).parent / "mcpcred"


def _run(argv: list[str], env: dict[str, str], *, stdout_only: bool = False) -> str:
    result = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, f"{argv[:4]} failed: {result.stderr[-800:]}"
    return result.stdout if stdout_only else result.stdout + result.stderr


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def _no_trace(value: str, path: Path, data: Path) -> None:
    assert value not in path.read_text()
    for backup in (data / "backups").rglob("*"):
        if backup.is_file():
            assert value not in backup.read_text()


def test_codex_reads_the_bridge_and_the_helper_entries(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    rng = random.Random(31)
    key = tokengen.random_string(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 32)
    codex_home = home / ".codex"
    codex_home.mkdir()
    env = {"HOME": str(home), "CODEX_HOME": str(codex_home)}
    codex = _client_bin("codex")
    url = f"https://mcp.exa.example.com/mcp?exaApiKey={key}"
    _run([codex, "mcp", "add", "exa", "--url", url], env)
    config = codex_home / "config.toml"
    original = config.read_bytes()

    _run([str(MCPCRED), "wrap", "codex", "--yes"], env)
    _no_trace(key, config, data)
    (entry,) = [
        e for e in json.loads(_run([codex, "mcp", "list", "--json"], env, stdout_only=True)) if e
    ]
    transport = entry["transport"]
    assert transport["type"] == "stdio", entry
    assert transport["command"] == str(MCPCRED)
    args = transport["args"]
    assert args[:5] == ["shim", "--server", "exa", "--client", "codex"]
    assert args[args.index("--url") + 1] == (
        "https://mcp.exa.example.com/mcp?exaApiKey={{mcpcred:secret/exa-secret}}"
    )
    assert args[args.index("--transport") + 1] == "http"
    assert "DBUS_SESSION_BUS_ADDRESS" in transport["env_vars"]
    assert real_keychain.lookup(keychain, "mcpcred", "exa-secret") == key

    _run([str(MCPCRED), "unwrap", "codex", "--restore-secrets", "--yes"], env)
    assert config.read_bytes() == original


def test_claude_code_reads_the_helper_and_the_bridge_entries(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    rng = random.Random(32)
    header = tokengen.generate("linear-api-key", rng)
    key = tokengen.random_string(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 32)
    env = {"HOME": str(home)}
    claude = _client_bin("claude")
    add = [claude, "mcp", "add", "--scope", "user", "--transport"]
    _run(
        [*add, "http", "linear", "https://mcp.linear.example.com/mcp", "--header",
         f"Authorization: Bearer {header}"],
        env,
    )  # fmt: skip
    _run([*add, "sse", "events", f"https://events.example.com/sse?key={key}"], env)
    config = home / ".claude.json"
    before = json.loads(config.read_text())["mcpServers"]

    _run([str(MCPCRED), "wrap", "claude-code", "--yes"], env)
    _no_trace(header, config, data)
    _no_trace(key, config, data)
    servers = json.loads(config.read_text())["mcpServers"]
    assert servers["events"]["type"] == "stdio"
    assert servers["linear"]["headersHelper"].startswith(f"{MCPCRED} headers --server linear")

    events = _run([claude, "mcp", "get", "events"], env)
    assert "Type: stdio" in events, events
    assert f"Command: {MCPCRED}" in events, events
    assert "--url https://events.example.com/sse?key={{mcpcred:secret/" in events, events
    assert "--transport sse" in events
    linear = _run([claude, "mcp", "get", "linear"], env)
    assert "Type: http" in linear and "URL: https://mcp.linear.example.com/mcp" in linear
    stored = {
        real_keychain.lookup(keychain, "mcpcred", name)
        for name in ("linear-api-key", "events-secret")
    }
    assert stored == {header, key}

    _run([str(MCPCRED), "unwrap", "claude-code", "--restore-secrets", "--yes"], env)
    # Claude Code rewrites ~/.claude.json on every run (counters): the entries come back
    assert json.loads(config.read_text())["mcpServers"] == before


def test_gemini_reads_the_bridge_entry(keychain: dict[str, str], home: Path, data: Path) -> None:
    rng = random.Random(33)
    token = tokengen.generate("huggingface-token", rng)
    env = {"HOME": str(home)}
    gemini = _client_bin("gemini")
    _run(
        [gemini, "mcp", "add", "-s", "user", "-t", "http", "-H",
         f"Authorization: Bearer {token}", "hf", "https://hf.example.com/mcp"],
        env,
    )  # fmt: skip
    config = home / ".gemini" / "settings.json"
    original = config.read_bytes()

    _run([str(MCPCRED), "wrap", "gemini-cli", "--yes"], env)
    _no_trace(token, config, data)
    listed = _run([gemini, "mcp", "list"], env)
    assert f"hf: {MCPCRED} shim" in listed and "(stdio)" in listed, listed
    entry = json.loads(config.read_text())["mcpServers"]["hf"]
    assert set(entry) == {"command", "args"}
    args = entry["args"]
    assert args[args.index("--url") + 1] == "https://hf.example.com/mcp"
    header = args[args.index("--header") + 1]
    assert header.startswith("Authorization: Bearer {{mcpcred:secret/")
    name = header.split("secret/")[1].rstrip("}")
    assert real_keychain.lookup(keychain, "mcpcred", name) == token

    _run([str(MCPCRED), "unwrap", "gemini-cli", "--restore-secrets", "--yes"], env)
    assert config.read_bytes() == original
