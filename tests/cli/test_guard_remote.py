"""``mcpcred guard`` on a remote server: the entry runs the bridge, credential or not.

Guard mode relays what goes through the shim; a remote entry left remote (no
credential in the file, or a header helper) would be named in the guard table
and never guarded. ``unwrap --restore-secrets`` gives the file back byte for byte.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from mcpcred.guard import settings
from tests.support import tokengen
from tests.support.cli import run


def test_guard_bridges_a_remote_entry_without_a_credential_in_the_file(
    keychain: dict[str, str], home: Path
) -> None:
    path = home / ".cursor" / "mcp.json"
    path.parent.mkdir()
    docs = {"url": "https://docs.example.com/mcp", "headers": {"Authorization": "Bearer ${env:T}"}}
    path.write_text(json.dumps({"mcpServers": {"docs": docs, "other": docs}}, indent=2) + "\n")
    original = path.read_bytes()

    result = run("guard", "cursor", "--server", "docs", "--deny", "delete_*", "--yes")
    assert result.code == 0, result.stderr
    servers = json.loads(path.read_text())["mcpServers"]
    args = servers["docs"]["args"]
    assert args[:5] == ["shim", "--server", "docs", "--client", "cursor"]
    assert args[args.index("--url") + 1] == "https://docs.example.com/mcp"
    assert args[args.index("--header") + 1] == "Authorization: Bearer ${env:T}"  # Cursor expands
    assert servers["other"] == docs  # only the named server
    guard = settings.load(
        "docs", {"MCPCRED_CONFIG": str(home / ".config/mcpcred/config.toml")}, str(home), "cursor"
    )
    assert guard is not None and guard.refusal("delete_page") is not None

    # nothing to restore but the shape: plain unwrap gives the remote entry back
    back = run("unwrap", "cursor", "--yes")
    assert back.code == 0, back.stderr
    assert path.read_bytes() == original


def test_guard_prefers_the_bridge_to_a_header_helper(keychain: dict[str, str], home: Path) -> None:
    token = tokengen.generate("linear-api-key", random.Random(8))
    path = home / ".claude.json"
    linear = {"type": "http", "url": "https://mcp.linear.example.com/mcp",
              "headers": {"Authorization": f"Bearer {token}"}}  # fmt: skip
    path.write_text(json.dumps({"mcpServers": {"linear": linear}}, indent=2))
    original = path.read_bytes()
    result = run("guard", "claude-code", "--server", "linear", "--yes")
    assert result.code == 0, result.stderr
    entry = json.loads(path.read_text())["mcpServers"]["linear"]
    assert entry["type"] == "stdio" and "headersHelper" not in entry
    assert "--url" in entry["args"] and token not in path.read_text()
    back = run("unwrap", "claude-code", "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert path.read_bytes() == original
