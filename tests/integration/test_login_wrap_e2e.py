"""A login bound to a wrapped server: a real MCP client starts it with a fresh access token.

The whole user story of issue 4 with real parts: ``mcpcred login`` against
oidc-provider, ``mcpcred wrap claude-desktop --bind VAR=oauth:...`` on a
Claude Desktop config, then the MCP Python SDK (as Claude Desktop would)
starts ``@modelcontextprotocol/server-everything`` through the shim and calls
its ``get-env`` tool: the variable holds an access token the server's
protected resource accepts. ``unwrap --restore-secrets`` gives the file back.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.integration.test_login_e2e import PROVIDER, login, resource_call
from tests.integration.test_wrap_e2e import (
    claude_desktop_config,
    no_trace,
    server_env,
    wrapped_ok,
)
from tests.support import mcp_parts, tokengen
from tests.support.oauth_server import OidcServer

pytestmark = pytest.mark.slow

VARIABLE = "GITHUB_PERSONAL_ACCESS_TOKEN"


def test_bound_login_reaches_a_real_server_through_a_real_client(
    keychain: dict[str, str], home: Path, oidc_server: OidcServer
) -> None:
    pat = tokengen.generate("github-pat", random.Random(4))
    entry = mcp_parts.everything_entry({VARIABLE: pat, "PLAIN": "keep-me"})
    config = claude_desktop_config(home, {"github": entry})
    original = config.read_text()
    settings = home / ".config" / "mcpcred" / "config.toml"
    settings.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(f'[providers.{PROVIDER}]\nenv-vars = ["{VARIABLE}"]\n')

    done = login(oidc_server, "--flow", "pkce")
    assert done.returncode == 0, done.stderr
    suggestion = f"mcpcred wrap claude-desktop --server github --bind {VARIABLE}=oauth:{PROVIDER}"
    assert suggestion in done.stderr  # login found the server and says how to bind it

    wrapped = wrapped_ok(*suggestion.split()[1:], "--yes")
    no_trace(pat, wrapped.stdout, wrapped.stderr, config.read_text())
    env = json.loads(config.read_text())["mcpServers"]["github"]["env"]
    assert env[VARIABLE] == f"mcpcred:oauth/{PROVIDER}"
    assert env["PLAIN"] == "keep-me"

    result = mcp_parts.sdk_call_tool(config, "github", "get-env", timeout=30)
    assert result.ok, f"{result.error}\n{result.stderr[-2000:]}"
    seen = server_env(result.joined)
    token = seen[VARIABLE]
    assert token != pat and token.count(".") == 2  # a JWT access token, not the old PAT
    assert resource_call(oidc_server, token) == 200
    assert not [k for k in seen if k.startswith("MCPCRED_")]

    status = json.loads(wrapped_ok("status", "--json").stdout)
    (row,) = [r for r in status["servers"] if r["server"] == "github"]
    assert row["credentials"] == [{"reference": f"mcpcred:oauth/{PROVIDER}", "state": "ok"}]

    wrapped_ok("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert config.read_text() == original  # the old token came back from the keychain
