"""The shim as a stdio<->HTTP bridge, end to end: real clients, real servers, the real keychain.

The remote servers are the MCP Python SDK's own HTTP apps (``tests/support/remote_servers.py``:
Streamable HTTP with a bearer token, an ``X-Api-Key`` header or a ``?key=`` query, and
legacy HTTP+SSE), on random loopback ports. The clients are the SDK's stdio client
(``mcp.client.stdio``) and the MCP Inspector CLI, each starting ``mcpcred shim --url ...``
the way a client config written by ``wrap`` does. The secrets live only in the keychain
(gnome-keyring on a private bus): the entry holds references.

Guard mode over a remote server goes through the same relay and session as a local
one: a denied tool never reaches the server, the audit log names the server's URL
(origin and path only) and ``mcpcred log verify`` accepts it.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

from tests.support import keychain as real_keychain
from tests.support import mcp_parts, remote_servers

if TYPE_CHECKING:
    from mcp import ClientSession, StdioServerParameters

pytestmark = pytest.mark.slow

T = TypeVar("T")
SECRET = "remote-s3cret-e2e-0123456789abcdef"
SESSION_TIMEOUT = 40.0


@dataclass
class Env:
    """This test's mcpcred folders, and the variables a shim entry needs (the SDK scrubs env)."""

    config: Path
    data: Path
    entry_env: dict[str, str]

    @property
    def audit(self) -> Path:
        return self.data / "log" / "audit.jsonl"

    def records(self) -> list[dict[str, Any]]:
        lines = self.audit.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def files(self) -> dict[Path, str]:
        return {
            p: p.read_text(encoding="utf-8", errors="replace")
            for p in sorted(self.data.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def env(keychain: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    config = tmp_path / "mcpcred-config.toml"
    data = tmp_path / "mcpcred-data"
    runtime = tmp_path / "mcpcred-run"
    runtime.mkdir(mode=0o700)
    own = {
        "MCPCRED_CONFIG": str(config),
        "MCPCRED_DATA_DIR": str(data),
        "MCPCRED_RUNTIME_DIR": str(runtime),
    }
    for name, value in own.items():
        monkeypatch.setenv(name, value)
    return Env(config, data, {**keychain, **own})


def shim_args(
    url: str, *headers: str, server: str = "remote", extra: Sequence[str] = ()
) -> list[str]:
    args = ["-m", "mcpcred", "shim", "--server", server, "--client", "test", "--url", url]
    for header in headers:
        args += ["--header", header]
    return [*args, *extra]


def params(env: Env, args: list[str]) -> StdioServerParameters:
    from mcp import StdioServerParameters

    return StdioServerParameters(command=sys.executable, args=args, env=dict(env.entry_env))


def run_session(
    server: StdioServerParameters,
    script: Callable[[ClientSession], Awaitable[T]],
    stderr: Path,
    **callbacks: Any,
) -> tuple[T, str]:
    """The SDK's stdio client: start the shim, initialize, run ``script``, close, wait.

    ``callbacks`` go to ``ClientSession`` (``elicitation_callback``...)."""
    from mcp import ClientSession
    from mcp.client.stdio import stdio_client

    async def main() -> T:
        with stderr.open("w", encoding="utf-8") as errlog:
            async with (
                stdio_client(server, errlog=errlog) as (read, write),
                ClientSession(read, write, **callbacks) as session,
            ):
                await session.initialize()
                return await script(session)

    result = asyncio.run(asyncio.wait_for(main(), SESSION_TIMEOUT))
    return result, stderr.read_text(encoding="utf-8", errors="replace")


async def call(session: Any, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await session.call_tool(tool, arguments)
    dumped = result.model_dump(mode="json", by_alias=True)
    return bool(dumped.get("isError")), mcp_parts.content_text(dumped)


async def tools_and_calls(session: ClientSession) -> tuple[list[str], tuple[bool, str], str]:
    listed = await session.list_tools()
    echoed = await call(session, "echo", text="through the bridge")
    _, seen = await call(session, "auth_seen")
    return sorted(t.name for t in listed.tools), echoed, seen


# -- the unguarded bridge, with the SDK's stdio client ----------------------------------------


@pytest.mark.parametrize(
    ("mode", "reference_in"),
    [
        ("bearer", "header"),
        ("apikey", "header"),
        ("query", "url"),
        ("query", "whole-url"),
        ("sse", "header"),
    ],
)
def test_sdk_client_calls_tools_through_the_bridge(
    env: Env, tmp_path: Path, mode: str, reference_in: str
) -> None:
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    auth = {"sse": "bearer"}.get(mode)  # legacy HTTP+SSE, with a bearer token
    with remote_servers.serve(mode, secret=SECRET, **({"auth": auth} if auth else {})) as srv:
        ref = "{{mcpcred:secret/remote-key}}"
        if mode == "apikey":
            args = shim_args(srv.bare_url, "X-Api-Key: mcpcred:secret/remote-key")
        elif reference_in == "url":
            args = shim_args(f"{srv.bare_url}?key={ref}")
        elif reference_in == "whole-url":  # the whole URL, key and all, is the secret
            real_keychain.store(env.entry_env, "mcpcred", "remote-url", srv.url)
            args = shim_args("mcpcred:secret/remote-url")
        else:
            args = shim_args(srv.bare_url, f"Authorization: Bearer {ref}")
        assert SECRET not in " ".join(args)  # the entry holds references only
        (names, echoed, seen), stderr = run_session(
            params(env, args), tools_and_calls, tmp_path / "e"
        )
    assert "echo" in names and "auth_seen" in names, names
    assert echoed == (False, "echo: through the bridge"), echoed
    # the secret from the keychain reached the server (in the query, the gate checked it:
    # without it nothing would have answered; auth_seen looks at headers only)
    assert seen == ("valid" if reference_in == "header" else "absent")
    assert SECRET not in stderr, stderr


def test_a_wrong_secret_is_a_clear_tool_error_without_the_value(env: Env, tmp_path: Path) -> None:
    wrong = "wrong-s3cret-value-0123456789"
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", wrong)
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        args = shim_args(srv.bare_url, "Authorization: Bearer {{mcpcred:secret/remote-key}}")

        async def script(session: ClientSession) -> str:
            raise AssertionError("initialize must fail")  # pragma: no cover

        with pytest.raises(BaseException) as caught:  # the SDK raises McpError in a group
            run_session(params(env, args), script, tmp_path / "e")
    text = repr(caught.value) + str(getattr(caught.value, "exceptions", ""))
    assert "401" in text or "auth" in text.lower(), text
    assert wrong not in text and wrong not in (tmp_path / "e").read_text()


# -- process life: EOF, signals ------------------------------------------------------------------


INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "raw", "version": "1"}},
}  # fmt: skip


@pytest.fixture
def raw_bridge(env: Env) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(url: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, *shim_args(url, "Authorization: Bearer {{mcpcred:secret/remote-key}}")],
            env={**os.environ, **env.entry_env},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.stdout is not None:
            _BUFFERS.pop(proc.stdout.fileno(), None)
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


_BUFFERS: dict[int, bytes] = {}


def read_message(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> dict[str, Any]:
    """The bridge's next line on stdout, parsed; fails (never hangs) after ``timeout``."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    buffer = _BUFFERS.get(fd, b"")
    deadline = time.monotonic() + timeout
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        assert left > 0, f"no message from the bridge within {timeout} s"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 1 << 20)
            assert chunk, "the bridge closed stdout"
            buffer += chunk
    line, _BUFFERS[fd] = buffer.split(b"\n", 1)
    message: dict[str, Any] = json.loads(line)
    return message


def _initialized(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
    proc.stdin.flush()
    answer = read_message(proc)
    proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    proc.stdin.flush()
    return answer


def test_stdin_eof_ends_the_bridge_with_exit_0_and_ends_the_session(
    env: Env, raw_bridge: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        proc = raw_bridge(srv.bare_url)
        assert _initialized(proc)["result"]["serverInfo"]["name"].startswith("remote-")
        assert proc.stdin is not None
        started = time.monotonic()
        proc.stdin.close()
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 10
        assert proc.stderr is not None
        assert SECRET not in proc.stderr.read().decode()


def test_stdin_eof_with_a_long_call_in_flight_ends_within_a_bound(
    env: Env, raw_bridge: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    """A client that leaves while a 30 s tool call runs does not keep the bridge for 30 s."""
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        proc = raw_bridge(srv.bare_url)
        _initialized(proc)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                     "params": {"name": "slow", "arguments": {"seconds": 30}}}
                                    ).encode() + b"\n")  # fmt: skip
        proc.stdin.flush()
        time.sleep(0.3)
        started = time.monotonic()
        proc.stdin.close()
        assert proc.wait(20) == 0
        assert time.monotonic() - started < 10


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_ends_the_bridge_promptly(
    env: Env, raw_bridge: Callable[[str], subprocess.Popen[bytes]], signum: int
) -> None:
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        proc = raw_bridge(srv.bare_url)
        _initialized(proc)
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                     "params": {"name": "slow", "arguments": {"seconds": 30}}}
                                    ).encode() + b"\n")  # fmt: skip
        proc.stdin.flush()
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signum)
        code = proc.wait(15)
        assert time.monotonic() - started < 5
        assert code == 128 + signum
        assert proc.stderr is not None
        assert "Traceback" not in proc.stderr.read().decode()


# -- guard mode over a remote server ------------------------------------------------------------


@pytest.mark.parametrize("mode", ["query", "sse"])
def test_guard_over_a_remote_server_denies_logs_and_verifies(
    env: Env, tmp_path: Path, mode: str
) -> None:
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    env.config.write_text('[servers.remote]\ndeny = ["big", "slow"]\n', encoding="utf-8")

    async def script(
        session: ClientSession,
    ) -> tuple[list[str], tuple[bool, str], tuple[bool, str]]:
        listed = await session.list_tools()
        denied = await call(session, "big", size=10)
        echoed = await call(session, "echo", text="guarded")
        return sorted(t.name for t in listed.tools), denied, echoed

    if mode == "query":  # the secret in the URL's query: never in a record
        serving = remote_servers.serve("query", secret=SECRET)
    else:  # legacy HTTP+SSE, a bearer header
        serving = remote_servers.serve("sse", auth="bearer", secret=SECRET)
    with serving as srv:
        if mode == "query":
            args = shim_args(f"{srv.bare_url}?key={{{{mcpcred:secret/remote-key}}}}")
        else:
            args = shim_args(srv.bare_url, "Authorization: Bearer {{mcpcred:secret/remote-key}}")
        (names, denied, echoed), stderr = run_session(params(env, args), script, tmp_path / "e")
    assert "big" not in names and "slow" not in names and "echo" in names, names
    assert denied[0] and "deny 'big'" in denied[1] and str(env.config) in denied[1], denied
    assert echoed == (False, "echo: guarded")
    records = env.records()
    calls = [(r.get("tool"), r.get("outcome")) for r in records if r.get("event") == "call"]
    assert ("big", "denied") in calls and ("echo", "ok") in calls, calls
    urls = {r.get("url") for r in records}
    assert urls == {srv.bare_url}, urls  # origin and path: never the ?key= query
    inject = [r for r in records if r.get("event") == "inject"]
    assert inject and inject[0]["credentials"] == ["secret/remote-key"], inject
    assert inject[0]["detail"] == f"connected to {srv.bare_url}"
    for path, text in env.files().items():
        assert SECRET not in text, path
    assert SECRET not in stderr
    verified = subprocess.run(
        [sys.executable, "-m", "mcpcred", "log", "verify"], env={**os.environ, **env.entry_env},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert verified.returncode == 0 and "OK" in verified.stdout, verified
    shown = subprocess.run(
        [sys.executable, "-m", "mcpcred", "log", "--denied", "--json"],
        env={**os.environ, **env.entry_env}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert [json.loads(line)["tool"] for line in shown.stdout.splitlines()] == ["big"], shown


# -- the MCP Inspector CLI -----------------------------------------------------------------------


def test_inspector_calls_a_tool_through_the_bridge(env: Env, tmp_path: Path) -> None:
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        config = tmp_path / "inspector.json"
        entry = {
            "command": sys.executable,
            "args": shim_args(srv.bare_url, "Authorization: Bearer {{mcpcred:secret/remote-key}}"),
            "env": env.entry_env,
        }
        config.write_text(json.dumps({"mcpServers": {"remote": entry}}), encoding="utf-8")
        assert SECRET not in config.read_text()
        run = mcp_parts.inspector_call_tool(config, "remote", "auth_seen", timeout=60)
        assert run.returncode == 0, run.stderr[-2000:]
        assert run.text == "valid", run.stdout
        echoed = mcp_parts.inspector_call_tool(
            config, "remote", "echo", arguments={"text": "inspector"}, timeout=60
        )
    assert echoed.returncode == 0, echoed.stderr[-2000:]
    assert echoed.text == "echo: inspector"
    assert SECRET not in run.stdout + run.stderr + echoed.stdout + echoed.stderr


# -- OAuth: a 401 renews the token through the login's single flight ----------------------------


class TokenEndpoint:
    """A loopback OAuth token endpoint that answers refresh_token grants from a script."""

    def __init__(self, answers: list[tuple[int, dict[str, Any]]]) -> None:
        self.answers = answers
        self.forms: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                outer.forms.append(self.rfile.read(length).decode())
                status, body = outer.answers.pop(0) if outer.answers else (500, {})
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/token"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def token_endpoint() -> Iterator[Callable[[list[tuple[int, dict[str, Any]]]], TokenEndpoint]]:
    made: list[TokenEndpoint] = []

    def make(answers: list[tuple[int, dict[str, Any]]]) -> TokenEndpoint:
        made.append(TokenEndpoint(answers))
        return made[-1]

    yield make
    for endpoint in made:
        endpoint.close()


def _login(env: Env, endpoint: str, cached_token: str) -> None:
    """A stored login ``remote``: a cached access token that looks fresh, and a refresh token."""
    now = time.time()
    access = {
        "v": 1, "access_token": cached_token, "expires_at": now + 3600,
        "refresh_at": now + 3000, "obtained_at": now, "scopes": None,
    }  # fmt: skip
    record = {
        "v": 1, "provider": "remote", "account": "default", "client_id": "bridge-test",
        "token_endpoint": endpoint, "refresh_token": "rt-1", "scopes": [],
    }  # fmt: skip
    real_keychain.store(env.entry_env, "mcpcred", "oauth:remote/default:access", json.dumps(access))
    real_keychain.store(env.entry_env, "mcpcred", "oauth:remote/default", json.dumps(record))


def test_a_401_refreshes_the_login_once_and_the_call_goes_through(
    env: Env, tmp_path: Path, token_endpoint: Callable[..., TokenEndpoint]
) -> None:
    endpoint = token_endpoint([(200, {"access_token": SECRET, "token_type": "Bearer",
                                      "expires_in": 3600, "refresh_token": "rt-2"})])  # fmt: skip
    _login(env, endpoint.url, "revoked-token-the-server-refuses")
    env.config.write_text("[servers.remote]\n", encoding="utf-8")  # guarded: refresh is recorded
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        args = shim_args(srv.bare_url, "Authorization: Bearer {{mcpcred:oauth/remote}}")
        (_names, echoed, seen), stderr = run_session(
            params(env, args), tools_and_calls, tmp_path / "e"
        )
    assert seen == "valid" and echoed == (False, "echo: through the bridge"), (echoed, seen)
    assert len(endpoint.forms) == 1 and "grant_type=refresh_token" in endpoint.forms[0]
    assert "refresh_token=rt-1" in endpoint.forms[0]
    # the rotated refresh token and the new access token were stored for the next start
    stored = real_keychain.lookup(env.entry_env, "mcpcred", "oauth:remote/default:access")
    assert stored is not None and json.loads(stored)["access_token"] == SECRET
    refreshes = [r for r in env.records() if r.get("event") == "refresh"]
    assert [r["credentials"] for r in refreshes] == [["oauth/remote"]], refreshes
    for path, text in env.files().items():
        assert SECRET not in text, path
    assert SECRET not in stderr


def test_a_401_the_login_cannot_fix_says_run_mcpcred_login(
    env: Env, tmp_path: Path, token_endpoint: Callable[..., TokenEndpoint]
) -> None:
    endpoint = token_endpoint([(400, {"error": "invalid_grant"})])
    _login(env, endpoint.url, "revoked-token-the-server-refuses")
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        args = shim_args(srv.bare_url, "Authorization: Bearer {{mcpcred:oauth/remote}}")

        async def script(session: ClientSession) -> str:
            raise AssertionError("initialize must fail")  # pragma: no cover

        with pytest.raises(BaseException) as caught:
            run_session(params(env, args), script, tmp_path / "e")
    text = repr(caught.value) + "".join(repr(e) for e in getattr(caught.value, "exceptions", ()))
    assert "run: mcpcred login remote" in text, text
    assert "revoked-token" not in text
    assert len(endpoint.forms) == 1  # one refresh for the burst, not one per retry


def test_guarded_batch_and_a_large_answer_over_a_remote_server(
    env: Env, raw_bridge: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    """A batch is checked as a whole (the denied member is answered by the guard) and the
    rest goes up one message at a time; a 5 MB answer comes back whole."""
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    env.config.write_text('[servers.remote]\ndeny = ["slow"]\n', encoding="utf-8")
    with remote_servers.serve("bearer", secret=SECRET) as srv:
        proc = raw_bridge(srv.bare_url)
        assert _initialized(proc)["id"] == 1
        assert proc.stdin is not None and proc.stdout is not None

        def tool(request_id: object, name: str, **arguments: Any) -> dict[str, Any]:
            return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call",
                    "params": {"name": name, "arguments": arguments}}  # fmt: skip

        batch = [tool("e", "echo", text="in a batch"), tool("s", "slow", seconds=0)]
        proc.stdin.write(json.dumps(batch).encode() + b"\n")
        proc.stdin.write(json.dumps(tool(9, "big", size=5_000_000)).encode() + b"\n")
        proc.stdin.flush()
        answers = {}
        while len(answers) < 3:
            message = read_message(proc)
            answers[message["id"]] = message
        assert answers["e"]["result"]["content"][0]["text"] == "echo: in a batch"
        assert answers["s"]["result"]["isError"] and "deny 'slow'" in json.dumps(answers["s"])
        big = answers[9]["result"]["content"][0]["text"]
        assert len(big) == 5_000_000 and big.startswith("0123456789abcdef")
        proc.stdin.close()
        assert proc.wait(15) == 0
    calls = [(r.get("tool"), r.get("outcome")) for r in env.records() if r.get("event") == "call"]
    assert sorted(calls, key=str) == [("big", "ok"), ("echo", "ok"), ("slow", "denied")], calls


@pytest.mark.parametrize("era", ["legacy", "http"])
@pytest.mark.parametrize("guarded", [False, True], ids=["unguarded", "guarded"])
def test_a_server_request_reaches_the_client_and_its_answer_the_server(
    env: Env, raw_bridge: Callable[[str], subprocess.Popen[bytes]], guarded: bool, era: str
) -> None:
    """``ask`` elicits from the client mid-call: a server->client request over HTTP (the
    handshake era's back-channel), answered through stdio and sent back up; with the guard,
    through its id mapping and checks.

    ``legacy``: a handshake-only server, the request comes on the POST's SSE stream;
    ``http``: a dual-era server, spoken to in 2026-07-28, where the bridge turns the
    server's InputRequiredResult into the request the stdio client expects."""
    real_keychain.store(env.entry_env, "mcpcred", "remote-key", SECRET)
    if guarded:
        env.config.write_text("[servers.remote]\n", encoding="utf-8")
    with remote_servers.serve(era, auth="bearer", secret=SECRET) as srv:
        proc = raw_bridge(srv.bare_url)
        init = dict(INITIALIZE)
        init["params"] = {**INITIALIZE["params"], "capabilities": {"elicitation": {}}}
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(init).encode() + b"\n")
        proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": "q", "method": "tools/call", "params":
                                     {"name": "ask", "arguments": {"question": "the answer?"}}}
                                    ).encode() + b"\n")  # fmt: skip
        proc.stdin.flush()
        assert read_message(proc)["id"] == 1
        request = read_message(proc)
        while "method" not in request or request["method"].startswith("notifications/"):
            request = read_message(proc)
        assert request["method"] == "elicitation/create", request
        assert request["params"]["message"] == "the answer?"
        answer = {"jsonrpc": "2.0", "id": request["id"],
                  "result": {"action": "accept", "content": {"answer": "42"}}}  # fmt: skip
        proc.stdin.write(json.dumps(answer).encode() + b"\n")
        proc.stdin.flush()
        result = read_message(proc)
        while result.get("id") != "q":
            result = read_message(proc)
        assert result["result"]["content"][0]["text"] == "answered: 42", result
        proc.stdin.close()
        assert proc.wait(15) == 0
    if guarded:
        asks = [r for r in env.records() if r.get("event") == "call" and r.get("tool") == "ask"]
        assert [r["outcome"] for r in asks] == ["ok"], asks
