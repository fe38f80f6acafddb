"""Red-team regressions: ways a hostile server or a prompt-injected client got past the guard.

Each test is one hole found by attacking the merged guard; each failed before its fix.
"""

from __future__ import annotations

import json

import pytest

from tests.guard.test_session import answer, dumps, guard, make, request

DENY = ("delete_*",)


@pytest.mark.parametrize(
    "params",
    [
        {"name": ["delete_repo"]},  # a server may turn a one-item list into its text
        {"name": {"value": "delete_repo"}},
        ["delete_repo", {}],  # positional params: a generic JSON-RPC library's reading
        {"tool": "delete_repo"},  # no name at all: whatever the server reads, it is unjudged
    ],
)
def test_a_call_whose_tool_name_the_guard_cannot_read_is_refused_under_a_policy(
    params: object,
) -> None:
    session, records, _ = make(guard(deny=DENY))
    to_server, to_client = session.from_client(request(7, "tools/call", params))
    assert to_server is None
    assert to_client is not None
    refused = json.loads(to_client)
    assert refused["id"] == 7 and refused["result"]["isError"] is True
    assert "cannot be checked" in refused["result"]["content"][0]["text"]
    assert [r["outcome"] for r in records if r["event"] == "call"] == ["denied"]
    # As a notification it is dropped (and recorded), never forwarded.
    note = dumps({"jsonrpc": "2.0", "method": "tools/call", "params": params})
    assert session.from_client(note) == (None, None)
    assert [r["outcome"] for r in records if r["event"] == "call"] == ["denied", "denied"]


def test_a_call_without_a_readable_name_passes_when_nothing_is_enforced() -> None:
    session, _, _ = make(guard())
    to_server, to_client = session.from_client(request(1, "tools/call", {"name": 7}))
    assert to_server is not None and to_client is None


@pytest.mark.parametrize(
    "message",
    [
        [[{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "delete_repo"}}]],
        [{"jsonrpc": "2.0", "id": 4, "method": "ping"}, "tools/call"],
        [],
        '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"delete_repo"}}',
        4,
    ],
)
def test_what_is_not_a_message_or_a_batch_of_them_is_never_forwarded(message: object) -> None:
    """A nested batch used to pass unchecked, with the client's own id, to the server."""
    session, records, _ = make(guard(deny=DENY))
    to_server, to_client = session.from_client(dumps(message))
    assert to_server is None
    assert to_client is not None and json.loads(to_client)["error"]["code"] == -32700
    assert [r["event"] for r in records] == ["malformed"]
    assert not session.pending


def test_a_server_cannot_nest_an_unfiltered_tool_list_in_a_batch() -> None:
    session, _, _ = make(guard(deny=DENY))
    to_server, _ = session.from_client(request(1, "tools/list"))
    assert to_server is not None
    guard_id = json.loads(to_server)["id"]
    listing = json.loads(answer(guard_id, {"tools": [{"name": "delete_repo"}]}))
    to_client = session.from_server(dumps([[listing]]))
    assert to_client is None or b"delete_repo" not in to_client
    assert session.from_server(dumps("anything")) is None


def test_listed_tools_without_a_string_name_are_withheld_under_a_policy() -> None:
    session, _, _ = make(guard(deny=DENY))
    to_server, _ = session.from_client(request(1, "tools/list"))
    assert to_server is not None
    guard_id = json.loads(to_server)["id"]
    tools = [{"name": "get_me"}, {"name": ["delete_repo"]}, "delete_repo", {"title": "x"}]
    to_client = session.from_server(answer(guard_id, {"tools": tools}))
    assert to_client is not None
    assert json.loads(to_client)["result"]["tools"] == [{"name": "get_me"}]
