"""The OTLP sink against a real OTLP/HTTP receiver (decoded with ``opentelemetry-proto``):
the mapping to log records and spans, the semantic-convention names, and failures."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mcpcred.errors import ExportError
from mcpcred.export.otlp import OtlpSink
from tests.support.otlp_receiver import Receiver

SESSION = "5e551011aa00bb11"
RECORDS: list[dict[str, object]] = [
    {"v": 1, "seq": 1, "time": "2026-12-05T01:00:00.000Z", "server": "prod-db", "client": "cursor",
     "pid": 7, "session": SESSION, "event": "inject", "credentials": ["secret/db-password"],
     "detail": "started postgres-mcp", "prev": "", "mac": "a1"},
    {"v": 1, "seq": 2, "time": "2026-12-05T01:00:00.100Z", "server": "prod-db", "client": "cursor",
     "session": SESSION, "event": "request", "method": "tools/call", "tool": "query",
     "arguments": {"sql": "select 1"}, "request_id": 3, "prev": "a1", "mac": "a2"},
    {"v": 1, "seq": 3, "time": "2026-12-05T01:00:00.360Z", "server": "prod-db", "client": "cursor",
     "session": SESSION, "event": "call", "method": "tools/call", "tool": "query",
     "arguments": {"sql": "select 1"}, "request_id": 3, "outcome": "ok", "duration_ms": 250.0,
     "result_bytes": 120, "prev": "a2", "mac": "a3"},
    {"v": 1, "seq": 4, "time": "2026-12-05T01:00:01.000Z", "server": "prod-db", "client": "cursor",
     "session": SESSION, "event": "call", "method": "tools/call", "tool": "drop_table",
     "request_id": "r-4", "outcome": "denied", "reason": "deny 'drop_*' in config.toml",
     "prev": "a3", "mac": "a4"},
    {"v": 1, "seq": 5, "time": "2026-12-05T01:00:02.000Z", "server": "prod-db", "session": SESSION,
     "event": "call", "method": "resources/read", "uri": "postgres://db/customers/schema",
     "request_id": 5, "outcome": "error", "error": "no such table", "duration_ms": 4.0,
     "prev": "a4", "mac": "a5"},
]  # fmt: skip


def test_records_become_log_records_and_calls_spans(receiver: Receiver) -> None:
    sink = OtlpSink(receiver.url, headers={"Authorization": "Bearer header-value-1"})
    sink.send(RECORDS)
    sink.close()
    assert [log.attributes["mcpcred.seq"] for log in receiver.logs] == [1, 2, 3, 4, 5]
    # the body is the record as `mcpcred log --json` prints it: the same fields
    assert [json.loads(str(log.body)) for log in receiver.logs] == RECORDS
    inject, request, ok, denied, failed = receiver.logs
    assert inject.event_name == "mcpcred.inject" and inject.severity == "INFO"
    assert inject.time_ns == 1796432400 * 10**9
    assert inject.resource["service.name"] == "mcpcred"
    assert {"service.version", "host.name", "user.name"} <= set(inject.resource)
    assert request.attributes["mcp.method.name"] == "tools/call"
    assert request.attributes["gen_ai.tool.name"] == "query"
    assert request.attributes["gen_ai.operation.name"] == "execute_tool"
    assert request.attributes["jsonrpc.request.id"] == "3"
    assert request.attributes["mcp.session.id"] == SESSION
    assert request.attributes["network.transport"] == "pipe"
    assert denied.severity == "WARN" and failed.severity == "ERROR"
    assert "mcpcred.arguments" not in ok.attributes  # argument values stay in the body only

    spans = {span.name: span for span in receiver.spans}
    assert set(spans) == {"tools/call query", "tools/call drop_table", "resources/read"}
    query = spans["tools/call query"]
    assert query.kind == 2  # SERVER
    assert query.start_ns == request.time_ns  # from the request's record ...
    assert query.end_ns - query.start_ns == 250_000_000  # ... for the measured duration
    assert query.status_code == 0  # UNSET: ok
    assert query.attributes["gen_ai.tool.name"] == "query"
    assert query.attributes["mcpcred.server"] == "prod-db"
    # the call's log records sit under its span
    assert request.trace_id == ok.trace_id == query.trace_id and ok.span_id == query.span_id
    refused = spans["tools/call drop_table"]
    assert refused.status_code == 2 and refused.status_message == "deny 'drop_*' in config.toml"
    assert refused.attributes["error.type"] == "denied"
    assert refused.attributes["jsonrpc.request.id"] == "r-4"
    read = spans["resources/read"]
    assert read.attributes["mcp.resource.uri"] == "postgres://db/customers/schema"
    assert read.attributes["error.type"] == "_OTHER" and read.status_message == "no such table"
    assert "gen_ai.operation.name" not in read.attributes
    assert receiver.headers[0]["authorization"] == "Bearer header-value-1"
    assert not any(b"header-value-1" in body for body in receiver.raw)


def test_a_batch_sent_again_repeats_the_same_span_ids(receiver: Receiver) -> None:
    sink = OtlpSink(receiver.url)
    sink.send(RECORDS)
    sink.send(RECORDS[2:])  # at least once: the outcome again, without its request
    first, again = receiver.spans[0], receiver.spans[3]
    assert (first.name, first.trace_id, first.span_id) == (
        again.name,
        again.trace_id,
        again.span_id,
    )
    assert again.end_ns - again.start_ns == 250_000_000  # start from time less duration


def test_a_refusal_names_the_status_and_never_the_header(receiver: Receiver) -> None:
    receiver.want_header = ("authorization", "Bearer right")
    sink = OtlpSink(receiver.url, headers={"Authorization": "Bearer wrong-header-value"})
    with pytest.raises(ExportError) as caught:
        sink.send(RECORDS)
    assert caught.value.message == (
        f"the collector at {receiver.url} refused the log records: HTTP 401"
    )
    assert caught.value.exit_code == 8


def test_a_collector_that_is_down_is_an_export_error_within_the_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    gone = Receiver().start()
    gone.stop()  # nothing listens on its port now
    sink = OtlpSink(gone.url, timeout=1.0)
    started = time.monotonic()
    with pytest.raises(ExportError) as caught:
        sink.send(RECORDS)
    # the OS's "refused", or (a loaded machine: the timeout ran out first) "no answer"
    assert caught.value.message in (
        f"cannot deliver log records to {gone.url}: connection refused",
        f"cannot deliver log records to {gone.url}: no answer (the collector is down or "
        "unreachable)",
    )
    assert time.monotonic() - started < 5
    assert capsys.readouterr().err == ""  # the SDK's own log lines stay off stderr


def test_ca_file_needs_https() -> None:
    with pytest.raises(ExportError, match="ca_file needs otlp\\+https"):
        OtlpSink("otlp+http://127.0.0.1:4318", ca_file="/nonexistent.pem")


def test_text_protobuf_cannot_carry_does_not_poison_a_batch(receiver: Receiver) -> None:
    odd = {**RECORDS[2], "tool": "q\udc80uery", "seq": 9}
    OtlpSink(receiver.url).send([odd])
    (log,) = receiver.logs
    assert json.loads(str(log.body)) == odd  # escaped in the body, so nothing is lost
    assert log.attributes["gen_ai.tool.name"] == "q?uery"
    assert receiver.spans[0].name == "tools/call q?uery"


def test_an_sdk_turned_off_by_its_variable_is_an_error_not_a_silent_loss(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    with pytest.raises(ExportError, match="made 0 log record"):
        OtlpSink(receiver.url).send(RECORDS)  # a cursor must not move past records not sent
    assert receiver.raw == []


def test_https_with_the_collector_s_ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.support.remote_servers import make_cert

    cert, key = make_cert(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    # Set machine-wide on many systems; requests let it replace the session's CA file.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(make_cert(other)[0]))
    secure = Receiver(tls=(str(cert), str(key))).start()
    try:
        with pytest.raises(ExportError) as caught:  # the system's CAs do not know it
            OtlpSink(secure.url, timeout=2).send(RECORDS[:1])
        assert caught.value.message.endswith("TLS certificate not accepted"), caught.value.message
        OtlpSink(secure.url, ca_file=str(cert), timeout=2).send(RECORDS[:1])
        assert [log.attributes["mcpcred.seq"] for log in secure.logs] == [1]
        with pytest.raises(ExportError, match="does not exist"):
            OtlpSink(secure.url, ca_file=str(tmp_path / "missing.pem"))
    finally:
        secure.stop()
