"""``mcpcred log``: filters, JSON Lines, ``--follow``, and ``log verify`` with the key from a real keychain."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mcpcred.guard import auditlog
from tests.support import keychain as real_keychain
from tests.support.cli import run

KEY_TEXT = "ab" * 32
NOW = time.time()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(path))
    return path


def _log(clock: float = NOW) -> auditlog.AuditLog:
    return auditlog.AuditLog(
        auditlog.default_folder(), bytes.fromhex(KEY_TEXT), clock=lambda: clock
    )


def _write_sample() -> None:
    old = _log(NOW - 3 * 3600)
    old.append({"event": "session", "server": "github", "client": "claude-code", "pid": 11})
    old.append(
        {
            "event": "call", "server": "github", "client": "claude-code", "method": "tools/call",
            "tool": "create_issue", "outcome": "ok", "duration_ms": 42.0, "result_bytes": 1234,
        }
    )  # fmt: skip
    recent = _log()
    recent.append(
        {
            "event": "call", "server": "github", "client": "cursor", "method": "tools/call",
            "tool": "delete_repo", "outcome": "denied", "reason": "tool is blocked",
        }
    )  # fmt: skip
    recent.append(
        {
            "event": "call", "server": "files", "client": "cursor", "method": "resources/read",
            "uri": "file:///etc/hosts", "outcome": "ok", "duration_ms": 3.2, "result_bytes": 99,
        }
    )  # fmt: skip
    recent.append(
        {
            "event": "call", "server": "files", "client": "cursor", "method": "tools/call",
            "tool": "create_file", "outcome": "error", "error": "no such folder",
        }
    )  # fmt: skip


def _seqs(stdout: str) -> list[int]:
    return [json.loads(line)["seq"] for line in stdout.splitlines()]


def test_no_log_yet_is_a_note_not_an_error(data_dir: Path, keychain: dict[str, str]) -> None:
    shown = run("log")
    assert (shown.code, shown.stdout) == (0, "")
    assert "no audit log yet" in shown.stderr
    checked = run("log", "verify")  # the keychain holds no checkpoint: there never was a log
    assert checked.code == 0
    assert "no audit log yet" in checked.stderr


def test_json_lines_are_the_stored_records(data_dir: Path) -> None:
    _write_sample()
    result = run("log", "--json")
    assert result.code == 0, result.stderr
    stored = (data_dir / "log" / auditlog.CURRENT).read_text()
    assert result.stdout == stored


@pytest.mark.parametrize(
    ("options", "seqs"),
    [
        (["--server", "files"], [4, 5]),
        (["--tool", "create_*"], [2, 5]),
        (["--denied"], [3]),
        (["--event", "session"], [1]),
        (["--since", "2h"], [3, 4, 5]),
        (["--since", "200m"], [1, 2, 3, 4, 5]),
        (["--since", time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(NOW - 3600))], [3, 4, 5]),
        (["--limit", "2"], [4, 5]),
        (["--limit", "0", "--server", "github"], [1, 2, 3]),
        (["--server", "github", "--tool", "create_*", "--since", "1h"], []),
    ],
)
def test_filters(data_dir: Path, options: list[str], seqs: list[int]) -> None:
    _write_sample()
    result = run("log", "--json", *options)
    assert result.code == 0, result.stderr
    assert _seqs(result.stdout) == seqs


def test_the_table_shows_one_row_per_record(data_dir: Path) -> None:
    _write_sample()
    result = run("log", "--limit", "0", env={"COLUMNS": "200"})
    assert result.code == 0, result.stderr
    rows = result.stdout.splitlines()
    assert rows[0].split()[:3] == ["time", "server", "client"]
    assert len(rows) == 6
    assert rows[3].split()[2:] == [
        "github",
        "cursor",
        "tools/call",
        "delete_repo",
        "denied",
        "-",
        "-",
    ]
    assert rows[4].split()[2:] == [
        "files",
        "cursor",
        "resources/read",
        "file:///etc/hosts",
        "ok",
        "3",
        "ms",
        "99",
        "B",
    ]
    assert "42 ms" in rows[2] and "1.2 kB" in rows[2]
    local = time.strftime("%Y-%m-%d %H:%M", time.localtime(NOW))
    assert rows[5].startswith(local)


def test_nothing_matching_says_so(data_dir: Path) -> None:
    _write_sample()
    result = run("log", "--server", "nope")
    assert (result.code, result.stdout) == (0, "")
    assert "no matching records" in result.stderr


def test_a_bad_since_is_a_usage_error(data_dir: Path) -> None:
    _write_sample()
    result = run("log", "--since", "yesterday-ish")
    assert result.code == 2
    assert "--since" in result.stderr
    assert "hint:" in result.stderr


def test_verify_reports_ok(data_dir: Path, keychain: dict[str, str]) -> None:
    _write_sample()
    real_keychain.store(keychain, "mcpcred", auditlog.KEY_NAME, KEY_TEXT)
    result = run("log", "verify")
    assert result.code == 0, result.stderr
    assert result.stdout == "audit log OK: 5 records (seq 1\u20135)\n"
    as_json = run("log", "verify", "--json")
    assert as_json.code == 0
    report = json.loads(as_json.stdout)
    assert (report["ok"], report["records"], report["problems"]) == (True, 5, [])


def test_verify_finds_an_edited_line(data_dir: Path, keychain: dict[str, str]) -> None:
    _write_sample()
    real_keychain.store(keychain, "mcpcred", auditlog.KEY_NAME, KEY_TEXT)
    path = data_dir / "log" / auditlog.CURRENT
    lines = path.read_text().splitlines(keepends=True)
    lines[2] = lines[2].replace('"denied"', '"ok"')
    path.write_text("".join(lines))
    result = run("log", "verify")
    assert result.code == 1, result.stderr
    assert (
        result.stdout.splitlines()[0] == "audit.jsonl:3: seq 3: record was modified (MAC mismatch)"
    )
    assert "NOT OK: 1 problem in 5 records" in result.stdout
    as_json = run("log", "verify", "--json")
    assert as_json.code == 1
    problems = json.loads(as_json.stdout)["problems"]
    assert problems == [
        {
            "file": "audit.jsonl",
            "line": 3,
            "seq": 3,
            "message": "record was modified (MAC mismatch)",
        }
    ]


def test_verify_without_the_key_cannot_check(data_dir: Path, keychain: dict[str, str]) -> None:
    _write_sample()
    result = run("log", "verify")
    assert result.code == 5
    assert "cannot be verified" in result.stderr
    assert auditlog.KEY_NAME in result.stderr


def test_verify_with_another_key_fails(data_dir: Path, keychain: dict[str, str]) -> None:
    _write_sample()
    real_keychain.store(keychain, "mcpcred", auditlog.KEY_NAME, "cd" * 32)
    result = run("log", "verify")
    assert result.code == 1
    assert "no record matches the key" in result.stdout


class _Follow:
    """``mcpcred log --follow ...`` as a process whose output lines arrive in a queue."""

    def __init__(self, *options: str) -> None:
        command = [sys.executable, "-m", "mcpcred", "log", "--follow", *options]
        self.lines: queue.Queue[str] = queue.Queue()
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def pump() -> None:
            for line in stdout:
                self.lines.put(line)

        self.reader = threading.Thread(target=pump)
        self.reader.start()

    def next_line(self, timeout: float = 10) -> str:
        return self.lines.get(timeout=timeout)

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and stderr."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.process.stderr is not None
        return code, self.process.stderr.read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.__exit__(None, None, None)
        self.reader.join(timeout=10)


def test_follow_prints_records_appended_later(data_dir: Path) -> None:
    _write_sample()
    follow = _Follow("--json", "--server", "files", "--limit", "1")
    try:
        assert json.loads(follow.next_line(timeout=30))["seq"] == 5
        log = _log()
        log.append({"event": "call", "server": "github", "tool": "ignored"})
        log.append({"event": "call", "server": "files", "tool": "read_file"})
        later = json.loads(follow.next_line())
        assert (later["seq"], later["tool"]) == (7, "read_file")
        code, stderr = follow.interrupt()
        assert code == 130
        assert "interrupted" in stderr
        assert follow.lines.empty()
    finally:
        follow.close()


def test_follow_waits_for_a_log_and_survives_rotation(data_dir: Path) -> None:
    follow = _Follow("--tool", "t*")
    try:
        key = bytes.fromhex(KEY_TEXT)
        log = auditlog.AuditLog(auditlog.default_folder(), key, max_bytes=700, keep=50)
        tools = [f"t{i}" for i in range(12)]
        seen: list[str] = []
        for batch in (tools[:4], tools[4:]):
            for tool in batch:
                log.append({"event": "call", "server": "s", "client": "c", "tool": tool})
                log.append({"event": "call", "server": "s", "client": "c", "tool": "other"})
            while len(seen) < tools.index(batch[-1]) + 1:
                line = follow.next_line(timeout=30)
                if not line.startswith("time"):
                    seen.append(line.split()[5])
        assert (data_dir / "log" / "audit.jsonl.3").exists()  # rotated while following
        assert seen == tools
        assert follow.interrupt()[0] == 130
        assert follow.lines.empty()
    finally:
        follow.close()
