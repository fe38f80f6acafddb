"""opencode, Amp, Continue's ``cn``, Copilot CLI and Cline, run for real, start a wrapped server.

All five run headless here (the reference's probes): ``opencode mcp list`` and
``amp mcp doctor`` (any ``AMP_API_KEY``, offline) start every configured stdio
server and report it connected; ``cn -p``, ``copilot -p`` (offline, its
documented bring-your-own-model mode) and ``cline "prompt"`` start them for a
prompt, answered by a
fake OpenAI-compatible model on loopback that records the tools it was offered
(Continue's config is YAML: this is the real check of that adapter). The server here is the MCP Python SDK's, which
writes the token it received to a file when it starts: after ``mcpcred wrap``
the file holds no token, the client still connects, and the token the server
got is the one now in the real keychain (gnome-keyring). ``unwrap
--restore-secrets`` gives the file back byte for byte. ``scripts/test`` installs
the clients from npm and sets ``MCPCRED_REAL_CLIENTS``.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run
from tests.support.fake_openai import FakeOpenAI
from tests.support.remote_servers import free_port

pytestmark = pytest.mark.slow

DEFAULT_CLIENTS = (
    Path(__file__).resolve().parents[2] / ".cache" / "real-clients" / "node_modules" / ".bin"
)
SERVER = """\
import os, sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer

Path(sys.argv[1]).write_text(os.environ.get("NOTES_TOKEN", "<unset>"), encoding="utf-8")
app = MCPServer("tiny")


@app.tool()
def echo(text: str) -> str:
    \"\"\"Echo the text.\"\"\"
    return text


app.run("stdio")
"""


def _bin(name: str) -> str:
    directory = os.environ.get("MCPCRED_REAL_CLIENTS") or str(DEFAULT_CLIENTS)
    path = Path(directory) / name
    if not path.exists():
        pytest.fail(
            f"real client '{name}' is not installed: run ./scripts/test, which installs it from npm "
            "and sets MCPCRED_REAL_CLIENTS"
        )
    return str(path)


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def server(tmp_path: Path) -> tuple[list[str], Path]:
    """The server's argv and the file it writes the token it received to."""
    script = tmp_path / "tiny_server.py"
    script.write_text(SERVER, encoding="utf-8")
    seen = tmp_path / "seen-token"
    return [sys.executable, str(script), str(seen)], seen


def _client(argv: list[str], home: Path, cwd: Path, extra: dict[str, str]) -> str:
    """Run a client with only what it needs: HOME, PATH, the keychain's bus, ``extra``."""
    keep = ("PATH", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "MCPCRED_DATA_DIR", "LANG")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update({"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), **extra})
    done = subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-2000:]
    return done.stdout + done.stderr


def _stored(keychain: dict[str, str], reference: str) -> str | None:
    return real_keychain.lookup(keychain, "mcpcred", reference.removeprefix("mcpcred:secret/"))


def test_opencode_starts_the_wrapped_server_with_the_token_from_the_keychain(
    keychain: dict[str, str], home: Path, project: Path, data: Path, server: tuple[list[str], Path]
) -> None:
    argv, seen = server
    token = tokengen.generate("github-pat", random.Random("opencode"))
    config = home / ".config" / "opencode" / "opencode.jsonc"
    config.parent.mkdir(parents=True)
    config.write_text(
        "{\n"
        '  "$schema": "https://opencode.ai/config.json",\n'
        "  // one local server, its token pasted in\n"
        '  "mcp": {\n'
        '    "tiny": {\n'
        '      "type": "local",\n'
        f'      "command": {json.dumps(argv)},\n'
        f'      "environment": {{ "NOTES_TOKEN": "{token}" }},\n'
        '      "enabled": true,\n'
        "    },\n"
        "  },\n"
        "}\n",
        encoding="utf-8",
    )
    original = config.read_bytes()
    (project / ".git").mkdir()  # opencode looks for project files up to the worktree root

    wrapped = run("wrap", "opencode", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    text = config.read_text(encoding="utf-8")
    assert token not in text and token not in wrapped.stdout + wrapped.stderr
    assert "// one local server, its token pasted in" in text
    entry = next(e for e in _entries(text) if e[0] == "tiny")[1]
    assert entry["command"][1:6] == ["shim", "--server", "tiny", "--client", "opencode"]
    assert entry["command"][-3:] == argv  # one argv array: the old one after `--`
    assert _stored(keychain, entry["environment"]["NOTES_TOKEN"]) == token

    out = _client([_bin("opencode"), "mcp", "list"], home, project, {})
    assert "tiny" in out and "connected" in out, out
    assert seen.read_text(encoding="utf-8") == token  # from the keychain, through the shim

    undone = run("unwrap", "opencode", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert config.read_bytes() == original


def test_amp_starts_the_wrapped_server_with_the_token_from_the_keychain(
    keychain: dict[str, str], home: Path, project: Path, data: Path, server: tuple[list[str], Path]
) -> None:
    argv, seen = server
    token = tokengen.generate("slack-bot-token", random.Random("amp"))
    config = home / ".config" / "amp" / "settings.json"
    config.parent.mkdir(parents=True)
    config.write_text(
        "{\n"
        "  // Amp's settings: the servers sit under one dotted key\n"
        '  "amp.mcpServers": {\n'
        f'    "tiny": {{ "command": {json.dumps(argv[0])}, "args": {json.dumps(argv[1:])},\n'
        f'              "env": {{ "NOTES_TOKEN": "{token}" }} }},\n'
        "  },\n"
        "}\n",
        encoding="utf-8",
    )
    original = config.read_bytes()

    wrapped = run("wrap", "amp", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    text = config.read_text(encoding="utf-8")
    assert token not in text and token not in wrapped.stdout + wrapped.stderr
    assert "// Amp's settings: the servers sit under one dotted key" in text

    out = _client([_bin("amp"), "mcp", "doctor"], home, project, {"AMP_API_KEY": "sgamp_not_a_key"})
    assert "tiny" in out and "connected" in out, out
    assert seen.read_text(encoding="utf-8") == token

    undone = run("unwrap", "amp", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert config.read_bytes() == original


def test_continue_cn_starts_the_wrapped_server_from_its_yaml_config(
    keychain: dict[str, str], home: Path, project: Path, data: Path, server: tuple[list[str], Path]
) -> None:
    argv, seen = server
    token = tokengen.generate("notion-token", random.Random("continue"))
    config = home / ".continue" / "config.yaml"
    config.parent.mkdir(parents=True)
    with FakeOpenAI() as model:
        config.write_text(
            "name: probe\n"
            "version: 0.0.1\n"
            "schema: v1\n"
            "models:\n"
            "  - name: fake\n"
            "    provider: openai\n"
            "    model: fake-model\n"
            f"    apiBase: {model.base_url}\n"
            "    apiKey: not-a-key\n"
            "# MCP servers, used in agent mode\n"
            "mcpServers:\n"
            "  - name: tiny\n"
            f"    command: {argv[0]}\n"
            f"    args: [{argv[1]}, {argv[2]}]\n"
            "    env:\n"
            f"      NOTES_TOKEN: {token}  # pasted\n",
            encoding="utf-8",
        )
        original = config.read_bytes()

        wrapped = run("wrap", "continue", "--yes")
        assert wrapped.code == 0, wrapped.stderr
        text = config.read_text(encoding="utf-8")
        assert token not in text and token not in wrapped.stdout + wrapped.stderr
        assert "# MCP servers, used in agent mode\n" in text and "  # pasted\n" in text
        assert f"    apiBase: {model.base_url}\n" in text  # the rest of the file as it was

        out = _client([_bin("cn"), "-p", "say hi"], home, project, {})
        assert "hi" in out
        assert "echo" in model.tools  # cn started the server and offered its tool
        assert seen.read_text(encoding="utf-8") == token

    undone = run("unwrap", "continue", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert config.read_bytes() == original


def test_copilot_cli_starts_the_wrapped_server_with_the_token_from_the_keychain(
    keychain: dict[str, str],
    home: Path,
    project: Path,
    data: Path,
    server: tuple[list[str], Path],
    tmp_path: Path,
) -> None:
    argv, seen = server
    token = tokengen.generate("openai-api-key", random.Random("copilot"))
    config = home / ".copilot" / "mcp-config.json"
    config.parent.mkdir(parents=True)
    entry = {
        "type": "local",
        "command": argv[0],
        "args": argv[1:],
        "env": {"NOTES_TOKEN": token},
        "tools": ["*"],
    }
    config.write_text(json.dumps({"mcpServers": {"tiny": entry}}, indent=2) + "\n")
    original = config.read_bytes()

    wrapped = run("wrap", "copilot-cli", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    text = config.read_text(encoding="utf-8")
    assert token not in text and token not in wrapped.stdout + wrapped.stderr
    assert json.loads(text)["mcpServers"]["tiny"]["tools"] == ["*"]

    with FakeOpenAI() as model:
        offline = {
            "COPILOT_OFFLINE": "true",
            "COPILOT_PROVIDER_BASE_URL": model.base_url,
            "COPILOT_MODEL": "fake-model",
            # Copilot unpacks its runtime (~235 MB) into the cache on the first run
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        }
        out = _client(
            [_bin("copilot"), "-p", "say hi", "--allow-all-tools"], home, project, offline
        )
        assert "hi" in out
        assert "tiny-echo" in model.tools  # Copilot started the server and offered its tool
    assert seen.read_text(encoding="utf-8") == token

    undone = run("unwrap", "copilot-cli", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert config.read_bytes() == original


def test_cline_cli_starts_the_wrapped_server_through_its_own_hub_daemon(
    keychain: dict[str, str], home: Path, project: Path, data: Path, server: tuple[list[str], Path]
) -> None:
    """Cline runs every session in a hub daemon that outlives the command.

    The daemon listens on a fixed port (25463) unless ``CLINE_HUB_PORT`` names
    another, keeps its discovery file under ``~/.cline/data/locks/hub`` and
    starts MCP servers with the environment of the ``cline`` that spawned it. A
    private HOME and a free port give this test a daemon of its own (a parallel
    run, or a user's Cline, is never reached), and ``cline hub stop`` ends it.
    """
    argv, seen = server
    token = tokengen.generate("linear-api-key", random.Random("cline"))
    config = home / ".cline" / "data" / "settings" / "cline_mcp_settings.json"
    config.parent.mkdir(parents=True)
    transport = {
        "type": "stdio",
        "command": argv[0],
        "args": argv[1:],
        "env": {"NOTES_TOKEN": token},
    }
    # the nested shape `cline mcp add` writes, without a `timeout`: Cline then gives a stdio
    # server 3 s to connect and drops it silently, too short for a shim that may wait for a
    # keychain (or a loaded CI machine), so wrap adds one
    config.write_text(json.dumps({"mcpServers": {"tiny": {"transport": transport}}}, indent=2))
    original = config.read_bytes()

    wrapped = run("wrap", "cline", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    text = config.read_text(encoding="utf-8")
    assert token not in text and token not in wrapped.stdout + wrapped.stderr
    entry = json.loads(text)["mcpServers"]["tiny"]
    assert entry["transport"]["args"][:5] == ["shim", "--server", "tiny", "--client", "cline"]
    assert entry["timeout"] == 60

    hub = {"CLINE_HUB_PORT": str(free_port())}
    cline = os.environ.get("MCPCRED_CLINE") or ""
    if not Path(cline).is_file():
        pytest.fail(
            "Cline's CLI is not installed: run ./scripts/test, which installs it and sets MCPCRED_CLINE"
        )
    try:
        with FakeOpenAI() as model:
            _client(
                [cline, "auth", "-p", "openai", "-k", "not-a-key", "-m", "fake-model",
                 "-b", model.base_url],
                home, project, hub,
            )  # fmt: skip
            out = _client([cline, "say hi"], home, project, hub)
            assert "hi" in out
            assert "tiny__echo" in model.tools  # the daemon started the server, offered its tool
        assert seen.read_text(encoding="utf-8") == token
    finally:
        _stop_cline_hub(cline, home, project, hub)

    undone = run("unwrap", "cline", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert config.read_bytes() == original


def test_a_wrapped_crushrc_starts_the_server_with_the_token_from_the_keychain(
    keychain: dict[str, str], home: Path, project: Path, data: Path, server: tuple[list[str], Path]
) -> None:
    """Crush does not install here (its npm package downloads the binary from GitHub), so
    this does what Crush does with a crushrc: Bash runs the script, each ``mcp add`` call's
    flags make the server (``--args`` in order, ``--env K V``), and the server starts with
    Crush's environment plus its ``env``. The server must get its token from the keychain."""
    argv, seen = server
    rng = random.Random("crushrc")
    token = tokengen.generate("github-pat", rng)
    provider_key = tokengen.generate("openai-api-key", rng)
    script = home / ".config" / "crush" / "crushrc"
    script.parent.mkdir(parents=True)
    script.write_text(
        "# Crush's config\n"
        f"provider add openai --type openai --api-key {provider_key}\n"
        "mcp add tiny \\\n"
        f"  --command {argv[0]} \\\n"
        f"  --args {argv[1]} --args {argv[2]} \\\n"
        f'  --env NOTES_TOKEN "{token}"  # pasted\n',
        encoding="utf-8",
    )
    original = script.read_bytes()

    wrapped = run("wrap", "crush", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    assert token not in script.read_text(encoding="utf-8")
    assert "credentials Crush needs itself stay in the file" in wrapped.stdout + wrapped.stderr
    assert provider_key in script.read_text(encoding="utf-8")  # Crush's own, left and said so

    calls = _bash_calls(script, "mcp")
    assert len(calls) == 1 and calls[0][:2] == ["add", "tiny"]
    command, args, env = _crush_stdio(calls[0][2:])
    assert args[:5] == ["shim", "--server", "tiny", "--client", "crush"]
    assert _stored(keychain, env["NOTES_TOKEN"]) == token
    keep = ("PATH", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "MCPCRED_DATA_DIR", "LANG")
    crush_env = {k: os.environ[k] for k in keep if k in os.environ}
    done = subprocess.run(
        [command, *args],
        env={**crush_env, "HOME": str(home), **env},  # Crush: os.Environ() + env
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert seen.read_text(encoding="utf-8") == token

    undone = run("unwrap", "crush", "--restore-secrets", "--yes")
    assert undone.code == 0, undone.stderr
    assert script.read_bytes() == original


def _bash_calls(script: Path, builtin: str) -> list[list[str]]:
    """The arguments of each call of one of Crush's builtins, as real Bash passes them."""
    prelude = (
        f'{builtin}() {{ printf "%s\\0" "$@"; printf "\\n"; }}\nprovider() {{ :; }}\nsource "$1"\n'
    )
    done = subprocess.run(
        ["bash", "-c", prelude, "bash", str(script)],
        capture_output=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(script.parent)},
    )
    calls = [line for line in done.stdout.split(b"\n") if line]
    return [[word.decode() for word in call.split(b"\0")[:-1]] for call in calls]


def _crush_stdio(flags: list[str]) -> tuple[str, list[str], dict[str, str]]:
    """Command, args and env of an ``mcp add``'s flags, by Crush's rules."""
    command = ""
    args: list[str] = []
    env: dict[str, str] = {}
    i = 0
    while i < len(flags):
        if flags[i] == "--env":
            env[flags[i + 1]] = flags[i + 2]
            i += 3
            continue
        if flags[i] == "--command":
            command = flags[i + 1]
        elif flags[i] == "--args":
            args.append(flags[i + 1])
        i += 2
    return command, args, env


def _stop_cline_hub(cline: str, home: Path, cwd: Path, hub: dict[str, str]) -> None:
    """End the hub daemon this test's ``cline`` started, and check it is gone.

    ``cline hub stop`` asks it to; should that fail, the daemon's own pid from its
    discovery file (only ever this test's, under the temporary HOME) is signalled.
    """
    discovery = home / ".cline" / "data" / "locks" / "hub" / "production.json"
    pid = None
    if discovery.exists():
        pid = json.loads(discovery.read_text(encoding="utf-8")).get("pid")
    try:
        _client([cline, "hub", "stop"], home, cwd, hub)
    finally:
        if isinstance(pid, int) and Path(f"/proc/{pid}").exists():
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"--cline-hub-daemon" in cmdline:
                os.kill(pid, 15)
    assert not (isinstance(pid, int) and _alive_daemon(pid)), "cline's hub daemon outlived the test"


def _alive_daemon(pid: int) -> bool:
    for _ in range(50):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return False
        if b"--cline-hub-daemon" not in cmdline:
            return False
        time.sleep(0.1)
    return True


def _entries(text: str) -> list[tuple[str, dict[str, object]]]:
    from mcpcred.parsing.jsonc import parse_jsonc

    root = parse_jsonc(text).root.to_python()
    return list(root["mcp"].items())  # type: ignore[index, union-attr]
