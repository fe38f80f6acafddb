"""Streamable HTTP, handshake era (2025-03-26 ... 2025-11-25).

One POST per client message to the one endpoint. The session id from the
``initialize`` answer goes on every later request (and the negotiated
``MCP-Protocol-Version``). What this class adds over a plain forwarder:

* **404 with a session id** means the server forgot the session (it restarted,
  or expired it): the cached client ``initialize`` and ``notifications/initialized``
  are replayed under a bridge id (that answer is swallowed) and the request is
  retried once -- single flight, so a burst of 404s makes one new session;
* **a dropped SSE answer** is resumed with ``GET`` + ``Last-Event-ID`` after the
  server's ``retry:`` delay, when the server gave event ids (else the request
  gets an error: without an id nothing can be resumed);
* **the GET stream** for server-initiated messages is opened after
  ``notifications/initialized`` (405 = not offered) and reconnected with
  ``Last-Event-ID`` when it drops;
* **server->client requests** (on any stream) go to the client; its answers are
  POSTed back; ``close`` DELETEs the session.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from mcpcred.bridge.channel import Channel
from mcpcred.bridge.messages import Failure, Incoming, Outbox
from mcpcred.bridge.streams import JSON_HEADERS, Cursor, error_text, is_sse, messages, sse_messages

Job = Callable[[], None]
MODERN_ERRORS = frozenset({-32020, -32021, -32022})
MAX_RESUMES = 5
DEFAULT_RETRY_MS = 1000
MAX_RETRY_MS = 10_000
GET_FAILURES = 3


class Fallback(Exception):
    """``initialize`` got 400/404/405 without a modern error: maybe a legacy HTTP+SSE server."""


class Streamable:
    """A Streamable HTTP session (handshake era) over one ``Channel``."""

    def __init__(self, channel: Channel, out: Outbox, warn: Callable[[str], None]) -> None:
        self.channel = channel
        self.out = out
        self.warn = warn
        self.session_id: str | None = None
        self.version: str | None = None
        self._init: dict[str, Any] | None = None
        self._lock = threading.RLock()  # open() runs inside _reinit's hold
        self._epoch = 0
        self._replays = itertools.count(1)
        self._initialized = False
        self._get_gen = 0
        self._get_resp: httpx.Response | None = None
        self._get_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- headers and the session -------------------------------------------------------

    def headers(self, accept: str | None = None) -> dict[str, str]:
        headers = dict(JSON_HEADERS)
        if accept:
            headers = {"Accept": accept}
        if self.session_id:
            headers["Mcp-Session-Id"] = self.session_id
        if self.version and self.version >= "2025-06-18":
            headers["MCP-Protocol-Version"] = self.version
        return headers

    def open(self, init: dict[str, Any], *, swallow: bool = False) -> None:
        """POST ``initialize`` without a session id; on success the session is this one.

        Raises ``Fallback`` for 400/404/405 without a modern JSON-RPC error (the
        detection rule's cue to try HTTP+SSE), ``Failure`` for anything else.
        The answer goes to the client unless ``swallow`` (a replay of ours).
        """
        if not swallow:
            self._init = init
            if self.session_id:  # the client starts over: end the session we had
                with contextlib.suppress(Failure):
                    self.channel.request(
                        "DELETE",
                        headers=self.headers(),
                        read_timeout=2.0,
                        retry=False,
                        reauth=False,
                    ).close()
                self.session_id = None
        resp = self.channel.request("POST", body=json.dumps(init).encode(), headers=JSON_HEADERS)
        with contextlib.closing(resp):
            if not resp.is_success or resp.status_code == 202:
                code, message, _ = error_text(resp)
                if resp.status_code in (400, 404, 405) and code not in MODERN_ERRORS:
                    raise Fallback(resp.status_code)
                raise self._http_failure("initialize", resp.status_code, message)
            session = resp.headers.get("mcp-session-id")
            answer = self._consume(resp, swallow=swallow)
        result = answer.message.get("result") if answer and answer.message else None
        if not isinstance(result, dict):
            if swallow:
                raise self.channel.fail("the server refused to start a new session")
            return  # the server's error answer reached the client; no session
        version = result.get("protocolVersion")
        with self._lock:
            self.session_id = session if session and session.isprintable() else None
            self.version = version if isinstance(version, str) else None
            self._epoch += 1

    def _http_failure(self, what: str, status: int, message: str | None) -> Failure:
        detail = f": {self.channel.scrub(message)}" if message else ""
        return self.channel.fail(f"the server answered {what} with HTTP {status}{detail}")

    def _reinit(self, epoch: int) -> None:
        """The server lost our session: start a new one (once per loss, whoever sees it first)."""
        with self._lock:  # held across the replay: other requests wait for the new session
            if self._epoch != epoch:
                return  # another thread already made the new session
            init = self._init
            if init is None:
                raise self.channel.fail(
                    "the server lost the session, and the client never sent initialize"
                )
            self.session_id = None
            self.open({**init, "id": f"mcpcred-reinit-{next(self._replays)}"}, swallow=True)
        self.warn(
            f"mcpcred: the server lost the MCP session; started a new one ({self.channel.where})"
        )
        if self._initialized:
            self._post_quiet(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
            self._start_listening()

    # -- client messages ---------------------------------------------------------------

    def dispatch(self, msg: dict[str, Any], raw: bytes) -> Job | None:
        method = msg.get("method")
        if method == "initialize":
            self.open(msg)
            return None
        if method == "server/discover" and "id" in msg:
            # a modern client's probe: this server speaks the handshake, so say "no"
            # and the client falls back to initialize
            self.out.error(msg["id"], "Method not found", code=-32601)
            return None
        if method is not None and "id" in msg:
            return lambda: self._request(raw)
        self._post_quiet(raw)  # a notification, or the client's answer to a server request
        if method == "notifications/initialized":
            self._initialized = True
            self._start_listening()
        return None

    def _request(self, raw: bytes) -> None:
        for attempt in range(2):
            with self._lock:
                epoch = self._epoch
                headers = self.headers()
            resp = self.channel.request("POST", body=raw, headers=headers)
            with contextlib.closing(resp):
                if resp.status_code == 404 and headers.get("Mcp-Session-Id") and attempt == 0:
                    resp.close()
                    self._reinit(epoch)
                    continue
                if resp.status_code == 202:
                    raise self.channel.fail("the server accepted the request but sent no answer")
                if not resp.is_success:
                    _, message, _ = error_text(resp)
                    raise self._http_failure("the request", resp.status_code, message)
                if self._consume(resp, swallow=False) is None:
                    raise self.channel.fail("the server closed the connection before answering")
                return

    def _post_quiet(self, raw: bytes) -> None:
        """POST a message that gets no answer (202); a failure is a warning, not an error."""
        for attempt in range(2):
            with self._lock:
                epoch = self._epoch
                headers = self.headers()
            try:
                resp = self.channel.request("POST", body=raw, headers=headers)
            except Failure as exc:
                self.warn(f"mcpcred: a notification did not reach the server: {exc.message}")
                return
            with contextlib.closing(resp):
                if resp.status_code == 404 and headers.get("Mcp-Session-Id") and attempt == 0:
                    resp.close()
                    try:
                        self._reinit(epoch)
                    except Failure as exc:
                        self.warn(exc.message)
                        return
                    continue
                if not resp.is_success:
                    self.warn(
                        f"mcpcred: the server refused a notification (HTTP {resp.status_code};"
                        f" {self.channel.where})"
                    )
                elif is_sse(resp) or resp.headers.get("content-type", "").startswith(
                    "application/json"
                ):
                    self._consume(resp, swallow=False)  # a server may answer with messages
                return

    # -- server messages ---------------------------------------------------------------

    def _consume(self, resp: httpx.Response, *, swallow: bool) -> Incoming | None:
        """Deliver a POST's answer as it streams in; returns the response message.

        A stream that ends before the response is resumed with ``Last-Event-ID``.
        """
        cursor = Cursor()
        current = resp
        resumes = 0
        while True:
            try:
                for incoming in messages(current, cursor):
                    if incoming.kind == "response":
                        if not swallow:
                            self.out.raw(incoming.data)
                        return incoming
                    self.out.raw(incoming.data)  # notifications and server->client requests
            except httpx.ReadTimeout:
                raise self.channel.silent() from None
            except httpx.HTTPError:
                pass  # the stream broke: resume below if we can
            finally:
                if current is not resp:
                    current.close()
            if self.channel.closing:
                raise self.channel.fail("the bridge is shutting down")
            if not is_sse(resp):
                return None
            if cursor.last_id is None or resumes >= MAX_RESUMES:
                return None
            resumes += 1
            delay = min(
                cursor.retry_ms if cursor.retry_ms is not None else DEFAULT_RETRY_MS, MAX_RETRY_MS
            )
            if self._stopping.wait(delay / 1000):
                return None
            with self._lock:
                headers = self.headers(accept="text/event-stream")
            headers["Last-Event-ID"] = cursor.last_id
            current = self.channel.request("GET", headers=headers)
            if current.status_code != 200 or not is_sse(current):
                status = current.status_code
                current.close()
                raise self.channel.fail(
                    f"the server's answer stream broke and could not be resumed (HTTP {status})"
                )

    def _start_listening(self) -> None:
        with self._lock:
            self._get_gen += 1
            gen = self._get_gen
            old = self._get_resp
        if old is not None:
            self.channel.abort(old)
        thread = threading.Thread(
            target=self._listen, args=(gen,), name="mcpcred-bridge-get", daemon=True
        )
        self._get_thread = thread
        thread.start()

    def _listen(self, gen: int) -> None:
        """The optional GET stream: server->client messages outside any request."""
        cursor = Cursor()
        failures = 0
        while not self._stopping.is_set() and gen == self._get_gen:
            with self._lock:
                headers = self.headers(accept="text/event-stream")
            if cursor.last_id:
                headers["Last-Event-ID"] = cursor.last_id
            try:
                resp = self.channel.request("GET", headers=headers)
            except Failure as exc:
                failures += 1
                if failures >= GET_FAILURES or self.channel.closing:
                    if not self.channel.closing:
                        self.warn(f"mcpcred: stopped listening for server messages: {exc.message}")
                    return
                if self._stopping.wait(1.0):
                    return
                continue
            with self._lock:
                self._get_resp = resp
                stale = self._stopping.is_set() or gen != self._get_gen
            if stale:  # closed or replaced while this GET was connecting
                resp.close()
                return
            try:
                if resp.status_code != 200 or not is_sse(resp):
                    return  # 405: not offered; 404/400: the session is gone (a re-init restarts us)
                failures = 0
                for incoming in sse_messages(resp, cursor):
                    self.out.raw(incoming.data)
            except httpx.HTTPError:
                pass  # dropped or idle too long: reconnect
            finally:
                resp.close()
            delay = min(
                cursor.retry_ms if cursor.retry_ms is not None else DEFAULT_RETRY_MS, MAX_RETRY_MS
            )
            if self._stopping.wait(delay / 1000):
                return

    # -- shutdown ----------------------------------------------------------------------

    def close(self) -> None:
        """Stop the GET stream and DELETE the session (bounded: no retries, short timeout)."""
        self._stopping.set()
        with self._lock:
            self._get_gen += 1
            resp = self._get_resp
            session = self.session_id
            headers = self.headers()
        if resp is not None:
            self.channel.abort(resp)
        if session:
            with contextlib.suppress(Failure):
                self.channel.request(  # no re-authentication just to say goodbye
                    "DELETE", headers=headers, read_timeout=2.0, retry=False, reauth=False
                ).close()
        if self._get_thread is not None:
            self._get_thread.join(timeout=2.0)
