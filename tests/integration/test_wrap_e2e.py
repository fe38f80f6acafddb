"""``mcpcred wrap`` end to end: real configs, the real keychain, real MCP clients and servers.

Each test writes a client's config holding a freshly generated credential, runs
the installed ``mcpcred`` console script (``.venv/bin/mcpcred``, so the rewritten
entry points at that absolute executable) against gnome-keyring on a private
bus, and then lets a real MCP client start the wrapped server:

- the MCP Python SDK and the MCP Inspector CLI, which hand the server only HOME
  LOGNAME PATH SHELL TERM USER, so the shim must find the bus without
  ``DBUS_SESSION_BUS_ADDRESS`` (it uses the address ``wrap`` recorded);
- ``codex app-server``, which passes the bus only because wrap allow-listed it.

The server is ``@modelcontextprotocol/server-everything`` (its ``get-env`` tool
returns its whole environment) or a small MCP SDK server written by the test
that also reports its own command line, its parent's, and every process on the
machine whose command line holds the credential.

Failures are exercised the way users meet them: a secret removed from the
keychain, and a locked keychain, must make the shim answer the client's
``initialize`` with a JSON-RPC error that says what to do, quickly.

Not isolated from a desktop session: on a machine with a live
``/run/user/$UID/bus`` the shim prefers that bus to the recorded address (by
design), so run these where that socket does not exist (CI, containers).
"""

from __future__ import annotations

import json
import os
import random
import re
import stat
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support import keychain as real_keychain
from tests.support import mcp_parts, tokengen

pytestmark = pytest.mark.slow

MCPCRED = Path(sys.executable).parent / "mcpcred"
REFERENCE = re.compile(r"^mcpcred:secret/([a-z0-9][a-z0-9._-]*)$")
# What the MCP SDK and the Inspector hand a server (plus the entry's env).
CLIENT_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
LOGIN = "/org/freedesktop/secrets/collection/login"
JSONRPC_SERVER_ERROR = -32000
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,  # the SDK's first id; falsy on purpose
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "mcpcred-e2e", "version": "0"},
    },
}

INTROSPECT_SERVER = '''\
"""An MCP server that reports how it was started (for the shim tests)."""
import json
import os
import sys

from mcp.server.mcpserver import MCPServer

server = MCPServer("introspect")


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            raw = handle.read()
    except OSError:
        return None
    return [part.decode("utf-8", "replace") for part in raw.split(b"\\0") if part]


@server.tool()
def introspect(variable: str) -> str:
    """argv, /proc command lines, environment, and the processes whose argv holds $variable."""
    value = os.environ.get(variable)
    holders = []
    if value:
        for entry in os.listdir("/proc"):
            argv = _cmdline(entry) if entry.isdigit() else None
            if argv and any(value in part for part in argv):
                holders.append({"pid": int(entry), "argv0": argv[0]})
    return json.dumps(
        {
            "pid": os.getpid(),
            "argv": sys.argv,
            "cmdline": _cmdline("self"),
            "parent_cmdline": _cmdline(os.getppid()),
            "environ": dict(os.environ),
            "argv_holding_value": holders,
        }
    )


if __name__ == "__main__":
    server.run()
'''


# -- fixtures and helpers ---------------------------------------------------------------


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mcpcred's data folder (backups, records, index) for this test only."""
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> random.Random:
    """Deterministic per test, different between tests."""
    return random.Random(request.node.nodeid)


@pytest.fixture
def token(rng: random.Random) -> str:
    """A fresh, real-format GitHub personal access token (valid checksum)."""
    return tokengen.generate("github-pat", rng)


@pytest.fixture
def introspect_py(tmp_path: Path) -> str:
    path = tmp_path / "introspect_server.py"
    path.write_text(INTROSPECT_SERVER)
    return str(path)


def mcpcred(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it (this test's environment)."""
    assert MCPCRED.is_file(), f"{MCPCRED} is missing: install the project into the venv"
    return subprocess.run(
        [str(MCPCRED), *args],
        cwd=cwd or os.getcwd(),
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def wrapped_ok(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = mcpcred(*args, cwd=cwd)
    assert done.returncode == 0, (
        f"mcpcred {' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    )
    return done


def claude_desktop_config(home: Path, servers: Mapping[str, Any]) -> Path:
    """``~/.config/Claude/claude_desktop_config.json`` (Linux) with unrelated keys around."""
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    document = {
        "preferences": {"quickEntryShortcut": "off", "menuBarEnabled": False},
        "mcpServers": dict(servers),
        "globalShortcut": "Alt+Space",
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


def secret_name(value: object) -> str:
    """The keychain name of a whole-value reference ``mcpcred:secret/NAME``."""
    match = REFERENCE.match(str(value))
    assert match, f"not a secret reference: {value!r}"
    return match.group(1)


def bus_without_guid(address: str) -> str:
    return ";".join(
        ",".join(p for p in part.split(",") if not p.startswith("guid="))
        for part in address.split(";")
    )


def assert_shim_entry(
    entry: Mapping[str, Any], server: str, client: str, original: list[str], bus: str
) -> None:
    """``<abs mcpcred> shim --server S --client C ... --dbus-address BUS ... -- ORIGINAL``."""
    command = entry["command"]
    assert command == str(MCPCRED), entry
    assert os.path.isabs(command) and os.access(command, os.X_OK)
    args = entry["args"]
    assert args[:5] == ["shim", "--server", server, "--client", client], args
    split = args.index("--")
    options = args[:split]
    assert options[options.index("--dbus-address") + 1] == bus_without_guid(bus), options
    assert args[split + 1 :] == original


def client_env() -> dict[str, str]:
    """What a scrubbing client (MCP SDK, Inspector) passes on from this environment."""
    return {k: os.environ[k] for k in CLIENT_VARS if k in os.environ}


def start_directly(
    entry: Mapping[str, Any], timeout: float = 30
) -> tuple[subprocess.CompletedProcess[str], float]:
    """Spawn a wrapped entry like a scrubbing client would, send ``initialize``, close stdin."""
    started = time.monotonic()
    done = subprocess.run(
        [entry["command"], *entry.get("args", [])],
        input=json.dumps(INITIALIZE) + "\n",
        env={**client_env(), **entry.get("env", {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return done, time.monotonic() - started


def jsonrpc_error(stdout: str) -> dict[str, Any]:
    """The one JSON-RPC message on stdout, which must answer ``initialize`` with an error."""
    lines = [line for line in stdout.splitlines() if line.strip()]
    assert len(lines) == 1, stdout
    message = json.loads(lines[0])
    assert message["jsonrpc"] == "2.0"
    assert message["id"] == INITIALIZE["id"] and message["id"] is not None, message
    assert "result" not in message, message
    error: dict[str, Any] = message["error"]
    assert error["code"] == JSONRPC_SERVER_ERROR, error
    return error


def server_env(text: str) -> dict[str, str]:
    env = json.loads(text)
    assert isinstance(env, dict), text
    return env


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def no_trace(value: str, *texts: str) -> None:
    for text in texts:
        assert value not in text
        assert value[:16] not in text  # no recognisable prefix either


# -- 1. Claude Desktop through the MCP Python SDK -----------------------------------------


def test_claude_desktop_wrap_moves_the_token_and_the_sdk_starts_the_server(
    keychain: dict[str, str], home: Path, data: Path, token: str, introspect_py: str
) -> None:
    everything = mcp_parts.everything_entry(
        {"GITHUB_PERSONAL_ACCESS_TOKEN": token, "PLAIN": "keep-me"}
    )
    introspect = {"command": sys.executable, "args": [introspect_py], "env": {"GH_TOKEN": token}}
    config = claude_desktop_config(home, {"everything": everything, "introspect": introspect})
    before = json.loads(config.read_text())

    done = wrapped_ok("wrap", "claude-desktop", "--yes")
    no_trace(token, done.stdout, done.stderr)

    text = config.read_text()
    no_trace(token, text)
    after = json.loads(text)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert {k: v for k, v in after.items() if k != "mcpServers"} == {
        k: v for k, v in before.items() if k != "mcpServers"
    }
    bus = keychain["DBUS_SESSION_BUS_ADDRESS"]
    wrapped = after["mcpServers"]["everything"]
    assert_shim_entry(wrapped, "everything", "claude-desktop", ["node", *everything["args"]], bus)
    assert wrapped["env"]["PLAIN"] == "keep-me"
    name = secret_name(wrapped["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"])
    other = after["mcpServers"]["introspect"]
    assert_shim_entry(other, "introspect", "claude-desktop", [sys.executable, introspect_py], bus)
    assert other["env"] == {"GH_TOKEN": f"mcpcred:secret/{name}"}  # one value, one secret
    assert f"'{name}'" in done.stderr

    # the keychain holds the value under the name the config references, and nothing else
    assert real_keychain.lookup(keychain, "mcpcred", name) == token
    # backups (and everything else mcpcred keeps) hold no secret, and only the user reads them
    backups = files_under(data / "backups")
    assert backups, f"no backup under {data}"
    for backup in backups:
        assert stat.S_IMODE(backup.stat().st_mode) == 0o600, backup
    for kept in files_under(data):
        no_trace(token, kept.read_text(errors="replace"))
    assert json.loads(backups[0].read_text())["mcpServers"]["everything"]["command"] == "node"

    listed = {
        row["name"]: row
        for row in json.loads(wrapped_ok("secret", "list", "--json").stdout)["secrets"]
    }
    assert set(listed) == {name}
    assert listed[name]["stored"] is True
    assert {(u["client"], u["server"]) for u in listed[name]["used_by"]} == {
        ("claude-desktop", "everything"),
        ("claude-desktop", "introspect"),
    }
    status = json.loads(wrapped_ok("status", "--json").stdout)
    rows = {row["server"]: row for row in status["servers"]}
    assert rows["everything"]["wrapped"] is True
    assert rows["everything"]["plaintext_secrets"] == 0
    assert rows["everything"]["credentials"] == [
        {"reference": f"mcpcred:secret/{name}", "state": "ok"}
    ]

    # the real SDK client (scrubbed environment, no bus variables) starts the wrapped server
    result = mcp_parts.sdk_call_tool(config, "everything", "get-env", timeout=30)
    assert result.ok, f"{result.error}\n{result.stderr[-2000:]}"
    seen = server_env(result.joined)
    assert seen["GITHUB_PERSONAL_ACCESS_TOKEN"] == token
    assert seen["PLAIN"] == "keep-me"
    assert not [k for k in seen if k.startswith("MCPCRED_")]
    assert "DBUS_SESSION_BUS_ADDRESS" not in seen  # the SDK really scrubbed it

    # the shim exec'd the server: its command line is the original one, its parent is the
    # client, and no process on the machine has the token on its command line
    probe = mcp_parts.sdk_call_tool(
        config, "introspect", "introspect", {"variable": "GH_TOKEN"}, timeout=30
    )
    assert probe.ok, f"{probe.error}\n{probe.stderr[-2000:]}"
    report = json.loads(probe.joined)
    assert report["environ"]["GH_TOKEN"] == token
    assert report["cmdline"] == [sys.executable, introspect_py]
    assert report["argv"] == [introspect_py]
    assert "shim" not in report["parent_cmdline"], report["parent_cmdline"]
    assert report["argv_holding_value"] == []
    assert not [k for k in report["environ"] if k.startswith("MCPCRED_")]


def test_the_shim_drops_its_own_variables_from_a_full_environment(
    keychain: dict[str, str], home: Path, data: Path, token: str, introspect_py: str
) -> None:
    """A client that passes its whole environment (Claude Code, Gemini) leaks no MCPCRED_*."""
    introspect = {"command": sys.executable, "args": [introspect_py], "env": {"GH_TOKEN": token}}
    config = claude_desktop_config(home, {"introspect": introspect})
    wrapped_ok("wrap", "claude-desktop", "--yes")
    entry = mcp_parts.read_entry(config, "introspect")
    assert "MCPCRED_DATA_DIR" in os.environ
    result = mcp_parts.sdk_call_tool_entry(
        {**entry, "env": {**os.environ, **entry["env"], "MCPCRED_DEBUG": "1"}},
        "introspect",
        {"variable": "GH_TOKEN"},
        timeout=30,
    )
    assert result.ok, f"{result.error}\n{result.stderr[-2000:]}"
    report = json.loads(result.joined)
    assert report["environ"]["GH_TOKEN"] == token
    assert not [k for k in report["environ"] if k.startswith("MCPCRED_")]
    assert report["environ"]["DBUS_SESSION_BUS_ADDRESS"] == keychain["DBUS_SESSION_BUS_ADDRESS"]


# -- 2. the same through the MCP Inspector CLI ----------------------------------------------


def test_inspector_starts_the_wrapped_server(
    keychain: dict[str, str], home: Path, data: Path, token: str
) -> None:
    config = claude_desktop_config(
        home,
        {"everything": mcp_parts.everything_entry({"GITHUB_PERSONAL_ACCESS_TOKEN": token})},
    )
    wrapped_ok("wrap", "claude-desktop", "--yes")
    no_trace(token, config.read_text())
    run = mcp_parts.inspector_call_tool(config, "everything", "get-env", timeout=60)
    assert run.returncode == 0, f"{run.stdout[-1000:]}\n{run.stderr[-2000:]}"
    assert not run.timed_out
    seen = server_env(run.text)
    assert seen["GITHUB_PERSONAL_ACCESS_TOKEN"] == token
    assert "DBUS_SESSION_BUS_ADDRESS" not in seen
    assert not [k for k in seen if k.startswith("MCPCRED_")]


# -- 3. VS Code: JSONC with comments, trailing commas and inputs ------------------------------

VSCODE_HEAD = """\
// Workspace MCP servers: checked in, so no secrets here please
{
  /* Values VS Code asks for
     when a server starts */
  "inputs": [
    {
      "type": "promptString",
      "id": "api-key",
      "description": "Example API key", // shown in the prompt
      "password": true,
    },
  ],
"""
VSCODE_SERVERS = """\
  "servers": {
    // the reference server
    "everything": {
      "type": "stdio",
      "command": "node",
      "args": [@ARGS@], // stdio transport
      "env": {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "@TOKEN@", // TODO: move to the keychain
        "FROM_INPUT": "${input:api-key}",
      },
    },
  },
"""
VSCODE_TAIL = """\
  // the end
}
"""


def test_vscode_jsonc_keeps_comments_and_inputs(
    keychain: dict[str, str], project: Path, data: Path, token: str
) -> None:
    js = mcp_parts.everything_js()
    servers = VSCODE_SERVERS.replace("@ARGS@", f'{json.dumps(js)}, "stdio"').replace(
        "@TOKEN@", token
    )
    original = VSCODE_HEAD + servers + VSCODE_TAIL
    config = project / ".vscode" / "mcp.json"
    config.parent.mkdir()
    config.write_text(original, encoding="utf-8")

    done = wrapped_ok("wrap", "vscode", "--yes", cwd=project)
    text = config.read_text(encoding="utf-8")
    no_trace(token, text, done.stderr)
    # everything outside the servers object is byte-for-byte what it was
    assert text.startswith(VSCODE_HEAD), text
    assert text.endswith(VSCODE_TAIL), text
    # and so are the comments inside it
    for comment in (
        "// the reference server",
        "// stdio transport",
        "// TODO: move to the keychain",
    ):
        assert text.count(comment) == 1, f"{comment!r} lost:\n{text}"
    entry = mcp_parts.read_entry(config, "everything", config_key="servers")
    assert entry["type"] == "stdio"
    assert_shim_entry(
        entry, "everything", "vscode", ["node", js, "stdio"], keychain["DBUS_SESSION_BUS_ADDRESS"]
    )
    assert entry["env"]["FROM_INPUT"] == "${input:api-key}"  # a VS Code variable, not a secret
    name = secret_name(entry["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"])
    assert real_keychain.lookup(keychain, "mcpcred", name) == token

    result = mcp_parts.sdk_call_tool(
        config, "everything", "get-env", config_key="servers", timeout=30
    )
    assert result.ok, f"{result.error}\n{result.stderr[-2000:]}"
    seen = server_env(result.joined)
    assert seen["GITHUB_PERSONAL_ACCESS_TOKEN"] == token
    assert seen["FROM_INPUT"] == "${input:api-key}"

    wrapped_ok("unwrap", "vscode", "--restore-secrets", "--yes", cwd=project)
    assert config.read_text(encoding="utf-8") == original


# -- 4. Codex: TOML, env_vars allow-list, startup timeout -------------------------------------


def test_codex_wrap_and_codex_starts_the_server(
    keychain: dict[str, str],
    tmp_path: Path,
    data: Path,
    rng: random.Random,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = tokengen.generate("openai-api-key", rng)
    codex_home = tmp_path / "codex-home"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    js = mcp_parts.everything_js()
    config = codex_home / "config.toml"
    config.write_text(
        "# Codex settings, written by hand\n"
        'model = "gpt-5-codex"\n'
        "\n"
        "[mcp_servers.everything]\n"
        "# the reference server\n"
        'command = "node"\n'
        f'args = [{json.dumps(js)}, "stdio"]\n'
        f'env = {{ OPENAI_API_KEY = "{token}" }}\n'
    )
    original = config.read_bytes()

    done = wrapped_ok("wrap", "codex", "--yes")
    text = config.read_text()
    no_trace(token, text, done.stderr)
    assert text.startswith('# Codex settings, written by hand\nmodel = "gpt-5-codex"\n'), text
    assert "# the reference server\n" in text
    parsed = tomllib.loads(text)
    assert parsed["model"] == "gpt-5-codex"
    entry = parsed["mcp_servers"]["everything"]
    assert_shim_entry(
        entry, "everything", "codex", ["node", js, "stdio"], keychain["DBUS_SESSION_BUS_ADDRESS"]
    )
    assert set(entry["env_vars"]) == {"DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"}
    assert entry["startup_timeout_sec"] >= 30
    name = secret_name(entry["env"]["OPENAI_API_KEY"])
    assert real_keychain.lookup(keychain, "mcpcred", name) == token

    # Codex itself still reads the file
    listed = subprocess.run(
        [mcp_parts.codex_bin(), "mcp", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    servers = json.loads(listed.stdout)
    assert [s["name"] for s in servers] == ["everything"], servers
    no_trace(token, listed.stdout)

    # and starts the wrapped server, which gets the token from the keychain
    response = mcp_parts.codex_call_tool(codex_home, "everything", "get-env", timeout=60)
    assert "result" in response, response
    seen = server_env(mcp_parts.content_text(response))
    assert seen["OPENAI_API_KEY"] == token
    assert not [k for k in seen if k.startswith("MCPCRED_")]
    # the bus reached the shim through the env_vars allow-list wrap added
    assert seen["DBUS_SESSION_BUS_ADDRESS"] == keychain["DBUS_SESSION_BUS_ADDRESS"]

    # without the bus variables in Codex's environment, the recorded --dbus-address serves
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS")
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    response = mcp_parts.codex_call_tool(codex_home, "everything", "get-env", timeout=60)
    assert "result" in response, response
    seen = server_env(mcp_parts.content_text(response))
    assert seen["OPENAI_API_KEY"] == token
    assert "DBUS_SESSION_BUS_ADDRESS" not in seen
    for variable, value in keychain.items():
        monkeypatch.setenv(variable, value)

    wrapped_ok("unwrap", "codex", "--restore-secrets", "--yes")
    assert config.read_bytes() == original


# -- 5. a secret missing at spawn time --------------------------------------------------------


def test_a_missing_secret_fails_fast_with_the_fix_in_the_client(
    keychain: dict[str, str], home: Path, data: Path, token: str
) -> None:
    config = claude_desktop_config(
        home,
        {"everything": mcp_parts.everything_entry({"GITHUB_PERSONAL_ACCESS_TOKEN": token})},
    )
    wrapped_ok("wrap", "claude-desktop", "--yes")
    entry = mcp_parts.read_entry(config, "everything")
    name = secret_name(entry["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"])
    removed = wrapped_ok("secret", "rm", name, "--yes")
    assert f"removed secret '{name}'" in removed.stderr
    assert real_keychain.lookup(keychain, "mcpcred", name) is None
    checked = mcpcred("status", "--json")
    assert checked.returncode == 1, checked.stderr  # a wrapped server's secret is missing
    status = json.loads(checked.stdout)
    assert status["servers"][0]["credentials"] == [
        {"reference": f"mcpcred:secret/{name}", "state": "missing"}
    ]
    assert status["ok"] is False
    assert status["unresolved"] == [
        {
            "client": "claude-desktop",
            "server": "everything",
            "reference": f"mcpcred:secret/{name}",
            "state": "missing",
        }
    ]
    fix = f"mcpcred secret set {name}"

    # through the SDK client: a quick, explained failure, not a hang
    started = time.monotonic()
    result = mcp_parts.sdk_call_tool(config, "everything", "get-env", timeout=25)
    elapsed = time.monotonic() - started
    assert not result.ok and not result.timed_out, result
    assert "TimeoutError" not in (result.error or ""), result.error
    assert elapsed < 15, f"the client waited {elapsed:.1f}s"
    assert fix in (result.error or ""), f"{result.error}\n{result.stderr[-2000:]}"
    # (the MCP Inspector shows the same answer)
    run = mcp_parts.inspector_call_tool(config, "everything", "get-env", timeout=30)
    assert run.returncode == 1 and not run.timed_out, run
    answers = [
        json.loads(line)
        for line in (run.stdout + "\n" + run.stderr).splitlines()
        if line.startswith('{"error"')
    ]  # (this Inspector version prints its JSON error on stderr)
    assert [a["error"]["message"] for a in answers if fix in a["error"]["message"]], run

    # directly: one JSON-RPC error answering initialize, one stderr line, a failing exit
    done, elapsed = start_directly(entry)
    assert elapsed < 10, f"the shim took {elapsed:.1f}s"
    assert done.returncode != 0
    error = jsonrpc_error(done.stdout)
    assert f"'{name}'" in error["message"] and fix in error["message"], error
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert fix in lines[0]


# -- 6. a second wrap changes nothing -------------------------------------------------------


def test_wrapping_twice_changes_nothing(
    keychain: dict[str, str], home: Path, data: Path, token: str
) -> None:
    config = claude_desktop_config(
        home,
        {"everything": mcp_parts.everything_entry({"GITHUB_PERSONAL_ACCESS_TOKEN": token})},
    )
    wrapped_ok("wrap", "claude-desktop", "--yes")
    first = config.read_bytes()
    backups = files_under(data / "backups")
    secrets_before = json.loads(wrapped_ok("secret", "list", "--json").stdout)

    again = wrapped_ok("wrap", "claude-desktop", "--yes")
    assert "nothing to change" in again.stderr, again.stderr
    assert "already wrapped" in again.stderr
    assert config.read_bytes() == first
    assert files_under(data / "backups") == backups  # no new backup for a no-op
    assert json.loads(wrapped_ok("secret", "list", "--json").stdout) == secrets_before
    dry = wrapped_ok("wrap", "claude-desktop", "--dry-run")
    assert "nothing to change" in dry.stderr
    assert config.read_bytes() == first


# -- 7. unwrap ------------------------------------------------------------------------------


def test_unwrap_keeps_a_server_with_references_and_restore_secrets_gives_the_bytes(
    keychain: dict[str, str], home: Path, data: Path, token: str
) -> None:
    everything = mcp_parts.everything_entry(
        {"GITHUB_PERSONAL_ACCESS_TOKEN": token, "PLAIN": "keep-me"}
    )
    config = claude_desktop_config(home, {"everything": everything})
    original = config.read_bytes()

    wrapped_ok("wrap", "claude-desktop", "--yes")
    name = secret_name(
        mcp_parts.read_entry(config, "everything")["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"]
    )

    wrapped = config.read_bytes()
    kept = wrapped_ok("unwrap", "claude-desktop", "--yes")
    # started directly it would get "mcpcred:secret/NAME" as its token: it stays wrapped
    assert "everything: STAYS WRAPPED" in kept.stderr, kept.stderr
    assert config.read_bytes() == wrapped
    entry = mcp_parts.read_entry(config, "everything")
    assert entry["args"][0] == "shim"
    assert entry["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": f"mcpcred:secret/{name}",
        "PLAIN": "keep-me",
    }
    no_trace(token, config.read_text())
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    wrapped_ok("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert config.read_bytes() == original
    assert stat.S_IMODE(config.stat().st_mode) == 0o600

    # wrap again (the stored value is reused), then undo it all in one step
    rewrap = wrapped_ok("wrap", "claude-desktop", "--yes")
    assert f"reused secret '{name}'" in rewrap.stderr, rewrap.stderr
    wrapped_ok("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert config.read_bytes() == original
    # the server starts directly again and gets the token from the file
    result = mcp_parts.sdk_call_tool(config, "everything", "get-env", timeout=30)
    assert result.ok, result.error
    assert server_env(result.joined)["GITHUB_PERSONAL_ACCESS_TOKEN"] == token


# -- 8. a locked keychain -------------------------------------------------------------------


@pytest.fixture
def own_keychain(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A private Secret Service for a test that locks it (the shared one stays unlocked)."""
    with real_keychain.real_secret_service() as env, monkeypatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        patch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
        patch.delenv("MCPCRED_ALLOW_INSECURE_KEYRING", raising=False)
        yield env


def lock_login_collection(address: str) -> None:
    from jeepney import DBusAddress, new_method_call  # type: ignore[import-untyped]
    from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

    target = DBusAddress(
        "/org/freedesktop/secrets",
        bus_name="org.freedesktop.secrets",
        interface="org.freedesktop.Secret.Service",
    )
    with open_dbus_connection(bus=address) as conn:
        reply = conn.send_and_get_reply(
            new_method_call(target, "Lock", "ao", ([LOGIN],)), timeout=5
        )
    assert reply.header.message_type.name == "method_return", reply.body
    locked, _prompt = reply.body
    assert LOGIN in locked, reply.body


def test_a_locked_keychain_fails_fast_with_a_jsonrpc_error(
    own_keychain: dict[str, str], home: Path, data: Path, token: str
) -> None:
    config = claude_desktop_config(
        home,
        {"everything": mcp_parts.everything_entry({"GITHUB_PERSONAL_ACCESS_TOKEN": token})},
    )
    wrapped_ok("wrap", "claude-desktop", "--yes")
    entry = mcp_parts.read_entry(config, "everything")
    name = secret_name(entry["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"])
    assert real_keychain.lookup(own_keychain, "mcpcred", name) == token

    lock_login_collection(own_keychain["DBUS_SESSION_BUS_ADDRESS"])
    done, elapsed = start_directly(entry)
    assert elapsed < 5, f"the shim took {elapsed:.1f}s on a locked keychain"
    assert done.returncode != 0
    error = jsonrpc_error(done.stdout)
    assert "locked" in error["message"] and f"'{name}'" in error["message"], error
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "locked" in lines[0], done.stderr
    no_trace(token, done.stdout, done.stderr)

    # and the SDK client shows it too
    result = mcp_parts.sdk_call_tool(config, "everything", "get-env", timeout=25)
    assert not result.ok and not result.timed_out, result
    assert "locked" in (result.error or ""), f"{result.error}\n{result.stderr[-2000:]}"
