"""Upstream when things go wrong: auth, 5xx storms, silence, refusals, shutdown, secrets."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from mcpcred.bridge.upstream import Upstream
from mcpcred.errors import LoginRequired, ShimError
from tests.bridge.conftest import INIT_PARAMS, Peer
from tests.support.remote_servers import serve

SECRET = "remote-s3cret-0123456789"


class _Raw:
    """A loopback HTTP server with a scripted misbehaviour, counting requests."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.count = 0
        self.release = threading.Event()
        self.locations: list[str] = []


@contextlib.contextmanager
def raw_server(behaviour: str) -> Iterator[tuple[str, _Raw]]:
    state = _Raw(behaviour)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            state.count += 1
            self.rfile.read(int(self.headers.get("content-length", 0)))
            if state.behaviour == "503":
                self.send_response(503)
                self.send_header("content-length", "0")
                self.end_headers()
            elif state.behaviour == "silent":
                state.release.wait(30)  # never answers within the test's read timeout
            elif state.behaviour == "redirect":
                self.send_response(307)
                self.send_header("location", "https://elsewhere.example/mcp?key=" + SECRET)
                self.send_header("content-length", "0")
                self.end_headers()

        do_GET = do_POST

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/mcp", state
    finally:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


def texts(peer: Peer) -> list[str]:
    """Everything the bridge told the client or warned about."""
    errors = [str(m["error"].get("message")) for m in peer.seen if isinstance(m.get("error"), dict)]
    return [*peer.warnings, *errors]


def assert_no_secret(peer: Peer, *secrets: str) -> None:
    for text in texts(peer):
        for secret in (SECRET, *secrets):
            assert secret not in text, text
        assert "key=" not in text, text


def test_401_calls_reauth_once_and_succeeds(bridge: Any) -> None:
    with serve("bearer") as server:
        calls: list[int] = []

        def reauth() -> dict[str, str]:
            calls.append(1)
            return {"Authorization": f"Bearer {SECRET}"}

        peer: Peer = bridge(
            server.url, {"Authorization": "Bearer expired-token-xyz"}, reauth=reauth
        )
        peer.handshake()
        ids = [peer.request("tools/call", {"name": "auth_seen", "arguments": {}}) for _ in range(4)]
        assert [peer.text_of(peer.wait(i)) for i in ids] == ["valid"] * 4
        assert len(calls) == 1
        assert_no_secret(peer, "expired-token-xyz")


def test_reauth_is_single_flight_across_a_burst(bridge: Any) -> None:
    """Requests that all got 401 with the same stale token share one re-authentication."""
    with serve("bearer") as server:
        calls: list[int] = []
        gate = threading.Event()

        def reauth() -> dict[str, str]:
            calls.append(1)
            gate.wait(1.0)  # hold the flight open while the others hit their 401
            return {"Authorization": f"Bearer {SECRET}"}

        peer: Peer = bridge(server.url, {"Authorization": f"Bearer {SECRET}"}, reauth=reauth)
        peer.handshake()
        assert peer.up is not None and peer.up.era == "modern"
        channel = peer.up._channel
        assert channel is not None
        channel._headers["Authorization"] = "Bearer stale-token"  # the token expired mid-session
        ids = [peer.request("tools/call", {"name": "auth_seen", "arguments": {}}) for _ in range(6)]
        time.sleep(0.3)
        gate.set()
        assert [peer.text_of(peer.wait(i)) for i in ids] == ["valid"] * 6
        assert len(calls) == 1


def test_reauth_failure_is_a_clear_error_to_that_request(bridge: Any) -> None:
    with serve("bearer") as server:

        def reauth() -> dict[str, str]:
            raise LoginRequired("the login 'demo' has expired: run `mcpcred login demo`")

        peer: Peer = bridge(
            server.url, {"Authorization": "Bearer expired-token-xyz"}, reauth=reauth
        )
        answer = peer.rpc("initialize", INIT_PARAMS)
        assert (
            answer["error"]["message"] == "the login 'demo' has expired: run `mcpcred login demo`"
        )
        # one documented code for "mcpcred could not reach the server", as the shim and the
        # guard answer (JSON-RPC's implementation-defined server error), not -32603
        assert answer["error"]["code"] == -32000
        assert_no_secret(peer, "expired-token-xyz")


def test_401_without_reauth_names_the_server_not_the_secret(bridge: Any) -> None:
    with serve("query") as server:
        url = server.url.replace(SECRET, "wrong-key-0123456789abc")
        peer: Peer = bridge(url, {})
        answer = peer.rpc("initialize", INIT_PARAMS)
        message = answer["error"]["message"]
        assert "HTTP 401" in message and f"127.0.0.1:{server.port}/mcp" in message
        assert answer["error"]["code"] == -32000
        assert_no_secret(peer, "wrong-key-0123456789abc")


def test_403_insufficient_scope_names_the_scope_and_login(bridge: Any) -> None:
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        message = peer.call("admin_op")["error"]["message"]
        assert "mcp:admin" in message and "mcpcred login" in message
        assert_no_secret(peer)


def test_admin_token_passes_the_scope_gate(bridge: Any) -> None:
    with serve("bearer", admin_secret="admin-token-0123456789") as server:
        peer: Peer = bridge(server.url, {"Authorization": "Bearer admin-token-0123456789"})
        peer.handshake()
        assert peer.text_of(peer.call("admin_op")) == "admin ok"


def test_5xx_storm_is_retried_a_bounded_number_of_times_then_an_error(bridge: Any) -> None:
    with raw_server("503") as (url, state):
        peer: Peer = bridge(url, {"X-Api-Key": SECRET}, retries=2, backoff=0.01)
        started = time.monotonic()
        answer = peer.rpc("initialize", INIT_PARAMS, timeout=15)
        assert "HTTP 503 3 times" in answer["error"]["message"]
        assert answer["error"]["code"] == -32000
        assert state.count == 3  # one try + two retries, then the request is answered
        assert time.monotonic() - started < 5
        # the next request tries again (the era is still unknown), still bounded
        assert "HTTP 503" in peer.rpc("tools/list", timeout=15)["error"]["message"]
        assert state.count == 6
        assert_no_secret(peer)


def test_connection_refused_is_retried_then_an_error(bridge: Any) -> None:
    with raw_server("503") as (url, _):
        pass  # the port is closed again
    peer: Peer = bridge(url, {}, retries=1, backoff=0.01)
    answer = peer.rpc("initialize", INIT_PARAMS, timeout=15)
    assert "could not connect" in answer["error"]["message"]
    assert answer["error"]["code"] == -32000


def test_a_server_that_never_answers_times_out(bridge: Any) -> None:
    with raw_server("silent") as (url, _):
        peer: Peer = bridge(url, {}, read_timeout=1.0, close_timeout=1.0)
        started = time.monotonic()
        answer = peer.rpc("initialize", INIT_PARAMS, timeout=15)
        assert "sent nothing for 1 s" in answer["error"]["message"]
        assert answer["error"]["code"] == -32000
        assert time.monotonic() - started < 6


def test_redirect_to_another_origin_is_refused(bridge: Any) -> None:
    with raw_server("redirect") as (url, state):
        peer: Peer = bridge(url, {"Authorization": f"Bearer {SECRET}"})
        answer = peer.rpc("initialize", INIT_PARAMS)
        assert "another origin" in answer["error"]["message"]
        assert state.count == 1
        assert_no_secret(peer)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/mcp?key=" + SECRET,
        "http://10.1.2.3:8080/mcp",
        "http://[2001:db8::1]/mcp",
    ],
)
def test_plain_http_to_a_network_host_is_refused_before_any_call(url: str) -> None:
    with pytest.raises(ShimError) as err:
        Upstream(url, {}, lambda _: None, warn=lambda _: None)
    assert "refusing plain http://" in err.value.message and SECRET not in err.value.message
    assert err.value.hint is not None and "--allow-http" in err.value.hint


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:1/mcp", "http://127.9.9.9/mcp", "http://[::1]/mcp", "http://localhost/x"],
)
def test_plain_http_to_loopback_is_allowed(url: str) -> None:
    Upstream(url, {}, lambda _: None, warn=lambda _: None)  # no error, no network call


def test_allow_http_permits_a_network_host_and_bad_urls_are_refused() -> None:
    Upstream("http://example.com/mcp", {}, lambda _: None, warn=lambda _: None, allow_http=True)
    for bad in ("ftp://example.com/mcp", "example.com/mcp", "https:///mcp"):
        with pytest.raises(ShimError):
            Upstream(bad, {}, lambda _: None, warn=lambda _: None)
    with pytest.raises(ShimError):
        Upstream("https://example.com/mcp", {}, lambda _: None, warn=lambda _: None, transport="ws")


def test_close_is_bounded_with_a_long_call_in_flight(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers(), close_timeout=0.5)
        peer.handshake()
        peer.request("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
        time.sleep(0.3)
        assert peer.up is not None
        started = time.monotonic()
        peer.up.close()
        assert time.monotonic() - started < 4
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(
            t.name.startswith("mcpcred-bridge") for t in threading.enumerate()
        ):
            time.sleep(0.05)
        assert not [t.name for t in threading.enumerate() if t.name.startswith("mcpcred-bridge")]


def test_close_deletes_the_streamable_session(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.up is not None
        peer.up.close()
        other: Peer = bridge(server.url, server.headers())
        other.handshake()
        import json

        counts = json.loads(other.text_of(other.call("requests_seen")))
        assert counts.get("DELETE") == 1


def test_a_50_mb_result_arrives_intact_with_bounded_memory() -> None:
    """Run in a child process so its peak RSS measures the bridge alone."""
    code = r"""
import hashlib, json, resource, sys, threading
sys.path.insert(0, sys.argv[1])
from mcpcred.bridge.upstream import Upstream
from tests.support.remote_servers import serve
SIZE = 50_000_000
got = {}
done = threading.Event()
def deliver(line):
    if b'"id":2' in line[:200] or len(line) > SIZE:
        got["len"] = len(line); got["ok"] = line.endswith(b"\n") and line.count(b"\n") == 1
        start = line.index(b'"text":"') + 8
        seen = hashlib.sha256(memoryview(line)[start:start + SIZE]).hexdigest()
        want = hashlib.sha256()
        for n in range(0, SIZE, 1 << 20):
            want.update((b"0123456789abcdef" * (1 << 16))[: min(1 << 20, SIZE - n)])
        got["intact"] = seen == want.hexdigest() and line[start + SIZE:start + SIZE + 1] == b'"'
        done.set()
with serve("legacy", auth="bearer") as server:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    up = Upstream(server.url, server.headers(), deliver, warn=print)
    up.start()
    up.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}).encode())
    up.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    up.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "big", "arguments": {"size": SIZE}}}).encode())
    assert done.wait(120), "no answer"
    up.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({**got, "growth_mb": (peak - before) / 1024}))
"""
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    run = subprocess.run(
        [sys.executable, "-c", code, repo], capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-2000:]
    import json

    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["ok"] and result["intact"]
    assert 50_000_000 < result["len"] < 50_001_000
    # The message itself is 50 MB and must be handed over as one line, so a few copies
    # of it exist for a moment (SSE line assembly, str->bytes, the line with its "\n");
    # parsing and re-serialising it, or holding the whole response text, would add more.
    assert result["growth_mb"] < 6 * 50, result


def test_a_long_stream_of_messages_is_not_buffered() -> None:
    """200 MB of notifications on one answer stream: memory stays near one message, not the stream."""
    code = r"""
import json, resource, sys, threading
sys.path.insert(0, sys.argv[1])
from mcpcred.bridge.upstream import Upstream
from tests.support.remote_servers import serve
seen = {"notes": 0, "bytes": 0}
done = threading.Event()
def deliver(line):
    if line.startswith(b'{"jsonrpc":"2.0","id":2') or b'"id":2,' in line[:40]:
        seen["answer"] = json.loads(line)["result"]["content"][0]["text"]
        done.set()
    elif b"notifications/message" in line[:200]:
        seen["notes"] += 1
        seen["bytes"] += len(line)
with serve("legacy", auth="bearer") as server:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    up = Upstream(server.url, server.headers(), deliver, warn=print)
    up.start()
    up.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}).encode())
    up.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}')
    up.send(json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "chatty", "arguments": {"count": 200, "size": 1000000}}}).encode())
    assert done.wait(120), "no answer"
    up.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({**seen, "growth_mb": (peak - before) / 1024}))
"""
    from pathlib import Path

    repo = str(Path(__file__).resolve().parents[2])
    run = subprocess.run(
        [sys.executable, "-c", code, repo], capture_output=True, text=True, timeout=180
    )
    assert run.returncode == 0, run.stderr[-2000:]
    import json

    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result["answer"] == "sent 200" and result["notes"] == 200
    assert result["bytes"] > 200_000_000
    assert result["growth_mb"] < 40, result


def test_importing_upstream_does_not_import_httpx() -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, mcpcred.bridge.upstream; print('httpx' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.stdout.strip() == "False", run.stderr


@contextlib.contextmanager
def sse_server(endpoint: str) -> Iterator[str]:
    """A legacy HTTP+SSE server whose endpoint event names ``endpoint``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.end_headers()
            if endpoint:  # else: a stream that stays silent
                self.wfile.write(f"event: endpoint\ndata: {endpoint}\n\n".encode())
            self.wfile.flush()
            time.sleep(2)

        def do_POST(self) -> None:
            self.send_response(405)
            self.send_header("content-length", "0")
            self.end_headers()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/sse"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_sse_endpoint_on_another_origin_is_refused(bridge: Any) -> None:
    with sse_server("http://evil.example/messages?session_id=1") as url:
        peer: Peer = bridge(url, {"Authorization": f"Bearer {SECRET}"})
        message = peer.rpc("initialize", INIT_PARAMS)["error"]["message"]
        assert "another origin" in message
        assert_no_secret(peer)


def test_unreadable_client_lines_get_a_parse_error_and_the_bridge_goes_on(bridge: Any) -> None:
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        assert peer.up is not None
        peer.up.send(b"this is not json\n")
        peer.up.send(b"[1, 2]\n")
        peer.handshake()
        errors = [m for m in peer.seen if m.get("id") is None and "error" in m]
        assert len(errors) == 2 and all(e["error"]["code"] == -32700 for e in errors)
        assert peer.text_of(peer.call("echo", text="still here")) == "echo: still here"


def test_403_does_not_trigger_reauth(bridge: Any) -> None:
    with serve("bearer") as server:
        calls: list[int] = []

        def reauth() -> dict[str, str]:
            calls.append(1)
            return server.headers()

        peer: Peer = bridge(server.url, server.headers(), reauth=reauth)
        peer.handshake()
        assert "insufficient_scope" in peer.call("admin_op")["error"]["message"]
        assert calls == []


def test_an_sse_stream_that_never_names_an_endpoint_is_given_up(
    bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpcred.bridge import legacy_sse

    monkeypatch.setattr(legacy_sse, "ENDPOINT_WAIT", 0.5)
    with sse_server("") as url:
        peer: Peer = bridge(url, {}, transport="sse")
        started = time.monotonic()
        message = peer.rpc("initialize", INIT_PARAMS, timeout=10)["error"]["message"]
        assert "did not name an endpoint" in message
        assert time.monotonic() - started < 3


def test_a_failing_reauth_is_called_once_for_a_burst_and_every_request_gets_its_message(
    bridge: Any,
) -> None:
    with serve("bearer") as server:
        calls: list[int] = []

        def reauth() -> dict[str, str]:
            calls.append(1)
            time.sleep(0.5)  # the other requests hit their 401 meanwhile
            raise LoginRequired("the login 'demo' was revoked: run `mcpcred login demo`")

        peer: Peer = bridge(server.url, server.headers(), reauth=reauth)
        peer.handshake()
        assert peer.up is not None and peer.up._channel is not None
        peer.up._channel._headers["Authorization"] = "Bearer revoked-token-123456"
        ids = [
            peer.request("tools/call", {"name": "echo", "arguments": {"text": "x"}})
            for _ in range(5)
        ]
        messages = {peer.wait(i)["error"]["message"] for i in ids}
        assert messages == {"the login 'demo' was revoked: run `mcpcred login demo`"}
        assert len(calls) == 1
        assert_no_secret(peer, "revoked-token-123456")


def test_a_bug_in_the_bridge_is_an_internal_error_without_details(
    bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """-32603 is kept for the bridge's own bugs (a failure to reach the server is -32000);
    the exception's text, which could hold anything, reaches neither the client nor stderr."""
    from mcpcred.bridge.detect import Detector

    def broken(self: object, msg: object) -> object:
        raise RuntimeError(f"boom {SECRET}")

    monkeypatch.setattr(Detector, "establish", broken)
    with raw_server("503") as (url, _):
        peer: Peer = bridge(url, {"X-Api-Key": SECRET})
        answer = peer.rpc("initialize", INIT_PARAMS, timeout=15)
    assert answer["error"] == {"code": -32603, "message": "internal bridge error (RuntimeError)"}
    assert_no_secret(peer)
