"""Issue 14 §5: the file store's key agent across processes, with real shims and servers.

One ``mcpcred agent`` (started by ``store unlock``), twenty real shims started at once
by an "MCP client" whose environment holds no passphrase, each wrapping a tiny server
that reports the environment it got. Then what a user meets when the key the agent
holds no longer fits (the passphrase changed) and after ``store lock``: one clear
line, exit code 5, never a wrong value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.keychain import FILE_STORE, agent, filestore, kernel
from tests.support.agent import end_agent, runtime_folder
from tests.support.headless import REPORT, converse, headless, run_cli

PASSPHRASE = "a long passphrase for twenty shims"
NEW_PASSPHRASE = "a second, longer passphrase"
VALUE = "sk-agent-4f9Qz7Lr2Xw8Vb3Nc6Md1Ka5Tt0"
SHIMS = 20


@pytest.fixture
def env(home: Path) -> Iterator[dict[str, str]]:
    """A headless machine with a runtime folder of its own; its agent ends with the test."""
    with runtime_folder() as folder:
        environ = headless(home, MCPCRED_RUNTIME_DIR=str(folder))
        try:
            yield environ
        finally:
            end_agent(environ)


def _wrapped_entry(home: Path, env: dict[str, str]) -> dict[str, object]:
    """A Claude Desktop config whose server is wrapped to get API_TOKEN from the secret."""
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    server = {"command": sys.executable, "args": ["-c", REPORT]}
    config.write_text(json.dumps({"mcpServers": {"echo": server}}))
    bound = run_cli(
        "wrap", "claude-desktop", "--server", "echo", "--bind", "API_TOKEN=secret:api",
        "--yes", env=env,
    )  # fmt: skip
    assert bound.returncode == 0, bound.stderr
    entry: dict[str, object] = json.loads(config.read_text())["mcpServers"]["echo"]
    return entry


def _start_all(entry: dict[str, object], client_env: dict[str, str]) -> list[tuple[int, str, str]]:
    """Start SHIMS servers at once, as a client would: the entry's command, args and env."""
    argv = [str(entry["command"]), *[str(a) for a in entry["args"]]]  # type: ignore[attr-defined]
    env = {**client_env, **entry.get("env", {})}  # type: ignore[attr-defined]
    processes = [
        subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(SHIMS)
    ]
    results = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        results.append((process.returncode, out, err))
    return results


def _agents_for(folder: str) -> list[int]:
    """Pids of live ``mcpcred agent`` processes serving ``folder`` (by their environment)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent" in cmdline and f"MCPCRED_RUNTIME_DIR={folder}".encode() in environ:
            found.append(int(entry))
    return found


def _key_id(home: Path) -> str:
    path = home / ".local" / "share" / "mcpcred" / "store.enc"
    return filestore.parse(path.read_bytes(), str(path)).key_id()


def test_twenty_concurrent_shims_get_the_value_from_one_agent_without_a_passphrase(
    home: Path, env: dict[str, str]
) -> None:
    setup = {**env, "MCPCRED_PASSPHRASE": PASSPHRASE}
    assert run_cli("store", "init", "--file", env=setup).returncode == 0
    stored = run_cli("secret", "set", "api", "--from-stdin", env=setup, stdin=VALUE)
    assert stored.returncode == 0, stored.stderr
    entry = _wrapped_entry(home, setup)
    unlocked = run_cli("store", "unlock", env=setup)
    assert unlocked.returncode == 0, unlocked.stderr
    assert "mcpcred agent" in unlocked.stderr
    kernel.forget(_key_id(home))  # only the agent holds the key now: it must be what answers
    (agent_pid,) = _agents_for(env["MCPCRED_RUNTIME_DIR"])
    agent_env = Path(f"/proc/{agent_pid}/environ").read_bytes()
    assert PASSPHRASE.encode() not in agent_env and b"MCPCRED_PASSPHRASE" not in agent_env

    client_env = dict(env)  # the MCP client's environment: no passphrase in it anywhere
    assert not [k for k in client_env if k.startswith("MCPCRED_PASSPHRASE")]
    started = time.monotonic()
    results = _start_all(entry, client_env)
    elapsed = time.monotonic() - started
    for code, out, err in results:
        assert code == 0, err
        seen = json.loads(out)["env"]
        assert seen["API_TOKEN"] == VALUE
        assert not [k for k in seen if k.startswith("MCPCRED_")]  # nothing of mcpcred's leaks
        assert PASSPHRASE not in out + err
    assert _agents_for(env["MCPCRED_RUNTIME_DIR"]) == [agent_pid]  # one agent, the same one
    running = agent.status(env)
    assert running is not None and running.pid == agent_pid and running.keys == 1
    assert elapsed < 60, elapsed

    # The key from the agent comes with its MAC subkey: a shim never imports cryptography's
    # hash classes (their ``typing`` import costs ~14 ms a start), nor keyring.
    probe = (
        "import json, os, sys\n"
        "from mcpcred.shim.options import parse\n"
        "from mcpcred.shim.resolve import resolve\n"
        f"options = parse(['--backend', {FILE_STORE!r}, '--', 'x'])\n"
        "found = resolve([('secret', 'api')], options, os.environ)\n"
        "print(json.dumps({'ok': found.values['api'] == sys.argv[1], 'mods': sorted(sys.modules)}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, VALUE], env=client_env, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["ok"]
    heavy = ("cryptography.hazmat.primitives", "keyring", "typing")
    assert not [m for m in report["mods"] if m.startswith(heavy)]


def test_a_changed_passphrase_or_a_lock_gives_shims_one_clear_line_never_a_value(
    home: Path, env: dict[str, str], tmp_path: Path
) -> None:
    setup = {**env, "MCPCRED_PASSPHRASE": PASSPHRASE}
    assert run_cli("store", "init", "--file", env=setup).returncode == 0
    assert run_cli("secret", "set", "api", "--from-stdin", env=setup, stdin=VALUE).returncode == 0
    entry = _wrapped_entry(home, setup)
    assert run_cli("store", "unlock", env=setup).returncode == 0
    old_id = _key_id(home)
    kernel.forget(old_id)  # this test's session shares the kernel keyring; another would not
    old_held = agent.fetch_key(old_id, env)
    assert old_held is not None

    # The passphrase changes from another session (another agent there): ours keeps the
    # old key, which no longer names this file.
    with runtime_folder() as elsewhere:
        other = headless(home, MCPCRED_RUNTIME_DIR=str(elsewhere))
        try:
            code, out = converse(
                ["store", "passphrase"],
                [
                    ("passphrase for the mcpcred store", PASSPHRASE),
                    ("new passphrase for", NEW_PASSPHRASE),
                    ("the same passphrase again", NEW_PASSPHRASE),
                ],
                other,
            )
        finally:
            end_agent(other)
    assert code == 0, out
    assert agent.fetch_key(old_id, env) == old_held  # our agent still holds the old key
    new_id = _key_id(home)
    assert new_id != old_id
    # Worse: the old key offered under the new key id (it fails the key check, unused).
    agent.offer_key(new_id, old_held, env)

    for code, out, err in _start_all(entry, dict(env)):
        assert code == 5, err
        assert out == "" and VALUE not in err
        (line,) = [ln for ln in err.splitlines() if "error" in ln]
        assert "is locked" in line and "mcpcred store unlock" in line, err

    relocked = run_cli("store", "unlock", env={**env, "MCPCRED_PASSPHRASE": NEW_PASSPHRASE})
    assert relocked.returncode == 0, relocked.stderr
    assert all(code == 0 and VALUE in out for code, out, _ in _start_all(entry, dict(env)))

    assert run_cli("store", "lock", env=env).returncode == 0
    started = time.monotonic()
    results = _start_all(entry, dict(env))
    assert time.monotonic() - started < 30  # fast: no waiting, no key derivation
    for code, out, err in results:
        assert code == 5 and out == "" and VALUE not in err
        (line,) = [ln for ln in err.splitlines() if "error" in ln]
        for way in ("mcpcred store unlock", "MCPCRED_PASSPHRASE ", "MCPCRED_PASSPHRASE_FILE"):
            assert way in line, line
