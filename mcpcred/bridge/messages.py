"""JSON-RPC messages as the bridge sees them: what a message is, and the lines it delivers.

The bridge passes server messages through as the bytes the server sent (a 50 MB
tool result is never parsed and re-serialised, which would triple its memory);
it only needs to know what *kind* of message each one is. Messages up to
``PARSE_LIMIT`` are parsed; a larger one is classified from its first bytes
(JSON-RPC senders put ``jsonrpc``/``id``/``method`` before the payload), which in
practice is always a response carrying a big result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

PARSE_LIMIT = 1 << 20
# The JSON-RPC error code of a request the bridge could not get answered: the server is
# unreachable, refused the login, or the connection was lost. JSON-RPC 2.0 reserves
# -32000..-32099 for implementation-defined server errors, and -32000 is what the shim
# answers when it cannot start a local server (``shim/fail.py``) and what guard mode
# answers for a request it does not pass on: a client sees one code for "mcpcred could not
# reach the server", local or remote. -32603 (Internal error) is kept for a bug in the
# bridge itself.
SERVER_ERROR = -32000
INTERNAL_ERROR = -32603
_HEAD = 2048
_METHOD_IN_HEAD = re.compile(rb'"method"\s*:')
_ID_IN_HEAD = re.compile(rb'"id"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)')


class Failure(Exception):
    """A request failed; ``message`` is safe to show the client (no secret, no URL query)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def id_key(request_id: object) -> str:
    """A hashable key for a JSON-RPC id (``1`` and ``"1"`` are different ids)."""
    return json.dumps(request_id, separators=(",", ":"))


def one_line(data: bytes) -> bytes:
    """``data`` (one JSON value) as a single line ending in ``\\n``.

    Raw CR/LF can only be whitespace between JSON tokens (inside strings they
    must be escaped), so replacing them with spaces keeps the value intact.
    """
    data = data.strip()
    if b"\n" in data or b"\r" in data:
        data = data.replace(b"\r", b" ").replace(b"\n", b" ")
    return data + b"\n"


def loads(data: bytes) -> Any:
    """Parse one JSON value, or ``None`` when it is not JSON."""
    try:
        return json.loads(data)
    except ValueError:
        return None


class Incoming:
    """One server->client message: its bytes, and what kind of message it is."""

    __slots__ = ("data", "id", "kind", "message")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.message: dict[str, Any] | None = None
        self.id: object = None
        if len(data) <= PARSE_LIMIT:
            parsed = loads(data)
            self.message = parsed if isinstance(parsed, dict) else None
            if self.message is None:
                self.kind = "other"
                return
            self.id = self.message.get("id")
            if "method" in self.message:
                self.kind = "request" if "id" in self.message else "notification"
            else:
                self.kind = "response"
            return
        head = data[:_HEAD]
        match = _ID_IN_HEAD.search(head)
        self.id = loads(match.group(1)) if match else None
        if _METHOD_IN_HEAD.search(head):
            self.kind = "request" if match else "notification"
        else:
            self.kind = "response"


class Outbox:
    """The client side: one complete JSON-RPC message per ``deliver`` call, one line each."""

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self._deliver = deliver

    def raw(self, data: bytes) -> None:
        self._deliver(one_line(data))

    def message(self, message: dict[str, Any]) -> None:
        self._deliver(json.dumps(message, separators=(",", ":")).encode() + b"\n")

    def result(self, request_id: object, result: dict[str, Any]) -> None:
        self.message({"jsonrpc": "2.0", "id": request_id, "result": result})

    def error(self, request_id: object, message: str, code: int = SERVER_ERROR) -> None:
        self.message(
            {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
        )
