"""The syslog sink: audit records as RFC 5424 messages over TCP, TLS or UDP.

Many SIEMs take syslog and nothing else, so each audit record becomes one
RFC 5424 message whose STRUCTURED-DATA element carries the record's fields::

    <84>1 2026-11-21T09:14:03.512Z laptop mcpcred 81234 call [mcpcred@32473 event="call"
    server="github" tool="search_code" outcome="ok" ...] BOMcall github tools/call search_code: ok

- PRI: the facility (``authpriv`` unless ``?facility=`` or ``facility=`` says
  otherwise: audit records name tools and arguments, and the usual receiver
  configs keep ``authpriv`` out of world-readable files) times 8 plus a severity
  from the record: ``warning`` for a ``finding`` or a ``denied`` outcome,
  ``notice`` for ``malformed``, ``pins``, ``mask`` and an ``error`` outcome,
  ``info`` for everything else.
- TIMESTAMP is the record's ``time``, HOSTNAME this machine's name, APP-NAME
  ``mcpcred``, PROCID the shim's ``pid``, MSGID the record's ``event``.
- The SD-ID is ``mcpcred@32473``. 32473 is the private enterprise number IANA
  reserves for documentation (RFC 5612); mcpcred has no number of its own, and
  an SD-ID needs one. Field names become SD-NAMEs (printable ASCII without
  ``=``, space, ``]`` and ``"``, at most 32 characters); numbers, booleans and
  nested values are written as compact JSON.
- MSG is a short summary for people reading the receiver's files, UTF-8 after
  a BOM as RFC 5424 §6.4 asks.

Values come from MCP servers and clients, so a hostile tool name must not be
able to end a message early or start a fake one: besides the RFC's escapes
(``"``, ``\\`` and ``]`` get a backslash), control, format and line-separator
characters are written as ``\\uXXXX``, in the SD values and in MSG. A message
never holds a raw newline, so newline framing is as safe as octet counting.

Framing on TCP and TLS is octet counting (RFC 6587 §3.4.1, the only framing
RFC 5425 allows for TLS) unless ``framing="newline"`` (``[[log.export]]``'s
word; ``"lf"`` and ``?framing=lf`` are the same) asks for a newline after each
message, for receivers that only know that. UDP sends one message per datagram
(RFC 5426). Messages are at most ``max_size`` bytes (UDP 2048, TCP and TLS
8192: rsyslog's default ``maxMessageSize``; ``?max=BYTES`` changes it): a
longer one loses whole SD parameters from the end (the arguments and the chain
fields go first) and says how many in ``dropped="N"``, and never a cut
parameter or a broken UTF-8 sequence. The query parameters (``facility``,
``framing``, ``max``) are for URLs built by hand; ``[[log.export]]`` passes
the same options as keywords.

Standard library only. TLS verifies the receiver's certificate and host name
against the system's CAs, or ``ca_file`` for a private CA.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import json
import re
import select
import socket
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from mcpcred.errors import ExportError

if TYPE_CHECKING:
    import ssl

SD_ID = "mcpcred@32473"
"""The SD-ID: 32473 is IANA's example private enterprise number (RFC 5612)."""

APP_NAME = "mcpcred"
DEFAULT_FACILITY = "authpriv"
DEFAULT_PORTS = {"tcp": 514, "udp": 514, "tls": 6514}  # RFC 6587 practice, RFC 5426, RFC 5425
DEFAULT_MAX = {"tcp": 8192, "tls": 8192, "udp": 2048}
MIN_MAX = 480  # RFC 5426 §3.2: every receiver takes 480 bytes; a header always fits in it
MAX_MAX = {"tcp": 1024 * 1024, "tls": 1024 * 1024, "udp": 65507}  # 65507: IPv4's largest payload
SUMMARY_LIMIT = 200  # characters of MSG before any cut for size
SHORT_SUMMARY = 64  # bytes of MSG kept before SD parameters are dropped for size
DROPPED = "dropped"

FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
    "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "audit": 13, "alert": 14,
    "clock": 15, **{f"local{n}": 16 + n for n in range(8)},
}  # fmt: skip

WARNING, NOTICE, INFO = 4, 5, 6
_WARNING_EVENTS = frozenset({"finding"})
_NOTICE_EVENTS = frozenset({"malformed", "pins", "mask"})

# SD parameters in this order, the rest in the record's order before _LAST: when a
# message is too long, parameters go from the end, so what a SIEM searches on stays.
_FIRST = (
    "event", "server", "tool", "uri", "method", "outcome", "reason", "client", "client_name",
    "session", "request_id", "pid", "seq", "time", "duration_ms", "result_bytes", "credentials",
    "url", "error", "detail",
)  # fmt: skip
_LAST = ("arguments", "v", "prev", "mac")

_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_NOT_SD_NAME = re.compile(r'[^\x21-\x7e]|[= \]"]')
_BOM = b"\xef\xbb\xbf"
_SEPARATORS = (",", ":")


# -- the message ---------------------------------------------------------------------


def severity(record: Mapping[str, object]) -> int:
    """The RFC 5424 severity of ``record``: what a SIEM's alert rules key on."""
    event = record.get("event")
    outcome = record.get("outcome")
    event = event if isinstance(event, str) else None
    if event in _WARNING_EVENTS or outcome == "denied":
        return WARNING
    if event in _NOTICE_EVENTS or outcome == "error":
        return NOTICE
    return INFO


def facility_code(name: str | int) -> int:
    """The facility number of ``name`` (``authpriv``, ``local0``, or ``0``..``23``).

    Raises ValueError for anything else; the caller words the error.
    """
    if isinstance(name, int) and not isinstance(name, bool):
        code = name
    elif isinstance(name, str) and name.strip().lower() in FACILITIES:
        return FACILITIES[name.strip().lower()]
    elif isinstance(name, str) and name.strip().isdigit() and len(name.strip()) <= 2:
        code = int(name.strip())
    else:
        raise ValueError("unknown facility")
    if not 0 <= code <= 23:
        raise ValueError("unknown facility")
    return code


def clean_text(text: str) -> str:
    """``text`` without a character that could end a line or hide text: those become ``\\uXXXX``.

    Tool names, arguments and error messages come from servers and clients. A
    raw newline (or NUL, or U+2028) in a message would let one of them start a
    fake syslog line in a receiver that splits on it, or in the file the
    receiver writes. ``str.isprintable`` is the C-speed check for the usual case.
    """
    if text.isprintable():
        return text
    from mcpcred.guard.hidden import safe_text

    # safe_text also keeps the message one line; it cuts at ``limit``, so give it room.
    return safe_text(text, 10 * len(text) + 1)


def param_value(value: object) -> str:
    """``value`` as a PARAM-VALUE: JSON for non-strings, cleaned, escaped per RFC 5424 §6.3.3."""
    if isinstance(value, str):
        text = value
    else:
        try:
            if type(value) is int:  # the usual number (seq, pid, request_id): JSON's text is str's
                text = str(value)
            else:
                text = json.dumps(value, ensure_ascii=False, separators=_SEPARATORS, default=str)
        except ValueError:  # circular, or an int too long to print: never from a log, never fatal
            text = f"\u2026({type(value).__name__}, not representable)"
    text = clean_text(text)
    if '"' in text or "\\" in text or "]" in text:  # the usual value has none: skip the copies
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")
    return text


@functools.lru_cache(maxsize=1024)  # records repeat the same few field names
def sd_name(key: str) -> str:
    """``key`` as an SD-NAME: printable ASCII without ``= ]"`` and space, 1..32 characters."""
    name = _NOT_SD_NAME.sub("_", key)[:32]
    return name or "_"


def _header_field(value: object, limit: int) -> str:
    """A header field (HOSTNAME, PROCID, MSGID): printable US-ASCII, or ``-`` (NILVALUE)."""
    if isinstance(value, bool) or value is None:
        return "-"
    text = _NOT_PRINTUSASCII.sub("_", str(value))[:limit]
    return text or "-"


def timestamp(value: object) -> str:
    """The record's ``time`` if it is an RFC 5424 TIMESTAMP (it always is in a log), else ``-``."""
    if not isinstance(value, str) or not _TIMESTAMP.fullmatch(value):
        return "-"
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # 2026-13-45T...: the right shape, not a date
        return "-"
    return value


def summary(record: Mapping[str, object]) -> str:
    """MSG: a line for people (``call github tools/call search_code: denied: reason``)."""
    head = " ".join(
        str(record[key])
        for key in ("event", "server", "method")
        if isinstance(record.get(key), (str, int))
    )
    target = record.get("tool", record.get("uri"))
    if isinstance(target, str):
        head = f"{head} {target}"
    tail = [str(record["outcome"])] if isinstance(record.get("outcome"), str) else []
    for key in ("reason", "error", "detail"):
        if isinstance(record.get(key), str):
            tail.append(str(record[key]))
            break
    if isinstance(record.get("duration_ms"), (int, float)):
        tail.append(f"({record['duration_ms']} ms)")
    text = f"{head}: {' '.join(tail)}" if tail else head
    text = clean_text(text)
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "\u2026"


def _ordered(record: Mapping[str, object]) -> list[str]:
    first = [key for key in _FIRST if key in record]
    last = [key for key in _LAST if key in record]
    middle = [key for key in record if key not in _FIRST and key not in _LAST]
    return first + middle + last


def _params(record: Mapping[str, object]) -> list[bytes]:
    """`` NAME="VALUE"`` for every field, names made unique after mapping.

    A field whose name is a valid SD-NAME keeps it; a mapped one that collides
    (``a b`` beside ``a_b``) gets ``_2``, ``_3`` ...
    """
    keys = _ordered(record)
    own = {str(key) for key in keys if str(key) == sd_name(str(key))} - {DROPPED}
    seen = {DROPPED}
    out = []
    for key in keys:
        name = sd_name(str(key))
        if name in seen or (name in own and name != key):
            stem, number = name[:29], 2
            while f"{stem}_{number}" in seen:
                number += 1
            name = f"{stem}_{number}"
        seen.add(name)
        out.append(f' {name}="{param_value(record[key])}"'.encode())
    return out


def _cut(data: bytes, size: int) -> bytes:
    """``data`` cut to at most ``size`` bytes on a UTF-8 character boundary."""
    if len(data) <= size:
        return data
    return data[: max(size, 0)].decode("utf-8", "ignore").encode()


def format_message(
    record: Mapping[str, object],
    *,
    facility: int = FACILITIES[DEFAULT_FACILITY],
    hostname: str = "-",
    max_size: int | None = None,
) -> bytes:
    """One RFC 5424 message (no framing) for ``record``, at most ``max_size`` bytes.

    Too long, it first keeps only a short MSG, then drops SD parameters from
    the end (``dropped="N"`` says how many), then MSG, then the whole SD.
    """
    pri = facility * 8 + severity(record)
    header = (
        f"<{pri}>1 {timestamp(record.get('time'))} {_header_field(hostname, 255)} {APP_NAME} "
        f"{_header_field(record.get('pid'), 128)} {_header_field(record.get('event'), 32)} "
    ).encode()
    params = _params(record)
    text = summary(record).encode()
    msg = b" " + _BOM + text if text else b""
    open_, close = b"[" + SD_ID.encode(), b"]"
    size = len(header) + len(open_) + sum(map(len, params)) + len(close) + len(msg)
    if max_size is None or size <= max_size:
        return b"".join((header, open_, *params, close, msg))
    if text:
        short = _cut(text, SHORT_SUMMARY)
        size -= len(text) - len(short)
        text = short
    dropped = 0
    while params and size + (len(f' {DROPPED}="{dropped}"') if dropped else 0) > max_size:
        size -= len(params.pop())
        dropped += 1
    note = f' {DROPPED}="{dropped}"'.encode() if dropped else b""
    fixed = len(header) + len(open_) + sum(map(len, params)) + len(note) + len(close)
    if fixed > max_size:  # not even the note fits: no SD at all
        return _cut(header + b"-", max_size)
    room = max_size - fixed - len(b" ") - len(_BOM)
    text = _cut(text, room) if room > 0 else b""
    msg = b" " + _BOM + text if text else b""
    return b"".join((header, open_, *params, note, close, msg))


# -- the sink ------------------------------------------------------------------------


class SyslogSink:
    """Delivers audit records to one syslog receiver (``syslog+tcp|tls|udp://HOST:PORT``).

    Nothing connects until the first ``send``; a broken connection is opened
    again on the next one. Errors name the receiver by scheme, host and port.
    """

    def __init__(
        self,
        url: str,
        *,
        ca_file: str | None = None,
        timeout: float = 5.0,
        framing: str | None = None,
        facility: str | int | None = None,
        max_size: int | None = None,
        hostname: str | None = None,
    ) -> None:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        transport = scheme.removeprefix("syslog+")
        if not scheme.startswith("syslog+") or transport not in DEFAULT_PORTS:
            raise ExportError(
                "a syslog URL starts with syslog+tcp://, syslog+tls:// or syslog+udp://"
            )
        try:
            host = parts.hostname
            port = parts.port or DEFAULT_PORTS[transport]
        except ValueError:
            raise ExportError(f"{scheme}://: the port is not a number from 1 to 65535") from None
        if not host:
            raise ExportError(f"{scheme}://: the URL names no host")
        self.transport = transport
        self.host = host
        self.port = port
        self.where = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
        if parts.username is not None or parts.password is not None:
            raise ExportError(f"{self.where}: a syslog URL takes no user name or password")
        if parts.path not in ("", "/") or parts.fragment:
            raise ExportError(f"{self.where}: a syslog URL has no path")
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = sorted(set(query) - {"facility", "framing", "max"})
        if unknown:
            raise ExportError(
                f"{self.where}: unknown URL parameter (known: facility, framing, max)"
            )
        framing = framing if framing is not None else query.get("framing", "octet-counting")
        framing = "newline" if framing == "lf" else framing
        if framing not in ("octet-counting", "newline"):
            raise ExportError(f"{self.where}: framing is octet-counting or newline")
        if framing == "newline" and transport == "udp":
            raise ExportError(f"{self.where}: UDP sends one message per datagram, without framing")
        self.framing = framing
        try:
            self.facility = facility_code(
                facility if facility is not None else query.get("facility", DEFAULT_FACILITY)
            )
        except ValueError:
            raise ExportError(
                f"{self.where}: unknown facility (a name such as authpriv, user or local0, "
                "or 0 to 23)"
            ) from None
        if max_size is None and "max" in query:
            if not query["max"].isdigit():
                raise ExportError(f"{self.where}: max is a number of bytes")
            max_size = int(query["max"])
        self.max_size = DEFAULT_MAX[transport] if max_size is None else max_size
        if not MIN_MAX <= self.max_size <= MAX_MAX[transport]:
            raise ExportError(f"{self.where}: max is from {MIN_MAX} to {MAX_MAX[transport]} bytes")
        if ca_file is not None and transport != "tls":
            raise ExportError(f"{self.where}: a CA file is for syslog+tls:// only")
        self.ca_file = ca_file
        self.timeout = timeout
        self.hostname = _header_field(socket.gethostname() if hostname is None else hostname, 255)
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._context: ssl.SSLContext | None = None

    # -- the Sink shape -------------------------------------------------------------
    def send(self, records: Sequence[Mapping[str, object]]) -> None:
        """Send every record; ExportError if the receiver cannot take them (send again later)."""
        messages = [
            format_message(
                record, facility=self.facility, hostname=self.hostname, max_size=self.max_size
            )
            for record in records
        ]
        if not messages:
            return
        with self._lock:
            if self.transport == "udp":
                self._send_udp(messages)
            else:
                self._send_stream(self._frame(messages))

    def close(self) -> None:
        """Close the connection (if any); a later ``send`` opens a new one.

        TLS ends with a close_notify first: without one, rsyslog logs every
        close as an error ("non-properly terminated").
        """
        with self._lock:
            sock = self._sock
            if sock is not None and self.transport == "tls":
                try:
                    sock.settimeout(min(self.timeout, 1.0))
                    self._sock = sock.unwrap()  # type: ignore[attr-defined]
                except (OSError, ValueError):
                    pass
            self._drop()

    # -- streams -------------------------------------------------------------------
    def _frame(self, messages: list[bytes]) -> bytes:
        if self.framing == "newline":
            return b"".join(message + b"\n" for message in messages)
        return b"".join(b"%d %s" % (len(message), message) for message in messages)

    def _send_stream(self, payload: bytes) -> None:
        """Send on the open connection, or a new one; once more on a new one if it broke.

        A receiver that restarted leaves the old connection half closed: the
        first write still "succeeds" into the kernel's buffer. So a connection
        the receiver has closed (readable at EOF: a syslog receiver never
        speaks) is replaced before writing. Records sent twice after a break
        are the price of at-least-once.
        """
        for attempt in range(2):
            fresh = self._sock is None or self._peer_closed()
            if fresh:
                self._drop()
                self._sock = self._connect()
            assert self._sock is not None  # noqa: S101
            try:
                self._sock.sendall(payload)
            except OSError as exc:
                self._drop()
                if fresh or attempt == 1:
                    raise self._error("the connection broke while sending", exc) from None
            else:
                return

    def _connect(self) -> socket.socket:
        context = self._tls_context() if self.transport == "tls" else None
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise self._error("cannot connect", exc) from None
        if context is None:
            return sock
        try:
            return context.wrap_socket(sock, server_hostname=self.host)
        except OSError as exc:  # ssl.SSLError is an OSError
            sock.close()
            raise self._error("TLS handshake failed", exc) from None

    def _tls_context(self) -> ssl.SSLContext:
        import ssl

        if self._context is None:
            try:
                context = ssl.create_default_context(cafile=self.ca_file)
            except (OSError, ValueError) as exc:
                raise ExportError(
                    f"{self.where}: cannot read the CA file: {_reason(exc)}"
                ) from None
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._context = context
        return self._context

    def _peer_closed(self) -> bool:
        """True if the receiver has closed the connection (or it failed) since the last send."""
        sock = self._sock
        if sock is None:
            return True
        try:
            if hasattr(select, "poll"):  # select() fails on a descriptor above 1023
                poller = select.poll()
                poller.register(sock, select.POLLIN)
                readable = bool(poller.poll(0))
            else:  # Windows: no poll(), and no such limit on select()
                readable = bool(select.select([sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True
        if not readable:
            return False
        import ssl

        sock.setblocking(False)
        try:
            data = sock.recv(4096)
        except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return False  # a TLS session ticket or alike: the connection is fine
        except OSError:
            return True
        finally:
            sock.settimeout(self.timeout)
        return not data

    def _drop(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.close()
            self._sock = None

    # -- datagrams -----------------------------------------------------------------
    def _send_udp(self, messages: list[bytes]) -> None:
        """One datagram per message on a connected socket.

        UDP cannot know whether anyone received them; a connected socket at
        least hears the ICMP "port unreachable" of a receiver that is down, as
        ECONNREFUSED on a following datagram, and that is reported.
        """
        if self._sock is None:
            try:
                family, kind, proto, _, address = socket.getaddrinfo(
                    self.host, self.port, type=socket.SOCK_DGRAM
                )[0]
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                raise self._error("cannot resolve the receiver", exc) from None
            try:
                sock.settimeout(self.timeout)
                sock.connect(address)
            except OSError as exc:
                sock.close()
                raise self._error("cannot reach the receiver", exc) from None
            self._sock = sock
        for message in messages:
            try:
                self._sock.send(message)
            except OSError as exc:
                # The error is the socket's, once: the next send can succeed.
                raise self._error("the receiver refused a datagram", exc) from None

    def _error(self, what: str, exc: BaseException) -> ExportError:
        return ExportError(f"{self.where}: {what}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    """One line about ``exc``: the OS's or OpenSSL's words, never a URL or payload."""
    import ssl

    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        text = str(exc.verify_message)
    elif isinstance(exc, ssl.SSLError) and exc.reason:
        text = str(exc.reason).lower().replace("_", " ")
    elif isinstance(exc, socket.gaierror):
        text = f"cannot resolve the host name ({exc.strerror})"
    elif isinstance(exc, TimeoutError):
        text = "timed out"
    elif isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror[:1].lower() + exc.strerror[1:]
    else:
        text = type(exc).__name__
    return " ".join(text.split())
