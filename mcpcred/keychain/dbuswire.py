"""A small D-Bus client on the standard library: just what the shim's Secret Service reads need.

The shim runs on every MCP server start with a budget of about 25 ms, and
importing ``jeepney`` alone took ~13 ms (``re``, ``enum``, ``typing``, its
auth and fd modules), three times the D-Bus work itself. This module speaks the
wire protocol directly: a Unix socket, SASL ``EXTERNAL`` with our uid,
``Hello``, method calls with serials and their replies matched by
``reply_serial``, and the marshalling of the D-Bus type system (both byte
orders on input; little-endian on output, which every peer must accept).
Signals and calls addressed to us are skipped; nothing else is implemented
(no file descriptors, no other transports, no server side).

The bus is the user's own, but any process of the user can own a name on it,
and the per-user socket may be answered by something else entirely; so input
is treated as hostile: every message is bounded in size (``MAX_MESSAGE``),
nesting (``MAX_DEPTH``) and count, every read is checked against the
message's end, strings must be valid UTF-8, and every wait ends at the
caller's deadline. Whatever goes wrong surfaces as ``WireError`` (a protocol
violation), ``DBusError`` (an error reply), ``TimeoutError`` or ``OSError``;
the caller maps those to its own errors. Values read here are never put in
an exception's text.
"""

from __future__ import annotations

import _socket  # not ``socket``: its enums, selectors and wrappers cost ~3 ms to import
import os
import struct
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

BUS_NAME = "org.freedesktop.DBus"
BUS_PATH = "/org/freedesktop/DBus"

# The specification allows 128 MiB. The largest reply the shim asks for is one
# ``GetSecrets`` over every part of a chunked value (1024 parts of 1000
# characters, at most 4 bytes each), so 16 MiB is ample and still bounded.
MAX_MESSAGE = 16 * 1024 * 1024
MAX_DEPTH = 32  # nesting of arrays, structs and variants together (the spec: 32 + 32)
MAX_AUTH_LINE = 512
MAX_SKIPPED = 10_000  # unrelated messages (signals, others' replies) while waiting for ours

METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL = 1, 2, 3, 4
NO_REPLY_EXPECTED = 1
_PATH, _INTERFACE, _MEMBER, _ERROR_NAME, _REPLY_SERIAL, _DESTINATION = 1, 2, 3, 4, 5, 6
_SIGNATURE = 8

_FIXED = {  # type code: (struct format, size and alignment)
    "y": ("B", 1),
    "b": ("I", 4),
    "n": ("h", 2),
    "q": ("H", 2),
    "i": ("i", 4),
    "u": ("I", 4),
    "x": ("q", 8),
    "t": ("Q", 8),
    "d": ("d", 8),
    "h": ("I", 4),
}
_ALIGN = {code: size for code, (_fmt, size) in _FIXED.items()}
_ALIGN.update({"s": 4, "o": 4, "g": 1, "v": 1, "a": 4, "(": 8, "{": 8})


class WireError(Exception):
    """The peer broke the protocol (malformed, oversized or unexpected data).

    Messages describe the fault only, never the data that caused it.
    """


class DBusError(Exception):
    """An error reply: its name (``org.freedesktop.DBus.Error.ServiceUnknown``) and body."""

    def __init__(self, name: str, data: tuple[Any, ...]) -> None:
        super().__init__(name)
        self.name = name
        self.data = data


# -- addresses -----------------------------------------------------------------------------


def socket_address(address: str) -> str:
    """The socket to connect to for a D-Bus address: a path, or ``\\0name`` (abstract).

    The first ``unix:`` entry with ``path`` or ``abstract`` wins, as in libdbus
    and jeepney; values are %XX-unescaped. ``ValueError`` for anything else.
    """
    for entry in address.split(";"):
        transport, colon, info = entry.partition(":")
        if not colon or transport != "unix":
            continue
        pairs = {}
        for item in info.split(","):
            key, equals, value = item.partition("=")
            if not equals:
                raise ValueError("malformed D-Bus address")
            pairs[key] = _unescape(value)
        if "abstract" in pairs:
            return "\0" + pairs["abstract"]
        if "path" in pairs:
            return pairs["path"]
    raise ValueError("no unix socket in the D-Bus address")


def _unescape(value: str) -> str:
    if "%" not in value:
        return value
    raw = bytearray()
    index = 0
    while index < len(value):
        char = value[index]
        if char == "%":
            digits = value[index + 1 : index + 3]
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ValueError("malformed escape in D-Bus address")
            raw.append(int(digits, 16))
            index += 3
        else:
            raw += char.encode("utf-8")
            index += 1
    return os.fsdecode(bytes(raw))


# -- signatures ----------------------------------------------------------------------------

# A parsed type: a basic code ("s", "u", "v", ...), ("a", item), ("(", fields) or ("{", k, v).


def parse_signature(signature: str) -> list[Any]:
    """The complete types of ``signature``; ``WireError`` if it is not one."""
    if len(signature) > 255:
        raise WireError("signature too long")
    types: list[Any] = []
    index = 0
    while index < len(signature):
        parsed, index = _one_type(signature, index, 0)
        types.append(parsed)
    return types


def _one_type(sig: str, index: int, depth: int) -> tuple[Any, int]:
    if depth > MAX_DEPTH:
        raise WireError("signature nested too deeply")
    if index >= len(sig):
        raise WireError("incomplete signature")
    code = sig[index]
    if code in _FIXED or code in "sogv":
        return code, index + 1
    if code == "a":
        if index + 1 < len(sig) and sig[index + 1] == "{":
            key, after = _one_type(sig, index + 2, depth + 1)
            if not isinstance(key, str) or key == "v":
                raise WireError("dict key is not a basic type")
            value, after = _one_type(sig, after, depth + 1)
            if after >= len(sig) or sig[after] != "}":
                raise WireError("unterminated dict entry in signature")
            return ("a", ("{", key, value)), after + 1
        item, after = _one_type(sig, index + 1, depth + 1)
        return ("a", item), after
    if code == "(":
        fields = []
        index += 1
        while True:
            if index >= len(sig):
                raise WireError("unterminated struct in signature")
            if sig[index] == ")":
                break
            field, index = _one_type(sig, index, depth + 1)
            fields.append(field)
        if not fields:
            raise WireError("empty struct in signature")
        return ("(", fields), index + 1
    raise WireError("invalid type code in signature")


def _align_of(parsed: Any) -> int:
    return _ALIGN[parsed if isinstance(parsed, str) else parsed[0]]


# -- marshalling (out) ---------------------------------------------------------------------


def _pad(buf: bytearray, alignment: int) -> None:
    buf += b"\0" * (-len(buf) % alignment)


def _put(buf: bytearray, parsed: Any, value: Any) -> None:
    if isinstance(parsed, str):
        if parsed in _FIXED:
            fmt, size = _FIXED[parsed]
            _pad(buf, size)
            buf += struct.pack("<" + fmt, bool(value) if parsed == "b" else value)
        elif parsed in "so":
            data = value.encode("utf-8")
            _pad(buf, 4)
            buf += struct.pack("<I", len(data)) + data + b"\0"
        elif parsed == "g":
            data = value.encode("ascii")
            buf += bytes([len(data)]) + data + b"\0"
        else:  # "v": (signature, value)
            signature, inner = value
            (inner_type,) = parse_signature(signature)
            _put(buf, "g", signature)
            _put(buf, inner_type, inner)
        return
    kind = parsed[0]
    if kind == "a":
        item = parsed[1]
        _pad(buf, 4)
        at = len(buf)
        buf += b"\0\0\0\0"
        _pad(buf, _align_of(item))
        start = len(buf)
        if item == "y":
            buf += bytes(value)
        elif isinstance(item, tuple) and item[0] == "{":
            for key, entry in value.items():
                _pad(buf, 8)
                _put(buf, item[1], key)
                _put(buf, item[2], entry)
        else:
            for entry in value:
                _put(buf, item, entry)
        struct.pack_into("<I", buf, at, len(buf) - start)
    else:  # "(": a tuple
        _pad(buf, 8)
        fields = parsed[1]
        if len(value) != len(fields):
            raise ValueError("struct value does not match its signature")
        for field, entry in zip(fields, value, strict=True):
            _put(buf, field, entry)


def marshal(signature: str, values: tuple[Any, ...] | list[Any], buf: bytearray) -> None:
    """Append ``values`` to ``buf`` (whose start is 8-aligned) as ``signature`` says."""
    types = parse_signature(signature)
    if len(types) != len(values):
        raise ValueError("body does not match its signature")
    for parsed, value in zip(types, values, strict=True):
        _put(buf, parsed, value)


def method_call(
    serial: int,
    path: str,
    interface: str | None,
    member: str,
    destination: str,
    signature: str = "",
    body: tuple[Any, ...] = (),
    flags: int = 0,
) -> bytes:
    """One method call message, little-endian."""
    payload = bytearray()
    marshal(signature, body, payload)
    fields: list[tuple[int, tuple[str, Any]]] = [
        (_PATH, ("o", path)),
        (_MEMBER, ("s", member)),
        (_DESTINATION, ("s", destination)),
    ]
    if interface:
        fields.append((_INTERFACE, ("s", interface)))
    if signature:
        fields.append((_SIGNATURE, ("g", signature)))
    head = bytearray(b"l")
    head += struct.pack("<BBBII", METHOD_CALL, flags, 1, len(payload), serial)
    _put(head, ("a", ("(", ["y", "v"])), fields)
    _pad(head, 8)
    return bytes(head + payload)


# -- unmarshalling (in) --------------------------------------------------------------------


class _Reader:
    """Reads one message's bytes; every read is bounds-checked against its end."""

    __slots__ = ("data", "end", "order", "pos")

    def __init__(self, data: bytes, order: str, pos: int = 0) -> None:
        self.data = data
        self.order = order
        self.pos = pos
        self.end = len(data)

    def align(self, alignment: int) -> None:
        pos = self.pos + (-self.pos % alignment)
        if pos > self.end:
            raise WireError("message truncated")
        self.pos = pos

    def take(self, count: int) -> bytes:
        pos = self.pos
        if count < 0 or pos + count > self.end:
            raise WireError("message truncated")
        self.pos = pos + count
        return self.data[pos : pos + count]

    def fixed(self, code: str) -> Any:
        fmt, size = _FIXED[code]
        self.align(size)
        (value,) = struct.unpack(self.order + fmt, self.take(size))
        if code == "b":
            if value > 1:
                raise WireError("boolean out of range")
            return bool(value)
        return value

    def string(self, length: int) -> str:
        raw = self.take(length + 1)
        if raw[-1] != 0:
            raise WireError("string not terminated")
        try:
            return raw[:-1].decode("utf-8")
        except UnicodeDecodeError:
            raise WireError("string is not UTF-8") from None

    def value(self, parsed: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise WireError("value nested too deeply")
        if isinstance(parsed, str):
            if parsed in _FIXED:
                return self.fixed(parsed)
            if parsed in "so":
                return self.string(self.fixed("u"))
            if parsed == "g":
                return self.string(self.take(1)[0])
            signature = self.string(self.take(1)[0])  # "v"
            types = parse_signature(signature)
            if len(types) != 1:
                raise WireError("variant holds other than one type")
            return signature, self.value(types[0], depth + 1)
        if parsed[0] == "(":
            self.align(8)
            return tuple(self.value(field, depth + 1) for field in parsed[1])
        length = self.fixed("u")  # "a"
        item = parsed[1]
        self.align(_align_of(item))
        stop = self.pos + length
        if length > MAX_MESSAGE or stop > self.end:
            raise WireError("array runs past the message")
        if item == "y":
            return self.take(length)
        if isinstance(item, tuple) and item[0] == "{":
            entries = {}
            while self.pos < stop:
                self.align(8)
                key = self.value(item[1], depth + 1)
                entries[key] = self.value(item[2], depth + 1)
        else:
            items = []
            while self.pos < stop:
                items.append(self.value(item, depth + 1))
            if self.pos != stop:
                raise WireError("array length does not match its items")
            return items
        if self.pos != stop:
            raise WireError("array length does not match its items")
        return entries


class Message:
    """A received message: its type, header fields and body (a tuple)."""

    __slots__ = ("body", "fields", "flags", "kind", "serial")

    def __init__(
        self, kind: int, flags: int, serial: int, fields: dict[int, Any], body: tuple[Any, ...]
    ) -> None:
        self.kind = kind
        self.flags = flags
        self.serial = serial
        self.fields = fields
        self.body = body


def message_length(head: bytes) -> int:
    """The full length of a message from its first 16 bytes; ``WireError`` if bad or too big."""
    if head[0:1] == b"l":
        order = "<"
    elif head[0:1] == b"B":
        order = ">"
    else:
        raise WireError("unknown byte order")
    if head[3] != 1:
        raise WireError("unknown protocol version")
    body_length, _serial, fields_length = struct.unpack(order + "III", head[4:16])
    total: int = 16 + fields_length + (-fields_length % 8) + body_length
    if total > MAX_MESSAGE:
        raise WireError("message too large")
    return total


def parse_message(data: bytes) -> Message:
    """One complete message (``message_length`` bytes) as a ``Message``."""
    order = "<" if data[0:1] == b"l" else ">"
    kind, flags, _version, body_length, serial = struct.unpack(order + "BBBII", data[1:12])
    if kind not in (METHOD_CALL, METHOD_RETURN, ERROR, SIGNAL) or serial == 0:
        raise WireError("invalid message header")
    reader = _Reader(data, order, 12)
    fields: dict[int, Any] = {}
    for code, (signature, value) in reader.value(("a", ("(", ["y", "v"]))):
        if code in fields:
            raise WireError("repeated header field")
        fields[code] = (signature, value)
    reader.align(8)
    if reader.end - reader.pos != body_length:
        raise WireError("body length does not match the message")
    known = {
        _ERROR_NAME: "s",
        _REPLY_SERIAL: "u",
        _SIGNATURE: "g",
        _PATH: "o",
        _MEMBER: "s",
        _INTERFACE: "s",
    }
    plain: dict[int, Any] = {}
    for code, (signature, value) in fields.items():
        if code in known and signature != known[code]:
            raise WireError("header field of the wrong type")
        plain[code] = value
    signature = plain.get(_SIGNATURE, "")
    if kind in (METHOD_RETURN, ERROR) and _REPLY_SERIAL not in plain:
        raise WireError("reply without a reply serial")
    if kind == ERROR and _ERROR_NAME not in plain:
        raise WireError("error without a name")
    body = tuple(reader.value(parsed) for parsed in parse_signature(signature))
    if reader.pos != reader.end:
        raise WireError("body longer than its signature")
    return Message(kind, flags, serial, plain, body)


# -- the connection ------------------------------------------------------------------------


class Connection:
    """One authenticated connection to a bus; every wait ends at ``deadline`` (monotonic).

    ``send`` queues calls (several may be in flight: the replies are matched
    by serial), ``reply`` waits for the answer to one of them.
    """

    def __init__(self, address: str, deadline: float) -> None:
        self.deadline = deadline
        target = socket_address(address)  # ValueError: the caller's "unusable address"
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)  # not inheritable
        self._buffer = bytearray()
        self._out = bytearray()
        self._serial = 0
        self._pending: set[int] = set()
        self._replies: dict[int, Message] = {}
        self._authenticated = False
        try:
            self._timeout()
            self.sock.connect(target)
        except BaseException:
            self.sock.close()
            raise
        # Pipelined, as sd-bus does: the bus reads the lines in order and keeps what
        # follows BEGIN as the first message, so authentication, Hello and the first
        # calls go out in one write and cost one round trip, not three.
        uid = str(os.getuid()).encode("ascii").hex().encode("ascii")
        self._out += b"\0AUTH EXTERNAL " + uid + b"\r\nBEGIN\r\n"
        self._hello = self.send(BUS_PATH, BUS_NAME, "Hello", BUS_NAME)

    def _timeout(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)

    def flush(self) -> None:
        """Write every queued message."""
        if self._out:
            self._timeout()
            self.sock.sendall(self._out)
            self._out.clear()

    def _authenticate(self) -> None:
        line = self._line()
        if not line.startswith(b"OK "):
            raise WireError("the bus refused authentication")
        self._authenticated = True

    def _line(self) -> bytes:
        while b"\r\n" not in self._buffer:
            if len(self._buffer) > MAX_AUTH_LINE:
                raise WireError("authentication reply too long")
            self._receive()
        line, _sep, rest = bytes(self._buffer).partition(b"\r\n")
        self._buffer = bytearray(rest)
        return line

    def _receive(self) -> None:
        self._timeout()
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("the bus closed the connection")
        self._buffer += chunk

    def send(
        self,
        path: str,
        interface: str | None,
        member: str,
        destination: str,
        signature: str = "",
        body: tuple[Any, ...] = (),
        *,
        expect_reply: bool = True,
    ) -> int:
        """Queue one method call (sent by ``flush`` or the next ``reply``); its serial."""
        self._serial += 1
        serial = self._serial
        flags = 0 if expect_reply else NO_REPLY_EXPECTED
        self._out += method_call(
            serial, path, interface, member, destination, signature, body, flags
        )
        if expect_reply:
            self._pending.add(serial)
        return serial

    def reply(self, serial: int, signature: str | None = None) -> tuple[Any, ...]:
        """The body of the reply to call ``serial``; ``DBusError`` for an error reply.

        With ``signature``, a reply of any other signature is a ``WireError``, so
        callers can unpack the body without checking its shape again.
        """
        self.flush()
        if not self._authenticated:
            self._authenticate()
        skipped = 0
        while serial not in self._replies:
            message = self._next()
            answered = message.fields.get(_REPLY_SERIAL)
            if message.kind in (METHOD_RETURN, ERROR) and answered in self._pending:
                self._pending.discard(answered)
                self._replies[answered] = message
                continue
            skipped += 1  # a signal (NameAcquired), a call to us, a stray reply
            if skipped > MAX_SKIPPED:
                raise WireError("too many unrelated messages")
        hello = self._replies.pop(self._hello, None) if serial != self._hello else None
        if hello is not None and (hello.kind == ERROR or hello.fields.get(_SIGNATURE) != "s"):
            raise WireError("the bus refused Hello")
        message = self._replies.pop(serial)
        if message.kind == ERROR:
            raise DBusError(str(message.fields[_ERROR_NAME]), message.body)
        if signature is not None and message.fields.get(_SIGNATURE, "") != signature:
            raise WireError("reply of an unexpected type")
        return message.body

    def call(
        self,
        path: str,
        interface: str | None,
        member: str,
        destination: str,
        signature: str = "",
        body: tuple[Any, ...] = (),
        returns: str | None = None,
    ) -> tuple[Any, ...]:
        """Send one call and wait for its reply's body (of signature ``returns``, if given)."""
        return self.reply(self.send(path, interface, member, destination, signature, body), returns)

    def _next(self) -> Message:
        while len(self._buffer) < 16:
            self._receive()
        total = message_length(bytes(self._buffer[:16]))
        while len(self._buffer) < total:
            self._receive()
        data = bytes(self._buffer[:total])
        del self._buffer[:total]
        return parse_message(data)

    def drain(self, wait: float = 0.5) -> None:
        """Wait (at most ``wait`` seconds, and never past the deadline) for the replies to
        every call still in flight, and drop them.

        For a graceful exit: gnome-keyring (42 to 50 at least) aborts the whole daemon,
        every application's keyring with it, when a client vanishes while one of its calls
        is still being handled (``gkd_secret_service_get_pkcs11_session: assertion 'client'
        failed``). A shim starts and exits with every MCP server; it must never leave a
        call behind it. Errors here are the caller's close path: never raised.
        """
        self.deadline = min(self.deadline, time.monotonic() + wait)
        try:
            while self._pending:
                self.reply(next(iter(self._pending)))
        except Exception:  # noqa: S110 - closing anyway; the daemon's answer is moot
            pass
        self._replies.clear()

    def close(self) -> None:
        """Close the socket (the bus then drops everything this connection held)."""
        self.sock.close()
