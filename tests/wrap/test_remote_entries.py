"""Remote server entries, in each client's own remote shape, through audit-config, wrap and unwrap.

Each client's config is written where that client reads it in a temporary HOME,
holding freshly generated credentials in the places real users put them: a
header, a URL's query, its userinfo, its path. Then the installed ``mcpcred``
runs as users run it, against the real keychain (gnome-keyring on a private
bus):

- ``audit-config`` finds every planted credential and names the fix command;
- ``wrap`` leaves none of them anywhere in the file or its backups, stores each in
  the keychain, and writes the client's exact stdio shape running the bridge
  (``mcpcred shim --url ... --header ...``), or, where the client runs a header
  helper itself (Claude Code, Codex), keeps the entry remote;
- the file still parses for the client (and the real Claude Code, Codex and Gemini
  CLI still read the entry: ``tests/integration/test_wrap_remote_clients.py``);
- a second wrap changes nothing and never says "already wrapped" of a server whose
  credential is left;
- ``unwrap --restore-secrets`` gives back the original bytes (JSON, JSONC with
  comments and trailing commas, TOML).
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.mcp_parts import _strip_jsonc

MCPCRED = Path(sys.executable).parent / "mcpcred"
REF = re.compile(r"mcpcred:secret/([a-z0-9][a-z0-9._-]*)")


@dataclass
class Case:
    """One client's config with planted credentials, and what wrap must make of it."""

    client: str
    relative: str  # under HOME
    text: str  # with {{MARKERS}} for generated credentials
    # server -> "bridge" | "helper" | "left" | "remote" (no credential, untouched)
    expect: dict[str, str]
    container: tuple[str, ...] = ("mcpServers",)
    # server -> the transport the bridge is told (absent: auto)
    transport: dict[str, str] = field(default_factory=dict)


def _tokens(rng: random.Random) -> dict[str, str]:
    alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return {
        "PAT": tokengen.generate("github-pat", rng),
        "LINEAR": tokengen.generate("linear-api-key", rng),
        "HF": tokengen.generate("huggingface-token", rng),
        "QKEY": tokengen.random_string(rng, alnum, 32),
        "PASSWORD": tokengen.random_string(rng, alnum, 24),
        "PATHKEY": tokengen.random_string(rng, alnum, 40),
        "APIKEY": tokengen.random_string(rng, alnum, 32),
    }


CASES = [
    Case(
        "cursor",
        ".cursor/mcp.json",
        """{
  "mcpServers": {
    "linear": { "url": "https://mcp.example.com/mcp", "headers": { "Authorization": "Bearer {{LINEAR}}", "X-Team": "core" } },
    "exa": {
      "type": "sse",
      "url": "https://mcp.example.com/sse?api_key={{QKEY}}"
    },
    "docs": { "url": "https://docs.example.com/mcp", "headers": { "Authorization": "Bearer ${env:DOCS_TOKEN}" } },
    "gh": { "url": "https://gh.example.com/mcp/", "auth": { "CLIENT_ID": "Iv23cursor", "CLIENT_SECRET": "{{PATHKEY}}" } },
    "scoped": { "url": "https://s.example.com/mcp", "auth": { "CLIENT_ID": "app", "CLIENT_SECRET": "{{PASSWORD}}", "scopes": ["repo", "read:org"] } },
    "tuned": { "url": "https://t.example.com/mcp", "auth": { "CLIENT_ID": "app", "CLIENT_SECRET": "{{QKEY}}", "prompt": "none" } }
  }
}
""",
        {
            "linear": "bridge",
            "exa": "bridge",
            "docs": "remote",
            "gh": "bridge",
            "scoped": "bridge",
            "tuned": "left",
        },
        transport={"exa": "sse"},
    ),
    Case(
        "vscode",
        ".config/Code/User/mcp.json",
        """{
  // VS Code user MCP servers
  "inputs": [],
  "servers": {
    "github": {
      "type": "http",
      "url": "https://api.example.com/mcp/",
      "headers": { "Authorization": "Bearer {{PAT}}" }, // the PAT
    },
    "legacy": { "type": "sse", "url": "https://deploy:{{PASSWORD}}@mcp.example.com/sse" },
  },
}
""",
        {"github": "bridge", "legacy": "bridge"},
        container=("servers",),
        transport={"legacy": "sse"},
    ),
    Case(
        "windsurf",
        ".codeium/windsurf/mcp_config.json",
        """{
  "mcpServers": {
    "personal": { "serverUrl": "https://mcp.example.com/u/{{PATHKEY}}/mcp" },
    "hf": {
      "serverUrl": "https://hf.example.com/mcp",
      "headers": { "Authorization": "Bearer {{HF}}" },
      "disabled": false
    }
  }
}
""",
        {"personal": "bridge", "hf": "bridge"},
    ),
    Case(
        "gemini-cli",
        ".gemini/settings.json",
        """{
  // comments are allowed
  "theme": "GitHub",
  "mcpServers": {
    "hf": { "httpUrl": "https://hf.example.com/mcp", "headers": { "Authorization": "Bearer {{HF}}" }, "timeout": 30000 },
    "events": {
      "url": "https://events.example.com/sse",
      "headers": { "X-API-Key": "{{APIKEY}}" }
    },
    "gh": { "httpUrl": "https://gh.example.com/mcp/", "oauth": { "enabled": true, "clientId": "Iv23gemini", "clientSecret": "{{PATHKEY}}" } }
  }
}
""",
        {"hf": "bridge", "events": "bridge", "gh": "bridge"},
        transport={"hf": "http", "events": "sse", "gh": "http"},
    ),
    Case(
        "zed",
        ".config/zed/settings.json",
        """// Zed settings
{
  "theme": "One Dark",
  "context_servers": {
    "remote": {
      "url": "https://mcp.example.com/mcp",
      "headers": { "Authorization": "Bearer {{LINEAR}}" },
      "enabled": true,
    },
    // Zed's own sign-in with a pre-registered OAuth app (GitHub's server has no DCR)
    "github": {
      "url": "https://api.githubcopilot.example.com/mcp/",
      "oauth": { "client_id": "Iv23liExampleApp", "client_secret": "{{APIKEY}}" },
    },
  },
}
""",
        {"remote": "bridge", "github": "bridge"},
        container=("context_servers",),
    ),
    Case(
        "codex",
        ".codex/config.toml",
        """# Codex config
model = "gpt-5-codex"

[mcp_servers.exa]
url = "https://mcp.exa.example.com/mcp?exaApiKey={{QKEY}}"   # the key is in the URL
tool_timeout_sec = 60

[mcp_servers.exa.http_headers]   # a section of its own: unwrap puts it back as one
X-Team = "core"

[mcp_servers.linear]
url = "https://mcp.linear.example.com/mcp"
http_headers = { "Authorization" = "Bearer {{LINEAR}}" }

[mcp_servers.gh]
url = "https://api.example.com/mcp/"
bearer_token_env_var = "GH_TOKEN"

[mcp_servers.hf]
url = "https://hf.example.com/mcp"

[mcp_servers.hf.http_headers]   # its only header moves: the section goes, unwrap brings it back
Authorization = "Bearer {{HF}}"

[mcp_servers.mixed]
url = "https://mixed.example.com/mcp?token={{APIKEY}}"
env_http_headers = { "X-Org" = "ORG_ID" }
""",
        {"exa": "bridge", "linear": "helper", "gh": "remote", "hf": "helper", "mixed": "left"},
        container=("mcp_servers",),
        transport={"exa": "http"},
    ),
    Case(
        "claude-code",
        ".claude.json",
        """{
  "numStartups": 3,
  "mcpServers": {
    "linear": {
      "type": "http",
      "url": "https://mcp.linear.example.com/mcp",
      "headers": { "Authorization": "Bearer {{LINEAR}}" }
    },
    "events": { "type": "sse", "url": "https://events.example.com/sse?key={{QKEY}}", "headers": { "X-Team": "core" } },
    "slack": { "type": "http", "url": "https://mcp.slack.example.com/mcp", "oauth": { "clientId": "1601.app", "callbackPort": 3118 } },
    "gh": { "type": "http", "url": "https://gh.example.com/mcp/", "oauth": { "clientId": "Iv23claude", "clientSecret": "{{PATHKEY}}", "scopes": "repo" } }
  },
  "tipsHistory": {}
}
""",
        {"linear": "helper", "events": "bridge", "slack": "remote", "gh": "bridge"},
        transport={"events": "sse", "gh": "http"},
    ),
    Case(
        "claude-desktop",
        ".config/Claude/claude_desktop_config.json",
        """{
  "mcpServers": {
    "linear": {
      "command": "npx",
      "args": ["-y", "mcp-remote@0.1.29", "https://mcp.linear.example.com/mcp", "--header", "Authorization:${AUTH_HEADER}"],
      "env": { "AUTH_HEADER": "Bearer {{LINEAR}}" }
    },
    "github": {
      "command": "npx",
      "args": ["mcp-remote", "https://api.example.com/mcp/", "--header", "Authorization: Bearer {{PAT}}", "--transport", "http-only"]
    },
    "notion": { "command": "npx", "args": ["-y", "mcp-remote", "https://mcp.notion.example.com/mcp"] }
  },
  "preferences": { "sidebarMode": "chat" }
}
""",
        {"linear": "bridge", "github": "bridge", "notion": "bridge"},
        transport={"github": "http"},
    ),
]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def mcpcred(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script (so entries name its absolute path)."""
    return subprocess.run(
        [str(MCPCRED), *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def plant(case: Case, home: Path, rng: random.Random) -> tuple[Path, dict[str, str]]:
    tokens = _tokens(rng)
    used = {m: tokens[m] for m in re.findall(r"\{\{([A-Z]+)\}\}", case.text)}
    path = home / case.relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(re.sub(r"\{\{([A-Z]+)\}\}", lambda m: tokens[m[1]], case.text))
    path.chmod(0o600)
    return path, used


def load(case: Case, path: Path) -> dict[str, Any]:
    """The servers, parsed as the client parses its file."""
    text = path.read_text(encoding="utf-8")
    data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(_strip_jsonc(text))
    for key in case.container:
        data = data[key]
    assert isinstance(data, dict)
    return data


def bridge_args(entry: dict[str, Any], server: str, client: str) -> dict[str, Any]:
    """The bridge options of a stdio entry running ``mcpcred shim --url``."""
    assert entry["command"] == str(MCPCRED), entry
    args = entry["args"]
    assert args[:5] == ["shim", "--server", server, "--client", client], args
    assert "--" not in args, args  # a bridge runs no command
    out: dict[str, Any] = {"headers": [], "transport": "auto", "allow_http": False}
    i = 5
    while i < len(args):
        flag = args[i]
        if flag == "--url":
            out["url"] = args[i + 1]
        elif flag == "--header":
            out["headers"].append(args[i + 1])
        elif flag == "--transport":
            out["transport"] = args[i + 1]
        elif flag == "--allow-http":
            out["allow_http"] = True
            i -= 1
        elif flag == "--dbus-address":
            pass
        else:
            raise AssertionError(f"unexpected bridge argument {flag}")
        i += 2
    return out


STDIO_SHAPES: dict[str, Callable[[dict[str, Any]], None]] = {
    "claude-code": lambda e: _keys(e, {"type", "command", "args"}, type_="stdio"),
    "vscode": lambda e: _keys(e, {"type", "command", "args"}, type_="stdio"),
    "cursor": lambda e: _keys(e, {"command", "args"}),
    "windsurf": lambda e: _keys(e, {"command", "args"}),
    "gemini-cli": lambda e: _keys(e, {"command", "args"}),
    "zed": lambda e: _keys(e, {"command", "args"}),
    "claude-desktop": lambda e: _keys(e, {"command", "args"}),
    "codex": lambda e: _keys(e, {"command", "args", "env_vars", "startup_timeout_sec"}),
}
KEPT = {"timeout", "disabled", "enabled", "tool_timeout_sec"}  # shared keys a bridge keeps


def _keys(entry: dict[str, Any], required: set[str], type_: str | None = None) -> None:
    assert required <= set(entry), entry
    remote_keys = {"url", "httpUrl", "serverUrl", "headers", "http_headers", "env"}
    assert not remote_keys & set(entry), entry
    assert set(entry) - required <= KEPT, entry
    if type_ is not None:
        assert entry["type"] == type_
    elif "type" in entry:
        raise AssertionError(f"a {entry['type']} type left in a stdio entry: {entry}")


def refs(text: str) -> list[str]:
    return REF.findall(text)


@pytest.mark.parametrize("case", CASES, ids=[c.client for c in CASES])
def test_remote_credentials_move_to_the_keychain_and_come_back_byte_for_byte(
    case: Case, keychain: dict[str, str], home: Path, data: Path, request: pytest.FixtureRequest
) -> None:
    path, planted = plant(case, home, random.Random(request.node.nodeid))
    original = path.read_bytes()

    # audit-config finds every planted credential and names the fix for this client
    audit = mcpcred("audit-config", "--format", "json", str(path))
    assert audit.returncode == 1, audit.stderr
    report = json.loads(audit.stdout)
    secret_findings = [f for f in report["findings"] if f["rule"].startswith("secret/")]
    lines = original.decode().splitlines()
    for marker, value in planted.items():
        at = [
            f
            for f in secret_findings
            if value in lines[f["line"] - 1][f["column"] - 1 :][: len(value) + 8]
        ]
        assert at, f"{marker} not reported"
        server = at[0]["server"]
        if case.expect[server] != "left":
            assert at[0]["fix"].endswith(f"mcpcred wrap {case.client} --server {server}"), at[0]
        assert value not in audit.stdout

    # the dry run's diff shows the new entries without a value of any secret
    dry = mcpcred("wrap", case.client, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "--url" in dry.stdout or "Helper" in dry.stdout or "helper" in dry.stdout
    for marker, value in planted.items():
        assert value not in dry.stdout + dry.stderr, marker
    assert path.read_bytes() == original

    done = mcpcred("wrap", case.client, "--yes")
    assert done.returncode == 0, done.stderr
    text = path.read_text(encoding="utf-8")
    servers = load(case, path)  # still parses for the client
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    backups = list((data / "backups").rglob("*"))
    moved = {
        marker: value
        for marker, value in planted.items()
        if not any(case.expect[s] == "left" and value in json.dumps(e) for s, e in
                   load(case, path).items())
    }  # fmt: skip
    for marker, value in planted.items():
        assert value not in done.stderr and value not in done.stdout, marker
        for backup in backups:
            if backup.is_file():
                assert value not in backup.read_text(encoding="utf-8"), f"{marker} in backup"
        if marker in moved:
            assert value not in text, f"{marker} left in {path.name}"

    for server, verdict in case.expect.items():
        entry = servers[server]
        dumped = json.dumps(entry)
        if verdict == "bridge":
            STDIO_SHAPES[case.client](entry)
            options = bridge_args(entry, server, case.client)
            assert options["transport"] == case.transport.get(server, "auto"), options
            assert f"{server}: wrap" in done.stderr, done.stderr
        elif verdict == "helper":
            helper = "headersHelper" if case.client == "claude-code" else "http_headers_helper"
            assert entry[helper].startswith(f"{MCPCRED} headers --server {server} "), entry
            assert "url" in entry
            # its headers all moved: no empty `http_headers = {}` / `"headers": {}` is left
            assert entry.get("headers", entry.get("http_headers")) != {}, entry
        elif verdict == "left":
            assert f"{server}: NOT WRAPPED" in done.stderr, done.stderr
            assert "left in the file" in done.stderr
        else:
            assert not refs(dumped), entry
        # each reference names a value now in the real keychain, the one that was planted
        for name in refs(dumped):
            stored = real_keychain.lookup(keychain, "mcpcred", name)
            assert stored in planted.values(), name

    # the OAuth case of mcp-remote: a login reference and the command that makes it
    if case.client == "claude-desktop":
        notion = bridge_args(servers["notion"], "notion", "claude-desktop")
        assert notion["headers"] == ["Authorization: Bearer {{mcpcred:oauth/notion}}"]
        assert "mcpcred login https://mcp.notion.example.com/mcp --name notion" in done.stderr
        linear = bridge_args(servers["linear"], "linear", "claude-desktop")
        assert linear["url"] == "https://mcp.linear.example.com/mcp"
        (header,) = linear["headers"]
        assert re.fullmatch(r"Authorization: Bearer \{\{mcpcred:secret/[a-z0-9.-]+\}\}", header)

    # An OAuth app in the entry: its secret is an ordinary secret now, the app is left for
    # `mcpcred login URL` (by the server's canonical URL), and the bridge sends that login
    apps = {
        "zed": ("github", "github-mcp", "https://api.githubcopilot.example.com/mcp/",
                "Iv23liExampleApp", "APIKEY"),
        "cursor": ("gh", "gh", "https://gh.example.com/mcp/", "Iv23cursor", "PATHKEY"),
        "gemini-cli": ("gh", "gh", "https://gh.example.com/mcp/", "Iv23gemini", "PATHKEY"),
        "claude-code": ("gh", "gh", "https://gh.example.com/mcp/", "Iv23claude", "PATHKEY"),
    }  # fmt: skip
    scoped = {"cursor": ["repo", "read:org"], "claude-code": ["repo"]}
    pendings: list[str] = []
    if case.client in apps:
        server, login, url, client_id, marker = apps[case.client]
        bridged = bridge_args(servers[server], server, case.client)
        assert bridged["headers"] == [f"Authorization: Bearer {{{{mcpcred:oauth/{login}}}}}"]
        assert bridged["url"] == url
        assert f"mcpcred login {url} --name {login}" in done.stderr
        pending = real_keychain.lookup(keychain, "mcpcred", f"oauth-client-for:{url}")
        assert pending is not None
        app = json.loads(pending)
        assert app["client_id"] == client_id
        secret = real_keychain.lookup(keychain, "mcpcred", app["client_secret_ref"])
        assert secret == planted[marker]
        pendings.append(f"oauth-client-for:{url}")
        assert app.get("scopes") == (
            scoped["claude-code"] if case.client == "claude-code" else None
        )
    if case.client == "cursor":  # the scopes the entry asked for go with its app to the login
        pending = real_keychain.lookup(
            keychain, "mcpcred", "oauth-client-for:https://s.example.com/mcp"
        )
        assert pending is not None and json.loads(pending)["scopes"] == scoped["cursor"]
        assert "with the scopes it set (repo read:org)" in done.stderr
        pendings.append("oauth-client-for:https://s.example.com/mcp")

    # a second wrap changes nothing, and says why per server (never a false "already wrapped")
    again = mcpcred("wrap", case.client, "--yes")
    assert again.returncode == 0, again.stderr
    assert path.read_text(encoding="utf-8") == text
    left = [s for s, v in case.expect.items() if v == "left"]
    wrapped_part = re.search(r"already wrapped: ([^;)]*)", again.stderr)
    for server in left:
        assert server not in (wrapped_part.group(1).split(", ") if wrapped_part else [])
    if left:
        assert f"cannot move (see the notes above): {', '.join(left)}" in again.stderr, again.stderr

    # unwrap without values keeps every entry that needs a reference on mcpcred
    kept = mcpcred("unwrap", case.client, "--yes")
    assert kept.returncode == 0, kept.stderr
    for server, verdict in case.expect.items():
        if verdict in ("bridge", "helper") and refs(json.dumps(servers[server])):
            assert f"{server}: STAYS WRAPPED" in kept.stderr, kept.stderr

    for name in pendings:  # kept: the entries still sign in through mcpcred's login
        assert real_keychain.lookup(keychain, "mcpcred", name) is not None, name

    restored = mcpcred("unwrap", case.client, "--restore-secrets", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert path.read_bytes() == original
    for value in planted.values():
        assert value not in restored.stderr
    # the entries sign in with their apps themselves again: the apps kept for login go
    for name in pendings:
        assert real_keychain.lookup(keychain, "mcpcred", name) is None, name
        assert f"removed the OAuth app kept for mcpcred login to {name.split(':', 1)[1]}" in (
            restored.stderr
        )


def test_a_server_bridged_twice_reuses_its_secret_and_unwrap_forgets_nothing(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    """wrap, unwrap --restore-secrets, wrap again: same names, same bytes at the end."""
    case = next(c for c in CASES if c.client == "vscode")
    path, planted = plant(case, home, random.Random(7))
    original = path.read_bytes()
    first = mcpcred("wrap", "vscode", "--yes")
    assert first.returncode == 0, first.stderr
    wrapped = path.read_bytes()
    assert mcpcred("unwrap", "vscode", "--restore-secrets", "--yes").returncode == 0
    assert path.read_bytes() == original
    second = mcpcred("wrap", "vscode", "--yes")
    assert second.returncode == 0, second.stderr
    assert "reused secret" in second.stderr
    assert path.read_bytes() == wrapped
    assert mcpcred("unwrap", "vscode", "--restore-secrets", "--yes").returncode == 0
    assert path.read_bytes() == original
    assert planted


def test_an_oauth_app_another_client_still_signs_in_with_stays_until_its_unwrap(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    """Cursor and Zed both bridged to one server with its app: unwrapping one client keeps
    the app kept for login (the other entry still needs it); unwrapping the other drops it."""
    url = "https://gh.example.com/mcp/"
    secret = _tokens(random.Random(5))["PATHKEY"]
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir(parents=True)
    app = {"url": url, "auth": {"CLIENT_ID": "Iv23app", "CLIENT_SECRET": secret}}
    cursor.write_text(json.dumps({"mcpServers": {"gh": app}}, indent=2) + "\n")
    zed = home / ".config" / "zed" / "settings.json"
    zed.parent.mkdir(parents=True)
    app = {"url": url, "oauth": {"client_id": "Iv23app", "client_secret": secret}}
    zed.write_text("// Zed\n" + json.dumps({"context_servers": {"gh": app}}, indent=2) + "\n")
    originals = {path: path.read_bytes() for path in (cursor, zed)}
    pending = f"oauth-client-for:{url}"
    for client in ("cursor", "zed"):
        done = mcpcred("wrap", client, "--yes")
        assert done.returncode == 0, done.stderr
    assert secret not in cursor.read_text() + zed.read_text()
    assert real_keychain.lookup(keychain, "mcpcred", pending) is not None

    first = mcpcred("unwrap", "cursor", "--restore-secrets", "--yes")
    assert first.returncode == 0, first.stderr
    assert cursor.read_bytes() == originals[cursor]
    assert real_keychain.lookup(keychain, "mcpcred", pending) is not None  # Zed's entry needs it
    assert "removed the OAuth app" not in first.stderr

    second = mcpcred("unwrap", "zed", "--restore-secrets", "--yes")
    assert second.returncode == 0, second.stderr
    assert zed.read_bytes() == originals[zed]
    assert real_keychain.lookup(keychain, "mcpcred", pending) is None
    assert f"removed the OAuth app kept for mcpcred login to {url}" in second.stderr
