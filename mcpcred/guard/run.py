"""The shim in guard mode: resolve, start the server as a child, relay, record.

Called by ``shim.main`` instead of exec when the server has a
``[servers.NAME]`` table. Everything here is paid only by guarded servers.
"""

from __future__ import annotations

import os
import sys
import threading

from mcpcred.terminal import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mcpcred.guard.auditlog import AuditLog
    from mcpcred.guard.settings import ServerGuard
    from mcpcred.shim.options import ShimOptions
    from mcpcred.shim.resolve import Resolved


# The writer gathers records for this long after the first one: one lock, head update
# and write per batch, and a few bursts of CPU instead of one per call (measured in
# benchmarks/bench_guard.py: +0.2 ms median per call without it, +0.12 ms with it).
BATCH_SECONDS = 0.005
# How long a thread may hold the GIL while another waits (Python's default is 5 ms):
# the writer's JSON and HMAC work must not hold up a message being relayed.
SWITCH_INTERVAL = 0.0005
MAX_QUEUED = 500  # records waiting for the writer before the relay writes them itself


class Recorder:
    """Audit records queued by the relay's threads, written by a thread of their own.

    Appending to the log (a lock, the chain's head, a write) costs a few
    hundred microseconds; on the relay's threads that would add to every
    round trip. So the relay only queues (``add``) and nudges (``flush``),
    and this writer takes whatever has queued up, in order, in one batch.
    A log that cannot be written must not take the server down with it: the
    first failure is reported once on stderr and later ones are counted.
    """

    REDACTED = ("tool", "uri", "arguments", "error")  # values from the session's messages

    def __init__(
        self,
        log: AuditLog,
        base: dict[str, object],
        warn: Callable[[str], None],
        redact: Callable[[object], object] | None = None,
    ) -> None:
        import collections

        self.redact = redact  # applied here, off the relay's threads
        self.log = log
        self.base = base
        self.warn = warn
        self.queue: collections.deque[dict[str, object]] = collections.deque()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.failures = 0
        self.writer = threading.Thread(target=self._loop, name="audit-log", daemon=True)
        self.writer.start()

    def add(self, record: dict[str, object]) -> None:
        """Queue one record (deque appends are atomic)."""
        self.queue.append(record)

    def flush(self) -> None:
        """Let the writer take what is queued (it writes in the background).

        If the writer falls behind, the relay writes itself: a client that
        floods calls slows down a little instead of the queue growing.
        """
        if len(self.queue) > MAX_QUEUED:
            self._write()
        elif self.queue:
            self.wake.set()

    def close(self) -> None:
        """Write everything still queued, then stop the writer."""
        self.closed = True
        self.wake.set()
        self.writer.join(5.0)
        self._write()

    def _loop(self) -> None:
        import time

        while not self.closed:
            self.wake.wait()
            time.sleep(BATCH_SECONDS)
            self.wake.clear()
            self._write()

    def _write(self) -> None:
        with self.lock:
            batch: list[dict[str, object]] = []
            while self.queue:
                record = {**self.base, **self.queue.popleft()}
                if self.redact is not None:
                    for name in self.REDACTED:
                        if name in record:
                            record[name] = self.redact(record[name])
                batch.append(record)
            if not batch:
                return
            try:
                self.log.append_many(batch)
            except Exception as exc:  # the relay must go on
                self.failures += 1
                if self.failures == 1:
                    self.warn(f"cannot write the audit log: {reason(exc)}")


class Warn:
    """One-line notices on stderr, where clients collect a server's log."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __call__(self, text: str) -> None:
        try:
            sys.stderr.write(printable(f"mcpcred guard: {self.label}: {text}") + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def reason(exc: BaseException) -> str:
    """A one-line, value-free description of a failure."""
    from mcpcred.errors import McpcredError

    if isinstance(exc, McpcredError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def run(options: ShimOptions, settings: ServerGuard, environ: Mapping[str, str]) -> int:
    """Guard one server for the life of the client's connection; its exit code."""
    sys.setswitchinterval(SWITCH_INTERVAL)
    from mcpcred import references
    from mcpcred.guard import auditlog
    from mcpcred.guard.redact import Lazy
    from mcpcred.guard.relay import Relay
    from mcpcred.guard.session import Session
    from mcpcred.shim.resolve import prepare_guarded

    key_item = (auditlog.KEY_NAME, auditlog.new_key_text)

    def refreshes(found: Resolved) -> list[dict[str, object]]:
        return [
            {"event": "refresh", "credentials": [f"{references.OAUTH}/{name}"]}
            for name in found.refreshed
        ]

    argv, env, found, key = prepare_guarded(options, environ, key_item)
    warn = Warn(options.label())
    base: dict[str, object] = {"server": settings.server, "pid": os.getpid()}
    if options.client:
        base["client"] = options.client
    redact = Lazy()
    threading.Thread(target=redact.warm, name="warm-up", daemon=True).start()
    recorder = Recorder(
        auditlog.AuditLog(auditlog.default_folder(), auditlog.key_from_text(key)),
        base,
        warn,
        redact,
    )
    credentials = [f"{kind}/{name}" for kind, name in found.refs]
    for record in refreshes(found):
        recorder.add(record)
    recorder.add(
        {
            "event": "inject",
            "credentials": credentials,
            "detail": f"started {os.path.basename(argv[0])}",
        }
    )
    recorder.flush()
    pins = None
    if settings.pin:
        from mcpcred.guard.pins import PinStore, default_folder

        pins = PinStore(default_folder())
    session = Session(settings, client=options.client, record=recorder.add, warn=warn, pins=pins)
    relay = Relay(argv, env, session, flush=recorder.flush, warn=warn)
    if settings.restart_on_expiry and found.deadline is not None:

        def renew() -> tuple[list[str], dict[str, str], float | None]:
            new_argv, new_env, renewed, _ = prepare_guarded(options, environ, key_item)
            for record in refreshes(renewed):
                recorder.add(record)
            return new_argv, new_env, renewed.deadline

        relay.deadline = found.deadline
        relay.renew = renew
    try:
        code = relay.run()
        recorder.add({"event": "exit", "detail": f"server exited with code {code}"})
    finally:
        recorder.close()
    return code
