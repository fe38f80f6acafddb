"""Reading a POST's answer, JSON or SSE, one message at a time, as it arrives.

Streamable HTTP answers a request either with one JSON body or with an SSE
stream that may carry notifications and server->client requests before the
response. SSE is parsed by ``httpx-sse`` (incremental: each event is handed on
as soon as its blank line arrives; ids and ``retry:`` are kept for resuming);
a JSON body is read whole, since it is one message.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
from httpx_sse import EventSource

from mcpcred.bridge.messages import Incoming, loads

ACCEPT_BOTH = "application/json, text/event-stream"
JSON_HEADERS = {"Accept": ACCEPT_BOTH, "Content-Type": "application/json"}


@dataclass
class Cursor:
    """Where an SSE stream got to: the last event id and the server's ``retry:`` (ms)."""

    last_id: str | None = None
    retry_ms: int | None = None


def is_sse(resp: httpx.Response) -> bool:
    ctype: str = resp.headers.get("content-type", "")
    return ctype.split(";")[0].strip().lower() == "text/event-stream"


def sse_messages(resp: httpx.Response, cursor: Cursor) -> Iterator[Incoming]:
    """The JSON-RPC messages of an SSE stream (``message`` events), updating ``cursor``."""
    for event in EventSource(resp).iter_sse():
        if event.id:
            cursor.last_id = event.id
        if event.retry is not None:
            cursor.retry_ms = event.retry
        if event.event not in ("message", "") or not event.data.strip():
            continue  # a priming event (id, empty data) or an event type MCP does not use
        incoming = Incoming(event.data.encode())
        if incoming.kind != "other":  # not a JSON-RPC object: never handed to the client
            yield incoming


def messages(resp: httpx.Response, cursor: Cursor | None = None) -> Iterator[Incoming]:
    """Every message of a POST's answer, in order (a JSON batch answer is split up)."""
    if is_sse(resp):
        yield from sse_messages(resp, cursor if cursor is not None else Cursor())
        return
    data = resp.read()
    if not data.strip():
        return
    if data.lstrip()[:1] == b"[":
        batch = loads(data)
        if isinstance(batch, list):
            import json

            for item in batch:
                incoming = Incoming(json.dumps(item, separators=(",", ":")).encode())
                if incoming.kind != "other":
                    yield incoming
            return
    incoming = Incoming(data)
    if incoming.kind != "other":
        yield incoming


def error_text(resp: httpx.Response) -> tuple[int | None, str | None, object]:
    """``(code, message, data)`` of a JSON-RPC error in a (small) error response body."""
    try:
        body = resp.read()[: 1 << 16] if not is_sse(resp) else b""
    except httpx.HTTPError:
        return None, None, None
    parsed = loads(body)
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    code = error.get("code")
    message = error.get("message")
    return (
        code if isinstance(code, int) else None,
        message if isinstance(message, str) else None,
        error.get("data"),
    )
