"""The export worker: follows the local audit log and ships it to every configured target.

Why a process of its own, started by a guarded shim (``ensure``), rather than a
thread in each shim: a shim lives as long as one client connection and there may
be ten at once; each would read the whole log, keep its own cursor and send every
record again, and an export stuck on a collector that is down would sit in the
process that relays tool calls. One detached worker per target (an exclusive lock
file) reads the log after the fact, so a tool call never waits for it: the
shim's only cost is a background thread that, once, looks for the word
``export`` in the two config files and, if it is there, checks a lock file and
maybe starts the worker (``python -m mcpcred.export.worker``).

Delivery is at least once: a target's cursor (the ``seq`` of the last record the
receiver took, in ``<data dir>/export/``, 0600) moves only after ``send``
returned, so a crash between the two sends a batch again, never skips one.
While a receiver is down the worker backs off (1 s doubling to 60 s) and keeps
at most ``MAX_PENDING`` records in memory; the rest wait in the log. Records the
log rotated away before they were sent are reported as a ``finding`` record in
the local log (which is then exported itself).

The worker ends when no guarded shim has been running (each holds a shared lock
on ``export-users.lock`` for its life) and everything has been sent, for
``IDLE_SECONDS``; the next guarded start brings it back and it catches up from
the cursor.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import time

from mcpcred.errors import ExportError, McpcredError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mcpcred.export.targets import Sink, Target
    from mcpcred.guard.auditlog import Follower, Record

BATCH = 512  # records per send
MAX_PENDING = 20_000  # records held in memory per target; the rest wait in the log
POLL_SECONDS = 0.2  # a record reaches the receiver within about this (plus the send)
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
REFUSALS_BEFORE_SKIP = 3
IDLE_SECONDS = 30.0  # no guarded shim and nothing to send for this long: exit
USERS_LOCK = "export-users.lock"
IDLE_VAR = "MCPCRED_EXPORT_IDLE"  # tests shorten the idle time


def cursor_folder() -> str:
    """``<data dir>/export``, 0700 (made so again if it was not: the cursors are ours)."""
    from mcpcred import paths

    folder = os.path.join(str(paths.data_dir()), "export")
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
    info = os.lstat(folder)
    if stat.S_ISDIR(info.st_mode) and info.st_mode & 0o077:
        os.chmod(folder, 0o700)
    return folder


def _name(target_key: str) -> str:
    return hashlib.sha256(target_key.encode()).hexdigest()[:16]


def cursor_path(target_key: str) -> str:
    """``<data dir>/export/<hash of the target>.cursor``."""
    return os.path.join(cursor_folder(), _name(target_key) + ".cursor")


def read_cursor(target_key: str) -> int:
    """The ``seq`` of the last record the target took (0: none yet)."""
    return read_cursor_mark(target_key)[0]


def read_cursor_mark(target_key: str) -> tuple[int, str | None]:
    """The cursor's ``seq`` and the ``mac`` of that record (``None`` in older cursors).

    The ``mac`` tells a log that was deleted and started anew from the one the cursor
    was written for: a ``seq`` alone would skip the new log's first records up to the
    old cursor when it grew past it while no worker ran.
    """
    try:
        with open(cursor_path(target_key), "rb") as handle:
            data = json.loads(handle.read())
    except (OSError, ValueError):
        return 0, None
    if not isinstance(data, dict):
        return 0, None
    seq, mac = data.get("seq"), data.get("mac")
    if type(seq) is not int or seq < 0:
        return 0, None
    return seq, mac if isinstance(mac, str) else None


def write_cursor(target_key: str, seq: int, mac: str | None = None) -> None:
    """Replace the cursor file (temp file + rename, 0600): a crash leaves the old one."""
    path = cursor_path(target_key)
    temp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)  # a leftover of a crashed worker with our pid, or a planted link
    # O_EXCL (with O_NOFOLLOW): a link put at the temp name is never followed and
    # truncated; the new file is ours and 0600 from its first byte.
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        body: dict[str, object] = {"target": target_key, "seq": seq}
        if mac is not None:
            body["mac"] = mac
        os.write(fd, json.dumps(body).encode() + b"\n")
        os.fsync(fd)  # the rename must not land before the bytes (a crash: an empty cursor)
    finally:
        os.close(fd)
    os.replace(temp, path)


class Shipper:
    """One target: its follower of the log, the records not yet taken, its cursor."""

    def __init__(
        self,
        target: Target,
        folder: str,
        make_sink: Callable[[Target], Sink],
        note: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        from mcpcred.export.config import key
        from mcpcred.guard.auditlog import Follower

        self.target = target
        self.key = key(target)
        self.follower: Follower = Follower(folder)
        self.make_sink = make_sink
        self.note = note  # writes a finding to the local log
        self.clock = clock
        self.sink: Sink | None = None
        self.pending: list[Record] = []
        self.cursor, self.cursor_mac = read_cursor_mark(self.key)
        self.seen = self.cursor  # the newest seq read from the log
        self.last_state: tuple[int, int, int] | None = None  # audit.jsonl when last read
        self.retry_at = 0.0
        self.backoff = FIRST_BACKOFF
        self.failures = 0
        self.refusals = 0  # times in a row the receiver refused this batch for its content
        self.size = BATCH  # records in the next send: smaller while a refusal is narrowed down
        self.last_error = ""

    @property
    def idle(self) -> bool:
        return not self.pending

    def step(self) -> bool:
        """Read what is new, send a batch unless backing off; True if there was work."""
        from mcpcred.export.targets import RefusedBatch

        worked = False
        if len(self.pending) < MAX_PENDING:
            worked = self._read()
        if not self.pending or self.clock() < self.retry_at:
            return worked
        batch = self.pending[: self.size]
        try:
            if self.sink is None:
                self.sink = self.make_sink(self.target)
            self.sink.send(batch)
        except RefusedBatch as exc:
            if len(batch) > 1:
                # Narrow it down to the record(s) refused: skipping the whole batch would
                # drop every record sent along with one the collector will not take, so a
                # hostile server's one odd record could keep others' calls out of the SIEM.
                self.size = max(1, len(batch) // 2)
                return True
            self.refusals += 1
            if self.refusals < REFUSALS_BEFORE_SKIP:
                self._failed(exc.message)
                return True
            self._skip(batch, exc.message)
            return True
        except McpcredError as exc:
            self._failed(exc.message)
            return True
        except Exception as exc:  # a sink's bug must not end the worker
            from mcpcred.errors import describe

            self._failed(describe(exc))
            return True
        self._done(batch)
        if self.failures:
            self.failures = 0
            _say(f"{self.target.shown}: delivering again")
        return True

    def _done(self, batch: list[Record]) -> None:
        """The batch is the receiver's (or skipped): forget it, move the cursor."""
        del self.pending[: len(batch)]
        self.refusals = 0
        self.size = BATCH
        last = batch[-1].get("seq")
        if type(last) is int:
            mac = batch[-1].get("mac")
            self.cursor = last
            self.cursor_mac = mac if isinstance(mac, str) else None
            write_cursor(self.key, last, self.cursor_mac)
        self.backoff = FIRST_BACKOFF
        self.retry_at = 0.0

    def _skip(self, batch: list[Record], message: str) -> None:
        """Give up on a batch the receiver refuses for its content; say so in the local log."""
        first, last = batch[0].get("seq"), batch[-1].get("seq")
        span = f"seq {first}" if len(batch) == 1 else f"seq {first}\u2013{last}"
        text = (
            f"{len(batch)} audit record(s) ({span}) were not exported: "
            f"{message} {REFUSALS_BEFORE_SKIP} times"
        )
        _say(text)
        if not all(_our_skip_finding(record) for record in batch):
            # A finding about a skipped finding would be refused in turn by a collector
            # that refuses everything: one more record in the local log every few
            # seconds, for as long as it does. export.log has the line.
            self.note(text)
        self._done(batch)

    def _failed(self, message: str) -> None:
        self.failures += 1
        if message != self.last_error or self.failures == 1:
            _say(f"{message}; trying again in {self.backoff:g} s")
        self.last_error = message
        self.retry_at = self.clock() + self.backoff
        self.backoff = min(self.backoff * 2, MAX_BACKOFF)
        if self.sink is not None:  # a fresh connection next time
            with contextlib.suppress(Exception):
                self.sink.close()
            self.sink = None

    def _read(self) -> bool:
        # The follower reads under the writers' lock: only when the current file changed
        # (a stat, no lock), so an idle worker never makes a shim's append wait.
        try:
            info = os.stat(os.path.join(self.follower.folder, "audit.jsonl"))
            state: tuple[int, int, int] | None = (info.st_dev, info.st_ino, info.st_size)
        except OSError:
            state = None
        if state is not None and state == self.last_state:
            return False
        new = [record for _, _, record in self.follower.poll() if record is not None]
        self.last_state = state
        if not new:
            return False
        last = new[-1].get("seq")
        if type(last) is int and last < self.seen:  # the log was started anew
            self.seen = 0
        elif self.cursor_mac is not None and self.seen == self.cursor:
            # The first read after a start: the record at the cursor must be the one the
            # cursor was written for. Another one (the log deleted and started anew while no
            # worker ran, and grown past the cursor since) means every record is new.
            for record in new:
                if record.get("seq") == self.cursor:
                    if record.get("mac") != self.cursor_mac:
                        self.seen = 0
                        self._restarted()
                    break
        fresh: list[Record] = []
        for record in new:
            seq = record.get("seq")
            if type(seq) is not int or seq <= self.seen:
                continue
            if len(self.pending) + len(fresh) >= MAX_PENDING:
                # Bounded: the rest stays in the log; a fresh follower reads it again
                # (from the start, skipping what was seen) once the receiver took some.
                from mcpcred.guard.auditlog import Follower

                self.follower = Follower(self.follower.folder)
                self.last_state = None  # read again next time, changed or not
                break
            if self.seen and seq > self.seen + 1:
                self._lost(self.seen + 1, seq - 1)
            self.seen = seq
            fresh.append(record)
        self.pending.extend(fresh)
        return bool(fresh)

    def _restarted(self) -> None:
        text = (
            f"the local audit log was started anew since the last export to "
            f"{self.target.shown}: its records are exported from the start"
        )
        _say(text)
        self.note(text)

    def _lost(self, first: int, last: int) -> None:
        count = last - first + 1
        span = f"seq {first}" if count == 1 else f"seq {first}\u2013{last}"
        text = (
            f"{count} audit record(s) ({span}) were rotated out of the local log before "
            f"they could be exported to {self.target.shown}"
        )
        _say(text)
        self.note(text)

    def close(self) -> None:
        if self.sink is not None:
            with contextlib.suppress(Exception):
                self.sink.close()
            self.sink = None


def _our_skip_finding(record: Record) -> bool:
    detail = record.get("detail")
    return (
        record.get("event") == "finding"
        and isinstance(detail, str)
        and " were not exported: " in detail
    )


def default_sink(target: Target) -> Sink:
    from mcpcred.export import targets

    return targets.build(target, targets.resolve_headers(target))


def local_note(folder: str) -> Callable[[str], None]:
    """Writes a ``finding`` record to the local log (the key from the keychain)."""

    def note(text: str) -> None:
        from mcpcred.guard import auditlog
        from mcpcred.keychain.store import SecretStore

        try:
            key = auditlog.key_from_text(SecretStore().get(auditlog.KEY_NAME))
            log = auditlog.AuditLog(folder, key)
            try:
                log.append({"event": "finding", "detail": text, "pid": os.getpid()})
            finally:
                log.close()
        except Exception as exc:
            from mcpcred.errors import describe

            _say(f"cannot write a finding to the audit log: {describe(exc)}")

    return note


def run(
    targets_: list[Target],
    folder: str,
    *,
    make_sink: Callable[[Target], Sink] = default_sink,
    idle_seconds: float | None = None,
    alive: Callable[[], bool] | None = None,
    stop: Callable[[], bool] = lambda: False,
    note: Callable[[str], None] | None = None,
) -> int:
    """Ship to the targets this process holds the lock of, until idle; the exit code."""
    from mcpcred.oauth.lock import _try_lock

    idle_limit = idle_seconds if idle_seconds is not None else _idle_from_env()
    alive = alive if alive is not None else shims_running
    locks: list[int] = []
    shippers: list[Shipper] = []
    note = note if note is not None else local_note(folder)
    for target in targets_:
        from mcpcred.export.config import key

        fd = _open_lock(_lock_path(key(target)))
        if not _try_lock(fd):  # another worker has it
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        locks.append(fd)
        shippers.append(Shipper(target, folder, make_sink, note))
    if not shippers:
        return 0
    quiet_since = time.monotonic()
    try:
        while not stop():
            worked = False
            for shipper in shippers:
                worked = shipper.step() or worked
            now = time.monotonic()
            if worked or not all(s.idle for s in shippers) or alive():
                quiet_since = now
            elif now - quiet_since >= idle_limit:
                return 0
            if not worked:
                time.sleep(POLL_SECONDS)
        return 0
    finally:
        for shipper in shippers:
            shipper.close()
        for fd in locks:
            os.close(fd)


def _idle_from_env() -> float:
    try:
        return max(0.0, float(os.environ.get(IDLE_VAR, "")))
    except ValueError:
        return IDLE_SECONDS


def _lock_path(target_key: str) -> str:
    from mcpcred.paths import runtime_path

    return os.path.join(runtime_path(), f"export-{_name(target_key)}.lock")


def _open_lock(path: str) -> int:
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    return os.open(path, flags, 0o600)


def shims_running() -> bool:
    """Whether a guarded shim holds its shared lock on ``export-users.lock`` (POSIX)."""
    if sys.platform == "win32":  # pragma: no cover - no shared flock: the idle time decides
        return False
    import fcntl

    from mcpcred.paths import runtime_path

    fd = _open_lock(os.path.join(runtime_path(), USERS_LOCK))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the lock we may have taken
    return False


_held_users: list[int] = []  # the shim's shared lock, kept open for the process's life


def ensure(environ: Mapping[str, str], cwd: str) -> bool:
    """From a guarded shim (a background thread): start the worker if export is on and
    it is not running. True if one was started. Never raises."""
    try:
        from mcpcred.export import config

        if not config.mentions_export(environ, cwd):
            return False
        if sys.platform != "win32" and not _held_users:
            import fcntl

            from mcpcred.paths import runtime_path

            fd = _open_lock(os.path.join(runtime_path(), USERS_LOCK))
            fcntl.flock(fd, fcntl.LOCK_SH)
            _held_users.append(fd)
        found = config.load(environ, cwd)
        if any(t.kind == "otlp" for t in found):
            from mcpcred.export.targets import otel_installed

            if not otel_installed():
                sys.stderr.write(
                    "mcpcred guard: audit export to an OTLP collector needs the OpenTelemetry "
                    "packages: pip install 'mcpcred[otel]'\n"
                )
                found = [t for t in found if t.kind != "otlp"]
        if not found or all(_locked(config.key(t)) for t in found):
            return False
        spawn(environ, cwd)
        return True
    except Exception as exc:
        from mcpcred.errors import describe

        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"mcpcred guard: audit export not started: {describe(exc)}\n")
        return False


def _locked(target_key: str) -> bool:
    """Whether a worker holds the target's lock now."""
    from mcpcred.oauth.lock import _try_lock, _unlock

    fd = _open_lock(_lock_path(target_key))
    try:
        if _try_lock(fd):
            _unlock(fd)
            return False
        return True
    finally:
        os.close(fd)


def spawn(environ: Mapping[str, str], cwd: str) -> None:
    """Start ``python -m mcpcred.export.worker`` detached, its stderr to ``export.log``."""
    import subprocess

    from mcpcred import paths

    log_path = os.path.join(str(paths.data_dir()), "export.log")
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(log_path, flags, 0o600)
    try:
        options: dict[str, object] = {}
        if sys.platform == "win32":  # pragma: no cover
            options["creationflags"] = 0x00000008 | 0x00000200  # DETACHED, NEW_PROCESS_GROUP
        else:
            options["start_new_session"] = True
        subprocess.Popen(  # our own interpreter and module
            [sys.executable, "-m", "mcpcred.export.worker"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=fd,
            cwd=cwd,
            env=dict(environ),
            close_fds=True,
            **options,  # type: ignore[call-overload]
        )
    finally:
        os.close(fd)


def _say(text: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        sys.stderr.write(f"{stamp} mcpcred export: {text}\n")
        sys.stderr.flush()


def main() -> int:
    """``python -m mcpcred.export.worker``: the configured targets, from the working folder."""
    import signal

    from mcpcred.export import config
    from mcpcred.guard import auditlog

    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stopping.append(signum))
    try:
        found = config.load(os.environ, os.getcwd())
    except McpcredError as exc:
        _say(exc.message)
        return exc.exit_code
    if not found:
        return 0
    changed = _watch(_config_files(os.environ, os.getcwd()))
    try:
        code = run(found, auditlog.default_folder(), stop=lambda: bool(stopping) or changed())
    except KeyboardInterrupt:
        return 130
    except ExportError as exc:
        _say(exc.message)
        return exc.exit_code
    if not stopping and changed():  # [[log.export]] was edited: start again with it
        _say("the config changed: starting again with it")
        os.execv(sys.executable, [sys.executable, "-m", "mcpcred.export.worker"])  # noqa: S606
    return code


CONFIG_CHECK_SECONDS = 2.0


def _config_files(environ: Mapping[str, str], cwd: str) -> list[str]:
    from mcpcred.guard.settings import user_config_path
    from mcpcred.paths import project_file

    files = [user_config_path(environ)]  # type: ignore[arg-type]
    with contextlib.suppress(OSError):
        project = project_file(cwd)
        if project is not None:
            files.append(project)
    return files


def _watch(files: list[str]) -> Callable[[], bool]:
    """A check, at most every ``CONFIG_CHECK_SECONDS``, that the config files are unchanged."""

    def state() -> list[tuple[int, int] | None]:
        out: list[tuple[int, int] | None] = []
        for path in files:
            try:
                info = os.stat(path)
            except OSError:
                out.append(None)
            else:
                out.append((info.st_mtime_ns, info.st_size))
        return out

    first = state()
    checked = [time.monotonic(), 0.0]  # last check, and whether a change was seen

    def changed() -> bool:
        now = time.monotonic()
        if not checked[1] and now - checked[0] >= CONFIG_CHECK_SECONDS:
            checked[0] = now
            checked[1] = float(state() != first)
        return bool(checked[1])

    return changed


if __name__ == "__main__":
    sys.exit(main())
