"""Legacy HTTP+SSE (2024-11-05): one long GET carries every answer; messages are POSTed.

``GET`` the SSE URL; its first event, ``endpoint``, names where to POST (resolved
against the SSE URL; another origin is refused, as the SDK does, since the
credentials would follow). Each client message is POSTed there (202); answers
and server-initiated messages arrive as ``message`` events on the GET stream.

Query parameters of the SSE URL that the endpoint lacks (a ``?key=`` credential)
are added to it, so servers that check the key on every request accept the POSTs.

The session lives as long as the GET. When it drops, requests still waiting
for an answer get an error (their answers went with the stream; resending a
tool call could run it twice), a new GET makes a new session, and the cached
client ``initialize`` + ``notifications/initialized`` are replayed under a bridge
id whose answer is swallowed. A POST answered 404 (the server forgot the
session before we noticed the drop) triggers the same reconnect, then one retry.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mcpcred.bridge.channel import Channel, same_origin
from mcpcred.bridge.messages import Failure, Incoming, Outbox, id_key
from mcpcred.bridge.streams import Cursor, is_sse, sse_messages

Job = Callable[[], None]
SSE_HEADERS = {"Accept": "text/event-stream", "Cache-Control": "no-store"}
POST_HEADERS = {"Content-Type": "application/json"}
ENDPOINT_WAIT = 15.0


class LegacySse:
    """An HTTP+SSE session over one ``Channel``."""

    def __init__(self, channel: Channel, out: Outbox, warn: Callable[[str], None]) -> None:
        self.channel = channel
        self.out = out
        self.warn = warn
        self.endpoint: str | None = None
        self._lock = threading.RLock()
        self._gen = 0
        self._ready = threading.Event()
        self._resp: httpx.Response | None = None
        self._pending: dict[str, object] = {}
        self._swallow: set[str] = set()
        self._init: dict[str, Any] | None = None
        self._initialized = False
        self._replays = itertools.count(1)
        self._reader: threading.Thread | None = None
        self._stopping = threading.Event()

    # -- the GET stream ----------------------------------------------------------------

    def connect(self) -> None:
        """Open the GET stream and wait for its ``endpoint`` event (raises ``Failure``)."""
        resp = self.channel.request("GET", headers=SSE_HEADERS)
        if resp.status_code != 200 or not is_sse(resp):
            status = resp.status_code
            resp.close()
            raise self.channel.fail(
                f"the server offers no MCP transport here (GET answered HTTP {status})"
            )
        stream = self._events(resp)
        endpoint = None
        # the endpoint event comes first; a stream that stays silent instead is not MCP
        # (the stream's own read timeout is long, for the quiet hours of a session)
        timer = threading.Timer(ENDPOINT_WAIT, self.channel.abort, args=(resp,))
        timer.daemon = True
        timer.start()
        try:
            for event, data in stream:
                if event == "endpoint":
                    endpoint = data.strip()
                    break
        except httpx.HTTPError:
            endpoint = None
        finally:
            timer.cancel()
        if not endpoint:
            resp.close()
            raise self.channel.fail("the SSE stream did not name an endpoint to POST to")
        base = resp.url
        try:
            target = base.join(endpoint)
        except (httpx.InvalidURL, ValueError):
            resp.close()
            raise self.channel.fail("the SSE stream named an invalid endpoint") from None
        if not same_origin(base, target) or target.scheme != base.scheme:
            resp.close()
            raise self.channel.fail(
                "the SSE endpoint is on another origin; refused (credentials would follow)"
            )
        # A key in the SSE URL's query (``/sse?key=...``) must reach the POSTs too, or
        # servers that check it on every request refuse them; same origin only (above).
        missing = httpx.QueryParams(
            [(k, v) for k, v in base.params.multi_items() if k not in target.params]
        )
        if missing:
            target = target.copy_merge_params(missing)
        with self._lock:
            self._gen += 1
            gen = self._gen
            self._resp = resp
            self.endpoint = str(target)
            self._ready.set()
        self._reader = threading.Thread(
            target=self._read, args=(gen, resp, stream), name="mcpcred-bridge-sse", daemon=True
        )
        self._reader.start()

    def _events(self, resp: httpx.Response) -> Iterator[tuple[str, str]]:
        from httpx_sse import EventSource

        for event in EventSource(resp).iter_sse():
            yield event.event, event.data

    def _read(self, gen: int, resp: httpx.Response, stream: Iterator[tuple[str, str]]) -> None:
        try:
            for event, data in stream:
                if event != "message" or not data.strip():
                    continue
                incoming = Incoming(data.encode())
                if incoming.kind == "other":
                    continue  # not a JSON-RPC object: never handed to the client
                if incoming.kind == "response":
                    key = id_key(incoming.id)
                    with self._lock:
                        self._pending.pop(key, None)
                        if key in self._swallow:
                            self._swallow.discard(key)
                            continue
                self.out.raw(incoming.data)
        except httpx.HTTPError:
            pass
        finally:
            resp.close()
        if not self._stopping.is_set() and not self.channel.closing:
            self._lost(gen)

    def _lost(self, gen: int, *, abort: bool = False) -> None:
        """The session of generation ``gen`` is gone: fail what waited on it, start a new one."""
        with self._lock:
            if gen != self._gen:
                return  # already handled
            self._gen += 1
            self._ready.clear()
            lost = list(self._pending.values())
            self._pending.clear()
            old = self._resp
        if abort and old is not None:
            self.channel.abort(old)
        for request_id in lost:
            self.out.error(
                request_id,
                f"the connection to the server was lost before it answered; retry the request"
                f" ({self.channel.where})",
            )
        self.warn(
            f"mcpcred: the SSE session with the server ended; reconnecting ({self.channel.where})"
        )
        try:
            self._reconnect()
        except Failure as exc:
            self.warn(f"mcpcred: could not reconnect: {exc.message}")

    def _reconnect(self) -> None:
        with self._lock:
            if self._ready.is_set():
                return
            self.connect()
            init = self._init
            if init is not None:
                replay_id = f"mcpcred-reinit-{next(self._replays)}"
                self._swallow.add(id_key(replay_id))
                self._post(json.dumps({**init, "id": replay_id}).encode())
                if self._initialized:
                    self._post(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')

    # -- client messages ---------------------------------------------------------------

    def dispatch(self, msg: dict[str, Any], raw: bytes) -> Job | None:
        method = msg.get("method")
        if method == "server/discover" and "id" in msg:
            self.out.error(msg["id"], "Method not found", code=-32601)
            return None
        if method == "initialize":
            self._init = msg
        if method == "notifications/initialized":
            self._initialized = True
        if method is not None and "id" in msg:
            return lambda: self._send(raw, msg["id"])
        try:
            self._send(raw, None)
        except Failure as exc:
            self.warn(f"mcpcred: a message did not reach the server: {exc.message}")
        return None

    def _send(self, raw: bytes, request_id: object) -> None:
        for attempt in range(2):
            with self._lock:
                gen = self._gen
            if not self._ready.is_set():
                self._reconnect()  # waits on the lock if another thread is already reconnecting
            key = id_key(request_id) if request_id is not None else None
            if key is not None:
                with self._lock:
                    self._pending[key] = request_id
            try:
                status = self._post(raw)
            except Failure:
                if key is not None:
                    with self._lock:
                        self._pending.pop(key, None)
                raise
            if status in (200, 202, 204):
                return
            if key is not None:
                with self._lock:
                    self._pending.pop(key, None)
            if status in (400, 404) and attempt == 0:
                self._lost(gen, abort=True)  # the server no longer knows this session
                continue
            raise self.channel.fail(f"the server refused the message (HTTP {status})")

    def _post(self, raw: bytes) -> int:
        if self.endpoint is None:
            raise self.channel.fail("not connected to the server")
        resp = self.channel.request("POST", url=self.endpoint, body=raw, headers=POST_HEADERS)
        with contextlib.closing(resp):
            return resp.status_code

    def close(self) -> None:
        """Close the GET stream: that ends the session on the server."""
        self._stopping.set()
        with self._lock:
            self._gen += 1
            resp = self._resp
        if resp is not None:
            self.channel.abort(resp)
        if self._reader is not None:
            self._reader.join(timeout=2.0)


__all__ = ["Cursor", "LegacySse", "sse_messages"]
