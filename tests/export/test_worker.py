"""The export worker against a real OTLP receiver and a real (keyed) audit log: within a
second, at least once across a collector outage, 10,000 records, the cursor, lost records."""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpcred.export import config, targets, worker
from mcpcred.export.otlp import OtlpSink
from mcpcred.guard import auditlog
from tests.support.otlp_receiver import Receiver

KEY = bytes.fromhex("cd" * 32)


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("MCPCRED_RUNTIME_DIR", str(runtime))
    monkeypatch.setattr(worker, "FIRST_BACKOFF", 0.1)
    monkeypatch.setattr(worker, "MAX_BACKOFF", 0.4)
    return tmp_path


def _call(n: int) -> dict[str, object]:
    return {"event": "call", "server": "db", "session": "s1", "method": "tools/call",
            "tool": f"t{n % 7}", "request_id": n, "outcome": "ok", "duration_ms": 1.5}  # fmt: skip


class Running:
    """``worker.run`` in a thread, stopped at the end of the test."""

    def __init__(self, target: targets.Target, folder: str, **options: object) -> None:
        self.stopping = threading.Event()
        self.notes: list[str] = []
        self.code: int | None = None

        # 5 s as a real target: a shorter timeout under a loaded CI machine gave up on sends
        # the receiver had taken, and the resent batch broke the test's no-duplicates check.
        def sink(t: targets.Target) -> OtlpSink:
            return OtlpSink(t.url, timeout=5.0)

        def main() -> None:
            self.code = worker.run(
                [target], folder, make_sink=sink, stop=self.stopping.is_set,
                note=self.notes.append, **options,  # type: ignore[arg-type]
            )  # fmt: skip

        self.thread = threading.Thread(target=main, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        assert not self.thread.is_alive()


def _wait(what: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not what():
        assert time.monotonic() - started < seconds, "timed out"
        time.sleep(0.02)
    return time.monotonic() - started


def test_records_arrive_within_a_second_and_the_cursor_follows(
    dirs: Path, receiver: Receiver
) -> None:
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY)
    log.append(_call(1))
    target = targets.parse(receiver.url)
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: receiver.seqs() == [1], 5)
        log.append_many([_call(2), _call(3)])
        took = _wait(lambda: receiver.seqs() == [1, 2, 3], 5)
        assert took < 1.0, took
        key = f"{target.scheme}://{target.host}:{target.port}"
        _wait(lambda: worker.read_cursor(key) == 3, 2)
        path = Path(worker.cursor_path(key))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        # a second worker for the same target finds it taken and leaves at once
        assert worker.run([target], folder, alive=lambda: True, note=print) == 0
    finally:
        running.stop()
    assert running.code == 0


def test_a_collector_down_then_back_gets_everything(dirs: Path, receiver: Receiver) -> None:
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY)
    target = targets.parse(receiver.url)
    port = receiver.port
    running = Running(target, folder, alive=lambda: True)
    try:
        log.append_many([_call(n) for n in range(1, 11)])
        _wait(lambda: len(receiver.seqs()) == 10, 5)
        # The worker's send is the log records and then the spans: the receiver holding the
        # records is not yet the batch delivered. Stopping it before the cursor moved made the
        # worker send 1-10 again (at least once, as it should) and the test fail under load.
        _wait(lambda: worker.read_cursor(config.key(target)) == 10, 5)
        receiver.stop()
        log.append_many([_call(n) for n in range(11, 61)])  # written while it is down
        time.sleep(1.5)  # a few failed sends, backing off
        back = Receiver(port=port).start()
        try:
            _wait(lambda: set(back.seqs()) == set(range(11, 61)), 10)
            log.append(_call(61))
            _wait(lambda: 61 in back.seqs(), 3)
            got = back.seqs()
            assert sorted(set(got)) == list(range(11, 62))  # nothing lost ...
            assert len(got) == len(set(got))  # ... and the outage sent nothing twice here
        finally:
            back.stop()
    finally:
        running.stop()


def test_ten_thousand_records(dirs: Path, receiver: Receiver) -> None:
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY)
    for start in range(1, 10_001, 1000):
        log.append_many([_call(n) for n in range(start, start + 1000)], stored=False)
    target = targets.parse(receiver.url)
    running = Running(target, folder, alive=lambda: True)
    try:
        took = _wait(lambda: len(receiver.seqs()) >= 10_000, 60)
    finally:
        running.stop()
    assert receiver.seqs() == list(range(1, 10_001)), "in order, once each"
    assert len(receiver.spans) == 10_000
    print(f"10,000 records exported in {took:.1f} s")


def test_records_rotated_away_before_export_are_a_finding(dirs: Path, receiver: Receiver) -> None:
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY, max_bytes=4000, keep=1)
    log.append_many([_call(n) for n in range(1, 6)])
    target = targets.parse(receiver.url)
    key = f"{target.scheme}://{target.host}:{target.port}"
    worker.write_cursor(key, 5)  # exported up to 5 earlier; then the worker was not running
    for n in range(6, 200):
        log.append(_call(n))  # rotates many times: only the newest two files stay
    oldest = next(auditlog.read(folder))[2]
    assert oldest is not None
    first = int(oldest["seq"])  # type: ignore[call-overload]
    assert first > 6
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: 199 in receiver.seqs(), 5)
    finally:
        running.stop()
    assert running.notes == [
        f"{first - 6} audit record(s) (seq 6\u2013{first - 1}) were rotated out of the local log "
        f"before they could be exported to {target.shown}"
    ]
    assert receiver.seqs() == list(range(first, 200))


def test_a_log_started_anew_while_no_worker_ran_is_exported_from_its_start(
    dirs: Path, receiver: Receiver
) -> None:
    """Deleted and begun again, the log grew past the old cursor before the worker ran.

    With the cursor's ``seq`` alone the new log's records 1-20 were taken for the ones
    already sent and never exported, without a word. The cursor keeps the record's MAC.
    """
    folder = auditlog.default_folder()
    target = targets.parse(receiver.url)
    log = auditlog.AuditLog(folder, KEY)
    log.append_many([_call(n) for n in range(1, 21)])
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: worker.read_cursor(config.key(target)) == 20, 5)
    finally:
        running.stop()
    log.close()
    shutil.rmtree(folder)  # the whole log deleted; a new one begins at seq 1
    fresh = auditlog.AuditLog(folder, KEY)
    fresh.append_many([_call(100 + n) for n in range(1, 31)])
    before = len(receiver.seqs())
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: len(receiver.seqs()) >= before + 30, 5)
    finally:
        running.stop()
    resent = receiver.seqs()[before:]
    assert sorted(set(resent))[:30] == list(range(1, 31))  # every record of the new log
    assert any("started anew" in note for note in running.notes)


def test_the_worker_leaves_when_no_shim_runs_and_all_is_sent(
    dirs: Path, receiver: Receiver
) -> None:
    folder = auditlog.default_folder()
    auditlog.AuditLog(folder, KEY).append(_call(1))
    started = time.monotonic()
    code = worker.run(
        [targets.parse(receiver.url)], folder, idle_seconds=0.3, alive=lambda: False, note=print
    )
    assert code == 0 and receiver.seqs() == [1]
    assert time.monotonic() - started < 5


def test_shims_running_sees_a_shared_lock(dirs: Path) -> None:
    import fcntl

    from mcpcred.paths import runtime_path

    assert not worker.shims_running()
    fd = os.open(os.path.join(runtime_path(), worker.USERS_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        assert worker.shims_running()
    finally:
        os.close(fd)
    assert not worker.shims_running()


def test_a_batch_the_collector_refuses_for_its_content_is_skipped_with_a_finding(
    dirs: Path, receiver: Receiver
) -> None:
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY)
    log.append_many([_call(1), _call(2)])
    receiver.fail_with = 400  # e.g. a record the collector's limits reject: never accepted
    target = targets.parse(receiver.url)
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: len(running.notes) == 2, 15)  # narrowed down to each record, then skipped
        receiver.fail_with = None
        log.append(_call(3))
        _wait(lambda: receiver.seqs() == [3], 5)  # what follows is not held back
    finally:
        running.stop()
    assert running.notes == [
        f"1 audit record(s) (seq {n}) were not exported: the collector at {target.shown} "
        f"refused the log records: HTTP 400 {worker.REFUSALS_BEFORE_SKIP} times"
        for n in (1, 2)
    ]
    assert len(receiver.headers) >= 2 * worker.REFUSALS_BEFORE_SKIP + 1


def test_one_record_the_collector_refuses_does_not_take_its_batch_with_it(
    dirs: Path, receiver: Receiver
) -> None:
    """Regression: a refused batch was skipped whole, so one record a collector will not
    take (a hostile server's odd tool name, say) kept up to 511 other calls out of it.
    Now the batch is halved until the refused record is alone, and only it is skipped."""
    folder = auditlog.default_folder()
    log = auditlog.AuditLog(folder, KEY)
    records = [_call(n) for n in range(1, 301)]
    records[149] = {**records[149], "tool": "poison-record"}  # seq 150
    log.append_many(records)
    receiver.refuse_holding = b"poison-record"
    target = targets.parse(receiver.url)
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: len(set(receiver.seqs())) == 299, 15)
    finally:
        running.stop()
    assert sorted(set(receiver.seqs())) == [n for n in range(1, 301) if n != 150]
    assert running.notes == [
        f"1 audit record(s) (seq 150) were not exported: the collector at {target.shown} "
        f"refused the log records: HTTP 400 {worker.REFUSALS_BEFORE_SKIP} times"
    ]


def test_a_collector_that_wants_credentials_is_retried_not_skipped(
    dirs: Path, receiver: Receiver
) -> None:
    folder = auditlog.default_folder()
    auditlog.AuditLog(folder, KEY).append(_call(1))
    receiver.fail_with = 401  # fixable: store the right token; the records must wait
    target = targets.parse(receiver.url)
    running = Running(target, folder, alive=lambda: True)
    try:
        _wait(lambda: len(receiver.headers) >= 5, 10)
        receiver.fail_with = None
        _wait(lambda: receiver.seqs() == [1], 5)
    finally:
        running.stop()
    assert running.notes == []


def test_memory_is_bounded_and_the_rest_is_read_from_the_log_again(
    dirs: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "MAX_PENDING", 100)
    monkeypatch.setattr(worker, "BATCH", 40)
    folder = auditlog.default_folder()
    auditlog.AuditLog(folder, KEY).append_many([_call(n) for n in range(1, 1001)])
    target = targets.parse(receiver.url)
    shipper = worker.Shipper(target, folder, lambda t: OtlpSink(t.url), print)
    most = 0
    while len(receiver.seqs()) < 1000:
        assert shipper.step()
        most = max(most, len(shipper.pending))
    assert most <= 100
    assert receiver.seqs() == list(range(1, 1001))  # in order, none twice, none lost
    assert not shipper.step()  # nothing left, and an unchanged log is not read again


def test_the_cursor_never_follows_a_link_and_its_folder_is_made_private(dirs: Path) -> None:
    """Regression: the cursor's temp file was opened with O_TRUNC and no O_NOFOLLOW, so a
    link planted at its name truncated and overwrote the file it points to; a cursor
    folder made loose (0755) stayed so."""
    key = "otlp+http://127.0.0.1:4318"
    folder = Path(worker.cursor_folder())
    folder.chmod(0o755)
    victim = dirs / "victim.txt"
    victim.write_text("keep me\n")
    temp = Path(f"{worker.cursor_path(key)}.{os.getpid()}.tmp")
    temp.symlink_to(victim)
    worker.write_cursor(key, 7)
    assert victim.read_text() == "keep me\n"
    assert worker.read_cursor(key) == 7
    assert not temp.exists() and not temp.is_symlink()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(Path(worker.cursor_path(key)).stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "text", [b"", b"\xff\xfe", b"[]", b'{"seq": true}', b'{"seq": -4}', b'{"seq": "9"}', b"{"]
)
def test_a_corrupt_cursor_is_read_as_none_yet_so_records_are_sent_again_not_lost(
    dirs: Path, text: bytes
) -> None:
    key = "otlp+http://127.0.0.1:4318"
    Path(worker.cursor_path(key)).write_bytes(text)
    assert worker.read_cursor(key) == 0


def test_a_collector_that_refuses_everything_does_not_grow_the_log_with_findings(
    dirs: Path,
) -> None:
    """Regression: each skipped record made a finding, which was exported, refused and
    skipped in turn, making another: one record more in the local log every few seconds
    for as long as the collector refused everything."""
    folder = auditlog.default_folder()
    auditlog.AuditLog(folder, KEY).append(_call(1))
    notes: list[str] = []

    class Refusing:
        def send(self, records: object) -> None:
            raise targets.RefusedBatch("the collector at x refused the log records: HTTP 400")

        def close(self) -> None:
            pass

    shipper = worker.Shipper(
        targets.parse("otlp+http://127.0.0.1:9"), folder, lambda t: Refusing(), notes.append
    )
    log = auditlog.AuditLog(folder, KEY)

    def note(text: str) -> None:
        notes.append(text)
        log.append({"event": "finding", "detail": text})

    shipper.note = note
    for _ in range(40):
        shipper.retry_at = 0.0
        shipper.step()
    assert len(notes) == 1, notes  # the call's; not one for the finding about it
    assert shipper.cursor == 2  # both skipped: nothing holds the rest back
