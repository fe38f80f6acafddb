"""Injected values out of what the guard passes on and records: ``mcpcred.guard.mask``.

The forms a server prints a value in (raw, base64 alone or inside a wrapper,
percent-encoded, JSON-escaped once or twice) are replaced by the reference's
placeholder in JSON-RPC lines, raw bytes (stderr), text and audit records;
lines without a value come back as the very same object.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from mcpcred.guard import mask
from mcpcred.guard.auditlog import AuditLog
from mcpcred.guard.mask import Masker, copy_stderr, placeholder
from mcpcred.guard.run import Recorder

TOKEN = "ghp_Zk3x9Qw2Lm8Rt5Yv1Bn7Cx4Dz6Ef0Gh2Ij3K"
ODD = 'pa"ss\\wo/rd+é=?&'  # needs escaping in JSON, percent-encoding, and has a non-ASCII char
SECRET = placeholder("secret/gh")
OTHER = placeholder("oauth/odd")
KEY = bytes(range(32))


def masker() -> Masker:
    masked = Masker()
    masked.add("secret/gh", TOKEN)
    masked.add("oauth/odd", ODD)
    return masked


def wire(text: str, *, ensure_ascii: bool = False) -> bytes:
    """A server's answer holding ``text``, as one line."""
    message = {"jsonrpc": "2.0", "id": 7, "result": {"content": [{"type": "text", "text": text}]}}
    return json.dumps(message, ensure_ascii=ensure_ascii).encode() + b"\n"


def text_of(line: bytes) -> str:
    return str(json.loads(line)["result"]["content"][0]["text"])


def b64(data: str, urlsafe: bool = False, pad: bool = True) -> str:
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(data.encode()).decode()
    return encoded if pad else encoded.rstrip("=")


FORMS = [
    pytest.param(TOKEN, SECRET, id="raw"),
    pytest.param(b64(TOKEN), SECRET, id="base64"),
    pytest.param(b64(TOKEN, pad=False), SECRET, id="base64-unpadded"),
    pytest.param(b64(TOKEN, urlsafe=True), SECRET, id="base64-urlsafe"),
    pytest.param(b64("x-access-token:" + TOKEN), SECRET, id="base64-user-colon-value"),
    pytest.param(b64("u:" + TOKEN + ":"), SECRET, id="base64-shifted-1"),
    pytest.param(b64("us:" + TOKEN, urlsafe=True, pad=False), SECRET, id="base64-shifted-2"),
    pytest.param(ODD, OTHER, id="escaped-in-json"),
    pytest.param(b64(ODD), OTHER, id="odd-base64"),
    pytest.param(b64("user:" + ODD), OTHER, id="odd-base64-wrapped"),
    pytest.param(quote(ODD, safe=""), OTHER, id="percent"),
    pytest.param(quote(ODD, safe="").lower(), OTHER, id="percent-lower"),
    pytest.param(quote_plus(ODD), OTHER, id="percent-plus"),
    pytest.param(json.dumps({"ODD": ODD}), OTHER, id="json-text-in-json"),
]


@pytest.mark.parametrize(("shown", "expected"), FORMS)
@pytest.mark.parametrize("ensure_ascii", [False, True])
def test_every_form_is_replaced_in_a_message(shown: str, expected: str, ensure_ascii: bool) -> None:
    line = wire(f"before {shown} after", ensure_ascii=ensure_ascii)
    assert masker().hit(line)
    masked = masker().line(line)
    text = text_of(masked)  # still valid JSON
    assert expected in text, text
    assert text.startswith("before ") and text.endswith(" after"), text
    for value in (TOKEN, ODD):
        assert value not in text
        assert b64(value)[:12] not in text
    assert masked.endswith(b"\n")


def test_go_style_escaped_html_characters_are_found() -> None:
    go = json.dumps(ODD).replace("&", "\\u0026").encode()
    line = wire("x").replace(b'"x"', go)
    assert json.loads(line)["result"]["content"][0]["text"] == ODD
    assert text_of(masker().line(line)) == OTHER


def test_php_style_escaped_slashes_are_found() -> None:
    line = wire("x").replace(b'"x"', json.dumps(ODD).replace("/", "\\/").encode())
    assert json.loads(line)["result"]["content"][0]["text"] == ODD
    assert text_of(masker().line(line)) == OTHER


def test_a_line_without_a_value_is_returned_as_it_is() -> None:
    line = wire("nothing to see, not even ghp_Zk3x9Qw2 or " + TOKEN[:-1][:20])
    assert masker().line(line) is line
    big = b'{"jsonrpc":"2.0","id":1,"result":"' + b"ab0" * 100_000 + b'"}\n'
    assert len(big) > mask.SMALL and masker().line(big) is big


def test_a_large_line_is_searched_too() -> None:
    big = wire("a" * (2 * mask.SMALL) + " " + b64("x:" + TOKEN) + " b")
    text = text_of(masker().line(big))
    assert text == "a" * (2 * mask.SMALL) + " " + SECRET + " b"  # the whole base64 word


def test_notifications_requests_errors_and_batches_are_masked() -> None:
    messages = [
        {"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": TOKEN}},
        {"jsonrpc": "2.0", "id": "s1", "method": "sampling/createMessage", "params": {TOKEN: 1}},
        {"jsonrpc": "2.0", "id": 3, "error": {"code": -1, "message": f"bad {TOKEN}"}},
    ]
    for message in [*messages, messages]:
        line = json.dumps(message).encode() + b"\n"
        masked = masker().line(line)
        assert TOKEN.encode() not in masked
        assert SECRET.encode() in masked
        assert isinstance(json.loads(masked), type(message))


def test_a_line_that_is_not_json_has_its_bytes_replaced() -> None:
    line = b"garbage \xff " + TOKEN.encode() + b" and " + b64(ODD).encode() + b"\n"
    assert (
        masker().line(line)
        == b"garbage \xff " + SECRET.encode() + b" and " + OTHER.encode() + b"\n"
    )


def test_bytes_that_are_not_the_value_once_decoded_stay() -> None:
    # "\n" + rest of a value: the raw bytes match, the string is not the value
    value = "nR7xq2LpW9zK"
    masked = Masker()
    masked.add("secret/n", value)
    line = b'{"text":"line\\' + value.encode() + b'"}\n'
    assert masked.hit(line)
    assert masked.line(line) is line


def test_short_values_are_replaced_only_as_whole_strings() -> None:
    masked = Masker()
    masked.add("secret/pin", "4711")
    assert masked.short == ["secret/pin"]
    line = wire("the code 4711 in a sentence")
    assert masked.line(line) is line
    whole = masked.line(wire("4711"))
    assert text_of(whole) == placeholder("secret/pin")
    env_dump = masked.line(wire(json.dumps({"PIN": "4711", "OTHER": "47110"})))
    assert json.loads(text_of(env_dump)) == {"PIN": placeholder("secret/pin"), "OTHER": "47110"}
    # the audit log takes no chance: inside text too, and encoded
    assert masked.record({"arguments": {"pin": "4711", "n": "4711 x", "b": b64("4711")}}) == {
        "arguments": {
            "pin": placeholder("secret/pin"),
            "n": placeholder("secret/pin") + " x",
            "b": placeholder("secret/pin"),
        }
    }


def test_values_added_later_are_found() -> None:
    masked = masker()
    renewed = "gho_" + "N3wT0k3n" * 5
    line = wire(renewed)
    assert masked.line(line) is line
    masked.add("oauth/gh", renewed)
    assert text_of(masked.line(line)) == placeholder("oauth/gh")
    assert text_of(masked.line(wire(TOKEN))) == SECRET  # the old one still is


def test_the_first_replacement_of_each_reference_is_reported_once() -> None:
    notices: list[str] = []
    masked = Masker(notices.append)
    masked.add("secret/gh", TOKEN)
    for _ in range(3):
        masked.line(wire(TOKEN + " " + TOKEN))
    assert masked.replaced == {"secret/gh": 6}
    assert len(notices) == 1 and "secret/gh" in notices[0] and TOKEN not in notices[0]


def test_records_lose_values_in_every_field_and_cut_ones() -> None:
    record = {
        "event": "call",
        "tool": TOKEN,
        "arguments": {"auth": "Basic " + b64("me:" + TOKEN), "list": [quote(ODD, safe="")]},
        "error": ("x" * 480 + TOKEN)[:500],  # cut in the middle of the value
        "detail": f"finding in description: {ODD}",
        "duration_ms": 1.5,
    }
    masked = masker().record(record)
    dumped = json.dumps(masked)
    for value in (TOKEN, ODD, TOKEN[:20], b64(TOKEN)[:12]):
        assert value not in dumped
    assert masked["tool"] == SECRET
    assert masked["arguments"] == {"auth": "Basic " + SECRET, "list": [OTHER]}
    assert masked["error"] == "x" * 480 + SECRET
    assert masked["duration_ms"] == 1.5


def test_the_recorder_masks_before_the_detector_and_in_every_field(tmp_path: Path) -> None:
    plain = "correct horse battery staple"  # no detector calls this a secret
    masked = Masker()
    masked.add("secret/phrase", plain)
    recorder = Recorder(
        AuditLog(str(tmp_path), KEY), {"server": "s"}, lambda _: None, None, masked.record
    )
    recorder.add({"event": "call", "arguments": {"q": plain}, "reason": f"why {plain}"})
    recorder.add({"event": "finding", "detail": b64("u:" + plain)})
    recorder.close()
    text = (tmp_path / "audit.jsonl").read_text()
    assert plain not in text and b64(plain)[:12] not in text
    assert text.count("[redacted mcpcred:secret/phrase]") == 3


# -- stderr ------------------------------------------------------------------------------------


def copy(writes: list[bytes], pause: float = 0.0) -> bytes:
    """What ``copy_stderr`` passes on when a server writes ``writes`` to its stderr."""
    server_r, server_w = os.pipe()
    shim_r, shim_w = os.pipe()
    source = os.fdopen(server_r, "rb", buffering=0)
    thread = threading.Thread(target=copy_stderr, args=(source, shim_w, masker()))
    thread.start()
    out = bytearray()
    reader = threading.Thread(target=lambda: out.extend(iter_read(shim_r)))
    reader.start()
    for data in writes:
        os.write(server_w, data)
        time.sleep(pause)
    os.close(server_w)
    thread.join(10)
    os.close(shim_w)
    reader.join(10)
    os.close(shim_r)
    assert not thread.is_alive()
    return bytes(out)


def iter_read(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_stderr_lines_are_masked_even_when_split_across_writes() -> None:
    value = TOKEN.encode()
    out = copy([b"starting\nusing token " + value[:10], value[10:] + b" ok\nbye\n"], pause=0.05)
    assert out == b"starting\nusing token " + SECRET.encode() + b" ok\nbye\n"


def test_a_stderr_line_without_newline_is_passed_on_after_a_pause() -> None:
    server_r, server_w = os.pipe()
    shim_r, shim_w = os.pipe()
    thread = threading.Thread(
        target=copy_stderr, args=(os.fdopen(server_r, "rb", buffering=0), shim_w, masker())
    )
    thread.start()
    try:
        os.write(server_w, b"prompt> " + TOKEN.encode())
        started = time.monotonic()
        got = os.read(shim_r, 1000)
        assert got == b"prompt> " + SECRET.encode()
        assert time.monotonic() - started < 5
    finally:
        os.close(server_w)
        thread.join(10)
        os.close(shim_w)
        os.close(shim_r)


def test_a_huge_stderr_line_is_passed_on_in_pieces_without_splitting_a_value() -> None:
    filler = b"z" * (mask.STDERR_LIMIT - 7)
    data = filler + TOKEN.encode() + b"y" * (3 * mask.STDERR_LIMIT) + TOKEN.encode() + b"\n"
    # written in 4 KiB pieces, so a cut could fall anywhere
    out = copy([data[i : i + 4096] for i in range(0, len(data), 4096)])
    assert TOKEN.encode() not in out and TOKEN.encode()[:8] not in out
    assert (
        out == filler + SECRET.encode() + b"y" * (3 * mask.STDERR_LIMIT) + SECRET.encode() + b"\n"
    )


def test_stderr_is_drained_when_the_shims_stderr_is_gone() -> None:
    server_r, server_w = os.pipe()
    shim_r, shim_w = os.pipe()
    os.close(shim_r)  # nobody reads the shim's stderr any more
    thread = threading.Thread(
        target=copy_stderr, args=(os.fdopen(server_r, "rb", buffering=0), shim_w, masker())
    )
    thread.start()
    for _ in range(64):  # far more than a pipe holds: the server must not block
        os.write(server_w, b"x" * 65536 + b"\n")
    os.close(server_w)
    thread.join(10)
    os.close(shim_w)
    assert not thread.is_alive()


def test_a_cut_value_is_found_behind_a_false_start() -> None:
    masked = Masker()
    masked.add("secret/a", "abcdefgh12345678")
    masked.add("secret/b", "cdefghZZ99999999")
    # "abcdefgh" starts a, but the text goes on as b's start, cut
    assert masked.record({"error": "x abcdefghZZ999"}) == {
        "error": "x ab" + placeholder("secret/b")
    }


def test_the_guards_own_record_fields_are_left_alone() -> None:
    masked = Masker()
    masked.add("secret/word", "call")
    record = {"event": "call", "outcome": "ok", "credentials": ["secret/word"], "method": "call"}
    assert masked.record(record) == {**record, "method": placeholder("secret/word")}


@pytest.mark.parametrize("inner", [True, False])
@pytest.mark.parametrize("outer", [True, False])
def test_a_value_alone_in_an_env_dump_is_found_however_it_was_escaped(
    inner: bool, outer: bool
) -> None:
    masked = Masker()
    masked.add("oauth/odd", ODD)
    dump = json.dumps(
        {"ODD": ODD, "PATH": "/bin"}, ensure_ascii=inner
    )  # JSON.stringify: inner=False
    line = wire(dump, ensure_ascii=outer)
    assert json.loads(text_of(masked.line(line))) == {"ODD": OTHER, "PATH": "/bin"}


def test_a_value_that_is_not_valid_unicode_is_still_masked() -> None:
    masked = Masker()
    value = "abc\udcffdefghijk"  # a lone surrogate, as surrogateescape makes them
    masked.add("secret/odd", value)
    line = json.dumps({"text": f"x {value} y"}).encode()  # \udcff escaped
    assert json.loads(masked.line(line)) == {"text": f"x {placeholder('secret/odd')} y"}


def test_audit_strings_remembered_masked_are_forgotten_when_a_value_is_added() -> None:
    """The audit cache belongs to one index: a value added later is masked in a string
    that was already seen (and cached) without it."""
    masker = Masker()
    masker.add("secret/first", "first-value-12345")
    text = "token second-value-67890 and first-value-12345"
    assert masker.record({"detail": text})["detail"] == (
        "token second-value-67890 and [redacted mcpcred:secret/first]"
    )
    masker.add("secret/second", "second-value-67890")
    assert masker.record({"detail": text})["detail"] == (
        "token [redacted mcpcred:secret/second] and [redacted mcpcred:secret/first]"
    )


def test_audit_masking_is_the_same_from_the_cache_and_without_it() -> None:
    masker = Masker()
    masker.add("secret/s", "s3cr3t-value-abcdef")
    short = "cut s3cr3t-va"  # ends inside the value: cut as well
    long = "x" * (mask.AUDIT_CACHED + 1) + " s3cr3t-value-abcdef"
    for text in (short, long, "nothing here"):
        first = masker.text(text, audit=True)
        assert masker.text(text, audit=True) == first
        assert masker._text(masker._index, text, None, True) == first
    assert masker.text(short, audit=True) == "cut [redacted mcpcred:secret/s]"
