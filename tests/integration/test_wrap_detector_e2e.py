"""The detector and wrap together, per client format, through the installed CLI.

audit-config's detector decides what ``wrap`` moves (``Auditor.secret_hits``), and
the shim must hand the server exactly what the file held. For each format (JSON:
Claude Desktop, Cursor, Gemini CLI; JSONC: VS Code, Zed; TOML: Codex) one config
holds the hard cases at once:

- passwords with ``$`` in them (``Kq$vZ2$xP9mN4``), alone, in a URL, in
  ``docker -e``/``--env``/``--env=`` arguments and inside a JSON string argument;
- URL passwords with unencoded ``#``, ``?``, ``/`` and ``@`` (libpq, SQLAlchemy and
  redis-py read them up to the host's ``@``);
- bare positional keys (``mcp-server-neon start napi_...``, a random key after a
  package name) and a composite Twilio ``SK...:secret`` pair.

Each wrapped server is started the way the MCP SDK and the Inspector start one
(only HOME LOGNAME PATH SHELL TERM USER plus the entry's env; Codex: plus the
``env_vars`` it passes) and must receive the same argv and variables as the
original entry did. Then every file mcpcred wrote must pass audit-config with no
secret finding, and ``unwrap --restore-secrets`` must give the file back byte for
byte. The server is a small script printing its argv and environment; "docker"
is a stand-in on PATH that reads ``-e NAME`` from its environment as Docker does.
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

pytestmark = pytest.mark.slow

MCPCRED = Path(sys.executable).parent / "mcpcred"
CLIENT_VARS = ("HOME", "LOGNAME", "PATH", "SHELL", "TERM", "USER")
DOLLAR = "Kq$vZ2$xP9mN4"
SERVER = """\
import json, os, sys
print(json.dumps({"argv": sys.argv[1:], "env": dict(os.environ)}))
"""
DOCKER = """\
import json, os, sys
args, env, i = sys.argv[1:], {}, 0
while i < len(args):
    if args[i] in ("-e", "--env"):
        spec, i = args[i + 1], i + 2
    elif args[i].startswith("--env="):
        spec, i = args[i][6:], i + 1
    else:
        i += 1
        continue
    name, eq, value = spec.partition("=")
    env[name] = value if eq else os.environ.get(name, "<unset>")
print(json.dumps({"argv": args, "env": env}))
"""


def _servers(script: str) -> dict[str, tuple[str, list[str], dict[str, str]]]:
    rng = random.Random(12)
    neon = "napi_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(64))
    sid = tokengen.generate("twilio-api-key", rng)
    return {
        "pgurl": ("python3", [script, f"postgresql://app:{DOLLAR}@db.internal:5432/app"], {}),
        "pgenv": ("python3", [script], {"DB_PASSWORD": DOLLAR}),
        "leading": ("python3", [script], {"PGPASSWORD": "$Kq9vZ2xP9mN4"}),
        "urls": (
            "python3",
            [script],
            {
                "DATABASE_URL": "postgresql://app:p#ss?w/rd@x@db.internal:5432/app",
                "REDIS_URL": "redis://:Zt9#q?r/s@w@redis.internal:6379/0",
            },
        ),
        "sqla": ("python3", [script, "--db", "mysql+pymysql://root:h7$Gq#2?x/9@my.internal/s"], {}),
        "neon": ("python3", [script, "-y", "@neondatabase/mcp-server-neon", "start", neon], {}),
        "bare": ("python3", [script, "-y", "@acme/mcp-server-thing", "Xk29fPq7LmZ3vB8nR4tY6wE1sD"], {}),
        "docker": (
            "docker",
            ["run", "-i", "--rm", "-e", f"DB_PASSWORD={DOLLAR}", "--env",
             "DATABASE_URL=postgresql://app:p#ss?w/rd@x@db.internal/app",
             "--env=API_TOKEN=R8f$kLm2#Qp9zW", "-e", "PLAIN=1", "mcp/postgres"],
            {},
        ),
        "jsonarg": ("python3", [script, "--config", json.dumps({"password": DOLLAR, "h": "db"})], {}),
        "twilio": ("python3", [script], {"TWILIO_API_KEY": f"{sid}:Tq7$wXz9#kLmN2pQ4rS6tU8vW0xY"}),
    }  # fmt: skip


SECRETS = [
    DOLLAR, "$Kq9vZ2xP9mN4", "p#ss?w/rd@x", "Zt9#q?r/s@w", "h7$Gq#2?x/9", "napi_", "Xk29fPq7LmZ3vB8nR4tY6wE1sD",
    "R8f$kLm2#Qp9zW", "Tq7$wXz9#kLmN2pQ4rS6tU8vW0xY",
]  # fmt: skip


def _write(
    client: str, home: Path, servers: dict[str, tuple[str, list[str], dict[str, str]]]
) -> Path:
    if client == "codex":
        path = home / ".codex" / "config.toml"
        lines = ["# codex", 'model = "o3"', ""]
        for name, (command, args, env) in servers.items():
            lines += [f"[mcp_servers.{name}]", f"command = {json.dumps(command)}"]
            lines.append("args = [" + ", ".join(json.dumps(a) for a in args) + "]")
            if env:
                pairs = ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items())
                lines.append(f"env = {{ {pairs} }}")
            lines.append("")
        text = "\n".join(lines)
    elif client in ("vscode", "zed"):
        path = (
            home / ".config" / ("Code/User/mcp.json" if client == "vscode" else "zed/settings.json")
        )
        key = "servers" if client == "vscode" else "context_servers"
        lines = ["// servers", "{", f'  "{key}": {{']
        for name, (command, args, env) in servers.items():
            body: dict[str, Any] = {"type": "stdio"} if client == "vscode" else {}
            body.update({"command": command, "args": args, **({"env": env} if env else {})})
            if client == "zed" and name == "pgenv":  # Zed's legacy shape
                body = {"command": {"path": command, "args": args, "env": env}}
            lines.append(f"    {json.dumps(name)}: {json.dumps(body)},  // {name}")
        lines += ["  },", "}", ""]
        text = "\n".join(lines)
    else:
        path = (
            home
            / {
                "claude-desktop": ".config/Claude/claude_desktop_config.json",
                "cursor": ".cursor/mcp.json",
                "gemini-cli": ".gemini/settings.json",
            }[client]
        )
        entries = {
            name: {"command": command, "args": args, **({"env": env} if env else {})}
            for name, (command, args, env) in servers.items()
        }
        text = json.dumps({"mcpServers": entries}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return path


def _entries(client: str, path: Path) -> dict[str, dict[str, Any]]:
    text = path.read_text()
    if client == "codex":
        servers: dict[str, dict[str, Any]] = tomllib.loads(text)["mcp_servers"]
        return servers
    lines = [line.split("  //")[0] for line in text.splitlines() if not line.startswith("//")]
    cleaned = "\n".join(lines).replace(",\n  }", "\n  }").replace("},\n}", "}\n}")
    data = json.loads(cleaned)
    key = {"vscode": "servers", "zed": "context_servers"}.get(client, "mcpServers")
    return {
        name: (
            {**entry["command"], "command": entry["command"]["path"]}
            if isinstance(entry.get("command"), dict)
            else entry
        )
        for name, entry in data[key].items()
    }


def _start_all(client: str, path: Path, bin_dir: Path) -> dict[str, Any]:
    """Start every entry as a client does; what each server received."""
    seen: dict[str, Any] = {}
    for name, entry in _entries(client, path).items():
        env = {k: os.environ[k] for k in CLIENT_VARS if k in os.environ}
        env["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
        for variable in entry.get("env_vars", []):  # Codex passes only these
            if variable in os.environ:
                env[variable] = os.environ[variable]
        own = entry.get("env", {})
        env.update(own)
        done = subprocess.run(
            [entry["command"], *entry.get("args", [])],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{name}: {done.stderr}"
        report = json.loads(done.stdout)
        wanted = {
            "DB_PASSWORD",
            "DATABASE_URL",
            "REDIS_URL",
            "API_TOKEN",
            "PLAIN",
            "TWILIO_API_KEY",
        }
        seen[name] = {
            # docker's -e NAME=secret becomes -e NAME by design: the container's env counts
            "argv": None if name == "docker" else report["argv"],
            "env": {k: v for k, v in report["env"].items() if k in wanted},
        }
    return seen


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MCPCRED), *args], env=dict(os.environ), capture_output=True, text=True,
        timeout=120, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "client", ["claude-desktop", "cursor", "gemini-cli", "vscode", "zed", "codex"]
)
def test_hard_credentials_move_and_reach_the_server_unchanged(
    client: str, keychain: dict[str, str], home: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    docker = bin_dir / "docker"
    docker.write_text(f"#!{sys.executable}\n{DOCKER}")
    docker.chmod(0o755)
    path = _write(client, home, _servers(str(script)))
    original = path.read_bytes()
    before = _start_all(client, path, bin_dir)

    audit = _cli("audit-config", "--format", "json", str(path))
    found = json.loads(audit.stdout)["findings"]
    flagged = {f["server"] for f in found if f["rule"].startswith("secret/")}
    assert flagged == set(before), audit.stdout

    wrapped = _cli("wrap", client, "--yes")
    assert wrapped.returncode == 0, wrapped.stderr
    text = path.read_text()
    for secret in SECRETS:
        assert secret not in text and json.dumps(secret)[1:-1] not in text, secret
        assert secret not in wrapped.stderr
    assert _start_all(client, path, bin_dir) == before

    data = home / ".local" / "share" / "mcpcred"
    written = [p for p in data.rglob("*") if p.is_file()]
    for file in written:
        for secret in SECRETS:
            assert secret not in file.read_text(), (file, secret)
    audit = _cli("audit-config", "--format", "json", str(path), str(data))
    report = json.loads(audit.stdout)
    assert report["summary"]["files"] == 2, report["files"]  # the config and its backup
    assert [f for f in report["findings"] if f["rule"].startswith("secret/")] == []
    # named one by one, the records and the secret index are read too
    assert (data / "wrapped.json").is_file()  # docker's -e split is recorded
    audit = _cli("audit-config", "--format", "json", *map(str, written))
    report = json.loads(audit.stdout)
    assert report["summary"]["files"] == len(written) and report["summary"]["parse_errors"] == 0
    assert [f for f in report["findings"] if f["rule"].startswith("secret/")] == []

    back = _cli("unwrap", client, "--restore-secrets", "--yes")
    assert back.returncode == 0, back.stderr
    assert path.read_bytes() == original
    assert _start_all(client, path, bin_dir) == before


def test_json_in_a_string_argument_moves_every_credential_as_written(
    keychain: dict[str, str], home: Path, tmp_path: Path
) -> None:
    """A JSON document passed as one argument: a repeated key's hidden password, a
    password that is also the start of an earlier value, and one with an escaped quote
    all move, and the server gets the argument exactly as before."""
    script = tmp_path / "server.py"
    script.write_text(SERVER)
    repeated = '{"password": "Rq8$vZ2#xP9mN4", "password": "x"}'
    prefix = '{"user": "Kq$vZ2$xP9mN4-ops", "password": "Kq$vZ2$xP9mN4"}'
    escaped = '{"password": "Tq7\\"wX$z9#kLm2"}'
    servers = {
        name: ("python3", [str(script), "--config", document], {})
        for name, document in (("repeated", repeated), ("prefix", prefix), ("escaped", escaped))
    }
    path = _write("claude-desktop", home, servers)
    original = path.read_bytes()
    before = _start_all("claude-desktop", path, tmp_path)

    wrapped = _cli("wrap", "claude-desktop", "--yes")
    assert wrapped.returncode == 0, wrapped.stderr
    args = {name: entry["args"][-1] for name, entry in _entries("claude-desktop", path).items()}
    assert "Rq8$vZ2#xP9mN4" not in args["repeated"]
    # the password is found where it is, not inside the longer value before it
    assert args["prefix"] == (
        '{"user": "Kq$vZ2$xP9mN4-ops", "password": "{{mcpcred:secret/prefix-config}}"}'
    )
    assert "kLm2" not in args["escaped"]
    assert _start_all("claude-desktop", path, tmp_path) == before
    audit = _cli("audit-config", "--format", "json", str(path))
    assert [
        f for f in json.loads(audit.stdout)["findings"] if f["rule"].startswith("secret/")
    ] == []

    back = _cli("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert back.returncode == 0, back.stderr
    assert path.read_bytes() == original
