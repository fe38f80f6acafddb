"""The shim as MCP clients run it: a real process, the real keychain, a real exec.

The "server" here is a tiny Python program that reports what it received
(argv, environment, stdin) so each test can check exactly what the server
sees; the end-to-end tests with real MCP servers and clients live in
tests/integration.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from mcpcred.keychain import chunks
from tests.support import keychain as real_keychain

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
REPORT = (
    "import json, os, sys; "
    "print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ), 'stdin': sys.stdin.read()}))"
)
FORBIDDEN = (
    "typer",
    "rich",
    "click",
    "httpx",
    "authlib",
    "keyring",
    "pydantic",
    "secretstorage",
    "jeepney",
)


def _shim(
    *shim_args: str,
    env: dict[str, str],
    server: list[str] | None = None,
    stdin: str = "",
    timeout: float = 30,
) -> subprocess.CompletedProcess[str]:
    command = server or [sys.executable, "-c", REPORT]
    return subprocess.run(
        [MCPCRED, "shim", *shim_args, "--", *command],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _scrubbed(**extra: str) -> dict[str, str]:
    """What the MCP SDKs and Codex give a server: HOME, PATH, USER, SHELL, TERM, LOGNAME."""
    base = {k: os.environ[k] for k in ("HOME", "PATH") if k in os.environ}
    base.update({"USER": "tester", "SHELL": "/bin/sh", "TERM": "dumb", "LOGNAME": "tester"})
    base.update(extra)
    return base


def _initialize(request_id: int | str = 1) -> str:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": {}}
    return json.dumps(message) + "\n"


def test_resolves_env_and_embedded_arg_references_then_execs(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "github-pat", "ghp_value-1")
    real_keychain.store(keychain, "mcpcred", "db", "pässwörd")
    env = {
        **os.environ,
        "GITHUB_TOKEN": "mcpcred:secret/github-pat",
        "DATABASE_URL": "postgres://u:{{mcpcred:secret/db}}@h/x",
        "PLAIN": "unchanged",
        "MCPCRED_DEBUG": "1",
    }
    result = _shim(
        "--server",
        "gh",
        env=env,
        server=[sys.executable, "-c", REPORT, "--key={{mcpcred:secret/github-pat}}"],
        stdin="hello",
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["env"]["GITHUB_TOKEN"] == "ghp_value-1"
    assert seen["env"]["DATABASE_URL"] == "postgres://u:pässwörd@h/x"
    assert seen["env"]["PLAIN"] == "unchanged"
    assert seen["argv"] == ["--key=ghp_value-1"]
    assert seen["stdin"] == "hello"  # the server owns stdin
    assert not [k for k in seen["env"] if k.startswith("MCPCRED_")]
    assert result.stderr == ""


def test_exec_keeps_the_pid_and_passes_the_exit_code(keychain: dict[str, str]) -> None:
    script = "import os, sys; print(os.getpid()); sys.exit(7)"
    process = subprocess.Popen(
        [MCPCRED, "shim", "--", sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    out, _ = process.communicate(timeout=30)
    assert process.returncode == 7
    assert int(out.strip()) == process.pid  # exec: no shim process left in between


def test_a_chunked_secret_arrives_whole(keychain: dict[str, str]) -> None:
    value = "-----BEGIN PRIVATE KEY-----\n" + "A1b2C3d4" * 700 + "\n-----END PRIVATE KEY-----"
    head, parts = chunks.split(value)
    assert parts, "the value must be long enough to be chunked"
    for index, part in enumerate(parts, start=1):
        real_keychain.store(keychain, "mcpcred", chunks.part_name("pem", index), part)
    real_keychain.store(keychain, "mcpcred", "pem", head)
    result = _shim(env={**os.environ, "KEY": "mcpcred:secret/pem"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["env"]["KEY"] == value


def test_reaches_the_keychain_from_a_scrubbed_environment(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "tok", "from-keychain")
    address = keychain["DBUS_SESSION_BUS_ADDRESS"]
    # what wrap records for clients that strip DBUS_SESSION_BUS_ADDRESS
    result = _shim("--dbus-address", address, env=_scrubbed(TOKEN="mcpcred:secret/tok"))
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)["env"]
    assert seen["TOKEN"] == "from-keychain"
    assert "DBUS_SESSION_BUS_ADDRESS" not in seen  # used by the shim, not handed on
    # the standard place: $XDG_RUNTIME_DIR/bus (Codex passes it through env_vars)
    result = _shim(
        env=_scrubbed(TOKEN="mcpcred:secret/tok", XDG_RUNTIME_DIR=keychain["XDG_RUNTIME_DIR"])
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["env"]["TOKEN"] == "from-keychain"


def test_a_missing_secret_fails_fast_in_stderr_and_in_the_client(
    keychain: dict[str, str], tmp_path: Path
) -> None:
    marker = tmp_path / "started"
    server = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]
    started = time.monotonic()
    result = _shim(
        "--server",
        "github",
        "--client",
        "claude-desktop",
        env={**os.environ, "GITHUB_TOKEN": "mcpcred:secret/github-pat"},
        server=server,
        stdin=_initialize(42),
    )
    assert time.monotonic() - started < 10
    assert result.returncode == 5
    assert not marker.exists(), "the server must not start half-configured"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "mcpcred secret set github-pat" in lines[0]
    assert "server 'github' (claude-desktop)" in lines[0]
    answer = json.loads(result.stdout)
    assert answer["id"] == 42
    assert answer["jsonrpc"] == "2.0"
    assert "mcpcred secret set github-pat" in answer["error"]["message"]


def test_no_answer_when_the_first_message_is_not_initialize(keychain: dict[str, str]) -> None:
    note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n"
    result = _shim(env={**os.environ, "T": "mcpcred:secret/absent"}, stdin=note)
    assert result.returncode == 5
    assert result.stdout == ""


def test_a_server_command_that_does_not_exist(keychain: dict[str, str]) -> None:
    result = _shim(
        env=dict(os.environ), server=["definitely-not-a-command-xyz"], stdin=_initialize("a")
    )
    assert result.returncode == 6
    assert "'definitely-not-a-command-xyz' was not found on PATH" in result.stderr
    assert json.loads(result.stdout)["id"] == "a"


def test_a_keychain_that_never_answers_times_out(tmp_path: Path) -> None:
    path = tmp_path / "bus"
    silent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    silent.bind(str(path))
    silent.listen(5)
    try:
        started = time.monotonic()
        result = _shim(
            "--timeout",
            "0.5",
            "--dbus-address",
            f"unix:path={path}",
            env=_scrubbed(T="mcpcred:secret/x"),
            stdin=_initialize(),
        )
        assert time.monotonic() - started < 8
    finally:
        silent.close()
    assert result.returncode == 5
    assert "did not answer" in result.stderr or "timed out" in result.stderr
    assert "error" in json.loads(result.stdout)


def test_no_keychain_at_all_is_a_clear_error(tmp_path: Path) -> None:
    result = _shim(env=_scrubbed(T="mcpcred:secret/x"), stdin=_initialize())
    assert result.returncode == 5
    assert "no D-Bus session bus" in result.stderr


def test_errors_never_echo_a_value(keychain: dict[str, str]) -> None:
    secret = "ghp_ShouldNeverBeEchoed0123456789abcdefgh"
    real_keychain.store(keychain, "mcpcred", "ok", secret)
    result = _shim(
        env={**os.environ, "A": "mcpcred:secret/ok", "B": "mcpcred:secret/missing"},
        stdin=_initialize(),
    )
    assert result.returncode == 5
    assert secret not in result.stderr + result.stdout


def test_the_shim_loads_nothing_heavy(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "tok", "v")
    names = set(_modules_after_shim({**os.environ, "T": "mcpcred:secret/tok"}))
    loaded = {name.split(".")[0] for name in names}
    assert "mcpcred.keychain.dbuswire" in names  # it did reach the keychain, on its own wire
    assert "jeepney" not in loaded  # ~13 ms to import: the shim speaks D-Bus itself
    assert "collections.abc" not in names  # ~0.2 ms, for annotations only (mcpcred.tomlfile)
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_five_secrets_take_one_connection_no_subprocess_and_stdlib_only(
    keychain: dict[str, str], tmp_path: Path
) -> None:
    """The shim's import graph and cost do not grow with the number of secrets (issue 14)."""
    from tests.support.startup import LOG_VAR, probed, write_probe

    for index in range(5):
        real_keychain.store(keychain, "mcpcred", f"s{index}", f"v{index}")
    log = tmp_path / "probe.log"
    env = {
        **os.environ,
        **{f"T{i}": f"mcpcred:secret/s{i}" for i in range(5)},
        "PYTHONPATH": str(write_probe(tmp_path / "probe")),
        LOG_VAR: str(log),
    }
    result = _shim(env=env)
    assert result.returncode == 0, result.stderr
    assert [json.loads(result.stdout)["env"][f"T{i}"] for i in range(5)] == [
        f"v{i}" for i in range(5)
    ]
    seen = probed(log)
    assert seen.spawns == []
    assert seen.connects == [repr(keychain["XDG_RUNTIME_DIR"] + "/bus")]
    third_party = {m.split(".")[0] for m in seen.modules} - set(sys.stdlib_module_names)
    # Besides mcpcred only what ``site`` loads in any interpreter: the probe,
    # setuptools' .pth hook, an editable install's finder. Not even jeepney: the shim
    # speaks D-Bus through mcpcred.keychain.dbuswire.
    site = {"__main__", "sitecustomize", "_distutils_hack"}
    third_party = {m for m in third_party - site if not m.startswith("__editable__")}
    assert third_party == {"mcpcred"}, third_party
    assert "mcpcred.keychain.dbuswire" in seen.modules
    assert "mcpcred.keychain.hints" not in seen.modules  # only a failure needs it


def test_a_local_server_loads_nothing_of_the_bridge(keychain: dict[str, str]) -> None:
    """The remote bridge (httpx, URL parsing, the relay) costs local servers nothing."""
    real_keychain.store(keychain, "mcpcred", "tok", "v")
    loaded = _modules_after_shim({**os.environ, "T": "mcpcred:secret/tok"})
    bridge = {"mcpcred.bridge", "mcpcred.guard.relay", "mcpcred.guard.run", "urllib", "ipaddress"}
    assert not {name for name in loaded if name.split(".")[0] in bridge or name in bridge}, loaded
    assert not {name for name in loaded if name.startswith("mcpcred.bridge")}


def test_other_backends_go_through_keyring_and_insecure_ones_are_refused() -> None:
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
        "T": "mcpcred:secret/x",
    }
    refused = _shim(env=env, stdin=_initialize())
    assert refused.returncode == 5
    assert "refusing keychain backend keyring.backends.null.Keyring" in refused.stderr
    # opted in by wrap (the flag survives clients that strip the environment)
    allowed = _shim("--allow-insecure-keyring", env=env, stdin=_initialize())
    assert allowed.returncode == 5
    assert "warning: using insecure keychain backend" in allowed.stderr
    assert "secret 'x' is not in the keychain" in allowed.stderr


def test_a_backend_that_does_not_load_exits_5_naming_the_variable() -> None:
    env = {
        **os.environ,
        "PYTHON_KEYRING_BACKEND": "keyrings.nosuch.Keyring",
        "T": "mcpcred:secret/x",
    }
    result = _shim(env=env, stdin=_initialize())
    assert result.returncode == 5, result.stderr
    assert "PYTHON_KEYRING_BACKEND names a keyring backend that cannot be loaded" in result.stderr
    assert "unexpected" not in result.stderr


def _modules_after_shim(env: dict[str, str]) -> set[str]:
    probe = (
        "import json, sys; from mcpcred.shim import launch\n"
        "def fake(argv, env):\n"
        "    print(json.dumps(sorted(sys.modules)))\n"
        "    raise SystemExit(0)\n"
        "launch.become = fake\n"
        "import mcpcred.shim.main as m; m.become = fake\n"
        "from mcpcred._entry import main\n"
        "sys.exit(main(['shim', '--', 'true']))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=30,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def test_a_cached_login_token_costs_no_network_code(keychain: dict[str, str]) -> None:
    import time

    cached = {
        "v": 1, "access_token": "at-cached", "expires_at": time.time() + 3600,
        "refresh_at": time.time() + 3000, "obtained_at": time.time(), "scopes": None,
    }  # fmt: skip
    real_keychain.store(keychain, "mcpcred", "oauth:gh/default:access", json.dumps(cached))
    loaded = _modules_after_shim({**os.environ, "T": "mcpcred:oauth/gh"})
    assert "mcpcred.oauth.records" in loaded  # it did take the login path
    assert not {"mcpcred.oauth.mint", "http.client", "urllib.request", "ssl"} & loaded
    assert not {"dataclasses", "pathlib"} & loaded
    assert not {name.split(".")[0] for name in loaded} & set(FORBIDDEN)


def test_a_refresh_at_spawn_uses_the_standard_library_only(keychain: dict[str, str]) -> None:
    record = {
        "v": 1, "provider": "gh", "account": "default", "client_id": "c",
        # nothing listens on port 9: the refresh fails fast, after the imports it needs
        "token_endpoint": "http://127.0.0.1:9/token", "refresh_token": "rt", "scopes": [],
    }  # fmt: skip
    real_keychain.store(keychain, "mcpcred", "oauth:gh/default", json.dumps(record))
    probe_env = {**os.environ, "T": "mcpcred:oauth/gh"}
    result = _shim(env=probe_env, stdin=_initialize())
    assert result.returncode == 7, result.stderr
    assert "cannot reach 127.0.0.1:9" in result.stderr
    assert "mcpcred login gh" in result.stderr
    script = (
        "import json, sys\n"
        "from mcpcred._entry import main\n"
        "code = main(['shim', '--', 'true'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", script], env=probe_env, capture_output=True, text=True,
        timeout=30, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    loaded = {name.split(".")[0] for name in json.loads(run.stdout.splitlines()[-1])}
    assert "urllib" in loaded  # it did try to refresh
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_a_bad_project_table_stops_its_own_server_only(tmp_path: Path) -> None:
    """Issue 12: one invalid ``[servers.X]`` in mcpcred.toml stopped every server (exit 3).

    Now the other servers start, and X itself does not: the problem is in the client's
    log (stderr) and in the answer to its ``initialize``, so X's restriction is not lost.
    """
    project = tmp_path / "project"
    (project / ".git").mkdir(parents=True)
    (project / "mcpcred.toml").write_text('[servers.other]\ndeny = "delete_*"\n')
    env = _scrubbed(HOME=str(tmp_path), MCPCRED_CONFIG=str(tmp_path / "none.toml"))
    marker = tmp_path / "started"
    server = [sys.executable, "-c", f"open({str(marker)!r}, 'w').close()"]

    def shim(name: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MCPCRED, "shim", "--server", name, "--client", "test", "--", *server],
            env=env, cwd=project, input=_initialize(7), capture_output=True, text=True,
            timeout=30, check=False,
        )  # fmt: skip

    refused = shim("other")
    assert refused.returncode == 3
    assert not marker.exists()
    line = f"{project / 'mcpcred.toml'}: [servers.other]: deny must be a list of tool-name globs"
    assert refused.stderr.splitlines() == [f"error: mcpcred shim: server 'other' (test): {line}"], (
        refused.stderr
    )
    assert line in json.loads(refused.stdout)["error"]["message"]
    started = shim("unrelated")
    assert started.returncode == 0, started.stderr
    assert marker.exists()
