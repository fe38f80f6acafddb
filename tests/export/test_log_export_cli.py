"""``mcpcred log export --to URL``: backfill to a real OTLP receiver, one-line summary, exit 8."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mcpcred.guard import auditlog
from tests.support import keychain as real_keychain
from tests.support.cli import run
from tests.support.otlp_receiver import Receiver

KEY = bytes.fromhex("ef" * 32)
NOW = time.time()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MCPCRED_CONFIG", str(tmp_path / "config.toml"))
    old = auditlog.AuditLog(auditlog.default_folder(), KEY, clock=lambda: NOW - 3 * 86400)
    old.append({"event": "call", "server": "prod-db", "method": "tools/call", "tool": "query",
                "request_id": 1, "session": "s", "outcome": "ok", "duration_ms": 2.0})  # fmt: skip
    new = auditlog.AuditLog(auditlog.default_folder(), KEY, clock=lambda: NOW)
    for n in range(2, 6):
        new.append({"event": "call", "server": "prod-db", "method": "tools/call", "tool": "query",
                    "request_id": n, "session": "s", "outcome": "ok", "duration_ms": 2.0})  # fmt: skip
    return tmp_path


def test_backfill_everything_then_since(data_dir: Path, receiver: Receiver) -> None:
    done = run("log", "export", "--to", receiver.url)
    assert done.code == 0, done.stderr
    assert done.stdout == f"exported 5 record(s) (seq 1\u20135) to {receiver.url}\n"
    assert receiver.seqs() == [1, 2, 3, 4, 5]
    shown = [json.loads(line) for line in run("log", "--json").stdout.splitlines()]
    assert [json.loads(str(log.body)) for log in receiver.logs] == shown  # the same fields
    again = run("log", "export", "--to", receiver.url, "--since", "1d")
    assert again.stdout == f"exported 4 record(s) (seq 2\u20135) to {receiver.url}\n"


def test_a_header_from_the_keychain(
    data_dir: Path, receiver: Receiver, keychain: dict[str, str]
) -> None:
    real_keychain.store(keychain, "mcpcred", "otel-token", "Bearer from-the-keychain-1")
    receiver.want_header = ("authorization", "Bearer from-the-keychain-1")
    refused = run("log", "export", "--to", receiver.url)
    assert refused.code == 8
    assert "refused the log records: HTTP 401" in refused.stderr
    ok = run(
        "log", "export", "--to", receiver.url, "--header",
        "Authorization=mcpcred:secret/otel-token",
    )  # fmt: skip
    assert ok.code == 0, ok.stderr
    assert receiver.seqs() == [1, 2, 3, 4, 5]
    missing = run("log", "export", "--to", receiver.url, "--header", "X-Key=mcpcred:secret/nope")
    assert missing.code == 8 and "the secret 'nope' is not in the store" in missing.stderr


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["--to", "http://127.0.0.1:4318"], 2, "unknown export URL scheme"),
        (["--to", "otlp+http://u:pw-secret-1@127.0.0.1:4318"], 2, "must not hold a user"),
        (
            ["--to", "otlp+http://127.0.0.1:4318", "--header", "Authorization=Bearer pw-secret-1"],
            2,
            "must be a secret-store reference",
        ),
        (["--to", "otlp+http://127.0.0.1:4318", "--header", "nonsense"], 2, "--header takes"),
        (["--to", "otlp+http://127.0.0.1:4318", "--ca-file", "x.pem"], 2, "--ca-file needs"),
    ],
)
def test_bad_input_is_one_line(data_dir: Path, args: list[str], code: int, said: str) -> None:
    done = run("log", "export", *args)
    assert done.code == code, done
    assert said in done.stderr
    assert "pw-secret-1" not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_a_collector_that_is_down_exits_8(data_dir: Path) -> None:
    gone = Receiver().start()
    gone.stop()
    done = run("log", "export", "--to", gone.url, "--timeout", "1")
    assert done.code == 8
    assert f"cannot deliver log records to {gone.url}" in done.stderr
    assert done.stdout == ""
