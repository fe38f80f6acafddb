"""The audit log is the truth even when the shim is killed or the log cannot be written.

A real ``mcpcred shim`` in guard mode around ``tests/support/scripted_server.py``,
with the real keychain (the log's key lives there), as in ``test_relay_robustness``:

- every request the server received has a ``request`` record in the log, written
  before the request was forwarded, even when the shim is killed the way Codex ends
  a server (SIGTERM to the group, SIGKILL 20 ms later); its outcome record pairs up by
  ``request_id`` and ``session``, and ``mcpcred log verify`` still passes;
- when the record cannot be written (disk full, the lock held by a stuck process),
  the request is not forwarded and the client gets an error saying why, unless
  ``on_log_failure = "allow"``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mcpcred.guard.session import Session
from mcpcred.guard.settings import ServerGuard
from tests.guard.test_relay_robustness import CONFIG, Guarded, audit_lines, guarded, split_lines

__all__ = ["guarded"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")


def received_calls(shim: Guarded) -> dict[Any, str]:
    """``id -> tool`` of every tools/call the server read."""
    found: dict[Any, str] = {}
    data = shim.received.read_bytes() if shim.received.exists() else b""
    for line in split_lines(data):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("method") == "tools/call":
            found[message["id"]] = message["params"]["name"]
    return found


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTED_SERVER_OPTS"}
    env["MCPCRED_CONFIG"] = str(tmp_path / "mcpcred-config.toml")
    env["MCPCRED_DATA_DIR"] = str(tmp_path / "data")
    return env


def verify(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpcred", "log", "verify"],
        env=cli_env(tmp_path),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def kill_like_codex(shim: Guarded) -> None:
    """SIGTERM to the shim's process group, SIGKILL 20 ms later."""
    os.killpg(shim.pid, signal.SIGTERM)
    time.sleep(0.02)
    with contextlib.suppress(ProcessLookupError):  # the shim may be gone already
        os.killpg(shim.pid, signal.SIGKILL)
    shim.wait(10)


def test_a_call_that_ran_has_a_record_when_the_shim_is_killed(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shim = guarded()
    shim.initialize()
    shim.send(
        b'{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"sleep",'
        b'"arguments":{"seconds":30}}}\n'
    )
    deadline = time.monotonic() + 10
    while "slow-1" not in received_calls(shim):
        assert time.monotonic() < deadline, shim.state()
        time.sleep(0.005)
    kill_like_codex(shim)
    records = audit_lines(tmp_path)
    requests = [r for r in records if r.get("event") == "request" and r.get("tool") == "sleep"]
    assert len(requests) == 1, records
    request = requests[0]
    assert request["request_id"] == "slow-1"
    assert request["method"] == "tools/call" and request["arguments"] == {"seconds": 30}
    assert isinstance(request["session"], str) and len(request["session"]) == 16
    assert {r.get("session") for r in records} == {request["session"]}  # one shim run
    done = verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit log OK" in done.stdout


def test_every_request_the_server_saw_was_recorded_whenever_the_kill_lands(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    seen = 0
    for round_ in range(6):
        shim = guarded()
        shim.initialize()
        for index in range(20):
            shim.send(
                json.dumps(
                    {
                        "jsonrpc": "2.0",
                        "id": f"r{round_}-{index}",
                        "method": "tools/call",
                        "params": {"name": "echo", "arguments": {"message": str(index)}},
                    }
                ).encode()
                + b"\n"
            )
        time.sleep(0.002 * round_)  # the kill lands at another point of the stream each time
        kill_like_codex(shim)
        ran = received_calls(shim)
        recorded = {
            r["request_id"]
            for r in audit_lines(tmp_path)
            if r.get("event") == "request" and r.get("method") == "tools/call"
        }
        assert set(ran) <= recorded, (sorted(set(ran) - recorded), shim.state())
        seen += len(ran)
    assert seen, "no call reached the server before a kill: the test proved nothing"
    done = verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_request_and_outcome_pair_up_by_request_id_and_session(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shim = guarded()
    shim.initialize()
    assert shim.call(7, "echo", {"message": "hi"})["result"]["content"][0]["text"] == "hi"
    assert shim.call("7", "list_things", {})["result"]["isError"] is False
    refused = shim.call(8, "delete_thing", {"name": "alpha"})
    assert refused["result"]["isError"] is True
    shim.stdin.close()
    assert shim.wait(10) == 0
    records = audit_lines(tmp_path)
    session = records[0]["session"]
    assert {r["session"] for r in records} == {session}
    pairs = [
        (r["event"], r.get("tool"), r["request_id"], r.get("outcome"))
        for r in records
        if r.get("method") == "tools/call"
    ]
    assert ("request", "echo", 7, None) in pairs and ("call", "echo", 7, "ok") in pairs
    assert ("request", "list_things", "7", None) in pairs
    assert ("call", "list_things", "7", "ok") in pairs
    assert ("call", "delete_thing", 8, "denied") in pairs  # refused: never a request record
    assert not [p for p in pairs if p[0] == "request" and p[1] == "delete_thing"]
    echo = [r for r in records if r.get("tool") == "echo"]
    assert [r["event"] for r in echo] == ["request", "call"]  # the request first
    assert echo[0]["seq"] < echo[1]["seq"]
    initialize = [r for r in records if r.get("method") == "initialize"]
    assert [(r["event"], r["request_id"]) for r in initialize] == [
        ("request", "init"),
        ("session", "init"),
    ]


# -- the log cannot be written -----------------------------------------------------------


def test_disk_full_refuses_the_call_and_it_never_reaches_the_server(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    shim = guarded()
    shim.initialize()
    log = tmp_path / "data" / "log" / "audit.jsonl"
    log.unlink()
    log.symlink_to("/dev/full")  # every write: ENOSPC
    answer = shim.call(5, "echo", {"message": "hi"})
    assert answer["result"]["isError"] is True, answer
    text = answer["result"]["content"][0]["text"]
    assert "audit log cannot be written" in text and "not forwarded" in text, text
    assert "No space left on device" in text, text
    assert 5 not in received_calls(shim)
    other = shim.request({"jsonrpc": "2.0", "id": 6, "method": "resources/read", "params": {}})
    assert other["error"]["code"] == -32000 and "not forwarded" in other["error"]["message"]
    ping = shim.request({"jsonrpc": "2.0", "id": 9, "method": "ping"})  # not recorded: passes
    assert ping["result"] == {}
    assert "cannot write the audit log" in shim.stderr()


def test_on_log_failure_allow_relays_unrecorded_calls(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    shim = guarded(config=CONFIG + 'on_log_failure = "allow"\n')
    shim.initialize()
    log = tmp_path / "data" / "log" / "audit.jsonl"
    log.unlink()
    log.symlink_to("/dev/full")
    answer = shim.call(5, "echo", {"message": "hi"})
    assert answer["result"]["content"][0]["text"] == "hi"
    assert received_calls(shim)[5] == "echo"
    assert "cannot write the audit log" in shim.stderr()


def test_a_stuck_lock_refuses_after_a_bounded_wait(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shim = guarded()
    shim.initialize()
    lock = tmp_path / "data" / "log" / "audit.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # a stuck process holding the append lock
        started = time.monotonic()
        answer = shim.call(5, "echo", {"message": "hi"}, timeout=20)
        waited = time.monotonic() - started
        assert answer["result"]["isError"] is True, answer
        text = answer["result"]["content"][0]["text"]
        assert "lock" in text and "not forwarded" in text, text
        assert 5 not in received_calls(shim)
        assert 1.0 < waited < 10.0, waited
    finally:
        os.close(fd)
    again = shim.call(6, "echo", {"message": "again"})
    assert again["result"]["content"][0]["text"] == "again"


def test_the_session_refuses_without_its_record_unless_allowed() -> None:
    line = (
        b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo",'
        b'"arguments":{"message":"x"}}}\n'
    )
    written: list[dict[str, object]] = []

    def broken(record: dict[str, object]) -> str | None:
        written.append(record)
        return "No space left on device"

    session = Session(
        ServerGuard("demo"), client="test", record=lambda r: None, warn=lambda t: None,
        durable=broken,
    )  # fmt: skip
    to_server, to_client = session.from_client(line)
    assert to_server is None and to_client is not None
    answer = json.loads(to_client)
    assert answer["id"] == 3 and answer["result"]["isError"] is True
    assert "No space left on device" in answer["result"]["content"][0]["text"]
    assert written and written[0]["event"] == "request" and written[0]["request_id"] == 3
    assert not session.pending  # nothing waits for an answer that will never come
    loose = ServerGuard("demo")
    loose.on_log_failure = "allow"
    session = Session(loose, client="test", record=lambda r: None, warn=lambda t: None,
                      durable=broken)  # fmt: skip
    assert session.from_client(line) == (line, None)


# -- the writer's fast path ----------------------------------------------------------------


def test_writers_that_take_turns_keep_one_chain(tmp_path: Path) -> None:
    from mcpcred.guard import auditlog

    key = bytes(range(32))
    first = auditlog.AuditLog(str(tmp_path), key)
    second = auditlog.AuditLog(str(tmp_path), key)
    for index in range(10):
        (first if index % 3 else second).append({"event": "call", "detail": str(index)})
    seqs = [record["seq"] for _, _, record in auditlog.read(str(tmp_path)) if record]
    assert seqs == list(range(1, 11))
    result = auditlog.verify(str(tmp_path), key)
    assert result.ok and not result.notes, [str(p) for p in result.problems]
    first.close()
    second.close()


def test_a_replaced_head_file_is_written_again_not_the_old_one(tmp_path: Path) -> None:
    from mcpcred.guard import auditlog

    key = bytes(range(32))
    log = auditlog.AuditLog(str(tmp_path), key)
    log.append({"event": "call"})
    head = tmp_path / auditlog.HEAD
    old = head.read_bytes()
    log.append({"event": "call"})
    head.unlink()
    head.write_bytes(old)  # an older copy, as a new file: the kept descriptor is stale
    log.append({"event": "call"})
    assert json.loads(head.read_bytes())["seq"] == 3
    assert len(head.read_bytes()) == auditlog.HEAD_SIZE
    assert auditlog.verify(str(tmp_path), key).ok
    log.close()
