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

from mcpcred.guard import auditlog
from mcpcred.guard.session import Session
from mcpcred.guard.settings import ServerGuard
from tests.guard.test_relay_robustness import CONFIG, Guarded, audit_lines, guarded, split_lines

__all__ = ["guarded"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")


def received_calls(shim: Guarded) -> list[tuple[str, Any]]:
    """``(tool, arguments)`` of every tools/call the server read.

    Not by id: the server sees the ids the guard issued, never the client's.
    """
    found: list[tuple[str, Any]] = []
    data = shim.received.read_bytes() if shim.received.exists() else b""
    for line in split_lines(data):
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if isinstance(message, dict) and message.get("method") == "tools/call":
            found.append((message["params"]["name"], message["params"].get("arguments")))
    return found


def forwarded_slow_call(shim: Guarded, poll: float = 0.005) -> None:
    """Start the session, send a 30 s ``sleep`` call, return once the server has read it."""
    shim.initialize()
    shim.send(
        b'{"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"sleep",'
        b'"arguments":{"seconds":30}}}\n'
    )
    deadline = time.monotonic() + 10
    while ("sleep", {"seconds": 30}) not in received_calls(shim):
        assert time.monotonic() < deadline, shim.state()
        time.sleep(poll)


def cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTED_SERVER_OPTS"}
    env["MCPCRED_CONFIG"] = str(tmp_path / "mcpcred-config.toml")
    env["MCPCRED_DATA_DIR"] = str(tmp_path / "data")
    return env


def verify(tmp_path: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpcred", "log", "verify", *options],
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
    forwarded_slow_call(shim)
    kill_like_codex(shim)
    # verify folds in what the killed shim recorded only in its journal (so would the next
    # guarded server), and then checks the log with it
    done = verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit log OK" in done.stdout
    records = audit_lines(tmp_path)
    requests = [r for r in records if r.get("event") == "request" and r.get("tool") == "sleep"]
    assert len(requests) == 1, records
    request = requests[0]
    assert request["request_id"] == "slow-1" and request["method"] == "tools/call"
    # its arguments when the writer folded it in before the kill; a recovered record says so
    assert request.get("arguments") == {"seconds": 30} or "recovered" in request["detail"]
    assert isinstance(request["session"], str) and len(request["session"]) == 16
    assert {r.get("session") for r in records} == {request["session"]}  # one shim run
    assert not list((tmp_path / "data" / "log").glob("audit.journal.*"))


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
        done = verify(tmp_path)  # folds in the killed shim's journal
        assert done.returncode == 0, done.stdout + done.stderr
        ran = [f"r{round_}-{arguments['message']}" for _, arguments in received_calls(shim)]
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
    # The first call after the log broke is recorded in the session's journal (another file,
    # which this test leaves writable) before it is forwarded, so it may run: its record is
    # durable there. The writer cannot fold it into the log; from then on requests go to the
    # log directly, and are refused.
    first = shim.call(4, "echo", {"message": "first"})
    assert first["result"]["content"][0]["text"] == "first", first
    assert received_calls(shim) == [("echo", {"message": "first"})]
    journals = list((tmp_path / "data" / "log").glob("audit.journal.*"))
    assert len(journals) == 1, journals
    lines = [json.loads(line) for line in journals[0].read_bytes().splitlines()]
    assert [(r.get("tool"), r.get("request_id")) for r in lines[1:]] == [
        (None, "init"),
        ("echo", 4),
    ]
    deadline = time.monotonic() + 10
    while "cannot write the audit log" not in shim.stderr():
        assert time.monotonic() < deadline, shim.state()
        time.sleep(0.01)
    answer = shim.call(5, "echo", {"message": "hi"})
    assert answer["result"]["isError"] is True, answer
    text = answer["result"]["content"][0]["text"]
    assert "audit log cannot be written" in text and "not forwarded" in text, text
    assert "No space left on device" in text, text
    assert received_calls(shim) == [("echo", {"message": "first"})]
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
    for index in range(3):  # the first is in the journal, the others go unrecorded
        answer = shim.call(5 + index, "echo", {"message": f"hi{index}"})
        assert answer["result"]["content"][0]["text"] == f"hi{index}"
        deadline = time.monotonic() + 10
        while "cannot write the audit log" not in shim.stderr():
            assert time.monotonic() < deadline, shim.state()
            time.sleep(0.01)
    assert received_calls(shim) == [("echo", {"message": f"hi{i}"}) for i in range(3)]


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
        assert received_calls(shim) == []
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
    forwarded, answered = session.from_client(line)
    assert answered is None and forwarded is not None
    assert json.loads(forwarded)["params"] == json.loads(line)["params"]


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


# -- the keychain checkpoint ---------------------------------------------------------------

KEY = bytes(range(32))


def fill(folder: Path, count: int, *, tool: str = "t", **options: int) -> auditlog.AuditLog:
    log = auditlog.AuditLog(str(folder), KEY, **options)  # type: ignore[arg-type]
    for index in range(count):
        log.append({"event": "call", "tool": f"{tool}{index}", "detail": "x" * 40})
    return log


def checkpoint_of(folder: Path, keep: int = auditlog.DEFAULT_KEEP) -> auditlog.Checkpoint:
    found = auditlog.current_checkpoint(str(folder), KEY, keep)
    assert found is not None
    return auditlog.Checkpoint.from_text(found.to_text()) or found  # as stored and read back


def messages(result: auditlog.Verification) -> list[str]:
    return [str(problem) for problem in result.problems]


def test_a_rollback_to_an_older_copy_is_found(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    log = fill(folder, 5)
    old = {path.name: path.read_bytes() for path in folder.iterdir()}
    for index in range(3):
        log.append({"event": "call", "tool": f"later{index}"})
    checkpoint = checkpoint_of(folder)
    assert (checkpoint.seq, checkpoint.first, checkpoint.starts) == (8, 1, [1])
    assert auditlog.holds(str(folder), checkpoint)
    for name, data in old.items():
        (folder / name).write_bytes(data)
    assert auditlog.verify(str(folder), KEY).ok  # the files alone look fine
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert messages(result) == [
        "audit.jsonl:6: seq 5: the log was rolled back: it ends at seq 5, but the keychain "
        "checkpoint says seq 8 was written"
    ]
    assert not auditlog.holds(str(folder), checkpoint)


def test_records_deleted_from_the_start_are_found(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    fill(folder, 10)
    checkpoint = checkpoint_of(folder)
    current = folder / auditlog.CURRENT
    current.write_bytes(b"".join(current.read_bytes().splitlines(keepends=True)[3:]))
    assert auditlog.verify(str(folder), KEY).ok  # a note only: "rotated away"
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert len(result.problems) == 1
    assert (
        "records were deleted from the start of the log: it begins at seq 4" in messages(result)[0]
    )
    assert "checkpoint says seq 1 is kept" in messages(result)[0]


def test_a_deleted_log_is_found(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    fill(folder, 4)
    checkpoint = checkpoint_of(folder)
    for path in folder.iterdir():
        path.unlink()
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert messages(result) == [
        "audit.jsonl:1: the audit log is missing: the keychain checkpoint says records up to "
        "seq 4 were written"
    ]
    assert not auditlog.holds(str(folder), checkpoint)


def test_a_replaced_log_that_grew_past_the_checkpoint_is_found(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    fill(folder, 3)
    checkpoint = checkpoint_of(folder)
    for path in folder.iterdir():
        path.unlink()
    # A fresh chain under the same key, with other calls: the same records written within
    # the same millisecond would be the very same chain (same MACs), not a replacement.
    fill(folder, 6, tool="u")
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert any("the log was replaced" in text for text in messages(result)), messages(result)
    assert not auditlog.holds(str(folder), checkpoint)


def test_rotation_is_not_a_deleted_start_but_a_deleted_file_is(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    log = fill(folder, 12, max_bytes=600, keep=2)
    checkpoint = checkpoint_of(folder, keep=2)
    assert len(checkpoint.starts) == 3 and checkpoint.first == checkpoint.starts[0]
    for index in range(4):  # rotates the oldest file away, and more
        log.append({"event": "call", "tool": f"more{index}", "detail": "x" * 40})
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert result.ok, messages(result)
    assert result.first_seq is not None and result.first_seq > checkpoint.first
    assert auditlog.holds(str(folder), checkpoint)
    (folder / f"{auditlog.CURRENT}.2").unlink()  # the oldest file, deleted by hand
    result = auditlog.verify(str(folder), KEY, checkpoint)
    assert any("deleted from the start" in text for text in messages(result)), messages(result)


def test_checkpoint_text_round_trips_and_rejects_junk() -> None:
    checkpoint = auditlog.Checkpoint(9, "ab", 3, [3, 7], 5)
    again = auditlog.Checkpoint.from_text(checkpoint.to_text())
    assert again is not None
    assert (again.seq, again.mac, again.first, again.starts, again.keep) == (9, "ab", 3, [3, 7], 5)
    for junk in (None, "", "not json", '{"seq": "9"}', '{"seq":1,"mac":"a","first":1,"keep":1}'):
        assert auditlog.Checkpoint.from_text(junk) is None


def one_session(guarded: Callable[..., Guarded], message: str) -> Guarded:
    shim = guarded()
    shim.initialize()
    assert shim.call(2, "echo", {"message": message})["result"]["content"][0]["text"] == message
    shim.stdin.close()
    assert shim.wait(10) == 0
    return shim


def test_the_shim_keeps_a_checkpoint_that_verify_holds_the_files_to(
    guarded: Callable[..., Guarded], tmp_path: Path, keychain: dict[str, str]
) -> None:
    from tests.support import keychain as real_keychain

    folder = tmp_path / "data" / "log"
    name = auditlog.checkpoint_name(str(folder))
    one_session(guarded, "first")
    stored = auditlog.Checkpoint.from_text(real_keychain.lookup(keychain, "mcpcred", name))
    assert stored is not None, "no checkpoint in the keychain after a session"
    last = audit_lines(tmp_path)[-1]
    assert (stored.seq, stored.mac, stored.first) == (last["seq"], last["mac"], 1)
    old = {path.name: path.read_bytes() for path in folder.iterdir() if path.is_file()}

    one_session(guarded, "second")  # the checkpoint moves on with the log
    moved = auditlog.Checkpoint.from_text(real_keychain.lookup(keychain, "mcpcred", name))
    assert moved is not None and moved.seq == audit_lines(tmp_path)[-1]["seq"] > stored.seq
    assert verify(tmp_path).returncode == 0

    for file_name, data in old.items():  # roll the files back to the copy
        (folder / file_name).write_bytes(data)
    done = verify(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "the log was rolled back" in done.stdout, done.stdout
    assert f"checkpoint says seq {moved.seq} was written" in done.stdout

    shim = one_session(guarded, "third")  # a new record must not bless the rolled-back log
    assert "does not hold the record its keychain checkpoint names" in shim.stderr()
    still = auditlog.Checkpoint.from_text(real_keychain.lookup(keychain, "mcpcred", name))
    assert still is not None and (still.seq, still.mac) == (moved.seq, moved.mac)
    assert verify(tmp_path).returncode == 1

    for path in folder.iterdir():  # the whole log deleted
        path.unlink()
    folder.rmdir()
    gone = verify(tmp_path)
    assert gone.returncode == 1, gone.stdout + gone.stderr
    assert "the audit log is missing" in gone.stdout, gone.stdout

    # the user removed it on purpose: the reset reports once more, then forgets it
    reset = verify(tmp_path, "--reset-checkpoint")
    assert reset.returncode == 1 and "the audit log is missing" in reset.stdout
    assert "checkpoint removed" in reset.stderr
    assert real_keychain.lookup(keychain, "mcpcred", name) is None
    fresh = verify(tmp_path)
    assert fresh.returncode == 0 and "no audit log yet" in fresh.stderr
    one_session(guarded, "fourth")  # a new log, and a new checkpoint for it
    assert verify(tmp_path).returncode == 0
    assert real_keychain.lookup(keychain, "mcpcred", name) is not None


def test_holds_finds_the_named_record_anywhere_in_a_large_file(tmp_path: Path) -> None:
    folder = tmp_path / "log"
    log = fill(folder, 1500)  # about 250 KB: the record lies beyond the first read chunks
    named = checkpoint_of(folder)
    for index in range(50):
        log.append({"event": "call", "tool": f"after{index}"})
    assert auditlog.holds(str(folder), named)
    forged = auditlog.Checkpoint(named.seq, "0" * 64, named.first, named.starts, named.keep)
    assert not auditlog.holds(str(folder), forged)
    beyond = auditlog.Checkpoint(10_000, named.mac, named.first, named.starts, named.keep)
    assert not auditlog.holds(str(folder), beyond)


def test_verify_names_a_deleted_start_and_exits_1(tmp_path: Path, keychain: dict[str, str]) -> None:
    from tests.support import keychain as real_keychain

    folder = tmp_path / "data" / "log"
    fill(folder, 8)
    real_keychain.store(keychain, "mcpcred", auditlog.KEY_NAME, KEY.hex())
    real_keychain.store(
        keychain, "mcpcred", auditlog.checkpoint_name(str(folder)), checkpoint_of(folder).to_text()
    )
    assert verify(tmp_path).returncode == 0
    current = folder / auditlog.CURRENT
    current.write_bytes(b"".join(current.read_bytes().splitlines(keepends=True)[2:]))
    done = verify(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == (
        "audit.jsonl:1: seq 3: records were deleted from the start of the log: it begins at "
        "seq 3, but the keychain checkpoint says seq 1 is kept (not a file's first record)"
    )
    reset = verify(tmp_path, "--reset-checkpoint")  # reports, then takes the log as it is
    assert reset.returncode == 1 and "checkpoint reset" in reset.stderr
    again = verify(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr


def test_shims_sharing_a_log_update_one_head_file_in_place(tmp_path: Path) -> None:
    """Two writers take turns: after each has written once, the head is not replaced
    (renamed) on every append any more, it is rewritten in place."""
    from mcpcred.guard import auditlog

    key = bytes(range(32))
    first = auditlog.AuditLog(str(tmp_path), key)
    second = auditlog.AuditLog(str(tmp_path), key)
    first.append({"event": "call"})
    second.append({"event": "call"})
    head = tmp_path / auditlog.HEAD
    inode = head.stat().st_ino
    for index in range(6):
        (first if index % 2 else second).append({"event": "call", "detail": str(index)})
        assert head.stat().st_ino == inode
    assert json.loads(head.read_bytes())["seq"] == 8
    assert auditlog.verify(str(tmp_path), key).ok
    first.close()
    second.close()


def test_a_head_replaced_by_a_symlink_is_not_written_through(tmp_path: Path) -> None:
    from mcpcred.guard import auditlog

    key = bytes(range(32))
    log = auditlog.AuditLog(str(tmp_path / "log"), key)
    log.append({"event": "call"})
    head = tmp_path / "log" / auditlog.HEAD
    elsewhere = tmp_path / "elsewhere"
    elsewhere.write_bytes(head.read_bytes())
    head.unlink()
    head.symlink_to(elsewhere)
    log.append({"event": "call"})
    assert not head.is_symlink()
    assert json.loads(head.read_bytes())["seq"] == 2
    assert json.loads(elsewhere.read_bytes())["seq"] == 1
    log.close()


def test_a_removed_lock_file_is_opened_again_not_the_kept_one(tmp_path: Path) -> None:
    """The lock's descriptor is kept between appends; a lock file removed meanwhile is
    opened again, so the log waits for whoever holds the new one."""
    from mcpcred.errors import ShimError
    from mcpcred.guard import auditlog
    from mcpcred.oauth.lock import held

    log = auditlog.AuditLog(str(tmp_path), bytes(range(32)), lock_timeout=0.2)
    log.append({"event": "call"})
    (tmp_path / auditlog.LOCK).unlink()
    with held(tmp_path / auditlog.LOCK, timeout=1, what="test"), pytest.raises(ShimError):
        log.append({"event": "call"})
    log.append({"event": "call"})
    assert [r["seq"] for _, _, r in auditlog.read(str(tmp_path)) if r] == [1, 2]
    log.close()
