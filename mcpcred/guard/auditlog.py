"""The audit log of guard mode: one JSON line per event, chained by HMACs.

The folder (``<data dir>/log`` unless told otherwise; 0700, files 0600)::

    audit.jsonl      the current file, one record per line
    audit.jsonl.1    the newest rotated file ... audit.jsonl.N the oldest kept
    audit.head       {"seq", "mac", "hmac"}: the last record written, signed
    audit.lock       the advisory lock that lets one writer in at a time

Every record holds ``v``, ``seq`` (1, 2, 3 ... on across rotations), ``time``
(UTC, milliseconds), the caller's fields, ``prev`` (the ``mac`` of the record
before it) and ``mac``: HMAC-SHA256 under a key that lives in the keychain,
over the canonical JSON of everything else. Editing a line breaks its MAC;
deleting, inserting or reordering lines breaks a ``seq`` step or a ``prev``
link; cutting lines off the end leaves the log short of the record the head
file names, and the head file has its own HMAC. Without the key nobody can
write a record or a head that verifies.

A writer takes the lock, reads the head, appends one line with ``O_APPEND``
and replaces the head (temp file + rename). A crash between the line and the
head is healed by the next writer: a last line that carries the next ``seq``,
links to the head and verifies under the key is adopted.

Standard library only, and neither pathlib nor dataclasses: the shim imports
this module on every start of a guarded server.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import threading
import time

from mcpcred.errors import SecretCorrupt, ShimError
from mcpcred.oauth.lock import _try_lock, _unlock, held

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

KEY_NAME = "audit:key"
"""The keychain item (service ``mcpcred``) that holds the HMAC key as hex."""

CURRENT = "audit.jsonl"
HEAD = "audit.head"
LOCK = "audit.lock"
CHECKPOINT_LOCK = "checkpoint.lock"
VERSION = 1
RESERVED = ("v", "seq", "time", "prev", "mac")
LOCK_TIMEOUT = 5.0
# The first wait before trying a busy lock again (it doubles from there): another shim
# holds it for a batch, tens to hundreds of microseconds, and a request waits behind it.
# The lock's default (2 ms) made a request wait that long whenever two guarded servers
# wrote at once (benchmarks/bench_guard.py).
LOCK_POLL = 0.0001
HEAD_SIZE = 256  # bytes; the head file is rewritten in place, always this long
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_KEEP = 5
# A record's largest size, as written. Records hold what a client or server sent (a
# request's id, its arguments, tool names), and one record larger than the whole log
# would rotate every older file away: a few calls with a 10 MB id or a hundred
# thousand small arguments would erase the history. Fields over MAX_FIELD are then
# recorded by size only.
MAX_RECORD = 64 * 1024
MAX_FIELD = 1024
# Fields the log or the guard fills from its own state (small): never cut.
_OWN = frozenset(
    {"v", "seq", "time", "prev", "event", "server", "client", "pid", "session", "outcome",
     "duration_ms", "result_bytes", "method", "journal"}
)  # fmt: skip

_SEPARATORS = (",", ":")
_OPEN_FLAGS = getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_TAIL_CHUNK = 8192
_READ_CHUNK = 65536
_MAX_CANDIDATES = 4

Record = dict[str, object]
Line = tuple[str, int, Record | None]


# -- keys and folders ---------------------------------------------------------------


def default_folder() -> str:
    """``<mcpcred data dir>/log``, created with mode 0700 if missing."""
    from mcpcred import paths

    folder = os.path.join(str(paths.data_dir()), "log")
    _make_folder(folder)
    return folder


def new_key_text() -> str:
    """A fresh key as the keychain keeps it: 32 random bytes in hex."""
    import secrets

    return secrets.token_hex(32)


def key_from_text(text: str) -> bytes:
    """The key bytes of a keychain value; ``SecretCorrupt`` if it is not a hex key."""
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        key = b""
    if len(key) < 16:
        raise SecretCorrupt(
            f"the audit log key ({KEY_NAME}) in the keychain is not valid",
            hint="it should be the 64 hex digits mcpcred stored; records written with "
            "another key cannot be verified",
        )
    return key


def exists(folder: str) -> bool:
    """Whether ``folder`` holds any of the log: a log file or the head file."""
    return bool(_files(folder)) or os.path.exists(os.path.join(folder, HEAD))


# -- writing -------------------------------------------------------------------------


class AuditLog:
    """Appends records to the log in ``folder``; safe across threads and processes."""

    __slots__ = (
        "_current", "_end", "_head_due", "_head_fd", "_head_path", "_keyed", "_lock_fd", "_log_fd",
        "_mutex", "clock", "folder", "holding", "keep", "key", "lock_timeout", "max_bytes",
    )  # fmt: skip

    def __init__(
        self,
        folder: str,
        key: bytes,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        keep: int = DEFAULT_KEEP,
        clock: Callable[[], float] = time.time,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        if not key:
            raise ValueError("the audit log key is empty")
        if max_bytes <= 0 or keep < 0:
            raise ValueError("max_bytes must be positive and keep not negative")
        self.folder = folder
        self._current = os.path.join(folder, CURRENT)  # joined once: appends are many
        self._head_path = os.path.join(folder, HEAD)
        self.key = key
        self._keyed = Keyed(key)  # every record written takes two MACs: its own, the head's
        self.max_bytes = max_bytes
        self.keep = keep
        self.clock = clock
        self.lock_timeout = lock_timeout
        # What this writer knows from its own last append, so the next one (usually a
        # request record written on the relay's thread before the request is forwarded)
        # costs a lock, two stats and two writes: the log file and the head file kept
        # open (with the identity they had), and the chain's end with the log's size
        # right after it. Anything else having written or replaced a file shows as a
        # different identity or size, and the files are read again.
        self._log_fd: tuple[int, tuple[int, int]] | None = None
        self._head_fd: tuple[int, tuple[int, int]] | None = None
        self._end: tuple[tuple[int, int], int, int, str] | None = None  # id, size, seq, mac
        self._mutex = threading.Lock()  # threads of one process; the lock file is per process
        self._lock_fd: tuple[int, tuple[int, int]] | None = None  # audit.lock, kept open
        # The head (seq, mac) an append left for ``settle`` to write (``defer_head``): the
        # log then holds one record past the head file, never more.
        self._head_due: tuple[int, str] | None = None
        # This process holds the lock file's lock (between ``_lock`` and ``_release``): no
        # other process can, so a journal line need not probe it (``Journal.probe``).
        self.holding = False

    def append(self, record: Record) -> Record:
        """Write one record after the last; returns it as stored (``seq``, ``mac`` ...)."""
        return self.append_many([record])[0]

    def append_many(
        self,
        records: list[Record],
        *,
        stored: bool = True,
        defer_head: bool = False,
        plain: bool = False,
    ) -> list[Record]:
        """Write several records in order under one lock, one write and one head update.

        The relay queues records while it copies messages and writes them in
        batches: the lock, the head and the file are paid per batch, not per call.
        ``stored=False``: return nothing (``[]``), for a caller that only needs the
        records written (a request's, on the relay's thread: the records as
        stored are dicts it would build for nothing).

        ``defer_head``: for a request's record, which must be in the file before
        the request is forwarded, but whose head update need not hold the
        request up: when the head file names the record before this one, it is
        left for the next append (the recorder's batch, a few milliseconds
        later, or the next request's record) or ``settle``. The log is then one
        record past the head, which is what a kill between a record and its
        head update has always left, and what ``verify`` accepts (with a
        note); a second record is never written before the head has caught up.

        ``plain``: the caller promises the records are JSON as ``json.loads``
        returns it (string keys at every level; strings, numbers, booleans,
        None, lists and dicts only), so they are signed as they are instead
        of being read back from their JSON first (``_Entry``).
        """
        for record in records:
            if not record.keys().isdisjoint(RESERVED):
                clash = [name for name in RESERVED if name in record]
                raise ValueError(f"audit record fields {clash} are set by the log itself")
            if not isinstance(record.get("event"), str):
                raise ValueError("an audit record needs an 'event' (a string)")
        if not records:
            return []
        # The JSON work is done before the locks: the relay's thread may be waiting for
        # them with a request (its record goes first), and another shim for the file.
        entries = [_Entry.of(record, plain) for record in records]
        if not self._mutex.acquire(timeout=self.lock_timeout):  # another thread is stuck
            raise self._lock_error("audit log")
        try:
            fd = self._lock()
            try:
                return self._append_locked(records, entries, stored, defer_head)
            finally:
                self._release(fd)
        finally:
            self._mutex.release()

    def _lock(self) -> int:
        """Take the lock file's lock (the same one ``held`` takes) through a kept descriptor.

        Opening and closing ``audit.lock`` for every append cost two system
        calls and ``held``'s set-up on the request's path; the descriptor stays
        open instead. A lock file that was removed or replaced (renamed over)
        is opened again, as ``held`` would: the kept file then has no link
        left, which ``fstat`` of the descriptor shows without looking the path
        up (a ``stat`` of the path cost 4 to 8 us on the request's path).
        Waits are bounded the same way (polled, ``lock_timeout``).
        """
        kept = self._lock_fd
        if kept is not None and not _linked(kept[0]):
            with contextlib.suppress(OSError):
                os.close(kept[0])
            kept = self._lock_fd = None
        if kept is None:
            path = os.path.join(self.folder, LOCK)
            flags = os.O_RDWR | os.O_CREAT | _OPEN_FLAGS
            try:
                fd = os.open(path, flags, 0o600)
            except FileNotFoundError:  # no folder (yet, or any more): the lock file needs one
                _make_folder(self.folder)
                fd = os.open(path, flags, 0o600)
            info = os.fstat(fd)
            kept = self._lock_fd = (fd, (info.st_dev, info.st_ino))
        fd = kept[0]
        if _try_lock(fd):  # the usual case: no clock read, no wait
            self.holding = True
            return fd
        deadline = time.monotonic() + self.lock_timeout
        delay = LOCK_POLL
        while not _try_lock(fd):
            if time.monotonic() >= deadline:
                raise self._lock_error("audit log")
            time.sleep(delay)
            delay = min(delay * 2, 0.02)
        self.holding = True
        return fd

    def _release(self, fd: int) -> None:
        self.holding = False  # before the lock goes: never set while another may hold it
        _unlock(fd)

    def close(self) -> None:
        """Write a head that is due, close the files kept open between appends (the log
        can still be appended to)."""
        try:
            self.settle()
        finally:
            with self._mutex:
                self._forget()

    def _forget(self) -> None:
        for kept in (self._log_fd, self._head_fd, self._lock_fd):
            if kept is not None:
                with contextlib.suppress(OSError):
                    os.close(kept[0])
        self._log_fd = self._head_fd = self._end = self._lock_fd = self._head_due = None

    def _lock_error(self, what: str) -> Exception:
        return ShimError(
            f"another mcpcred process has held the {what} lock for over "
            f"{self.lock_timeout:g} s; the record was not written",
            hint="an mcpcred process may be stuck; the lock is released when it ends",
        )

    def _append_locked(
        self,
        records: list[Record],
        entries: list[_Entry | None],
        keep: bool = True,
        defer_head: bool = False,
    ) -> list[Record]:
        current = self._current
        on_disk = _identity(current)
        end = self._end
        ours = end is not None and on_disk is not None and (end[0], end[1]) == on_disk
        if end is not None and ours:
            size, terminated, seq, prev = end[1], True, end[2], end[3]
        else:  # another writer (or anything else) was here since our last append
            defer_head = False  # the head is another's, or behind: bring it up to date now
            self._end = None
            kept = self._log_fd
            if kept is not None and on_disk is not None and kept[1] == on_disk[0]:
                # Another shim appended to the file we keep open (two guarded servers at
                # work): read its end through our descriptor, not by opening it again.
                size = on_disk[1]
                last, terminated = _tail(kept[0], size)
            else:
                last, size, terminated = _last_line(current)
            seq, prev = self._chain_end(last)
        stored_all: list[Record] = []
        lines: list[bytes] = []
        for record, ready in zip(records, entries, strict=True):
            seq += 1
            stamp = _timestamp(self.clock())
            sealed = ready.seal(self._keyed, seq, stamp, prev, keep) if ready is not None else None
            if sealed is None:
                sealed = _seal(self.key, record, seq, stamp, prev)
            if len(sealed[0]) > MAX_RECORD:  # only a hostile message gets here: one comparison
                sealed = _seal(self.key, _shrunk(record), seq, stamp, prev)
            line, stored, prev = sealed
            lines.append(line)
            if keep:
                stored_all.append(stored)
        data = b"".join(lines)
        if size and size + len(data) > self.max_bytes and self._rotate():
            size, terminated, on_disk = 0, True, None
        if size and not terminated:  # a torn line (a crash mid-write) stays a line of its own
            data = b"\n" + data
        fd = self._open_log(current, on_disk)
        _write_all(fd, data)
        kept = self._log_fd
        if on_disk is not None and kept is not None and kept[1] == on_disk[0]:
            # The file we stat'ed under the lock, appended to: no fstat needed (every
            # system call lets another thread take the interpreter, a request waits).
            self._end = (on_disk[0], on_disk[1] + len(data), seq, prev)
        else:
            info = os.fstat(fd)
            self._end = ((info.st_dev, info.st_ino), info.st_size, seq, prev)
        if defer_head and len(records) == 1 and self._head_due is None:
            self._head_due = (seq, prev)  # the head names the record before this one
        else:
            self._put_head(seq, prev)
            self._head_due = None
        return stored_all

    @property
    def head_due(self) -> bool:
        """Whether an append left the head file one record behind (``defer_head``)."""
        return self._head_due is not None

    def settle(self) -> None:
        """Write the head file an append left for later (``defer_head``), if it still is due.

        Not when another writer has appended since: its append brought the
        head up to date (or left its own record for its own ``settle``).
        """
        if self._head_due is not None:  # read without the lock: most calls have nothing due
            self._settle()

    def _settle(self) -> None:
        if not self._mutex.acquire(timeout=self.lock_timeout):  # another thread is stuck
            raise self._lock_error("audit log")
        try:
            due = self._head_due
            if due is None:
                return
            fd = self._lock()
            try:
                end = self._end
                on_disk = _identity(self._current)
                if end is not None and (end[2], end[3]) == due and (end[0], end[1]) == on_disk:
                    self._put_head(*due)
                self._head_due = None
            finally:
                self._release(fd)
        finally:
            self._mutex.release()

    def _open_log(self, current: str, on_disk: tuple[tuple[int, int], int] | None) -> int:
        """The kept descriptor of ``audit.jsonl``, opened again if the file is another now."""
        kept = self._log_fd
        if kept is not None and on_disk is not None and kept[1] == on_disk[0]:
            return kept[0]
        if kept is not None:
            os.close(kept[0])
            self._log_fd = None
        # Read and write: the end of the file is read through it when another shim appended.
        fd = os.open(current, os.O_RDWR | os.O_APPEND | os.O_CREAT | _OPEN_FLAGS, 0o600)
        info = os.fstat(fd)
        self._log_fd = (fd, (info.st_dev, info.st_ino))
        return fd

    def _put_head(self, seq: int, mac: str) -> None:
        """Update the head file: in place when it is the one we wrote, else temp + rename.

        An in-place update is one ``pwrite`` of a fixed-size block at offset 0,
        well inside one page, so a reader (under the lock) or a kill never sees
        half of it; a rename per record would cost more than the rest of an
        append. A head file that is missing or was replaced is written the
        slow way, so a new file never exists half-written either. That the
        kept file is still the head is told by ``fstat`` of its descriptor (a
        head removed or renamed over has no link left), not by looking the
        path up: a ``stat`` of the path cost 4 to 8 us on the request's path.
        """
        path = self._head_path
        data = _head_bytes(self._keyed, seq, mac)
        kept = self._head_fd
        pwrite = getattr(os, "pwrite", None)
        if (
            kept is not None
            and pwrite is not None
            and _linked(kept[0], len(data))
            and pwrite(kept[0], data, 0) == len(data)
        ):
            return
        on_disk = _identity(path)
        if kept is not None:
            os.close(kept[0])
            self._head_fd = None
        if pwrite is not None and on_disk is not None and on_disk[1] == len(data):
            fd = _open_head_in_place(path, on_disk[0], len(data))
            if fd is not None:
                if pwrite(fd, data, 0) == len(data):
                    self._head_fd = (fd, on_disk[0])
                    return
                os.close(fd)
        _write_head(self.folder, self.key, seq, mac)
        with contextlib.suppress(OSError):
            fd = os.open(path, os.O_RDWR | _OPEN_FLAGS)  # read by _chain_end too
            info = os.fstat(fd)
            self._head_fd = (fd, (info.st_dev, info.st_ino))

    def _chain_end(self, last: bytes | None) -> tuple[int, str]:
        """``seq`` and ``mac`` of the last record: the head's, or a newer last line's."""
        path = self._head_path
        kept = self._head_fd if hasattr(os, "pread") else None  # not on Windows
        on_disk = _identity(path) if kept is not None else None
        if kept is not None and on_disk is not None and on_disk[0] == kept[1]:
            head = _head_from(os.pread(kept[0], 4096, 0))  # the file we keep open
        else:
            head = _read_head(path)
        if head is not None:
            seq, mac, _ = head
            if last is not None and mac.isascii() and last.endswith(b'"mac":"%s"}' % mac.encode()):
                # The last line is the record the head names (no other record can end with
                # its MAC): the usual case when another shim appended since our last
                # append, and the head is up to date. Nothing to parse or check.
                return seq, mac
            line = _parse(last) if last is not None else None
            if (
                line is not None
                and _int(line.get("seq")) == seq + 1
                and line.get("prev") == mac
                and _authentic(self.key, line)
            ):  # the line was written, the head not (a crash in between)
                return seq + 1, str(line["mac"])
            return seq, mac
        newest = _newest_record(self.folder)
        return newest if newest is not None else (0, "")

    def _rotate(self) -> bool:
        """Shift ``.i`` to ``.i+1`` (dropping those beyond ``keep``), current to ``.1``."""
        try:
            for index, name in sorted(_rotated(self.folder), reverse=True):
                path = os.path.join(self.folder, name)
                if index >= self.keep:
                    os.remove(path)
                else:
                    os.replace(path, os.path.join(self.folder, f"{CURRENT}.{index + 1}"))
            current = os.path.join(self.folder, CURRENT)
            if self.keep:
                os.replace(current, os.path.join(self.folder, CURRENT + ".1"))
            else:
                os.remove(current)
        except OSError:  # e.g. a reader holds a file open on Windows: rotate next time
            return False
        return True


# The line as written (newline included), the record as stored (empty when not asked
# for), and its MAC.
_Sealed = tuple[bytes, Record, str]


def _seal(key: bytes | Keyed, record: Record, seq: int, stamp: str, prev: str) -> _Sealed:
    """``record`` as the next line of the chain: ``v``, ``seq``, ``time``, ..., ``prev``, ``mac``.

    One round through JSON, so the MAC covers exactly what a reader will parse
    (tuples become lists, odd objects strings, lone surrogates "?"). The
    general case; ``_Entry`` does the same in two steps.
    """
    full: Record = {"v": VERSION, "seq": seq, "time": stamp}
    full.update(record)
    full["prev"] = prev
    text = json.dumps(full, separators=_SEPARATORS, ensure_ascii=False, default=str)
    try:  # without lone surrogates, the text is what the parsed record dumps to
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        normal = json.loads(text.encode("utf-8", "replace").decode("utf-8"))
        body = json.dumps(normal, separators=_SEPARATORS, ensure_ascii=False).encode()
    stored: Record = json.loads(body)
    stored["mac"] = mac = _sign(key, _canonical(stored))
    return body[:-1] + b',"mac":"' + mac.encode() + b'"}\n', stored, mac  # mac comes last


def _make_line_json() -> Callable[[object, int], Sequence[str]]:
    """What ``json.dumps(separators, ensure_ascii=False, default=str)`` writes, built once
    (see ``_make_sorted_json``); without the cycle check, so a cycle is a RecursionError."""
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it

        def slow(value: object, _level: int) -> Sequence[str]:
            return (json.dumps(value, separators=_SEPARATORS, ensure_ascii=False, default=str),)

        return slow
    built: Callable[[object, int], Sequence[str]] = make(
        None, str, encoder.encode_basestring, None, ":", ",", False, False, True
    )
    return built


_line_json = _make_line_json()


def _make_sorted_json() -> Callable[[object], bytes]:
    """``_canonical`` for parsed JSON (no cycles, nothing ``default`` must convert), faster.

    ``json.dumps`` builds a new encoder on every call, which costs more than
    encoding a small record (about 3 us against 0.6); this one is built once.
    ``c_make_encoder`` is CPython's C encoder, the one ``json.dumps`` uses; where
    it is missing, ``_canonical`` itself is used.
    """
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has it
        return _canonical

    def unexpected(value: object) -> object:
        raise TypeError(f"not JSON: {type(value).__name__}")

    # markers None: no cycle check (parsed JSON has none); sort_keys, no skipkeys, allow_nan
    # as json.dumps' defaults, the separators and ensure_ascii=False of _canonical.
    fast = make(None, unexpected, encoder.encode_basestring, None, ":", ",", True, False, True)

    def sorted_json(value: object) -> bytes:
        return "".join(fast(value, 0)).encode("utf-8", "surrogatepass")

    return sorted_json


_sorted_json = _make_sorted_json()


_STR = {str}


class _Entry:
    """A record serialised before the locks are taken: all but the chain's fields.

    Under the locks only ``seq``, ``time``, ``prev`` and ``mac`` are left to
    fill in (``seal``): the line is the record's JSON with them around it,
    and the MAC's canonical JSON (sorted keys) is that of the record as a
    reader parses it with the chain's fields added, written by one call of
    the prebuilt encoder. Both are byte for byte what ``_seal`` writes and
    signs (tests/guard/test_auditlog.py checks this against it); a record
    ``_seal`` would have to normalise (a lone surrogate) has no entry and is
    sealed by ``_seal`` under the locks.
    """

    __slots__ = ("fields", "parsed")

    def __init__(self, fields: bytes, parsed: Record) -> None:
        self.fields = fields  # the record's JSON without its braces
        self.parsed = parsed  # the record as a reader parses it

    @classmethod
    def of(cls, record: Record, plain: bool = False) -> _Entry | None:
        """The record serialised, or None where only ``_seal`` can (lone surrogates).

        ``plain`` (``AuditLog.append_many``): the record is what a reader would
        parse from its JSON, so it is not parsed back (about 30,000 instructions
        for a request's record); an object ``seal``'s encoder does not know
        still sends it to ``_seal``, and top-level keys are checked here.
        """
        try:
            text = "".join(_line_json(record, 0))
        except RecursionError:  # nested too deep, or a cycle: json.dumps says which
            text = json.dumps(record, separators=_SEPARATORS, ensure_ascii=False, default=str)
        try:
            body = text.encode("utf-8")
        except UnicodeEncodeError:
            return None
        if plain and record and set(map(type, record)) == _STR:  # type() per key, in C
            return cls(body[1:-1], record)
        parsed = json.loads(text)
        if not isinstance(parsed, dict) or not parsed:
            return None
        return cls(body[1:-1], parsed)

    def seal(
        self, key: bytes | Keyed, seq: int, stamp: str, prev: str, keep: bool = True
    ) -> _Sealed | None:
        """The line, the stored record (if ``keep``) and the MAC for this place in the
        chain (None: use ``_seal``)."""
        prev_json = _string_json(prev)
        if prev_json is None:
            return None
        # The record's own fields never use the chain's names (``append_many`` refuses them).
        full = {**self.parsed, "v": VERSION, "seq": seq, "time": stamp, "prev": prev}
        try:
            canonical = _sorted_json(full)
        except TypeError:  # a plain record that was not (an object JSON does not know)
            return None
        mac = _sign(key, canonical)
        line = b'{"v":%d,"seq":%d,"time":"%s",%s,"prev":%s,"mac":"%s"}\n' % (
            VERSION,
            seq,
            stamp.encode(),
            self.fields,
            prev_json,
            mac.encode(),
        )
        if not keep:
            return line, {}, mac
        stored: Record = {"v": VERSION, "seq": seq, "time": stamp}
        stored.update(self.parsed)
        stored["prev"] = prev
        stored["mac"] = mac
        return line, stored, mac


class Keyed:
    """HMAC-SHA256 under one key, with the key's two padded blocks hashed once.

    ``hmac.new`` starts from the key every time and goes through OpenSSL's
    digest lookup; copying two SHA-256 states that have already hashed the
    key (RFC 2104: ``H(K ^ opad, H(K ^ ipad, data))``) costs about a third
    less (callgrind: 25,000 instructions against 36,000 for a 400-byte
    record), and every record written takes two MACs, its own and the
    head's. The result is ``hmac.new(key, data, sha256).hexdigest()``
    (tests/guard/test_auditlog.py compares them).
    """

    __slots__ = ("_inner", "_outer", "_pads")

    def __init__(self, key: bytes) -> None:
        if len(key) > 64:  # SHA-256's block size: a longer key is hashed first
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self._pads = (bytes(byte ^ 0x36 for byte in key), bytes(byte ^ 0x5C for byte in key))
        self._inner = hashlib.sha256(self._pads[0])
        self._outer = hashlib.sha256(self._pads[1])

    def hexdigest(self, data: bytes) -> str:
        """The MAC of ``data``, in hex."""
        inner = self._inner.copy()
        inner.update(data)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()

    def after(self, prefix: bytes) -> Keyed:
        """A ``Keyed`` whose ``hexdigest(data)`` is this one's of ``prefix + data``.

        For a journal, whose every line's MAC starts with the same session
        prefix: it is hashed once, here. The copy uses CPython's own SHA-256
        (``_sha256``; ``_sha2`` from 3.12) where there is one: a journal line
        is MAC'd once per request, on the request's path, with the caches cold
        after the relay waited for the client, and OpenSSL's digest machinery
        then cost about 3 us more per line than this smaller code (measured in
        one process, interleaved; back to back OpenSSL is faster, so the log's
        batches keep it). The MAC is the same either way.
        """
        twin = Keyed.__new__(Keyed)
        twin._pads = self._pads
        twin._inner = _small_sha256(self._pads[0] + prefix)
        twin._outer = _small_sha256(self._pads[1])
        return twin


def _small_sha256(data: bytes) -> Any:
    """A SHA-256 state that has hashed ``data``: CPython's own if built in, else OpenSSL's."""
    for name in ("_sha2", "_sha256"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        return module.sha256(data)
    return hashlib.sha256(data)  # pragma: no cover - a CPython without its own hashes


def _sign(key: bytes | Keyed, data: bytes) -> str:
    """HMAC-SHA256 of ``data`` in hex, under a key or its ``Keyed``."""
    if isinstance(key, bytes):
        return hmac.new(key, data, hashlib.sha256).hexdigest()
    return key.hexdigest(data)


def _string_json(text: str) -> bytes | None:
    """``json.dumps(text, ensure_ascii=False)`` in UTF-8; None for a lone surrogate.

    A MAC (64 hex digits) needs no escape: written as it is, without the
    encoder (a ``json.dumps`` call costs more than the rest of a head update).
    """
    if text.isascii() and (text.isalnum() or not text):
        return b'"' + text.encode() + b'"'
    try:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return None


# -- reading -------------------------------------------------------------------------


def read(folder: str) -> Iterator[Line]:
    """Every line of the log, oldest first: (file name, line number, record or None)."""
    files, _ = _snapshot(folder, head=False)
    try:
        for name, fd, size, _ in files:
            for number, (raw, terminated) in enumerate(_lines(fd, 0, size), 1):
                if terminated or name != CURRENT:  # else a line being written right now
                    yield name, number, _parse(raw)
    finally:
        _close(files)


class Follower:
    """The lines written since the last ``poll``, across rotations (like ``tail -F``).

    The first ``poll`` returns everything present. The position is the current
    file's identity (device, inode), an offset and the last line read: after a
    rotation that file is found again under its new name, its rest is read,
    then the newer files. The last line must still end at the offset, since a
    file rotated away frees its inode for a new one.
    """

    __slots__ = ("_file", "_last", "_line", "_offset", "folder")

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._file: tuple[int, int] | None = None
        self._offset = 0
        self._line = 0
        self._last = b""

    def poll(self) -> list[Line]:
        """New complete lines, oldest first (file name, line number, record or None)."""
        files, _ = _snapshot(self.folder, head=False)
        try:
            start = 0
            ids = [identity for _, _, _, identity in files]
            if self._file in ids and self._still_ours(files[ids.index(self._file)]):
                start = ids.index(self._file)
            else:  # the first poll, or our file was rotated away: everything present is newer
                self._file = None
            out: list[Line] = []
            for position in range(start, len(files)):
                name, fd, size, identity = files[position]
                if identity != self._file:
                    self._file, self._offset, self._line, self._last = identity, 0, 0, b""
                last = position == len(files) - 1
                for raw, terminated in _lines(fd, self._offset, size):
                    if last and not terminated:
                        break  # still being written: next poll
                    self._last = raw + b"\n" if terminated else raw
                    self._offset += len(self._last)
                    self._line += 1
                    out.append((name, self._line, _parse(raw)))
            return out
        finally:
            _close(files)

    def _still_ours(self, file: _Open) -> bool:
        _, fd, size, _ = file
        start = self._offset - len(self._last)
        if size < self._offset or start < 0:
            return False
        os.lseek(fd, start, os.SEEK_SET)
        return b"".join(_read_exactly(fd, len(self._last))) == self._last


# -- verifying -----------------------------------------------------------------------


class Problem:
    """One place where the log is not what was written: file, 1-based line, seq, message."""

    __slots__ = ("file", "line", "message", "seq")

    def __init__(self, file: str, line: int, seq: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.seq = seq
        self.message = message

    def __str__(self) -> str:
        seq = f" seq {self.seq}:" if self.seq is not None else ""
        return f"{self.file}:{self.line}:{seq} {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.file!r}, {self.line}, {self.seq!r}, {self.message!r})"

    def as_dict(self) -> dict[str, object]:
        """The problem as JSON-ready data."""
        return {"file": self.file, "line": self.line, "seq": self.seq, "message": self.message}


class Verification:
    """What ``verify`` found: record count, ``seq`` range, problems and notes."""

    __slots__ = ("first_seq", "last_seq", "notes", "problems", "records")

    def __init__(self) -> None:
        self.records = 0
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.problems: list[Problem] = []
        self.notes: list[str] = []

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (notes are not problems)."""
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """The result as JSON-ready data."""
        return {
            "ok": self.ok,
            "records": self.records,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "problems": [problem.as_dict() for problem in self.problems],
            "notes": list(self.notes),
        }


def verify(folder: str, key: bytes, checkpoint: Checkpoint | None = None) -> Verification:
    """Check every line of the log in ``folder`` and the head file against ``key``.

    Every problem is reported, but one change to the log should be one
    problem: after a bad line the next record may link to it or to the record
    before it (so an edited, forged, replaced or swapped line is one report).
    Messages never quote record contents. With the keychain's ``checkpoint``
    it also finds what the files alone cannot show: a log rolled back to an
    older copy, records deleted from its start, a log deleted whole.
    """
    result = Verification()
    files, head_bytes = _snapshot(folder, head=True)
    oldest = files[0][0] if files else CURRENT
    named_mac: str | None = None  # the mac of the record the checkpoint names, if present
    # Chain ends a next record may follow: (seq, mac), mac None = any.
    ends: list[tuple[int, str | None]] = []
    good_macs = 0
    mac_failures: list[Problem] = []
    last: Record | None = None
    where = (CURRENT, 1)  # the line after the last one
    sessions = _Sessions()  # what the chain says of the sessions' journals
    try:
        for name, fd, size, _ in files:
            number = 0
            for number, (raw, _terminated) in enumerate(_lines(fd, 0, size), 1):
                record = _parse(raw)
                seq = _int(record.get("seq")) if record is not None else None
                if (
                    record is None
                    or seq is None
                    or not isinstance(record.get("mac"), str)
                    or not isinstance(record.get("prev"), str)
                ):
                    message = "not a JSON record" if record is None else "not an audit record"
                    result.problems.append(Problem(name, number, seq, message))
                    if ends and len(ends) < _MAX_CANDIDATES:  # it may have replaced a record
                        ends.append((ends[0][0] + 1, None))
                    continue
                mac, prev = str(record["mac"]), str(record["prev"])
                if checkpoint is not None and seq == checkpoint.seq:
                    named_mac = mac
                result.records += 1
                result.last_seq = seq
                last = record
                if result.first_seq is None:
                    result.first_seq = seq
                if not _authentic(key, record):
                    problem = Problem(name, number, seq, "record was modified (MAC mismatch)")
                    result.problems.append(problem)
                    mac_failures.append(problem)
                    ends = [(seq, mac), *ends][:_MAX_CANDIDATES]
                    continue
                good_macs += 1
                event = record.get("event")
                if event == "journal" or (event == "request" and "journal" in record):
                    sessions.note(record, seq)
                if not ends:
                    if seq > 1:
                        result.notes.append(
                            f"the log starts at seq {seq} ({name} line {number}): "
                            "older records were rotated away"
                        )
                    elif prev:
                        result.problems.append(
                            Problem(name, number, seq, "chain broken: prev does not match")
                        )
                    ends = [(seq, mac)]
                    continue
                match = next(
                    (
                        i
                        for i, (end_seq, end_mac) in enumerate(ends)
                        if seq == end_seq + 1 and end_mac in (None, prev)
                    ),
                    None,
                )
                if match is None:
                    message = _link_problem(seq, ends[0][0] if ends else 0)
                    result.problems.append(Problem(name, number, seq, message))
                    ends = [(seq, mac), *ends][:_MAX_CANDIDATES]
                elif match == 0:
                    ends = [(seq, mac)]
                else:  # a later record may still follow one of the others
                    ends = [(seq, mac), *ends[:match], *ends[match + 1 :]][:_MAX_CANDIDATES]
            where = (name, number + 1)
    finally:
        _close(files)
    if good_macs == 0 and len(mac_failures) > 1:  # the wrong key, not N edits
        first = mac_failures[0]
        result.problems = [p for p in result.problems if p not in mac_failures]
        result.problems.insert(
            0,
            Problem(
                first.file,
                first.line,
                first.seq,
                "no record matches the key: the key is wrong, or every record was modified",
            ),
        )
    _check_head(result, head_bytes, key, last, where, wrong_key=good_macs == 0)
    if good_macs:
        _check_journals(result, folder, key, sessions)
    if checkpoint is not None:
        _check_checkpoint(result, checkpoint, named_mac, oldest, where)
    return result


class _Sessions:
    """What the chain's records say of the sessions' journals (``journal.py``)."""

    __slots__ = ("announced", "closed", "folded")

    def __init__(self) -> None:
        self.announced: dict[str, int] = {}  # session -> seq of the record that announced it
        self.closed: set[str] = set()
        self.folded: dict[str, set[int]] = {}  # session -> journal lines the chain holds

    def note(self, record: Record, seq: int) -> None:
        session = record.get("session")
        if not isinstance(session, str):
            return
        if record.get("event") == "request":
            number = _int(record.get("journal"))
            if number is not None:
                self.folded.setdefault(session, set()).add(number)
        elif record.get("outcome") == "open":
            self.announced.setdefault(session, seq)
        elif record.get("outcome") == "closed":
            self.closed.add(session)


def _check_journals(result: Verification, folder: str, key: bytes, sessions: _Sessions) -> None:
    """The journals against the chain: a journal the chain announced and never closed must
    be there (deleting it after a kill would hide the calls recorded only in it), and
    every line in a journal must be authentic and in order."""
    from mcpcred.guard import journal

    keyed = Keyed(key)
    present: set[str] = set()
    for name, session in journal.journals(folder):
        try:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY | _OPEN_FLAGS | _NOFOLLOW)
        except OSError as exc:
            result.problems.append(
                Problem(name, 1, None, f"journal cannot be read ({exc.strerror})")
            )
            continue
        try:
            state = journal.read(fd, name, session, keyed)
            alive = journal.owner_alive(fd)
        finally:
            os.close(fd)  # releases the journal's lock if owner_alive took it
        present.add(session)
        for line, message in state.problems:
            result.problems.append(Problem(name, line, None, message))
        unfolded = [
            intent
            for intent in state.intents
            if intent["n"] not in sessions.folded.get(session, ())
        ]
        if session in sessions.closed:
            result.notes.append(
                f"{name}: left over from a session the log closed (the next guarded server "
                "removes it)"
            )
        elif session not in sessions.announced and state.intents:
            if result.first_seq is not None and result.first_seq > 1:
                result.notes.append(
                    f"{name}: its session's start was rotated away ({len(unfolded)} request(s) "
                    "recorded only in the journal)"
                )
            else:
                result.problems.append(
                    Problem(name, 1, None, "journal of a session the log never announced")
                )
        elif alive:
            result.notes.append(
                f"{name}: in use by a running guarded server ({len(unfolded)} request(s) not "
                "folded in yet)"
            )
        elif unfolded:
            result.notes.append(
                f"{name}: {len(unfolded)} request(s) recorded only in the journal of a shim that "
                "ended without closing it (the next guarded server folds them in)"
            )
    for session, seq in sessions.announced.items():
        if session not in sessions.closed and session not in present:
            result.problems.append(
                Problem(
                    journal.PREFIX + session,
                    1,
                    seq,
                    f"the journal of session {session} is missing: the log announced it and never "
                    "closed it, so requests recorded only there may have been deleted",
                )
            )


def _check_checkpoint(
    result: Verification,
    checkpoint: Checkpoint,
    named_mac: str | None,
    oldest: str,
    where: tuple[str, int],
) -> None:
    """Compare the log with the keychain's checkpoint, which no one without it can roll back."""
    seq, first, last = checkpoint.seq, result.first_seq, result.last_seq
    if seq <= 0:
        return
    if first is None or last is None:
        result.problems.append(
            Problem(
                CURRENT,
                1,
                None,
                f"the audit log is missing: the keychain checkpoint says records up to seq {seq} "
                "were written",
            )
        )
        return
    if last < seq:
        file, line = where
        result.problems.append(
            Problem(
                file,
                line,
                last,
                f"the log was rolled back: it ends at seq {last}, but the keychain checkpoint "
                f"says seq {seq} was written",
            )
        )
    elif named_mac is not None and named_mac != checkpoint.mac:
        result.problems.append(
            Problem(
                CURRENT,
                1,
                seq,
                "the log was replaced: this is not the record the keychain checkpoint names",
            )
        )
    if first <= checkpoint.first:
        return
    rotated = oldest == f"{CURRENT}.{checkpoint.keep}" and checkpoint.keep > 0
    if rotated and (first in checkpoint.starts or first > seq):
        return  # older files were dropped by rotation, as the checkpoint allows
    result.problems.append(
        Problem(
            oldest,
            1,
            first,
            f"records were deleted from the start of the log: it begins at seq {first}, but "
            f"the keychain checkpoint says seq {checkpoint.first} is kept"
            + ("" if first in checkpoint.starts or first > seq else " (not a file's first record)"),
        )
    )


def _link_problem(seq: int, previous: int) -> str:
    if seq == previous + 1:
        return "chain broken: prev does not match"
    if seq > previous + 1:
        what = "record" if seq == previous + 2 else "records"
        return f"{what} missing before this one (seq {seq} follows {previous})"
    return f"record out of order or repeated (seq {seq} follows {previous})"


def _check_head(
    result: Verification,
    head_bytes: bytes | None,
    key: bytes,
    last: Record | None,
    where: tuple[str, int],
    *,
    wrong_key: bool,
) -> None:
    if head_bytes is None:
        if last is not None:
            result.problems.append(
                Problem(
                    HEAD,
                    1,
                    None,
                    "head file is missing: records removed from the end would go unnoticed",
                )
            )
        return
    head = _head_from(head_bytes)
    if head is None:
        result.problems.append(Problem(HEAD, 1, None, "head file is not valid"))
        return
    seq, mac, signature = head
    if not wrong_key and not hmac.compare_digest(
        _head_mac(key, seq, mac).encode(), signature.encode("utf-8", "surrogatepass")
    ):
        result.problems.append(Problem(HEAD, 1, seq, "head file was modified (MAC mismatch)"))
    last_seq = _int(last.get("seq")) if last is not None else None
    file, line = where
    if last is None or last_seq is None or seq > last_seq:
        result.problems.append(
            Problem(
                file,
                line,
                seq,
                f"log ends before the last record the head file names (seq {seq}): "
                "records were removed from the end",
            )
        )
    elif seq == last_seq:
        if last.get("mac") != mac:
            result.problems.append(
                Problem(HEAD, 1, seq, "the last record is not the one the head file names")
            )
    elif seq == last_seq - 1 and last.get("prev") == mac and _authentic(key, last):
        result.notes.append(
            f"the last record (seq {last_seq}) was written after the head file was last "
            "updated (an interrupted write); the next record fixes this"
        )
    else:
        result.problems.append(
            Problem(HEAD, 1, seq, f"head file is behind the log, which goes on to seq {last_seq}")
        )


# -- the keychain checkpoint ------------------------------------------------------------

CHECKPOINT_PREFIX = "audit:checkpoint:"


def checkpoint_name(folder: str) -> str:
    """The keychain item holding the checkpoint of the log in ``folder`` (one per folder)."""
    path = os.path.realpath(folder).encode("utf-8", "surrogateescape")
    return CHECKPOINT_PREFIX + hashlib.sha256(path).hexdigest()[:16]


class Checkpoint:
    """Where the log was, kept in the keychain: what the files cannot be rolled back past.

    ``seq`` and ``mac`` name the last record written at the time; ``first`` is the
    oldest record then kept, ``starts`` the first record of every file then (the
    only places rotation can later make the log begin), ``keep`` how many rotated
    files the writer keeps. Someone who can replace the files but not the keychain
    can neither roll the log back behind ``seq`` nor cut its start unnoticed.
    """

    __slots__ = ("first", "keep", "mac", "seq", "starts")

    def __init__(self, seq: int, mac: str, first: int, starts: list[int], keep: int) -> None:
        self.seq = seq
        self.mac = mac
        self.first = first
        self.starts = starts
        self.keep = keep

    def to_text(self) -> str:
        """As the keychain keeps it: compact JSON."""
        data = {
            "v": VERSION,
            "seq": self.seq,
            "mac": self.mac,
            "first": self.first,
            "starts": self.starts,
            "keep": self.keep,
        }
        return json.dumps(data, separators=_SEPARATORS)

    @classmethod
    def from_text(cls, text: str | None) -> Checkpoint | None:
        """A keychain value as a checkpoint; None if there is none or it is not one."""
        data = _parse(text.encode("utf-8", "replace")) if text else None
        if data is None:
            return None
        seq, first, keep = _int(data.get("seq")), _int(data.get("first")), _int(data.get("keep"))
        mac, starts = data.get("mac"), data.get("starts")
        if seq is None or first is None or keep is None or not isinstance(mac, str):
            return None
        if not isinstance(starts, list) or not all(_int(item) is not None for item in starts):
            return None
        return cls(seq, mac, first, [int(item) for item in starts], keep)


def current_checkpoint(folder: str, key: bytes, keep: int = DEFAULT_KEEP) -> Checkpoint | None:
    """The log's state now, read under the lock: the signed head and each file's first seq."""
    files, head_bytes = _snapshot(folder, head=True)
    try:
        head = _head_from(head_bytes) if head_bytes is not None else None
        if head is None:
            return None
        seq, mac, signature = head
        expected = _head_mac(key, seq, mac).encode()
        if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
            return None
        starts: list[int] = []
        for _, fd, size, _ in files:
            first = _first_seq(fd, size)
            if first is not None:
                starts.append(first)
    finally:
        _close(files)
    if not starts:
        return None
    return Checkpoint(seq, mac, starts[0], starts, keep)


def holds(folder: str, checkpoint: Checkpoint) -> bool:
    """Whether the log in ``folder`` goes on from ``checkpoint`` (or rotated it away).

    A writer advances the keychain's checkpoint only from a log that still
    holds the record it names: a log rolled back, replaced or deleted must stay
    reported by ``verify``, not be blessed by the next record written.
    """
    prefix = b'{"v":%d,"seq":%d,' % (VERSION, checkpoint.seq)
    files, _ = _snapshot(folder, head=False)
    try:
        if not files:
            return False
        for name, fd, size, _ in reversed(files):  # the named record is usually recent
            first = _first_seq(fd, size)
            if first is None or first > checkpoint.seq:
                if first is not None and name == files[0][0]:
                    # rotated away, if the log is as long as the writer keeps it
                    return checkpoint.keep > 0 and name == f"{CURRENT}.{checkpoint.keep}"
                continue
            raw = _find_line(fd, size, prefix)
            found = _parse(raw) if raw is not None else None
            return found is not None and found.get("mac") == checkpoint.mac
        return False
    finally:
        _close(files)


# -- helpers -------------------------------------------------------------------------


def _find_line(fd: int, size: int, prefix: bytes) -> bytes | None:
    """The first line of ``fd`` that starts with ``prefix``, found without parsing the rest."""
    needle = b"\n" + prefix
    os.lseek(fd, 0, os.SEEK_SET)
    carry, base, at = b"\n", -1, -1  # as if a newline came before the first byte
    while base + len(carry) < size:
        chunk = os.read(fd, min(_READ_CHUNK, size - base - len(carry)))
        if not chunk:
            break
        window = carry + chunk
        index = window.find(needle)
        if index >= 0:
            at = base + index + 1
            break
        carry = window[-len(needle) :]
        base += len(window) - len(carry)
    if at < 0:
        return None
    return next(iter(_lines(fd, at, size)))[0]


def _first_seq(fd: int, size: int) -> int | None:
    """The ``seq`` of a file's first line, if that is a record."""
    for raw, _ in _lines(fd, 0, size):
        record = _parse(raw)
        return _int(record.get("seq")) if record is not None else None
    return None


def _shrunk(full: Record) -> Record:
    """A record over ``MAX_RECORD`` with each large field replaced by its size.

    What the record says happened (its event, method, outcome, time) stays;
    what a peer filled in beyond ``MAX_FIELD`` bytes is noted as too large.
    """
    shrunk: Record = {}
    for name, value in full.items():
        if name not in _OWN:
            size = len(json.dumps(value, ensure_ascii=False, default=str))
            if size > MAX_FIELD:
                value = f"\u2026({size} bytes, not kept)"
        shrunk[name] = value
    return shrunk


def _make_folder(folder: str) -> None:
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)


_second: tuple[int, str] = (-1, "")  # the last whole second formatted (one per second)


def _timestamp(seconds: float) -> str:
    """UTC with milliseconds; ``strftime`` runs once a second, not once a record."""
    global _second  # a cache; the tuple is replaced whole, so threads agree
    whole, millis = divmod(int(seconds * 1000), 1000)
    cached = _second
    if cached[0] != whole:
        cached = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{cached[1]}.{millis:03d}Z"


def _canonical(value: object) -> bytes:
    text = json.dumps(value, sort_keys=True, separators=_SEPARATORS, ensure_ascii=False)
    return text.encode("utf-8", "surrogatepass")


def _mac(key: bytes | Keyed, record: Record) -> str:
    """HMAC of ``record`` without its ``mac`` field."""
    body = {name: value for name, value in record.items() if name != "mac"}
    return _sign(key, _canonical(body))


def _authentic(key: bytes, record: Record) -> bool:
    mac = record.get("mac")
    if not isinstance(mac, str):
        return False
    expected = _mac(key, record).encode()
    return hmac.compare_digest(expected, mac.encode("utf-8", "surrogatepass"))


def _head_mac(key: bytes | Keyed, seq: int, mac: str) -> str:
    return _sign(key, f"head:{seq}:{mac}".encode("utf-8", "surrogatepass"))


def _int(value: object) -> int | None:
    return value if type(value) is int else None


def _parse(raw: bytes) -> Record | None:
    """A line as a JSON object, or None."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return value if isinstance(value, dict) else None


def _write_all(fd: int, data: bytes) -> None:
    written = os.write(fd, data)  # one call, all of it, but for a signal or a full disk
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _head_bytes(key: bytes | Keyed, seq: int, mac: str) -> bytes:
    """The head file's content, padded to a fixed size so it can be rewritten in place."""
    # What json.dumps of {"seq", "mac", "hmac"} writes, without building an encoder.
    shown = mac if mac.isascii() and mac.isalnum() else json.dumps(mac)[1:-1]
    text = f'{{"seq":{int(seq)},"mac":"{shown}","hmac":"{_head_mac(key, seq, mac)}"}}'
    return (text.ljust(HEAD_SIZE - 1) + "\n").encode()


def _linked(fd: int, size: int | None = None) -> bool:
    """Whether the file open as ``fd`` still has a name (and is ``size`` bytes long).

    A file removed, or replaced by a rename over its name, has no link left
    (mcpcred never gives its files a second name).
    """
    try:
        info = os.fstat(fd)
    except OSError:
        return False
    return info.st_nlink > 0 and (size is None or info.st_size == size)


def _identity(path: str) -> tuple[tuple[int, int], int] | None:
    """(device, inode) and size of ``path``, or None if it is not there."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return None
    return (info.st_dev, info.st_ino), info.st_size


def _open_head_in_place(path: str, identity: tuple[int, int], size: int) -> int | None:
    """The head file another writer put there, opened to be updated in place; or None.

    Shims that share a log each replaced the head (temp file + rename) whenever
    the last update was another's, so every append renamed a file: on a
    request's path, with two guarded servers at work, that was most of a
    millisecond. A head that is already there, full size, is as safe to update
    in place as our own. Only a plain file (no symlink followed, one link) that is
    still the one looked at under the lock; anything else is written anew.
    """
    import stat

    try:
        fd = os.open(path, os.O_RDWR | _OPEN_FLAGS | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        info = None
    if (
        info is None
        or not stat.S_ISREG(info.st_mode)
        or info.st_nlink != 1
        or (info.st_dev, info.st_ino) != identity
        or info.st_size != size
    ):
        os.close(fd)
        return None
    return fd


def _write_head(folder: str, key: bytes, seq: int, mac: str) -> None:
    data = _head_bytes(key, seq, mac)
    temp = os.path.join(folder, HEAD + ".tmp")  # one writer at a time: the lock is held
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _OPEN_FLAGS, 0o600)
    try:
        _write_all(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, os.path.join(folder, HEAD))


# The head file as ``_head_bytes`` writes it, read without the JSON decoder (another
# shim's head is read before a request may be forwarded). Anything else is parsed.
_HEAD_LINE = re.compile(
    rb'\{"seq":(0|[1-9][0-9]{0,17}),"mac":"([0-9a-f]*)","hmac":"([0-9a-f]*)"\}[ \n]*\Z'
)


def _head_from(data: bytes) -> tuple[int, str, str] | None:
    found = _HEAD_LINE.match(data)
    if found is not None:  # what json.loads reads from these bytes, without it
        return int(found[1]), found[2].decode(), found[3].decode()
    head = _parse(data.strip())
    if head is None:
        return None
    seq, mac, signature = _int(head.get("seq")), head.get("mac"), head.get("hmac")
    if seq is None or not isinstance(mac, str) or not isinstance(signature, str):
        return None
    return seq, mac, signature


def _read_head(path: str) -> tuple[int, str, str] | None:
    try:
        with open(path, "rb") as handle:
            return _head_from(handle.read())
    except FileNotFoundError:
        return None


def _rotated(folder: str) -> list[tuple[int, str]]:
    """(index, name) of the rotated files present, in no particular order."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    prefix = CURRENT + "."
    out = []
    for name in names:
        suffix = name[len(prefix) :]
        if name.startswith(prefix) and suffix.isascii() and suffix.isdigit() and int(suffix):
            out.append((int(suffix), name))
    return out


def _files(folder: str) -> list[str]:
    """Names of the log files, oldest first."""
    names = [name for _, name in sorted(_rotated(folder), reverse=True)]
    if os.path.exists(os.path.join(folder, CURRENT)):
        names.append(CURRENT)
    return names


_Open = tuple[str, int, int, tuple[int, int]]  # name, fd, size, (device, inode)


def _snapshot(folder: str, *, head: bool) -> tuple[list[_Open], bytes | None]:
    """The log files opened (and the head read) at one instant: under the writers' lock.

    Open descriptors keep reading the same files however they are renamed or
    removed later, and the sizes bound reading to what was written by then.
    A folder that cannot take a lock file (a read-only copy) is read as it is.
    """
    if not os.path.isdir(folder):
        return [], None
    lock = held(
        os.path.join(folder, LOCK),
        timeout=LOCK_TIMEOUT,
        what="audit log",
        error=lambda what: ShimError(
            f"another mcpcred process has held the {what} lock for over {LOCK_TIMEOUT:g} s"
        ),
    )
    try:
        lock.__enter__()
    except OSError:
        locked = False
    else:
        locked = True
    try:
        files: list[_Open] = []
        try:
            for name in _files(folder):
                try:
                    fd = os.open(os.path.join(folder, name), os.O_RDONLY | _OPEN_FLAGS)
                except FileNotFoundError:
                    continue
                info = os.fstat(fd)
                files.append((name, fd, info.st_size, (info.st_dev, info.st_ino)))
            head_bytes = None
            if head:
                try:
                    with open(os.path.join(folder, HEAD), "rb") as handle:
                        head_bytes = handle.read()
                except FileNotFoundError:
                    pass
        except BaseException:
            _close(files)
            raise
        return files, head_bytes
    finally:
        if locked:
            lock.__exit__(None, None, None)


def _close(files: list[_Open]) -> None:
    for _, fd, _, _ in files:
        os.close(fd)


def _lines(fd: int, start: int, end: int) -> Iterator[tuple[bytes, bool]]:
    """Lines of ``fd`` between two offsets, without newlines, and whether each had one."""
    os.lseek(fd, start, os.SEEK_SET)
    remaining = end - start
    pending = b""
    while remaining > 0:
        chunk = os.read(fd, min(_READ_CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line, True
    if pending:
        yield pending, False


def _last_line(path: str) -> tuple[bytes | None, int, bool]:
    """The last complete line of a file, its size, and whether it ends with a newline."""
    try:
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except FileNotFoundError:
        return None, 0, True
    try:
        size = os.fstat(fd).st_size
        last, terminated = _tail(fd, size)
        return last, size, terminated
    finally:
        os.close(fd)


def _tail(fd: int, size: int) -> tuple[bytes | None, bool]:
    """The last complete line of the first ``size`` bytes of ``fd``, and whether they end
    with a newline."""
    chunk = _TAIL_CHUNK
    while size:
        start = max(0, size - chunk)
        data = _read_at(fd, start, size - start)
        end = data.rfind(b"\n")
        begin = data.rfind(b"\n", 0, end) if end > 0 else -1
        if end >= 0 and (begin >= 0 or start == 0):
            return data[begin + 1 : end], data.endswith(b"\n")
        if start == 0:
            return None, data.endswith(b"\n")
        chunk *= 4
    return None, True


def _read_at(fd: int, start: int, count: int) -> bytes:
    """``count`` bytes of ``fd`` from ``start`` (fewer at its end): one ``pread`` where there
    is one (another shim's append is read this way before a request may be forwarded)."""
    pread = getattr(os, "pread", None)
    if pread is None:  # pragma: no cover - Windows
        os.lseek(fd, start, os.SEEK_SET)
        return b"".join(_read_exactly(fd, count))
    parts: list[bytes] = []
    while count > 0:
        chunk = pread(fd, count, start)
        if not chunk:
            break
        parts.append(chunk)
        start += len(chunk)
        count -= len(chunk)
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _read_exactly(fd: int, count: int) -> Iterator[bytes]:
    while count > 0:
        chunk = os.read(fd, count)
        if not chunk:
            return
        count -= len(chunk)
        yield chunk


def _newest_record(folder: str) -> tuple[int, str] | None:
    """``seq`` and ``mac`` of the last well-formed record (when the head file is lost)."""
    for name in reversed(_files(folder)):
        found: tuple[int, str] | None = None
        with open(os.path.join(folder, name), "rb") as handle:
            for raw in handle:
                record = _parse(raw.rstrip(b"\n"))
                seq = _int(record.get("seq")) if record is not None else None
                if record is not None and seq is not None and isinstance(record.get("mac"), str):
                    found = seq, str(record["mac"])
        if found is not None:
            return found
    return None
