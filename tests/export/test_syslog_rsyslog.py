"""The syslog sink against a real rsyslogd on loopback (tests/support/rsyslog.py).

What rsyslog itself parsed is the judge: its RFC 5424 parser fills
``protocol-version``, ``app-name``, ``msgid`` and ``structured-data`` only for
a valid message (otherwise it falls back to RFC 3164 and they stay empty), and
``mmpstrucdata`` unescapes the SD parameters into ``parsed``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.errors import ExportError
from mcpcred.export.syslog import SD_ID, SyslogSink
from mcpcred.guard.mask import Masker
from mcpcred.guard.redact import redactor
from tests.support import rsyslog as rs
from tests.support.tokengen import generate

pytestmark = pytest.mark.skipif(rs.available() is not None, reason=str(rs.available()))


@pytest.fixture(scope="module")
def receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[rs.Rsyslog]:
    server = rs.Rsyslog.start(tmp_path_factory.mktemp("rsyslog"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_receiver(tmp_path: Path) -> Iterator[rs.Rsyslog]:
    """An rsyslogd of the test's own, to stop and start again."""
    server = rs.Rsyslog.start(tmp_path / "rsyslog")
    try:
        yield server
    finally:
        server.stop()


def sink_for(server: rs.Rsyslog, kind: str, query: str = "", **kwargs: object) -> SyslogSink:
    if kind == "tls":
        kwargs.setdefault("ca_file", str(server.certs["ca"]))
    return SyslogSink(server.url(kind, query=query), hostname="laptop", **kwargs)


def records(session: str, count: int = 5) -> list[dict[str, object]]:
    base = {"v": 1, "server": "github", "pid": 81234, "session": session, "client": "claude-code"}
    out: list[dict[str, object]] = []
    for n in range(count):
        kind = n % 5
        record: dict[str, object] = {
            **base,
            "seq": n + 1,
            "time": f"2026-11-21T09:14:{n % 60:02d}.100Z",
        }
        if kind == 0:
            record |= {
                "event": "request",
                "method": "tools/call",
                "tool": "search_code",
                "arguments": {"q": "repo:x", "page": 2},
                "request_id": n,
            }
        elif kind == 1:
            record |= {
                "event": "call",
                "method": "tools/call",
                "tool": "search_code",
                "request_id": n - 1,
                "outcome": "ok",
                "duration_ms": 41.5,
                "result_bytes": 900,
            }
        elif kind == 2:
            record |= {
                "event": "call",
                "method": "tools/call",
                "tool": "delete_repo",
                "request_id": n,
                "outcome": "denied",
                "reason": "not in allow_tools",
            }
        elif kind == 3:
            record |= {
                "event": "finding",
                "tool": "helper",
                "detail": "hidden instruction in description",
            }
        else:
            record |= {"event": "inject", "credentials": ["secret/github-pat", "oauth/github"]}
        record |= {"prev": "0b7d" * 16, "mac": "9c1e" * 16}
        out.append(record)
    return out  # fmt: skip


def text(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


EXPECTED_SEVERITY = {"request": "info", "call": "info", "finding": "warning", "inject": "info"}


@pytest.mark.parametrize(
    ("kind", "query"),
    [("tcp", ""), ("tcp", "framing=lf"), ("tls", ""), ("tls", "framing=lf"), ("udp", "")],
)
def test_a_batch_arrives_as_valid_rfc5424(receiver: rs.Rsyslog, kind: str, query: str) -> None:
    session = uuid.uuid4().hex
    batch = records(session, 10)
    sink = sink_for(receiver, kind, query)
    try:
        sink.send(batch)
    finally:
        sink.close()
    got = receiver.wait_for(kind, len(batch), session=session)
    assert len(got) == len(batch), receiver.log()[-2000:]
    got.sort(key=lambda m: int(m["parsed"][SD_ID]["seq"]))
    for record, message in zip(batch, got, strict=True):
        assert message["version"] == "1"  # parsed as RFC 5424, not 3164
        assert (message["app"], message["hostname"], message["procid"]) == (
            "mcpcred",
            "laptop",
            "81234",
        )
        assert message["msgid"] == record["event"]
        assert message["timestamp"] == record["time"]
        assert message["facility"] == "authpriv"
        severity = (
            "warning"
            if record.get("outcome") == "denied"
            else EXPECTED_SEVERITY[str(record["event"])]
        )
        assert message["severity"] == severity
        assert str(message["sd"]).startswith(f"[{SD_ID} ")
        params = message["parsed"][SD_ID]
        assert params == {key: text(value) for key, value in record.items()}
        assert str(message["msg"]).lstrip("\ufeff").startswith(f"{record['event']} github")


def test_facility_from_the_url(receiver: rs.Rsyslog) -> None:
    session = uuid.uuid4().hex
    sink = sink_for(receiver, "tcp", "facility=local4")
    sink.send(records(session, 3))
    sink.close()
    got = receiver.wait_for("tcp", 3, session=session)
    assert sorted(str(m["facility"]) for m in got) == ["local4"] * 3
    assert {str(m["severity"]) for m in got} == {"info", "warning"}


HOSTILE = 'evil\n<13>1 2026-01-01T00:00:00Z h mcpcred 1 call [mcpcred@32473 tool="fake"] forged]"\\\x00\u2028\r\x1b[2J'


@pytest.mark.parametrize(
    ("kind", "query"), [("tcp", "framing=lf"), ("tcp", ""), ("tls", ""), ("udp", "")]
)
def test_a_hostile_tool_name_cannot_forge_a_message(
    receiver: rs.Rsyslog, kind: str, query: str
) -> None:
    """Newline framing is where a raw \\n would split a message: one record, one message."""
    session = uuid.uuid4().hex
    batch = [
        {"event": "call", "server": "evil", "session": session, "seq": n, "tool": HOSTILE,
         "arguments": {HOSTILE: HOSTILE}, "outcome": "ok", "error": HOSTILE}
        for n in range(3)
    ]  # fmt: skip
    sink = sink_for(receiver, kind, query)
    sink.send(batch)
    sink.close()
    time.sleep(0.3)  # a forged extra message would arrive with the others
    got = receiver.wait_for(kind, 3, session=session)
    everything = receiver.messages(kind)
    assert len(got) == 3
    assert not [m for m in everything if "forged" in str(m["rawmsg"]) and rs.session_of(m) is None]
    shown = 'evil\\u000a<13>1 2026-01-01T00:00:00Z h mcpcred 1 call [mcpcred@32473 tool="fake"] forged]"\\\\u0000\\u2028\\u000d\\u001b[2J'
    for message in got:
        assert message["version"] == "1" and message["msgid"] == "call"
        params = message["parsed"][SD_ID]
        assert set(params) == {
            "event",
            "server",
            "session",
            "seq",
            "tool",
            "arguments",
            "outcome",
            "error",
        }
        assert params["tool"] == shown and params["error"] == shown
        # Nested values are JSON, whose escapes (\n, \u2028) bring the text back exactly.
        assert json.loads(params["arguments"]) == {HOSTILE: HOSTILE}
        raw = str(message["rawmsg"])
        # rsyslog writes a control character it receives as #NNN: none arrived.
        assert "#012" not in raw and "#000" not in raw and "#033" not in raw


def test_masked_and_redacted_fields_stay_so(receiver: rs.Rsyslog) -> None:
    """The sink sends the record as the guard redacted it, and adds nothing that was removed."""
    rng = random.Random(16)
    token = generate("github-pat", rng)
    injected = "inj3cted-Secret-value-0123456789"
    masker = Masker()
    masker.add("secret/github-pat", injected)
    redact = redactor()
    session = uuid.uuid4().hex
    raw_record = {"event": "call", "session": session, "tool": "search",
                  "arguments": {"token": token, "note": f"uses {injected}"},
                  "error": f"bad token {token}", "outcome": "error"}  # fmt: skip
    record = masker.record(raw_record)
    record["arguments"] = redact(record["arguments"])
    record["error"] = redact(record["error"])
    assert token not in json.dumps(record) and injected not in json.dumps(record)
    for kind in ("tcp", "tls", "udp"):
        sink = sink_for(receiver, kind)
        sink.send([record])
        sink.close()
        (message,) = receiver.wait_for(kind, 1, session=session)
        dump = json.dumps(message, ensure_ascii=False)
        assert token not in dump and token[4:20] not in dump
        assert injected not in dump
        params = message["parsed"][SD_ID]
        arguments = json.loads(params["arguments"])
        assert arguments["note"] == "uses [redacted mcpcred:secret/github-pat]"
        assert arguments["token"].startswith("[redacted ghp_")
        assert params["error"].startswith("bad token [redacted ghp_")


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_receiver_down_then_back(own_receiver: rs.Rsyslog, kind: str) -> None:
    """A connection the receiver dropped is replaced; while it is down, ExportError; then it recovers."""
    session = uuid.uuid4().hex
    batch = records(session, 4)
    sink = sink_for(own_receiver, kind, "facility=local2")
    try:
        sink.send(batch[:1])
        assert len(own_receiver.wait_for(kind, 1, session=session)) == 1
        own_receiver.stop()
        with pytest.raises(ExportError) as caught:
            sink.send(batch[1:2])
        message = str(caught.value)
        port = own_receiver.ports[kind]
        assert message.startswith(f"syslog+{kind}://127.0.0.1:{port}: ")
        assert "\n" not in message and "local2" not in message and "facility" not in message
        with pytest.raises(ExportError):
            sink.send(batch[1:2])  # still down: still an error, not a hang
        own_receiver.restart()
        assert own_receiver.ports[kind] == port
        sink.send(batch[1:])  # the worker sends what failed again
    finally:
        sink.close()
    got = own_receiver.wait_for(kind, 4, session=session)
    assert sorted(int(m["parsed"][SD_ID]["seq"]) for m in got) == [1, 2, 3, 4]


def test_a_restarted_receiver_gets_the_next_batch(own_receiver: rs.Rsyslog) -> None:
    """Stopped and started between two sends: the half-closed connection is noticed, not written into."""
    session = uuid.uuid4().hex
    batch = records(session, 2)
    sink = sink_for(own_receiver, "tcp")
    try:
        sink.send(batch[:1])
        assert own_receiver.wait_for("tcp", 1, session=session)
        own_receiver.restart()
        sink.send(batch[1:])
    finally:
        sink.close()
    got = own_receiver.wait_for("tcp", 2, session=session)
    assert sorted(int(m["parsed"][SD_ID]["seq"]) for m in got) == [1, 2]


def test_udp_receiver_down_is_reported(own_receiver: rs.Rsyslog) -> None:
    """UDP cannot confirm delivery, but a loopback receiver that is gone answers ICMP unreachable."""
    sink = sink_for(own_receiver, "udp")
    own_receiver.stop()
    try:
        with pytest.raises(ExportError) as caught:
            sink.send(records(uuid.uuid4().hex, 20))
        assert str(caught.value).startswith(f"syslog+udp://127.0.0.1:{own_receiver.ports['udp']}: ")
    finally:
        sink.close()


def test_ten_thousand_records_over_tcp(receiver: rs.Rsyslog) -> None:
    session = uuid.uuid4().hex
    batch = records(session, 10_000)
    sink = sink_for(receiver, "tcp")
    started = time.monotonic()
    sink.send(batch)
    sent = time.monotonic() - started
    sink.close()
    got = receiver.wait_for("tcp", 10_000, session=session, timeout=30)
    arrived = time.monotonic() - started
    assert len(got) == 10_000
    assert sorted(int(m["parsed"][SD_ID]["seq"]) for m in got) == list(range(1, 10_001))
    assert all(m["version"] == "1" for m in got)
    # Generous for a loaded 2-core machine; the send itself takes well under a second.
    assert sent < 5, f"send took {sent:.2f}s"
    assert arrived < 15, f"rsyslog had all records after {arrived:.2f}s"


@pytest.mark.parametrize(("query", "limit"), [("", 2048), ("max=8192", 8192)])
def test_udp_oversize_drops_params_not_syntax(receiver: rs.Rsyslog, query: str, limit: int) -> None:
    session = uuid.uuid4().hex
    record = {"event": "call", "server": "db", "session": session, "tool": "query",
              "outcome": "ok", "arguments": {"sql": "SELECT \u2019é\u2019 " * 2000},
              "mac": "9c1e" * 16}  # fmt: skip
    sink = sink_for(receiver, "udp", query)
    sink.send([record])
    sink.close()
    (message,) = receiver.wait_for("udp", 1, session=session)
    raw = str(message["rawmsg"]).encode()
    assert len(raw) <= limit
    assert message["version"] == "1" and message["msgid"] == "call"
    params = message["parsed"][SD_ID]
    assert params["tool"] == "query" and params["outcome"] == "ok" and params["server"] == "db"
    assert "arguments" not in params and params["dropped"] == "2"  # arguments and mac


def test_tcp_carries_a_large_record_whole(receiver: rs.Rsyslog) -> None:
    session = uuid.uuid4().hex
    arguments = {"sql": "x" * 30_000}
    sink = sink_for(receiver, "tcp", "max=65536")
    sink.send([{"event": "call", "session": session, "arguments": arguments}])
    sink.close()
    (message,) = receiver.wait_for("tcp", 1, session=session)
    assert json.loads(message["parsed"][SD_ID]["arguments"]) == arguments


def test_tls_refuses_an_untrusted_receiver(receiver: rs.Rsyslog) -> None:
    for ca_file in (None, str(receiver.certs["other_ca"])):
        sink = SyslogSink(receiver.url("tls"), ca_file=ca_file, timeout=3)
        with pytest.raises(ExportError) as caught:
            sink.send(records("x", 1))
        message = str(caught.value)
        assert message.startswith(
            f"syslog+tls://127.0.0.1:{receiver.ports['tls']}: TLS handshake failed: "
        )
        assert "certificate verify failed" in message or "unable to get local issuer" in message


def test_tls_checks_the_host_name(receiver: rs.Rsyslog) -> None:
    """The certificate names syslog.test and 127.0.0.1, not localhost: refused though the CA is trusted."""
    sink = SyslogSink(
        receiver.url("tls", host="localhost"), ca_file=str(receiver.certs["ca"]), timeout=3
    )
    with pytest.raises(ExportError) as caught:
        sink.send(records("x", 1))
    assert "localhost" in str(caught.value) and "TLS handshake failed" in str(caught.value)


def test_a_missing_ca_file_is_one_line(receiver: rs.Rsyslog, tmp_path: Path) -> None:
    sink = SyslogSink(receiver.url("tls"), ca_file=str(tmp_path / "nope.pem"))
    with pytest.raises(ExportError) as caught:
        sink.send(records("x", 1))
    assert "cannot read the CA file" in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize("kind", ["tcp", "tls"])
def test_one_connection_for_many_batches(receiver: rs.Rsyslog, kind: str) -> None:
    """A healthy connection is kept from batch to batch (rsyslog's GnuTLS speaks TLS 1.2
    here; TLS 1.3's session tickets are tested against Python's TLS server)."""
    session = uuid.uuid4().hex
    sink = sink_for(receiver, kind)
    try:
        sink.send(records(session, 1))
        first = sink._sock
        time.sleep(0.2)  # the tickets have arrived by now
        for n in range(5):
            sink.send(records(session, 1))
            assert sink._sock is first, f"reconnected before batch {n + 2}"
    finally:
        sink.close()
    assert len(receiver.wait_for(kind, 6, session=session)) == 6


@pytest.mark.parametrize("kind", ["tcp", "tls", "udp"])
def test_log_export_backfills_to_rsyslog(
    receiver: rs.Rsyslog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """``mcpcred log export --to syslog+...``: the local log's records, field for field."""
    from mcpcred.guard import auditlog
    from tests.support.cli import run

    session = uuid.uuid4().hex
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MCPCRED_CONFIG", str(tmp_path / "config.toml"))
    log = auditlog.AuditLog(auditlog.default_folder(), bytes.fromhex("ef" * 32))
    for n in range(1, 6):
        log.append({"event": "call", "server": "prod-db", "method": "tools/call",
                    "tool": "query" if n % 2 else 'drop]"\n', "request_id": n,
                    "session": session, "outcome": "ok" if n < 5 else "denied"})  # fmt: skip
    log.close()
    url = receiver.url(kind)
    extra = ["--ca-file", str(receiver.certs["ca"])] if kind == "tls" else []
    done = run("log", "export", "--to", url, *extra)
    assert done.code == 0, done.stderr
    assert done.stdout == f"exported 5 record(s) (seq 1\u20135) to {url}\n"
    got = receiver.wait_for(kind, 5, session=session)
    shown = {
        json.loads(line)["seq"]: json.loads(line)
        for line in run("log", "--json").stdout.splitlines()
    }
    assert sorted(int(m["parsed"][SD_ID]["seq"]) for m in got) == [1, 2, 3, 4, 5]
    for message in got:
        params = message["parsed"][SD_ID]
        record = shown[int(params["seq"])]
        assert params == {key: text(value) for key, value in record.items()} | {
            "tool": text(record["tool"]).replace("\n", "\\u000a")
        }
        assert message["severity"] == ("warning" if record["outcome"] == "denied" else "info")


def test_log_export_to_a_receiver_that_is_down_exits_8(
    own_receiver: rs.Rsyslog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpcred.guard import auditlog
    from tests.support.cli import run

    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MCPCRED_CONFIG", str(tmp_path / "config.toml"))
    log = auditlog.AuditLog(auditlog.default_folder(), bytes.fromhex("ef" * 32))
    log.append({"event": "call", "server": "prod-db", "tool": "query", "outcome": "ok"})
    log.close()
    url = own_receiver.url("tls")
    own_receiver.stop()
    done = run("log", "export", "--to", url, "--ca-file", str(own_receiver.certs["ca"]))
    assert done.code == 8
    first = done.stderr.splitlines()[0]
    assert first.startswith(f"error: {url}: cannot connect: connection refused"), done.stderr
