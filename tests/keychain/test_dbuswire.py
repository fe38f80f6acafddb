"""The shim's own D-Bus client against hostile peers, and its marshalling.

``dbuswire`` replaced jeepney on the shim's path (issue 14: jeepney's import
alone was half the start-up budget). Anything that can answer on the user's
bus socket may be hostile or broken, so every way of misbehaving here must end
in one clean ``KeychainUnavailable`` (or ``KeychainTimeout``) within the
deadline: never a hang, a crash, a ``RecursionError`` or a huge allocation.
The real gnome-keyring runs through the same code in test_secretservice.py.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred.errors import KeychainTimeout, KeychainUnavailable
from mcpcred.keychain import dbuswire
from mcpcred.keychain.secretservice import read_secrets


def build(
    kind: int,
    serial: int,
    fields: list[tuple[int, tuple[str, Any]]],
    signature: str = "",
    body: tuple[Any, ...] = (),
) -> bytes:
    """A message as a peer would send it (little-endian)."""
    payload = bytearray()
    dbuswire.marshal(signature, body, payload)
    if signature:
        fields = [*fields, (8, ("g", signature))]
    head = bytearray(b"l") + struct.pack("<BBBII", kind, 0, 1, len(payload), serial)
    dbuswire.marshal("a(yv)", (fields,), head)
    head += b"\0" * (-len(head) % 8)
    return bytes(head + payload)


def reply(to: int, signature: str = "", body: tuple[Any, ...] = (), serial: int = 1000) -> bytes:
    return build(dbuswire.METHOD_RETURN, serial, [(5, ("u", to))], signature, body)


class Peer:
    """The server side of one connection: reads our calls, answers as the test says."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.buffer = b""

    def authenticate(self) -> None:
        while b"\r\n" not in self.buffer:
            self.buffer += self.conn.recv(4096)
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        assert line.startswith(b"\0AUTH EXTERNAL ")
        self.conn.sendall(b"OK 0123456789abcdef0123456789abcdef\r\n")
        while b"BEGIN\r\n" not in self.buffer:
            self.buffer += self.conn.recv(4096)
        self.buffer = self.buffer.partition(b"BEGIN\r\n")[2]

    def call(self) -> dbuswire.Message:
        while len(self.buffer) < 16:
            self.buffer += self.conn.recv(4096)
        total = dbuswire.message_length(self.buffer[:16])
        while len(self.buffer) < total:
            self.buffer += self.conn.recv(4096)
        data, self.buffer = self.buffer[:total], self.buffer[total:]
        return dbuswire.parse_message(data)

    def hello(self) -> None:
        """Authenticate and answer Hello, as a bus does."""
        self.authenticate()
        message = self.call()
        assert message.fields[3] == "Hello"
        self.conn.sendall(reply(message.serial, "s", (":1.42",)))


@contextlib.contextmanager
def fake_bus(script: Callable[[Peer], None]) -> Iterator[str]:
    """A Unix socket whose one connection is served by ``script``; yields its address."""
    folder = tempfile.mkdtemp(prefix="fakebus", dir="/tmp")
    path = os.path.join(folder, "bus")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path)
    listener.listen(1)
    stop = threading.Event()

    def serve() -> None:
        with contextlib.suppress(OSError, AssertionError, dbuswire.WireError):
            conn, _ = listener.accept()
            with conn:
                script(Peer(conn))
                stop.wait(10)  # keep the connection open until the test is done

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix:path={path}"
    finally:
        stop.set()
        listener.close()
        thread.join(5)
        os.unlink(path)
        os.rmdir(folder)


def unavailable_within(address: str, seconds: float, timeout: float = 2.0) -> KeychainUnavailable:
    started = time.monotonic()
    with pytest.raises(KeychainUnavailable) as caught:
        read_secrets(["x"], address=address, timeout=timeout)
    assert time.monotonic() - started < seconds
    assert "\n" not in caught.value.message
    return caught.value


def test_a_refused_authentication_is_unavailable() -> None:
    def script(peer: Peer) -> None:
        peer.conn.recv(4096)
        peer.conn.sendall(b"REJECTED EXTERNAL\r\n")

    with fake_bus(script) as address:
        error = unavailable_within(address, 1.5)
    assert "WireError" in error.message


def test_an_endless_authentication_line_is_cut_short() -> None:
    def script(peer: Peer) -> None:
        peer.conn.recv(4096)
        with contextlib.suppress(OSError):
            for _ in range(1000):
                peer.conn.sendall(b"A" * 4096)

    with fake_bus(script) as address:
        unavailable_within(address, 1.5)


def test_a_huge_announced_message_is_refused_before_it_is_read() -> None:
    def script(peer: Peer) -> None:
        peer.authenticate()
        peer.call()
        # a reply announcing a 1 GiB body, then nothing
        peer.conn.sendall(b"l\x02\x00\x01" + struct.pack("<III", 1 << 30, 7, 8))

    with fake_bus(script) as address:
        error = unavailable_within(address, 1.5)
    assert "WireError" in error.message


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00" * 64,  # byte order 0
        b"l\x02\x00\x02" + b"\x00" * 60,  # protocol version 2
        b"l\x02\x00\x01" + struct.pack("<III", 0, 1, 0x7FFFFFF0),  # header array past the end
        b"l\x02\x00\x01" + struct.pack("<III", 0, 1, 16) + b"\x05\x00\x00\x00\x01x\x00\x00" * 2,
        os.urandom(256),
    ],
    ids=["order", "version", "header-length", "bad-variant", "random"],
)
def test_garbage_after_authentication_is_unavailable(garbage: bytes) -> None:
    def script(peer: Peer) -> None:
        peer.authenticate()
        peer.call()
        peer.conn.sendall(garbage)
        peer.conn.shutdown(socket.SHUT_WR)  # and then nothing more

    with fake_bus(script) as address:
        unavailable_within(address, 1.5)


def test_a_reply_of_the_wrong_type_is_unavailable_not_a_crash() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()  # OpenSession
        peer.conn.sendall(reply(session.serial, "s", ("not a session",)))

    with fake_bus(script) as address:
        error = unavailable_within(address, 1.5)
    assert "OpenSession" in error.message


def test_a_deeply_nested_variant_is_refused_without_recursion_error() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        value: Any = ("s", "x")
        for _ in range(60):
            value = ("v", value)
        peer.conn.sendall(reply(session.serial, "vo", (value, "/s")))

    with fake_bus(script) as address:
        unavailable_within(address, 1.5)


def test_a_flood_of_signals_ends_at_the_deadline() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        peer.call()
        signal = build(dbuswire.SIGNAL, 9, [(1, ("o", "/x")), (3, ("s", "Spam"))], "s", ("x",))
        with contextlib.suppress(OSError):
            while True:
                peer.conn.sendall(signal * 64)

    with fake_bus(script) as address:
        started = time.monotonic()
        with pytest.raises((KeychainTimeout, KeychainUnavailable)):
            read_secrets(["x"], address=address, timeout=0.5)
        assert time.monotonic() - started < 1.5


def test_a_peer_that_trickles_bytes_times_out_at_the_deadline() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        data = reply(session.serial, "vo", (("s", ""), "/s"))
        with contextlib.suppress(OSError):
            for byte in data:
                peer.conn.sendall(bytes([byte]))
                time.sleep(0.1)

    with fake_bus(script) as address:
        started = time.monotonic()
        with pytest.raises(KeychainTimeout):
            read_secrets(["x"], address=address, timeout=0.5)
        assert time.monotonic() - started < 1.2


def test_a_peer_that_hangs_up_mid_message_is_unavailable() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        peer.conn.sendall(reply(session.serial, "vo", (("s", ""), "/s"))[:20])
        peer.conn.shutdown(socket.SHUT_RDWR)

    with fake_bus(script) as address:
        unavailable_within(address, 1.5)


def test_an_error_reply_with_an_odd_body_is_mapped() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        error = build(
            dbuswire.ERROR,
            5,
            [(5, ("u", session.serial)), (4, ("s", "org.freedesktop.DBus.Error.ServiceUnknown"))],
            "ai",
            ([1, 2],),
        )
        peer.conn.sendall(error)

    with fake_bus(script) as address:
        error = unavailable_within(address, 1.5)
    assert "ServiceUnknown" in error.message


def test_a_scripted_secret_service_is_read_with_pipelined_searches() -> None:
    """The whole conversation, in order: searches are all sent before any reply."""

    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        peer.conn.sendall(reply(session.serial, "vo", (("s", ""), "/session/1")))
        searches = [peer.call(), peer.call()]  # both arrive before we answer either
        assert [m.body[0]["username"] for m in searches] == ["a", "b"]
        for index, search in enumerate(searches):
            peer.conn.sendall(reply(search.serial, "aoao", ([f"/item/{index}"], [])))
        get = peer.call()
        assert get.fields[3] == "GetSecrets"
        secrets = {
            f"/item/{i}": ("/session/1", b"", f"value-{i}".encode(), "text/plain") for i in range(2)
        }
        peer.conn.sendall(reply(get.serial, "a{o(oayays)}", (secrets,)))

    with fake_bus(script) as address:
        assert read_secrets(["a", "b"], address=address, timeout=2) == {
            "a": "value-0",
            "b": "value-1",
        }


# -- marshalling ---------------------------------------------------------------------------

SAMPLES: list[tuple[str, tuple[Any, ...]]] = [
    ("sv", ("plain", ("s", ""))),
    ("a{ss}", ({"service": "mcpcred", "username": "gh\u00e9"},)),
    ("aoo", (["/a", "/b/c"], "/s")),
    (
        "a{sv}(oayays)b",
        ({"L": ("s", "x"), "A": ("a{ss}", {"k": "v"})}, ("/s", b"", b"v\0", "t"), True),
    ),
    ("a{o(oayays)}", ({"/i": ("/s", b"p", b"\xff", "t")},)),
    ("ynqiuxtd", (1, -2, 3, -4, 5, -6, 7, 0.5)),
    ("aai", ([[1], [], [2, 3]],)),
]


@pytest.mark.parametrize(("signature", "values"), SAMPLES)
def test_marshalled_values_read_back_the_same(signature: str, values: tuple[Any, ...]) -> None:
    data = build(dbuswire.METHOD_RETURN, 3, [(5, ("u", 1))], signature, values)
    assert dbuswire.message_length(data[:16]) == len(data)
    assert dbuswire.parse_message(data).body == values


def test_jeepney_reads_our_calls_the_same() -> None:
    """An independent implementation agrees with our marshalling (jeepney ships with keyring)."""
    from jeepney.low_level import HeaderFields, Parser  # type: ignore[import-untyped]

    for signature, values in SAMPLES:
        data = dbuswire.method_call(9, "/p", "i.f", "M", "d.e", signature, values)
        parser = Parser()
        parser.add_data(data)
        message = parser.get_next_message()
        assert message is not None
        assert message.header.serial == 9
        assert message.header.fields[HeaderFields.member] == "M"
        assert message.body == values


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=16, max_size=512))
def test_random_bytes_never_raise_anything_but_wire_error(data: bytes) -> None:
    try:
        total = dbuswire.message_length(data[:16])
        dbuswire.parse_message(data[:total] if total <= len(data) else data)
    except dbuswire.WireError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 200), st.binary(min_size=1, max_size=8))
def test_corrupting_a_valid_reply_never_raises_anything_but_wire_error(
    at: int, noise: bytes
) -> None:
    data = bytearray(build(dbuswire.METHOD_RETURN, 3, [(5, ("u", 1))], *SAMPLES[3]))
    at %= len(data)
    data[at : at + len(noise)] = noise[: len(data) - at]
    try:
        if dbuswire.message_length(bytes(data[:16])) == len(data):
            dbuswire.parse_message(bytes(data))
    except dbuswire.WireError:
        pass


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("unix:path=/run/user/1000/bus", "/run/user/1000/bus"),
        ("unix:path=/tmp/a%20dir%2cx%3dy%3bz/bus", "/tmp/a dir,x=y;z/bus"),
        ("unix:abstract=/tmp/dbus-X,guid=0123", "\0/tmp/dbus-X"),
        ("tcp:host=h,port=1;unix:path=/b", "/b"),
    ],
)
def test_addresses_match_jeepney(address: str, target: str) -> None:
    from jeepney.bus import get_bus  # type: ignore[import-untyped]

    assert dbuswire.socket_address(address) == target == get_bus(address)


@pytest.mark.parametrize("address", ["", "tcp:host=h,port=1", "unix:path", "unix:path=%zz"])
def test_unusable_addresses_are_value_errors(address: str) -> None:
    with pytest.raises(ValueError):
        dbuswire.socket_address(address)


def test_big_endian_messages_from_jeepney_read_the_same() -> None:
    """A peer on a big-endian machine (or one that chooses 'B') is understood."""
    from jeepney.low_level import (  # type: ignore[import-untyped]
        Endianness,
        Header,
        HeaderFields,
        Message,
        MessageType,
    )

    for signature, values in SAMPLES:
        fields = {HeaderFields.reply_serial: 3, HeaderFields.signature: signature}
        header = Header(Endianness.big, MessageType.method_return, 0, 1, 0, 7, fields)
        data = Message(header, values).serialise(serial=7)
        assert data[:1] == b"B"
        assert dbuswire.message_length(data[:16]) == len(data)
        assert dbuswire.parse_message(data).body == values


def test_a_reply_to_a_serial_never_sent_is_skipped() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        peer.conn.sendall(reply(session.serial + 1000, "vo", (("s", ""), "/forged")))
        peer.conn.sendall(reply(session.serial, "vo", (("s", ""), "/real")))
        search = peer.call()
        peer.conn.sendall(reply(search.serial, "aoao", ([], [])))

    with fake_bus(script) as address, pytest.raises(Exception) as caught:
        read_secrets(["x"], address=address, timeout=2)
    assert type(caught.value).__name__ == "SecretNotFound"  # got past the forged reply


@pytest.mark.parametrize("announced", [dbuswire.MAX_MESSAGE, 0x7FFFFFFF, 0xFFFFFFFF])
def test_huge_array_lengths_inside_a_message_are_refused(announced: int) -> None:
    data = bytearray(build(dbuswire.METHOD_RETURN, 3, [(5, ("u", 1))], "ao", (["/a"],)))
    (body_length,) = struct.unpack("<I", data[4:8])
    body_at = len(data) - body_length  # the array's u32 length comes first
    data[body_at : body_at + 4] = struct.pack("<I", announced)
    with pytest.raises(dbuswire.WireError):
        dbuswire.parse_message(bytes(data))


def test_a_missing_item_in_get_secrets_is_locked_not_a_crash() -> None:
    def script(peer: Peer) -> None:
        peer.hello()
        session = peer.call()
        peer.conn.sendall(reply(session.serial, "vo", (("s", ""), "/s")))
        search = peer.call()
        peer.conn.sendall(reply(search.serial, "aoao", (["/item/1"], [])))
        get = peer.call()
        peer.conn.sendall(reply(get.serial, "a{o(oayays)}", ({},)))

    with fake_bus(script) as address, pytest.raises(Exception) as caught:
        read_secrets(["x"], address=address, timeout=2)
    assert type(caught.value).__name__ == "KeychainLocked"
