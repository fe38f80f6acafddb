"""A minimal Streamable HTTP MCP server that answers as fast as a socket can carry bytes.

``python fast_remote_server.py PORT`` (the bearer token in ``BENCH_FAST_TOKEN``):
for the bridge benchmark's throughput section only. The MCP Python SDK's
server builds a 50 MB result at 15-30 MB/s, so it, not the bridge, would be
what a throughput figure measured. This one streams a result as one SSE event
of ready-made 1 MiB pieces, so the figure is the bridge's (and the direct
client's) own.

It speaks just enough of Streamable HTTP (2025-11-25) for a bridge: ``initialize``
(a JSON answer and an ``Mcp-Session-Id``), notifications (202), ``tools/list``,
``tools/call big {"size": N}`` and ``echo {"text": T}`` (SSE answers), GET
(405: no stream offered), DELETE (200). Requests without ``Authorization:
Bearer TOKEN`` get 401. Standard library only.
"""

from __future__ import annotations

import hmac
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SESSION = "bench-session-0001"
CHUNK = 1024 * 1024


def _big_event(request_id: object, size: int) -> list[bytes]:
    """The SSE event carrying a ``size``-byte text result, as a few large pieces."""
    head = (
        b'event: message\ndata: {"jsonrpc":"2.0","id":'
        + json.dumps(request_id).encode()
        + b',"result":{"content":[{"type":"text","text":"'
    )
    tail = b'"}],"isError":false}}\n\n'
    body = b"x" * CHUNK
    pieces = [head]
    left = size
    while left > 0:
        pieces.append(body[: min(left, CHUNK)])
        left -= CHUNK
    pieces.append(tail)
    return pieces


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token = b""

    def log_message(self, format: str, *args: object) -> None:
        return

    def _authorized(self) -> bool:
        got = (self.headers.get("Authorization") or "").encode()
        if hmac.compare_digest(got, b"Bearer " + self.token):
            return True
        self._plain(401, b"", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return False

    def _plain(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self._authorized():
            self._plain(405, b"")

    def do_DELETE(self) -> None:
        if self._authorized():
            self._plain(200, b"")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self._authorized():
            return
        message = json.loads(body)
        method, request_id = message.get("method"), message.get("id")
        if request_id is None:  # a notification
            self._plain(202, b"")
            return
        if method == "initialize":
            result = {
                "protocolVersion": message["params"].get("protocolVersion", "2025-11-25"),
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "bench-fast", "version": "1"},
            }
            answer = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result}).encode()
            self._plain(
                200, answer, {"Content-Type": "application/json", "Mcp-Session-Id": SESSION}
            )
            return
        params = message.get("params") or {}
        if method == "tools/call" and params.get("name") == "big":
            pieces = _big_event(request_id, int(params["arguments"]["size"]))
        else:
            if method == "tools/list":
                result = {"tools": [{"name": "echo", "inputSchema": {"type": "object"}}]}
            else:
                text = "echo: " + str((params.get("arguments") or {}).get("text"))
                result = {"content": [{"type": "text", "text": text}], "isError": False}
            event = json.dumps({"jsonrpc": "2.0", "id": request_id, "result": result})
            pieces = [b"event: message\ndata: " + event.encode() + b"\n\n"]
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(sum(len(p) for p in pieces)))
        self.end_headers()
        for piece in pieces:
            self.wfile.write(piece)


def main() -> None:
    Handler.token = os.environ["BENCH_FAST_TOKEN"].encode()
    port = int(sys.argv[1])
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
