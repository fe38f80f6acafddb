"""The guard reads a line one way only, and writes back exactly what it read.

Each refused line below is one that two common parsers read differently (the
MCP Python SDK with universal newlines, Node's JSON.parse after a lenient
UTF-8 decode, Go's case-insensitive ``encoding/json``): forwarding it would
let the server act on a message the guard never saw.
"""

from __future__ import annotations

import json

import pytest

from mcpcred.guard import wire

CALL = b'"method":"tools/call","params":{"name":"delete_repo"}'
REFUSED = {
    "invalid UTF-8": b'{"jsonrpc":"2.0","id":1,' + CALL + b',"x":"\xff"}\n',
    "an encoded surrogate": b'{"id":1,"x":"\xed\xa0\x80"}\n',
    "a byte-order mark": b'\xef\xbb\xbf{"id":1}\n',
    "UTF-16": '{"id":1}'.encode("utf-16-le"),
    "a lone surrogate escape": b'{"id":1,"params":{"name":"get_\\ud800"}}\n',
    "a lone low surrogate": b'{"id":1,"x":["\\udc00"]}\n',
    "duplicate keys": b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    b'"params":{"name":"get_issue","name":"delete_repo"}}\n',
    "escaped duplicate keys": b'{"id":1,"i\\u0064":2}\n',
    "keys differing in case": b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
    b'"params":{"name":"get_issue","NAME":"delete_repo"}}\n',
    "method and METHOD": b'{"jsonrpc":"2.0","id":1,"method":"ping","METHOD":"tools/call"}\n',
    "Kelvin sign": b'{"k":1,"\\u212a":2}\n',
    "a raw NUL": b'{"id":1,"x":"a\x00b"}\n',
    "a raw CR in a string": b'{"id":1,"x":"a\rb"}\n',
    "NaN": b'{"id":NaN}\n',
    "-Infinity": b'{"id":1,"x":-Infinity}\n',
    "a float past the double range": b'{"id":1,"x":1e999}\n',
    "a 5000-digit integer": b'{"id":1,"x":1' + b"0" * 5000 + b"}\n",
    "deep nesting": b'{"id":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}\n",
    "two messages on one line": b'{"id":1,"method":"ping"}\r{"id":2,' + CALL + b"}\n",
    "half a message": b'{"jsonrpc":"2.0","id":1,\n',
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_ambiguous_lines_are_refused_with_a_reason_and_no_content(case: str) -> None:
    with pytest.raises(wire.Unreadable) as caught:
        wire.canonical(wire.parse(REFUSED[case]))
    assert caught.value.reason
    assert "delete" not in caught.value.reason and "\\x" not in caught.value.reason


def test_canonical_lines_hold_no_byte_any_reader_could_split_at() -> None:
    smuggled = (
        b'{"a":\r{"jsonrpc":"2.0","id":2,' + CALL + b"}\r,"
        b'"jsonrpc":"2.0","id":1,"method":"ping","s":"\xe2\x80\xa8\xe2\x80\xa9\\u0000\\r\xc2\x85"}\n'
    )
    message = wire.parse(smuggled)
    out = wire.canonical(message)
    assert out.endswith(b"\n") and out.count(b"\n") == 1
    assert all(32 <= byte < 127 for byte in out[:-1])  # ASCII, no control character
    assert json.loads(out) == message
    assert out.startswith(b'{"a":{"jsonrpc":"2.0","id":2,')  # one message, as parsed


def test_what_every_parser_reads_alike_is_kept() -> None:
    line = (
        '{"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"grüße",'
        '"arguments":{"n":[1,2.5,-0.0,1e300,12345678901234567890123],"e":"\\ud83d\\ude00",'
        '"Name":"a","nom":null,"s":"\\u00df","ss":"k"}}}\n'
    ).encode()
    message = wire.parse(line)
    assert json.loads(wire.canonical(message)) == message
    assert wire.parse(b" \t\r\n") is wire.BLANK
    assert wire.parse(b"null\n") is None


def test_a_4300_digit_integer_is_read_and_written_back() -> None:
    number = "9" * 4300
    message = wire.parse(b'{"id":1,"x":-%s}\n' % number.encode())
    assert wire.canonical(message) == b'{"id":1,"x":-%s}\n' % number.encode()


def test_an_id_is_recovered_only_when_the_line_names_one() -> None:
    assert wire.recover_id(REFUSED["invalid UTF-8"]) == 1
    assert wire.recover_id(b'{"id":"a\\"b","x":"\xff"}') == 'a"b'
    assert wire.recover_id(b'{"id":1,"params":{"id":2},"x":"\xff"}') is None
    assert wire.recover_id(b"\xff not json") is None
    assert wire.recover_id(b'{"id":"\\ud800","x":"\xff"}') is None


def test_known_keys_fold_to_distinct_keys() -> None:
    """``KNOWN_KEYS`` lets an object skip the case fold: only if no two of its keys could
    collide. A key added in a second spelling (``isError`` and ``iserror``) breaks that."""
    folded = {key.casefold() for key in wire.KNOWN_KEYS}
    assert len(folded) == len(wire.KNOWN_KEYS)


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false,"ISERROR":true}}\n',
        b'{"jsonrpc":"2.0","id":1,"result":{"isError":false,"iserror":true}}\n',
        b'{"jsonrpc":"2.0","id":1,"result":{"nextCursor":"a","NextCursor":"b"}}\n',
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"a","Name":"b"}}\n',
        b'{"jsonrpc":"2.0","id":1,"result":{"inputSchema":{},"inputschema":{}}}\n',
    ],
)
def test_a_known_key_beside_its_other_spelling_is_refused(line: bytes) -> None:
    """The known-keys shortcut holds only for objects whose keys are all known: one key
    outside the set (a known key in another case) sends the object through the fold."""
    with pytest.raises(wire.Unreadable, match="differ only in case"):
        wire.parse(line)


@pytest.mark.parametrize("key", ["ID", "Id", "METHOD", "Params", "RESULT", "Error", "jsonRPC"])
def test_an_envelope_key_spelt_otherwise_is_refused_beside_the_exact_ones(key: str) -> None:
    """``Keys.check`` decides objects of exact names by a set comparison; any other key,
    even beside all the exact ones, is still folded and compared."""
    message = {"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}, key: 2}
    with pytest.raises(wire.Unreadable, match="only in case"):
        wire.envelope(message)
    wire.envelope({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {}, "extra": 1})
