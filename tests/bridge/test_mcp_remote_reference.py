"""mcp-remote 0.15.1, the reference bridge, against the test servers: they behave as the reference says.

A second opinion for ``tests/support/remote_servers.py``: if mcp-remote (which
real users run) speaks to these servers the way the reference recipe observed
-- a bearer header from its own environment, the HTTP+SSE fallback, the replay
of ``initialize`` after the server lost the session -- then what the bridge
tests prove against them holds against servers users meet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bridge.conftest import INIT_PARAMS
from tests.support.mcp_parts import _client_bin
from tests.support.remote_servers import serve


class StdioClient:
    """Raw JSON-RPC over a bridge's stdin/stdout (what an MCP client does)."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        self.next_id = 1
        self.stderr: str | None = None

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **msg}) + "\n")
        self.proc.stdin.flush()

    def rpc(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        rid = self.next_id
        self.next_id += 1
        self.send({"id": rid, "method": method, "params": params})
        assert self.proc.stdout is not None
        while True:
            line = self.proc.stdout.readline()
            assert line, "the bridge exited: " + (
                self.proc.stderr.read() if self.proc.stderr else ""
            )
            msg = json.loads(line)
            if msg.get("id") == rid and "method" not in msg:
                return dict(msg)

    def close(self) -> str:
        """End stdin (the client's EOF), reap the process, return its stderr (idempotent)."""
        if self.stderr is None:
            try:  # communicate() closes stdin first: the client's EOF
                _, err = self.proc.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                _, err = self.proc.communicate(timeout=5)
            self.stderr = err
        return self.stderr


@pytest.fixture
def mcp_remote(tmp_path: Path) -> Iterator[Any]:
    if shutil.which("node") is None:
        pytest.skip("node is not installed: mcp-remote (the reference bridge) cannot run")
    binary = _client_bin("mcp-remote")
    clients: list[StdioClient] = []

    def start(url: str, secret: str, *extra: str) -> StdioClient:
        # the secret reaches mcp-remote in its environment; it expands ${AUTH_HEADER} itself
        env = {
            **os.environ,
            "AUTH_HEADER": f"Bearer {secret}",
            "MCP_REMOTE_CONFIG_DIR": str(tmp_path),
        }
        client = StdioClient([binary, url, "--header", "Authorization:${AUTH_HEADER}", *extra], env)
        clients.append(client)
        return client

    yield start
    for client in clients:
        client.close()


def _echo(client: StdioClient, text: str) -> str:
    answer = client.rpc("tools/call", {"name": "echo", "arguments": {"text": text}})
    assert "result" in answer, answer
    return str(answer["result"]["content"][0]["text"])


def test_mcp_remote_speaks_to_the_streamable_server_and_recovers_a_lost_session(
    mcp_remote: Any,
) -> None:
    with serve("legacy", auth="bearer") as server:
        client = mcp_remote(server.url, server.secret)
        init = client.rpc("initialize", INIT_PARAMS)
        assert init["result"]["serverInfo"]["name"] == "remote-legacy-bearer"
        client.send({"method": "notifications/initialized"})
        assert _echo(client, "via mcp-remote") == "echo: via mcp-remote"
        assert (
            client.rpc("tools/call", {"name": "auth_seen", "arguments": {}})["result"]["content"][
                0
            ]["text"]
            == "valid"
        )
        server.restart()  # the reference: mcp-remote replays initialize after the 404
        assert _echo(client, "after restart") == "echo: after restart"


def test_mcp_remote_falls_back_to_http_sse(mcp_remote: Any) -> None:
    with serve("sse", auth="bearer") as server:
        client = mcp_remote(server.url, server.secret)
        init = client.rpc("initialize", INIT_PARAMS)
        assert init["result"]["serverInfo"]["name"] == "remote-sse-bearer"
        client.send({"method": "notifications/initialized"})
        assert _echo(client, "sse") == "echo: sse"
        assert "sse" in client.close().lower()  # it says which strategy it fell back to


def test_mcp_remote_translates_for_the_modern_server_in_auto_mode(mcp_remote: Any) -> None:
    with serve("bearer") as server:
        client = mcp_remote(server.url, server.secret, "--protocol", "auto")
        init = client.rpc("initialize", INIT_PARAMS)
        assert init["result"]["serverInfo"]["name"] == "remote-http-bearer"
        client.send({"method": "notifications/initialized"})
        assert _echo(client, "modern") == "echo: modern"
        assert "2026-07-28" in client.close()
