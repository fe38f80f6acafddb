"""A stdio-client stand-in around ``Upstream``: send messages, wait for the answer to an id."""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from mcpcred.bridge.upstream import Upstream

INIT_PARAMS = {
    "protocolVersion": "2025-11-25",
    "capabilities": {"elicitation": {}},
    "clientInfo": {"name": "bridge-test", "version": "0"},
}


class Peer:
    """The local client's side: every delivered line is checked to be one JSON-RPC message."""

    def __init__(self) -> None:
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.warnings: list[str] = []
        self.raw_bytes: list[int] = []
        self.lock = threading.Lock()
        self.up: Upstream | None = None
        self.next_id = 1
        self.on_request: Any = None
        self.answers: dict[str, dict[str, Any]] = {}

    def deliver(self, line: bytes) -> None:
        assert line.endswith(b"\n") and b"\n" not in line[:-1], "one message per line"
        msg = json.loads(line)
        with self.lock:
            self.seen.append(msg)
        if "method" in msg and "id" in msg and self.on_request is not None:
            answer = self.on_request(msg)
            if answer is not None and self.up is not None:
                self.up.send(json.dumps({"jsonrpc": "2.0", "id": msg["id"], **answer}).encode())
            return
        self.lines.put(msg)

    def warn(self, text: str) -> None:
        with self.lock:
            self.warnings.append(text)

    def send(self, msg: Mapping[str, Any]) -> None:
        assert self.up is not None
        self.up.send(json.dumps({"jsonrpc": "2.0", **msg}).encode() + b"\n")

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> int:
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": method, "params": dict(params or {})})
        return rid

    def wait(self, rid: object, timeout: float = 30.0) -> dict[str, Any]:
        """The answer to ``rid`` (answers to other ids that arrive first are kept for later)."""
        deadline = time.monotonic() + timeout
        key = json.dumps(rid)
        while key not in self.answers:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no answer to {rid!r}; seen {[m.get('id') for m in self.seen]}"
                )
            try:
                msg = self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if "method" not in msg and "id" in msg:
                self.answers[json.dumps(msg["id"])] = msg
        return self.answers.pop(key)

    def rpc(
        self, method: str, params: Mapping[str, Any] | None = None, timeout: float = 30.0
    ) -> dict[str, Any]:
        return self.wait(self.request(method, params), timeout)

    def handshake(self) -> dict[str, Any]:
        answer = self.rpc("initialize", INIT_PARAMS)
        self.send({"method": "notifications/initialized"})
        return answer

    def call(self, name: str, timeout: float = 30.0, **arguments: Any) -> dict[str, Any]:
        return self.rpc("tools/call", {"name": name, "arguments": arguments}, timeout)

    def text_of(self, answer: dict[str, Any]) -> str:
        assert "result" in answer, answer
        return str(answer["result"]["content"][0]["text"])


@pytest.fixture
def bridge() -> Iterator[Any]:
    """``bridge(url, headers, **kw) -> Peer`` with a started Upstream, closed after the test."""
    made: list[Upstream] = []

    def make(url: str, headers: Mapping[str, str] | None = None, **kw: Any) -> Peer:
        peer = Peer()
        up = Upstream(url, dict(headers or {}), peer.deliver, warn=peer.warn, **kw)
        peer.up = up
        up.start()
        made.append(up)
        return peer

    yield make
    for up in made:
        up.close()
