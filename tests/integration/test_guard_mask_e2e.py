"""The values mcpcred injects never reach the model, the client's log or the audit log.

A guarded server gets its secrets from the real keychain (gnome-keyring on a
private bus) through ``mcpcred shim``; then it shows them back the ways servers
do: an env-dump tool (``get-env`` of the real ``server-everything``), an error
message, base64 and percent-encoded forms, a notification, a line that is not
JSON, its stderr. The client must see ``[redacted mcpcred:secret/NAME]`` each
time, and the audit log must hold neither the value nor its encodings, whatever
the secret detector thinks of it. ``mask_injected = false`` passes the values
on to the client, but never into the log.
"""

# ruff: noqa: F811  (the tests take the imported ``guarded`` fixture as a parameter)

from __future__ import annotations

import base64
import contextlib
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.test_guard_e2e import (  # noqa: F401 (guarded is a fixture)
    Called,
    Guarded,
    call,
    cli,
    cli_ok,
    events,
    guarded,
    log_texts,
    run_session,
    shim_params,
)
from tests.support import mcp_parts, tokengen
from tests.support.procs import kill_if_running
from tests.support.scripted_server import LineClient, encode, spawn

pytestmark = pytest.mark.slow

SCRIPTED = Path(__file__).resolve().parents[1] / "support" / "scripted_server.py"
ODD = 'pa"ss\\wo/rd+\u00e9=?&x'  # escaped in JSON (once and twice), percent-encoded


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaked_forms(value: str) -> list[str]:
    """What must not be in a file: the value, its start, and its common encodings."""
    return [
        value,
        value[:12],
        json.dumps(value)[1:-1],
        b64(value),
        b64(value)[:16],
        base64.b64encode(b"x-access-token:" + value.encode()).decode()[:24],
        quote(value, safe=""),
    ]


def assert_nowhere(value: str, texts: dict[Any, str]) -> None:
    for where, text in texts.items():
        for form in leaked_forms(value):
            assert form not in text, f"{form!r} in {where}"


def store(name: str, value: str) -> None:
    cli_ok("secret", "set", name, "--from-stdin", input=value + "\n")


# -- 1. server-everything's env dump, with the MCP SDK -----------------------------------------


def test_server_everything_env_dump_is_masked_for_the_model_and_the_log(
    guarded: Guarded, tmp_path: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random("mask-e2e"))
    store("demo-token", token)
    store("odd-pass", ODD)
    guarded.write_config("[servers.everything]\n")
    params = shim_params(
        guarded,
        "everything",
        ["node", mcp_parts.everything_js(), "stdio"],
        env={"MY_TOKEN": "mcpcred:secret/demo-token", "ODD_PASS": "mcpcred:secret/odd-pass"},
    )
    wrapped = base64.b64encode(b"me:" + token.encode()).decode()

    async def script(session: Any) -> tuple[Called, Called]:
        return await call(session, "get-env"), await call(session, "echo", {"message": wrapped})

    (dump, echo), stderr = run_session(params, script, tmp_path / "err")

    assert not dump.is_error, dump
    env = json.loads(dump.text)  # JSON.stringify(process.env), escaped twice on the wire
    assert env["MY_TOKEN"] == "[redacted mcpcred:secret/demo-token]", env.get("MY_TOKEN")
    assert env["ODD_PASS"] == "[redacted mcpcred:secret/odd-pass]", env.get("ODD_PASS")
    assert "PATH" in env  # the rest of the dump is intact
    assert "[redacted mcpcred:secret/demo-token]" in echo.text and wrapped not in echo.text
    for value in (token, ODD):
        assert_nowhere(value, {"answer": dump.text + echo.text, "stderr": stderr})
        assert_nowhere(value, log_texts(guarded))
    assert "Starting" in stderr, stderr  # the server's own stderr still reaches the log
    (masked,) = events(guarded, "everything", "mask")
    assert masked["credentials"] == ["secret/demo-token", "secret/odd-pass"], masked
    (echoed,) = [r for r in events(guarded, "everything", "call") if r.get("tool") == "echo"]
    assert echoed["arguments"] == {"message": "[redacted mcpcred:secret/demo-token]"}
    assert cli("log", "verify").returncode == 0


# -- 2. a scripted server shows its token every way it can ---------------------------------------


class Shim:
    """``mcpcred shim`` guarding the scripted server, driven with raw JSON-RPC lines."""

    def __init__(self, guarded: Guarded, folder: Path, env: dict[str, str]) -> None:
        folder.mkdir()
        self.stderr_path = folder / "stderr"
        argv = [
            sys.executable, "-m", "mcpcred", "shim", "--server", "leaky", "--client", "test",
            "--", sys.executable, str(SCRIPTED), "--stderr", "token={{mcpcred:secret/demo-token}}",
        ]  # fmt: skip
        full = {k: v for k, v in os.environ.items() if k != "SCRIPTED_SERVER_OPTS"}
        self.process, self.client = spawn(
            argv, {**full, **guarded.entry_env, **env}, self.stderr_path
        )
        self.next = 0

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next += 1
        message = {"jsonrpc": "2.0", "id": self.next, "method": method, "params": params}
        self.client.send(encode(message), 10)
        answer, _ = self.client.answer_to(self.next, 15)
        assert isinstance(answer, dict)
        return answer

    def get_env(self, **arguments: Any) -> str:
        answer = self.request(
            "tools/call", {"name": "get_env", "arguments": {"name": "TOKEN", **arguments}}
        )
        if "error" in answer:
            return str(answer["error"]["message"])
        return str(answer["result"]["content"][0]["text"])

    def start(self) -> None:
        init = {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "0"},
        }
        assert self.request("initialize", init)["result"]["serverInfo"]["name"] == "scripted"
        self.client.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n', 10)

    def close(self) -> str:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            assert self.process.wait(timeout=15) == 0
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(5)
            self.process.stdout.close()
        return self.stderr_path.read_text(errors="replace")


def emitted(client: LineClient, count: int) -> list[bytes]:
    """The next ``count`` lines, with their deadline."""
    return [client.read_line(10) for _ in range(count)]


def test_a_server_echoing_its_token_shows_the_client_only_the_reference(
    guarded: Guarded, tmp_path: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random("mask-scripted"))
    store("demo-token", token)
    guarded.write_config('[servers.leaky]\ndeny = ["delete_*"]\n')
    store("short-pin", "Qz7-kW")
    shim = Shim(
        guarded,
        tmp_path / "masked",
        {"TOKEN": "mcpcred:secret/demo-token", "PIN": "mcpcred:secret/short-pin"},
    )
    placeholder = "[redacted mcpcred:secret/demo-token]"
    try:
        shim.start()
        assert shim.get_env() == placeholder
        assert shim.get_env(name="PIN") == "[redacted mcpcred:secret/short-pin]"  # whole string
        # a short value is not looked for inside text passed on to the client...
        assert shim.get_env(name="PIN", error=True) == "cannot use the configured value Qz7-kW"
        assert shim.get_env(error=True) == f"cannot use the configured value {placeholder}"
        assert shim.get_env(form="base64") == placeholder
        assert shim.get_env(form="basic") == "Basic " + placeholder
        assert shim.get_env(form="url") == placeholder
        notification = {"jsonrpc": "2.0", "method": "notifications/message",
                        "params": {"level": "debug", "data": f"auth with {token}"}}  # fmt: skip
        lines = [encode(notification)[:-1], b"not json: " + token.encode()]
        shim.client.send(
            encode({"jsonrpc": "2.0", "id": 99, "method": "tools/call", "params": {
                "name": "emit", "arguments": {"lines": [base64.b64encode(x).decode() for x in lines]}
            }}), 10
        )  # fmt: skip
        # the line that is not JSON never reaches the client (guard/wire.py): only two come
        first, done = emitted(shim.client, 2)
        assert json.loads(first)["params"]["data"] == f"auth with {placeholder}"
        assert json.loads(done)["id"] == 99
    finally:
        stderr = shim.close()
    assert f"token={placeholder}" in stderr, stderr
    assert "secret/short-pin: shorter than 8 characters" in stderr, stderr
    assert_nowhere(token, {"stderr": stderr})
    assert_nowhere(token, log_texts(guarded))
    (masked,) = events(guarded, "leaky", "mask")
    assert masked["credentials"] == ["secret/demo-token", "secret/short-pin"]
    errors = [r.get("error") for r in events(guarded, "leaky", "call") if r.get("error")]
    assert errors == [
        "cannot use the configured value [redacted mcpcred:secret/short-pin]",
        f"cannot use the configured value {placeholder}",
    ], errors
    assert "Qz7-kW" not in "".join(log_texts(guarded).values())
    assert cli("log", "verify").returncode == 0


def test_mask_injected_false_passes_values_to_the_client_but_not_to_the_log(
    guarded: Guarded, tmp_path: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random("mask-off"))
    store("demo-token", token)
    guarded.write_config("[servers.leaky]\nmask_injected = false\n")
    shim = Shim(guarded, tmp_path / "unmasked", {"TOKEN": "mcpcred:secret/demo-token"})
    try:
        shim.start()
        assert shim.get_env() == token
        assert shim.get_env(error=True) == f"cannot use the configured value {token}"
        assert shim.get_env(form="base64") == b64(token)
    finally:
        stderr = shim.close()
    assert f"token={token}" in stderr  # stderr is the server's own, as without masking
    assert_nowhere(token, log_texts(guarded))
    errors = [r.get("error") for r in events(guarded, "leaky", "call") if r.get("error")]
    assert errors == ["cannot use the configured value [redacted mcpcred:secret/demo-token]"]
    assert events(guarded, "leaky", "mask") == []


def test_masked_stderr_is_flushed_when_the_server_crashes_and_never_holds_up_the_exit(
    guarded: Guarded, tmp_path: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random("mask-crash"))
    store("demo-token", token)
    guarded.write_config("[servers.leaky]\n")
    grandchild = tmp_path / "grandchild.pid"
    env = {
        "TOKEN": "mcpcred:secret/demo-token",
        "SCRIPTED_SERVER_OPTS": f"--grandchild {grandchild}",
    }
    shim = Shim(guarded, tmp_path / "crash", env)
    try:
        shim.start()
        said = shim.request(
            "tools/call", {"name": "say", "arguments": {"text": f"last words {token}"}}
        )
        assert said["result"]["content"][0]["text"] == "said"
        shim.client.send(encode({"jsonrpc": "2.0", "id": 50, "method": "tools/call",
                                 "params": {"name": "crash", "arguments": {"code": 3}}}), 10)  # fmt: skip
        answer, _ = shim.client.answer_to(50, 15)
        assert "exited with code 3" in answer["error"]["message"]
        started = time.monotonic()
        # the grandchild (sleep 600) still holds the server's stderr: the shim must not wait for it
        assert shim.process.wait(timeout=15) == 3
        assert time.monotonic() - started < 10
    finally:
        if shim.process.poll() is None:
            shim.process.kill()
            shim.process.wait(5)
        if grandchild.exists():
            with contextlib.suppress(OSError, ValueError):
                kill_if_running(int(grandchild.read_text()), "sleep")
        for pipe in (shim.process.stdin, shim.process.stdout):
            if pipe is not None:
                pipe.close()
    stderr = shim.stderr_path.read_text(errors="replace")
    assert "last words [redacted mcpcred:secret/demo-token]" in stderr, stderr
    assert token not in stderr
