"""Upstream against real MCP SDK servers: each transport era found and spoken end to end."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from tests.bridge.conftest import INIT_PARAMS, Peer
from tests.support.remote_servers import serve


@pytest.mark.parametrize("mode", ["bearer", "apikey", "query"])
def test_modern_server_gets_a_locally_answered_handshake_and_every_call(
    bridge: Any, mode: str
) -> None:
    with serve(mode) as server:
        peer: Peer = bridge(server.url, server.headers())
        init = peer.handshake()
        assert peer.up is not None and peer.up.era == "modern"
        # answered by the bridge from server/discover, in the client's own version
        assert init["result"]["protocolVersion"] == INIT_PARAMS["protocolVersion"]
        assert "tools" in init["result"]["capabilities"]
        tools = [t["name"] for t in peer.rpc("tools/list")["result"]["tools"]]
        assert {"echo", "big", "slow", "auth_seen"} <= set(tools)
        # tools/call without a matching Mcp-Name header is a 400 on this server: passing proves it
        assert peer.text_of(peer.call("echo", text="hi")) == "echo: hi"
        if mode != "query":
            assert peer.text_of(peer.call("auth_seen")) == "valid"
        assert peer.rpc("ping")["result"] == {}
        counts = json.loads(peer.text_of(peer.call("requests_seen")))
        assert (
            "DELETE" not in counts and "GET" not in counts
        )  # stateless: no session, no GET stream


def test_modern_client_messages_are_forwarded_with_their_own_meta(bridge: Any) -> None:
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        meta = {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "modern-client", "version": "1"},
        }
        found = peer.rpc("server/discover", {"_meta": meta})
        assert "2026-07-28" in found["result"]["supportedVersions"]
        answer = peer.rpc("tools/call", {"name": "echo", "arguments": {"text": "m"}, "_meta": meta})
        assert peer.text_of(answer) == "echo: m"


def test_legacy_only_streamable_server_falls_back_to_the_handshake(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        # a modern client's probe gets "method not found", so it falls back to initialize
        probe = peer.rpc("server/discover", {})
        assert probe["error"]["code"] == -32601
        init = peer.handshake()
        assert peer.up is not None and peer.up.era == "streamable"
        assert init["result"]["protocolVersion"] == "2025-11-25"
        assert init["result"]["serverInfo"]["name"] == "remote-legacy-bearer"
        assert peer.text_of(peer.call("echo", text="old")) == "echo: old"
        assert peer.text_of(peer.call("auth_seen")) == "valid"


@pytest.mark.parametrize("variant", [{"json_response": True}, {"stateless": True}])
def test_streamable_json_and_stateless_variants(bridge: Any, variant: dict[str, bool]) -> None:
    with serve("legacy", auth="apikey", **variant) as server:
        peer: Peer = bridge(server.url, server.headers(), transport="http")
        peer.handshake()
        assert peer.up is not None and peer.up.era == "streamable"
        assert peer.text_of(peer.call("echo", text="v")) == "echo: v"
        assert len(peer.text_of(peer.call("big", size=100_000))) == 100_000


def test_legacy_http_sse_server(bridge: Any) -> None:
    with serve("sse", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        init = peer.handshake()
        assert peer.up is not None and peer.up.era == "sse"
        assert init["result"]["serverInfo"]["name"] == "remote-sse-bearer"
        assert peer.text_of(peer.call("echo", text="sse")) == "echo: sse"
        assert peer.text_of(peer.call("auth_seen")) == "valid"
        assert len(peer.text_of(peer.call("big", size=200_000))) == 200_000


def test_forced_sse_transport_and_forced_http_refusing_an_sse_server(bridge: Any) -> None:
    with serve("sse", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers(), transport="sse")
        peer.handshake()
        assert peer.up is not None and peer.up.era == "sse"
        other: Peer = bridge(server.url, server.headers(), transport="http")
        answer = other.rpc("initialize", INIT_PARAMS)
        assert "does not speak Streamable HTTP" in answer["error"]["message"]
        assert "--transport sse" in answer["error"]["message"]


def test_lost_session_is_reinitialised_transparently(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.text_of(peer.call("echo", text="before")) == "echo: before"
        server.restart()  # every session the server held is gone: the next POST gets 404
        assert peer.text_of(peer.call("echo", text="after")) == "echo: after"
        assert any("started a new one" in w for w in peer.warnings)
        # the replayed initialize's answer was swallowed: the client saw one initialize answer
        inits = [
            m
            for m in peer.seen
            if isinstance(m.get("result"), dict) and "serverInfo" in m["result"]
        ]
        assert len(inits) == 1


def test_concurrent_404s_make_one_new_session(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        server.restart()
        ids = [
            peer.request("tools/call", {"name": "echo", "arguments": {"text": str(i)}})
            for i in range(5)
        ]
        answers = [peer.wait(i) for i in ids]
        assert [peer.text_of(a) for a in answers] == [f"echo: {i}" for i in range(5)]
        assert sum("started a new one" in w for w in peer.warnings) == 1


def test_dropped_sse_answer_is_resumed_with_last_event_id(bridge: Any) -> None:
    with serve("legacy", auth="bearer", resumable=True, retry_interval=50) as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        answer = peer.call("drop_stream", text="resumed")
        assert peer.text_of(answer) == "after drop: resumed"


def test_http_sse_stream_drop_reconnects_and_replays_initialize(bridge: Any) -> None:
    with serve("sse", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.text_of(peer.call("echo", text="one")) == "echo: one"
        server.restart()
        deadline = time.monotonic() + 15
        while not any("reconnecting" in w for w in peer.warnings) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert any("reconnecting" in w for w in peer.warnings)
        assert peer.text_of(peer.call("echo", text="two")) == "echo: two"


@pytest.mark.parametrize("mode", ["legacy", "http"])
def test_server_requests_reach_the_client_and_its_answer_goes_back(bridge: Any, mode: str) -> None:
    """An elicitation: a server->client request (handshake era) or MRTR input_required (modern)."""
    with serve(mode, auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        asked: list[dict[str, Any]] = []

        def answer(msg: dict[str, Any]) -> dict[str, Any]:
            asked.append(msg)
            return {"result": {"action": "accept", "content": {"answer": "yes"}}}

        peer.on_request = answer
        peer.handshake()
        assert peer.text_of(peer.call("ask", question="ok?")) == "answered: yes"
        assert [m["method"] for m in asked] == ["elicitation/create"]


def test_modern_cancellation_closes_the_request_stream(bridge: Any) -> None:
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        slow = peer.request("tools/call", {"name": "slow", "arguments": {"seconds": 30}})
        time.sleep(0.5)
        peer.send({"method": "notifications/cancelled", "params": {"requestId": slow}})
        assert peer.text_of(peer.call("echo", text="next")) == "echo: next"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(
            t.name == "mcpcred-bridge-call" for t in threading.enumerate()
        ):
            time.sleep(0.05)
        assert not [t for t in threading.enumerate() if t.name == "mcpcred-bridge-call"]
        assert not [
            m for m in peer.seen if m.get("id") == slow
        ]  # a cancelled request gets no answer


def test_a_long_call_does_not_block_the_next_message(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        slow = peer.request("tools/call", {"name": "slow", "arguments": {"seconds": 3}})
        started = time.monotonic()
        assert peer.text_of(peer.call("echo", text="fast")) == "echo: fast"
        assert time.monotonic() - started < 2.5
        assert peer.text_of(peer.wait(slow)) == "slept 3.0"


def test_modern_tool_arguments_are_mirrored_as_mcp_param_headers(bridge: Any) -> None:
    """The server refuses a tools/call whose Mcp-Param-Region does not match (-32020)."""
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        # not listed yet: the first call meets HeaderMismatch, the bridge re-lists and retries
        assert (
            peer.text_of(peer.call("regional", region="eu-west"))
            == "region eu-west, header eu-west"
        )
        peer.rpc("tools/list")
        # a value that is not plain ASCII (and ends in a space) goes base64-wrapped
        text = peer.text_of(peer.call("regional", region="Zürich "))
        assert text == "region Zürich , header =?base64?WsO8cmljaCA=?="


def test_modern_list_changes_reach_the_client_through_subscriptions_listen(bridge: Any) -> None:
    with serve("bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()  # notifications/initialized opens subscriptions/listen
        assert peer.rpc("resources/subscribe", {"uri": "file:///x"})["result"] == {}  # re-opens it
        deadline = time.monotonic() + 10
        changed: list[dict[str, Any]] = []
        while not changed and time.monotonic() < deadline:
            assert peer.text_of(peer.call("touch_tools")) == "touched"
            time.sleep(0.3)
            changed = [
                m for m in peer.seen if m.get("method") == "notifications/tools/list_changed"
            ]
        assert changed
        # the modern-only acknowledgement is not passed on to a handshake-era client
        assert not [
            m
            for m in peer.seen
            if str(m.get("method", "")).startswith("notifications/subscriptions/")
        ]


def test_a_second_client_initialize_ends_the_first_session(bridge: Any) -> None:
    with serve("legacy", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        peer.handshake()
        counts = json.loads(peer.text_of(peer.call("requests_seen")))
        assert counts.get("DELETE") == 1


def test_http_sse_with_the_key_in_the_query_carries_it_to_the_posts(bridge: Any) -> None:
    with serve("sse", auth="query") as server:
        peer: Peer = bridge(server.url, {})
        peer.handshake()
        assert peer.up is not None and peer.up.era == "sse"
        assert peer.text_of(peer.call("echo", text="keyed")) == "echo: keyed"


def test_http_sse_call_right_after_a_server_restart_succeeds(bridge: Any) -> None:
    """Whichever comes first, the GET's drop or the POST's 404, the bridge reconnects and the call runs."""
    with serve("sse", auth="bearer") as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        server.restart()
        assert peer.text_of(peer.call("echo", text="at once")) == "echo: at once"
