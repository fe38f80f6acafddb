"""The shim in guard mode: resolve, start (or connect to) the server, relay, record.

Called by ``shim.main`` instead of exec (or the unguarded bridge) when the
server has a ``[servers.NAME]`` table. A local server runs as a child
(``relay.ChildProcess``); a remote one (``--url``) is reached over HTTP
(``bridge.remote.RemoteServer``). Either way the same ``Relay`` and
``Session`` decide, mask and record: only what stands behind the relay's
server side differs. Everything here is paid only by guarded servers.
"""

from __future__ import annotations

import os
import sys
import threading

from mcpcred.terminal import printable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mcpcred.bridge.remote import Factory
    from mcpcred.bridge.remote import Target as RemoteTarget
    from mcpcred.guard.auditlog import AuditLog
    from mcpcred.guard.journal import Journal
    from mcpcred.guard.relay import ServerSide
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
BATCH_RECORDS = 64  # records per append of the writer (its memory stays flat)
# A session's journal is started anew past this size once the log holds all of it (a line
# per request: about 8,000 requests).
JOURNAL_BYTES = 1024 * 1024
MAX_QUEUED = 500  # records waiting for the writer before the relay writes them itself
# How long a request waits for the log's lock (held by another shim, or a stuck one) before
# it is refused: bounded, since the client is waiting for an answer.
LOCK_WAIT = 2.0
# How often the keychain's checkpoint of the log follows it while records are written
# (besides the session's first batch and its end): a keychain round trip costs
# milliseconds, on the writer's thread.
CHECKPOINT_SECONDS = 10.0
CHECKPOINT_WAIT = 1.0  # at the end of a session; MCP clients signal a shim after about 2 s


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
        mask: Callable[[dict[str, object]], dict[str, object]] | None = None,
        *,
        journal: bool = False,
        generation: Callable[[], int] | None = None,
        numbers: Callable[[], bool] | None = None,
    ) -> None:
        import collections

        self.redact = redact  # applied here, off the relay's threads
        self.mask = mask  # the injected values, out of every field, whatever ``redact`` says
        self.log = log
        self.base = base
        self.warn = warn
        self.queue: collections.deque[dict[str, object]] = collections.deque()
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.failures = 0
        # Saves the log's checkpoint in the keychain: after the first batch, then at most
        # every CHECKPOINT_SECONDS while records are written, and at close.
        self.checkpoint: Callable[[], None] | None = None
        self.checkpoint_due = 0.0
        # The session's intent journal (``journal.py``): a request's record before it is
        # forwarded, one small line without the log's lock; the full record follows in
        # the writer's batch. Opened with the first request; None: records go to the
        # log directly (journals not wanted or not possible here).
        self.journal: Journal | None = None
        self.journal_wanted = journal
        self.recover_due = journal  # journals of killed shims, folded in by the writer
        self.journal_lock = threading.Lock()
        # Masked and redacted tool names for journal lines, while ``generation`` (how many
        # values the masker knows) stays the same.
        self.generation = generation
        self._known: dict[tuple[str, str], object] = {}
        self._known_generation: int | None = None
        # Whether ``mask`` may change a number (``Masker.masks_numbers``), asked again when
        # ``generation`` changes; ``_ints_kept``: it cannot, so integer ids skip it.
        self.numbers = numbers
        self._ints_kept = False
        # Why the writer's last append failed (None: it did not). While the log cannot
        # take records, requests go to it directly, and are refused if that fails too.
        self.broken: str | None = None
        self.fold_failed = False  # a batch was lost: the journal stays for recovery
        self.folded = 0  # the last journal line whose full record the log holds
        self.journal_limit = JOURNAL_BYTES
        self.writer = threading.Thread(target=self._loop, name="audit-log", daemon=True)
        self.writer.start()

    def add(self, record: dict[str, object]) -> None:
        """Queue one record (deque appends are atomic)."""
        self.queue.append(record)

    def flush(self) -> None:
        """Let the writer take what is queued (it writes in the background).

        If the writer falls behind, the relay writes itself: a client that
        floods calls slows down a little instead of the queue growing. A head
        file update that a request's record left (``write_now``) is the
        writer's too: its next batch does it (or the next request's record).
        """
        if len(self.queue) > MAX_QUEUED:
            self._write()
        elif (self.queue or self.log.head_due) and not self.wake.is_set():
            # Set already: the writer is gathering a batch, and clears the event before it
            # takes the queue, so what was added before this check is in that batch. Not
            # setting it again spares the relay a lock and a notify per message.
            self.wake.set()

    def write_now(self, record: dict[str, object]) -> str | None:
        """Make ``record`` durable before returning; None, or why it could not be.

        For a request about to be forwarded: its record must survive the shim
        being killed right after. Once ``write`` has returned, the line is in
        the kernel's page cache and survives the process (no ``fsync``: the
        threat is a kill, not a power cut, and an fsync would cost
        milliseconds per call). With a journal, that line is the request's
        line in it (method, tool, request id; ``journal.py``), and the full
        record is queued for the writer's next batch, naming that line; the
        request's path takes no log lock and touches no chain. ``record`` is
        handed over: it is queued itself, with the number of its line added.
        """
        journal = self.journal
        if journal is None and self.journal_wanted and self.broken is None:
            journal = self._open_journal()
        if journal is None or self.broken is not None:
            return self._write_direct(record)
        try:
            if not self.log.holding:  # held by this shim's writer: not stuck, no probe
                journal.probe(self.log.lock_timeout)
            target, request_id = self._intent(record)
            with self.journal_lock:  # the writer may be starting the file anew
                n = journal.write(str(record.get("method")), target, request_id)
        except Exception as exc:
            self._failed(exc)
            return reason(exc)
        record["journal"] = n  # the caller's dict, built for this call and handed over
        self.queue.append(record)
        return None

    def _write_direct(self, record: dict[str, object]) -> str | None:
        """The request's full record appended to the log itself (no journal)."""
        # Only this record: what is queued is the writer's (a call's outcome, written a few
        # ms later in its batch); taking it here would double the work on the relay's thread.
        try:
            # Its head update is left to the writer's next batch (or the next request's
            # record): the record alone is what must be in the file before. Plain:
            # the session builds it from what wire.parse read and from its own strings and
            # numbers, and masking and redaction only rebuild it with string keys.
            self.log.append_many(
                [self._prepared(record)], stored=False, defer_head=True, plain=True
            )
        except Exception as exc:
            self._failed(exc)
            return reason(exc)
        self.broken = None
        return None

    def _intent(self, record: dict[str, object]) -> tuple[tuple[str, object] | None, object]:
        """What a request's journal line holds of it, masked and redacted as its record is:
        ``("tool" or "uri", name)`` (or None) and the request id.

        A tool name or URI as masked and redacted is remembered (a session
        calls a few tools many times) while the masker knows the same values.
        """
        generation = self.generation() if self.generation is not None else None
        if generation != self._known_generation:
            self._known.clear()
            self._known_generation = generation
            self._ints_kept = self.numbers is not None and not self.numbers()
        target: tuple[str, object] | None = None
        for name in ("tool", "uri"):
            value = record.get(name)
            if value is None:
                continue
            done = self._known.get((name, value)) if type(value) is str else None
            if done is None:
                done = self._prepared_fields({name: value})[name]
                if type(value) is str:
                    if len(self._known) >= 1024:
                        self._known.clear()
                    self._known[(name, value)] = done
            target = (name, done)
            break  # a request names a tool or a URI (were both there, the tool)
        # Masked, as in the log; never redacted (REDACTED). An integer (the usual id) is
        # left as it is without a call when no injected value could be read in one.
        request_id = record.get("request_id")
        if (
            request_id is not None
            and self.mask is not None
            and not (type(request_id) is int and self._ints_kept)
        ):
            request_id = self.mask({"request_id": request_id})["request_id"]
        return target, request_id

    def _prepared_fields(self, fields: dict[str, object]) -> dict[str, object]:
        if self.mask is not None:
            fields = self.mask(fields)
        if self.redact is not None:
            for name in self.REDACTED:
                if name in fields:
                    fields[name] = self.redact(fields[name])
        return fields

    def _open_journal(self) -> Journal | None:
        """Create this session's journal and announce it in the log (the first request).

        The file comes first, then the announcement: a kill in between leaves
        an orphan with only a header (recovered as an empty session), never an
        announced journal that was not there. If either fails, requests go to
        the log directly, as without journals.
        """
        from mcpcred.guard.auditlog import _make_folder
        from mcpcred.guard.journal import Journal

        with self.journal_lock:
            if self.journal is not None or not self.journal_wanted:
                return self.journal
            self.journal_wanted = False  # one attempt per session
            header: dict[str, object] = {
                name: self.base[name] for name in ("server", "client", "pid") if name in self.base
            }
            try:
                # A first guarded session: the client's initialize usually comes before the
                # writer's first batch has made the folder, and without it the whole session
                # wrote its requests to the log directly (about 60 us a call more).
                _make_folder(self.log.folder)
                journal = Journal.create(
                    self.log.folder, self.log._keyed, str(self.base["session"]), header
                )
            except Exception:
                return None
            name = os.path.basename(journal.path)
            try:
                self.log.append_many(
                    [
                        self._prepared(
                            {
                                "event": "journal",
                                "outcome": "open",
                                "detail": f"requests are recorded in {name} before they are "
                                "forwarded, and folded in here",
                            }
                        )
                    ]
                )
            except Exception:
                journal.close(remove=True)
                return None
            self.journal = journal
            return journal

    def _failed(self, exc: Exception) -> None:
        self.failures += 1
        if self.failures == 1:
            self.warn(f"cannot write the audit log: {reason(exc)}")

    def close(self) -> None:
        """Write everything still queued, then stop the writer."""
        self.closed = True
        self.wake.set()
        self.writer.join(5.0)
        self._write()
        self._close_journal()
        if self.checkpoint is not None:  # bounded: a slow keychain must not hold the exit up
            saver = threading.Thread(target=self.checkpoint, name="audit-checkpoint", daemon=True)
            saver.start()
            saver.join(CHECKPOINT_WAIT)
        self.log.close()

    def _loop(self) -> None:
        import time

        while not self.closed:
            self.wake.wait()
            time.sleep(BATCH_SECONDS)
            self.wake.clear()
            self._write()
            if self.recover_due:
                self.recover_due = False
                self._recover()
            if self.checkpoint is not None and time.monotonic() >= self.checkpoint_due:
                self.checkpoint_due = time.monotonic() + CHECKPOINT_SECONDS
                self.checkpoint()

    def _write(self) -> None:
        with self.lock:
            if not self.queue:  # only a request's head update may be left
                try:
                    self.log.settle()
                except Exception as exc:  # the next append writes it
                    self._failed(exc)
                return
            while self.queue:
                # At most BATCH_RECORDS per append: with journals the relay queues every
                # request's full record, and a client that pipelines calls can queue
                # hundreds at once; one append of them all held that many records, lines
                # and MACs at once (the shim's peak RSS grew by MiBs over 50,000 calls).
                batch: list[dict[str, object]] = []
                while self.queue and len(batch) < BATCH_RECORDS:
                    batch.append(self._prepared(self.queue.popleft()))
                try:
                    self.log.append_many(batch, stored=False)
                except Exception as exc:  # the relay must go on
                    self._failed(exc)
                    self.broken = reason(exc)
                    self.fold_failed = True
                else:
                    self.broken = None
                    for record in batch:
                        number = record.get("journal")
                        if type(number) is int:
                            self.folded = number
            journal = self.journal
            if journal is not None and journal.size > self.journal_limit and not self.fold_failed:
                self._restart_journal(journal)

    def _restart_journal(self, journal: Journal) -> None:
        """Start a long session's journal anew once the log holds every line in it."""
        with self.journal_lock:
            if journal.n != self.folded:  # the relay wrote a line since: next batch
                return
            try:
                journal.restart()
            except Exception as exc:  # it stays as it is, and goes on growing
                self._failed(exc)

    def _close_journal(self) -> None:
        """At the session's end: close the journal in the log and remove it.

        Only when every batch was written: otherwise the file stays, for the
        next writer (or ``verify``) to fold in what the log lacks.
        """
        journal = self.journal
        if journal is None:
            return
        remove = False
        if not self.fold_failed:
            try:
                self.log.append_many(
                    [
                        self._prepared(
                            {
                                "event": "journal",
                                "outcome": "closed",
                                "detail": f"{journal.n} request(s) recorded, all folded in",
                            }
                        )
                    ]
                )
                remove = True
            except Exception as exc:
                self._failed(exc)
        journal.close(remove=remove)

    def _recover(self) -> None:
        """Fold in the journals of shims that were killed (``journal.recover``), once."""
        from mcpcred.guard.journal import recover

        try:
            recover(self.log, own=str(self.base.get("session")))
        except Exception as exc:
            self._failed(exc)

    def _prepared(self, record: dict[str, object]) -> dict[str, object]:
        record = {**self.base, **record}
        if self.mask is not None:  # exact injected values first, whatever the detector thinks
            record = self.mask(record)
        if self.redact is not None:
            for name in self.REDACTED:
                if name in record:
                    record[name] = self.redact(record[name])
        return record


def checkpointer(
    log: AuditLog, options: ShimOptions, environ: Mapping[str, str], warn: Callable[[str], None]
) -> Callable[[], None]:
    """A function that moves the keychain's checkpoint of the log up to where the log is now.

    The checkpoint (``auditlog.Checkpoint``) is what ``mcpcred log verify``
    compares the files with, so that replacing them with an older copy,
    cutting their start or deleting them shows. It only moves forward, and
    only from a log that still holds the record it names: a log that was
    rolled back stays reported instead of being blessed by the next record.
    Failures are reported once and never stop the relay.
    """
    from mcpcred.guard import auditlog

    name = auditlog.checkpoint_name(log.folder)
    warned: set[str] = set()

    def once(kind: str, text: str) -> None:
        if kind not in warned:
            warned.add(kind)
            warn(text)

    def save() -> None:
        from mcpcred.oauth.lock import held
        from mcpcred.shim.resolve import Keychain

        try:
            state = auditlog.current_checkpoint(log.folder, log.key, log.keep)
            if state is None:
                return
            keychain = Keychain(options, environ)
            lock = os.path.join(log.folder, auditlog.CHECKPOINT_LOCK)
            try:
                vault = keychain.vault()
                with held(lock, timeout=LOCK_WAIT, what=name, error=_stuck):
                    stored = auditlog.Checkpoint.from_text(vault.read([name]).get(name))
                    if stored is not None:
                        if (stored.seq, stored.mac) == (state.seq, state.mac):
                            return
                        if not auditlog.holds(log.folder, stored):
                            once(
                                "rolled back",
                                "the audit log does not hold the record its keychain checkpoint "
                                f"names (seq {stored.seq}): it was rolled back, replaced or "
                                "deleted; check it with `mcpcred log verify`",
                            )
                            return
                        if stored.seq >= state.seq:  # another shim's, newer than what we read
                            return
                    vault.write(name, state.to_text())
            finally:
                keychain.close()
        except Exception as exc:
            once(
                "failed", f"cannot update the audit log's checkpoint in the keychain: {reason(exc)}"
            )

    return save


# The export check waits this long first: its file reads and TOML parsing (~10 ms of
# CPU) would otherwise share the GIL with the server's start and the client's
# initialize. Records written meanwhile are not lost: the worker reads the log.
EXPORT_CHECK_DELAY = 0.5


def _start_export(environ: Mapping[str, str]) -> None:
    import time

    time.sleep(EXPORT_CHECK_DELAY)
    from mcpcred.export.worker import ensure

    ensure(environ, os.getcwd())


def _stuck(what: str) -> Exception:
    from mcpcred.errors import ShimError

    return ShimError(
        f"another mcpcred process has held the lock on {what} for over {LOCK_WAIT:g} s"
    )


class Warn:
    """One-line notices on stderr, where clients collect a server's log."""

    def __init__(self, label: str) -> None:
        self.label = label
        # Replaces injected values: notices quote what a server sent (tool names), and
        # they go where the server's own stderr goes, masked (the client's log).
        self.mask: Callable[[str], str] | None = None

    def __call__(self, text: str) -> None:
        if self.mask is not None:
            text = self.mask(text)
        try:
            sys.stderr.write(printable(f"mcpcred guard: {self.label}: {text}") + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def reason(exc: BaseException) -> str:
    """A one-line, value-free description of a failure (``errors.describe``)."""
    from mcpcred.errors import describe

    return describe(exc)


def run(
    options: ShimOptions,
    settings: ServerGuard,
    environ: Mapping[str, str],
    *,
    upstream: Factory | None = None,
) -> int:
    """Guard one server for the life of the client's connection; its exit code.

    ``upstream``: what makes a remote server's HTTP side (default: ``Upstream``).
    """
    sys.setswitchinterval(SWITCH_INTERVAL)
    from mcpcred import references
    from mcpcred.guard import auditlog
    from mcpcred.guard.journal import supported as journal_supported
    from mcpcred.guard.mask import MIN_LENGTH, Masker
    from mcpcred.guard.redact import Lazy
    from mcpcred.guard.relay import ChildProcess, Relay
    from mcpcred.guard.session import Session
    from mcpcred.shim.resolve import prepare_guarded

    key_item = (auditlog.KEY_NAME, auditlog.new_key_text)

    def refreshes(found: Resolved) -> list[dict[str, object]]:
        return [
            {"event": "refresh", "credentials": [f"{references.OAUTH}/{name}"]}
            for name in found.refreshed
        ]

    remote: RemoteTarget | None = None
    if options.url is None:
        argv, env, found, key = prepare_guarded(options, environ, key_item)
        started = f"started {os.path.basename(argv[0])}"
    else:
        from mcpcred.bridge import remote as bridge

        remote, remote_key = bridge.target(options, environ, key_item)
        found, key = remote.found, remote_key or ""
        started = f"connected to {remote.shown}"
    warn = Warn(options.label())
    # Every value handed to the server is masked in the log; in what reaches the client
    # unless ``mask_injected = false``.
    masker = Masker(warn if settings.mask_injected else None)

    def remember(resolved: Resolved) -> None:
        for kind, name in resolved.refs:
            masker.add(f"{kind}/{name}", resolved.lookup(kind, name))

    remember(found)
    warn.mask = lambda text: masker.text(text, audit=True)  # whatever mask_injected says
    if settings.mask_injected and masker.short:
        warn(
            f"{', '.join(masker.short)}: shorter than {MIN_LENGTH} characters, so replaced "
            "only where a whole string is that value"
        )

    import secrets

    # One id per shim run, kept across server restarts: pairs a request with its outcome.
    base: dict[str, object] = {
        "server": settings.server,
        "pid": os.getpid(),
        "session": secrets.token_hex(8),
    }
    if options.client:
        base["client"] = options.client
    if remote is not None:  # origin and path only: a query or user info may hold a secret
        base["url"] = remote.shown
    redact = Lazy()
    threading.Thread(target=redact.warm, name="warm-up", daemon=True).start()
    recorder = Recorder(
        auditlog.AuditLog(
            auditlog.default_folder(), auditlog.key_from_text(key), lock_timeout=LOCK_WAIT
        ),
        base,
        warn,
        redact,
        masker.record,
        journal=journal_supported(),
        generation=masker.generation,
        numbers=masker.masks_numbers,
    )
    recorder.checkpoint = checkpointer(recorder.log, options, environ, warn)
    # Audit export ([[log.export]]): a worker process of its own ships the log; this
    # thread only looks for it in the config files and starts it if need be, off the
    # relay's path (mcpcred.export.worker says why).
    threading.Thread(
        target=_start_export, args=(environ,), name="audit-export", daemon=True
    ).start()
    credentials = [f"{kind}/{name}" for kind, name in found.refs]
    for record in refreshes(found):
        recorder.add(record)
    recorder.add(
        {
            "event": "inject",
            "credentials": credentials,
            "detail": started,
        }
    )
    recorder.flush()
    pins = None
    if settings.pin:
        from mcpcred.guard.pins import PinStore, default_folder

        pins = PinStore(default_folder())
    session = Session(
        settings,
        client=options.client,
        record=recorder.add,
        warn=warn,
        pins=pins,
        durable=recorder.write_now,
        conceal=masker.value,  # pin files keep no injected value, masking for the client or not
        deferred=True,  # the relay writes an answer before recording its outcome
    )
    shown = masker if settings.mask_injected else None  # masks the server's output
    server: ServerSide
    if remote is None:
        server = ChildProcess(argv, env, masker=shown)
    else:

        def renewed(name: str, token: str, refreshed: bool) -> None:
            masker.add(f"{references.OAUTH}/{name}", token)  # before the server can echo it
            if refreshed:
                recorder.add({"event": "refresh", "credentials": [f"{references.OAUTH}/{name}"]})
                recorder.flush()

        server = bridge.RemoteServer(
            remote,
            warn=warn,
            reauth=bridge.reauth_for(options, environ, remote, renewed, warn),
            transport=options.transport,
            allow_http=options.allow_http,
            factory=upstream,
        )
    relay = Relay(server, session, flush=recorder.flush, warn=warn, masker=shown)
    # A remote server needs no restart: a 401 renews its token in place (``Reauth``).
    if settings.restart_on_expiry and remote is not None:
        warn("restart_on_expiry does not apply to a remote server: a 401 renews its token")
    if settings.restart_on_expiry and found.deadline is not None and remote is None:

        def renew() -> tuple[ServerSide, float | None]:
            new_argv, new_env, renewed, _ = prepare_guarded(options, environ, key_item)
            remember(renewed)  # before the new server can print its new token
            for record in refreshes(renewed):
                recorder.add(record)
            return ChildProcess(new_argv, new_env, masker=shown), renewed.deadline

        relay.deadline = found.deadline
        relay.renew = renew
    try:
        code = relay.run()
        unrecorded = session.unrecorded()
        if unrecorded is not None:
            recorder.add(unrecorded)
        if masker.replaced:
            recorder.add(
                {
                    "event": "mask",
                    "credentials": sorted(masker.replaced),
                    "detail": f"values replaced {sum(masker.replaced.values())} time(s) in "
                    "what the server sent to the client",
                }
            )
        if remote is None:
            recorder.add({"event": "exit", "detail": f"server exited with code {code}"})
        else:
            recorder.add({"event": "exit", "detail": f"connection closed, exit code {code}"})
    finally:
        recorder.close()
    return code
