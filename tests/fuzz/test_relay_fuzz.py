"""Property-based fuzzing of the guard's decisions (``guard.session.Session``).

The session sees every line between a client and a guarded server. Whatever
arrives, it must not raise (an exception would end the relay, and the server's
session with it), and nothing it forwards to the server may be a call to a tool
the policy refuses, however the line is spelled: escapes in the name, batches,
odd ids, garbage around it. Tool lists it passes to the client never show a
refused tool.

The properties are about public behaviour only (what ``from_client`` and
``from_server`` return), so they hold whether the session forwards the
client's bytes as they are or re-serialises them. Budget: ``FUZZ`` below,
derandomized, so CI runs the same examples every time in a few seconds.
"""

from __future__ import annotations

import json
import re
from fnmatch import fnmatchcase

from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from mcpcred.guard.session import Session
from mcpcred.guard.settings import Policy, ServerGuard
from tests.support.fuzz import deterministic

FUZZ = deterministic(200, HealthCheck.data_too_large)
DENY = ("delete_*", "*_secret")
ALLOW_ALL_BUT = Policy((), DENY, "config.toml [servers.gh]")
NAMES = [
    "get_issue", "list_repos", "delete_repo", "delete_", "get_secret", "Delete_repo",
    "delete_repo\u0000", " delete_repo", "delete_repo\n", "déléte_repo", "",
]  # fmt: skip


def denied(name: object) -> bool:
    return isinstance(name, str) and any(fnmatchcase(name, p) for p in DENY)


def guard() -> ServerGuard:
    settings_ = ServerGuard("gh")
    settings_.policies.append(ALLOW_ALL_BUT)
    return settings_


def session() -> Session:
    return Session(guard(), client="fuzz", record=lambda _r: None, warn=lambda _t: None)


# --- what a client or a server may send ---------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
ids = st.integers() | st.text(max_size=6) | st.none() | st.floats() | st.booleans() | json_values
names = st.sampled_from(NAMES) | st.sampled_from(NAMES) | st.text(max_size=10)
methods = (
    st.just("tools/call")
    | st.sampled_from(
        ["tools/call", "tools/list", "initialize", "prompts/get", "resources/read", "ping",
         "notifications/cancelled", "notifications/initialized"]
    )
    | st.text(max_size=10)
)  # fmt: skip


@st.composite
def messages(draw: st.DrawFn) -> dict[str, object]:
    message: dict[str, object] = {}
    if draw(st.booleans()):
        message["jsonrpc"] = "2.0"
    if draw(st.integers(0, 3)):  # else a notification: no answer, but a server may run it
        message["id"] = draw(ids)
    message["method"] = draw(methods)
    if draw(st.integers(0, 4)):
        message["params"] = draw(
            st.fixed_dictionaries({"name": names}, optional={"arguments": json_values})
            | st.fixed_dictionaries({"name": names})
            | json_values
        )
    return message


def encode(value: object, ascii_only: bool, compact: bool) -> bytes:
    separators = (",", ":") if compact else (", ", ": ")
    return json.dumps(value, ensure_ascii=ascii_only, separators=separators).encode(
        "utf-8", "surrogatepass"
    )


def escape_a_name(data: bytes, index: int) -> bytes:
    """Spell one character of a tool name as ``\\uXXXX``: the same name to a JSON parser."""
    found = [m.start() for m in re.finditer(rb'"(delete|get|list)_', data)]
    if not found:
        return data
    at = found[index % len(found)] + 2  # a character inside the name
    return data[:at] + b"\\u%04x" % data[at] + data[at + 1 :]


@st.composite
def client_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 9))
    if kind == 0:
        return draw(st.binary(max_size=80))
    value: object = draw(st.lists(messages(), max_size=4)) if kind == 1 else draw(messages())
    data = encode(value, draw(st.booleans()), draw(st.booleans()))
    if draw(st.booleans()):
        data = escape_a_name(data, draw(st.integers(0, 5)))
    if kind == 2 and data:  # damage it: drop, duplicate or replace a byte
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + draw(st.binary(max_size=2)) + data[at + 1 :]
    return data + draw(st.sampled_from([b"\n", b"\r\n", b""]))


# --- reading what was forwarded, as suspiciously as possible -------------------------------


class AllPairs(list[tuple[str, object]]):
    """A JSON object keeping every member, duplicates included (a parser may take any)."""

    def all(self, key: str) -> list[object]:
        return [value for name, value in self if name == key]


def called_tools(forwarded: bytes) -> list[object]:
    """Every tool name a server could read as a ``tools/call`` in ``forwarded``."""
    found: list[object] = []
    for part in forwarded.split(b"\n"):
        if not part.strip():
            continue
        value = json.loads(part, object_pairs_hook=AllPairs)  # unreadable lines never pass
        batch = isinstance(value, list) and not isinstance(value, AllPairs)
        for message in value if batch else [value]:
            if isinstance(message, AllPairs) and "tools/call" in message.all("method"):
                for params in message.all("params"):
                    if isinstance(params, AllPairs):
                        found.extend(params.all("name"))
    return found


@FUZZ
@given(st.lists(client_lines(), min_size=1, max_size=8))
def test_no_denied_call_reaches_the_server(lines: list[bytes]) -> None:
    guarded = session()
    for line in lines:
        to_server, to_client = guarded.from_client(line)
        assert to_server is None or isinstance(to_server, bytes)
        assert to_client is None or isinstance(to_client, bytes)
        if to_server is not None:
            calls = called_tools(to_server)
            assert not [name for name in calls if denied(name)], (line, to_server)


@st.composite
def server_lines(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=80))
    message: dict[str, object] = {"jsonrpc": "2.0", "id": draw(ids)}
    if draw(st.booleans()):
        message["result"] = draw(json_values)
    else:
        message["error"] = draw(json_values)
    data = encode(message, draw(st.booleans()), True)
    if kind == 1 and data:
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + data[at + 1 :]
    return data


tools = st.lists(
    st.fixed_dictionaries({"name": names}, optional={"description": st.text(max_size=12)})
    | json_values,
    max_size=6,
)


@FUZZ
@given(
    st.lists(server_lines(), max_size=6),
    tools,
    st.booleans(),
    st.lists(server_lines(), max_size=3),
)
def test_the_server_cannot_break_the_session_or_show_a_refused_tool(
    before: list[bytes], listed: list[object], escaped: bool, after: list[bytes]
) -> None:
    guarded = session()
    guarded.from_client(b'{"jsonrpc":"2.0","id":"init","method":"initialize","params":{}}\n')
    for line in before:  # ids the client never used: passed on or dropped, never a crash
        out = guarded.from_server(line)  # once: a second call is another message
        assert out is None or isinstance(out, bytes)
    forwarded, _ = guarded.from_client(b'{"jsonrpc":"2.0","id":"the-list","method":"tools/list"}\n')
    assert forwarded is not None
    guard_id = json.loads(forwarded)["id"]  # the server answers the id the guard gave it
    answer = encode({"jsonrpc": "2.0", "id": guard_id, "result": {"tools": listed}}, True, True)
    if escaped:
        answer = escape_a_name(answer, 0)
    shown = guarded.from_server(answer)
    assert shown is not None  # the client's tools/list is always answered...
    answered = json.loads(shown)
    # ...with an error when the guard cannot read the list (Infinity, a lone surrogate), or
    # with a list that holds no refused tool
    result = answered["result"]["tools"] if "error" not in answered else []
    assert not [t for t in result if isinstance(t, dict) and denied(t.get("name"))]
    for line in after:
        out = guarded.from_server(line)
        assert out is None or isinstance(out, bytes)
    to_server, _ = guarded.from_client(b'{"jsonrpc":"2.0","id":9,"method":"ping"}\n')
    assert to_server is not None  # still relaying


def test_a_refused_tool_called_as_a_notification_is_dropped() -> None:
    """Found by the fuzzer: a ``tools/call`` without an id passed, whatever the tool.

    JSON-RPC servers do not answer notifications but may run them, so the call must
    not reach the server; the client gets nothing back (a notification has no answer),
    and the log records the refusal.
    """
    records: list[dict[str, object]] = []
    guarded = Session(guard(), client="fuzz", record=records.append, warn=lambda _t: None)
    call = b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_repo"}}\n'
    assert guarded.from_client(call) == (None, None)
    assert [(r["tool"], r["outcome"]) for r in records] == [("delete_repo", "denied")]
    batch = b'[{"jsonrpc":"2.0","method":"tools/call","params":{"name":"delete_repo"}},' + (
        b'{"jsonrpc":"2.0","id":1,"method":"ping"}]\n'
    )
    to_server, to_client = guarded.from_client(batch)
    assert to_server is not None and b"delete_repo" not in to_server
    assert json.loads(to_server) == [{"jsonrpc": "2.0", "id": 1, "method": "ping"}]
    assert to_client is None
    # An allowed one is dropped too (and recorded): it would run with no record of it.
    allowed = b'{"jsonrpc":"2.0","method":"tools/call","params":{"name":"get_issue"}}\n'
    assert guarded.from_client(allowed) == (None, None)
    assert [(r["tool"], r["outcome"]) for r in records][-1] == ("get_issue", "denied")
