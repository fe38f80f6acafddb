"""Guard mode against parsers that read a line differently than the guard does.

A real ``mcpcred shim`` in guard mode (real keychain for the audit log's key),
driven over raw pipes, so the test can send exactly the bytes an attacker would:

- in front of the MCP Python SDK's own stdio server, which reads with universal
  newlines (a bare CR ends a message): a refused ``tools/call`` hidden between
  two CRs of a line that is one valid JSON object to the guard must not run
  (the tool leaves a marker file if it does);
- in front of ``tests/support/scripted_server.py`` playing a hostile or sloppy
  server: a ``tools/list`` answered with the id as a string (SDK clients match
  ``"2"`` to ``2``) must not bring the refused tools to the client, and input
  that used to crash the relay (a lone surrogate in a tool list, invalid UTF-8,
  integers at and past Python's 4,300-digit limit) gives an error or a record,
  never a dead relay thread.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import scripted_server
from tests.support.scripted_server import encode

pytestmark = pytest.mark.slow

SUPPORT = Path(scripted_server.__file__).resolve().parent
SCRIPTED = SUPPORT / "scripted_server.py"
SDK_SERVER = SUPPORT / "sdk_marker_server.py"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "wire", "version": "1"},
    },
}
INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
PROBE = b'{"jsonrpc":"2.0","id":"probe","method":"tools/call","params":{"name":"read_note"}}\n'


class Shim:
    """``mcpcred shim --server demo`` around ``server``, with raw pipes to it."""

    def __init__(self, folder: Path, env: dict[str, str], server: list[str]) -> None:
        self.folder = folder
        self.stderr_path = folder / "shim.stderr"
        argv = [sys.executable, "-m", "mcpcred", "shim", "--server", "demo", "--", *server]
        self.process, self.client = scripted_server.spawn(argv, env, self.stderr_path)

    def send(self, data: bytes) -> None:
        self.client.send(data, 10)

    def answer(self, request_id: Any, timeout: float = 20.0) -> tuple[dict[str, Any], list[Any]]:
        answer, before = self.client.answer_to(request_id, timeout)
        assert isinstance(answer, dict)
        return answer, before

    def request(self, request_id: Any, method: str, params: Any = None) -> dict[str, Any]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(encode(message))
        return self.answer(request_id)[0]

    def initialize(self) -> None:
        self.send(encode(INITIALIZE))
        answer, _ = self.answer(0, 30)
        assert "result" in answer, answer
        self.send(INITIALIZED)

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def close(self) -> int:
        """Close stdin as a client does; the shim's exit code."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=15)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


@pytest.fixture
def shim(tmp_path: Path, keychain: dict[str, str]) -> Iterator[Callable[..., Shim]]:
    """``shim(server_argv, config=...)``: a guarded shim; killed with its group afterwards."""
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTED_SERVER_OPTS"}
    env["MCPCRED_CONFIG"] = str(tmp_path / "config.toml")
    env["MCPCRED_DATA_DIR"] = str(tmp_path / "data")
    started: list[Shim] = []

    def start(server: list[str], config: str = '[servers.demo]\ndeny = ["delete_*"]\n') -> Shim:
        (tmp_path / "config.toml").write_text(config)
        folder = tmp_path / f"shim-{len(started)}"
        folder.mkdir()
        started.append(Shim(folder, env, server))
        return started[-1]

    yield start
    for one in started:
        one.kill()


def audit(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "data" / "log" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def call(request_id: Any, tool: str, arguments: Any = None) -> bytes:
    params = {"name": tool, "arguments": arguments or {}}
    return encode({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})


def test_a_refused_call_hidden_between_carriage_returns_never_runs(
    shim: Callable[..., Shim], tmp_path: Path
) -> None:
    marker = tmp_path / "delete_everything.ran"
    guarded = shim([sys.executable, str(SDK_SERVER), str(marker)])
    guarded.initialize()
    hidden = call(9, "delete_everything")[:-1]
    # One JSON object to the guard: a ping with a member "x" (CR is JSON whitespace).
    # Three lines to the SDK server: junk, the refused call, junk.
    guarded.send(b'{"x":\r' + hidden + b'\r,"jsonrpc":"2.0","id":1,"method":"ping"}\n')
    guarded.send(PROBE)
    probe, before = guarded.answer("probe")
    assert "result" in probe, probe
    assert not marker.exists(), "the refused tool ran: the server read a call the guard never saw"
    pongs = [m for m in before if isinstance(m, dict) and m.get("id") == 1]
    pong = pongs[0] if pongs else guarded.answer(1)[0]
    assert pong.get("result") == {}, pong  # the server got the ping, as the guard read it
    # Not JSON to the guard at all, without a policy or with one: never forwarded.
    guarded.send(b'{"jsonrpc":"2.0","id":2,"method":"ping"}\r' + hidden + b"\n")
    refused, more = guarded.answer(None)  # two ids in the line: the error names neither
    assert refused["error"]["code"] == -32700, refused
    note = guarded.request(3, "tools/call", {"name": "read_note", "arguments": {}})
    assert note["result"]["content"][0]["text"] == "a note"
    assert all(m.get("id") != 9 for m in [*before, *more] if isinstance(m, dict))
    assert not marker.exists(), "the refused tool ran: the server read a call the guard never saw"
    direct = guarded.request(4, "tools/call", {"name": "delete_everything", "arguments": {}})
    assert direct["result"]["isError"] is True
    assert guarded.close() == 0
    assert not marker.exists()
    records = audit(tmp_path)
    assert any(r["event"] == "malformed" and r.get("outcome") == "denied" for r in records)


def test_a_tool_list_answered_with_a_string_id_does_not_reach_the_client(
    shim: Callable[..., Shim], tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    listed = json.dumps(scripted_server.TOOLS)
    tools.write_text('#answer\n{"jsonrpc":"2.0","id":"@ID@","result":{"tools":' + listed + "}}")
    guarded = shim([sys.executable, str(SCRIPTED), "--tools-file", str(tools)])
    guarded.initialize()
    guarded.send(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n')
    # the server answers with "2" for the guard's 2; SDK clients would take it for 1's
    guarded.send(b'{"jsonrpc":"2.0","id":"after","method":"ping"}\n')
    pong, before = guarded.answer("after")
    assert pong.get("result") == {}, pong
    assert not [m for m in before if "delete_thing" in json.dumps(m)], before
    assert [m for m in before if m.get("id") == 1] == [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "error": {
                "code": -32000,
                "message": "mcpcred: server 'demo' answered with an id of type str; "
                "it was not passed on",
            },
        }
    ]  # the client's tools/list fails at once instead of waiting
    assert "did not issue" in guarded.stderr()
    assert guarded.close() == 0
    dropped = [r for r in audit(tmp_path) if r["event"] == "malformed"]
    assert dropped and "did not issue" in dropped[0]["detail"]


def emit(request_id: str, *lines: bytes) -> bytes:
    return call(request_id, "emit", {"lines": [base64.b64encode(x).decode() for x in lines]})


def test_input_that_crashed_the_relay_gives_errors_and_records(
    shim: Callable[..., Shim], tmp_path: Path
) -> None:
    tools = tmp_path / "tools.json"
    lone = json.dumps([*scripted_server.TOOLS, {"name": "odd", "description": "\ud800"}])
    tools.write_text(lone)  # spliced into the answer as it is: "\ud800" stays an escape
    guarded = shim([sys.executable, str(SCRIPTED), "--tools-file", str(tools)])
    guarded.initialize()
    # a lone surrogate in a tools/list result (it killed the server->client thread)
    listing = guarded.request(1, "tools/list")
    assert "error" in listing and "cannot read" in listing["error"]["message"], listing
    # invalid UTF-8 and a 5000-digit integer from the client: refused, with its id
    guarded.send(b'{"jsonrpc":"2.0","id":2,"method":"ping","params":{"x":"\xff\xfe"}}\n')
    assert guarded.answer(2)[0]["error"]["code"] == -32700
    guarded.send(b'{"jsonrpc":"2.0","id":3,"method":"ping","params":{"n":1' + b"0" * 5000 + b"}}\n")
    assert guarded.answer(3)[0]["error"]["code"] == -32700
    # 4,300 digits is what Python still reads: it passes, both ways
    digits = "9" * 4300
    echoed = guarded.request(
        4, "tools/call", {"name": "echo", "arguments": {"message": "n", "n": int(digits)}}
    )
    assert echoed["result"]["content"][0]["text"] == "n"
    note = (
        b'{"jsonrpc":"2.0","method":"notifications/message","params":{"n":-'
        + digits.encode()
        + b"}}"
    )
    guarded.send(
        emit(
            "e1",
            note,
            b'{"jsonrpc":"2.0","method":"x","params":{"n":1' + b"0" * 5000 + b"}}",
            b"\xff\xfe\xfd",
        )
    )
    emitted, before = guarded.answer("e1")
    assert emitted["result"]["content"][0]["text"] == "emitted 3"
    assert [m["params"]["n"] for m in before] == [-int(digits)]  # the other two: dropped
    # and the relay still works both ways
    assert guarded.request(5, "ping") == {"jsonrpc": "2.0", "id": 5, "result": {}}
    assert guarded.close() == 0
    stderr = guarded.stderr()
    assert "Traceback" not in stderr and "could not be handled" not in stderr
    kinds = [r["detail"] for r in audit(tmp_path) if r["event"] == "malformed"]
    assert len(kinds) == 5, kinds
    assert any("lone surrogate" in k for k in kinds) and any("UTF-8" in k for k in kinds)
