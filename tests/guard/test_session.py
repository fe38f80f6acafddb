"""The guard's decisions, line by line: forward, refuse, rewrite, record."""

from __future__ import annotations

import json
import os
from collections.abc import Collection, Mapping
from pathlib import Path

import pytest

from mcpcred.guard import pins
from mcpcred.guard.pins import Drift, PinStore, _dict
from mcpcred.guard.session import BIG, Session, _peek, dumps
from mcpcred.guard.settings import Policy, ServerGuard
from tests.support.pins import make_unreadable
from tests.support.pins import tool as pin_tool


class FakePins:
    def __init__(self, drift: Drift, document: dict[str, object] | None = None) -> None:
        self.drift = drift
        self.document = document
        self.calls: list[tuple[str, list[str], bool, bool]] = []

    def pending_names(self, server: str, client: str) -> set[str]:
        pending = (self.document or {}).get("pending") or {}
        assert isinstance(pending, dict)
        return {n for n, e in pending.items() if e.get("change") in ("added", "changed")}

    def pinned_names(self, server: str, client: str) -> set[str]:
        return set((self.document or {}).get("tools") or {})  # type: ignore[arg-type]

    def observe(
        self,
        server: str,
        client: str,
        tools: list[Mapping[str, object]],
        *,
        complete: bool,
        earlier: Collection[str] = (),
        adopt_new: bool = False,
        held: Collection[str] = (),
        about: Mapping[str, object] | None = None,
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


def sent(session: Session, line: bytes) -> object:
    """Pass a client request through ``session``; the id the server sees for it."""
    to_server, to_client = session.from_client(line)
    assert to_server is not None and to_client is None, to_client
    return json.loads(to_server)["id"]


TOOLS = [
    {"name": "get_issue", "description": "Get an issue", "inputSchema": {"type": "object"}},
    {"name": "delete_repo", "description": "Delete a repo", "inputSchema": {"type": "object"}},
    {"name": "list_repos", "description": "List repos", "inputSchema": {"type": "object"}},
]


def test_allowed_messages_are_forwarded_as_parsed_with_the_guards_id() -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    odd = b'{ "id" : 7 , "method":"tools/call","jsonrpc":"2.0","params":{"name":"get_issue","arguments":{"n":1.0e2,"s":"\xc3\xa9\xe2\x80\xa8"}}}\r\n'
    to_server, to_client = session.from_client(odd)
    assert to_client is None
    assert to_server == (
        b'{"id":1,"method":"tools/call","jsonrpc":"2.0","params":{"name":"get_issue",'
        b'"arguments":{"n":100.0,"s":"\\u00e9\\u2028"}}}\n'
    )
    reply = b'{"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":1}\r\n'
    assert session.from_server(reply) == (
        b'{"result":{"content":[{"type":"text","text":"ok"}]},"jsonrpc":"2.0","id":7}\n'
    )
    assert records[-1]["event"] == "call"
    assert records[-1]["tool"] == "get_issue"
    assert records[-1]["outcome"] == "ok"
    assert records[-1]["arguments"] == {"n": 100.0, "s": "é\u2028"}
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
    out = session.from_server(answer(sent(session, request(2, "tools/list", {})), {"tools": TOOLS}))
    assert out is not None
    assert json.loads(out)["id"] == 2
    names = [t["name"] for t in json.loads(out)["result"]["tools"]]
    assert names == ["get_issue", "list_repos"]
    open_session, _, _ = make(guard())
    guard_id = sent(open_session, request(2, "tools/list", {}))
    assert open_session.from_server(answer(guard_id, {"tools": TOOLS})) == answer(
        2, {"tools": TOOLS}
    )


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
    assert [m["params"]["name"] for m in json.loads(to_server)] == ["get_issue"]
    assert json.loads(to_client)["id"] == 2
    guard_id = json.loads(to_server)[0]["id"]
    out = session.from_server(b"[" + answer(guard_id, {"content": []})[:-1] + b"]\n")
    assert out is not None and [m["id"] for m in json.loads(out)] == [1]


def test_ids_of_different_types_are_different_requests() -> None:
    session, records, _ = make(guard())
    first = sent(session, request(1, "tools/call", {"name": "a"}))
    second = sent(session, request("1", "tools/call", {"name": "b"}))
    assert (first, second) == (1, 2)
    out = session.from_server(answer(second, {"content": []}))
    assert out is not None and json.loads(out)["id"] == "1"
    out = session.from_server(answer(first, {"content": [], "isError": True}))
    assert out is not None and json.loads(out)["id"] == 1
    assert [(r["tool"], r["outcome"]) for r in records] == [("b", "ok"), ("a", "error")]


def test_not_json_never_passes_and_is_recorded_without_content() -> None:
    session, records, warnings = make(guard())  # no policy: still refused
    junk = b"\xff\xfe not json {\n"
    to_server, to_client = session.from_client(junk)
    assert to_server is None and to_client is not None
    assert json.loads(to_client)["error"]["code"] == -32700
    assert session.from_server(junk) is None
    assert [r["event"] for r in records] == ["malformed", "malformed"]
    assert all(r["outcome"] == "denied" for r in records)
    assert "not json" not in json.dumps(records) + "".join(warnings)


def test_server_requests_and_client_answers_are_not_confused_with_calls() -> None:
    session, records, _ = make(guard())
    guard_id = sent(session, request(1, "tools/call", {"name": "a"}))
    sampling = request(guard_id, "sampling/createMessage", {})
    assert session.from_server(sampling) == sampling  # a server request with the same id
    client_answer = answer(guard_id, {"model": "m"})  # the server's id, not remapped
    assert session.from_client(client_answer) == (client_answer, None)
    assert not records
    session.from_server(answer(guard_id, {"content": []}))
    assert records[-1]["tool"] == "a"


def test_initialize_names_the_client_and_is_kept_for_replay() -> None:
    session, records, _ = make(guard())
    init = request(0, "initialize", {"clientInfo": {"name": "claude-ai", "version": "1"}})
    forwarded, _ = session.from_client(init)
    done = dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})
    session.from_client(done)
    session.from_server(answer(1, {"serverInfo": {"name": "github", "version": "2"}}))
    assert session.initialize == forwarded and session.initialized == done
    assert records[-1]["event"] == "session"
    assert records[-1]["client_name"] == "claude-ai"


def test_big_answers_are_peeked_not_parsed() -> None:
    session, records, _ = make(guard())
    guard_id = sent(session, request(9, "tools/call", {"name": "big"}))
    text = "x" * (BIG + 10)
    ts_style = answer(guard_id, {"content": [{"type": "text", "text": text}], "isError": True})
    peeked = _peek(ts_style)
    assert peeked is not None and peeked[2:] == (guard_id, True)
    assert ts_style[peeked[0] : peeked[1]] == b"%d" % guard_id
    assert session.from_server(ts_style) == answer(
        9, {"content": [{"type": "text", "text": text}], "isError": True}
    )
    assert records[-1]["outcome"] == "error"
    py_style = dumps({"jsonrpc": "2.0", "id": "q", "result": {"content": [{"text": text}]}})
    peeked = _peek(py_style)
    assert peeked is not None and peeked[2:] == ("q", False)


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
    sent(session, request(1, "tools/call", {"name": "first"}))
    guard_id = sent(session, request(5, "tools/call", {"name": "slow"}))
    to_server, _ = session.from_client(
        dumps({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 5}})
    )
    assert to_server is not None  # the server is told which request, by its own id
    assert json.loads(to_server)["params"]["requestId"] == guard_id
    assert records[-1]["outcome"] == "cancelled" and records[-1]["tool"] == "slow"
    assert list(session.pending) == [1]
    # the answer that may still come is for nobody: dropped, but recorded (the call ran)
    assert session.from_server(answer(guard_id, {"content": []})) is None
    assert [(r["event"], r["outcome"]) for r in records] == [("call", "cancelled"), ("call", "ok")]


@pytest.mark.parametrize("mode", ["warn", "block"])
def test_changed_tools_are_reported_and_withheld_when_blocking(mode: str) -> None:
    pins = FakePins(Drift(changed=["get_issue"], added=["list_repos"]))
    session, records, warnings = make(guard(on_change=mode), pins)
    out = session.from_server(answer(sent(session, request(2, "tools/list", {})), {"tools": TOOLS}))
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
    session.from_server(answer(sent(session, request(3, "tools/list", {})), {"tools": TOOLS}))
    assert sum("changed get_issue" in w for w in warnings) == 1


def test_pagination_tells_pins_what_is_complete() -> None:
    pins = FakePins(Drift(created=True))
    session, _, _ = make(guard(), pins)
    first = sent(session, request(1, "tools/list", {}))
    session.from_server(answer(first, {"tools": TOOLS[:1], "nextCursor": "p2"}))
    second = sent(session, request(2, "tools/list", {"cursor": "p2"}))
    session.from_server(answer(second, {"tools": TOOLS[1:]}))
    assert [(c[2], c[3]) for c in pins.calls] == [(False, False), (True, True)]


def test_pinning_off_never_touches_pins() -> None:
    pins = FakePins(Drift(changed=["get_issue"]))
    session, _, _ = make(guard(pin=False), pins)
    guard_id = sent(session, request(1, "tools/list", {}))
    assert session.from_server(answer(guard_id, {"tools": TOOLS})) == answer(1, {"tools": TOOLS})
    assert pins.calls == []


def test_a_replayed_initialize_is_answered_to_the_guard_only() -> None:
    session, _, _ = make(guard())
    init = request(0, "initialize", {"clientInfo": {"name": "c", "version": "1"}})
    guard_id = sent(session, init)
    session.from_server(answer(guard_id, {"serverInfo": {"name": "s", "version": "1"}}))
    done = session.replay_started()
    assert not done.is_set()
    replayed = answer(guard_id, {"serverInfo": {"name": "s", "version": "1"}})
    assert session.from_server(replayed) is None
    assert done.is_set()
    # the same id again is no longer swallowed, nor passed: the guard issued it once
    assert session.from_server(answer(guard_id, {"x": 1})) is None
    assert sent(session, request(1, "ping")) == guard_id + 1  # later requests: new ids


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
    assert session.held_at_start == {"get_issue", "new_tool"}
    to_server, to_client = session.from_client(request(1, "tools/call", {"name": "get_issue"}))
    assert to_server is None and to_client is not None
    warn_only, _, _ = make(guard(on_change="warn"), FakePins(Drift(), pending))
    assert warn_only.held_at_start == set()


def test_only_the_first_listing_is_adopted_into_new_pins() -> None:
    pins = FakePins(Drift(created=True))
    session, _, _ = make(guard(), pins)
    session.from_server(
        answer(
            sent(session, request(1, "tools/list", {})), {"tools": TOOLS[:1], "nextCursor": "p2"}
        )
    )
    pins.drift = Drift()
    second = sent(session, request(2, "tools/list", {"cursor": "p2"}))
    session.from_server(answer(second, {"tools": TOOLS[1:]}))
    third = sent(session, request(3, "tools/list", {}))  # after list_changed: a new listing
    session.from_server(answer(third, {"tools": TOOLS}))
    assert [c[3] for c in pins.calls] == [False, True, False]


def test_an_invalid_id_does_not_break_the_relay() -> None:
    session, _, _ = make(guard())
    guard_id = sent(session, request([1, 2], "tools/call", {"name": "a"}))
    assert session.from_server(answer(guard_id, {"content": []})) == answer([1, 2], {"content": []})
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
    guard_id = sent(session, request(2, "tools/list", {}))
    out = session.from_server(
        b'{"result":{"tools":[{"name":"delete_repo","d":"\xff"}]},"id":%d}\n' % guard_id
    )
    assert out is not None
    assert json.loads(out)["id"] == 2 and "error" in json.loads(out)
    assert not session.pending


def test_a_big_listing_with_a_decoy_id_is_still_filtered() -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    call = sent(session, request(7, "tools/call", {"name": "get_issue"}))
    listing = sent(session, request(8, "tools/list", {}))
    padding = "p" * (BIG + 1)
    decoy = (
        b'{"jsonrpc":"2.0","id":%d,"result":{"tools":' % call
        + json.dumps(TOOLS).encode()
        + b',"pad":"'
        + padding.encode()
        + b'"},"id":%d}\n' % listing
    )
    out = session.from_server(decoy)
    assert out is not None and b"delete_repo" not in out
    assert json.loads(out)["id"] == 8 and "error" in json.loads(out)  # as a client reads it
    assert records[-1]["event"] == "malformed"


def test_every_request_is_answered_when_the_server_dies() -> None:
    session, records, _ = make(guard())
    session.from_client(request("p1", "ping"))
    session.from_client(request("u1", "no/such/method", {}))
    out = session.abandon("exited before answering")
    assert sorted(json.loads(line)["id"] for line in out.splitlines()) == ["p1", "u1"]
    assert records == []  # pings are answered, not audited


# -- pins, with the real pin store -------------------------------------------------------------
def listing(
    session: Session, request_id: int, tools: list[dict[str, object]], **page: object
) -> list[str]:
    """One tools/list page through the session: the names the client gets."""
    params = {"cursor": page.pop("cursor")} if "cursor" in page else {}
    guard_id = sent(session, request(request_id, "tools/list", params))
    raw = answer(guard_id, {"tools": tools, **page})
    out = session.from_server(raw)
    return [str(t["name"]) for t in json.loads(out or raw)["result"]["tools"]]


def refused(session: Session, request_id: int, name: str) -> str | None:
    """The refusal text of a call to ``name``, or None when it is forwarded."""
    to_server, to_client = session.from_client(request(request_id, "tools/call", {"name": name}))
    if to_server is not None:
        session.from_server(answer(json.loads(to_server)["id"], {"content": []}))
        return None
    assert to_client is not None
    text = json.loads(to_client)["result"]["content"][0]["text"]
    assert isinstance(text, str)
    return text


def initialize(session: Session, capabilities: dict[str, object]) -> None:
    params = {"capabilities": capabilities, "clientInfo": {"name": "sdk", "version": "1"}}
    guard_id = sent(session, request(0, "initialize", params))
    session.from_server(answer(guard_id, {"serverInfo": {"name": "s", "version": "1"}}))


def paged(session: Session, first: int, pages: list[list[dict[str, object]]]) -> list[str]:
    names: list[str] = []
    cursor = None
    for index, page in enumerate(pages):
        more = {"nextCursor": f"c{index + 1}"} if index + 1 < len(pages) else {}
        extra = {"cursor": cursor} if cursor else {}
        names += listing(session, first + index, page, **more, **extra)
        cursor = more.get("nextCursor")
    return names


PAGES = [[pin_tool("a"), pin_tool("b")], [pin_tool("c"), pin_tool("d")], [pin_tool("e")]]


def test_a_change_on_page_two_stays_blocked_through_page_three_and_later_listings(
    pin_store: PinStore,
) -> None:
    first, _, _ = make(guard(on_change="block"), pin_store)
    initialize(first, {})
    assert paged(first, 1, PAGES) == ["a", "b", "c", "d", "e"]
    second, records, warnings = make(guard(on_change="block"), pin_store)
    initialize(second, {})
    rug = [PAGES[0], [pin_tool("c", "now reads ~/.ssh"), pin_tool("d")], PAGES[2]]
    assert paged(second, 1, rug) == ["a", "b", "d", "e"]
    assert "pins accept" in str(refused(second, 10, "c"))
    assert refused(second, 11, "e") is None
    # the server offers the pinned definition again: the block set above stays
    assert paged(second, 20, PAGES) == ["a", "b", "d", "e"]
    assert listing(second, 30, PAGES[1], cursor="from an earlier session") == ["d"]
    assert "pins accept" in str(refused(second, 31, "c"))
    assert [r["changed"] for r in records if r["event"] == "pins"] == [["c"]]
    assert sum("changed c" in w for w in warnings) == 1
    pending = pin_store.load("gh", second.pin_client)
    assert pending is not None and list(_dict(pending["pending"])) == ["c"]  # diff shows why


def test_a_paged_listing_reports_no_false_removals(pin_store: PinStore) -> None:
    first, _, _ = make(guard(), pin_store)
    initialize(first, {})
    paged(first, 1, PAGES)
    second, records, warnings = make(guard(), pin_store)
    initialize(second, {})
    paged(second, 1, PAGES)
    assert [r for r in records if r["event"] == "pins"] == [] and warnings == []
    paged(second, 10, PAGES[:2])  # "e" is gone, and only the last page can tell
    assert [r["removed"] for r in records if r["event"] == "pins"] == [["e"]]


def test_clients_with_other_capabilities_keep_pins_of_their_own(pin_store: PinStore) -> None:
    base = [pin_tool("echo"), pin_tool("get-env")]
    more = [*base, pin_tool("get-roots-list")]
    for capabilities, tools in [
        ({}, base),
        ({"roots": {}}, more),
        ({}, base),
        ({"roots": {}}, more),
    ]:
        session, records, warnings = make(guard(on_change="block"), pin_store)
        initialize(session, capabilities)
        assert listing(session, 1, tools) == [t["name"] for t in tools]
        assert refused(session, 2, "echo") is None
        assert [r for r in records if r["event"] == "pins"] == [] and warnings == []
    assert len(pin_store.clients("gh")) == 2


def test_a_first_listing_with_a_tool_listed_twice_withholds_it(pin_store: PinStore) -> None:
    session, _, _ = make(guard(on_change="block"), pin_store)
    initialize(session, {})
    assert listing(session, 1, [pin_tool("a"), pin_tool("b"), pin_tool("a", "shadow")]) == ["b"]
    assert refused(session, 2, "a") is not None


@pytest.mark.parametrize("mode", ["block", "warn"])
@pytest.mark.parametrize(
    "damage", ["oversized", "corrupt", "directory", "permission denied", "old file corrupt"]
)
def test_a_pin_store_that_cannot_be_used_fails_closed_in_block_mode(
    pin_store: PinStore, mode: str, damage: str
) -> None:
    first, _, _ = make(guard(), pin_store)
    initialize(first, {})
    listing(first, 1, TOOLS)
    path = pin_store.path("gh", first.pin_client)
    if damage == "oversized":
        with open(path, "r+b") as handle:
            handle.truncate(64 * 1024 * 1024 + 1)
    elif damage == "corrupt":
        with open(path, "wb") as handle:
            handle.write(b'{"version": 2, "tools": ')
    elif damage == "directory":
        os.unlink(path)
        os.mkdir(path)
    elif damage == "permission denied":
        os.unlink(path)
        make_unreadable(Path(path))
    else:
        pin_store.forget("gh")
        os.makedirs(pin_store.folder, exist_ok=True)
        with open(pin_store.path("gh", None), "wb") as handle:
            handle.write(b"\x00 not json")
    session, records, warnings = make(guard(on_change=mode), pin_store)
    initialize(session, {})
    names = listing(session, 1, TOOLS)
    text = refused(session, 2, "get_issue")
    assert any("cannot check the pinned tool definitions" in w for w in warnings), warnings
    (event,) = [r for r in records if r["event"] == "pins"]
    assert "pins unusable" in str(event["detail"])
    if mode == "block":
        assert names == []
        assert text is not None and "pins forget gh" in text
        assert event["outcome"] == "blocked"
    else:
        assert names == [t["name"] for t in TOOLS]
        assert text is None
        assert event["outcome"] == "warned"


def test_tools_beyond_the_pin_bounds_are_withheld_in_block_mode(
    pin_store: PinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pins, "MAX_TOOLS", 2)
    session, records, warnings = make(guard(on_change="block"), pin_store)
    initialize(session, {})
    assert listing(session, 1, TOOLS) == ["get_issue", "delete_repo"]
    text = refused(session, 2, "list_repos")
    assert text is not None and "more than mcpcred can pin" in text
    assert any("too many or too large to pin list_repos" in w for w in warnings), warnings
    (event,) = [r for r in records if r["event"] == "pins"]
    assert "1 tools not pinned" in str(event["detail"])
    warn_only, _, warned = make(guard(on_change="warn"), pin_store)
    initialize(warn_only, {})
    assert listing(warn_only, 1, TOOLS) == [t["name"] for t in TOOLS]
    assert any("list_repos" in w for w in warned)


def test_drift_warnings_escape_and_bound_tool_names(pin_store: PinStore) -> None:
    first, _, _ = make(guard(), pin_store)
    initialize(first, {})
    listing(first, 1, [pin_tool("a")])
    second, _, warnings = make(guard(), pin_store)
    initialize(second, {})
    listing(second, 1, [pin_tool("a"), *(pin_tool(f"new\x1b[2J{i}") for i in range(150))])
    (warning,) = warnings
    assert "\x1b" not in warning and "\\u001b[2J" in warning
    assert warning.count("new") == 100 and "and 50 more" in warning


def test_an_unexpected_failure_while_checking_pins_fails_closed(
    pin_store: PinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(tool: Mapping[str, object]) -> str:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pins, "tool_hash", broken)
    session, records, warnings = make(guard(on_change="block"), pin_store)
    initialize(session, {})
    assert listing(session, 1, TOOLS) == []
    assert "checking them failed (RuntimeError)" in str(refused(session, 2, "get_issue"))
    assert any("RuntimeError" in w for w in warnings)
    assert [r["outcome"] for r in records if r["event"] == "pins"] == ["blocked"]


# -- issue 12: one reading of every line, guard-owned ids ------------------------------


def test_a_call_smuggled_between_carriage_returns_is_not_forwarded_as_a_message() -> None:
    # One JSON object to the guard (CR is JSON whitespace); three lines to a server that
    # reads with universal newlines (the MCP Python SDK), the second a refused call.
    session, _, _ = make(guard(deny=("delete_*",)))
    hidden = request(9, "tools/call", {"name": "delete_repo", "arguments": {}})[:-1]
    smuggled = b'{"x":\r' + hidden + b'\r,"jsonrpc":"2.0","id":1,"method":"ping"}\n'
    to_server, to_client = session.from_client(smuggled)
    assert to_client is None and to_server is not None
    assert b"\r" not in to_server and to_server.count(b"\n") == 1
    forwarded = json.loads(to_server)
    assert forwarded["method"] == "ping" and forwarded["id"] == 1
    assert [p.method for p in session.pending.values()] == ["ping"]


@pytest.mark.parametrize(
    "line",
    [
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_issue",'
        b'"name":"delete_repo"}}\n',
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_issue",'
        b'"NAME":"delete_repo"}}\n',
        b'{"jsonrpc":"2.0","id":4,"method":"ping","METHOD":"tools/call","params":{"name":'
        b'"delete_repo"}}\n',
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"delete_repo",'
        b'"x":"\xc0\xaf"}}\n',
        b'{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"get_\\ud800"}}\n',
    ],
    ids=["duplicate", "case", "method case", "invalid UTF-8", "lone surrogate"],
)
def test_lines_parsers_read_differently_are_refused_even_without_a_policy(line: bytes) -> None:
    for settings in (guard(), guard(deny=("delete_*",))):
        session, records, _ = make(settings)
        to_server, to_client = session.from_client(line)
        assert to_server is None and to_client is not None
        refusal = json.loads(to_client)
        assert refusal["error"]["code"] == -32700 and refusal["id"] == 4
        assert records[-1]["event"] == "malformed" and records[-1]["outcome"] == "denied"
        assert "delete" not in json.dumps(records)
        assert not session.pending


def test_a_batch_is_forwarded_with_an_id_per_request_and_answered_with_the_clients() -> None:
    session, _, _ = make(guard())
    batch = dumps([json.loads(request("a", "ping")), json.loads(request(1, "tools/list"))])
    to_server, _ = session.from_client(batch)
    assert to_server is not None
    assert [m["id"] for m in json.loads(to_server)] == [1, 2]
    reply = b"[" + answer(2, {"tools": []})[:-1] + b"," + answer(1, {})[:-1] + b"]\n"
    out = session.from_server(reply)
    assert out is not None and [m["id"] for m in json.loads(out)] == [1, "a"]


@pytest.mark.parametrize("wrong", ["1", 1.0, True, 99, None], ids=repr)
def test_an_answer_with_an_id_the_guard_did_not_issue_is_dropped_and_recorded(
    wrong: object,
) -> None:
    # A server answered tools/list with "1" for 1: SDK clients match it anyway, the old
    # guard did not, so the unfiltered list (refused tools included) reached the model.
    session, records, warnings = make(guard(deny=("delete_*",)))
    guard_id = sent(session, request("list", "tools/list", {}))
    assert guard_id == 1
    out = session.from_server(answer(wrong, {"tools": TOOLS}))
    assert records[-1]["event"] == "malformed" and records[-1]["outcome"] == "denied"
    assert "did not issue" in str(records[-1]["detail"]) and warnings
    if wrong in ("1", 1.0) and not isinstance(wrong, bool):
        # the id the guard issued, in another type: its request fails, nothing passes
        assert out is not None and b"delete_repo" not in out and b"get_issue" not in out
        failed = json.loads(out)
        assert failed["id"] == "list" and "answered with an id of type" in str(failed["error"])
        assert not session.pending
        return
    assert out is None
    assert list(session.pending) == [guard_id]  # still waiting for its real answer
    out = session.from_server(answer(guard_id, {"tools": TOOLS}))
    assert out is not None and b"delete_repo" not in out
    assert session.from_server(answer(guard_id, {"tools": TOOLS})) is None  # answered once


def test_a_cancellation_of_no_request_in_flight_is_not_forwarded() -> None:
    session, _, _ = make(guard())
    sent(session, request(7, "ping"))  # the guard's id 1 is in flight, the client's 1 not
    cancel = dumps(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    )
    assert session.from_client(cancel) == (None, None)
    assert list(session.pending) == [1]


def test_an_unreadable_answer_fails_its_request_instead_of_passing() -> None:
    session, records, _ = make(guard())
    guard_id = sent(session, request("c", "tools/call", {"name": "get_issue"}))
    out = session.from_server(b'{"jsonrpc":"2.0","id":%d,"result":{"t":"\xff"}}\n' % guard_id)
    assert out is not None
    failed = json.loads(out)
    assert failed["id"] == "c" and "cannot read" in failed["error"]["message"]
    assert [r["event"] for r in records] == ["malformed", "call"]
    assert records[-1]["outcome"] == "error" and not session.pending


def test_a_lone_surrogate_in_a_tool_list_gives_an_error_not_a_dead_thread() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    guard_id = sent(session, request(3, "tools/list", {}))
    tools = json.dumps([*TOOLS, {"name": "odd", "description": "\ud800"}])
    out = session.from_server(
        b'{"jsonrpc":"2.0","id":%d,"result":{"tools":%s}}\n' % (guard_id, tools.encode())
    )
    assert out is not None
    assert json.loads(out)["id"] == 3 and "error" in json.loads(out)
    assert b"delete_repo" not in out


def test_server_lines_are_passed_only_as_parsed() -> None:
    session, _, _ = make(guard(deny=("delete_*",)))
    list_id = sent(session, request(2, "tools/list", {}))
    forged = answer(2, {"tools": TOOLS})[:-1]  # what the client would take for its answer
    note = (
        b'{"jsonrpc":"2.0","method":"notifications/message","params":{"x":\r' + forged + b"\r}}\n"
    )
    out = session.from_server(note)
    assert out is not None and b"\r" not in out and out.count(b"\n") == 1
    assert json.loads(out)["method"] == "notifications/message"
    assert session.from_server(b"debug: " + forged + b"\n") is not None  # the list: failed
    assert not session.pending
    list_id = sent(session, request(3, "tools/list", {}))
    # an "ID" a Go client would read instead of "id": the answer is not passed on
    case = answer(list_id, {"tools": TOOLS})[:-2] + b',"ID":2}\n'
    out = session.from_server(case)
    assert out is not None and b"delete_repo" not in out and json.loads(out)["id"] == 3
    assert not session.pending


def test_a_big_answer_is_spliced_only_when_its_id_is_the_only_one() -> None:
    session, _, _ = make(guard())
    text = "x" * (BIG + 10)
    plain = sent(session, request("p", "tools/call", {"name": "a"}))
    line = answer(plain, {"content": [{"type": "text", "text": text}]})
    expected = answer("p", {"content": [{"type": "text", "text": text}]})
    assert session.from_server(line) == expected
    again = sent(session, request("p", "tools/call", {"name": "a"}))
    buffer = bytearray(answer(again, {"content": [{"type": "text", "text": text}]}))
    assert session.from_server(buffer) == expected  # the relay's buffer, edited in place
    other = sent(session, request("o", "tools/call", {"name": "b"}))
    twice = b'{"jsonrpc":"2.0","id":%d,"result":{"t":"%s"},"ID":5}\n' % (other, text.encode())
    out = session.from_server(twice)
    assert out is not None and json.loads(out)["id"] == "o" and "error" in json.loads(out)
    third = sent(session, request("r", "tools/call", {"name": "c"}))
    with_cr = b'{"jsonrpc":"2.0","id":%d,"result":{"t":"%s"}}\r\n' % (third, text.encode())
    out = session.from_server(with_cr)
    assert out is not None and b"\r" not in out and json.loads(out)["id"] == "r"


class Broken(Session):
    """A session with a bug: whatever it is handed, it raises."""

    def from_client(self, line: bytes) -> tuple[bytes | None, bytes | None]:
        raise UnicodeEncodeError("utf-8", "secret-value", 0, 1, "surrogates not allowed")

    def from_server(self, line: bytes | bytearray) -> bytes | None:
        raise KeyError("secret-value")


def test_a_session_that_raises_costs_the_line_not_the_relay_thread() -> None:
    from mcpcred.guard.relay import ChildProcess, Relay

    warnings: list[str] = []
    session = Broken(guard(), client=None, record=lambda r: None, warn=warnings.append)
    relay = Relay(ChildProcess(["server"], {}), session, warn=warnings.append, stdout=-1)
    sent_to: list[bytes] = []
    relay.send_server = sent_to.append  # type: ignore[method-assign]
    relay.send_client = sent_to.append  # type: ignore[method-assign]
    relay._pass_client(b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n')  # returns: no raise
    relay._from_server(b'{"jsonrpc":"2.0","id":1,"result":{}}\n')
    assert sent_to == []  # nothing unchecked is passed on
    assert warnings == [
        "a message from the client could not be handled (UnicodeEncodeError); dropped",
        "a message from the server could not be handled (KeyError); dropped",
    ]


@pytest.mark.parametrize(
    ("line", "request_id"),
    [
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"NAME":"delete_repo"}}', 5),
        (b'{"jsonrpc":"2.0","id":5,"Method":"tools/call","params":{"name":"delete_repo"}}', 5),
        (b'{"jsonrpc":"2.0","ID":5,"method":"tools/call","params":{"name":"delete_repo"}}', None),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","PARAMS":{"name":"delete_repo"}}', 5),
        (b'{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"x"},"result":{}}', 5),
    ],
    ids=["NAME", "Method", "ID", "PARAMS", "request and answer"],
)
def test_a_key_a_case_insensitive_reader_would_see_is_refused(
    line: bytes, request_id: object
) -> None:
    # Go's encoding/json takes "NAME" for name when there is no "name": the guard, reading
    # exact keys, would see no tool (or no request) and let a refused call through.
    session, records, _ = make(guard(deny=("delete_*",)))
    to_server, to_client = session.from_client(line + b"\n")
    assert to_server is None and to_client is not None
    assert json.loads(to_client)["id"] == request_id
    assert "only in case" in str(records[-1]["detail"]) or "both" in str(records[-1]["detail"])
    ok = b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"get_issue","arguments":{"Name":1}}}\n'
    assert session.from_client(ok)[0] is not None  # in arguments "Name" is just a key


@pytest.mark.parametrize("case", ["ID", "method and result", "a tool's NAME"])
def test_server_messages_a_case_insensitive_client_reads_differently_are_not_passed(
    case: str,
) -> None:
    session, records, _ = make(guard(deny=("delete_*",)))
    list_id = sent(session, request(2, "tools/list", {}))
    tools = json.dumps(TOOLS).encode()
    line = {
        "ID": b'{"jsonrpc":"2.0","ID":2,"result":{"tools":%s}}\n' % tools,  # 2 is the client's
        "method and result": b'{"jsonrpc":"2.0","id":2,"method":"x","result":{"tools":%s}}\n'
        % tools,
        "a tool's NAME": answer(list_id, {"tools": [*TOOLS[:1], {"NAME": "delete_repo"}]}),
    }[case]
    out = session.from_server(line)
    assert out is None or ("error" in json.loads(out) and json.loads(out)["id"] == 2)
    assert out is None or b"delete" not in out
    assert [r["event"] for r in records] == ["malformed"]


def test_answers_and_requests_on_two_threads_at_once_never_break_the_session() -> None:
    """The relay calls ``from_client`` and ``from_server`` from two threads. Iterating
    ``pending`` while the other thread added or removed a request raised "dictionary
    changed size during iteration", and the relay dropped that answer (seen by
    benchmarks/bench_guard.py with 50 calls in flight)."""
    import sys
    import threading
    import traceback

    session = Session(ServerGuard("x"), client=None, record=lambda r: None, warn=lambda t: None)
    errors: list[str] = []
    count = 3000

    def client() -> None:
        for i in range(1, count + 1):
            line = b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"e"}}\n' % i
            try:
                session.from_client(line)
                if i % 7 == 0:  # a cancellation racing the answer
                    session.from_client(
                        b'{"jsonrpc":"2.0","method":"notifications/cancelled",'
                        b'"params":{"requestId":%d}}\n' % (i - 1)
                    )
            except Exception as exc:
                errors.append(repr(exc) + traceback.format_exc()[-600:])

    sender = threading.Thread(target=client)
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        sender.start()
        while sender.is_alive() or session.pending:
            for guard_id in list(session.pending):
                try:
                    session.from_server(b'{"jsonrpc":"2.0","id":%d,"result":{}}\n' % guard_id)
                except Exception as exc:
                    errors.append(repr(exc) + traceback.format_exc()[-600:])
        sender.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []


def test_a_deferred_outcome_is_recorded_after_its_answer_went_and_before_the_next_request() -> None:
    """With ``deferred`` (the shim's relay), an answered call's outcome record is built after
    the answer was written to the client (``settle``), not before: the answer is not held
    up by it. It keeps the duration measured when the answer was read, and comes before the
    next request's record even when the client's thread gets there first."""
    import time

    from mcpcred.guard.relay import ChildProcess, Relay

    records: list[dict[str, object]] = []

    def durable(record: dict[str, object]) -> None:
        records.append(record)

    session = Session(
        guard(), client="c", record=records.append, warn=lambda text: None,
        durable=durable, deferred=True,
    )  # fmt: skip
    relay = Relay(ChildProcess(["server"], {}), session, stdout=-1)
    written: list[tuple[bytes, list[str]]] = []

    def send_client(data: bytes | bytearray) -> None:
        written.append((bytes(data), [str(r["event"]) for r in records]))
        time.sleep(0.05)  # a slow client pipe: not counted in the call's duration

    relay.send_server = lambda data: None  # type: ignore[method-assign]
    relay.send_client = send_client  # type: ignore[method-assign]
    relay._pass_client(request(1, "tools/call", {"name": "a", "arguments": {}}))
    relay._from_server(answer(1, {"content": []}))
    assert [events for _, events in written] == [["request"]]  # no outcome before the write
    assert [r["event"] for r in records] == ["request", "call"]
    assert json.loads(written[0][0])["id"] == 1
    assert records[1]["outcome"] == "ok" and records[1]["request_id"] == 1
    assert isinstance(records[1]["duration_ms"], float) and records[1]["duration_ms"] < 40
    # The server's thread has not settled yet when the client's next request comes: the
    # outcome is recorded first, by the client's thread.
    guard_id = sent(session, request(2, "tools/call", {"name": "b", "arguments": {}}))
    assert session.from_server(answer(guard_id, {"content": []})) is not None
    assert [r["event"] for r in records] == ["request", "call", "request"]  # left for later
    sent(session, request(3, "tools/call", {"name": "c", "arguments": {}}))
    assert [(r["event"], r["request_id"]) for r in records] == [
        ("request", 1), ("call", 1), ("request", 2), ("call", 2), ("request", 3),
    ]  # fmt: skip
    undeferred, now, _ = make(guard())  # called on its own, a session records at once
    guard_id = sent(undeferred, request(4, "tools/call", {"name": "d"}))
    undeferred.from_server(answer(guard_id, {"content": []}))
    assert [r["event"] for r in now] == ["call"]


def test_an_outcome_record_that_cannot_be_built_stops_neither_side() -> None:
    """A deferred outcome is recorded outside the relay's guarded handling of a message:
    one that raises must not kill the server's reader thread (every later answer would
    hang) nor refuse the client's next, unrelated request; it is said, without content."""
    records: list[dict[str, object]] = []
    warned: list[str] = []
    calls = {"n": 0}

    def record(entry: dict[str, object]) -> None:
        if entry["event"] == "call":
            calls["n"] += 1
            if calls["n"] == 1:
                raise ValueError("secret-looking detail")
        records.append(entry)

    session = Session(
        guard(), client="c", record=record, warn=warned.append,
        durable=lambda entry: None, deferred=True,
    )  # fmt: skip
    guard_id = sent(session, request(1, "tools/call", {"name": "a", "arguments": {}}))
    assert session.from_server(answer(guard_id, {"content": []})) is not None
    session.settle()  # the relay's call after writing the answer: must not raise
    assert warned == ["the outcome record of a call could not be built (ValueError)"]
    to_server, to_client = session.from_client(request(2, "tools/call", {"name": "b"}))
    assert to_server is not None and to_client is None  # the next request still goes
    guard_id = json.loads(to_server)["id"]
    session.from_server(answer(guard_id, {"content": []}))
    session.settle()
    assert [(r["event"], r["request_id"]) for r in records if r["event"] == "call"] == [("call", 2)]


def test_a_pending_tool_list_is_known_until_answered_and_then_forgotten() -> None:
    """Every answer asks whether a ``tools/list`` is in flight (an unreadable line may be
    its answer): the ids of listings sent are kept and dropped once no longer pending, so
    the question costs nothing between listings and is still answered right during one."""
    session, _, _ = make(guard(deny=("delete_*",)))
    assert not session._listing()
    listing = sent(session, request("l", "tools/list"))
    call = sent(session, request("c", "tools/call", {"name": "get_issue"}))
    assert session._listing()
    # a line without a readable id while the listing is pending fails the listing
    out = session.from_server(b'{"jsonrpc":"2.0","result":{"tools":["\xff"]}}\n')
    assert out is not None and json.loads(out)["id"] == "l"
    assert call in session.pending
    assert not session._listing() and session._listings == set()
    again = sent(session, request("m", "tools/list"))
    assert session.from_server(answer(again, {"tools": TOOLS})) is not None
    assert not session._listing() and session._listings == set()
    assert listing != again
