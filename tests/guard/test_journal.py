"""The intent journal: a request's durable record before it is forwarded (``guard/journal.py``).

A request's path writes one MAC'd line to the session's journal instead of
appending to the chained log; the full record follows in the writer's batch.
These tests hold it to what the log promised before (issue 12 §2):

- a shim killed right after forwarding (the writer had no time to fold the
  line in) leaves the record in the journal, and the next guarded server or
  ``mcpcred log verify`` folds it into the chain;
- deleting that journal after the kill, or forging or editing a line in it,
  is reported by ``verify`` (exit 1), naming the file;
- no injected secret is ever in a journal, and journals are 0600, created
  without following a symlink;
- shims that share one log each keep their own journal and one chain.

The "killed" shim is a child process that sets up the guard's real
``Recorder`` with a journal, records requests as the relay does before
forwarding them, and SIGKILLs itself before its writer's first batch: what it
leaves is exactly what a kill right after forwarding leaves.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpcred.guard import auditlog, journal
from mcpcred.guard.mask import Masker
from mcpcred.guard.redact import Lazy
from mcpcred.guard.run import Recorder
from tests.guard.test_durable_log import forwarded_slow_call, verify
from tests.guard.test_relay_robustness import Guarded, audit_lines, guarded

__all__ = ["guarded"]  # the fixture, imported for the tests below

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and flock")

KEY = bytes(range(32))
SECRET = "ghp_Zq9vK2xLm4Np6Rs8Tu0Wy1Ab3Cd5Ef7Gh9Jk"

# A shim's Recorder that records requests and is killed before its writer's first batch.
KILLED = textwrap.dedent(
    """
    import os, signal, sys
    from mcpcred.guard import auditlog
    from mcpcred.guard.run import Recorder

    folder, session, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    log = auditlog.AuditLog(folder, bytes(range(32)))
    base = {"server": "demo", "pid": os.getpid(), "session": session}
    recorder = Recorder(log, base, lambda text: None, journal=True)
    for index in range(count):
        why = recorder.write_now(
            {"event": "request", "method": "tools/call", "tool": "echo",
             "arguments": {"message": str(index)}, "request_id": f"r{index}"}
        )
        assert why is None, why
    # the requests would be forwarded now; the shim dies before its writer folds them in
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def killed_shim(folder: Path, session: str = "00112233aabbccdd", count: int = 3) -> Path:
    """Run a shim that records ``count`` requests and is killed; its journal."""
    done = subprocess.run(
        [sys.executable, "-c", KILLED, str(folder), session, str(count)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    path = folder / f"{journal.PREFIX}{session}"
    assert path.exists(), sorted(os.listdir(folder))
    return path


def records(folder: Path) -> list[dict[str, object]]:
    return [record for _, _, record in auditlog.read(str(folder)) if record is not None]


def problems(folder: Path) -> list[str]:
    return [str(problem) for problem in auditlog.verify(str(folder), KEY).problems]


# -- a kill right after forwarding ------------------------------------------------------------


def test_a_kill_right_after_forwarding_leaves_the_record_and_recovery_folds_it_in(
    tmp_path: Path,
) -> None:
    path = killed_shim(tmp_path, count=3)
    # Not in the chain yet (the writer never ran): only the announcement is
    assert [r["event"] for r in records(tmp_path)] == ["journal"]
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert [(r["n"], r.get("tool"), r.get("request_id")) for r in lines] == [
        (0, None, None),
        (1, "echo", "r0"),
        (2, "echo", "r1"),
        (3, "echo", "r2"),
    ]
    before = auditlog.verify(str(tmp_path), KEY)
    assert before.ok, before.problems
    assert any("3 request(s) recorded only in the journal" in note for note in before.notes)
    log = auditlog.AuditLog(str(tmp_path), KEY)
    notes = journal.recover(log)
    log.close()
    assert notes and "folded in 3 request(s)" in notes[0], notes
    assert not path.exists()
    found = records(tmp_path)
    requests = [r for r in found if r["event"] == "request"]
    assert [(r["request_id"], r["tool"], r["journal"]) for r in requests] == [
        ("r0", "echo", 1),
        ("r1", "echo", 2),
        ("r2", "echo", 3),
    ]
    assert all(r["session"] == "00112233aabbccdd" and r["server"] == "demo" for r in requests)
    assert all("recovered" in str(r["detail"]) for r in requests)
    assert found[-1]["event"] == "journal" and found[-1]["outcome"] == "closed"
    after = auditlog.verify(str(tmp_path), KEY)
    assert after.ok and not after.notes, (after.problems, after.notes)
    # A second recovery has nothing left to fold: no duplicate records
    log = auditlog.AuditLog(str(tmp_path), KEY)
    assert journal.recover(log) == []
    log.close()
    assert len(records(tmp_path)) == len(found)


def test_recovery_folds_only_what_the_writer_had_not(tmp_path: Path) -> None:
    """A writer that folded some lines before the kill: those are not recorded twice."""
    path = killed_shim(tmp_path, count=2)
    session = "00112233aabbccdd"
    log = auditlog.AuditLog(str(tmp_path), KEY)
    log.append({"event": "request", "session": session, "tool": "echo", "journal": 1})
    notes = journal.recover(log)
    log.close()
    assert "folded in 1 request(s)" in notes[0], notes
    journaled = [r.get("journal") for r in records(tmp_path) if r["event"] == "request"]
    assert journaled == [1, 2]
    assert not path.exists()


def test_a_live_shims_journal_is_never_taken_for_an_orphan(tmp_path: Path) -> None:
    log = auditlog.AuditLog(str(tmp_path), KEY)
    base = {"server": "demo", "pid": os.getpid(), "session": "aaaabbbbccccdddd"}
    recorder = Recorder(log, base, lambda text: None, journal=True)
    try:
        assert recorder.write_now({"event": "request", "method": "tools/call", "tool": "a"}) is None
        other = auditlog.AuditLog(str(tmp_path), KEY)
        assert journal.recover(other) == []  # the owner holds its flock
        other.close()
        assert Path(recorder.journal.path).exists()  # type: ignore[union-attr]
        result = auditlog.verify(str(tmp_path), KEY)
        assert result.ok and any("in use by a running" in n for n in result.notes), result.notes
    finally:
        recorder.close()
    assert not list(tmp_path.glob(journal.PREFIX + "*"))  # closed: folded in and removed
    events = [(r["event"], r.get("outcome"), r.get("journal")) for r in records(tmp_path)]
    assert events == [("journal", "open", None), ("request", None, 1), ("journal", "closed", None)]
    assert auditlog.verify(str(tmp_path), KEY).ok


def test_the_next_guarded_server_folds_in_a_killed_shims_journal(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shim = guarded()
    forwarded_slow_call(shim, poll=0.001)
    os.kill(shim.pid, signal.SIGKILL)  # right after forwarding
    shim.wait(10)
    folder = tmp_path / "data" / "log"
    (left,) = folder.glob(journal.PREFIX + "*")
    second = guarded()
    second.initialize()  # its writer folds the orphan in, off the relay's path
    deadline = time.monotonic() + 20
    while left.exists():
        assert time.monotonic() < deadline, second.state()
        time.sleep(0.02)
    second.stdin.close()
    assert second.wait(10) == 0
    assert not list(folder.glob(journal.PREFIX + "*"))
    sleeps = [r for r in audit_lines(tmp_path) if r.get("tool") == "sleep"]
    assert [r["event"] for r in sleeps if r["event"] == "request"] == ["request"], sleeps
    assert sleeps[0]["request_id"] == "slow-1"
    done = verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


# -- what verify reports ---------------------------------------------------------------------


def test_a_journal_deleted_after_a_kill_is_reported(tmp_path: Path) -> None:
    path = killed_shim(tmp_path)
    path.unlink()  # the calls recorded only there would be gone
    found = problems(tmp_path)
    assert len(found) == 1, found
    assert path.name in found[0] and "missing" in found[0], found
    # recovery cannot make it go away: there is nothing to fold, and the chain never closed it
    log = auditlog.AuditLog(str(tmp_path), KEY)
    journal.recover(log)
    log.close()
    assert problems(tmp_path) == found


def test_verify_exits_1_naming_a_deleted_journal(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shim = guarded()
    shim.initialize()
    assert shim.call(3, "echo", {"message": "hi"})["result"]["content"][0]["text"] == "hi"
    os.kill(shim.pid, signal.SIGKILL)
    shim.wait(10)
    folder = tmp_path / "data" / "log"
    (left,) = folder.glob(journal.PREFIX + "*")
    left.unlink()
    done = verify(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert left.name in done.stdout and "missing" in done.stdout, done.stdout
    assert "NOT OK" in done.stdout


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda lines: [*lines[:2], lines[2].replace(b"echo", b"ecHo"), *lines[3:]], id="edited"
        ),
        pytest.param(lambda lines: [*lines, lines[-1].replace(b'"n":3', b'"n":4')], id="forged"),
        pytest.param(lambda lines: [lines[0], lines[1], lines[3]], id="line deleted"),
        pytest.param(lambda lines: [lines[0], lines[2], lines[1], lines[3]], id="reordered"),
        pytest.param(lambda lines: lines[1:], id="header deleted"),
    ],
)
def test_a_tampered_journal_is_reported_and_not_folded_in(
    tmp_path: Path, tamper: Callable[[list[bytes]], list[bytes]]
) -> None:
    path = killed_shim(tmp_path, count=3)
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"".join(line + b"\n" for line in tamper(lines)))
    found = problems(tmp_path)
    assert found and all(path.name in problem for problem in found), found
    log = auditlog.AuditLog(str(tmp_path), KEY)
    assert journal.recover(log) == []  # left for verify to report, not blessed into the chain
    log.close()
    assert path.exists()
    assert [r["event"] for r in records(tmp_path)] == ["journal"]


def test_a_journal_moved_to_another_session_is_reported(tmp_path: Path) -> None:
    path = killed_shim(tmp_path)
    other = path.with_name(journal.PREFIX + "ffffeeeeddddcccc")
    path.rename(other)
    found = problems(tmp_path)
    assert any(other.name in p and "MAC mismatch" in p for p in found), found
    assert any(path.name in p and "missing" in p for p in found), found


# -- secrets and files -------------------------------------------------------------------------


def test_no_injected_secret_reaches_a_journal(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("secret/TOKEN", SECRET)
    log = auditlog.AuditLog(str(tmp_path), KEY)
    base = {"server": "demo", "pid": 1, "session": "0123456701234567"}
    recorder = Recorder(
        log,
        base,
        lambda text: None,
        Lazy(),
        masker.record,
        journal=True,
        generation=masker.generation,
    )
    encoded = base64.b64encode(SECRET.encode()).decode()
    quoted = urllib.parse.quote("x/" + SECRET, safe="")
    try:
        for tool, request_id in [
            (f"run_{SECRET}", SECRET),
            ("echo", f"id-{encoded}"),
            (f"q{quoted}", 7),
            ("postgres://u:Kq9vZ2xQ7pLm@db.example.com/x", 8),  # a password the detector finds
        ]:
            why = recorder.write_now(
                {"event": "request", "method": "tools/call", "tool": tool,
                 "arguments": {"token": SECRET}, "request_id": request_id}
            )  # fmt: skip
            assert why is None, why
        assert recorder.journal is not None
        data = Path(recorder.journal.path).read_bytes()
        lines = [json.loads(line) for line in data.splitlines()]
        assert len(lines) == 5
        for form in (SECRET, encoded, quoted, "Kq9vZ2xQ7pLm"):
            assert form.encode() not in data, form
        assert "arguments" not in data.decode()  # never in the journal
        assert lines[1]["tool"] == "run_[redacted mcpcred:secret/TOKEN]", lines[1]
        assert lines[1]["request_id"] == "[redacted mcpcred:secret/TOKEN]"
        assert "[redacted" in str(lines[4]["tool"]), lines[4]
        assert auditlog.verify(str(tmp_path), KEY).ok
    finally:
        recorder.close()
    assert SECRET.encode() not in b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("audit.jsonl")
    )


def test_journal_files_are_0600_and_never_written_through_a_symlink(tmp_path: Path) -> None:
    path = killed_shim(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    target = tmp_path / "elsewhere"
    target.write_bytes(b"")
    session = "1234123412341234"
    (tmp_path / f"{journal.PREFIX}{session}").symlink_to(target)
    with pytest.raises(OSError):
        journal.Journal.create(str(tmp_path), auditlog.Keyed(KEY), session, {"server": "x"})
    assert target.read_bytes() == b""
    # The recorder then records requests in the log itself, as without journals
    log = auditlog.AuditLog(str(tmp_path), KEY)
    recorder = Recorder(log, {"session": session}, lambda text: None, journal=True)
    try:
        assert recorder.write_now({"event": "request", "method": "tools/call", "tool": "t"}) is None
        assert recorder.journal is None
        assert [r["event"] for r in records(tmp_path)][-1] == "request"
    finally:
        recorder.close()
    assert target.read_bytes() == b""


# -- shims sharing one log ----------------------------------------------------------------------


def test_shims_sharing_a_log_keep_their_own_journals_and_one_chain(
    guarded: Callable[..., Guarded], tmp_path: Path
) -> None:
    shims = [guarded(), guarded()]
    for shim in shims:
        shim.initialize()
    folder = tmp_path / "data" / "log"
    for index in range(30):
        shim = shims[index % 2]
        answer = shim.call(index, "echo", {"message": str(index)})
        assert answer["result"]["content"][0]["text"] == str(index)
    assert len(list(folder.glob(journal.PREFIX + "*"))) == 2  # one per running shim
    for shim in shims:
        shim.stdin.close()
    for shim in shims:
        assert shim.wait(10) == 0
    assert not list(folder.glob(journal.PREFIX + "*"))
    found = audit_lines(tmp_path)
    sessions = {r["session"] for r in found}
    assert len(sessions) == 2
    for session in sessions:
        mine = [r for r in found if r["session"] == session]
        journaled = [r["journal"] for r in mine if r["event"] == "request"]
        assert journaled == list(range(1, len(journaled) + 1)), journaled  # initialize + 15
        assert len(journaled) == 16
        outcomes = [r.get("outcome") for r in mine if r["event"] == "journal"]
        assert outcomes == ["open", "closed"]
    assert sorted(r["request_id"] for r in found if r.get("event") == "call") == list(range(30))
    done = verify(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "note" not in done.stderr, done.stderr


def test_a_huge_request_id_is_kept_as_its_size(tmp_path: Path) -> None:
    """A client's id of megabytes must not grow the journal past what recovery reads."""
    log = auditlog.AuditLog(str(tmp_path), KEY)
    recorder = Recorder(log, {"session": "5555666677778888"}, lambda text: None, journal=True)
    try:
        huge = "i" * 2_000_000
        why = recorder.write_now(
            {"event": "request", "method": "tools/call", "tool": "t", "request_id": huge}
        )
        assert why is None, why
        assert recorder.journal is not None
        data = Path(recorder.journal.path).read_bytes()
        assert len(data) < 4096, len(data)
        line = json.loads(data.splitlines()[1])
        assert line["request_id"] == "\u2026(2000002 bytes, not kept)", line
        assert auditlog.verify(str(tmp_path), KEY).ok
    finally:
        recorder.close()


def test_a_torn_last_line_is_not_a_request_and_the_rest_is_folded_in(tmp_path: Path) -> None:
    """A kill in the middle of a journal write: that request was never forwarded."""
    path = killed_shim(tmp_path, count=2)
    with path.open("ab") as handle:
        handle.write(b'{"n":3,"time":"2026-12-05T00:00:00.000Z","method":"tools/ca')
    assert auditlog.verify(str(tmp_path), KEY).ok
    log = auditlog.AuditLog(str(tmp_path), KEY)
    assert "folded in 2 request(s)" in journal.recover(log)[0]
    log.close()
    assert [r.get("journal") for r in records(tmp_path) if r["event"] == "request"] == [1, 2]
    assert auditlog.verify(str(tmp_path), KEY).ok


@pytest.mark.parametrize(
    "content",
    [b"not json at all\n", b"\x00\xff" * 100, b'{"n":0}\n{"n":1}\n', b"\n\n\n", b"{}" * 5000],
)
def test_a_journal_that_is_not_one_is_reported_and_left_alone(
    tmp_path: Path, content: bytes
) -> None:
    killed_shim(tmp_path)  # a log with a journal announced, to verify against
    planted = tmp_path / f"{journal.PREFIX}abcdefabcdefabcd"
    planted.write_bytes(content)
    found = problems(tmp_path)
    assert any(planted.name in problem for problem in found), found
    log = auditlog.AuditLog(str(tmp_path), KEY)
    journal.recover(log)  # folds the real orphan, never the planted file
    log.close()
    assert planted.read_bytes() == content
    assert not [r for r in records(tmp_path) if r.get("session") == "abcdefabcdefabcd"]


def test_an_empty_journal_is_left_while_it_may_be_being_created(tmp_path: Path) -> None:
    """Between O_EXCL and the header a journal is empty: never folded (or closed) then."""
    killed_shim(tmp_path)
    fresh = tmp_path / f"{journal.PREFIX}0000111122223333"
    fresh.write_bytes(b"")
    log = auditlog.AuditLog(str(tmp_path), KEY)
    journal.recover(log)
    assert fresh.exists()
    old = time.time() - 2 * journal.EMPTY_GRACE
    os.utime(fresh, (old, old))
    journal.recover(log)  # an orphan of a kill before its header: nothing in it
    log.close()
    assert not fresh.exists()
    assert not [r for r in records(tmp_path) if r.get("session") == "0000111122223333"]


def test_a_journal_replaced_by_a_symlink_is_reported_not_followed(tmp_path: Path) -> None:
    path = killed_shim(tmp_path)
    target = tmp_path / "elsewhere.jsonl"
    target.write_bytes(path.read_bytes())
    path.unlink()
    path.symlink_to(target)
    found = problems(tmp_path)
    assert any(path.name in p and "cannot be read" in p for p in found), found
    log = auditlog.AuditLog(str(tmp_path), KEY)
    assert journal.recover(log) == []
    log.close()
    assert path.is_symlink() and target.exists()


def test_a_long_sessions_journal_is_started_anew_and_stays_small(tmp_path: Path) -> None:
    """Past its size limit, once the log holds every line, the journal restarts, its
    numbering going on; a kill after a restart still leaves what the log lacks."""
    log = auditlog.AuditLog(str(tmp_path), KEY)
    session = "9999aaaabbbbcccc"
    recorder = Recorder(log, {"session": session}, lambda text: None, journal=True)
    recorder.journal_limit = 2000
    path = tmp_path / f"{journal.PREFIX}{session}"
    sizes = []
    for index in range(120):
        record = {"event": "request", "method": "tools/call", "tool": "echo", "request_id": index}
        assert recorder.write_now(record) is None
        if index % 10 == 9:
            recorder._write()  # the writer's batch (its thread waits for a flush)
            sizes.append(path.stat().st_size)
    assert max(sizes) < 4000, sizes  # without restarts: 120 lines, about 15 kB
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0]["n"] == 0 and lines[0]["first"] > 1, lines[0]
    assert [line["n"] for line in lines[1:]] == list(range(lines[0]["first"], 121))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob("*.new"))
    assert auditlog.verify(str(tmp_path), KEY).ok
    # lines written after the last batch are only in the (restarted) journal: a kill now
    for index in range(120, 123):
        record = {"event": "request", "method": "tools/call", "tool": "late", "request_id": index}
        assert recorder.write_now(record) is None
    os.close(recorder.journal.fd)  # type: ignore[union-attr]  # the owner's lock goes with it
    os.close(recorder.journal._probe)  # type: ignore[union-attr]
    recorder.journal = None
    recorder.queue.clear()  # the writer never ran again
    other = auditlog.AuditLog(str(tmp_path), KEY)
    notes = journal.recover(other)
    other.close()
    assert "folded in 3 request(s)" in notes[0], notes
    journaled = [r["journal"] for r in records(tmp_path) if r["event"] == "request"]
    assert journaled == list(range(1, 124)), journaled  # every request once
    assert auditlog.verify(str(tmp_path), KEY).ok


def test_a_journal_number_is_never_masked_as_a_numeric_secret(tmp_path: Path) -> None:
    masker = Masker()
    masker.add("secret/pin", "2")  # a short numeric value: masked where a whole value is it
    log = auditlog.AuditLog(str(tmp_path), KEY)
    recorder = Recorder(
        log, {"session": "4444555566667777"}, lambda text: None, None, masker.record,
        journal=True, generation=masker.generation,
    )  # fmt: skip
    try:
        for index in range(3):
            record = {"event": "request", "method": "tools/call", "tool": "t", "request_id": 2}
            assert recorder.write_now(record) is None, index
        recorder._write()
    finally:
        recorder.close()
    requests = [r for r in records(tmp_path) if r["event"] == "request"]
    assert [r["journal"] for r in requests] == [1, 2, 3]
    assert {r["request_id"] for r in requests} == {"[redacted mcpcred:secret/pin]"}
    assert auditlog.verify(str(tmp_path), KEY).ok


def test_forged_log_lines_do_not_make_recovery_skip_or_remove_a_journal(tmp_path: Path) -> None:
    """Lines added to the log without the key (a "closed", a "folded" line) are not the
    chain's: recovery still folds every line in, and verify reports the forgeries."""
    path = killed_shim(tmp_path, count=2)
    session = "00112233aabbccdd"
    forged = [
        {"v": 1, "seq": 2, "time": "x", "session": session, "event": "request", "journal": 1,
         "prev": "", "mac": "0" * 64},
        {"v": 1, "seq": 3, "time": "x", "session": session, "event": "journal",
         "outcome": "closed", "prev": "", "mac": "0" * 64},
    ]  # fmt: skip
    with (tmp_path / "audit.jsonl").open("a") as handle:
        for line in forged:
            handle.write(json.dumps(line, separators=(",", ":")) + "\n")
    log = auditlog.AuditLog(str(tmp_path), KEY)
    notes = journal.recover(log)
    log.close()
    assert "folded in 2 request(s)" in notes[0], notes
    assert not path.exists()
    authentic = [r for r in records(tmp_path) if r.get("mac") != "0" * 64]
    assert [r.get("journal") for r in authentic if r["event"] == "request"] == [1, 2]
    assert [r.get("outcome") for r in authentic if r["event"] == "journal"] == ["open", "closed"]
    assert any("MAC mismatch" in problem for problem in problems(tmp_path))


def test_a_large_orphan_is_folded_in_once_in_bounded_appends(tmp_path: Path) -> None:
    killed_shim(tmp_path, count=600)
    log = auditlog.AuditLog(str(tmp_path), KEY)
    assert "folded in 600 request(s)" in journal.recover(log)[0]
    log.close()
    journaled = [r["journal"] for r in records(tmp_path) if r["event"] == "request"]
    assert journaled == list(range(1, 601))
    assert auditlog.verify(str(tmp_path), KEY).ok


@pytest.mark.parametrize(
    ("value", "request_id", "shown"),
    [
        ("12345678", 991234567800, "99[redacted mcpcred:secret/n]00"),  # inside the id
        ("4711", 4711, "[redacted mcpcred:secret/n]"),  # a short value: the whole id
        ("4711", 47110, 47110),
        ("ghp_notANumber1234567890abcdefghij", 991234567800, 991234567800),
    ],
)
def test_an_integer_request_id_is_masked_in_the_journal_only_when_a_value_can_be_in_it(
    tmp_path: Path, value: str, request_id: int, shown: object
) -> None:
    """The request's path skips masking an integer id when no injected value (or form of
    one) is made of a number's characters (``Masker.masks_numbers``, as guard/run.py passes
    it); with such a value the id is masked in the journal line as in the log."""
    masker = Masker()
    masker.add("secret/n", value)
    log = auditlog.AuditLog(str(tmp_path), KEY)
    recorder = Recorder(
        log, {"session": "5555666677778888"}, lambda text: None, None, masker.record,
        journal=True, generation=masker.generation, numbers=masker.masks_numbers,
    )  # fmt: skip
    try:
        record = {"event": "request", "method": "tools/call", "tool": "t", "request_id": request_id}
        assert recorder.write_now(record) is None
        assert recorder.journal is not None
        line = json.loads(Path(recorder.journal.path).read_bytes().splitlines()[1])
        assert line["request_id"] == shown
        recorder._write()
    finally:
        recorder.close()
    logged = [r for r in records(tmp_path) if r["event"] == "request"]
    assert [r["request_id"] for r in logged] == [shown]  # the log agrees with the journal
    assert auditlog.verify(str(tmp_path), KEY).ok


def test_a_journal_line_does_not_wait_for_the_lock_its_own_writer_holds(tmp_path: Path) -> None:
    """The probe before a journal line waits while another process holds the log's lock
    (tests/guard/test_durable_log.py: a stuck one refuses the call); while this shim's own
    writer holds it for a batch, no other process can, so the line is written at once
    instead of after a poll. Another holder (another descriptor) is still waited for."""
    import fcntl

    log = auditlog.AuditLog(str(tmp_path), KEY, lock_timeout=0.5)
    recorder = Recorder(log, {"session": "9999aaaabbbbcccc"}, lambda text: None, journal=True)
    record = {"event": "request", "method": "tools/call", "tool": "t", "request_id": 1}
    try:
        assert recorder.write_now(dict(record)) is None  # the journal, opened and announced
        fd = log._lock()  # the writer's batch, as append_many takes the lock
        try:
            assert log.holding
            started = time.monotonic()
            assert recorder.write_now(dict(record, request_id=2)) is None
            assert time.monotonic() - started < 0.05  # no wait: not even one poll
        finally:
            log._release(fd)
        assert not log.holding
        other = os.open(tmp_path / auditlog.LOCK, os.O_RDWR)
        try:
            fcntl.flock(other, fcntl.LOCK_EX)  # another process's hold, as far as flock knows
            started = time.monotonic()
            why = recorder.write_now(dict(record, request_id=3))
            assert why is not None and "lock" in why, why
            assert time.monotonic() - started >= 0.5
        finally:
            os.close(other)
    finally:
        recorder.close()


def test_a_first_session_opens_its_journal_though_the_log_folder_is_not_there_yet(
    tmp_path: Path,
) -> None:
    """The first request (the client's initialize) usually comes before the writer's first
    batch made the log's folder: the journal was then never opened, and every request of
    the session went to the log directly, on the relay's thread."""
    folder = tmp_path / "data" / "log"
    recorder = Recorder(
        auditlog.AuditLog(str(folder), KEY), {"session": "abcdabcdabcdabcd"}, lambda text: None,
        journal=True,
    )  # fmt: skip
    try:
        record = {"event": "request", "method": "initialize", "request_id": 0}
        assert recorder.write_now(record) is None
        assert recorder.journal is not None
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert Path(recorder.journal.path).parent == folder
    finally:
        recorder.close()
    assert [r["event"] for r in records(folder)] == ["journal", "request", "journal"]
    assert auditlog.verify(str(folder), KEY).ok
