"""The shim in guard mode: resolve, start the server as a child, relay, record.

Called by ``shim.main`` instead of exec when the server has a
``[servers.NAME]`` table. Everything here is paid only by guarded servers.
"""

from __future__ import annotations

import os
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from mcpcred.guard.auditlog import AuditLog
    from mcpcred.guard.settings import ServerGuard
    from mcpcred.shim.options import ShimOptions


class Recorder:
    """Audit records queued by the relay's threads, written after the bytes moved on.

    A log that cannot be written must not take the server down with it: the
    first failure is reported once on stderr and later ones are counted.
    """

    def __init__(self, log: AuditLog, base: dict[str, object], warn: Warn) -> None:
        self.log = log
        self.base = base
        self.warn = warn
        self.queue: list[dict[str, object]] = []
        self.lock = threading.Lock()
        self.failures = 0

    def add(self, record: dict[str, object]) -> None:
        """Queue one record (list.append is atomic under the GIL)."""
        self.queue.append(record)

    def flush(self) -> None:
        """Append everything queued to the log, in order."""
        if not self.queue:
            return
        with self.lock:
            queued, self.queue = self.queue, []
            for record in queued:
                try:
                    self.log.append({**self.base, **record})
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
            sys.stderr.write(f"mcpcred guard: {self.label}: {text}\n")
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
    from mcpcred import references
    from mcpcred.guard import auditlog
    from mcpcred.guard.redact import Lazy
    from mcpcred.guard.relay import Relay
    from mcpcred.guard.session import Session
    from mcpcred.shim.resolve import prepare_guarded

    argv, env, found, key = prepare_guarded(
        options, environ, (auditlog.KEY_NAME, auditlog.new_key_text)
    )
    warn = Warn(options.label())
    base: dict[str, object] = {"server": settings.server, "pid": os.getpid()}
    if options.client:
        base["client"] = options.client
    recorder = Recorder(
        auditlog.AuditLog(auditlog.default_folder(), auditlog.key_from_text(key)), base, warn
    )
    credentials = [f"{kind}/{name}" for kind, name in found.refs]
    for name in found.refreshed:
        recorder.add({"event": "refresh", "credentials": [f"{references.OAUTH}/{name}"]})
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
    redact = Lazy()
    threading.Thread(target=redact.warm, name="warm-up", daemon=True).start()
    session = Session(
        settings, client=options.client, record=recorder.add, warn=warn, pins=pins, redact=redact
    )
    relay = Relay(argv, env, session, flush=recorder.flush, warn=warn)
    if settings.restart_on_expiry and found.deadline is not None:

        def renew() -> tuple[list[str], dict[str, str], float | None]:
            new_argv, new_env, renewed, _ = prepare_guarded(
                options, environ, (auditlog.KEY_NAME, auditlog.new_key_text)
            )
            for name in renewed.refreshed:
                recorder.add({"event": "refresh", "credentials": [f"{references.OAUTH}/{name}"]})
            return new_argv, new_env, renewed.deadline

        relay.deadline = found.deadline
        relay.renew = renew
    code = relay.run()
    recorder.add({"event": "exit", "detail": f"server exited with code {code}"})
    recorder.flush()
    return code
