"""The HTTP side of the stdio<->HTTP bridge: ``Upstream`` speaks to one remote MCP server.

The shim (or the guard's relay) hands every client message to ``send`` and
writes whatever comes back through ``deliver``. Between the two:

* ``send`` only queues: one dispatcher thread reads the queue in order, so the
  handshake, ``notifications/initialized`` and a session re-initialisation
  happen in the order the client sent them; each *request* then runs on its own
  worker thread, so a ten-minute tool call never holds up the next message
  (a cancellation, another call);
* the first message finds the server's era (``detect``), lazily, so a bridge
  that is started and never used makes no network call;
* a request that fails (network down after bounded retries, a 5xx storm, a
  timeout, a 401 that ``reauth`` could not fix, 403 insufficient_scope) gets a
  JSON-RPC error answer naming the server's origin and path at most;
* ``close`` waits a bounded time for requests in flight, ends the session
  (DELETE / closing the SSE stream), then aborts whatever is left.

Timeouts: connecting gets ``connect_timeout`` (10 s); a response may be silent
for ``read_timeout`` (300 s, the MCP SDK's own choice) *between* bytes, not in
total, so a long tool call that streams progress or SSE keep-alives runs as long
as it needs, while a server that went silent is given up on after five minutes.

``http://`` is refused for anything but a loopback host unless ``allow_http``:
credentials in clear text over a network are a leak. This module imports no
httpx at import time (the shim's local path must not pay for it).
"""

from __future__ import annotations

import ipaddress
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mcpcred.errors import McpcredError, ShimError

if TYPE_CHECKING:
    from mcpcred.bridge.channel import Channel
    from mcpcred.bridge.detect import Detector, Era
    from mcpcred.bridge.messages import Outbox

TRANSPORTS = ("auto", "http", "sse")
DEFAULT_READ_TIMEOUT = 300.0
DEFAULT_CLOSE_TIMEOUT = 5.0


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and ``localhost`` (names under it included)."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, allow_http: bool) -> None:
    """Refuse a URL the bridge must not use, before any network call (one clear line)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        raise ShimError("the remote server URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ShimError(
            "the remote server URL must start with https:// (or http:// for a local server)"
        )
    if parts.scheme == "http" and not allow_http and not is_loopback(host):
        raise ShimError(
            f"refusing plain http:// to {host}: credentials would cross the network unencrypted",
            hint="use https://, or pass --allow-http if this network is trusted",
        )


class Upstream:
    """A remote MCP server, seen as a stream of JSON-RPC messages (the shared contract)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        deliver: Callable[[bytes], None],
        *,
        warn: Callable[[str], None],
        reauth: Callable[[], Mapping[str, str]] | None = None,
        transport: str = "auto",
        allow_http: bool = False,
        connect_timeout: float = 10.0,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        close_timeout: float = DEFAULT_CLOSE_TIMEOUT,
        retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ShimError(f"unknown transport {transport!r}: use auto, http or sse")
        check_url(url, allow_http)
        self._url = url
        self._headers = dict(headers)
        self._deliver = deliver
        self._warn = warn
        self._reauth = reauth
        self._transport = transport
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._close_timeout = close_timeout
        self._retries = retries
        self._backoff = backoff
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None
        self._channel: Channel | None = None
        self._out: Outbox | None = None
        self._detector: Detector | None = None
        self._era: Era | None = None
        self._closed = False

    @property
    def era(self) -> str | None:
        """The era found (``modern``, ``streamable``, ``sse``); None before the first message."""
        names = {"Modern": "modern", "Streamable": "streamable", "LegacySse": "sse"}
        era = self._era if self._era is not None else getattr(self._detector, "candidate", None)
        return names.get(type(era).__name__) if era is not None else None

    def start(self) -> None:
        """Build the HTTP channel and the dispatcher; the era is found on the first message."""
        from mcpcred.bridge.channel import Channel
        from mcpcred.bridge.detect import Detector
        from mcpcred.bridge.messages import Outbox

        self._channel = Channel(
            self._url,
            self._headers,
            reauth=self._reauth,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            retries=self._retries,
            backoff=self._backoff,
        )
        self._out = Outbox(self._safe_deliver)
        self._detector = Detector(self._channel, self._out, self._warn, self._transport)
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="mcpcred-bridge", daemon=True
        )
        self._dispatcher.start()

    def send(self, line: bytes) -> None:
        """Queue one client message; returns at once."""
        if not self._closed:
            self._queue.put(bytes(line))

    def close(self) -> None:
        """Client EOF: bounded wait for requests in flight, end the session, stop every thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        deadline = time.monotonic() + self._close_timeout
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=max(0.0, deadline - time.monotonic()))
        for worker in self._snapshot_workers():
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        if self._era is not None:
            try:
                self._era.close()
            except Exception as exc:  # a failing DELETE must not hang or crash shutdown
                self._warn(f"mcpcred: closing the remote session failed ({type(exc).__name__})")
        if self._channel is not None:
            self._channel.stop()  # shuts every open response down: readers wake and close them
        for thread in [*self._snapshot_workers(), self._dispatcher]:
            if thread is not None:
                thread.join(timeout=1.0)
        if self._channel is not None:
            self._channel.close()

    # -- internals ---------------------------------------------------------------------

    def _snapshot_workers(self) -> list[threading.Thread]:
        with self._workers_lock:
            return list(self._workers)

    def _safe_deliver(self, line: bytes) -> None:
        try:
            self._deliver(line)
        except Exception as exc:  # the client went away: nothing more to do with this line
            self._warn(f"mcpcred: could not hand a message to the client ({type(exc).__name__})")

    def _dispatch_loop(self) -> None:
        from mcpcred.bridge.messages import INTERNAL_ERROR, Failure, loads

        out, detector = self._out, self._detector
        if out is None or detector is None:
            return
        while (line := self._queue.get()) is not None:
            msg = loads(line)
            if not isinstance(msg, dict):
                if line.strip():
                    out.error(
                        None, "Parse error: the bridge takes one JSON-RPC object per line", -32700
                    )
                continue
            request_id = msg.get("id")
            is_request = "method" in msg and "id" in msg
            try:
                era = self._era
                if era is None:
                    era, consumed = detector.establish(msg)
                    self._era = era
                    if consumed or era is None:
                        continue
                job = era.dispatch(msg, line.strip())
            except Failure as exc:
                if is_request:
                    out.error(request_id, exc.message)
                else:
                    self._warn(f"mcpcred: {exc.message}")
                continue
            except McpcredError as exc:
                if is_request:
                    out.error(request_id, exc.message)
                continue
            except Exception as exc:  # a bug must not take the bridge down, nor print values
                self._warn(f"mcpcred: internal bridge error ({type(exc).__name__})")
                if is_request:
                    out.error(
                        request_id, f"internal bridge error ({type(exc).__name__})", INTERNAL_ERROR
                    )
                continue
            if job is not None:
                self._spawn(job, request_id)

    def _spawn(self, job: Callable[[], None], request_id: Any) -> None:
        thread = threading.Thread(
            target=self._run, args=(job, request_id), name="mcpcred-bridge-call", daemon=True
        )
        with self._workers_lock:
            self._workers.add(thread)
        thread.start()

    def _run(self, job: Callable[[], None], request_id: Any) -> None:
        from mcpcred.bridge.messages import INTERNAL_ERROR, Failure

        out = self._out
        if out is None:
            return
        try:
            job()
        except Failure as exc:
            out.error(request_id, exc.message)
        except McpcredError as exc:
            out.error(request_id, exc.message)
        except Exception as exc:
            self._warn(f"mcpcred: internal bridge error ({type(exc).__name__})")
            out.error(request_id, f"internal bridge error ({type(exc).__name__})", INTERNAL_ERROR)
        finally:
            if self._channel is not None:
                self._channel.forget_thread(threading.get_ident())
            with self._workers_lock:
                self._workers.discard(threading.current_thread())
