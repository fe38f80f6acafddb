"""A tiny OpenAI-compatible model server on loopback, for clients that need a model to run.

Copilot CLI, Cline and Continue's ``cn`` start their MCP servers only in a
session with a model. This one answers ``GET /v1/models`` and ``POST
/v1/chat/completions`` (streamed or not) with "hi", and remembers the tool names
each request offered: a client that offered the server's tool to the model had
started the server and listed its tools. Stdlib only; one thread; a random free
port on 127.0.0.1; ``close()`` stops it.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeOpenAI:
    """``with FakeOpenAI() as model: ... model.base_url ... model.tools``."""

    def __init__(self) -> None:
        self.tools: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet
                return

            def _json(self, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._json({"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    request = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    request = {}
                for tool in request.get("tools") or []:
                    name = (tool.get("function") or {}).get("name") or tool.get("name")
                    if isinstance(name, str):
                        owner.tools.append(name)
                created = int(time.time())
                if not request.get("stream"):
                    self._json(
                        {
                            "id": "c1", "object": "chat.completion", "created": created,
                            "model": "fake-model",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": "hi"}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1,
                                      "total_tokens": 2},
                        }
                    )  # fmt: skip
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for delta, finish in (({"role": "assistant", "content": "hi"}, None), ({}, "stop")):
                    chunk = {
                        "id": "c1", "object": "chat.completion.chunk", "created": created,
                        "model": "fake-model",
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }  # fmt: skip
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeOpenAI:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
