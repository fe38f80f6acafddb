"""The detector's fast paths find exactly what its plain checks find.

``audit-config`` runs the detector on every string of every file, so its hot paths
trade Python loops for single C-level searches: a quick "nothing to see here" for
most strings (``secrets._says_nothing``), one pass to find which token anchors a
string holds, regex searches for character classes and placeholder words, a table
for entropy terms, and a per-scan cache of answers. Each must agree with the
straightforward version it replaced, byte for byte of output: the references below
are those versions, and hypothesis feeds both the strings that stress them (token
prefixes and secret alphabets glued together, URLs, references, JSON, whitespace and
the Unicode characters whose case or class differ between ``str`` methods and
``re``). Budget: ``FUZZ`` (derandomized, no example database), a second or two each.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import string
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mcpcred.audit import rules, secrets, tokens
from mcpcred.audit.rules import Auditor
from mcpcred.audit.secrets import Detector
from mcpcred.clients import BY_ID
from mcpcred.host import Host
from mcpcred.models import ConfigLocation
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.nodes import Document, KeyNode, Node, ObjectNode, ScalarNode, pointer_index
from tests.support.fuzz import deterministic

FUZZ = deterministic(300)

BASE62 = string.ascii_letters + string.digits
# Pieces a credential (or a near miss) is made of: every token anchor, the starts of
# URLs, references, JSON and auth headers, separators, and characters on which the
# ``str`` methods and ASCII regex classes could disagree.
PIECES = [
    *sorted(tokens._BY_ANCHOR),
    "https://",
    "postgres://u:",
    "redis://:",
    "@",
    "@db.acme.io/",
    "?token=",
    "&api_key=",
    "#",
    "/",
    ":",
    "Bearer ",
    "basic\t",
    "Token ",
    "key ",
    "${",
    "}",
    "${env:X}",
    "{{ secrets.X }}",
    "$",
    "%",
    "op://vault/item/field",
    "env:",
    "vault:",
    "mcpcred:secret/x",
    "<",
    ">",
    "[",
    "]",
    "{",
    '{"X-API-Key": "',
    '"}',
    "your",
    "example",
    "todo",
    "xxxx",
    "...",
    "12345678",
    "T3BlbkFJ",
    "AA",
    "=",
    "-",
    "_",
    ".",
    " ",
    "\n",
    "\x1c",
    "\xa0",
    "\u2028",
    "\u2026",
    "\u00e9",
    "\u0130",
    "\u212a",
    "\u017f",
    "\u00b2",
    "\u01c5",
]
chunks = st.one_of(
    st.sampled_from(PIECES),
    st.text(alphabet=BASE62, min_size=1, max_size=48),
    st.text(alphabet=BASE62 + "_-", min_size=1, max_size=48),
    st.text(alphabet="0123456789abcdef", min_size=1, max_size=40),
    st.text(alphabet=string.ascii_uppercase + "234567", min_size=1, max_size=20),
    st.text(max_size=6),
)
values = st.lists(chunks, max_size=7).map("".join)
NAMES = [
    None,
    "",
    "GITHUB_TOKEN",
    "API_KEY",
    "DB_PASSWORD",
    "apiKey",
    "Authorization",
    "x-api-key",
    "Api-Key",
    "USER_ID",
    "HOME",
    "PUBLIC_KEY",
    "--token",
    "session",
    "Y",
    "NEON_API_KEY",
]
names = st.one_of(st.sampled_from(NAMES), st.text(max_size=12))
roles = st.sampled_from(["env", "header", "arg", "url", "command", "field", "positional"])


# --- the fast "nothing to report" answer ------------------------------------------


@FUZZ
@given(values, names, roles)
def test_the_quick_no_never_hides_a_hit(value: str, name: str | None, role: str) -> None:
    """With ``_says_nothing`` off, every check runs: the hits must be the same."""
    fast = Detector().scan(value, name, role)
    saved = secrets._says_nothing
    secrets._says_nothing = lambda *_: False  # type: ignore[assignment]
    try:
        full = Detector().scan(value, name, role)
    finally:
        secrets._says_nothing = saved
    assert fast == full


@pytest.mark.parametrize(
    ("value", "name", "role"),
    [
        ("ghp_" + "a" * 36, None, "command"),  # a token anchor under no name
        ("Bearer Kq9vZ2xP9mN4rT7w", None, "arg"),  # an auth scheme under no name
        ("Bearer${X}Kq9vZ2xP9mN4rT7w", None, "arg"),  # ...its whitespace is a masked reference
        ("postgres://u:Kq9vZ2xP9@db.acme.io/x", None, "arg"),  # a URL
        ('{"token": "Kq9vZ2xP9mN4rT7wYb3L"}', None, "arg"),  # JSON
        ("Kq9vZ2xP9mN4rT7wYb3LcD8", None, "positional"),  # a bare argument's key
        ("Kq9vZ2xP9mN4", "x-api-key", "header"),  # a header that holds a key as such
        ("Kq9vZ2xP9mN4", "DB_PASSWORD", "env"),  # a secret-like name
    ],
)
def test_each_way_past_the_quick_no_still_reports(value: str, name: str, role: str) -> None:
    """One string per condition ``_says_nothing`` checks: each is still reported."""
    masked = secrets.mask_references(value)
    assert not secrets._says_nothing(value, masked, name, role)


def test_plain_config_strings_take_the_quick_no() -> None:
    """What it is for: commands, flags, packages and paths stop there."""
    for value, name, role in [
        ("npx", None, "command"),
        ("-y", None, "arg"),
        ("@modelcontextprotocol/server-filesystem", None, "positional"),
        ("/Users/ann/projects", "ROOT_DIR", "env"),
        ("stdio", "type", "field"),
    ]:
        assert secrets._says_nothing(value, secrets.mask_references(value), name, role)


# --- token anchors ----------------------------------------------------------------


def _find_tokens_reference(text: str) -> list[tokens.TokenMatch]:
    """``find_tokens`` as it was: every anchor searched for in the whole text."""
    if len(text) < tokens._MIN_LENGTH or tokens._PREFILTER(text) is None:
        return []
    detectors = {id(d): d for a, ds in tokens._BY_ANCHOR.items() if a in text for d in ds}
    candidates = []
    for det in detectors.values():
        for m in det.pattern.finditer(text):
            token = m.group()
            if det.validate is not None and not det.validate(token):
                continue
            body = m.group("body") if m.re.groupindex.get("body") and m.group("body") else token
            if any(example in token for example in tokens._DOC_EXAMPLES):
                continue
            if _looks_fake_reference(body, strict=det.strict):
                continue
            candidates.append((m.start(), m.end(), tokens._PRIORITY[det.fmt.kind], det.fmt))
    candidates.sort(key=lambda c: (c[0], c[0] - c[1], c[2]))
    matches = []
    last_end = -1
    for start, end, _, fmt in candidates:
        if start >= last_end:
            matches.append(tokens.TokenMatch(fmt, start, end))
            last_end = end
    return matches


def _is_periodic_reference(text: str) -> bool:
    periods = range(1, min(12, len(text) // 3) + 1)
    return any(text[period:] == text[:-period] for period in periods)


def _looks_fake_reference(body: str, *, strict: bool = True, words: bool = True) -> bool:
    lowered = body.lower()
    if words and any(marker in lowered for marker in tokens._PLACEHOLDER_MARKERS):
        return True
    if not strict:
        return False
    if words and any(marker in lowered for marker in tokens._SHORT_MARKERS):
        return True
    if any(seq in lowered for seq in tokens._SEQUENCES):
        return True
    head = body[: tokens._HEAD]
    if tokens._SAME_RUN.search(head) or _is_periodic_reference(head):
        return True
    return len(head) >= 12 and len(set(head)) <= 5


@FUZZ
@given(values)
def test_tokens_found_through_the_pivots_are_the_tokens_found_by_every_anchor(
    value: str,
) -> None:
    assert tokens.find_tokens(value) == _find_tokens_reference(value)
    assert tokens.may_hold_token(value) == bool(
        len(value) >= tokens._MIN_LENGTH and any(a in value for a in tokens._BY_ANCHOR)
    )


def test_every_anchor_is_found_wherever_it_stands() -> None:
    """Each anchor alone, glued to others, and overlapping one that shares its pivot."""
    anchors = sorted(tokens._BY_ANCHOR)
    for anchor in anchors:
        expected = {id(d) for d in tokens._BY_ANCHOR[anchor]}
        for text in (anchor, "x" + anchor + "y", anchor + anchor, "_-." + anchor):
            assert expected <= set(tokens._detectors_for(text)), (anchor, text)
    for one, two in itertools.product(anchors, repeat=2):
        text = one + two
        want = {id(d) for a, ds in tokens._BY_ANCHOR.items() if a in text for d in ds}
        assert set(tokens._detectors_for(text)) == want, text


@FUZZ
@given(st.one_of(values, st.text(alphabet="ab", max_size=40), st.text(max_size=70)))
def test_placeholder_shapes_match_the_plain_checks(body: str) -> None:
    assert tokens._is_periodic(body) == _is_periodic_reference(body)
    for strict, words in itertools.product((True, False), repeat=2):
        assert tokens._looks_fake(body, strict=strict, words=words) == _looks_fake_reference(
            body, strict=strict, words=words
        )


# --- entropy, character classes, words, shapes ------------------------------------


def _entropy_reference(text: str) -> float:
    if not text:
        return 0.0
    length = len(text)
    return -sum(n / length * math.log2(n / length) for n in Counter(text).values())


@FUZZ
@given(st.one_of(values, st.text(max_size=300), st.text(alphabet="ab", min_size=120, max_size=140)))
def test_entropy_is_the_same_float(text: str) -> None:
    """Bit for bit: thresholds (3.0, 3.5, 4.0) are compared with it."""
    assert secrets.entropy(text) == _entropy_reference(text)


def test_entropy_on_exact_thresholds() -> None:
    for text in ("0123456789abcdef", "01234567" * 4, "aabb", "a" * 200, BASE62 * 3):
        assert secrets.entropy(text) == _entropy_reference(text)


def test_regex_classes_are_the_str_methods_for_every_character() -> None:
    """``\\s`` is ``isspace`` and ``[^\\W_]`` is ``isalnum`` for all of Unicode; the ASCII
    ranges are ``isdigit``/``isupper``/``islower``/``isalpha`` on ASCII."""
    everything = "".join(map(chr, range(sys.maxunicode + 1)))
    assert "".join(re.findall(r"\s", everything)) == "".join(c for c in everything if c.isspace())
    assert "".join(re.findall(r"[^\W_]", everything)) == "".join(
        c for c in everything if c.isalnum()
    )
    for c in map(chr, range(128)):
        assert secrets._has_digit(c) == c.isdigit()
        assert secrets._has_upper(c) == c.isupper()
        assert secrets._has_lower(c) == c.islower()
        assert (secrets._ASCII_ALPHA(c) is not None) == c.isalpha()


def _bounded_reference(word: str, lowered: str) -> bool:
    start = lowered.find(word)
    while start != -1:
        before = lowered[start - 1] if start else ""
        end = start + len(word)
        after = lowered[end] if end < len(lowered) else ""
        if not before.isalnum() and not after.isalnum():
            return True
        start = lowered.find(word, start + 1)
    return False


def _scrambled_reference(text: str) -> bool:
    if len(text) < 20 or not secrets._KEY_CHARS.fullmatch(text) or secrets.entropy(text) < 4.0:
        return False
    if not any(c.isdigit() for c in text) or not any(c.isalpha() for c in text):
        return False
    if secrets._HEX.match(text.replace("-", "")):
        return False
    if secrets._random_looking(text):

        def kind(c: str) -> int:
            return 0 if c.isupper() else 1 if c.islower() else 2 if c.isdigit() else 3

        ratio = 0.45
    else:
        if len(text) < 24 or sum(1 for c in text if not c.isalnum()) > 2:
            return False
        text = "".join(c for c in text if c.isalnum())

        def kind(c: str) -> int:
            return 0 if c.isalpha() else 1

        ratio = 0.25
    switches = sum(1 for a, b in itertools.pairwise(text) if kind(a) != kind(b))
    return switches >= ratio * (len(text) - 1)


@FUZZ
@given(values)
def test_words_classes_and_shapes_match_the_plain_checks(value: str) -> None:
    lowered = value.lower()
    assert (secrets._PLACEHOLDER_SEARCH(lowered) is not None) == any(
        word in lowered for word in secrets._PLACEHOLDER_WORDS
    )
    assert (secrets._PLACEHOLDER_BOUNDED(lowered) is not None) == any(
        _bounded_reference(word, lowered) for word in secrets._PLACEHOLDER_WORDS
    )
    assert secrets._has_digit(value) == any(c.isdigit() for c in value)
    assert secrets._has_upper(value) == any(c.isupper() for c in value)
    assert secrets._has_lower(value) == any(c.islower() for c in value)
    assert secrets.scrambled(value) == _scrambled_reference(value)
    stripped = value.strip()
    assert secrets.scrambled(stripped) == _scrambled_reference(stripped)


def _parse_url_reference(text: str, start: int = 0) -> secrets.UrlParts:
    """``parse_url`` as it was, scanning characters in Python."""
    scheme = secrets._SCHEME.match(text, start)
    begin = scheme.end() if scheme is not None else start
    stop = begin
    while stop < len(text) and not text[stop].isspace():
        stop += 1
    segment = text[begin:stop]
    authority_end = next((i for i, c in enumerate(segment) if c in "/?#"), len(segment))
    at = segment.rfind("@", 0, authority_end)
    late = segment.rfind("@")
    if late > authority_end and secrets._HOST_LIKE.match(segment, late + 1):
        colon = segment.find(":", 0, late)
        user_part = segment[:colon]
        password_head = segment[colon + 1 : authority_end]
        userinfo = colon >= 0 and not any(c in user_part for c in "/?#@")
        if at < 0:
            if userinfo and not secrets._PORT.fullmatch(password_head):
                at = late
        elif userinfo:
            near = secrets.host_name(segment[at + 1 : authority_end])
            far_end = next(
                (i for i in range(late + 1, len(segment)) if segment[i] in "/?#"), len(segment)
            )
            far = secrets.host_name(segment[late + 1 : far_end])
            between = segment[at + 1 : late]
            if (
                secrets._bare_word(near)
                and not secrets._bare_word(far)
                and not any(c in between for c in "?=&")
            ):
                at = late
    user = password = None
    host_start = 0
    if at >= 0:
        colon = segment.find(":", 0, at)
        user = (begin, begin + (colon if colon >= 0 else at))
        if colon >= 0:
            password = (begin + colon + 1, begin + at)
        host_start = at + 1
    host_end = next(
        (i for i in range(host_start, len(segment)) if segment[i] in "/?#"), len(segment)
    )
    path_end = next((i for i in range(host_end, len(segment)) if segment[i] in "?#"), len(segment))
    query = None
    if path_end < len(segment) and segment[path_end] == "?":
        query_end = segment.find("#", path_end)
        query = (begin + path_end + 1, begin + (query_end if query_end >= 0 else len(segment)))
    return secrets.UrlParts(
        user,
        password,
        (begin + host_start, begin + host_end),
        (begin + host_end, begin + path_end),
        query,
    )


@FUZZ
@given(values, st.integers(min_value=0, max_value=12))
def test_urls_split_where_the_character_scan_split_them(value: str, start: int) -> None:
    start = min(start, len(value))
    assert secrets.parse_url(value, start) == _parse_url_reference(value, start)
    for scheme in secrets._SCHEME.finditer(value):
        assert secrets.parse_url(value, scheme.start()) == _parse_url_reference(
            value, scheme.start()
        )


# --- rules.py: one walk per entry, a cache per scan -------------------------------


def test_each_known_positional_pattern_needs_a_literal_of_the_hint() -> None:
    """``_POSITIONAL_HINT`` skips ``_POSITIONAL_KEYS`` only where none could match."""
    for pattern, *_ in rules._POSITIONAL_KEYS:
        literal = re.sub(r"\(\?:[^)]*\)[?*]?|[\^$]", "", pattern.pattern)
        literal = literal.replace("(?:", "").replace(")", "").replace("|", "")
        assert rules._POSITIONAL_HINT(literal) is not None, pattern.pattern


json_keys = st.sampled_from(["env", "headers", "args", "url", "command", "a", "b", "headers"])
json_leaves = st.one_of(st.none(), st.integers(), values, st.sampled_from(["x", "y"]))
json_trees = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(json_keys, inner, max_size=3),
    max_leaves=12,
)


@FUZZ
@given(st.dictionaries(json_keys, json_trees, max_size=4))
def test_the_entry_walk_is_pointer_index_with_names(tree: dict[str, object]) -> None:
    import json

    text = json.dumps({"mcpServers": {"s": tree}})
    document = parse_jsonc(text)
    servers = document.root.get("mcpServers")
    assert isinstance(servers, ObjectNode)
    node = servers.get("s")
    assert isinstance(node, ObjectNode)
    location = ConfigLocation("generic", "/x/.mcp.json", "project", "json")
    entry = BY_ID["generic"].entry(
        Document(document.root, document.source, "json"),
        location,
        KeyNode("s", node.start, node.start),
        node,
        ("mcpServers", "s"),
    )
    pointers, strings = rules._entry_index(entry)
    index = pointer_index(entry.node, entry.pointer)
    assert pointers == {key: pointer for key, (pointer, _) in index.items()}
    expected = []
    for key, (pointer, leaf) in index.items():
        if isinstance(leaf, ScalarNode) and isinstance(leaf.value, str):
            relative = pointer[len(entry.pointer) :]
            name = next((p for p in reversed(relative) if isinstance(p, str)), None)
            expected.append((key, (pointer, leaf, leaf.value, name, "headers" in relative)))
    assert list(strings.items()) == expected


def test_the_scan_cache_gives_the_answers_of_a_fresh_scan(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cached answer is the detector's answer, also after the cache was emptied."""
    text = (
        '{"mcpServers": {"a": {"command": "npx", "args": ["-y", "pkg", "--token", '
        '"Kq9vZ2xP9mN4rT7wYb3L"], "env": {"GITHUB_TOKEN": "ghp_'
        + "0" * 30
        + 'abcdef", "DB_PASSWORD": "hunter2hunter2", "HOME": "/home/ann"}}}}'
    )
    document = parse_jsonc(text)
    location = ConfigLocation("generic", "/x/.mcp.json", "project", "json")
    entries = BY_ID["generic"].servers(Document(document.root, document.source, "json"), location)
    host = Host.current()
    fresh = [list(Auditor(host).secret_hits(e)) for e in entries]
    monkeypatch.setattr(rules, "_CACHE_SIZE", 2)  # emptied again and again
    auditor = Auditor(host)
    for _ in range(3):
        assert [list(auditor.secret_hits(e)) for e in entries] == fresh
    assert len(auditor._clean) <= 2
    assert any(fresh), "the entry has credentials to find"


path_texts = st.lists(
    st.sampled_from(["", ".", "..", "a", ".vscode", "mcp.json", "b c", "x\\y", "~"]), max_size=6
).map("/".join) | st.text(alphabet="/.a\\", max_size=12)


@pytest.mark.skipif(os.name != "posix", reason="the split stands in for PurePosixPath only")
@FUZZ
@given(st.sampled_from(["", "/", "//", "///"]), path_texts)
def test_path_parts_are_the_pure_path_parts(root: str, path: str) -> None:
    """``containers_for`` compares the tail of these parts with a project file's."""
    from pathlib import PurePosixPath

    from mcpcred.clients.base import path_parts

    assert path_parts(root + path) == PurePosixPath(root + path).parts


argv_pieces = st.sampled_from(
    [
        "-y", "-c", "-lc", "/c", "/K", "-Command", "-C", "--token", "run", "start", "init",
        "a b", "x", "", "\n", "@upstash/mcp-server", "@upstash/mcp-server@1.2", "run",
        "@neondatabase/mcp-server-neon", "mcp-server-neon@latest", "@twilio-alpha/mcp",
        "AC123/SK456:Kq9vZ2xP9mN4rT7wYb3L", "@modelcontextprotocol/server-filesystem",
        "mcp-filesystem\nx", "filesystem-mcp", "/", "~", "--key=v", "-v", "/:/host",
    ]
)  # fmt: skip
commands = st.sampled_from(
    ["npx", "sh", "bash", "/bin/zsh", "cmd", "CMD.EXE", "powershell", "pwsh", "docker",
     "uvx", "node", "mcp-server-neon", "C:\\x\\Bash.exe", ""]
)  # fmt: skip


def _known_positionals_spec_by_spec(
    command: str, texts: list[str | None]
) -> dict[int, tuple[str, re.Match[str]]]:
    """``rules._known_positionals`` with its hint run over the specs only, as it was."""
    specs = [(rules._basename(command), -1)] + [
        (t, i) for i, t in enumerate(texts) if t is not None and not t.startswith("-")
    ]
    if rules._POSITIONAL_HINT("\n".join(spec for spec, _ in specs)) is None:
        return {}
    return rules._known_positionals(command, texts)


@FUZZ
@given(commands, st.lists(argv_pieces | st.none() | st.text(max_size=6), max_size=6))
def test_the_wider_positional_hint_changes_no_answer(command: str, texts: list[str | None]) -> None:
    found = rules._known_positionals(command, texts)
    expected = _known_positionals_spec_by_spec(command, texts)
    assert {i: (n, m.span("secret")) for i, (n, m) in found.items()} == {
        i: (n, m.span("secret")) for i, (n, m) in expected.items()
    }


@FUZZ
@given(st.lists(argv_pieces | st.text(max_size=8), max_size=6))
def test_one_search_over_the_lines_is_a_search_of_each(texts: list[str]) -> None:
    """The filesystem rule's package search over ``\\n``-joined args."""
    each = any(rules._FILESYSTEM_PACKAGES.search(t) for t in texts)
    assert (rules._FILESYSTEM_PACKAGES.search("\n".join(texts)) is not None) == each


@FUZZ
@given(commands, st.lists(argv_pieces, max_size=5))
def test_shell_findings_come_only_from_the_shell_tools(command: str, args: list[str]) -> None:
    """``_shell_findings`` returns early for other tools: none of its cases can fire."""
    tool = rules._basename(command)
    fired = [
        index
        for index in range(len(args) - 1)
        if (tool in rules._SHELLS and re.fullmatch(r"-[a-z]*c", args[index]) is not None)
        or (
            tool == "cmd"
            and args[index].lower() in {"/c", "/k"}
            and " " in args[index + 1]
            and index + 2 == len(args)
        )
        or (tool in {"powershell", "pwsh"} and args[index].lower() in {"-command", "-c"})
    ]
    assert tool in rules._SHELL_TOOLS or not fired


@FUZZ
@given(
    st.lists(argv_pieces | st.sampled_from(["=", "A=b", "-=", "--x=", "_=1"]), max_size=3).map(
        "".join
    )
    | st.text(max_size=10)
)
def test_argument_shapes_are_looked_for_only_where_they_can_start(text: str) -> None:
    """``_arg_values`` tries the flag shape only on "-..." and the assignment only with "="."""
    assert rules._FLAG_VALUE.match(text) is None or text[:1] == "-"
    assert rules._ASSIGNMENT.match(text) is None or "=" in text


def _first_package_flag_by_flag(
    args: list[str], value_flags: set[str]
) -> tuple[str | None, int | None]:
    """``rules._first_package`` as it was: each flag's "flag=" prefix tried in turn."""
    skip_next = False
    for index, text in enumerate(args):
        if skip_next:
            return text, index
        if text in value_flags:
            skip_next = True
            continue
        for flag in value_flags:
            if text.startswith(flag + "="):
                return text.split("=", 1)[1], index
        if text.startswith("-"):
            continue
        return text, index
    return None, None


@FUZZ
@given(
    st.lists(
        argv_pieces
        | st.sampled_from(["-p", "--package", "--from", "-p=a@1", "--package=b=c", "--from=x"]),
        max_size=5,
    )
)
def test_the_first_package_is_found_as_flag_by_flag(args: list[str]) -> None:
    nodes: list[Node] = [ScalarNode(i, i + 1, a) for i, a in enumerate(args)]
    for flags, (value_flags, prefixes) in (
        ({"-p", "--package"}, rules._NPX_PACKAGE_FLAGS),
        ({"--from"}, rules._UVX_PACKAGE_FLAGS),
    ):
        spec, node = rules._first_package(args, nodes, value_flags, prefixes)
        expected, at = _first_package_flag_by_flag(args, flags)
        assert (spec, node) == (expected, None if at is None else nodes[at])
