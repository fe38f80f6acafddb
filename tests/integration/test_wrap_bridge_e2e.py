"""A wrapped remote entry, started the way its client starts it, reaches the real server.

For each client's remote shape, a real MCP SDK server (``tests/support/remote_servers.py``)
requires a credential; the client's config holds it in plain text; ``mcpcred wrap``
moves it into the real keychain and writes the client's bridge entry. The test then
starts exactly that entry's command and args (as the client would), speaks MCP over
its stdio, and calls the server's ``auth_seen`` tool: the credential the server got
must be the right one (for a key in the URL, the server's gate answers nothing
without it), though it is no longer anywhere in the file.

Needs the bridge (``mcpcred.bridge``) and the remote test servers, which come from
the bridge and transport branches; until those are merged the module is skipped.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.support import tokengen
from tests.support.mcp_parts import _strip_jsonc

remote_servers = pytest.importorskip("tests.support.remote_servers")
pytest.importorskip("mcpcred.bridge.upstream")

pytestmark = pytest.mark.slow

MCPCRED = Path(sys.executable).parent / "mcpcred"

# (client, config under HOME, servers key, auth mode, how the entry is written)
SHAPES = [
    ("cursor", ".cursor/mcp.json", "mcpServers", "bearer",
     lambda url, s: {"url": url, "headers": {"Authorization": f"Bearer {s}"}}),
    ("vscode", ".config/Code/User/mcp.json", "servers", "apikey",
     lambda url, s: {"type": "http", "url": url, "headers": {"X-Api-Key": s}}),
    ("windsurf", ".codeium/windsurf/mcp_config.json", "mcpServers", "query",
     lambda url, s: {"serverUrl": url}),
    ("gemini-cli", ".gemini/settings.json", "mcpServers", "bearer",
     lambda url, s: {"httpUrl": url, "headers": {"Authorization": f"Bearer {s}"}}),
    ("zed", ".config/zed/settings.json", "context_servers", "apikey",
     lambda url, s: {"url": url, "headers": {"X-Api-Key": s}}),
    ("claude-code", ".claude.json", "mcpServers", "query",
     lambda url, s: {"type": "http", "url": url}),
    ("claude-desktop", ".config/Claude/claude_desktop_config.json", "mcpServers", "bearer",
     lambda url, s: {"command": "npx", "args": ["-y", "mcp-remote", url, "--header",
                                                 "Authorization:${AUTH}"],
                     "env": {"AUTH": f"Bearer {s}"}}),
]  # fmt: skip


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def _mcp(argv: list[str], messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Start a stdio MCP server like a client does, send ``messages``, read the answers."""
    lines = "".join(json.dumps(m) + "\n" for m in messages)
    done = subprocess.run(
        argv, input=lines, capture_output=True, text=True, timeout=60, env=dict(os.environ),
        check=False,
    )  # fmt: skip
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert answers, f"no answer from the bridge (exit {done.returncode}): {done.stderr[-800:]}"
    return answers


def _call(argv: list[str], tool: str) -> str:
    init = {"protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "wrap-e2e", "version": "0"}}  # fmt: skip
    answers = _mcp(
        argv,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": tool, "arguments": {}}},
        ],
    )  # fmt: skip
    result = next(a for a in answers if a.get("id") == 2)
    assert "result" in result, result
    return "".join(c.get("text", "") for c in result["result"]["content"])


@pytest.mark.parametrize(("client", "relative", "key", "auth", "make"), SHAPES,
                         ids=[s[0] for s in SHAPES])  # fmt: skip
def test_the_wrapped_entry_reaches_the_server_with_the_keychain_credential(
    keychain: dict[str, str],
    home: Path,
    data: Path,
    client: str,
    relative: str,
    key: str,
    auth: str,
    make: Any,
) -> None:
    secret = tokengen.generate("github-pat", random.Random(client))
    with remote_servers.serve("http", auth=auth, secret=secret) as server:
        path = home / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({key: {"remote": make(server.url, secret)}}, indent=2))
        done = subprocess.run(
            [str(MCPCRED), "wrap", client, "--yes"], capture_output=True, text=True,
            timeout=60, env=dict(os.environ), check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        text = path.read_text()
        assert secret not in text
        entry = json.loads(_strip_jsonc(text))[key]["remote"]
        assert entry["command"] == str(MCPCRED) and "--url" in entry["args"]
        # with the key in the query, the server's gate checked it (nothing answers without
        # it) and auth_seen, which looks at headers, says "absent"
        expected = "absent" if auth == "query" else "valid"
        assert _call([entry["command"], *entry["args"]], "auth_seen") == expected


def test_a_codex_bridge_entry_reaches_the_server(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    secret = tokengen.generate("github-pat", random.Random("codex"))
    with remote_servers.serve("http", auth="query", secret=secret) as server:
        path = home / ".codex" / "config.toml"
        path.parent.mkdir(parents=True)
        path.write_text(f'[mcp_servers.remote]\nurl = "{server.url}"\n')
        done = subprocess.run(
            [str(MCPCRED), "wrap", "codex", "--yes"], capture_output=True, text=True,
            timeout=60, env=dict(os.environ), check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert secret not in path.read_text()
        entry = tomllib.loads(path.read_text())["mcp_servers"]["remote"]
        assert _call([entry["command"], *entry["args"]], "auth_seen") == "absent"  # gate: ok
