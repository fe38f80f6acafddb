"""The bridge's own parts with a fake ``Upstream``: URL checks, the relay's server side, guard.

``FakeUpstream`` has the contract's shape (``Upstream(url, headers, deliver, *, warn,
reauth, transport, allow_http, connect_timeout)``, ``start``/``send``/``close``) and
answers from worker threads, as the real one does, so these tests show what the relay
and the session make of a remote server without any HTTP. The real ``Upstream``
against real SDK servers is tested in ``tests/integration/test_bridge_e2e.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from mcpcred.bridge import remote
from mcpcred.errors import LoginRequired, ShimError
from mcpcred.guard import relay as relay_module
from mcpcred.guard.mask import Masker
from mcpcred.guard.relay import PassThrough, Relay
from mcpcred.guard.session import Session
from mcpcred.guard.settings import Policy, ServerGuard
from mcpcred.shim.options import parse
from mcpcred.shim.resolve import Resolved
from tests.support.fake_upstream import FakeUpstream

SECRET = "hdr-s3cret-0123456789abcdef"


class Pipes:
    """The client's side of the relay: write lines to its stdin, read lines from its stdout."""

    def __init__(self) -> None:
        self.stdin_r, self.stdin_w = os.pipe()
        self.stdout_r, self.stdout_w = os.pipe()
        self.buffer = b""

    def write(self, message: dict[str, Any]) -> None:
        os.write(self.stdin_w, json.dumps(message).encode() + b"\n")

    def read(self, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            assert left > 0, f"no line from the relay within {timeout} s: {self.buffer[:200]!r}"
            ready, _, _ = select.select([self.stdout_r], [], [], left)
            if ready:
                chunk = os.read(self.stdout_r, 65536)
                assert chunk, "the relay closed stdout"
                self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def eof(self) -> None:
        os.close(self.stdin_w)

    def close(self) -> None:
        for fd in (self.stdin_r, self.stdout_r, self.stdout_w, self.stdin_w):
            with contextlib.suppress(OSError):  # stdin_w is closed already after eof()
                os.close(fd)


def target(headers: dict[str, str] | None = None) -> remote.Target:
    found = Resolved()
    return remote.Target(
        "http://127.0.0.1:9/mcp?key=q-secret",
        headers or {"Authorization": f"Bearer {SECRET}"},
        [("Authorization", "Bearer {{mcpcred:secret/hdr}}")],
        "http://127.0.0.1:9/mcp",
        found,
    )


@pytest.fixture
def pipes(monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipes]:
    # the relay is run in a thread of this process: no signal handlers, no allocator tuning
    monkeypatch.setattr(Relay, "install_signals", lambda self: None)
    monkeypatch.setattr(relay_module, "tune_allocator", lambda: None)
    FakeUpstream.made.clear()
    made = Pipes()
    yield made
    made.close()


def start(relay: Relay) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(relay.run()), daemon=True)
    thread.start()
    return thread, codes


# -- the unguarded bridge: Relay + PassThrough + RemoteServer ---------------------------------


def test_unguarded_lines_go_up_answers_come_down_and_eof_closes_with_exit_0(pipes: Pipes) -> None:
    warnings: list[str] = []
    server = remote.RemoteServer(
        target(), warn=warnings.append, transport="sse", allow_http=True, factory=FakeUpstream
    )
    relay = Relay(
        server, PassThrough(), warn=warnings.append, stdin=pipes.stdin_r, stdout=pipes.stdout_w
    )
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": "a", "method": "initialize", "params": {}})
    assert pipes.read()["result"]["serverInfo"]["name"] == "fake-remote"
    (upstream,) = FakeUpstream.made
    assert upstream.started and upstream.transport == "sse" and upstream.allow_http
    assert upstream.headers == {"Authorization": f"Bearer {SECRET}"}  # resolved values go up
    # many requests at once: answers come from many threads, each line whole on stdout
    for n in range(40):
        pipes.write({"jsonrpc": "2.0", "id": n, "method": "tools/call",
                     "params": {"name": "echo", "arguments": {"text": "x" * 5000 + str(n)}}})  # fmt: skip
    answers = {pipes.read()["id"]: None for _ in range(40)}
    assert set(answers) == set(range(40))
    assert [m["id"] for m in upstream.sent[1:]] == list(range(40))  # passed on as sent, in order
    assert not upstream.closed.is_set()
    pipes.eof()
    thread.join(5)
    assert not thread.is_alive(), "stdin EOF did not end the bridge"
    assert codes == [0]
    assert upstream.closed.is_set()
    assert warnings == []


def test_a_terminating_signal_closes_the_remote_side_and_exits_128_plus_n(pipes: Pipes) -> None:
    server = remote.RemoteServer(target(), warn=lambda t: None, factory=FakeUpstream)
    relay = Relay(server, PassThrough(), stdin=pipes.stdin_r, stdout=pipes.stdout_w)
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert pipes.read()["id"] == 1
    relay.forward(signal.SIGUSR1)  # not an ending signal: nothing happens
    time.sleep(0.1)
    assert thread.is_alive()
    relay.forward(signal.SIGTERM)
    thread.join(5)
    assert codes == [128 + signal.SIGTERM]
    assert FakeUpstream.made[0].closed.is_set()


def test_a_close_that_hangs_is_cut_short_after_a_signal(pipes: Pipes) -> None:
    server = remote.RemoteServer(target(), warn=lambda t: None, factory=FakeUpstream)
    relay = Relay(server, PassThrough(), stdin=pipes.stdin_r, stdout=pipes.stdout_w)
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    pipes.read()
    FakeUpstream.made[0].close_seconds = 30  # a server that never lets go
    started = time.monotonic()
    relay.forward(signal.SIGHUP)
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - started < relay_module.TERM_GRACE + remote.CLOSE_GRACE + 1
    assert codes == [128 + signal.SIGHUP]


def test_a_send_that_raises_costs_the_message_not_the_reader_and_says_no_value(
    pipes: Pipes,
) -> None:
    warnings: list[str] = []
    server = remote.RemoteServer(target(), warn=warnings.append, factory=FakeUpstream)
    relay = Relay(server, PassThrough(), stdin=pipes.stdin_r, stdout=pipes.stdout_w)
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": 1, "method": "ping"})
    pipes.read()
    upstream = FakeUpstream.made[0]
    upstream.fail_send = True
    pipes.write({"jsonrpc": "2.0", "id": 2, "method": "ping"})
    deadline = time.monotonic() + 5
    while not warnings and time.monotonic() < deadline:
        time.sleep(0.01)
    assert warnings == ["a message could not be sent to the remote server: ConnectionError"]
    upstream.fail_send = False
    pipes.write({"jsonrpc": "2.0", "id": 3, "method": "ping"})
    assert pipes.read()["id"] == 3  # the reader went on
    pipes.eof()
    thread.join(5)
    assert codes == [0]


def test_passthrough_forwards_bytes_untouched_and_answers_an_overlong_line() -> None:
    checks = PassThrough()
    line = b'{"id":1,  "method":"x"}\n'
    assert checks.from_client(line) == (line, None)
    assert checks.from_client(b"  \n") == (None, None)
    assert checks.from_server(line) is line
    answer = json.loads(checks.too_long_from_client(b'{"jsonrpc":"2.0","id":77,"params":"', 10))
    assert answer["id"] == 77 and answer["error"]["code"] == -32700
    assert checks.abandon("gone") == b""


# -- guarded: the same Session a local server gets -------------------------------------------


def test_guard_over_a_remote_server_denies_records_and_masks(pipes: Pipes) -> None:
    settings = ServerGuard("remote")
    settings.policies.append(Policy((), ("delete_*",), "config.toml [servers.remote]"))
    records: list[dict[str, object]] = []
    durable: list[dict[str, object]] = []
    session = Session(
        settings, client="test", record=records.append, warn=lambda t: None,
        durable=lambda r: durable.append(r),  # type: ignore[func-returns-value]
    )  # fmt: skip
    masker = Masker()
    masker.add("secret/hdr", SECRET)
    server = remote.RemoteServer(target(), warn=lambda t: None, factory=FakeUpstream)
    relay = Relay(server, session, stdin=pipes.stdin_r, stdout=pipes.stdout_w, masker=masker)
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": "i", "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})  # fmt: skip
    assert pipes.read()["id"] == "i"
    pipes.write({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
    listed = pipes.read()
    assert [t["name"] for t in listed["result"]["tools"]] == ["echo", "show_header"]
    pipes.write({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                 "params": {"name": "delete_thing", "arguments": {}}})  # fmt: skip
    denied = pipes.read()
    assert denied["id"] == 3 and denied["result"]["isError"] is True
    assert "deny 'delete_*'" in denied["result"]["content"][0]["text"]
    pipes.write({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                 "params": {"name": "show_header", "arguments": {}}})  # fmt: skip
    shown = pipes.read()
    assert shown["id"] == 4
    text = shown["result"]["content"][0]["text"]
    assert SECRET not in text and "[redacted mcpcred:secret/hdr]" in text, text
    upstream = FakeUpstream.made[0]
    called = [m["params"]["name"] for m in upstream.sent if m.get("method") == "tools/call"]
    assert called == ["show_header"]  # the denied call never went up
    assert all(isinstance(m.get("id", 0), int) for m in upstream.sent)  # guard-issued ids
    pipes.eof()
    thread.join(5)
    assert codes == [0]
    outcomes = [(r.get("tool"), r.get("outcome")) for r in records if r.get("event") == "call"]
    assert ("delete_thing", "denied") in outcomes and ("show_header", "ok") in outcomes, records
    # written before they went up (the denied call never did)
    assert [(r.get("method"), r.get("tool")) for r in durable] == [
        ("initialize", None),
        ("tools/call", "show_header"),
    ], durable


def test_requests_pending_at_the_end_are_answered(pipes: Pipes) -> None:
    session = Session(ServerGuard("remote"), client="t", record=lambda r: None, warn=lambda t: None)

    class Silent(FakeUpstream):
        def _answer(self, message: dict[str, Any]) -> None:
            return None  # never answers

    server = remote.RemoteServer(target(), warn=lambda t: None, factory=Silent)
    relay = Relay(server, session, stdin=pipes.stdin_r, stdout=pipes.stdout_w)
    thread, codes = start(relay)
    pipes.write({"jsonrpc": "2.0", "id": "w", "method": "tools/call", "params": {"name": "echo"}})
    time.sleep(0.1)
    relay.forward(signal.SIGTERM)
    answer = pipes.read()
    assert answer["id"] == "w" and "closed the connection" in answer["error"]["message"]
    thread.join(5)
    assert codes == [143]


# -- URL checks and what is shown ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "resolved", "shown"),
    [
        ("https://api.example.com/mcp?key={{mcpcred:secret/k}}", "https://api.example.com/mcp?key=SECRETKEY",
         "https://api.example.com/mcp"),
        ("https://user:{{mcpcred:secret/pw}}@h.example:8443/a/b#frag", "https://user:v@h.example:8443/a/b#frag",
         "https://h.example:8443/a/b"),
        ("https://h.example/mcp/{{mcpcred:secret/k}}/sse", "https://h.example/mcp/SECRETKEY/sse",
         "https://h.example/mcp/{{mcpcred:secret/k}}/sse"),
        ("mcpcred:secret/whole-url", "https://u:p@h.example/mcp/SECRETKEY?x=1",
         "https://h.example (from mcpcred:secret/whole-url)"),
        ("http://[::1]:8080/mcp", "http://[::1]:8080/mcp", "http://[::1]:8080/mcp"),
    ],
)  # fmt: skip
def test_the_url_is_shown_as_origin_and_path_without_secrets(
    template: str, resolved: str, shown: str
) -> None:
    values = {"k": "SECRETKEY", "pw": "v", "whole-url": resolved}
    assert remote.shown_url(template, resolved, lambda _kind, name: values[name]) == shown


@pytest.mark.parametrize(
    ("url", "allow_http", "message"),
    [
        ("http://example.com/mcp", False, "refusing plain http:// to example.com"),
        ("ftp://example.com/mcp", False, "must start with https://"),
        ("https:///mcp", False, "must start with https://"),
        ("https://example.com/m cp", False, "holds a space or a control character"),
        ("https://example.com/mcp\r\nX: y", False, "holds a space or a control character"),
        ("https://example.com:99999/mcp", False, "is not a valid URL"),
    ],
)
def test_bad_urls_are_refused_without_quoting_them(
    url: str, allow_http: bool, message: str
) -> None:
    with pytest.raises(ShimError, match=message) as caught:
        remote.check_url(url, "https://SHOWN/mcp", allow_http=allow_http)
    assert "m cp" not in caught.value.message and "99999" not in caught.value.message


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [
        ("http://127.0.0.1:8000/mcp", False),
        ("http://127.9.9.9/mcp", False),
        ("http://localhost/mcp", False),
        ("http://[::1]/mcp", False),
        ("http://example.com/mcp", True),
        ("https://example.com/mcp", False),
    ],
)
def test_loopback_http_https_and_allowed_http_pass(url: str, allow_http: bool) -> None:
    remote.check_url(url, "x", allow_http=allow_http)


def test_a_server_without_references_never_opens_the_keychain() -> None:
    # no D-Bus here at all (the autouse fixture cleared it): opening the keychain would fail
    options = parse(["--server", "pub", "--url", "http://127.0.0.1:1/mcp", "--header", "X-A: b"])
    found, key = remote.target(options, {"PATH": os.environ.get("PATH", "")})
    assert key is None
    assert found.url == "http://127.0.0.1:1/mcp" and found.headers == {"X-A": "b"}
    assert found.shown == "http://127.0.0.1:1/mcp"


def test_plain_warn_replaces_resolved_values(capsys: pytest.CaptureFixture[str]) -> None:
    values = {"secret/k": SECRET}
    warn = remote.plain_warn("server 'x'", values)
    warn(f"upstream said {SECRET}!")
    values["oauth/gh"] = "tok-renewed-123"
    warn("and then tok-renewed-123")
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "mcpcred shim: server 'x': upstream said [redacted mcpcred:secret/k]!",
        "mcpcred shim: server 'x': and then [redacted mcpcred:oauth/gh]",
    ]


def test_reauth_is_none_without_an_oauth_header() -> None:
    options = parse(["--url", "https://h.example/mcp", "--header", "X-Api-Key: mcpcred:secret/k"])
    made = remote.Target("u", {}, remote.templates(options), "s", Resolved())
    assert remote.reauth_for(options, {}, made) is None
    with_oauth = remote.Target(
        "u", {}, [("Authorization", "Bearer {{mcpcred:oauth/lin}}")], "s", Resolved()
    )
    with_oauth.found.tokens["lin"] = "old"
    assert with_oauth.oauth_in_headers() == ["lin"]
    assert remote.reauth_for(options, {}, with_oauth) is not None


def test_a_batch_goes_up_as_its_messages_and_each_answer_comes_back(pipes: Pipes) -> None:
    server = remote.RemoteServer(target(), warn=lambda t: None, factory=FakeUpstream)
    relay = Relay(server, PassThrough(), stdin=pipes.stdin_r, stdout=pipes.stdout_w)
    thread, codes = start(relay)
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"},
        {"jsonrpc": "2.0", "method": "notifications/x"},
        {"jsonrpc": "2.0", "id": "two", "method": "tools/list"},
    ]
    os.write(pipes.stdin_w, json.dumps(batch).encode() + b"\n")
    assert {pipes.read()["id"], pipes.read()["id"]} == {1, "two"}
    assert FakeUpstream.made[0].sent == batch
    pipes.eof()
    thread.join(5)
    assert codes == [0]


@pytest.mark.parametrize("line", [b"[]\n", b"[1,\n", b'{"jsonrpc":"2.0","id":1}\n'])
def test_what_is_not_a_batch_goes_up_unchanged(line: bytes) -> None:
    assert remote._messages(line) == [line]


# -- Reauth with the real keychain: the login's single flight -----------------------------------


def _stored_login(
    keychain: dict[str, str], cached: str, endpoint: str = "http://127.0.0.1:9/token"
) -> None:
    from tests.support import keychain as real_keychain

    now = time.time()
    access = {"v": 1, "access_token": cached, "expires_at": now + 3600,
              "refresh_at": now + 3000, "obtained_at": now, "scopes": None}  # fmt: skip
    # nothing listens on port 9: a refresh attempt fails at once, and says so
    record = {"v": 1, "provider": "lin", "account": "default", "client_id": "c",
              "token_endpoint": endpoint, "refresh_token": "rt", "scopes": []}  # fmt: skip
    real_keychain.store(keychain, "mcpcred", "oauth:lin/default:access", json.dumps(access))
    real_keychain.store(keychain, "mcpcred", "oauth:lin/default", json.dumps(record))


def _reauth(keychain: dict[str, str], handed_out: str) -> remote.Reauth:
    options = parse(["--server", "lin", "--url", "https://h.example/mcp",
                     "--header", "Authorization: Bearer {{mcpcred:oauth/lin}}",
                     "--header", "X-Other: plain"])  # fmt: skip
    found = Resolved()
    found.tokens["lin"] = handed_out
    made = remote.Target("https://h.example/mcp", {}, remote.templates(options), "s", found)
    renewal = remote.reauth_for(options, dict(os.environ), made)
    assert renewal is not None
    return renewal


def test_reauth_takes_a_token_another_process_stored_without_refreshing(
    keychain: dict[str, str],
) -> None:
    _stored_login(keychain, "tok-another-process-got-0123")
    renewal = _reauth(keychain, "tok-the-server-refused-0123")
    assert renewal() == {"Authorization": "Bearer tok-another-process-got-0123", "X-Other": "plain"}


def test_reauth_of_the_refused_token_refreshes_and_says_what_to_run(
    keychain: dict[str, str],
) -> None:
    _stored_login(keychain, "tok-the-server-refused-0123")
    renewal = _reauth(keychain, "tok-the-server-refused-0123")
    with pytest.raises(LoginRequired) as caught:
        renewal()  # the cached token looks fresh, but it is the refused one: refresh (port 9)
    message = caught.value.message
    assert message.endswith("run: mcpcred login lin"), message
    assert "cannot reach 127.0.0.1:9" in message
    assert "tok-the-server-refused" not in message


def test_concurrent_reauth_calls_renew_once(keychain: dict[str, str]) -> None:
    _stored_login(keychain, "tok-another-process-got-0123")
    renewal = _reauth(keychain, "tok-the-server-refused-0123")
    renewed: list[str] = []
    renewal.renewed = lambda name, token, refreshed: renewed.append(token)
    results: list[Mapping[str, str]] = []
    threads = [threading.Thread(target=lambda: results.append(renewal())) for _ in range(4)]
    with renewal.lock:  # all four saw the refused token (a burst) before the first renews
        for thread in threads:
            thread.start()
        time.sleep(0.2)
    for thread in threads:
        thread.join(30)
    assert len(results) == 4
    assert {r["Authorization"] for r in results} == {"Bearer tok-another-process-got-0123"}
    assert renewed == ["tok-another-process-got-0123"]  # one keychain round, not four


def test_a_batch_after_leading_whitespace_is_still_split() -> None:
    line = (
        b' \t[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"ping"}]\n'
    )
    assert remote._messages(line) == [
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n',
        b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n',
    ]


def test_a_401_right_after_a_renewal_does_not_renew_again(keychain: dict[str, str]) -> None:
    """A server that refuses every token (wrong audience) must not cost a refresh per request."""
    _stored_login(keychain, "tok-another-process-got-0123")
    renewal = _reauth(keychain, "tok-the-server-refused-0123")
    renewal()  # renewed to the token another process stored
    from tests.support import keychain as real_keychain

    real_keychain.store(keychain, "mcpcred", "oauth:lin/default:access", "not read again")
    started = time.monotonic()
    with pytest.raises(LoginRequired) as caught:
        renewal()
    assert time.monotonic() - started < 0.5  # no keychain round trip, no refresh
    assert "right after it was renewed" in caught.value.message
    assert caught.value.message.endswith("run: mcpcred login lin")
    assert "tok-" not in caught.value.message


@contextlib.contextmanager
def _dead_grant_endpoint() -> Iterator[tuple[str, list[str]]]:
    """A loopback token endpoint that answers every refresh ``invalid_grant``; its hits."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            hits.append(self.path)
            body = json.dumps({"error": "invalid_grant", "error_description": "revoked"}).encode()
            self.send_response(400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/token", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_login_the_provider_refused_is_not_asked_again_until_a_new_login(
    keychain: dict[str, str],
) -> None:
    """A revoked grant: one refresh attempt, then the same answer without one, per request."""
    from tests.support import keychain as real_keychain

    with _dead_grant_endpoint() as (endpoint, hits):
        _stored_login(keychain, "tok-the-server-refused-0123", endpoint)
        renewal = _reauth(keychain, "tok-the-server-refused-0123")
        with pytest.raises(LoginRequired) as first:
            renewal()
        assert hits == ["/token"]
        assert "invalid_grant" in first.value.message
        assert first.value.message.endswith("run: mcpcred login lin")
        with pytest.raises(LoginRequired) as second:
            renewal()  # the next request's 401
        assert hits == ["/token"], "asked the provider again with the refresh token it refused"
        assert second.value.message == first.value.message
        # the user runs `mcpcred login lin`: the bridge takes the new token, no refresh
        _stored_login(keychain, "tok-after-a-new-login-0123", endpoint)
        assert renewal()["Authorization"] == "Bearer tok-after-a-new-login-0123"
        assert hits == ["/token"]
        real_keychain.clear(keychain)


def test_a_passing_failure_is_tried_again_on_the_next_401(keychain: dict[str, str]) -> None:
    """Unreachable is not revoked: the next request's 401 asks the provider again."""
    _stored_login(keychain, "tok-the-server-refused-0123")  # port 9: nothing listens
    renewal = _reauth(keychain, "tok-the-server-refused-0123")
    for _ in range(2):
        with pytest.raises(LoginRequired) as caught:
            renewal()
        assert "cannot reach 127.0.0.1:9" in caught.value.message
    assert renewal.refused == {}
