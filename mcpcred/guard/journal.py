"""A guarded session's intent journal: a request's durable record before it is forwarded.

Every request a guarded server is sent must already have a record in a file
(issue 12 §2: a shim killed right after forwarding must leave one). Appending
that record to the chained log (``auditlog.AuditLog``) on the relay's thread
cost about 60 us a call: the log's lock, the chain's end, two MACs of the
full record, its masking and redaction. Here the request's path writes one
small line instead, to a file of the session's own::

    audit.journal.<session>    {"n":0,...header...,"mac":...}   the header
                               {"n":1,"time":...,"method":...,"tool":...,"request_id":...,"mac":...}
                               ...

one ``write`` with ``O_APPEND``, no lock, no chain. The line holds what
identifies the call (method, tool or URI, the client's request id), masked and
redacted as the log's records are, never its arguments; its MAC (HMAC-SHA256
under the log's key, over the session id and the line) makes a forged or
edited line show. The full ``request`` record, arguments included, goes to
the chain a few milliseconds later with the writer's batch and names its
journal line (``"journal": n``).

The chain announces the journal before the first request relies on it (an
``event: journal, outcome: open`` record of the session), and a session that
ends normally closes it (``outcome: closed``) and removes the file. A shim
killed before that leaves the file: the next guarded server's writer (off the
relay's path) and ``mcpcred log verify`` fold its lines that the chain does
not hold yet into the chain as ``request`` records marked ``recovered``, then
close and remove it. The owner holds an ``flock`` on its journal for its whole
life, so a journal still in use is never taken for an orphan. A journal
deleted after a kill cannot hide the calls in it: the chain announced it and
never closed it, and ``verify`` reports that (exit 1).

Standard library only: the shim imports this on every start of a guarded server.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time

from mcpcred.guard.auditlog import LOCK, MAX_FIELD, _timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from mcpcred.guard.auditlog import AuditLog, Keyed

PREFIX = "audit.journal."
_DOMAIN = b"mcpcred-journal\0"  # a journal line's MAC never equals a chain record's
_MAC_AT = b',"mac":"'
_NAME = re.compile(r"audit\.journal\.([0-9a-f]{8,64})\Z")
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
_READ_CHUNK = 1 << 20
EMPTY_GRACE = 60.0  # seconds an empty journal may be one being created
MAX_JOURNAL = 64 * 1024 * 1024  # a larger file is not read (not one the guard wrote)
_encode = json.encoder.encode_basestring_ascii


def supported() -> bool:
    """Whether journals can be used here: ``flock`` tells a live owner from a dead one."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        return False
    return True


def path_of(folder: str, session: str) -> str:
    """The journal file of ``session`` in the log folder."""
    return os.path.join(folder, PREFIX + session)


def _json(value: object) -> bytes:
    """``value`` as ASCII JSON (a request id: a string, a number or null)."""
    if type(value) is str:
        return _encode(value).encode()
    if type(value) is int:
        return str(value).encode()
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), default=str).encode()


class Journal:
    """The journal of this shim's session, open for appending; the owner's ``flock`` held."""

    __slots__ = (
        "_header", "_keyed", "_known", "_probe", "fd", "n", "path", "session", "size",
    )  # fmt: skip

    def __init__(self, fd: int, path: str, session: str, keyed: Keyed, probe: int) -> None:
        self.fd = fd
        self.path = path
        self.session = session
        # The MAC of a line is over the domain, the session and the line: the first two,
        # the same for every line, are hashed once.
        self._keyed = keyed.after(_DOMAIN + session.encode() + b"\0")
        self._probe = probe
        self._known: dict[tuple[str, tuple[str, object] | None], bytes] = {}
        self._header: dict[str, object] = {}
        self.n = 0
        self.size = 0  # bytes written to the current file

    @classmethod
    def create(cls, folder: str, keyed: Keyed, session: str, header: dict[str, object]) -> Journal:
        """A new journal for ``session`` (0600, never through a symlink), its header written.

        ``O_EXCL``: a file already there is not this session's (session ids are
        random), so it is not appended to.
        """
        import fcntl

        path = path_of(folder, session)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS, 0o600)
        probe = -1
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # ours until the process ends
            lock = os.path.join(folder, LOCK)
            probe = os.open(lock, os.O_RDWR | os.O_CREAT | _OPEN_FLAGS, 0o600)
            journal = cls(fd, path, session, keyed, probe)
            journal._header = {"n": 0, "journal": 1, "session": session, **header}
            journal._put_header()
        except BaseException:
            os.close(fd)
            if probe >= 0:
                os.close(probe)
            with contextlib.suppress(OSError):
                os.remove(path)
            raise
        return journal

    def _put_header(self) -> None:
        """The first line: the session, who wrote it, and the number of the next line."""
        fields = {**self._header, "first": self.n + 1, "time": _stamp()}
        body = json.dumps(fields, ensure_ascii=True, separators=(",", ":"), default=str)
        self._put(body[:-1].encode())

    def restart(self) -> None:
        """Start the file anew, its numbering going on: every line in it is folded in.

        For a long session: the journal would otherwise grow by a line per
        request until the session ends. The caller (the writer, holding the
        lock the relay's thread writes under) knows the chain holds every line.
        The new file is written beside the old one, locked and given its
        header, then renamed over it: at every moment the journal's name is a
        complete journal its owner holds locked.
        """
        import fcntl

        fresh = self.path + ".new"  # not a journal's name: recovery never looks at it
        with contextlib.suppress(FileNotFoundError):
            os.remove(fresh)  # left by a kill in the middle of a restart
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | _OPEN_FLAGS
        fd = os.open(fresh, flags, 0o600)
        old, size = self.fd, self.size
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.fd, self.size = fd, 0
            self._put_header()
            os.replace(fresh, self.path)
        except BaseException:
            self.fd, self.size = old, size
            os.close(fd)
            with contextlib.suppress(OSError):
                os.remove(fresh)
            raise
        os.close(old)

    def write(self, method: str, target: tuple[str, object] | None, request_id: object) -> int:
        """Append one request's line (one ``write``); its number in this journal."""
        n = self.n + 1
        known = self._known
        fields = known.get((method, target))  # a session calls a few tools, many times
        if fields is None:
            fields = b'"method":%s,' % _json(method)
            if target is not None:
                shown = _json(target[1])
                if len(shown) > MAX_FIELD:  # redaction already cut it to about 512 characters
                    shown = _json(f"\u2026({len(shown)} bytes, not kept)")
                fields += b'"%s":%s,' % (target[0].encode(), shown)
            if len(known) >= 1024:
                known.clear()
            known[(method, target)] = fields
        identifier = _json(request_id)
        if len(identifier) > MAX_FIELD:  # as the log keeps a field this large: its size
            identifier = _json(f"\u2026({len(identifier)} bytes, not kept)")
        body = b'{"n":%d,"time":"%s",%s"request_id":%s' % (
            n,
            _timestamp(time.time()).encode(),
            fields,
            identifier,
        )
        self._put(body)
        self.n = n
        return n

    def _put(self, body: bytes) -> None:
        line = b'%s,"mac":"%s"}\n' % (body, self._keyed.hexdigest(body + b"}").encode())
        if os.write(self.fd, line) != len(line):  # a short write: a full disk
            raise OSError(28, "No space left on device (the journal line was cut short)")
        self.size += len(line)

    def probe(self, timeout: float) -> None:
        """Wait (bounded) until the log's lock is free: a stuck writer refuses the call.

        The journal needs no lock, but a log whose lock another process holds
        for seconds cannot take the folded records: the request is refused as
        it was when its record went to the log directly. One ``flock`` and one
        unlock when the lock is free (about 2 us); a batch of another shim (or
        of this shim's writer) holding it is waited for, polled as ``AuditLog``
        does.
        """
        import fcntl

        fd = self._probe
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pass
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return
        deadline = time.monotonic() + timeout
        delay = 0.0001
        while True:
            time.sleep(delay)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    from mcpcred.errors import ShimError

                    raise ShimError(
                        "another mcpcred process has held the audit log lock for over "
                        f"{timeout:g} s; the record was not written",
                        hint="an mcpcred process may be stuck; the lock is released when it ends",
                    ) from None
                delay = min(delay * 2, 0.02)
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
            return

    def close(self, *, remove: bool) -> None:
        """Close the journal (releasing its ``flock``); ``remove``: its lines are all folded."""
        if remove:
            with contextlib.suppress(OSError):
                os.remove(self.path)
        for fd in (self.fd, self._probe):
            with contextlib.suppress(OSError):
                os.close(fd)


def _stamp() -> str:
    return _timestamp(time.time())


# -- reading -----------------------------------------------------------------------------


class State:
    """A journal file as read: header, request lines, and what is wrong with it."""

    __slots__ = ("header", "intents", "name", "problems", "session", "torn")

    def __init__(self, name: str, session: str) -> None:
        self.name = name
        self.session = session
        self.header: dict[str, object] | None = None
        self.intents: list[dict[str, object]] = []  # authentic lines after the header
        self.problems: list[tuple[int, str]] = []  # (line, message)
        self.torn = False  # a last line without its newline: a write cut by a kill


def journals(folder: str) -> list[tuple[str, str]]:
    """``(file name, session)`` of the journal files in ``folder``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        match = _NAME.match(name)
        if match is not None:
            found.append((name, match[1]))
    return found


def read(fd: int, name: str, session: str, key: Keyed) -> State:
    """Check every line of a journal open as ``fd``: MACs, numbering, the header."""
    state = State(name, session)
    size = os.fstat(fd).st_size
    if size > MAX_JOURNAL:
        state.problems.append((1, f"journal is larger than {MAX_JOURNAL} bytes: not read"))
        return state
    data = os.pread(fd, size, 0) if size else b""
    lines = data.split(b"\n")
    if lines and lines[-1]:
        state.torn = True  # never forwarded: its write had not returned
    prefix = _DOMAIN + session.encode() + b"\0"
    expected = 0
    for number, raw in enumerate(lines[:-1], 1):
        at = raw.rfind(_MAC_AT)
        mac = raw[at + len(_MAC_AT) : -2] if at >= 0 and raw.endswith(b'"}') else b""
        body = raw[:at] + b"}" if at >= 0 else b""
        if len(mac) != 64 or mac.decode("ascii", "replace") != key.hexdigest(prefix + body):
            state.problems.append((number, "journal line was modified or forged (MAC mismatch)"))
            expected += 1
            continue
        try:
            fields = json.loads(raw)
        except ValueError:
            fields = None
        n = fields.get("n") if isinstance(fields, dict) else None
        if not isinstance(fields, dict) or type(n) is not int:
            state.problems.append((number, "journal line is not a journal record"))
            expected += 1
            continue
        if n != expected:
            state.problems.append(
                (number, f"journal lines missing or out of order (n {n} where {expected} was due)")
            )
        expected = n + 1
        if n == 0:
            first = fields.get("first", 1)
            if fields.get("session") != session or state.header is not None:
                state.problems.append((number, "journal header names another session"))
            elif type(first) is not int or first < 1:
                state.problems.append((number, "journal header is not valid"))
            else:
                expected = first  # a restarted journal goes on from the lines folded in
            state.header = fields
        else:
            state.intents.append(fields)
    if state.header is None and not state.problems and (lines[:-1] or state.torn):
        state.problems.append((1, "journal has no header"))
    return state


def owner_alive(fd: int) -> bool:
    """Whether the shim that wrote the journal open as ``fd`` still holds it.

    Takes the journal's ``flock`` when it is free (the owner is gone) and
    keeps it: two recoveries never fold one journal twice.
    """
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    return False


# -- what the chain already holds of a session -------------------------------------------


def folded(folder: str, session: str, key: bytes) -> tuple[set[int], bool, bool]:
    """Of ``session``'s journal: the line numbers the chain holds, whether the chain closed
    it, and whether it announced it (the log files, newest first, up to the announcement).

    Only records that verify under ``key`` count: a line someone without the key
    added to the log (a "closed", a "folded" line 5) must not make recovery skip
    or remove what the journal holds.
    """
    from mcpcred.guard.auditlog import _authentic, _files

    needle = b'"session":"%s"' % session.encode()
    numbers: set[int] = set()
    closed = announced = False
    for name in reversed(_files(folder)):
        try:
            handle = open(os.path.join(folder, name), "rb")  # noqa: SIM115
        except FileNotFoundError:
            continue
        with handle:
            for raw in _matching(handle, needle):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(record, dict) or record.get("session") != session:
                    continue
                if not _authentic(key, record):
                    continue
                event = record.get("event")
                if event == "request" and type(record.get("journal")) is int:
                    numbers.add(record["journal"])
                elif event == "journal" and record.get("outcome") == "closed":
                    closed = True
                elif event == "journal" and record.get("outcome") == "open":
                    announced = True
        if announced:
            break
    return numbers, closed, announced


def _matching(handle: object, needle: bytes) -> Iterator[bytes]:
    """The lines of a file that contain ``needle``, read a MiB at a time (memory stays flat)."""
    read = handle.read  # type: ignore[attr-defined]
    carry = b""
    while True:
        chunk = read(_READ_CHUNK)
        if not chunk:
            break
        data = carry + chunk
        cut = data.rfind(b"\n") + 1
        data, carry = data[:cut], data[cut:]
        at = data.find(needle)
        while at >= 0:
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            yield data[start:end]
            at = data.find(needle, end)
    if carry and needle in carry:
        yield carry


# -- recovery ----------------------------------------------------------------------------


def recover(log: AuditLog, *, own: str | None = None) -> list[str]:
    """Fold the journals of shims that are gone into the chain, then remove them.

    What a killed shim's journal holds beyond what its writer folded becomes
    ``request`` records marked ``recovered`` (with the line's method, tool or
    URI, request id and time; the arguments were never in the journal), and a
    ``journal`` record closes the session. A journal with a bad line is left
    where it is, for ``verify`` to report. ``own``: this shim's session,
    skipped. Returns one note per journal folded.
    """
    notes: list[str] = []
    for name, session in journals(log.folder):
        if session == own:
            continue
        path = os.path.join(log.folder, name)
        try:
            fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
        except OSError:
            continue
        try:
            if owner_alive(fd) or os.fstat(fd).st_nlink == 0:  # in use, or just removed
                continue
            state = read(fd, name, session, log._keyed)
            if state.problems:
                continue
            if state.header is None:  # being created (not locked yet), or killed right then
                if time.time() - os.fstat(fd).st_mtime > EMPTY_GRACE:
                    os.remove(path)
                continue
            numbers, closed, _ = folded(log.folder, session, log.key)
            header = state.header or {}
            base: dict[str, object] = {"session": session}
            for field in ("server", "client", "pid"):
                if field in header:
                    base[field] = header[field]
            records: list[dict[str, object]] = []
            for intent in state.intents:
                if intent["n"] in numbers:
                    continue
                record: dict[str, object] = {**base, "event": "request"}
                for field in ("method", "tool", "uri", "request_id"):
                    if field in intent:
                        record[field] = intent[field]
                record["journal"] = intent["n"]
                record["detail"] = (
                    f"recovered from the journal (written {intent.get('time')}, before the "
                    "request was forwarded): the shim ended before folding it in; its arguments "
                    "were never in the journal"
                )
                records.append(record)
            if not closed:
                records.append(
                    {
                        **base,
                        "event": "journal",
                        "outcome": "closed",
                        "detail": f"recovered after the shim ended without closing it: "
                        f"{len(records)} request(s) folded in",
                    }
                )
            for start in range(0, len(records), 256):  # a flood's journal: memory stays flat
                log.append_many(records[start : start + 256], stored=False)
            os.remove(path)
            notes.append(
                f"{name}: folded in {len(records) - (not closed)} request(s) recorded only in the "
                "journal of a shim that ended without closing it"
            )
        finally:
            os.close(fd)
    return notes
