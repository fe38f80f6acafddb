"""A fake ``mcpcred.bridge.upstream.Upstream`` with the contract's shape, for bridge tests.

It answers from worker threads, as the real one does: ``initialize``, ``tools/list``
(``echo``, ``delete_thing``, ``show_header``; ``echo``'s description from
``$MCPCRED_TEST_ECHO_DESCRIPTION``), ``tools/call`` (``show_header`` echoes
the ``Authorization`` header it was given, the way a careless server might show its
credential; with ``{"renew": true}`` it first calls ``reauth``, as a 401 would).
Unit tests hand the class to ``RemoteServer(factory=...)``; ``guard_remote_main``
runs the guard over it in a real shim process.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

# The echo tool's description, so that a test can change a tool between two sessions.
DESCRIPTIONS = {"echo": os.environ.get("MCPCRED_TEST_ECHO_DESCRIPTION", "Echo the text back.")}


class FakeUpstream:
    """A remote MCP server behind the contract's ``Upstream`` API, answering from threads."""

    made: ClassVar[list[FakeUpstream]] = []

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
    ) -> None:
        self.url = url
        self.headers = dict(headers)
        self.deliver = deliver
        self.warn = warn
        self.reauth = reauth
        self.transport = transport
        self.allow_http = allow_http
        self.sent: list[dict[str, Any]] = []
        self.started = False
        self.closed = threading.Event()
        self.close_seconds = 0.0
        self.fail_send = False
        FakeUpstream.made.append(self)

    def start(self) -> None:
        self.started = True

    def send(self, line: bytes) -> None:
        if self.fail_send:
            raise ConnectionError(f"cannot send to {self.url} with {self.headers}")
        message = json.loads(line)
        self.sent.append(message)
        if "method" in message and "id" in message:
            threading.Thread(target=self._answer, args=(message,), daemon=True).start()

    def _answer(self, message: dict[str, Any]) -> None:
        method, params = message["method"], message.get("params") or {}
        result: dict[str, Any]
        if method == "initialize":
            result = {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "fake-remote", "version": "1"},
            }
        elif method == "tools/list":
            result = {
                "tools": [
                    {
                        "name": n,
                        "description": DESCRIPTIONS.get(n, n),
                        "inputSchema": {"type": "object"},
                    }
                    for n in ("echo", "delete_thing", "show_header")
                ]
            }
        elif method == "tools/call" and params.get("name") == "show_header":
            if params.get("arguments", {}).get("renew") and self.reauth is not None:
                self.headers.update(self.reauth())  # as after a 401
            text = self.headers.get("Authorization", "")  # a server that echoes its credential
            result = {"content": [{"type": "text", "text": text}]}
        elif method == "tools/call":
            text = f"echo: {params.get('arguments', {}).get('text')}"
            result = {"content": [{"type": "text", "text": text}]}
        else:
            result = {}
        time.sleep(0.01)
        self.deliver(
            json.dumps({"jsonrpc": "2.0", "id": message["id"], "result": result}).encode() + b"\n"
        )

    def close(self) -> None:
        time.sleep(self.close_seconds)
        self.closed.set()


def guard_remote_main(argv: list[str]) -> int:
    """``mcpcred shim ARGV`` in guard mode, with this fake as the remote server's HTTP side."""
    from mcpcred.errors import McpcredError
    from mcpcred.guard.run import run
    from mcpcred.guard.settings import load
    from mcpcred.shim import fail
    from mcpcred.shim.options import parse

    options = parse(argv)
    try:
        settings = load(options.server, os.environ, client=options.client)
        assert settings is not None, "the test must write a [servers.NAME] table"
        return run(options, settings, os.environ, upstream=FakeUpstream)
    except McpcredError as exc:
        return fail.report(exc, options.label())


if __name__ == "__main__":
    import sys

    raise SystemExit(guard_remote_main(sys.argv[1:]))
