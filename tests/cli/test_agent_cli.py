"""``mcpcred agent start|stop|status|serve`` as users run it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest

from mcpcred.keychain import agent
from tests.support.agent import KEY, end_agent, runtime_folder, wait_gone
from tests.support.cli import run


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    with runtime_folder() as folder:
        environ = {"MCPCRED_RUNTIME_DIR": str(folder)}
        monkeypatch.setenv("MCPCRED_RUNTIME_DIR", str(folder))
        try:
            yield environ
        finally:
            end_agent(environ)


def test_start_status_stop(env: dict[str, str]) -> None:
    sock = os.path.join(env["MCPCRED_RUNTIME_DIR"], agent.SOCKET_NAME)
    status = run("agent", "status")
    assert (status.code, status.stdout.splitlines()[0]) == (
        0,
        f"agent: not running (socket {sock})",
    )
    started = run("agent", "start", "--idle-timeout", "30m")
    assert started.code == 0, started.stderr
    running = agent.status(env)
    assert running is not None and running.idle_timeout == 1800
    assert started.stderr == (
        f"agent started: pid {running.pid}, idle timeout 30m, socket {sock}\n"
    )
    again = run("agent", "start", "--idle-timeout", "1h")
    assert again.code == 0
    assert again.stderr.splitlines() == [
        f"agent already running: pid {running.pid}, idle timeout 30m, socket {sock}",
        "hint: `mcpcred agent stop` first to change its idle timeout",
    ]
    agent.offer_key("abc", KEY, env)
    status = run("agent", "status")
    assert status.stdout.splitlines()[0] == (
        f"agent: running, pid {running.pid}, 1 key(s), idle timeout 30m, socket {sock}"
    )
    assert KEY.hex() not in status.stdout
    as_json = json.loads(run("agent", "status", "--json").stdout)
    assert as_json == {
        "version": 1,
        "running": True,
        "socket": sock,
        "kernel_keyring": as_json["kernel_keyring"],
        "pid": running.pid,
        "keys": 1,
        "idle_timeout": 1800,
        "serves_reads": True,
    }
    assert len(status.stdout.splitlines()) == 2  # no word about an older agent
    assert isinstance(as_json["kernel_keyring"], bool)
    stopped = run("agent", "stop")
    assert (stopped.code, stopped.stderr) == (0, f"agent stopped (pid {running.pid})\n")
    assert wait_gone(running.pid)
    assert not os.path.exists(sock)
    assert run("agent", "stop").stderr == "no agent running\n"
    assert json.loads(run("agent", "status", "--json").stdout)["running"] is False


@pytest.mark.parametrize("value", ["0", "-5", "soon", "8d", "1.5h", ""])
def test_a_bad_idle_timeout_is_a_usage_error(env: dict[str, str], value: str) -> None:
    result = run("agent", "start", "--idle-timeout", value)
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"error: invalid --idle-timeout {value!r}",
        "hint: give 1 second to 7 days, as seconds or with a unit: 90, 30m, 4h, 1d",
    ]
    assert agent.status(env) is None


def test_a_hostile_folder_is_exit_code_5(env: dict[str, str]) -> None:
    os.chmod(env["MCPCRED_RUNTIME_DIR"], 0o750)  # noqa: S103 (on purpose)
    try:
        for command in (("agent", "start"), ("agent", "status"), ("agent", "stop")):
            result = run(*command)
            assert result.code == 5, command
            assert result.stderr.splitlines()[0] == (
                f"error: the agent's folder {env['MCPCRED_RUNTIME_DIR']} is open to other "
                "users (mode 750)"
            )
    finally:
        os.chmod(env["MCPCRED_RUNTIME_DIR"], 0o700)
