"""Guard mode's message path: the client's stdio on one side, the server on the other.

One path for every server, local or remote (architecture §3.10): the ``Relay``
reads the client's newline-delimited JSON-RPC from stdin, hands each complete
line to the ``Session`` (or any object with the same methods: ``PassThrough``
for an unguarded remote server), which says what to forward, and writes what
comes back to stdout, one message at a time. What lies behind the server side
is a ``ServerSide``:

- ``ChildProcess`` (here): a local server started as a child, its stdio piped;
- ``mcpcred.bridge.remote.RemoteServer``: a remote server reached over HTTP
  (``mcpcred.bridge.upstream.Upstream``).

The relay only asks a server side to start (with the function that takes each
line the server sends), take a message, close its input when the client is
gone, pass a signal on, and report when it has ended. So framing limits,
policy, pins, masking, durable request records and the answers to requests
left pending hold for both alike, with one implementation each.

For a child, two threads copy the MCP stdio transport, one per direction, with
blocking reads and writes: a side that stops reading stops the other side's
reader too (its pipe fills), so memory stays bounded by the largest single
message, never by how far one side is ahead. A recorded request
(``tools/call``...) has its record written to the audit log *before* its bytes
go to the server (a kill right after must not lose it); every other record is
written by the recorder's thread after the bytes are on their way.

Process hygiene for a child, because a relay that gets this wrong leaves
orphaned servers holding the client's pipes:

- the server runs in its own process group, so one signal reaches it and the
  helpers it starts (``npx`` → ``node``); on Linux it also gets SIGKILL if the
  shim itself is killed (``PR_SET_PDEATHSIG``);
- SIGTERM, SIGINT and SIGHUP sent to the shim are forwarded to that group,
  and followed by SIGKILL if it is still there ``TERM_GRACE`` seconds later;
- when the client closes stdin, the server's stdin is closed; if it has not
  exited ``EOF_GRACE`` seconds later it gets SIGTERM, then SIGKILL;
- stderr is inherited: the server writes straight to the client's log, unless
  injected values are masked: then it is piped and copied, masked, line by line;
- the shim exits with the server's exit code (128 + N after signal N), and
  requests the server never answered get an error answer first, so the
  client does not wait forever.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Mapping
    from typing import Protocol

    from mcpcred.guard.mask import Masker

    class ServerSide(Protocol):
        """What the relay needs from the server it relays to, wherever that server runs.

        The relay calls ``start`` once, ``send`` from the client's thread,
        ``close_input`` when the client has gone, ``signal`` for signals the
        shim received, and ``wait``/``exited_within`` to learn that the server
        has ended; after ``wait`` returned, ``finish`` once.
        """

        def start(
            self, deliver: Callable[[bytes], None], overflow: Callable[[bytes], None]
        ) -> None:
            """Start the server; each complete line it sends goes to ``deliver``, one at a
            time (``overflow`` gets the head of a line longer than ``MAX_LINE``)."""

        def send(self, data: bytes) -> None:
            """Pass one checked client message (a line) on; returns without waiting for answers."""

        def close_input(self) -> None:
            """The client closed stdin: no more messages; end once what is in flight is done."""

        def exited_within(self, seconds: float) -> bool:
            """True once the server has ended, waiting up to ``seconds``."""

        def signal(self, signum: int) -> None:
            """Pass a signal the shim received on (``SIGKILL``: end now, whatever is left)."""

        def wait(self, timeout: float | None) -> int | None:
            """The server's return code (``-N``: ended by signal N); None after ``timeout``."""

        def stop(self) -> None:
            """End this server now (bounded), for a restart: input closed, then signals."""

        def finish(self) -> None:
            """After ``wait`` returned: let its output drain, leave nothing of it behind."""

        def gone(self, code: int) -> str:
            """How answers to requests it left pending say it ended (``exited ...``)."""

    class Checks(Protocol):
        """What the relay asks of the session (``guard.session.Session`` or ``PassThrough``)."""

        @property
        def pending(self) -> Mapping[int, object]: ...
        @property
        def initialize(self) -> bytes | None: ...
        @property
        def initialized(self) -> bytes | None: ...

        def from_client(self, line: bytes) -> tuple[bytes | None, bytes | None]: ...
        def from_server(self, line: bytes | bytearray) -> bytes | bytearray | None: ...
        def too_long_from_client(self, head: bytes, limit: int) -> bytes: ...
        def too_long_from_server(self, head: bytes, limit: int) -> bytes | None: ...
        def abandon(self, why: str) -> bytes: ...
        def settle(self) -> None: ...
        def replay_started(self) -> threading.Event: ...
        def record(self, record: dict[str, object]) -> None: ...

    # A restart: a new server side (holding a fresh token) and when it is due in turn.
    Renew = Callable[[], tuple[ServerSide, float | None]]

EOF_GRACE = 1.0
DRAIN_SECONDS = 5.0  # in-flight requests may finish before a restart
REPLAY_WAIT = 30.0
TERM_GRACE = 1.0
READ_MIN = 64 * 1024
READ_MAX = 4 * 1024 * 1024
# The longest line (one message) the relay holds: far above any real MCP message (a
# 50 MB tool result passes), far below what would exhaust a laptop's memory.
MAX_LINE = 128 * 1024 * 1024
# Client messages held while the server restarts (beyond it the client's writes wait).
MAX_HELD = 64 * 1024 * 1024
PIPE_SIZE = 1024 * 1024
_FORWARDED = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2")
_ENDING = ("SIGTERM", "SIGINT", "SIGHUP")
_KILL = getattr(signal, "SIGKILL", signal.SIGTERM)  # Windows has no SIGKILL
_READV = hasattr(os, "readv")  # not on Windows


def write_all(fd: int, data: bytes | bytearray) -> None:
    """Write every byte (pipes take partial writes for large buffers).

    A message usually goes in one ``write``: the view for the rest is made
    only when the pipe took part of it.
    """
    written = os.write(fd, data)
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


def lines(
    fd: int,
    handle: Callable[[bytes], None],
    overflow: Callable[[bytes], None] | None = None,
    limit: int = MAX_LINE,
) -> None:
    """Read ``fd`` to EOF, calling ``handle`` with each line (and a final partial one).

    A line that grows past ``limit`` bytes is not held any further: ``overflow``
    gets its first ``READ_MIN`` bytes (to tell which request it answers) and
    the rest, up to its newline, is dropped. Without a bound, a peer that never
    writes a newline would make the relay hold everything it sends.
    """
    partial = bytearray()
    skipping = False  # dropping the rest of a line that was too long
    size = READ_MIN
    reader = _Reader(fd)
    while True:
        try:
            count = reader.read(size)
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
        except OSError:
            break
        if not count:
            break
        size = min(size * 2, READ_MAX) if count == size else READ_MIN
        buffer, view = reader.buffer, reader.view
        start = 0
        newline = buffer.find(b"\n", 0, count)
        if newline < 0:
            if not skipping:
                partial += view[:count]  # straight from the read buffer: one copy of a large line
                if len(partial) > limit:
                    if overflow is not None:
                        overflow(bytes(partial[:READ_MIN]))
                    partial, skipping = bytearray(), True
            continue
        if skipping:  # the end of the line that was too long
            skipping = False
            start = newline + 1
            newline = buffer.find(b"\n", start, count)
        elif partial:
            partial += view[: newline + 1]
            line, partial = partial, bytearray()
            handle(line)  # type: ignore[arg-type]  # bytearray is bytes to every consumer
            start = newline + 1
            newline = buffer.find(b"\n", start, count)
        while newline >= 0:
            handle(bytes(view[start : newline + 1]))
            start = newline + 1
            newline = buffer.find(b"\n", start, count)
        if start < count:
            partial += view[start:count]
    if partial:
        handle(partial)  # type: ignore[arg-type]


class _Reader:
    """``read(size)`` into one buffer, reused: ``buffer[:count]`` is what arrived.

    ``os.read(fd, 64 KiB)`` allocates 64 KiB for every message and shrinks it
    to the message's size: over tens of thousands of messages the allocator's
    heap fragments and the relay's memory creeps up. Reading into one buffer
    and copying out only what arrived keeps it flat; a line read in several
    pieces (a 50 MB result) is copied once, from the buffer into the line,
    not first into a ``bytes`` per piece.
    """

    __slots__ = ("buffer", "fd", "view")

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = bytearray(READ_MIN)
        self.view = memoryview(self.buffer)

    def read(self, size: int) -> int:
        """Read up to ``size`` bytes into ``buffer``; how many (0 at the end)."""
        if len(self.buffer) < size:
            self.view.release()
            self.buffer = bytearray(size)
            self.view = memoryview(self.buffer)
        if not _READV:  # pragma: no cover - Windows
            data = os.read(self.fd, size)
            self.view[: len(data)] = data
            return len(data)
        return os.readv(self.fd, [self.view[:size]])


def exit_code(returncode: int) -> int:
    """The child's status as a shell reports it: 128 + N when killed by signal N."""
    return 128 - returncode if returncode < 0 else returncode


class Relay:
    """One relayed server: the client's copy loop, the server side, shutdown, restarts."""

    def __init__(
        self,
        server: ServerSide,
        session: Checks,
        *,
        flush: Callable[[], None] = lambda: None,
        warn: Callable[[str], None] = lambda text: None,
        stdin: int = 0,
        stdout: int = 1,
        masker: Masker | None = None,
    ) -> None:
        self.server = server
        self.session = session
        self.flush = flush  # writes the records the session queued
        self.warn = warn
        self.stdin = stdin
        self.stdout = stdout
        self.to_client = threading.Lock()
        self.client_gone = threading.Event()
        self.ending = threading.Event()  # a signal or EOF started the shutdown
        self.masker = masker  # the injected values, replaced in the server's output
        # Restarts for a fresh OAuth token: when, and how to get the new server side.
        self.deadline: float | None = None
        self.renew: Renew | None = None
        self.gate = threading.Lock()  # holds client messages back while the server restarts
        self.holding = False
        self.held: list[bytes] = []
        self.held_bytes = 0

    # -- the server -----------------------------------------------------------------
    def start(self) -> None:
        """Start the server side; what it sends comes back through ``_from_server``."""
        self.server.start(self._from_server, self._server_overflow)

    def _server_overflow(self, head: bytes) -> None:
        """A server line longer than ``MAX_LINE``: dropped; the request it answers fails."""
        try:
            out = self.session.too_long_from_server(head, MAX_LINE)
        except Exception as exc:
            self._failed("the server", exc)
            return
        if out:
            self.send_client(out)
        self.flush()

    def _from_server(self, line: bytes) -> None:
        try:
            out = self.session.from_server(line)
        except Exception as exc:  # a dead reader would hang the client: drop the line instead
            self._failed("the server", exc)
            return
        if out is not None and self.masker is not None:
            out = self.masker.line(out)
        if out is not None:
            self.send_client(out)
        self.session.settle()  # the outcome's record, now that the answer is on its way
        self.flush()

    # -- the client -----------------------------------------------------------------
    def client_loop(self) -> None:
        """Copy the client's messages to the server until the client closes stdin."""
        lines(self.stdin, self._from_client, self._client_overflow)
        self.client_gone.set()
        self.server.close_input()
        self._escalate(EOF_GRACE)

    def _from_client(self, line: bytes) -> None:
        if self.holding:
            with self.gate:
                if self.held_bytes + len(line) <= MAX_HELD and self.holding:
                    self.held.append(bytes(line))
                    self.held_bytes += len(line)
                    return
            # Past the bound: stop reading until the restart has passed the held lines on
            # (this one after them), so a client writing during a restart waits instead of
            # growing the relay's memory without end.
            while self.holding:
                time.sleep(0.01)
        self._pass_client(line)

    def _client_overflow(self, head: bytes) -> None:
        """A client line longer than ``MAX_LINE``: never forwarded, answered with an error."""
        try:
            answer = self.session.too_long_from_client(head, MAX_LINE)
        except Exception as exc:
            self._failed("the client", exc)
            return
        self.send_client(answer)
        self.flush()

    def _pass_client(self, line: bytes) -> None:
        try:
            to_server, to_client = self.session.from_client(line)
        except Exception as exc:  # never forward what was not checked, never stop reading
            self._failed("the client", exc)
            return
        if to_server is not None:
            self.send_server(to_server)
        if to_client is not None:
            self.send_client(to_client)
        self.flush()

    def _failed(self, side: str, exc: Exception) -> None:
        """A message the session could not handle: not passed on, and said so (no content)."""
        self.warn(f"a message from {side} could not be handled ({type(exc).__name__}); dropped")
        self.flush()

    def send_client(self, data: bytes | bytearray) -> None:
        """Write to the client, one message at a time; a gone client ends the session."""
        if self.client_gone.is_set() and self.ending.is_set():
            return
        with self.to_client:
            try:
                write_all(self.stdout, data)
            except OSError:  # the client is gone: nobody will read the server's answers
                self.client_gone.set()
                self.terminate()

    def send_server(self, data: bytes) -> None:
        """Pass a checked message on; a server that is gone answers it when it is reaped."""
        self.server.send(data)

    # -- shutdown -------------------------------------------------------------------
    def forward(self, signum: int, _frame: object = None) -> None:
        """Signal handler: pass the signal on; ending signals start the shutdown clock."""
        ending = {getattr(signal, n) for n in _ENDING if hasattr(signal, n)}
        if signum in ending:
            self.terminate(signum)
        else:
            self.server.signal(signum)

    def terminate(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to the server, and SIGKILL if it is still there later."""
        self.server.signal(signum)
        if not self.ending.is_set():
            self.ending.set()
            threading.Thread(target=self._kill_later, daemon=True).start()

    def _escalate(self, grace: float) -> None:
        """After client EOF: wait ``grace`` s for the server to end, then TERM, then KILL."""
        if self.server.exited_within(grace):
            return
        self.ending.set()
        self.server.signal(signal.SIGTERM)
        self._kill_later()

    def _kill_later(self) -> None:
        if not self.server.exited_within(TERM_GRACE):
            self.server.signal(_KILL)

    def run(self) -> int:
        """Relay until the server ends; its exit code."""
        self.install_signals()
        tune_allocator()
        self.start()
        threading.Thread(target=self.client_loop, name="client->server", daemon=True).start()
        while True:
            timeout = None
            if self.deadline is not None and self.renew is not None:
                timeout = max(0.0, self.deadline - time.time())
            try:
                returncode = self.server.wait(timeout)
            except KeyboardInterrupt:  # pragma: no cover - SIGINT is forwarded instead
                continue
            if returncode is not None:
                break
            if self.ending.is_set() or self.client_gone.is_set():
                self.deadline = None
                continue
            self.restart()
        return self.finish(returncode)

    # -- restarts for a fresh token ----------------------------------------------------
    def restart(self) -> None:
        """Replace the server with one holding a fresh token; the client's session goes on.

        New client messages wait (in order) while in-flight requests get a
        short chance to finish; what is still in flight then gets an error
        answer. The new server is sent the client's own ``initialize`` and
        ``notifications/initialized``; its answer to them is not passed on.
        """
        assert self.renew is not None  # noqa: S101
        with self.gate:
            self.holding = True
        try:
            drain_until = time.monotonic() + DRAIN_SECONDS
            while self.session.pending and time.monotonic() < drain_until:
                time.sleep(0.01)
            try:
                server, deadline = self.renew()
            except Exception as exc:  # keep the old server while its token lasts
                from mcpcred.errors import describe as reason

                self.warn(f"cannot renew the access token, not restarting: {reason(exc)}")
                self.deadline = None
                return
            leftover = self.session.abandon(
                "was restarted to renew its access token before answering; retry the request"
            )
            if leftover:
                self.send_client(leftover)
            self.server.stop()
            self.server, self.deadline = server, deadline
            replayed = self.session.replay_started()
            self.start()
            if self.session.initialize is not None:
                self.send_server(self.session.initialize)
                if not replayed.wait(REPLAY_WAIT):
                    self.warn("the restarted server did not answer the replayed initialize")
                if self.session.initialized is not None:
                    self.send_server(self.session.initialized)
            self.session.record({"event": "restart", "detail": "fresh access token"})
        finally:
            with self.gate:
                held, self.held, self.held_bytes = self.held, [], 0
                for line in held:
                    self._pass_client(line)
                self.holding = False
            self.flush()

    def finish(self, returncode: int) -> int:
        """After the server ended: drain its output, answer what it left, clean up."""
        self.server.finish()
        self.session.settle()
        code = exit_code(returncode)
        leftover = self.session.abandon(self.server.gone(code))
        if leftover and not self.client_gone.is_set():
            self.send_client(leftover)
        self.flush()
        return code

    def install_signals(self) -> None:
        """Forward the signals a client uses to stop or poke its server."""
        for name in _FORWARDED:
            number = getattr(signal, name, None)
            if number is not None:
                signal.signal(number, self.forward)


class ChildProcess:
    """A local server as the relay's server side: a child process, its stdio piped.

    The process hygiene of the module docstring lives here: its own process
    group, death with the shim, signals to the whole group, TERM then KILL.
    """

    def __init__(
        self,
        argv: list[str],
        env: dict[str, str],
        *,
        masker: Masker | None = None,
        stderr: int = 2,
    ) -> None:
        self.argv = argv
        self.env = env
        self.masker = masker  # when set, stderr is piped and copied with these values masked
        self.stderr = stderr
        self.child: subprocess.Popen[bytes] | None = None
        self.to_server = threading.Lock()
        self.stdin_fd = -1  # the server's stdin while it is open (``send``); -1 after
        self.reader: threading.Thread | None = None
        self.stderr_reader: threading.Thread | None = None

    def start(self, deliver: Callable[[bytes], None], overflow: Callable[[bytes], None]) -> None:
        """Start the server and the loop copying its output to ``deliver``."""
        import subprocess

        from mcpcred.shim.launch import locate

        program = locate(self.argv[0], self.env)
        options: dict[str, object] = {}
        if sys.platform != "win32":
            options["process_group"] = 0
            if sys.platform.startswith("linux"):
                options["preexec_fn"] = _die_with_parent()
        else:  # pragma: no cover - Windows
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined]
        try:
            child = subprocess.Popen(
                [program, *self.argv[1:]],
                env=self.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self.masker else None,
                bufsize=0,
                **options,  # type: ignore[call-overload]
            )
        except OSError as exc:
            from mcpcred.errors import ShimError

            raise ShimError(f"cannot start {self.argv[0]!r}: {exc.strerror}") from None
        assert child.stdin is not None and child.stdout is not None  # noqa: S101
        _grow_pipe(child.stdin.fileno())
        _grow_pipe(child.stdout.fileno())
        self.child = child
        self.stdin_fd = child.stdin.fileno()
        stdout = child.stdout.fileno()
        reader = threading.Thread(
            target=lines, args=(stdout, deliver, overflow), name="server->client", daemon=True
        )
        self.reader = reader
        reader.start()
        if child.stderr is not None and self.masker is not None:
            from mcpcred.guard.mask import copy_stderr

            self.stderr_reader = threading.Thread(
                target=copy_stderr,
                args=(child.stderr, self.stderr, self.masker),
                name="server-stderr",
                daemon=True,
            )
            self.stderr_reader.start()

    def send(self, data: bytes) -> None:
        """Write to the server's stdin; if it is gone, nothing (pending answers come later).

        The descriptor is the one kept at the start, valid until ``close_input``
        (under the same lock) closes it: no file object is asked for it per
        message, and a plain ``try`` costs nothing where ``contextlib.suppress``
        built a context manager for every message.
        """
        with self.to_server:
            fd = self.stdin_fd
            if fd < 0:
                return
            try:
                write_all(fd, data)
            except OSError:  # the server is gone: its answers come when it is reaped
                return

    def close_input(self) -> None:
        """Close the server's stdin: the MCP stdio transport's way of saying goodbye."""
        child = self.child
        if child is None or child.stdin is None:
            return
        with self.to_server, contextlib.suppress(OSError):
            self.stdin_fd = -1  # before the close: the number may be reused at once
            child.stdin.close()

    def exited_within(self, seconds: float) -> bool:
        """True if the child exits within ``seconds``."""
        child = self.child
        deadline = time.monotonic() + seconds
        while child is not None and child.returncode is None and child.poll() is None:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the server's whole process group."""
        child = self.child
        if child is None:
            return
        try:
            if sys.platform == "win32":  # pragma: no cover - no process groups to signal
                child.send_signal(signum)
            else:
                os.killpg(child.pid, signum)
        except OSError:
            pass

    def wait(self, timeout: float | None) -> int | None:
        """The child's return code, or None if it is still running after ``timeout``."""
        import subprocess

        child = self.child
        assert child is not None  # noqa: S101
        try:
            return child.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> None:
        """End this server (stdin closed, then TERM, then KILL) and its reader."""
        self.close_input()
        if not self.exited_within(EOF_GRACE):
            self.signal(signal.SIGTERM)
            if not self.exited_within(TERM_GRACE):
                self.signal(_KILL)
        reader = self.reader
        if reader is not None:
            reader.join(TERM_GRACE)
        self._reap_group()
        self._join_stderr()

    def finish(self) -> None:
        """After the server exited: let its output drain, then end what is left of its group."""
        reader = self.reader
        if reader is not None:
            reader.join(TERM_GRACE)
            if reader.is_alive():  # a helper it started still holds stdout: end the group
                self.signal(_KILL)
                reader.join(TERM_GRACE)
        self._reap_group()
        self._join_stderr()

    def gone(self, code: int) -> str:
        """The reason given to requests the server never answered."""
        return f"exited with code {code} before answering" if code else "exited before answering"

    def _join_stderr(self) -> None:
        """Let the copy of the server's stderr reach its end (a helper may hold it open)."""
        reader = self.stderr_reader
        if reader is not None:
            reader.join(TERM_GRACE)

    def _reap_group(self) -> None:
        """Members of the server's group that outlived it get TERM, then KILL."""
        child = self.child
        if child is None or sys.platform == "win32":
            return
        for signum, wait in ((signal.SIGTERM, TERM_GRACE), (signal.SIGKILL, 0.0)):
            try:
                os.killpg(child.pid, 0)
            except OSError:
                return
            try:
                os.killpg(child.pid, signum)
            except OSError:
                return
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                try:
                    os.killpg(child.pid, 0)
                except OSError:
                    return
                time.sleep(0.02)


class PassThrough:
    """The relay's checks for an unguarded server: every line passes as it came.

    An unguarded remote server still goes through the relay (framing limits,
    signals, one writer for stdout), with nothing decided, parsed or recorded.
    """

    def __init__(self) -> None:
        self.pending: dict[int, object] = {}  # nothing is tracked
        self.initialize: bytes | None = None  # never restarted, so never replayed
        self.initialized: bytes | None = None

    def from_client(self, line: bytes) -> tuple[bytes | None, bytes | None]:
        """Forward everything but blank lines."""
        return (None if line.isspace() or not line else line), None

    def from_server(self, line: bytes | bytearray) -> bytes | bytearray | None:
        """Deliver everything (the server side hands over whole messages)."""
        return line

    def too_long_from_client(self, head: bytes, limit: int) -> bytes:
        """A JSON-RPC error for a client line the relay will not hold."""
        from mcpcred.guard import wire

        return wire.canonical(
            {
                "jsonrpc": "2.0",
                "id": wire.recover_id(head),
                "error": {"code": -32700, "message": f"mcpcred: a line longer than {limit} bytes"},
            }
        )

    def too_long_from_server(self, head: bytes, limit: int) -> bytes | None:
        """Nothing: a remote server side never hands the relay a line to frame."""
        return None

    def abandon(self, why: str) -> bytes:
        """Nothing is tracked, so nothing is left to answer."""
        return b""

    def settle(self) -> None:
        """Nothing is recorded, so nothing waits to be."""

    def replay_started(self) -> threading.Event:
        """Never restarted: an event that is already set."""
        done = threading.Event()
        done.set()
        return done

    def record(self, record: dict[str, object]) -> None:
        """Nothing is recorded for an unguarded server."""


def _grow_pipe(fd: int) -> None:
    """Large results cross in fewer, bigger reads (Linux; 1 MB is the unprivileged limit)."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    with contextlib.suppress(OSError):
        fcntl.fcntl(fd, 1031, PIPE_SIZE)  # F_SETPIPE_SZ


def tune_allocator() -> None:
    """Keep a long-lived relay's heap from creeping up (glibc only).

    Each thread gets its own malloc arena by default, and blocks of a few
    hundred KiB come from the heap once the dynamic mmap threshold has grown:
    both let a relay that copies millions of messages fragment its heap. One
    arena and a fixed threshold (big blocks always mmap'd, so freed at once)
    keep its memory flat; the cost is nothing measurable here.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt(-8, 1)  # M_ARENA_MAX
    mallopt(-3, 256 * 1024)  # M_MMAP_THRESHOLD


def _die_with_parent() -> Callable[[], None]:
    """A ``preexec_fn`` that kills the server if the shim is SIGKILLed (Linux)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def prepare() -> None:
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the shim died before prctl took effect
            os._exit(1)

    return prepare
