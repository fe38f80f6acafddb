"""The guard's decisions, line by line: forward, refuse, rewrite, record."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from mcpcred.guard.pins import Drift
from mcpcred.guard.session import BIG, Session, _peek, dumps
from mcpcred.guard.settings import Policy, ServerGuard


class FakePins:
    def __init__(self, drift: Drift, document: dict[str, object] | None = None) -> None:
        self.drift = drift
        self.document = document
        self.calls: list[tuple[str, list[str], bool, bool]] = []

    def load(self, server: str) -> dict[str, object] | None:
        return self.document

    def observe(
        self,
        server: str,
        tools: list[Mapping[str, object]],
        *,
        complete: bool,
        adopt_new: bool = False,
    ) -> Drift:
        self.calls.append((server, [str(t.get("name")) for t in tools], complete, adopt_new))
        return self.drift


def guard(allow: tuple[str, ...] = (), deny: tuple[str, ...] = (), **kw: object) -> ServerGuard:
    settings = ServerGuard("gh")
    if allow or deny:
        settings.policies.append(Policy(allow, deny, "config.toml [servers.gh]"))
    for key, value in kw.items():
        setattr(settings, key, value)
    return settings


def make(
    settings: ServerGuard, pins: object = None
) -> tuple[Session, list[dict[str, object]], list[str]]:
    records: list[dict[str, object]] = []
    warnings: list[str] = []
    session = Session(
        settings,
        client="claude-code",
        record=records.append,
        warn=warnings.append,
        pins=pins,  # type: ignore[arg-type]  # a fake with the same shape
    )
    return session, records, warnings


def request(request_id: object, method: str, params: object = None) -> bytes:
    message: dict[str, object] = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return dumps(message)


def answer(request_id: object, result: object) -> bytes:
    return dumps({"result": result, "jsonrpc": "2.0", "id": request_id})


TOOLS = [
    {"name": "get_issue", "description": "Get an issue", "inputSchema": {"type": "object"}},
    {"name": "delete_repo", "description": "Delete a repo", "inputSchema": {"type": "object"}},
    {"name": "list_repos", "description": "List repos", "inputSchema": {"type": "object"}},
]


def test_allowed_messages_pass_byte_for_byte() -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    odd = b'{ "id" : 7 , "method":"tools/call","jsonrpc":"2.0","params":{"name":"get_issue","arguments":{"n":1.0e2,"s":"\\u00e9"}}}\r\n'
    assert session.from_client(odd) == (odd, None)
    reply = b'{"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":7}\n'
    assert session.from_server(reply) == reply
    assert records[-1]["event"] == "call"
    assert records[-1]["tool"] == "get_issue"
    assert records[-1]["outcome"] == "ok"
    assert records[-1]["arguments"] == {"n": 100.0, "s": "é"}
    assert records[-1]["result_bytes"] == len(reply)


def test_denied_call_is_answered_and_never_forwarded() -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    line = request(3, "tools/call", {"name": "delete_repo", "arguments": {"repo": "x"}})
    to_server, to_client = session.from_client(line)
    assert to_server is None
    assert to_client is not None
    reply = json.loads(to_client)
    assert reply["id"] == 3
    assert reply["result"]["isError"] is True
    assert "delete_*" in reply["result"]["content"][0]["text"]
    assert records[-1]["outcome"] == "denied"
    assert "deny 'delete_*'" in str(records[-1]["reason"])
    assert not session.pending


def test_allow_list_refuses_everything_else_and_deny_wins() -> None:
    settings = guard(allow=("get_*", "list_*"), deny=("get_secret",))
    assert settings.refusal("get_issue") is None
    assert settings.refusal("create_issue") is not None
    assert settings.refusal("get_secret") is not None


def test_tools_list_is_filtered_only_when_something_is_refused() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    session.from_client(request(2, "tools/list", {}))
    out = session.from_server(answer(2, {"tools": TOOLS}))
    assert out is not None
    names = [t["name"] for t in json.loads(out)["result"]["tools"]]
    assert names == ["get_issue", "list_repos"]
    open_session, _, _ = make(guard())
    open_session.from_client(request(2, "tools/list", {}))
    raw = answer(2, {"tools": TOOLS})
    assert open_session.from_server(raw) == raw


def test_batch_with_a_denied_call_is_split() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    batch = dumps(
        [
            {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "get_issue"}},
            {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "delete_repo"}},
        ]
    )
    to_server, to_client = session.from_client(batch)
    assert to_server is not None and to_client is not None
    assert [m["id"] for m in json.loads(to_server)] == [1]
    assert json.loads(to_client)["id"] == 2


def test_ids_of_different_types_are_different_requests() -> None:
    session, records, _ = make(guard())
    session.from_client(request(1, "tools/call", {"name": "a"}))
    session.from_client(request("1", "tools/call", {"name": "b"}))
    session.from_server(answer("1", {"content": []}))
    session.from_server(answer(1, {"content": [], "isError": True}))
    assert [(r["tool"], r["outcome"]) for r in records] == [("b", "ok"), ("a", "error")]


def test_not_json_passes_and_is_recorded_without_content() -> None:
    session, records, _ = make(guard())
    junk = b"\xff\xfe not json {\n"
    assert session.from_client(junk) == (junk, None)
    assert session.from_server(junk) == junk
    assert [r["event"] for r in records] == ["malformed", "malformed"]
    assert "not json" not in json.dumps(records)


def test_server_requests_and_client_answers_are_not_confused_with_calls() -> None:
    session, records, _ = make(guard())
    session.from_client(request(1, "tools/call", {"name": "a"}))
    sampling = request(1, "sampling/createMessage", {})
    assert session.from_server(sampling) == sampling  # a server request with the same id
    client_answer = answer(1, {"model": "m"})
    assert session.from_client(client_answer) == (client_answer, None)
    assert not records
    session.from_server(answer(1, {"content": []}))
    assert records[-1]["tool"] == "a"


def test_initialize_names_the_client_and_is_kept_for_replay() -> None:
    session, records, _ = make(guard())
    init = request(0, "initialize", {"clientInfo": {"name": "claude-ai", "version": "1"}})
    session.from_client(init)
    done = dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    session.from_client(done)
    session.from_server(answer(0, {"serverInfo": {"name": "github", "version": "2"}}))
    assert session.initialize == init and session.initialized == done
    assert records[-1]["event"] == "session"
    assert records[-1]["client_name"] == "claude-ai"


def test_big_answers_are_peeked_not_parsed() -> None:
    session, records, _ = make(guard())
    session.from_client(request(9, "tools/call", {"name": "big"}))
    text = "x" * (BIG + 10)
    ts_style = answer(9, {"content": [{"type": "text", "text": text}], "isError": True})
    assert _peek(ts_style) == (9, True)
    assert session.from_server(ts_style) == ts_style
    assert records[-1]["outcome"] == "error"
    py_style = dumps({"jsonrpc": "2.0", "id": "q", "result": {"content": [{"text": text}]}})
    assert _peek(py_style) == ("q", False)


def test_abandon_answers_every_pending_request() -> None:
    session, records, _ = make(guard())
    session.from_client(request(1, "tools/call", {"name": "a"}))
    session.from_client(request(2, "resources/read", {"uri": "file:///x"}))
    out = session.abandon("exited with code 3 before answering")
    answers = [json.loads(line) for line in out.splitlines()]
    assert sorted(a["id"] for a in answers) == [1, 2]
    assert all("exited with code 3" in a["error"]["message"] for a in answers)
    assert [r["outcome"] for r in records] == ["error", "error"]


def test_cancelled_requests_are_recorded_as_cancelled() -> None:
    session, records, _ = make(guard())
    session.from_client(request(1, "tools/call", {"name": "slow"}))
    session.from_client(
        dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
    )
    assert records[-1]["outcome"] == "cancelled"
    assert not session.pending


@pytest.mark.parametrize("mode", ["warn", "block"])
def test_changed_tools_are_reported_and_withheld_when_blocking(mode: str) -> None:
    pins = FakePins(Drift(changed=["get_issue"], added=["list_repos"]))
    session, records, warnings = make(guard(on_change=mode), pins)
    session.from_client(request(2, "tools/list", {}))
    out = session.from_server(answer(2, {"tools": TOOLS}))
    assert out is not None
    names = [t["name"] for t in json.loads(out)["result"]["tools"]]
    if mode == "block":
        assert names == ["delete_repo"]
        call = request(5, "tools/call", {"name": "get_issue"})
        to_server, to_client = session.from_client(call)
        assert to_server is None and to_client is not None
        assert "pins accept" in json.loads(to_client)["result"]["content"][0]["text"]
    else:
        assert names == ["get_issue", "delete_repo", "list_repos"]
        assert session.from_client(request(5, "tools/call", {"name": "get_issue"}))[0] is not None
    assert any("changed get_issue" in w for w in warnings)
    assert any(r["event"] == "pins" for r in records)
    # the same drift is reported once per session
    session.from_client(request(3, "tools/list", {}))
    session.from_server(answer(3, {"tools": TOOLS}))
    assert sum("changed get_issue" in w for w in warnings) == 1


def test_pagination_tells_pins_what_is_complete() -> None:
    pins = FakePins(Drift(created=True))
    session, _, _ = make(guard(), pins)
    session.from_client(request(1, "tools/list", {}))
    session.from_server(answer(1, {"tools": TOOLS[:1], "nextCursor": "p2"}))
    session.from_client(request(2, "tools/list", {"cursor": "p2"}))
    session.from_server(answer(2, {"tools": TOOLS[1:]}))
    assert [(c[2], c[3]) for c in pins.calls] == [(False, False), (False, True)]


def test_pinning_off_never_touches_pins() -> None:
    pins = FakePins(Drift(changed=["get_issue"]))
    session, _, _ = make(guard(pin=False), pins)
    session.from_client(request(1, "tools/list", {}))
    raw = answer(1, {"tools": TOOLS})
    assert session.from_server(raw) == raw
    assert pins.calls == []


def test_a_replayed_initialize_is_answered_to_the_guard_only() -> None:
    session, _, _ = make(guard())
    init = request(0, "initialize", {"clientInfo": {"name": "c", "version": "1"}})
    session.from_client(init)
    session.from_server(answer(0, {"serverInfo": {"name": "s", "version": "1"}}))
    done = session.replay_started()
    assert not done.is_set()
    assert session.from_server(answer(0, {"serverInfo": {"name": "s", "version": "1"}})) is None
    assert done.is_set()
    later = answer(0, {"x": 1})  # the same id again is no longer swallowed
    assert session.from_server(later) == later


def test_block_refuses_pending_changes_before_any_tools_list() -> None:
    pending = {
        "pending": {
            "get_issue": {"change": "changed"},
            "new_tool": {"change": "added"},
            "old_tool": {"change": "removed"},
        }
    }
    pins = FakePins(Drift(), pending)
    session, _, _ = make(guard(on_change="block"), pins)
    assert session.withheld == {"get_issue", "new_tool"}
    to_server, to_client = session.from_client(request(1, "tools/call", {"name": "get_issue"}))
    assert to_server is None and to_client is not None
    warn_only, _, _ = make(guard(on_change="warn"), FakePins(Drift(), pending))
    assert warn_only.withheld == set()


def test_only_the_first_listing_is_adopted_into_new_pins() -> None:
    pins = FakePins(Drift(created=True))
    session, _, _ = make(guard(), pins)
    session.from_client(request(1, "tools/list", {}))
    session.from_server(answer(1, {"tools": TOOLS[:1], "nextCursor": "p2"}))
    pins.drift = Drift()
    session.from_client(request(2, "tools/list", {"cursor": "p2"}))
    session.from_server(answer(2, {"tools": TOOLS[1:]}))
    session.from_client(request(3, "tools/list", {}))  # after list_changed: a new listing
    session.from_server(answer(3, {"tools": TOOLS}))
    assert [c[3] for c in pins.calls] == [False, True, False]


def test_an_invalid_id_does_not_break_the_relay() -> None:
    session, _, _ = make(guard())
    odd = request([1, 2], "tools/call", {"name": "a"})
    assert session.from_client(odd) == (odd, None)
    reply = answer([1, 2], {"content": []})
    assert session.from_server(reply) == reply
    assert not session.pending


def test_with_a_policy_a_line_the_guard_cannot_read_is_not_forwarded() -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    sneaky = b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"delete_repo","x":"\xff"}}\n'
    to_server, to_client = session.from_client(sneaky)
    assert to_server is None and to_client is not None
    assert json.loads(to_client)["error"]["code"] == -32700
    assert records[-1]["event"] == "malformed" and records[-1]["outcome"] == "denied"
    split = b'{"jsonrpc":"2.0","id":6,\n'
    assert session.from_client(split)[0] is None


def test_an_unreadable_answer_while_tools_are_listed_is_not_passed_on() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    session.from_client(request(2, "tools/list", {}))
    out = session.from_server(b'{"result":{"tools":[{"name":"delete_repo","d":"\xff"}]},"id":2}\n')
    assert out is not None
    assert json.loads(out)["id"] == 2 and "error" in json.loads(out)
    assert not session.pending


def test_a_big_listing_with_a_decoy_id_is_still_filtered() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    session.from_client(request(7, "tools/call", {"name": "get_issue"}))
    session.from_client(request(8, "tools/list", {}))
    padding = "p" * (BIG + 1)
    decoy = (
        b'{"jsonrpc":"2.0","id":7,"result":{"tools":'
        + json.dumps(TOOLS).encode()
        + b',"pad":"'
        + padding.encode()
        + b'"},"id":8}\n'
    )
    out = session.from_server(decoy)
    assert out is not None
    assert [t["name"] for t in json.loads(out)["result"]["tools"]] == ["get_issue", "list_repos"]


def test_every_request_is_answered_when_the_server_dies() -> None:
    session, records, _ = make(guard())
    session.from_client(request("p1", "ping"))
    session.from_client(request("u1", "no/such/method", {}))
    out = session.abandon("exited before answering")
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == ["p1", "u1"]
    assert records == []  # pings are answered, not audited
