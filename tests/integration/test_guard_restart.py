"""A guarded server outlives its access token: restarted with a fresh one, session kept.

Real parts: oidc-provider issues 6-second access tokens (refresh due after 3 s),
``mcpcred login`` stores the login in the real keychain, and a guarded server
(``restart_on_expiry = true``) reads the token from its environment. The
client initializes once; after the token is due, the shim restarts the
server with a refreshed token and replays the client's ``initialize``, so the
client's next call, on the same connection, sees the new token. A request
still running at that moment gets an error answer, not silence. Both tokens
are masked for the client (the renewed one joins what the guard looks for);
what the server really sent is read from its ``--record-out`` file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.test_login_e2e import MCPCRED, PROVIDER, _env, login, resource_call
from tests.support.oauth_server import StartOidcServer
from tests.support.scripted_server import LineClient

pytestmark = pytest.mark.slow

SERVER = Path(__file__).resolve().parents[1] / "support" / "scripted_server.py"


def _request(request_id: int, method: str, params: dict[str, object]) -> bytes:
    message = {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    return json.dumps(message).encode() + b"\n"


def _token(pipe: LineClient, request_id: int, sent: Path) -> str:
    """The server's token, read from what it sent; the client must see only the reference."""
    pipe.send(
        _request(request_id, "tools/call", {"name": "get_env", "arguments": {"name": "TOKEN"}})
    )
    answer, _ = pipe.answer_to(request_id, timeout=30)
    assert answer["result"]["content"][0]["text"] == f"[redacted mcpcred:oauth/{PROVIDER}]"
    # The server answered the guard's id for the request, not ``request_id``: its latest answer.
    answers = [m for m in map(json.loads, sent.read_bytes().splitlines()) if "result" in m]
    token = str(answers[-1]["result"]["content"][0]["text"])
    assert token.count(".") == 2, "the server did not get a token"
    return token


def test_a_guarded_server_is_restarted_with_a_fresh_token_and_the_session_goes_on(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, tmp_path: Path
) -> None:
    server = start_oidc_server(ACCESS_TTL="6")
    assert login(server, "--flow", "pkce").returncode == 0
    config = tmp_path / "config.toml"
    config.write_text("[servers.probe]\nrestart_on_expiry = true\npin = false\n")
    data = tmp_path / "data"
    starts = tmp_path / "starts"
    sent = tmp_path / "sent"
    env = _env(
        TOKEN=f"mcpcred:oauth/{PROVIDER}",
        MCPCRED_CONFIG=str(config),
        MCPCRED_DATA_DIR=str(data),
        SCRIPTED_SERVER_OPTS=f"--record {starts} --record-out {sent}",
    )
    shim = subprocess.Popen(
        [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--",
         sys.executable, str(SERVER)],
        env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert shim.stdin is not None and shim.stdout is not None
    pipe = LineClient(shim.stdin.fileno(), shim.stdout.fileno())
    try:
        init: dict[str, object] = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}  # fmt: skip
        pipe.send(_request(0, "initialize", init))
        first_init, _ = pipe.answer_to(0)
        assert first_init["result"]["serverInfo"]["name"] == "scripted"
        pipe.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        first = _token(pipe, 1, sent)
        assert resource_call(server, first) == 200

        # A call that is still running when the token is due, long past the drain time.
        pipe.send(_request(2, "tools/call", {"name": "sleep", "arguments": {"seconds": 60}}))
        interrupted, before = pipe.answer_to(2, timeout=30)
        assert "error" in interrupted, interrupted
        assert "restarted to renew its access token" in interrupted["error"]["message"]
        assert all(m.get("id") != 0 for m in before)  # the replayed initialize stays inside

        second = _token(pipe, 3, sent)
        assert second != first
        assert resource_call(server, second) == 200
        assert server.stats()["refresh_ok"] >= 1
        received = starts.read_bytes().splitlines()
        inits = [line for line in received if b'"initialize"' in line]
        assert len(inits) == 2 and inits[0] == inits[1]  # the client's own bytes, replayed
    finally:
        shim.stdin.close()
        assert shim.wait(timeout=15) == 0
        stderr = shim.stderr.read().decode() if shim.stderr else ""
        for stream in (shim.stdout, shim.stderr):
            if stream is not None:
                stream.close()
    assert first not in stderr and second not in stderr
    log = (data / "log" / "audit.jsonl").read_text()
    assert first not in log and second not in log
    events = [json.loads(line)["event"] for line in log.splitlines()]
    assert "restart" in events and "refresh" in events
