"""Tool pins: stable hashes, drift, pending changes, accepting them, and safe files."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from mcpcred.errors import ConfigError, UsageError
from mcpcred.guard import pins
from mcpcred.guard.pins import (
    Drift,
    PinStore,
    client_key,
    default_folder,
    diff_lines,
    file_stem,
    server_of,
    tool_hash,
)


def tool(name: str, description: str = "does things", **schema: object) -> dict[str, object]:
    properties = schema or {"path": {"type": "string", "description": "a path"}}
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": properties, "required": ["path"]},
    }


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        self.now += 60
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> PinStore:
    return PinStore(str(tmp_path / "data" / "pins"), clock=Clock())


K = client_key("claude-code", None, {})


def _file(store: PinStore, server: str, client: str | None = K) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(Path(store.path(server, client)).read_text())
    return document


# -- hashes ----------------------------------------------------------------------------------
def test_hash_ignores_key_order_and_other_fields_but_not_the_description() -> None:
    first = {
        "name": "read",
        "description": "Read a file",
        "inputSchema": {"type": "object", "properties": {"a": {"type": "string"}, "b": {}}},
    }
    reordered = {
        "inputSchema": {"properties": {"b": {}, "a": {"type": "string"}}, "type": "object"},
        "description": "Read a file",
        "name": "read",
        "title": "Read",
        "annotations": {"readOnlyHint": True},
    }
    assert tool_hash(first) == tool_hash(reordered)
    assert len(tool_hash(first)) == 64
    assert tool_hash(first) != tool_hash({**first, "description": "Read a file."})
    assert tool_hash(first) != tool_hash({**first, "inputSchema": {"type": "object"}})
    assert tool_hash({"name": "x"}) == tool_hash({"name": "x", "description": None})
    assert tool_hash({"name": "x"}) != tool_hash({"name": "x", "description": ""})


# -- observing -------------------------------------------------------------------------------
def test_first_listing_creates_the_pins(store: PinStore) -> None:
    drift = store.observe("github", K, [tool("a"), tool("b")], complete=True)
    assert drift.created
    assert not drift
    document = _file(store, "github")
    assert document["version"] == 2
    assert document["client"] == K
    assert document["server"] == "github"
    assert document["pending"] == {}
    tools = document["tools"]
    assert isinstance(tools, dict)
    assert sorted(tools) == ["a", "b"]
    assert tools["a"]["hash"] == tool_hash(tool("a"))
    assert tools["a"]["definition"] == {
        "name": "a",
        "description": "does things",
        "inputSchema": tool("a")["inputSchema"],
    }
    assert str(tools["a"]["pinned_at"]).endswith("Z")


def test_unchanged_listing_reports_nothing_and_does_not_write(store: PinStore) -> None:
    store.observe("s", K, [tool("a"), tool("b")], complete=True)
    before = os.stat(store.path("s", K)).st_mtime_ns
    os.utime(store.path("s", K), ns=(before - 10**9, before - 10**9))
    drift = store.observe("s", K, [tool("b"), tool("a")], complete=True)
    assert drift == Drift()
    assert not drift.created
    assert os.stat(store.path("s", K)).st_mtime_ns == before - 10**9


def test_changed_added_and_removed_tools_become_pending(store: PinStore) -> None:
    store.observe("s", K, [tool("keep"), tool("change"), tool("drop")], complete=True)
    now = [tool("keep"), tool("change", "now reads ~/.ssh"), tool("new")]
    drift = store.observe("s", K, now, complete=True)
    assert (drift.added, drift.changed, drift.removed) == (["new"], ["change"], ["drop"])
    pending = _file(store, "s")["pending"]
    assert isinstance(pending, dict)
    assert pending["change"]["change"] == "changed"
    assert pending["change"]["definition"]["description"] == "now reads ~/.ssh"
    assert pending["change"]["hash"] == tool_hash(now[1])
    assert pending["new"]["change"] == "added"
    assert pending["drop"] == {
        "change": "removed",
        "definition": None,
        "hash": None,
        "seen_at": pending["drop"]["seen_at"],
    }
    # The pins themselves are untouched until accepted.
    assert _file(store, "s")["tools"]["change"]["hash"] == tool_hash(tool("change"))


def test_pending_is_stable_while_the_drift_is_the_same(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    store.observe("s", K, [tool("a", "v2")], complete=True)
    first = _file(store, "s")["pending"]
    store.observe("s", K, [tool("a", "v2")], complete=True)
    assert _file(store, "s")["pending"] == first  # seen_at is when it was first seen
    store.observe("s", K, [tool("a", "v3")], complete=True)
    assert _file(store, "s")["pending"]["a"]["definition"]["description"] == "v3"


def test_pending_clears_when_the_server_goes_back(store: PinStore) -> None:
    store.observe("s", K, [tool("a"), tool("b")], complete=True)
    store.observe("s", K, [tool("a", "evil"), tool("c")], complete=True)
    assert sorted(_file(store, "s")["pending"]) == ["a", "b", "c"]
    drift = store.observe("s", K, [tool("a"), tool("b")], complete=True)
    assert not drift
    assert _file(store, "s")["pending"] == {}


def test_incomplete_listing_never_reports_removals(store: PinStore) -> None:
    store.observe("s", K, [tool("a"), tool("b")], complete=True)
    drift = store.observe("s", K, [tool("a")], complete=False)
    assert not drift
    assert _file(store, "s")["pending"] == {}
    # A page that clears one pending change leaves the others alone.
    store.observe("s", K, [tool("a", "x"), tool("b", "y")], complete=True)
    store.observe("s", K, [tool("a")], complete=False)
    assert sorted(_file(store, "s")["pending"]) == ["b"]


def test_pagination_of_the_first_listing_adopts_later_pages(store: PinStore) -> None:
    first = store.observe("s", K, [tool("a")], complete=False)
    assert first.created
    second = store.observe("s", K, [tool("b")], complete=False, adopt_new=True)
    assert not second
    document = _file(store, "s")
    assert sorted(document["tools"]) == ["a", "b"]
    assert document["pending"] == {}
    # Without adopt_new, a new tool on a later page is drift.
    third = store.observe("s", K, [tool("c")], complete=False)
    assert third.added == ["c"]
    # adopt_new never launders a change that is already pending.
    fourth = store.observe("s", K, [tool("c")], complete=False, adopt_new=True)
    assert fourth.added == ["c"]


def test_a_name_listed_twice_with_different_definitions_is_a_change(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    drift = store.observe("s", K, [tool("a"), tool("a", "shadow")], complete=True)
    assert drift.changed == ["a"]
    assert _file(store, "s")["pending"]["a"]["definition"]["description"] == "shadow"


def test_tools_without_a_string_name_are_ignored(store: PinStore) -> None:
    drift = store.observe(
        "s", K, [{"description": "no name"}, {"name": 3}, tool("a")], complete=True
    )
    assert drift.created
    assert list(_file(store, "s")["tools"]) == ["a"]


# -- accepting -------------------------------------------------------------------------------
def test_accept_moves_pending_into_the_pins(store: PinStore) -> None:
    store.observe("s", K, [tool("a"), tool("b"), tool("c")], complete=True)
    store.observe("s", K, [tool("a", "v2"), tool("b"), tool("d")], complete=True)
    accepted = store.accept("s", ["a"])
    assert accepted == Drift(changed=["a"])
    document = _file(store, "s")
    assert document["tools"]["a"]["hash"] == tool_hash(tool("a", "v2"))
    assert sorted(document["pending"]) == ["c", "d"]
    rest = store.accept("s")
    assert (rest.added, rest.changed, rest.removed) == (["d"], [], ["c"])
    document = _file(store, "s")
    assert sorted(document["tools"]) == ["a", "b", "d"]
    assert document["pending"] == {}
    assert not store.observe("s", K, [tool("a", "v2"), tool("b"), tool("d")], complete=True)
    assert store.accept("s") == Drift()


def test_accept_refuses_unknown_servers_and_tools(store: PinStore) -> None:
    with pytest.raises(UsageError) as nothing:
        store.accept("nope")
    assert "no server has pinned tools yet" in str(nothing.value.hint)
    store.observe("s", K, [tool("a")], complete=True)
    store.observe("s", K, [tool("a", "v2")], complete=True)
    with pytest.raises(UsageError) as unknown:
        store.accept("nope")
    assert unknown.value.hint == "servers with pins: s"
    with pytest.raises(UsageError) as no_tool:
        store.accept("s", ["zzz"])
    assert "'zzz'" in no_tool.value.message
    assert no_tool.value.hint == "pending: a"
    assert sorted(_file(store, "s")["pending"]) == ["a"]


def test_forget_and_servers(store: PinStore) -> None:
    assert store.servers() == []
    assert not os.path.exists(store.folder)  # reading never creates the folder
    store.observe("b", K, [tool("a")], complete=True)
    store.observe("A/../x", K, [tool("a")], complete=True)
    assert store.servers() == ["A/../x", "b"]
    assert store.forget("b")
    assert not store.forget("b")
    assert store.servers() == ["A/../x"]
    assert store.load("b", K) is None


# -- files -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..", ".", "a/b", "a\\b", "C:x", "GitHub", "név ✓", "x\x00y", ".hidden"],
)
def test_server_names_never_escape_the_folder(store: PinStore, name: str) -> None:
    legacy = store.path(name, None)
    assert os.path.dirname(legacy) == store.folder
    stem = os.path.basename(legacy)[: -len(".json")]
    assert not stem.startswith(".")
    assert all(c.isascii() and (c.isalnum() or c in "._-%~") for c in stem)
    assert server_of(stem) == name
    path = store.path(name, K)
    assert (
        os.path.dirname(path)
        == store.server_folder(name)
        == os.path.join(store.folder, stem + ".d")
    )
    store.observe(name, K, [tool("a")], complete=True)
    assert store.load(name, K) is not None
    assert name in store.servers()
    assert store.clients(name) == [K]
    assert sorted(os.listdir(store.folder)) == [stem + ".d"]


def test_case_differing_names_do_not_share_a_file() -> None:
    assert file_stem("GitHub") != file_stem("github")
    assert file_stem("github") == "github"


def test_very_long_names_are_shortened_and_still_listed(store: PinStore) -> None:
    name = "ü" * 300
    assert len(os.path.basename(store.path(name, None))) < 140
    assert len(os.path.basename(store.server_folder(name))) < 140
    store.observe(name, K, [tool("a")], complete=True)
    assert store.servers() == [name]
    assert store.load(name, K) is not None


def test_empty_server_name_is_refused(store: PinStore) -> None:
    with pytest.raises(UsageError):
        store.observe("", K, [tool("a")], complete=True)


def test_files_are_private(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    assert stat.S_IMODE(os.stat(store.path("s", K)).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(store.server_folder("s")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(store.folder)).st_mode) == 0o700


CLIENT_FIELD = b'"client": "' + K.encode() + b'", '


@pytest.mark.parametrize("legacy", [False, True], ids=["client file", "file from before clients"])
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"{not json", "is not valid JSON"),
        (b"\xff\xfe", "is not valid JSON"),
        (b"[]", "not a JSON object"),
        (b"[" * 200_000, "is not valid JSON"),
        (b'{"version": 9, "server": "s", "tools": {}, "pending": {}}', "newer mcpcred"),
        (b'{"version": V, @"server": "zq-evil", "tools": {}, "pending": {}}', "another server"),
        (b'{"version": V, @"server": "s", "tools": [], "pending": {}}', "malformed"),
        (b'{"version": V, @"server": "s", "tools": {"a": {}}, "pending": {}}', "malformed"),
        (
            b'{"version": V, @"server": "s", "tools": {}, "pending": {"a": {"change": "x"}}}',
            "malformed",
        ),
    ],
)
def test_corrupt_file_is_a_config_error_naming_it_without_content(
    store: PinStore, content: bytes, reason: str, legacy: bool
) -> None:
    """A client's own file, and the old per-server file every new client is checked against."""
    path = Path(store.path("s", None if legacy else K))
    path.parent.mkdir(parents=True)
    content = content.replace(b"V, ", b"1, " if legacy else b"2, ")
    content = content.replace(b"@", b"" if legacy else CLIENT_FIELD)
    path.write_bytes(content)
    with pytest.raises(ConfigError) as error:
        store.observe("s", K, [tool("a")], complete=True)
    assert str(path) in error.value.message
    assert reason in error.value.message
    assert "zq-evil" not in error.value.message
    assert "mcpcred pins forget s" in str(error.value.hint)
    assert path.read_bytes() == content
    assert not os.path.exists(store.path("s", K)) or not legacy


def test_a_file_of_another_client_or_version_is_refused(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    other = client_key("cursor", None, {"roots": {}})
    os.replace(store.path("s", K), store.path("s", other))
    with pytest.raises(ConfigError, match="belongs to another client"):
        store.load("s", other)
    Path(store.path("s", None)).write_text(Path(store.path("s", other)).read_text())
    with pytest.raises(ConfigError, match="is not a version 1 pin file"):
        store.load("s", None)


@pytest.mark.parametrize("kind", ["directory", "fifo", "unreadable"])
def test_a_pin_file_that_cannot_be_read_is_a_config_error(store: PinStore, kind: str) -> None:
    path = store.path("s", K)
    os.makedirs(os.path.dirname(path))
    if kind == "directory":
        os.mkdir(path)
    elif kind == "fifo":
        os.mkfifo(path)  # opened blocking, this would hang the shim
    else:
        os.symlink(os.path.join(store.folder, "loop"), os.path.join(store.folder, "loop"))
        os.symlink(os.path.join(store.folder, "loop"), path)  # ELOOP: any user, root too
    with pytest.raises(ConfigError) as error:
        store.observe("s", K, [tool("a")], complete=True)
    assert path in error.value.message
    assert "mcpcred pins forget s" in str(error.value.hint)
    assert store.forget("s") == 1
    assert store.servers() == []


def test_concurrent_observers_never_leave_a_torn_file(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    errors: list[BaseException] = []

    def churn(index: int) -> None:
        try:
            for round_ in range(30):
                description = "x" * (index * 5000 + round_)
                store.observe("s", K, [tool("a", description)], complete=True)
                store.load("s", K)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _file(store, "s")["pending"]["a"]["change"] == "changed"
    assert [n for n in os.listdir(store.folder) if n.endswith(".tmp")] == []


def test_hostile_strings_are_stored_safely(store: PinStore) -> None:
    hostile = tool("a", "lone \ud800 surrogate and \u202e bidi \x1b[31m")
    store.observe("s", K, [tool("a")], complete=True)
    drift = store.observe("s", K, [hostile], complete=True)
    assert drift.changed == ["a"]
    raw = Path(store.path("s", K)).read_bytes()
    assert raw.isascii()
    assert store.load("s", K) is not None


def test_default_folder_is_under_the_data_dir_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "d"))
    assert default_folder() == str(tmp_path / "d" / "pins")
    assert not (tmp_path / "d").exists()
    assert default_folder({"MCPCRED_DATA_DIR": "/x"}) == os.path.join("/x", "pins")
    monkeypatch.delenv("MCPCRED_DATA_DIR")
    assert default_folder().endswith(os.path.join("mcpcred", "pins"))


# -- diffs -----------------------------------------------------------------------------------
def test_diff_lines_show_the_change_with_hidden_characters_escaped() -> None:
    old = tool("a", "Reads a file")
    new = tool("a", "Reads a file\u200b and sends it")
    lines = diff_lines(old, new)
    assert lines[0] == "--- pinned"
    assert lines[1] == "+++ offered now"
    assert '-  "description": "Reads a file",' in lines
    assert '+  "description": "Reads a file\\u200b and sends it",' in lines
    added = diff_lines(None, new)
    assert all(not line.startswith("-") or line == "--- pinned" for line in added)
    assert any(line.startswith('+  "name": "a"') for line in added)
    removed = diff_lines(old, None)
    assert any(line.startswith('-  "name": "a"') for line in removed)
    assert diff_lines(old, old) == []


def test_absurdly_deep_schemas_are_hashed_and_pinned_without_recursion(store: PinStore) -> None:
    def deep(leaf: int, depth: int = 5000) -> dict[str, object]:
        schema: object = leaf
        for _ in range(depth):
            schema = {"a": schema}
        return {"name": "x", "description": "d", "inputSchema": schema}

    assert tool_hash(deep(1)) != tool_hash(deep(2))
    assert tool_hash(deep(1)) == tool_hash(deep(1))
    assert store.observe("s", K, [deep(1)], complete=True).created
    stored = _file(store, "s")["tools"]["x"]["definition"]["inputSchema"]
    assert stored == {"$comment": "nested deeper than 100 levels: not stored by mcpcred"}
    assert store.observe("s", K, [deep(2)], complete=True).changed == ["x"]
    assert not store.observe("s", K, [deep(1)], complete=True)
    # Shallow schemas keep the plain canonical JSON hash.
    assert tool_hash(deep(1, 5)) != tool_hash(deep(2, 5))


# -- per client ------------------------------------------------------------------------------
ROOTS = client_key("claude-code", None, {"roots": {"listChanged": True}, "elicitation": {}})


def test_client_keys_are_stable_per_client_and_split_by_capability_names() -> None:
    assert client_key("claude-code", "Claude Code", {}) == K
    assert client_key("claude-code", None, {"elicitation": {"form": {}}, "roots": {}}) == ROOTS
    assert ROOTS != K
    assert ROOTS.startswith("claude-code.")
    assert client_key(None, "cursor-vscode", {}).startswith("cursor-vscode.")
    assert client_key(None, None, None).startswith("unknown.")


def test_clients_with_different_tools_do_not_drift_each_other(store: PinStore) -> None:
    base = [tool("echo"), tool("get-env")]
    extra = [*base, tool("get-roots-list"), tool("trigger-elicitation-request")]
    assert store.observe("everything", K, base, complete=True).created
    about = {"client_id": "claude-code", "capabilities": ["elicitation", "roots"]}
    first = store.observe("everything", ROOTS, extra, complete=True, about=about)
    assert first.created and not first
    for _ in range(2):  # alternating sessions: nothing flips
        assert store.observe("everything", K, base, complete=True) == Drift()
        assert store.observe("everything", ROOTS, extra, complete=True) == Drift()
    assert store.clients("everything") == sorted([K, ROOTS])
    assert store.servers() == ["everything"]
    assert sorted(_file(store, "everything", ROOTS)["tools"]) == sorted(
        str(t["name"]) for t in extra
    )
    assert _file(store, "everything", ROOTS)["capabilities"] == ["elicitation", "roots"]


def test_a_new_clients_first_listing_is_checked_against_the_other_clients(
    store: PinStore,
) -> None:
    store.observe("s", K, [tool("a"), tool("b")], complete=True)
    drift = store.observe(
        "s", ROOTS, [tool("a", "rug pulled"), tool("b"), tool("c")], complete=True
    )
    assert drift.created
    assert (drift.changed, drift.added, drift.removed) == (["a"], [], [])
    document = _file(store, "s", ROOTS)
    assert document["tools"]["a"]["hash"] == tool_hash(tool("a"))  # the other client's pin
    assert document["pending"]["a"]["definition"]["description"] == "rug pulled"
    assert sorted(document["tools"]) == ["a", "b", "c"]  # c: nobody pinned it
    # pages after the first of that first listing are checked the same way
    third = client_key("codex", None, {})
    store.observe("s", third, [tool("b")], complete=False)
    later = store.observe("s", third, [tool("a", "rug pulled")], complete=False, adopt_new=True)
    assert later.changed == ["a"]


def test_the_pin_file_from_before_clients_is_read_and_never_lost(store: PinStore) -> None:
    """A version 1 file (one per server) stays the reference for every client's first listing."""
    os.makedirs(store.folder)
    legacy = {
        "version": 1,
        "server": "s",
        "pinned_at": "2025-01-01T00:00:00Z",
        "tools": {
            name: {"hash": tool_hash(tool(name)), "definition": {}, "pinned_at": "x"}
            for name in ("a", "b")
        },
        "pending": {"b": {"hash": tool_hash(tool("b", "v2")), "definition": {}, "seen_at": "x",
                          "change": "changed"}},
    }  # fmt: skip
    Path(store.path("s", None)).write_text(json.dumps(legacy))
    assert store.servers() == ["s"]
    assert store.pending_names("s", K) == {"b"}  # before the client's own first listing
    drift = store.observe("s", K, [tool("a", "evil"), tool("b", "v2")], complete=True)
    assert (drift.created, drift.changed) == (True, ["a", "b"])
    assert store.pending_names("s", K) == {"a", "b"}
    assert store.observe("s", ROOTS, [tool("a"), tool("b")], complete=True) == Drift(created=True)
    assert json.loads(Path(store.path("s", None)).read_text()) == legacy  # read, not rewritten
    assert [key for key, _ in store.documents("s")] == [None, *sorted([K, ROOTS])]
    accepted = store.accept("s", ["b"])
    assert accepted.changed == ["b"]
    assert _file(store, "s", None)["tools"]["b"]["hash"] == tool_hash(tool("b", "v2"))
    assert _file(store, "s", None)["version"] == 1
    assert store.forget("s", "claude-code") == 2  # both keys of that client, not the old file
    assert store.servers() == ["s"]
    assert store.forget("s") == 1
    assert store.servers() == []
    assert os.listdir(store.folder) == []


def test_accept_and_forget_can_pick_one_client(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    store.observe("s", ROOTS, [tool("a")], complete=True)
    store.observe("s", K, [tool("a", "v2")], complete=True)
    store.observe("s", ROOTS, [tool("a", "v2")], complete=True)
    assert store.accept("s", client=ROOTS).changed == ["a"]
    assert _file(store, "s", K)["pending"] != {}
    with pytest.raises(UsageError) as unknown:
        store.accept("s", client="nobody")
    assert K in str(unknown.value.hint)
    assert store.forget("s", ROOTS) == 1
    assert store.clients("s") == [K]


def test_pending_of_a_withheld_tool_is_kept_when_the_pin_comes_back(store: PinStore) -> None:
    store.observe("s", K, [tool("a")], complete=True)
    store.observe("s", K, [tool("a", "evil")], complete=True)
    assert not store.observe("s", K, [tool("a")], complete=True, held={"a"})
    assert _file(store, "s")["pending"]["a"]["definition"]["description"] == "evil"
    store.observe("s", K, [tool("a")], complete=True)
    assert _file(store, "s")["pending"] == {}


def test_removals_are_computed_over_every_page_of_a_listing(store: PinStore) -> None:
    store.observe("s", K, [tool("a"), tool("b"), tool("c")], complete=True)
    last_page = store.observe("s", K, [tool("c")], complete=True, earlier={"a", "b"})
    assert last_page == Drift()
    gone = store.observe("s", K, [tool("c")], complete=True, earlier={"a"})
    assert gone.removed == ["b"]


# -- bounds ----------------------------------------------------------------------------------
def test_a_definition_too_large_to_pin_is_unpinned_never_stored(store: PinStore) -> None:
    huge = tool("huge", "x" * (pins.MAX_DEFINITION + 1))
    drift = store.observe("s", K, [tool("a"), huge], complete=True)
    assert drift.created and drift.unpinned == ["huge"]
    assert sorted(_file(store, "s")["tools"]) == ["a"]
    again = store.observe("s", K, [tool("a"), huge], complete=True)
    assert again.unpinned == ["huge"] and again.added == []
    assert _file(store, "s")["pending"] == {}
    grown = store.observe("s", K, [tool("a", "y" * (pins.MAX_DEFINITION + 1))], complete=True)
    assert grown.unpinned == ["a"] and grown.changed == []
    assert os.path.getsize(store.path("s", K)) < 10_000


def test_a_server_offering_more_tools_than_the_bound(
    store: PinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pins, "MAX_TOOLS", 5)
    many = [tool(f"t{i:02}") for i in range(8)]
    drift = store.observe("s", K, many, complete=True)
    assert drift.unpinned == ["t05", "t06", "t07"]
    assert len(_file(store, "s")["tools"]) == 5
    later = store.observe("s", K, [*many, tool("t99")], complete=True)
    assert later.unpinned == ["t05", "t06", "t07", "t99"]
    assert later.added == []


def test_the_stored_bytes_of_one_client_are_bounded(
    store: PinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pins, "MAX_STORED", 3000)
    drift = store.observe("s", K, [tool(f"t{i}", "d" * 900) for i in range(5)], complete=True)
    assert drift.unpinned == ["t2", "t3", "t4"]
    assert os.path.getsize(store.path("s", K)) < 6000


def test_the_number_of_clients_per_server_is_bounded(
    store: PinStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pins, "MAX_CLIENTS", 2)
    store.observe("s", K, [tool("a")], complete=True)
    store.observe("s", ROOTS, [tool("a")], complete=True)
    with pytest.raises(ConfigError, match="pins for 2 clients") as error:
        store.observe("s", client_key("codex", None, {}), [tool("a")], complete=True)
    assert "mcpcred pins forget s --client" in str(error.value.hint)
    assert store.observe("s", K, [tool("a")], complete=True) == Drift()


def test_a_pin_file_over_64_mib_is_refused_without_reading_it_all(store: PinStore) -> None:
    path = Path(store.path("s", K))
    path.parent.mkdir(parents=True)
    with path.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)  # sparse: no disk used
    with pytest.raises(ConfigError, match="larger than 64 MiB"):
        store.observe("s", K, [tool("a")], complete=True)
