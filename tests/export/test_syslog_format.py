"""The RFC 5424 formatter and URL handling of the syslog sink, without a receiver.

``parse`` is a strict reader of the RFC 5424 grammar (§6), written here from
the RFC's ABNF; the property test holds every message the formatter can make
to it, for any record, hostile text and any size limit included.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpcred.errors import EXIT_EXPORT, ExportError
from mcpcred.export.syslog import (
    SD_ID,
    SHORT_SUMMARY,
    SyslogSink,
    clean_text,
    format_message,
    param_value,
    sd_name,
    severity,
)
from tests.support.fuzz import deterministic

FUZZ = deterministic(300)

BOM = b"\xef\xbb\xbf"
_TIMESTAMP = re.compile(
    rb"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    rb"(\.\d{1,6})?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"
)


class Invalid(AssertionError):
    pass


def _token(data: bytes, at: int, limit: int, what: str) -> tuple[str, int]:
    """A header field: NILVALUE or 1*limit PRINTUSASCII, then SP."""
    end = data.find(b" ", at)
    if end < 0:
        raise Invalid(f"{what}: no space after it")
    field = data[at:end]
    if not 1 <= len(field) <= limit or any(not 33 <= b <= 126 for b in field):
        raise Invalid(f"{what}: {field!r} is not 1..{limit} PRINTUSASCII")
    return field.decode(), end + 1


def _sd_name(data: bytes, at: int, stops: bytes) -> tuple[str, int]:
    start = at
    while at < len(data) and data[at] not in stops:
        if not 33 <= data[at] <= 126 or data[at] in b'= ]"':
            raise Invalid(f"SD-NAME: byte {data[at]!r} at {at}")
        at += 1
    if not 1 <= at - start <= 32:
        raise Invalid(f"SD-NAME: length {at - start}")
    return data[start:at].decode(), at


def parse(data: bytes) -> dict[str, Any]:
    """RFC 5424 §6, strictly: header fields, SD elements (values unescaped per §6.3.3), MSG."""
    if any(b < 0x20 or b == 0x7F for b in data):
        raise Invalid("a control byte in the message")
    match = re.match(rb"<(\d{1,3})>([1-9]\d{0,2}) ", data)
    if (
        not match
        or int(match.group(1)) > 191
        or (len(match.group(1)) > 1 and match.group(1)[0] == 48)
    ):
        raise Invalid("PRI/VERSION")
    out: dict[str, Any] = {"pri": int(match.group(1)), "version": match.group(2).decode()}
    at = match.end()
    end = data.find(b" ", at)
    stamp = data[at:end]
    if stamp != b"-" and not _TIMESTAMP.fullmatch(stamp):
        raise Invalid(f"TIMESTAMP {stamp!r}")
    out["timestamp"], at = stamp.decode(), end + 1
    for name, limit in (("hostname", 255), ("app", 48), ("procid", 128), ("msgid", 32)):
        out[name], at = _token(data, at, limit, name)
    sd: dict[str, dict[str, str]] = {}
    if data[at : at + 1] == b"-":
        at += 1
    else:
        if data[at : at + 1] != b"[":
            raise Invalid("STRUCTURED-DATA neither - nor [")
        while data[at : at + 1] == b"[":
            sd_id, at = _sd_name(data, at + 1, b" ]")
            if sd_id in sd:
                raise Invalid(f"SD-ID {sd_id} twice")
            params: dict[str, str] = {}
            while data[at : at + 1] == b" ":
                name, at = _sd_name(data, at + 1, b"=")
                if data[at : at + 2] != b'="':
                    raise Invalid('PARAM-NAME not followed by ="')
                at += 2
                value = bytearray()
                while True:
                    if at >= len(data):
                        raise Invalid("PARAM-VALUE not closed")
                    byte = data[at]
                    if byte == 0x5C and data[at + 1 : at + 2] in (b'"', b"\\", b"]"):
                        value += data[at + 1 : at + 2]
                        at += 2
                    elif byte == 0x22:
                        at += 1
                        break
                    elif byte == 0x5D:
                        raise Invalid("an unescaped ] in a PARAM-VALUE")
                    else:
                        value.append(byte)
                        at += 1
                try:
                    params[name] = value.decode("utf-8")
                except UnicodeDecodeError:
                    raise Invalid("PARAM-VALUE is not UTF-8") from None
            if data[at : at + 1] != b"]":
                raise Invalid("SD-ELEMENT not closed")
            at += 1
            sd[sd_id] = params
    out["sd"] = sd
    rest = data[at:]
    if rest and not rest.startswith(b" "):
        raise Invalid("no space between STRUCTURED-DATA and MSG")
    msg = rest[1:]
    if msg.startswith(BOM):
        try:
            out["msg"] = msg[3:].decode("utf-8")
        except UnicodeDecodeError:
            raise Invalid("MSG-UTF8 is not UTF-8") from None
    else:
        out["msg"] = msg.decode("utf-8", "replace")
    return out


def test_parser_rejects_what_it_should() -> None:
    """The checker itself catches the mistakes the formatter must not make."""
    good = b'<86>1 2026-11-21T09:14:03.512Z host mcpcred 1 call [x@1 a="b\\]\\"c"] \xef\xbb\xbfhi'
    assert parse(good)["sd"] == {"x@1": {"a": 'b]"c'}}
    for bad in (
        good.replace(b"\\]", b"]"),  # unescaped ]
        good.replace(b"hi", b"h\ni"),  # a newline
        good.replace(b"<86>", b"<192>"),
        good.replace(b"2026-11-21", b"2026-13-21"),
        good.replace(b" a=", b" a b="),
        good.replace(b"[x@1", b"[x@1 " + b"n" * 33 + b'="v"'),
        good.replace(b"hi", b"\xff\xfe"),
    ):
        with pytest.raises(Invalid):
            parse(bad)


RECORD: dict[str, object] = {
    "v": 1,
    "seq": 42,
    "time": "2026-11-21T09:14:03.512Z",
    "server": "github",
    "pid": 81234,
    "session": "5f0c9a1e7d3b2c44",
    "client": "claude-code",
    "event": "call",
    "method": "tools/call",
    "tool": "search_code",
    "arguments": {"q": "token [redacted ghp_…(40 chars)]", "n": [1, 2.5, None, True]},
    "request_id": 7,
    "outcome": "ok",
    "duration_ms": 412.7,
    "result_bytes": 18234,
    "prev": "9c1e",
    "mac": "47d0",
}


def test_a_call_record() -> None:
    message = parse(format_message(RECORD, hostname="laptop"))
    assert message["pri"] == 10 * 8 + 6  # authpriv.info
    assert (message["version"], message["timestamp"]) == ("1", "2026-11-21T09:14:03.512Z")
    assert (message["hostname"], message["app"], message["procid"], message["msgid"]) == (
        "laptop",
        "mcpcred",
        "81234",
        "call",
    )
    params = message["sd"][SD_ID]
    assert params["tool"] == "search_code" and params["request_id"] == "7"
    assert json.loads(params["arguments"]) == RECORD["arguments"]
    assert set(params) == set(RECORD)
    assert list(params)[:4] == ["event", "server", "tool", "method"]  # searched-on fields first
    assert message["msg"] == "call github tools/call search_code: ok (412.7 ms)"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"event": "call", "outcome": "ok"}, 6),
        ({"event": "request"}, 6),
        ({"event": "call", "outcome": "denied"}, 4),
        ({"event": "finding"}, 4),
        ({"event": "malformed", "outcome": "denied"}, 4),
        ({"event": "malformed", "outcome": "ignored"}, 5),
        ({"event": "pins"}, 5),
        ({"event": "mask"}, 5),
        ({"event": "call", "outcome": "error"}, 5),
    ],
)
def test_severity(fields: dict[str, object], expected: int) -> None:
    assert severity(fields) == expected
    assert parse(format_message(fields, facility=16))["pri"] == 16 * 8 + expected


def test_hostile_tool_name_cannot_fake_a_line() -> None:
    """\\n, NUL, U+2028 are shown as \\uXXXX; ", \\ and ] escaped per RFC 5424 §6.3.3."""
    name = 'x\n<13>1 - evil - - - [fake@1 a="b"] forged\x00]"\\\u2028\u202e\x1b[31m'
    data = format_message({**RECORD, "tool": name}, hostname="h")
    assert b"\n" not in data and b"\x00" not in data and b"\x1b" not in data
    assert "\u2028".encode() not in data and "\u202e".encode() not in data
    message = parse(data)
    assert list(message["sd"]) == [SD_ID]  # no second, forged element
    assert message["sd"][SD_ID]["tool"] == (
        'x\\u000a<13>1 - evil - - - [fake@1 a="b"] forged\\u0000]"\\\\u2028\\u202e\\u001b[31m'
    )
    assert "\\u000a" in message["msg"]


def test_param_value_escapes_exactly_three_characters() -> None:
    assert param_value('a"b\\c]d[e=f') == 'a\\"b\\\\c\\]d[e=f'
    assert param_value({"k": [1, "x]"]}) == '{\\"k\\":[1,\\"x\\]\\"\\]}'
    assert param_value(None) == "null" and param_value(False) == "false"


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("request_id", "request_id"),
        ("a b", "a_b"),
        ("x=y", "x_y"),
        ('q"]', "q__"),
        ("é", "_"),
        ("", "_"),
        ("n" * 40, "n" * 32),
    ],
)
def test_sd_names(key: str, name: str) -> None:
    assert sd_name(key) == name


def test_colliding_names_stay_apart() -> None:
    message = parse(format_message({"event": "x", "a b": 1, "a_b": 2, "a=b": 3, "dropped": 4}))
    assert message["sd"][SD_ID] == {
        "event": "x",
        "a_b": "2",  # a valid name is kept by its own field
        "a_b_2": "1",
        "a_b_3": "3",
        "dropped_2": "4",
    }


def test_bad_time_and_missing_fields_are_nilvalues() -> None:
    for stamp in ("2026-13-45T00:00:00Z", "yesterday", 17, None):
        message = parse(format_message({"event": "call", "time": stamp}))
        assert message["timestamp"] == "-"
    message = parse(format_message({}))
    assert (message["procid"], message["msgid"], message["hostname"]) == ("-", "-", "-")
    assert parse(format_message({"pid": "12 34", "event": "é" * 40}))["procid"] == "12_34"


def test_oversize_drops_whole_params_from_the_end() -> None:
    record = {**RECORD, "arguments": {"blob": "é" * 5000}}
    data = format_message(record, hostname="h", max_size=2048)
    assert len(data) <= 2048
    params = parse(data)["sd"][SD_ID]
    assert "arguments" not in params and "mac" not in params
    assert params["dropped"] == "4"  # arguments, v, prev, mac
    assert params["tool"] == "search_code" and params["outcome"] == "ok"


def test_tiny_limit_keeps_a_valid_message() -> None:
    record = {**RECORD, "tool": "t" * 2000, "pid": "p" * 300, "event": "e" * 50}
    data = format_message(record, hostname="h" * 300, max_size=480)
    assert len(data) <= 480
    parse(data)


# -- the property ----------------------------------------------------------------------

hostile = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(['"', "\\", "]", "[", "=", "\n", "\r", "\x00", "\u2028", "\u2029", "\ufeff"])
    | st.sampled_from(["\ud800", "\udfff", "\U0001f600", "\u202e"]),
    max_size=40,
)
scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | hostile
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile, inner, max_size=4),
    max_leaves=12,
)
records = st.dictionaries(
    st.sampled_from(["event", "tool", "time", "pid", "outcome", "arguments", "server"]) | hostile,
    values,
    max_size=12,
)


def _expected(value: object) -> str:
    if isinstance(value, str):
        return clean_text(value)
    return clean_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


@FUZZ
@given(
    record=records,
    max_size=st.none() | st.integers(480, 4096),
    facility=st.integers(0, 23),
    hostname=hostile,
)
def test_any_record_makes_a_valid_message(
    record: dict[str, object], max_size: int | None, facility: int, hostname: str
) -> None:
    data = format_message(record, facility=facility, hostname=hostname, max_size=max_size)
    message = parse(data)
    assert max_size is None or len(data) <= max_size
    assert message["pri"] // 8 == facility and message["app"] == "mcpcred"
    params = message["sd"].get(SD_ID, {})
    kept = [name for name in params if name != "dropped"]
    dropped = int(params.get("dropped", "0"))
    if message["sd"]:
        assert len(kept) + dropped == len(record)
    else:
        assert max_size is not None  # only a size limit removes the whole SD
    # What arrives is the record's values, only their control characters made visible
    # (all of them, or some when parameters were dropped for size) ...
    expected = sorted(_expected(value) for value in record.values())
    if not dropped and message["sd"]:
        assert sorted(params[name] for name in kept) == expected
    else:
        remaining = list(expected)
        for name in kept:
            remaining.remove(params[name])
    # ... each under its own name where the name is a valid SD-NAME already.
    for key, value in record.items():
        if key == sd_name(key) and key != "dropped" and key in params:
            assert params[key] == _expected(value)


def test_clean_text_keeps_ordinary_text() -> None:
    text = 'Grüße, 世界 👋 \\path\\to [x] "q"'
    assert clean_text(text) == text


# -- URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kwargs", "expected"),
    [
        ("syslog+tcp://h:1", {}, ("tcp", "h", 1, "octet-counting", 10, 8192)),
        ("syslog+tls://h", {}, ("tls", "h", 6514, "octet-counting", 10, 8192)),
        ("syslog+udp://h", {}, ("udp", "h", 514, "octet-counting", 10, 2048)),
        ("syslog+tcp://[::1]:9?framing=lf&facility=local3", {}, ("tcp", "::1", 9, "newline", 19, 8192)),
        ("SYSLOG+TCP://h:1?facility=7&max=65536", {}, ("tcp", "h", 1, "octet-counting", 7, 65536)),
        ("syslog+tcp://h:1?framing=lf", {"framing": "octet-counting"}, ("tcp", "h", 1, "octet-counting", 10, 8192)),
        ("syslog+tls://h:1", {"framing": "newline"}, ("tls", "h", 1, "newline", 10, 8192)),
        ("syslog+tls://h:1", {"framing": "lf"}, ("tls", "h", 1, "newline", 10, 8192)),
        ("syslog+udp://h:1", {"facility": "user", "max_size": 9000}, ("udp", "h", 1, "octet-counting", 1, 9000)),
    ],
)  # fmt: skip
def test_urls(url: str, kwargs: dict[str, Any], expected: tuple[object, ...]) -> None:
    sink = SyslogSink(url, **kwargs)
    assert (
        sink.transport, sink.host, sink.port, sink.framing, sink.facility, sink.max_size
    ) == expected  # fmt: skip


@pytest.mark.parametrize(
    ("url", "kwargs", "words"),
    [
        ("otlp+http://h:1", {}, "syslog+tcp://"),
        ("syslog://h:1", {}, "syslog+tcp://"),
        ("syslog+tcp://:1", {}, "no host"),
        ("syslog+tcp://h:99999", {}, "port"),
        ("syslog+tcp://user:hunter2@h:1", {}, "no user name or password"),
        ("syslog+tcp://h:1/path", {}, "no path"),
        ("syslog+tcp://h:1?token=hunter2", {}, "unknown URL parameter"),
        ("syslog+tcp://h:1?facility=hunter2", {}, "unknown facility"),
        ("syslog+tcp://h:1?facility=24", {}, "unknown facility"),
        ("syslog+tcp://h:1?framing=hunter2", {}, "framing"),
        ("syslog+udp://h:1?framing=lf", {}, "one message per datagram"),
        ("syslog+udp://h:1?max=70000", {}, "max is from 480 to 65507"),
        ("syslog+tcp://h:1?max=hunter2", {}, "max is a number"),
        ("syslog+tcp://h:1", {"ca_file": "/x"}, "syslog+tls:// only"),
    ],
)
def test_bad_urls(url: str, kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ExportError) as caught:
        SyslogSink(url, **kwargs)
    text = str(caught.value)
    assert words in text and "\n" not in text
    assert "hunter2" not in text and "user" not in text.split(":")[0]
    assert caught.value.exit_code == EXIT_EXPORT == 8


def _listener(kind: int = socket.SOCK_STREAM) -> socket.socket:
    sock = socket.socket(socket.AF_INET, kind)
    sock.bind(("127.0.0.1", 0))
    if kind == socket.SOCK_STREAM:
        sock.listen()
    return sock


@pytest.mark.parametrize("framing", ["octet-counting", "newline"])
def test_stream_framing(framing: str) -> None:
    """Octet counting: ``LEN SP MSG``; newline: ``MSG LF``. Both read back to the same messages."""
    server = _listener()
    received = bytearray()

    def serve() -> None:
        connection, _ = server.accept()
        with connection:
            while chunk := connection.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=serve)
    thread.start()
    port = server.getsockname()[1]
    sink = SyslogSink(f"syslog+tcp://127.0.0.1:{port}", framing=framing, hostname="h")
    records = [{**RECORD, "seq": n, "tool": f"t{n}\n"} for n in range(3)]
    sink.send(records)
    sink.close()
    thread.join(5)
    server.close()
    data = bytes(received)
    messages = []
    if framing == "newline":
        assert data.endswith(b"\n")
        messages = data.split(b"\n")[:-1]
    else:
        while data:
            length, _, rest = data.partition(b" ")
            messages.append(rest[: int(length)])
            data = rest[int(length) :]
    assert [parse(m)["sd"][SD_ID]["seq"] for m in messages] == ["0", "1", "2"]


def test_nothing_to_send_opens_nothing() -> None:
    SyslogSink("syslog+tcp://127.0.0.1:9").send([])  # port 9 is closed: no error, no connect


def test_refused_connection_is_one_line() -> None:
    server = _listener()
    port = server.getsockname()[1]
    server.close()
    sink = SyslogSink(f"syslog+tcp://127.0.0.1:{port}?facility=local1", timeout=2)
    with pytest.raises(ExportError) as caught:
        sink.send([RECORD])
    assert str(caught.value) == (
        f"syslog+tcp://127.0.0.1:{port}: cannot connect: connection refused"
    )


def test_values_a_log_cannot_hold_do_not_break_a_batch() -> None:
    """A circular list or a 5,000-digit int (Python refuses to print it) becomes a note."""
    circular: list[object] = []
    circular.append(circular)
    params = parse(format_message({"event": "x", "a": circular, "b": 10**5000}))["sd"][SD_ID]
    assert params["a"] == "\u2026(list, not representable)"
    assert params["b"] == "\u2026(int, not representable)"


def test_lone_surrogates_are_escaped() -> None:
    """JSON lets a log hold "\\ud800"; UTF-8 cannot carry it, so it is shown escaped."""
    data = format_message({"event": "x", "tool": "a\ud800b", "\udfff": "c", "n": {"k": "\udc00"}})
    params = parse(data)["sd"][SD_ID]
    assert params["tool"] == "a\\ud800b" and params["_"] == "c"
    assert params["n"] == '{"k":"\\udc00"}'


def test_a_receiver_that_stops_reading_times_out() -> None:
    """Accepts, never reads: ``send`` gives up after its timeout (twice: one retry), no hang."""
    server = _listener()
    server.listen(1)
    port = server.getsockname()[1]
    sink = SyslogSink(f"syslog+tcp://127.0.0.1:{port}?max=1048576", timeout=0.5)
    huge = [{"event": "call", "arguments": "x" * 1_000_000}] * 40  # far more than the buffers
    started = time.monotonic()
    try:
        with pytest.raises(ExportError) as caught:
            sink.send(huge)
    finally:
        sink.close()
        server.close()
    assert "timed out" in str(caught.value)
    assert time.monotonic() - started < 10


def test_a_tls_receiver_that_never_answers_the_handshake_times_out() -> None:
    server = _listener()
    port = server.getsockname()[1]
    sink = SyslogSink(f"syslog+tls://127.0.0.1:{port}", timeout=0.5)
    try:
        with pytest.raises(ExportError) as caught:
            sink.send([RECORD])
    finally:
        server.close()
    assert str(caught.value) == f"syslog+tls://127.0.0.1:{port}: TLS handshake failed: timed out"


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    server = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        server.bind(("::1", 0))
    except OSError:
        server.close()
        pytest.skip("no IPv6 loopback")
    server.settimeout(5)
    port = server.getsockname()[1]
    sink = SyslogSink(f"syslog+udp://[::1]:{port}", hostname="h")
    sink.send([RECORD])
    sink.close()
    data, _ = server.recvfrom(65536)
    server.close()
    assert parse(data)["sd"][SD_ID]["tool"] == "search_code"
    with pytest.raises(ExportError) as caught:
        SyslogSink(f"syslog+udp://[::1]:{port}?framing=lf")
    assert str(caught.value).startswith(f"syslog+udp://[::1]:{port}: ")


def test_send_and_close_from_two_threads() -> None:
    """The export worker may close while another thread sends: neither breaks the other."""
    server = _listener()
    port = server.getsockname()[1]
    got = bytearray()

    def serve() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                while chunk := connection.recv(65536):
                    got.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    sink = SyslogSink(f"syslog+tcp://127.0.0.1:{port}", hostname="h")
    senders = [
        threading.Thread(target=lambda: [sink.send([RECORD] * 10) for _ in range(20)])
        for _ in range(3)
    ]
    for sender in senders:
        sender.start()
    for _ in range(20):
        sink.close()
    for sender in senders:
        sender.join(10)
    sink.close()
    deadline = time.monotonic() + 5
    while got.count(b"<86>1 ") < 600 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.close()
    assert got.count(b"<86>1 ") == 600  # every batch whole: no interleaved or lost frames


def test_a_connection_on_a_high_descriptor_is_kept() -> None:
    """A worker with many files open gets sockets above 1023, where select() cannot look."""
    resource = pytest.importorskip("resource")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1100:
        pytest.skip("cannot open 1100 files here")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1100), hard))
    server = _listener()
    port = server.getsockname()[1]
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=serve, daemon=True).start()
    fillers = [os.open(os.devnull, os.O_RDONLY) for _ in range(1030)]
    sink = SyslogSink(f"syslog+tcp://127.0.0.1:{port}", hostname="h")
    try:
        sink.send([RECORD])
        assert sink._sock is not None and sink._sock.fileno() > 1023
        sink.send([RECORD])
        time.sleep(0.2)
        assert len(accepted) == 1  # the second batch used the same connection
    finally:
        sink.close()
        for fd in fillers:
            os.close(fd)
        server.close()
        for connection in accepted:
            connection.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_short_summary_alone_may_make_it_fit() -> None:
    """No parameter is dropped when cutting MSG to its short form is enough (the edge)."""
    record = {"event": "call", "server": "s", "tool": "t", "detail": "d" * 3000}
    full = format_message(record, hostname="h")
    params = parse(full)["sd"][SD_ID]
    head = len(full) - len(parse(full)["msg"].encode())  # up to and with " " + BOM
    limit = head + SHORT_SUMMARY
    data = format_message(record, hostname="h", max_size=limit)
    assert len(data) == limit and parse(data)["sd"][SD_ID] == params
    data = format_message(record, hostname="h", max_size=limit - 1)
    assert "detail" not in parse(data)["sd"][SD_ID]  # one byte less: the long param goes


def test_tls13_session_tickets_do_not_pass_for_a_closed_connection(tmp_path: Path) -> None:
    """After a TLS 1.3 handshake the server sends session tickets: the socket turns
    readable though the receiver never closed it. The sink must keep the connection."""
    import ssl

    from tests.support.rsyslog import make_ca

    certs = make_ca(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(certs["cert"], certs["key"])
    server = _listener()
    port = server.getsockname()[1]
    connections: list[socket.socket] = []
    got = bytearray()

    def serve() -> None:
        while True:
            try:
                plain, _ = server.accept()
            except OSError:
                return
            with context.wrap_socket(plain, server_side=True) as connection:
                connections.append(connection)
                while chunk := connection.recv(65536):
                    got.extend(chunk)

    threading.Thread(target=serve, daemon=True).start()
    sink = SyslogSink(f"syslog+tls://127.0.0.1:{port}", ca_file=str(certs["ca"]), hostname="h")
    try:
        sink.send([RECORD])
        assert sink._sock is not None
        assert sink._sock.version() == "TLSv1.3"  # type: ignore[attr-defined]
        first = sink._sock
        time.sleep(0.2)  # the tickets have arrived
        sink.send([RECORD])
        assert sink._sock is first
    finally:
        sink.close()
    deadline = time.monotonic() + 5
    while got.count(b"<86>1 ") < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.close()
    assert len(connections) == 1 and got.count(b"<86>1 ") == 2
