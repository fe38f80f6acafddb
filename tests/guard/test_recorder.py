"""The guard's audit writer: in order, redacted off the relay's threads, never fatal."""

from __future__ import annotations

import json
import time
from pathlib import Path

from mcpcred.guard.auditlog import AuditLog, verify
from mcpcred.guard.run import Recorder

KEY = bytes(range(32))


def test_records_are_written_in_order_with_the_base_and_redacted(tmp_path: Path) -> None:
    warnings: list[str] = []
    seen: list[object] = []

    def redact(value: object) -> object:
        seen.append(value)
        return "R"

    recorder = Recorder(
        AuditLog(str(tmp_path), KEY),
        {"server": "gh", "pid": 1},
        warnings.append,
        redact,
    )
    for index in range(50):
        recorder.add({"event": "call", "tool": f"t{index}", "arguments": {"k": index}})
        if index % 7 == 0:
            recorder.flush()
    recorder.close()
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["seq"] for line in lines] == list(range(1, 51))
    assert all(line["server"] == "gh" and line["pid"] == 1 for line in lines)
    assert {line["tool"] for line in lines} == {"R"} and {line["arguments"] for line in lines} == {
        "R"
    }
    assert {"k": 49} in seen  # the raw value reached the redactor, not the file
    assert verify(str(tmp_path), KEY).ok
    assert warnings == []


def test_a_log_that_cannot_be_written_warns_once(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    warnings: list[str] = []
    recorder = Recorder(AuditLog(str(blocked / "log"), KEY), {}, warnings.append)
    for _ in range(3):
        recorder.add({"event": "call"})
        recorder.flush()
        recorder._write()
    recorder.close()
    assert len(warnings) == 1 and "cannot write the audit log" in warnings[0]
    assert recorder.failures >= 2


def test_a_request_record_is_in_the_file_at_once_and_its_head_follows_off_the_relay(
    tmp_path: Path,
) -> None:
    """write_now: the record before it returns (the request is forwarded after it); the
    head file names it once the writer's thread has run (woken by the relay's flush)."""
    warnings: list[str] = []
    recorder = Recorder(AuditLog(str(tmp_path), KEY), {"server": "gh"}, warnings.append)
    assert recorder.write_now({"event": "session"}) is None
    recorder.flush()
    assert recorder.write_now({"event": "request", "tool": "t", "request_id": 7}) is None
    lines = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    assert [line["event"] for line in lines] == ["session", "request"]
    head = json.loads((tmp_path / "audit.head").read_text())
    assert head["seq"] == 1  # one record past the head: what verify accepts after a kill
    assert verify(str(tmp_path), KEY).ok
    recorder.flush()  # nothing queued: the writer only settles the head
    deadline = time.monotonic() + 10
    while json.loads((tmp_path / "audit.head").read_text())["seq"] != 2:
        assert time.monotonic() < deadline, "the writer never updated the head"
        time.sleep(0.005)
    head = json.loads((tmp_path / "audit.head").read_text())
    assert head["mac"] == lines[-1]["mac"]
    # The next request's record brings a due head up to date itself: never two past it.
    assert recorder.write_now({"event": "request", "request_id": 8}) is None
    assert recorder.write_now({"event": "request", "request_id": 9}) is None
    assert json.loads((tmp_path / "audit.head").read_text())["seq"] == 4
    recorder.close()
    result = verify(str(tmp_path), KEY)
    assert result.ok and not result.notes
    assert warnings == []
