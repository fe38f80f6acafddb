"""The audit log: an HMAC chain across appends, processes and rotations, and what verify catches."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.errors import SecretCorrupt, ShimError
from mcpcred.guard import auditlog
from mcpcred.guard.auditlog import AuditLog, Follower, Verification, verify
from mcpcred.oauth.lock import held

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "log"


def _fill(
    folder: Path, count: int, *, max_bytes: int = 10_000_000, keep: int = 5
) -> list[dict[str, object]]:
    log = AuditLog(str(folder), KEY, max_bytes=max_bytes, keep=keep)
    return [
        log.append({"event": "call", "server": "gh", "tool": f"tool_{i}", "pid": 7})
        for i in range(1, count + 1)
    ]


def _lines(folder: Path, name: str = auditlog.CURRENT) -> list[str]:
    return (folder / name).read_text().splitlines(keepends=True)


def _rewrite(folder: Path, lines: list[str], name: str = auditlog.CURRENT) -> None:
    (folder / name).write_text("".join(lines))


def _only_problem(result: Verification) -> auditlog.Problem:
    assert not result.ok
    assert len(result.problems) == 1, [str(p) for p in result.problems]
    return result.problems[0]


def _mac(key: bytes, record: dict[str, object]) -> str:
    body = {k: v for k, v in record.items() if k != "mac"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


# -- writing -----------------------------------------------------------------------------


def test_records_chain_across_appends(folder: Path) -> None:
    clock = iter([1_700_000_000.1234, 1_700_000_001.5, 1_700_000_002.0])
    log = AuditLog(str(folder), KEY, clock=lambda: next(clock))
    written = [
        log.append({"event": "session", "server": "gh", "client": "claude-code"}),
        log.append({"event": "call", "server": "gh", "tool": "create_issue", "duration_ms": 1.5}),
        log.append({"event": "exit", "server": "gh", "detail": "ünïcode ✓"}),
    ]
    stored = [json.loads(line) for line in _lines(folder)]
    assert stored == written
    assert [r["seq"] for r in stored] == [1, 2, 3]
    assert stored[0]["prev"] == ""
    assert stored[1]["prev"] == stored[0]["mac"]
    assert stored[2]["prev"] == stored[1]["mac"]
    assert stored[0]["time"] == "2023-11-14T22:13:20.123Z"
    assert all(
        re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(r["time"])) for r in stored
    )
    assert list(stored[1]) == [
        "v",
        "seq",
        "time",
        "event",
        "server",
        "tool",
        "duration_ms",
        "prev",
        "mac",
    ]
    for record in stored:
        assert record["v"] == 1
        assert record["mac"] == _mac(KEY, record)  # the documented MAC, computed independently
    assert "ünïcode ✓" in (folder / auditlog.CURRENT).read_text(encoding="utf-8")
    head = json.loads((folder / auditlog.HEAD).read_text())
    assert head["seq"] == 3
    assert head["mac"] == stored[2]["mac"]
    expected = hmac.new(KEY, f"head:3:{stored[2]['mac']}".encode(), hashlib.sha256).hexdigest()
    assert head["hmac"] == expected
    result = verify(str(folder), KEY)
    assert result.ok, [str(p) for p in result.problems]
    assert (result.records, result.first_seq, result.last_seq) == (3, 1, 3)
    assert result.notes == []


def test_the_caller_cannot_set_the_chain_fields(folder: Path) -> None:
    log = AuditLog(str(folder), KEY)
    for name in ("v", "seq", "time", "prev", "mac"):
        with pytest.raises(ValueError, match=name):
            log.append({"event": "call", name: 99})
    with pytest.raises(ValueError, match="event"):
        log.append({"server": "gh"})
    assert not (folder / auditlog.CURRENT).exists()
    assert log.append({"event": "call"})["seq"] == 1


def test_values_json_cannot_hold_are_stored_as_text_and_still_verify(folder: Path) -> None:
    log = AuditLog(str(folder), KEY)
    record = log.append(
        {"event": "call", "arguments": {"path": Path("/x"), "ids": (1, 2)}, "detail": "a\udcffb"}
    )
    assert record["arguments"] == {"path": "/x", "ids": [1, 2]}
    assert record["detail"] == "a?b"
    assert verify(str(folder), KEY).ok


def test_concurrent_appends_from_several_processes_keep_one_chain(folder: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from mcpcred.guard.auditlog import AuditLog
        log = AuditLog(sys.argv[1], bytes(range(32)))
        for i in range(50):
            log.append({"event": "call", "tool": "t", "detail": f"{sys.argv[2]}-{i}"})
        """
    )
    workers = [
        subprocess.Popen([sys.executable, "-c", script, str(folder), str(n)], cwd=ROOT)
        for n in range(4)
    ]
    assert [w.wait(timeout=60) for w in workers] == [0, 0, 0, 0]
    records = [r for _, _, r in auditlog.read(str(folder))]
    assert all(r is not None for r in records)
    seqs = [r["seq"] for r in records if r is not None]
    assert seqs == list(range(1, 201))
    details = {r["detail"] for r in records if r is not None}
    assert details == {f"{n}-{i}" for n in range(4) for i in range(50)}
    result = verify(str(folder), KEY)
    assert result.ok, [str(p) for p in result.problems]
    assert result.records == 200


def test_rotation_keeps_the_chain_and_only_keep_files(folder: Path) -> None:
    _fill(folder, 60, max_bytes=2000, keep=2)
    names = sorted(os.listdir(folder))
    assert names == ["audit.head", "audit.jsonl", "audit.jsonl.1", "audit.jsonl.2", "audit.lock"]
    for name in ("audit.jsonl", "audit.jsonl.1", "audit.jsonl.2"):
        assert 0 < (folder / name).stat().st_size <= 2000
    seqs = [int(str(r["seq"])) for _, _, r in auditlog.read(str(folder)) if r is not None]
    assert seqs == list(range(seqs[0], 61))
    assert seqs[0] > 1
    assert next(auditlog.read(str(folder)))[0] == "audit.jsonl.2"
    result = verify(str(folder), KEY)
    assert result.ok, [str(p) for p in result.problems]
    assert (result.first_seq, result.last_seq) == (seqs[0], 60)
    assert len(result.notes) == 1
    assert f"starts at seq {seqs[0]}" in result.notes[0]


def test_a_rotated_file_removed_from_the_middle_is_a_gap(folder: Path) -> None:
    _fill(folder, 60, max_bytes=2000, keep=3)
    first_of_newer = json.loads(_lines(folder, "audit.jsonl.1")[0])
    (folder / "audit.jsonl.2").unlink()
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.line, problem.seq) == ("audit.jsonl.1", 1, first_of_newer["seq"])
    assert "missing before this one" in problem.message


def test_files_are_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "log"
    old = os.umask(0)
    try:
        _fill(folder, 12, max_bytes=700, keep=3)
    finally:
        os.umask(old)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    names = sorted(os.listdir(folder))
    assert {"audit.jsonl", "audit.jsonl.1", "audit.head", "audit.lock"} <= set(names)
    for name in names:
        assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600, name


def test_default_folder_is_private_in_the_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    folder = auditlog.default_folder()
    assert folder == str(tmp_path / "data" / "log")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_a_lost_head_file_is_rebuilt_from_the_last_line(folder: Path) -> None:
    written = _fill(folder, 3)
    (folder / auditlog.HEAD).unlink()
    missing = _only_problem(verify(str(folder), KEY))
    assert missing.file == auditlog.HEAD
    assert "head file is missing" in missing.message
    record = AuditLog(str(folder), KEY).append({"event": "call"})
    assert record["seq"] == 4
    assert record["prev"] == written[-1]["mac"]
    assert verify(str(folder), KEY).ok


def test_a_crash_between_line_and_head_is_healed(folder: Path) -> None:
    _fill(folder, 2)
    stale = (folder / auditlog.HEAD).read_bytes()
    third = AuditLog(str(folder), KEY).append({"event": "call"})
    (folder / auditlog.HEAD).write_bytes(stale)  # as if the writer died before the head
    result = verify(str(folder), KEY)
    assert result.ok, [str(p) for p in result.problems]
    assert any("interrupted" in note for note in result.notes)
    fourth = AuditLog(str(folder), KEY).append({"event": "call"})
    assert (fourth["seq"], fourth["prev"]) == (4, third["mac"])
    after = verify(str(folder), KEY)
    assert after.ok and after.records == 4 and after.notes == []


def test_a_torn_line_stays_on_its_own_line(folder: Path) -> None:
    _fill(folder, 2)
    with open(folder / auditlog.CURRENT, "ab") as handle:
        handle.write(b'{"v":1,"seq":3,"ti')  # a writer died mid-line
    record = AuditLog(str(folder), KEY).append({"event": "call"})
    assert record["seq"] == 3
    assert json.loads(_lines(folder)[3]) == record
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.line, problem.seq) == (auditlog.CURRENT, 3, None)
    assert problem.message == "not a JSON record"


def test_the_lock_times_out_with_an_mcpcred_error(folder: Path) -> None:
    _fill(folder, 1)
    log = AuditLog(str(folder), KEY, lock_timeout=0.05)
    with (
        held(str(folder / auditlog.LOCK), timeout=1, what="test"),
        pytest.raises(ShimError, match="audit log"),
    ):
        log.append({"event": "call"})
    assert len(_lines(folder)) == 1


def test_keys() -> None:
    text = auditlog.new_key_text()
    assert re.fullmatch(r"[0-9a-f]{64}", text)
    assert auditlog.new_key_text() != text
    assert auditlog.key_from_text(text + "\n") == bytes.fromhex(text)
    for bad in ("", "not hex", "abcd"):
        with pytest.raises(SecretCorrupt):
            auditlog.key_from_text(bad)
    assert auditlog.KEY_NAME == "audit:key"


# -- verifying ---------------------------------------------------------------------------


def test_no_log_verifies_with_no_records(folder: Path) -> None:
    for path in (folder, folder.parent):  # missing, and empty
        result = verify(str(path), KEY)
        assert result.ok and result.records == 0 and result.first_seq is None
    assert not auditlog.exists(str(folder))


def test_an_edited_field_is_one_mac_mismatch(folder: Path) -> None:
    _fill(folder, 10)
    lines = _lines(folder)
    lines[4] = lines[4].replace('"tool_5"', '"tool_X"')
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.line, problem.seq) == (auditlog.CURRENT, 5, 5)
    assert problem.message == "record was modified (MAC mismatch)"
    assert str(problem) == "audit.jsonl:5: seq 5: record was modified (MAC mismatch)"
    assert "tool_X" not in str(problem)


def test_a_deleted_middle_line_is_one_gap(folder: Path) -> None:
    _fill(folder, 10)
    lines = _lines(folder)
    del lines[4]
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.seq) == (5, 6)
    assert problem.message == "record missing before this one (seq 6 follows 4)"


def test_deleted_last_lines_are_caught_by_the_head(folder: Path) -> None:
    _fill(folder, 10)
    _rewrite(folder, _lines(folder)[:8])
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.line, problem.seq) == (auditlog.CURRENT, 9, 10)
    assert "log ends before the last record the head file names (seq 10)" in problem.message


def test_a_head_rewritten_without_the_key_is_caught(folder: Path) -> None:
    written = _fill(folder, 10)
    _rewrite(folder, _lines(folder)[:9])
    forged = {"seq": 9, "mac": written[8]["mac"], "hmac": "0" * 64}
    (folder / auditlog.HEAD).write_text(json.dumps(forged))
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.seq) == (auditlog.HEAD, 9)
    assert problem.message == "head file was modified (MAC mismatch)"


def test_reordered_lines_are_caught(folder: Path) -> None:
    _fill(folder, 10)
    lines = _lines(folder)
    lines[3], lines[4] = lines[4], lines[3]
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert problem.line == 4


def test_a_repeated_line_is_caught(folder: Path) -> None:
    _fill(folder, 10)
    lines = _lines(folder)
    lines.insert(5, lines[4])
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.seq) == (6, 5)
    assert "out of order or repeated" in problem.message


def test_an_inserted_forged_line_is_one_problem(folder: Path) -> None:
    written = _fill(folder, 10)
    forged: dict[str, object] = {
        **{k: v for k, v in written[4].items() if k != "mac"},
        "seq": 6,
        "tool": "exfiltrate",
        "prev": written[4]["mac"],
    }
    forged["mac"] = _mac(OTHER_KEY, forged)
    lines = _lines(folder)
    lines.insert(5, json.dumps(forged, separators=(",", ":")) + "\n")
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.seq) == (6, 6)
    assert problem.message == "record was modified (MAC mismatch)"


def test_a_non_json_line_is_one_problem(folder: Path) -> None:
    _fill(folder, 5)
    lines = _lines(folder)
    lines.insert(2, "hello\n")
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.seq, problem.message) == (3, None, "not a JSON record")


def test_a_record_replaced_by_junk_is_one_problem(folder: Path) -> None:
    _fill(folder, 5)
    lines = _lines(folder)
    lines[2] = '["not", "a", "record"]\n'
    _rewrite(folder, lines)
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.message) == (3, "not a JSON record")


def test_the_wrong_key_is_one_problem(folder: Path) -> None:
    _fill(folder, 10)
    problem = _only_problem(verify(str(folder), OTHER_KEY))
    assert (problem.line, problem.seq) == (1, 1)
    assert "no record matches the key" in problem.message


def test_a_problem_in_one_file_is_reported_with_its_file_and_line(folder: Path) -> None:
    _fill(folder, 60, max_bytes=2000, keep=2)
    lines = _lines(folder, "audit.jsonl.1")
    lines[2] = lines[2].replace('"pid":7', '"pid":8')
    _rewrite(folder, lines, "audit.jsonl.1")
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.file, problem.line) == ("audit.jsonl.1", 3)
    assert problem.seq == json.loads(lines[2])["seq"]


def test_every_problem_is_reported(folder: Path) -> None:
    _fill(folder, 20)
    lines = _lines(folder)
    lines[2] = lines[2].replace('"gh"', '"GH"')
    del lines[10]
    _rewrite(folder, lines[:-1])
    result = verify(str(folder), KEY)
    assert [(p.line, p.seq) for p in result.problems] == [(3, 3), (11, 12), (19, 20)]
    assert result.as_dict()["ok"] is False
    assert result.as_dict()["problems"] == [p.as_dict() for p in result.problems]


# -- reading -----------------------------------------------------------------------------


def test_read_yields_every_line_with_file_and_number(folder: Path) -> None:
    _fill(folder, 3)
    with open(folder / auditlog.CURRENT, "a") as handle:
        handle.write("junk\n")
    rows = list(auditlog.read(str(folder)))
    assert [(name, number) for name, number, _ in rows] == [
        (auditlog.CURRENT, n) for n in (1, 2, 3, 4)
    ]
    assert [r["tool"] if r else None for _, _, r in rows] == ["tool_1", "tool_2", "tool_3", None]


def _tools(lines: list[auditlog.Line]) -> Iterator[object]:
    for _, _, record in lines:
        yield record["tool"] if record else None


def test_follower_returns_each_new_line_once_across_rotations(folder: Path) -> None:
    log = AuditLog(str(folder), KEY, max_bytes=1000, keep=5)
    follower = Follower(str(folder))
    assert follower.poll() == []
    log.append({"event": "call", "tool": "first"})
    assert list(_tools(follower.poll())) == ["first"]
    assert follower.poll() == []
    names = [f"t{i}" for i in range(12)]  # several rotations between two polls
    for name in names:
        log.append({"event": "call", "tool": name})
    assert os.path.exists(folder / "audit.jsonl.2")
    assert list(_tools(follower.poll())) == names
    log.append({"event": "call", "tool": "last"})
    with open(folder / auditlog.CURRENT, "ab") as handle:
        handle.write(b'{"half":')  # being written: not yet a line
    assert list(_tools(follower.poll())) == ["last"]
    with open(folder / auditlog.CURRENT, "ab") as handle:
        handle.write(b"1}\n")
    assert [record for _, _, record in follower.poll()] == [{"half": 1}]


def test_follower_starts_with_everything_present(folder: Path) -> None:
    _fill(folder, 30, max_bytes=1000, keep=9)
    seqs = [r["seq"] for _, _, r in Follower(str(folder)).poll() if r]
    assert seqs == list(range(1, 31))


def test_follower_is_not_fooled_by_a_new_file_on_a_reused_inode(folder: Path) -> None:
    _fill(folder, 3)
    follower = Follower(str(folder))
    assert len(follower.poll()) == 3
    with open(folder / auditlog.CURRENT, "r+b") as handle:  # same inode, other content
        handle.truncate(0)
        handle.write(b'{"seq":99}\n')
    assert [record for _, _, record in follower.poll()] == [{"seq": 99}]


def test_a_batch_continues_the_chain_in_order(folder: Path) -> None:
    first = _fill(folder, 2)
    log = AuditLog(str(folder), KEY)
    batch = log.append_many([{"event": "call", "tool": f"b{i}"} for i in range(5)])
    assert [r["seq"] for r in batch] == [3, 4, 5, 6, 7]
    assert batch[0]["prev"] == first[-1]["mac"]
    assert all(b["prev"] == a["mac"] for a, b in itertools.pairwise(batch))
    assert all(r["mac"] == _mac(KEY, r) for r in batch)
    assert log.append_many([]) == []
    result = verify(str(folder), KEY)
    assert result.ok and result.records == 7, [str(p) for p in result.problems]
    with pytest.raises(ValueError, match="set by the log"):
        log.append_many([{"event": "call"}, {"event": "call", "seq": 1}])
    assert verify(str(folder), KEY).records == 7  # a bad batch writes nothing


@pytest.mark.parametrize("seconds", [0.0, 0.9995, 59.999, 1_700_000_000.123, 1_764_856_800.5])
def test_timestamps_match_strftime_whatever_was_cached(seconds: float) -> None:
    import time

    auditlog._timestamp(seconds + 1)  # another second in the cache first
    for at in (seconds, seconds + 0.001, seconds):
        whole, millis = divmod(int(at * 1000), 1000)
        expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"
        assert auditlog._timestamp(at) == expected


def test_the_head_file_is_what_json_writes(folder: Path) -> None:
    for seq, mac in ((1, "ab" * 32), (0, ""), (7, 'odd "mac" \\ \u00e9')):
        text = json.dumps(
            {"seq": seq, "mac": mac, "hmac": auditlog._head_mac(KEY, seq, mac)},
            separators=(",", ":"),
        )
        assert auditlog._head_bytes(KEY, seq, mac) == (text.ljust(255) + "\n").encode()


def test_a_log_folder_removed_between_appends_is_made_again(folder: Path) -> None:
    import shutil

    log = AuditLog(str(folder / "log"), KEY)
    log.append({"event": "call"})
    shutil.rmtree(folder / "log")
    log.append({"event": "call"})
    assert (folder / "log" / auditlog.CURRENT).exists()
    log.close()


class _Odd:
    def __str__(self) -> str:
        return "odd object"


SEALED_RECORDS: list[dict[str, object]] = [
    {"event": "call"},
    {"event": "request", "server": "s", "session": "ab", "tool": "t", "request_id": 7},
    {"event": "x", "arguments": {"z": 1, "a": [1, 2.5, None, True], "prev": "p", "seq": 3}},
    {"event": "x", "pre": 1, "prev0": 2, "seq0": 3, "sequence": 4, "tim": 5, "timex": 6},
    {"event": "x", "u": 1, "w": 2, "vv": 3, "": 4, "Z": 5, "~": 6, "\u00e9": "\u00e9\u2028"},
    {"event": "x", "tuple": (1, "b"), "object": _Odd(), "nested": {"b": {"d": 1, "c": 2}}},
    {"event": "x", "ints": {10: "ten", 9: "nine"}, "float": 1e300, "neg": -0.0},
    {"event": "x", "quote": 'a"b\\c\n\t\x00', "emoji": "\U0001f600"},
    {"event": "x", "lone": "\ud800 half a pair"},  # sealed by the general path
]


def _is_json(value: object) -> bool:
    """Whether ``value`` is JSON as json.loads returns it (what ``plain`` promises)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_json(item) for item in value)
    return value is None or isinstance(value, (str, int, float))


@pytest.mark.parametrize("record", SEALED_RECORDS)
@pytest.mark.parametrize("prev", ["", "ab" * 32, 'odd "prev" \u00e9'])
def test_records_serialised_before_the_lock_are_sealed_as_the_general_path_does(
    record: dict[str, object], prev: str
) -> None:
    stamp = "2026-12-04T15:00:00.123Z"
    expected = auditlog._seal(KEY, record, 42, stamp, prev)
    entry = auditlog._Entry.of(record)
    if "lone" in record:
        assert entry is None
        return
    assert entry is not None
    assert entry.seal(KEY, 42, stamp, prev) == expected
    line, stored, mac = expected
    assert json.loads(line) == stored
    assert stored["mac"] == mac
    assert auditlog._authentic(KEY, stored)
    # As the log seals it: under its precomputed key, without building the stored record.
    assert entry.seal(auditlog.Keyed(KEY), 42, stamp, prev, keep=False) == (line, {}, mac)
    # A request's record, promised plain (JSON as json.loads returns it): signed as it
    # is, with the same line and MAC as read back from its JSON.
    if _is_json(record):
        plain = auditlog._Entry.of(record, plain=True)
        assert plain is not None
        assert plain.seal(auditlog.Keyed(KEY), 42, stamp, prev, keep=False) == (line, {}, mac)


def test_a_record_promised_plain_that_is_not_is_still_sealed_right(folder: Path) -> None:
    """What a caller could get wrong at the top: a key that is not a string, an object."""
    log = AuditLog(str(folder), KEY)
    log.append_many([{"event": "x", 7: "seven"}], plain=True)  # type: ignore[dict-item]
    log.append_many([{"event": "x", "object": _Odd()}], plain=True)
    log.close()
    lines = [json.loads(line) for line in _lines(folder)]
    assert lines[0]["7"] == "seven" and lines[1]["object"] == "odd object"
    assert verify(str(folder), KEY).ok


@pytest.mark.parametrize("size", [16, 32, 63, 64, 65, 200])
def test_the_precomputed_key_gives_the_hmac_of_the_standard_library(size: int) -> None:
    import hashlib
    import hmac

    key = bytes(range(7, 7 + size))
    keyed = auditlog.Keyed(key)
    for data in (b"", b"head:1:ab", b"x" * 63, b"y" * 64, b"z" * 1000):
        assert keyed.hexdigest(data) == hmac.new(key, data, hashlib.sha256).hexdigest()
    # A journal's MAC, its session prefix hashed once (by CPython's own SHA-256): the same
    # HMAC of prefix and line, line after line (the state it copies is never changed).
    for prefix in (b"", b"mcpcred-journal\0" + b"ab" * 8 + b"\0", b"p" * 70):
        after = keyed.after(prefix)
        for data in (b"", b'{"n":1}', b"x" * 63, b"y" * 64, b"z" * 1000, b'{"n":1}'):
            expected = hmac.new(key, prefix + data, hashlib.sha256).hexdigest()
            assert after.hexdigest(data) == expected


def test_a_log_of_every_kind_of_record_verifies(folder: Path) -> None:
    log = AuditLog(str(folder), KEY)
    log.append_many([dict(record) for record in SEALED_RECORDS])
    for record in SEALED_RECORDS:
        log.append(dict(record))
    log.close()
    result = verify(str(folder), KEY)
    assert result.problems == []
    assert result.records == 2 * len(SEALED_RECORDS)


def _head_seq(folder: Path) -> int:
    head = json.loads((folder / auditlog.HEAD).read_text())
    return int(head["seq"])


def test_a_deferred_head_leaves_one_record_past_it_until_settled(folder: Path) -> None:
    """A request's record is in the file at once; its head update may follow it."""
    log = AuditLog(str(folder), KEY)
    log.append({"event": "session"})
    log.append_many([{"event": "request", "tool": "t"}], stored=False, defer_head=True)
    assert [json.loads(line)["event"] for line in _lines(folder)] == ["session", "request"]
    assert _head_seq(folder) == 1
    result = verify(str(folder), KEY)
    assert result.ok and result.records == 2
    assert any("interrupted write" in note for note in result.notes)
    log.settle()
    assert _head_seq(folder) == 2
    result = verify(str(folder), KEY)
    assert result.ok and not result.notes
    log.close()


def test_a_second_deferred_record_brings_the_head_up_to_date_first(folder: Path) -> None:
    """Never two records past the head: a kill then would look like a log cut short."""
    log = AuditLog(str(folder), KEY)
    log.append({"event": "session"})
    for expected_head in (1, 3, 3, 5):
        log.append_many([{"event": "request"}], stored=False, defer_head=True)
        assert _head_seq(folder) == expected_head
        seqs = [json.loads(line)["seq"] for line in _lines(folder)]
        assert seqs[-1] - _head_seq(folder) <= 1
    # A batch of two is never deferred, and a normal append covers a due head.
    log.append_many([{"event": "request"}, {"event": "request"}], defer_head=True)
    assert _head_seq(folder) == 7
    log.append_many([{"event": "request"}], defer_head=True)
    log.append({"event": "call"})
    assert _head_seq(folder) == 9
    log.settle()  # nothing due any more
    assert _head_seq(folder) == 9
    log.close()
    assert verify(str(folder), KEY).ok


def test_settling_after_another_writer_appended_keeps_its_head(folder: Path) -> None:
    """Another shim adopted the record past the head and wrote its own: not rolled back."""
    ours = AuditLog(str(folder), KEY)
    ours.append({"event": "session"})
    ours.append_many([{"event": "request"}], stored=False, defer_head=True)
    other = AuditLog(str(folder), KEY)
    other.append({"event": "call", "server": "other"})
    other.close()
    assert _head_seq(folder) == 3
    ours.settle()
    assert _head_seq(folder) == 3
    ours.append({"event": "call"})
    ours.close()
    assert _head_seq(folder) == 4
    result = verify(str(folder), KEY)
    assert result.ok and not result.notes


def test_closing_the_log_writes_a_deferred_head(folder: Path) -> None:
    log = AuditLog(str(folder), KEY)
    log.append({"event": "session"})
    log.append_many([{"event": "request"}], stored=False, defer_head=True)
    log.close()
    assert _head_seq(folder) == 2


def test_a_head_removed_between_appends_is_written_again(folder: Path) -> None:
    """The kept head file is checked by fstat (no link left), not by looking its path up."""
    log = AuditLog(str(folder), KEY)
    log.append({"event": "session"})
    (folder / auditlog.HEAD).unlink()
    log.append({"event": "call"})
    assert _head_seq(folder) == 2
    (folder / auditlog.LOCK).unlink()  # a lock file removed: opened again, not a lost lock
    log.append({"event": "call"})
    assert (folder / auditlog.LOCK).exists()
    log.close()
    assert verify(str(folder), KEY).ok


def test_two_writers_deferring_heads_never_leave_the_log_two_past_its_head(folder: Path) -> None:
    """Two shims on one log, each deferring its requests' heads and settling at random:
    after every step the chain verifies and the log is at most one record past the head."""
    import random

    chooser = random.Random(12)
    writers = [AuditLog(str(folder), KEY), AuditLog(str(folder), KEY)]
    for step in range(200):
        log = chooser.choice(writers)
        action = chooser.random()
        if action < 0.6:
            log.append_many([{"event": "request", "n": step}], stored=False, defer_head=True)
        elif action < 0.8:
            log.append({"event": "call", "n": step})
        else:
            log.settle()
        seqs = [json.loads(line)["seq"] for line in _lines(folder)]
        assert seqs == list(range(1, len(seqs) + 1))
        assert seqs[-1] - _head_seq(folder) in (0, 1), step
        result = verify(str(folder), KEY)
        assert result.ok, [str(problem) for problem in result.problems]
    for log in writers:
        log.close()
    result = verify(str(folder), KEY)
    assert result.ok and not result.notes


def test_a_lock_file_renamed_over_is_opened_again(folder: Path) -> None:
    """fstat of the kept lock file sees it has no name left once another file took it:
    the writer then locks the file at the path, which another holder can block."""
    log = AuditLog(str(folder), KEY, lock_timeout=0.2)
    log.append({"event": "session"})
    replacement = folder / "lock.new"
    replacement.write_text("")
    os.replace(replacement, folder / auditlog.LOCK)
    # It waits for the lock at the path (held here), not the old file's.
    with held(str(folder / auditlog.LOCK), timeout=1.0, what="audit log"), pytest.raises(ShimError):
        log.append({"event": "call"})
    log.append({"event": "call"})
    log.close()
    result = verify(str(folder), KEY)
    assert result.ok and result.records == 2


def test_a_line_ending_with_the_heads_mac_after_another_writer_is_not_taken_for_the_head(
    folder: Path,
) -> None:
    """When another writer appended, the chain's end is the head's record if the last line
    ends with the head's MAC (nothing parsed): a forged line that ends with it and claims
    the next seq is neither adopted nor continued; the next record links to the head's."""
    mine, other = AuditLog(str(folder), KEY), AuditLog(str(folder), KEY)
    mine.append({"event": "call"})
    second = other.append({"event": "call"})  # another writer: mine must read the end
    forged = {"v": 1, "seq": 3, "time": "x", "event": "call", "prev": second["mac"]}
    line = json.dumps(forged, separators=(",", ":"))[:-1] + f',"mac":"{second["mac"]}"}}\n'
    with open(folder / auditlog.CURRENT, "a") as handle:
        handle.write(line)
    third = mine.append({"event": "call"})
    assert (third["seq"], third["prev"]) == (3, second["mac"])
    problem = _only_problem(verify(str(folder), KEY))
    assert (problem.line, problem.seq) == (3, 3)


def test_another_writers_record_is_continued_whether_or_not_the_head_names_it(
    folder: Path,
) -> None:
    """The chain's end after another writer: its record when the head names it (the
    shortcut), and its record past a stale head (a kill before the head was written)."""
    mine, other = AuditLog(str(folder), KEY), AuditLog(str(folder), KEY)
    mine.append({"event": "call"})
    second = other.append({"event": "call"})
    third = mine.append({"event": "call"})
    assert (third["seq"], third["prev"]) == (3, second["mac"])
    stale = (folder / auditlog.HEAD).read_bytes()
    fourth = other.append({"event": "call"})
    (folder / auditlog.HEAD).write_bytes(stale)  # as if the other writer died before its head
    fifth = mine.append({"event": "call"})
    assert (fifth["seq"], fifth["prev"]) == (5, fourth["mac"])
    result = verify(str(folder), KEY)
    assert result.ok and result.records == 5, [str(p) for p in result.problems]


@pytest.mark.parametrize(
    "data",
    [
        auditlog._head_bytes(KEY, 0, ""),
        auditlog._head_bytes(KEY, 7, "ab" * 32),
        auditlog._head_bytes(KEY, 10**17, "f" * 64),
        b'{"seq":01,"mac":"ab","hmac":"cd"}\n',  # not JSON: no head
        b'{"seq":1,"mac":"AB","hmac":"cd"}\n',  # JSON, not as the log writes it
        b' {"seq":1, "mac":"ab","hmac":"cd"}\n',
        b'{"seq":1,"mac":"ab","hmac":"cd","x":1}',
        b'{"seq":1,"mac":"ab","hmac":"cd"} trailing',
        b'{"seq":1.0,"mac":"ab","hmac":"cd"}',
        b'{"seq":-1,"mac":"a\\u0062","hmac":"cd"}',
    ],
)
def test_a_head_is_read_as_the_json_decoder_reads_it(data: bytes) -> None:
    """The head as written is read without the JSON decoder; whatever the bytes, the
    result is what reading them as JSON gives."""
    try:
        parsed = json.loads(data)
    except ValueError:
        expected = None
    else:
        seq, mac, signature = parsed.get("seq"), parsed.get("mac"), parsed.get("hmac")
        ok = type(seq) is int and isinstance(mac, str) and isinstance(signature, str)
        expected = (seq, mac, signature) if ok else None
    assert auditlog._head_from(data) == expected
