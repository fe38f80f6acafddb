"""The worker as the shim starts it: ``ensure`` (the shim's background check) and the real
``python -m mcpcred.export.worker`` process, which starts again when the config changes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpcred.export import worker
from mcpcred.guard import auditlog
from tests.support.otlp_receiver import Receiver
from tests.support.procs import kill_if_running

KEY = bytes.fromhex("ab" * 32)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    own = {
        "MCPCRED_DATA_DIR": str(tmp_path / "data"),
        "MCPCRED_RUNTIME_DIR": str(runtime),
        "MCPCRED_CONFIG": str(tmp_path / "config.toml"),
    }
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / ".git").mkdir()
    return {**os.environ, **own}


def _wait(what: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_ensure_does_nothing_without_export(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(env["MCPCRED_CONFIG"]).write_text("[servers.db]\n")
    assert worker.ensure(env, str(tmp_path / "repo")) is False
    assert capsys.readouterr().err == ""
    assert not list(Path(env["MCPCRED_RUNTIME_DIR"]).glob("export-*.lock"))


def test_ensure_with_a_bad_table_says_so_in_one_line(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    Path(env["MCPCRED_CONFIG"]).write_text(
        '[servers.db]\n[[log.export]]\nkind = "otlp"\nurl = "otlp+http://h:1"\n'
        'headers = { Authorization = "Bearer literal-token-9" }\n'
    )
    assert worker.ensure(env, str(tmp_path / "repo")) is False
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "audit export not started" in err
    assert "must be a secret-store reference" in err and "literal-token-9" not in err


def test_the_worker_process_follows_a_config_change(env: dict[str, str], tmp_path: Path) -> None:
    first, second = Receiver().start(), Receiver().start()
    config = Path(env["MCPCRED_CONFIG"])
    config.write_text(f'[[log.export]]\nkind = "otlp"\nurl = "{first.url}"\n')
    log = auditlog.AuditLog(auditlog.default_folder(), KEY)
    log.append({"event": "call", "server": "db", "method": "tools/call", "tool": "a",
                "request_id": 1, "outcome": "ok"})  # fmt: skip
    stderr = tmp_path / "worker.err"
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcpcred.export.worker"],
            env={**env, worker.IDLE_VAR: "60"}, cwd=tmp_path / "repo",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors,
        )  # fmt: skip
    pids = [process.pid]
    try:
        _wait(lambda: first.seqs() == [1], 20)
        config.write_text(f'[[log.export]]\nkind = "otlp"\nurl = "{second.url}"\n')
        log.append({"event": "call", "server": "db", "method": "tools/call", "tool": "b",
                    "request_id": 2, "outcome": "ok"})  # fmt: skip
        _wait(lambda: second.seqs() == [1, 2], 20)  # a new target: from the start of the log
        assert process.poll() is None  # the same process, executed again
        assert "the config changed" in stderr.read_text()
        process.terminate()
        assert process.wait(10) == 0
    finally:
        for pid in pids:
            kill_if_running(pid, "mcpcred.export.worker")
        process.wait(5)
        first.stop()
        second.stop()
    assert first.seqs() in ([1], [1, 2])  # 2 may have gone out before the change was seen


def test_ensure_without_the_otel_packages_says_how_to_install_them(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from mcpcred.export import targets

    monkeypatch.setattr(targets, "otel_installed", lambda: False)
    Path(env["MCPCRED_CONFIG"]).write_text(
        '[[log.export]]\nkind = "otlp"\nurl = "otlp+http://h:1"\n'
    )
    spawned: list[str] = []
    monkeypatch.setattr(worker, "spawn", lambda environ, cwd: spawned.append(cwd))
    assert worker.ensure(env, str(tmp_path / "repo")) is False
    assert spawned == []
    assert "pip install 'mcpcred[otel]'" in capsys.readouterr().err
    monkeypatch.setattr(targets, "otel_installed", lambda: True)
    assert worker.ensure(env, str(tmp_path / "repo")) is True
    assert spawned == [str(tmp_path / "repo")]
