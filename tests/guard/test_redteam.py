"""Red-team regressions: ways a hostile server or a prompt-injected client got past the guard.

Each test is one hole found by attacking the merged guard; each failed before its fix.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from mcpcred.guard import auditlog, relay
from mcpcred.guard.mask import Masker
from mcpcred.guard.pins import PinStore
from mcpcred.guard.run import Recorder
from mcpcred.guard.session import BIG, Session
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


def test_a_client_cannot_rotate_the_audit_history_away_with_a_few_huge_calls(
    tmp_path: Path,
) -> None:
    """Records held whatever the client sent: an id or arguments larger than a whole log
    file made each call's record rotate a file away, so six calls erased the history
    (rotated files are noted by `log verify`, not reported). A record is now bounded."""
    folder = str(tmp_path / "log")
    key = bytes(range(32))
    log = auditlog.AuditLog(folder, key, max_bytes=256 * 1024, keep=5)
    log.append({"event": "call", "tool": "delete_repo", "outcome": "denied"})  # the evidence
    recorder = Recorder(log, {"server": "gh", "session": "s1"}, lambda text: None)
    session = Session(
        guard(deny=DENY),
        client="claude-code",
        record=recorder.add,
        warn=lambda text: None,
        durable=recorder.write_now,
    )
    huge_id = "x" * (300 * 1024)
    many = {f"k{n}": "v" for n in range(30_000)}
    try:
        for n in range(6):
            for line in (
                request(f"{huge_id}{n}", "tools/call", {"name": "get_me", "arguments": {}}),
                request(n, "tools/call", {"name": "delete_repo", "arguments": many}),
            ):
                session.from_client(line)
            recorder.flush()
    finally:
        recorder.close()
    assert not list((tmp_path / "log").glob("audit.jsonl.*")), "the history was rotated away"
    lines = (tmp_path / "log" / "audit.jsonl").read_bytes().splitlines()
    assert max(map(len, lines)) <= auditlog.MAX_RECORD + 200
    stored = [json.loads(line) for line in lines]
    assert stored[0]["tool"] == "delete_repo"
    denied = [r for r in stored if r["event"] == "call" and r.get("outcome") == "denied"]
    assert len(denied) == 7 and all(r["tool"] == "delete_repo" for r in denied)
    assert all("not kept" in str(r["arguments"]) for r in denied[1:])
    requests = [r for r in stored if r["event"] == "request"]
    assert len(requests) == 6 and all("not kept" in str(r["request_id"]) for r in requests)
    assert auditlog.verify(folder, key).ok


def test_a_line_without_end_is_not_held_without_bound() -> None:
    """A peer that never wrote a newline made the relay hold all it sent (a hostile server
    could exhaust the machine's memory): past the limit the line is dropped, reported
    once with its first bytes, and the lines after it pass as before."""
    read_end, write_end = os.pipe()
    got: list[bytes] = []
    heads: list[bytes] = []
    head = b'{"jsonrpc":"2.0","id":7,"result":{"text":"'

    def write() -> None:
        with contextlib.suppress(BrokenPipeError), os.fdopen(write_end, "wb") as pipe:
            pipe.write(b'{"a":1}\n' + head)
            for _ in range(64):  # 64 MiB of one line, in pieces
                pipe.write(b"x" * (1024 * 1024))
            pipe.write(b'"}}\n{"b":2}\n')

    writer = threading.Thread(target=write)
    writer.start()
    tracemalloc.start()
    try:
        relay.lines(read_end, got.append, heads.append, limit=4 * 1024 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        os.close(read_end)  # a reader that failed must not leave the writer blocked
        writer.join(30)
    assert got == [b'{"a":1}\n', b'{"b":2}\n']
    assert len(heads) == 1 and heads[0].startswith(head)
    assert peak < 24 * 1024 * 1024, f"held {peak / 2**20:.0f} MiB"


def test_an_overlong_answer_fails_its_request_and_an_overlong_request_is_refused() -> None:
    session, records, _ = make(guard(deny=DENY))
    to_server, _ = session.from_client(request(5, "tools/call", {"name": "get_me"}))
    assert to_server is not None
    guard_id = json.loads(to_server)["id"]
    head = f'{{"jsonrpc":"2.0","id":{guard_id},"result":{{"content":"xxxx'.encode()
    failed = session.too_long_from_server(head, 1000)
    assert failed is not None
    assert json.loads(failed)["id"] == 5 and "error" in json.loads(failed)
    assert not session.pending
    refused = session.too_long_from_client(b'{"jsonrpc":"2.0","id":9,"method":"tools/ca', 1000)
    assert json.loads(refused)["id"] == 9 and json.loads(refused)["error"]["code"] == -32700
    assert [r["event"] for r in records if r["event"] == "malformed"] == ["malformed"] * 2


@pytest.mark.parametrize(
    "name",
    [
        "DELETE_REPO",  # a server that looks tools up without regard to case
        "Delete_Repo",
        "\uff44elete_repo",  # fullwidth d: NFKC reads it as "d"
        "delete\u200b_repo",  # a zero-width space a normalising server strips
        "\u200bdelete_repo",
    ],
)
def test_a_deny_glob_holds_for_names_a_lenient_server_reads_as_the_denied_tool(
    name: str,
) -> None:
    session, records, _ = make(guard(deny=DENY))
    to_server, to_client = session.from_client(request(3, "tools/call", {"name": name}))
    assert to_server is None and to_client is not None
    assert json.loads(to_client)["result"]["isError"] is True
    assert [r["outcome"] for r in records if r["event"] == "call"] == ["denied"]


def test_an_allow_list_still_matches_exact_names_only() -> None:
    session, _, _ = make(guard(allow=("get_*",)))
    assert session.from_client(request(1, "tools/call", {"name": "get_me"}))[0] is not None
    assert session.from_client(request(2, "tools/call", {"name": "GET_ME"}))[0] is None


def test_an_injected_value_written_as_a_number_is_masked() -> None:
    """The bytes matched, the strings did not, and the line passed as it was: a server that
    parsed its numeric secret from the environment handed the digits to the model."""
    masker = Masker()
    masker.add("secret/account-pin", "904417263381")
    masker.add("secret/short", "4711")
    line = dumps({"jsonrpc": "2.0", "id": 1, "result": {"structuredContent": {
        "pin": 904417263381, "also": [4711, 47110], "text": "ok"}}})  # fmt: skip
    out = masker.line(line)
    assert b"904417263381" not in out
    content = json.loads(out)["result"]["structuredContent"]
    assert content["pin"] == "[redacted mcpcred:secret/account-pin]"
    assert content["also"] == ["[redacted mcpcred:secret/short]", 47110]
    record = masker.record({"event": "call", "request_id": 904417263381, "arguments": {"n": 7}})
    assert "904417263381" not in json.dumps(record)
    assert masker.record({"event": "call", "request_id": 14711})["request_id"] == 14711


def test_a_server_cannot_use_up_the_records_of_a_clients_malformed_lines() -> None:
    """One cap for both sides: a server that sent 20 junk lines first left the client's
    framing tricks (a refused call hidden behind a bare CR) without a record, and nothing
    said how many lines went unrecorded."""
    session, records, _ = make(guard(deny=DENY))
    for _ in range(25):
        assert session.from_server(b"junk\n") is None
    smuggled = (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_me"}}\r'
        b'{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_repo"}}\n'
    )
    to_server, _ = session.from_client(smuggled)
    assert to_server is None
    malformed = [r["detail"] for r in records if r["event"] == "malformed"]
    assert len(malformed) == 21 and "from the client" in str(malformed[-1])
    summary = session.unrecorded()
    assert summary is not None and "5 from the server" in str(summary["detail"])


@pytest.mark.parametrize("method", ["tools/call", "resources/read", "prompts/get"])
def test_a_recorded_request_sent_as_a_notification_never_runs_unrecorded(method: str) -> None:
    """Without an id, an allowed tools/call (or resources/read...) passed with no record at
    all: no request record (those were written for requests only) and no outcome. A server
    on a generic JSON-RPC library runs it: a client could act past the audit log."""
    session, records, _ = make(guard(deny=DENY))
    durable: list[dict[str, object]] = []
    session.durable = lambda entry: durable.append(entry)  # type: ignore[func-returns-value]
    params = {"name": "get_me", "uri": "file:///etc/passwd", "arguments": {"q": 1}}
    note = dumps({"jsonrpc": "2.0", "method": method, "params": params})
    assert session.from_client(note) == (None, None)
    (record,) = [r for r in records if r["event"] == "call"]
    assert record["outcome"] == "denied" and record["method"] == method
    assert "notification" in str(record["reason"])
    batch = dumps([json.loads(note), json.loads(request(1, "ping"))])
    to_server, _ = session.from_client(batch)
    assert to_server is not None and json.loads(to_server) == [
        {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    ]


def test_a_value_with_escaped_characters_in_a_large_answer_is_masked() -> None:
    """Large answers pass unparsed (only their id is swapped), and the masker looked for
    the value's bytes: a server that wrote one character as an escape (.NET writes "+" as
    \\u002B) handed the value to the client. Small answers were safe: they are rewritten."""
    token = "Zm9v+YmFy/c2VjcmV0+dG9rZW4xMjM0"
    masker = Masker()
    masker.add("secret/api-key", token)
    session, _, _ = make(guard())
    to_server, _ = session.from_client(request(3, "tools/call", {"name": "dump"}))
    assert to_server is not None
    guard_id = json.loads(to_server)["id"]
    escaped = token.replace("+", "\\u002B").replace("Z", "\\u005a")
    text = "x" * BIG + f" key={escaped} "
    line = (
        f'{{"jsonrpc":"2.0","id":{guard_id},"result":{{"content":'
        f'[{{"type":"text","text":"{text}"}}]}}}}\n'
    ).encode()
    spliced = session.from_server(line)
    assert spliced is not None and escaped.encode() in spliced  # passed unparsed
    shown = json.loads(masker.line(spliced))
    assert shown["id"] == 3
    assert token not in shown["result"]["content"][0]["text"]
    assert "key=[redacted mcpcred:secret/api-key]" in shown["result"]["content"][0]["text"]


def test_a_call_cancelled_after_it_ran_is_recorded_as_it_ended() -> None:
    """A client that cancels a call at once left "cancelled" as the log's last word on it,
    and the server's answer (the call ran to the end) was dropped without a record."""
    session, records, _ = make(guard())
    to_server, _ = session.from_client(request(4, "tools/call", {"name": "delete_thing"}))
    assert to_server is not None
    guard_id = json.loads(to_server)["id"]
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 4}}
    assert session.from_client(dumps(cancel))[0] is not None
    assert session.from_server(answer(guard_id, {"content": [], "isError": False})) is None
    outcomes = [(r["request_id"], r["outcome"]) for r in records if r["event"] == "call"]
    assert outcomes == [(4, "cancelled"), (4, "ok")]
    assert "after the client cancelled" in str(records[-1]["reason"])


def test_the_escape_check_follows_the_size_where_answers_pass_unparsed() -> None:
    from mcpcred.guard import mask

    assert mask.UNPARSED == BIG


def test_block_mode_refuses_a_tool_no_listing_has_checked(tmp_path: Path) -> None:
    """With on_change = "block", a tool the server added since the pins were taken was
    withheld from tools/list, but a client told its name (by text the server returned
    earlier) could call it before listing: the call reached the server unchecked."""
    store = PinStore(str(tmp_path / "pins"))
    echo = {"name": "echo", "description": "Echo.", "inputSchema": {"type": "object"}}
    exfil = {"name": "exfil", "description": "Send.", "inputSchema": {"type": "object"}}

    def session_with_pins() -> Session:
        session, _, _ = make(guard(on_change="block"), store)
        session.from_client(request(0, "initialize", {"capabilities": {}}))
        return session

    def listing(session: Session, tools: list[dict[str, object]]) -> list[object]:
        to_server, _ = session.from_client(request("l", "tools/list"))
        assert to_server is not None
        shown = session.from_server(answer(json.loads(to_server)["id"], {"tools": tools}))
        assert shown is not None
        return [tool["name"] for tool in json.loads(shown)["result"]["tools"]]

    assert listing(session_with_pins(), [echo]) == ["echo"]  # pins echo
    later = session_with_pins()
    to_server, refused = later.from_client(request(1, "tools/call", {"name": "exfil"}))
    assert to_server is None and refused is not None
    assert "list the tools first" in json.loads(refused)["result"]["content"][0]["text"]
    assert later.from_client(request(2, "tools/call", {"name": "echo"}))[0] is not None
    assert listing(later, [echo, exfil]) == ["echo"]
    assert later.from_client(request(3, "tools/call", {"name": "exfil"}))[0] is None
    # the very first session: nothing pinned, calls wait for the listing that pins
    fresh, _, _ = make(guard(on_change="block"), PinStore(str(tmp_path / "other")))
    assert fresh.from_client(request(4, "tools/call", {"name": "echo"}))[0] is None
    assert listing(fresh, [echo]) == ["echo"]
    assert fresh.from_client(request(5, "tools/call", {"name": "echo"}))[0] is not None


def test_the_guards_own_notices_do_not_quote_an_injected_value(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The server's stderr was masked, but the guard's notices beside it quote what the
    server listed (tool names in a drift warning) and were written as they were."""
    from mcpcred.guard.run import Warn

    token = "ghp_R3dT3amT0k3nValue0000000000000000000"
    masker = Masker()
    masker.add("secret/demo-token", token)
    warn = Warn("leaky")
    warn.mask = lambda text: masker.text(text, audit=True)
    store = PinStore(str(tmp_path / "pins"))
    for tools in ([{"name": "echo"}], [{"name": "echo"}, {"name": f"debug_{token}"}]):
        session = Session(guard(), client="c", record=lambda r: None, warn=warn, pins=store)
        to_server, _ = session.from_client(request("l", "tools/list"))
        assert to_server is not None
        session.from_server(answer(json.loads(to_server)["id"], {"tools": tools}))
    err = capsys.readouterr().err
    assert "added debug_[redacted mcpcred:secret/demo-token]" in err, err
    assert token not in err


@pytest.mark.parametrize("result", [{"tools": {"delete_repo": {}}}, {"tools": "delete_repo"}, []])
def test_a_tool_list_the_policy_cannot_filter_is_not_passed_on(result: object) -> None:
    """An answer to tools/list whose tools were not a list passed unfiltered, and in block
    mode did not hold calls back until a list could be checked."""
    session, _, _ = make(guard(deny=DENY, on_change="block"), FakeStore())
    to_server, _ = session.from_client(request("l", "tools/list"))
    assert to_server is not None
    shown = session.from_server(answer(json.loads(to_server)["id"], result))
    assert shown is not None and b"delete_repo" not in shown
    assert json.loads(shown)["id"] == "l" and "error" in json.loads(shown)
    assert session.from_client(request(2, "tools/call", {"name": "get_me"}))[0] is None


class FakeStore:
    """Pins that hold ``get_me``, and that see no change."""

    def pending_names(self, server: str, client: str) -> set[str]:
        return set()

    def pinned_names(self, server: str, client: str) -> set[str]:
        return {"get_me"}


def test_messages_held_during_a_restart_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the server restarted for a fresh token, every client message was held in
    memory, however many came (for up to the drain, refresh and replay waits): a client
    writing flat out grew the relay without bound. Past the bound the reader now waits."""
    monkeypatch.setattr(relay, "MAX_HELD", 1000)
    session, _, _ = make(guard())
    guarded = relay.Relay(relay.ChildProcess(["server"], {}), session, stdout=-1)
    passed: list[bytes] = []
    guarded._pass_client = passed.append  # type: ignore[method-assign]
    guarded.holding = True
    line = dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"x": "y" * 200}})

    def client() -> None:
        for _ in range(20):
            guarded._from_client(line)

    reader = threading.Thread(target=client, daemon=True)
    reader.start()
    reader.join(0.5)
    assert reader.is_alive(), "the reader held every message instead of waiting"
    assert guarded.held_bytes <= 1000 and passed == []
    with guarded.gate:  # the restart ends: held lines first, in order
        held, guarded.held, guarded.held_bytes = guarded.held, [], 0
        passed.extend(held)
        guarded.holding = False
    reader.join(5)
    assert not reader.is_alive() and passed == [line] * 20


@pytest.mark.parametrize("seed", range(6))
def test_lines_are_split_exactly_however_the_bytes_arrive(seed: int) -> None:
    """The relay reads into one reused buffer and copies lines out of it: every line
    arrives whole and unchanged (small ones, ones spread over many reads, the last one
    without a newline), whatever sizes the peer's writes and the relay's reads have."""
    import random

    chooser = random.Random(seed)
    sizes = [chooser.choice([0, 1, 50, 4000, 70_000, 300_000, 2_500_000]) for _ in range(40)]
    sent = [bytes([65 + i % 26]) * size + b"\n" for i, size in enumerate(sizes)]
    sent.append(b"tail without a newline")
    stream = b"".join(sent)
    read_end, write_end = os.pipe()

    def write() -> None:
        with os.fdopen(write_end, "wb", buffering=0) as pipe:
            at = 0
            while at < len(stream):
                step = chooser.choice([1, 7, 100, 65_536, 1_000_000, 5_000_000])
                pipe.write(stream[at : at + step])
                at += step

    writer = threading.Thread(target=write)
    writer.start()
    got: list[bytes] = []
    try:
        relay.lines(read_end, lambda line: got.append(bytes(line)))
    finally:
        os.close(read_end)
        writer.join(30)
    assert got == sent
