"""Property-based fuzzing of the config parsers and of the files mcpcred reads and edits.

Config files come from anywhere (a cloned repository, an MCP client, a teammate), so
for any text: the span parsers return a document or raise ``ParseError`` (nothing
else); where the text is plain JSON or TOML they read what ``json``/``tomllib`` read;
``mcpcred.toml`` and the user's config either load or raise ``ConfigError``; and an
edit by ``wrap`` changes the bytes of the value it edits and no other byte. Budget:
``FUZZ`` (derandomized, no example database), a few seconds per property.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from datetime import datetime

import pytest
import tomlkit
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from mcpcred import project_config
from mcpcred.errors import ConfigError, ParseError
from mcpcred.guard import settings as guard_settings
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.nodes import ArrayNode, Node, ObjectNode, pointer_index
from mcpcred.parsing.toml import parse_toml
from mcpcred.wrap.edit import apply, verify
from mcpcred.wrap.plan import Change
from tests.support import jsonc_paths
from tests.support.fuzz import deterministic

FUZZ = deterministic(200, HealthCheck.function_scoped_fixture)

keys = st.text(min_size=1, max_size=8)
scalars = (  # what JSON has: no NaN or Infinity (json.dumps would write them anyway)
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=10,
)
json_objects = st.dictionaries(keys, json_values, max_size=4)
# What a client writes, and then what gets damaged: comments, trailing commas, any byte.
pieces = st.sampled_from(
    [
        "//",
        "/*",
        "*/",
        "\n",
        ",",
        "{",
        "}",
        "[",
        "]",
        '"',
        "\\",
        ":",
        "\x00",
        "\ufeff",
        "é",
        "1e400",
        # commas the JSONC fast path must not take for trailing ones
        "[ ,",
        "{,",
        ":,",
        ",,",
        "NaN",
        "-Infinity",
    ]
)


@st.composite
def damaged(draw: st.DrawFn, texts: st.SearchStrategy[str]) -> str:
    text = draw(texts)
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(pieces | st.text(max_size=2)) + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    return text


def jsonc_texts() -> st.SearchStrategy[str]:
    dumped = json_objects.map(lambda value: json.dumps(value, indent=2, ensure_ascii=False))
    return st.text(max_size=40) | damaged(dumped)


@FUZZ
@given(jsonc_texts())
def test_jsonc_parses_or_raises_parse_error(text: str) -> None:
    try:
        document = parse_jsonc(text, "fuzz.json")
    except ParseError as exc:
        assert exc.exit_code == 3
        return
    assert isinstance(document.root, ObjectNode)
    try:
        strict = json.loads(text)
    except ValueError:
        return  # JSONC only (comments, trailing commas): not comparable
    assert document.root.to_python() == strict


@FUZZ
@given(json_objects, st.booleans())
def test_plain_json_reads_as_json_loads(value: dict[str, object], indent: bool) -> None:
    text = json.dumps(value, indent=2 if indent else None)
    assert parse_jsonc(text).root.to_python() == json.loads(text)


# JSONC as people and tools write it, for holding the parser's two paths equal:
# objects are tuples of (key, value) pairs (so a key may repeat), arrays are
# lists; any gap between tokens may hold whitespace (CRLF too) and comments, a
# container may end with a trailing comma, and strings are escaped or not.
member_keys = st.sampled_from(["a", "b", "env", "", "é", 'q"', "\\", "/*", "//"]) | keys
numbers = st.from_regex(
    r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,8})?([eE][+-]?[0-9]{1,4})?", fullmatch=True
)
jsonc_trees = st.recursive(
    scalars | numbers.map(lambda literal: ("number", literal)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.lists(st.tuples(member_keys, inner), max_size=4).map(tuple)
    ),
    max_leaves=12,
)
gap_pieces = st.sampled_from(
    [" ", "\n", "\r\n", "\t", "// c\n", "/* c */", "/**/", '// "q" /*\n', "/* // */", "/*\n*/"]
)


@st.composite
def jsonc_documents(draw: st.DrawFn, broken: bool = False) -> str:
    """A JSONC document; ``broken``: with one defect the decoder and the reference must
    agree on (a value left out or NaN, a comma or colon too many)."""

    # Markers, never in json.dumps output (it escapes control characters): \x00 where
    # a gap is (\x03: the gap before a closing bracket), \x01 and \x02 around a
    # scalar. One of them takes the defect.
    def gap(marker: str = "\x00") -> str:
        return marker + "".join(draw(st.lists(gap_pieces, max_size=2)))

    def string(value: str) -> str:
        return json.dumps(value, ensure_ascii=draw(st.booleans()))

    def write(value: object) -> str:
        if isinstance(value, tuple) and (not value or isinstance(value[0], tuple)):
            members = [gap() + string(k) + gap() + ":" + gap() + write(v) + gap() for k, v in value]
            trailing = "," + gap() if members and draw(st.booleans()) else ""
            return "{" + ",".join(members) + trailing + gap("\x03") + "}"
        if isinstance(value, list):
            items = [gap() + write(item) + gap() for item in value]
            trailing = "," + gap() if items and draw(st.booleans()) else ""
            return "[" + ",".join(items) + trailing + gap("\x03") + "]"
        if isinstance(value, tuple):  # ("number", literal)
            literal = str(value[1])
        elif isinstance(value, str):
            literal = string(value)
        else:
            literal = json.dumps(value)
        return "\x01" + literal + "\x02"

    root = draw(st.lists(st.tuples(member_keys, jsonc_trees), max_size=4).map(tuple))
    text = gap() + write(root) + gap()
    if broken:
        scalars = [m.span() for m in re.finditer("\x01[^\x02]*\x02", text)]
        where = draw(st.sampled_from(["scalar", "gap", "closing"]))
        if where == "scalar" and scalars:
            start, end = draw(st.sampled_from(scalars))
            bad = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", ""]))
            text = text[:start] + bad + text[end:]
        else:
            marker = "\x03" if where == "closing" else "[\x00\x03]"
            at = draw(st.sampled_from([m.start() for m in re.finditer(marker, text)]))
            bad = draw(st.sampled_from([",", ",,", ":", "-", "NaN", "/", "/*"]))
            text = text[:at] + bad + text[at:]
    text = re.sub("[\x00-\x03]", "", text)
    return ("\ufeff" if draw(st.booleans()) else "") + text


@FUZZ
@given(jsonc_documents())
def test_jsonc_fast_path_builds_the_reference_tree(text: str) -> None:
    """Every span, value, duplicate and format flag as the recursive-descent parser has them."""
    assert jsonc_paths.assert_same(text), "a valid document should take the fast path"


@FUZZ
@given(jsonc_documents(broken=True) | damaged(jsonc_documents()) | jsonc_texts())
def test_jsonc_fast_path_never_accepts_what_the_reference_rejects(text: str) -> None:
    """A damaged document: the same tree, or the same ParseError (message and position)."""
    jsonc_paths.assert_same(text)


def _normal(value: object) -> object:
    """NaN comparable, types visible (1 vs 1.0 vs True), datetimes with their offset."""
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, datetime):
        return (type(value).__name__, value, value.utcoffset())
    return (type(value).__name__, value)


toml_scalars = st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats() | st.text(max_size=8)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)
toml_documents = st.dictionaries(keys, toml_values, max_size=4).map(tomlkit.dumps)


@FUZZ
@given(st.text(max_size=40) | damaged(toml_documents) | toml_documents)
def test_toml_reads_as_tomllib_or_raises_parse_error(text: str) -> None:
    try:  # mcpcred also reads a file that starts with a BOM, as editors write them
        expected: object = _normal(tomllib.loads(text.removeprefix("\ufeff")))
    except tomllib.TOMLDecodeError:
        expected = None
    try:
        got: object = _normal(parse_toml(text, "fuzz.toml").root.to_python())
    except ParseError:
        got = None
    assert got == expected


@FUZZ
@given(
    damaged(toml_documents)
    | st.dictionaries(keys, toml_values, max_size=3).map(lambda t: tomlkit.dumps({"servers": t}))
    | st.dictionaries(
        st.sampled_from(["gh", "other"]),
        st.dictionaries(
            st.sampled_from(["allow", "deny", "preset", "on_change", "guard", "pin", "x"]),
            toml_values,
            max_size=3,
        ),
        max_size=2,
    ).map(lambda t: tomlkit.dumps({"servers": t, "audit": {"fail-on": "high"}}))
)
def test_config_files_load_or_raise_config_error(
    tmp_path_factory: pytest.TempPathFactory, text: str
) -> None:
    folder = tmp_path_factory.mktemp("cfg")
    (folder / ".git").mkdir()
    user = folder / "config.toml"
    user.write_text(text, encoding="utf-8", errors="surrogatepass")
    (folder / "mcpcred.toml").write_bytes(user.read_bytes())
    for load in (
        lambda: guard_settings.load("gh", {"MCPCRED_CONFIG": str(user)}, str(folder)),
        lambda: project_config.load(str(folder / "mcpcred.toml")),
    ):
        try:
            load()
        except ConfigError as exc:
            assert exc.exit_code == 3
            assert "\n" not in exc.message


servers = st.dictionaries(
    st.text(min_size=1, max_size=6),
    st.fixed_dictionaries(
        {
            "command": st.text(max_size=6),
            "env": st.dictionaries(keys, st.text(max_size=8), min_size=1, max_size=3),
        }
    ),
    min_size=1,
    max_size=3,
)
layouts = st.sampled_from(["lf", "crlf", "comments", "compact", "bom"])


def _lay_out(value: dict[str, object], layout: str) -> str:
    text = json.dumps(value, indent=None if layout == "compact" else 2, ensure_ascii=False)
    if layout == "crlf":
        text = text.replace("\n", "\r\n")
    if layout == "comments":
        text = "// a client's comment\n" + text.replace("\n", " /* kept */\n", 1) + "\n"
    if layout == "bom":
        text = "\ufeff" + text
    return text


@FUZZ
@given(servers, layouts, st.integers(0, 50), st.text(max_size=12))
def test_a_json_edit_changes_only_the_value_it_edits(
    found: dict[str, object], layout: str, pick: int, new: str
) -> None:
    text = _lay_out({"mcpServers": found}, layout)
    document = parse_jsonc(text, "fuzz.json")
    targets = [
        ("mcpServers", name, "env", key)
        for name, entry in found.items()
        for key in entry["env"]  # type: ignore[index]
    ]
    pointer = targets[pick % len(targets)]
    node = document.root
    for segment in pointer:
        assert isinstance(node, ObjectNode)
        child = node.get(segment)
        assert child is not None
        node = child  # type: ignore[assignment]
    changes = [Change("set", pointer, new)]
    edited = apply(document, changes)
    verify(edited, "json", "fuzz.json", changes)
    head, tail = text[: node.start], text[node.end :]
    assert edited.startswith(head) and edited.endswith(tail)
    assert json.loads(edited[len(head) : len(edited) - len(tail)]) == new


@FUZZ
@given(
    st.dictionaries(
        st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True),
        st.text(max_size=8),
        min_size=1,
        max_size=4,
    ),
    st.integers(0, 50),
    st.text(max_size=12),
)
def test_a_toml_edit_changes_only_the_line_it_edits(
    env: dict[str, str], pick: int, new: str
) -> None:
    text = (
        '# Codex configuration\nmodel = "o3"   # kept\n\n[mcp_servers.github]\n'
        'command = "npx"\n\n[mcp_servers.github.env]\n'
        + "".join(
            f"{key} = {tomlkit.item(value).as_string()}  # note\n" for key, value in env.items()
        )
    )
    key = sorted(env)[pick % len(env)]
    document = parse_toml(text, "config.toml")
    changes = [Change("set", ("mcp_servers", "github", "env", key), new)]
    edited = apply(document, changes)
    verify(edited, "toml", "config.toml", changes)
    before, after = text.split("\n"), edited.split("\n")  # not splitlines: \x85 is no break
    assert len(before) == len(after)
    differ = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert all(before[i].startswith(f"{key} = ") for i in differ), (before, after)


shell_pieces = st.sampled_from(
    [
        "mcp", "add", "provider", "export", "--env", "--args", "--command", "--header", "--url",
        "--timeout", "K", "v", " ", "\n", "\\\n", "\r\n", "'", '"', "\\", "$", "$(", ")", "${",
        "}", "{", "`", "#", ";", "&&", "|", "<", ">", "<<", "=", "~", "*", "\ufeff", "é", "\t",
    ]
)  # fmt: skip


@FUZZ
@given(st.lists(shell_pieces | st.text(max_size=3), max_size=40).map("".join))
def test_crushrc_parses_or_raises_parse_error_with_spans_inside_the_text(text: str) -> None:
    from mcpcred.parsing.nodes import pointer_index
    from mcpcred.parsing.shell import ShellWord, parse_crushrc

    try:
        document = parse_crushrc(text, "crushrc")
    except ParseError as exc:
        assert exc.exit_code == 3 and 1 <= exc.line <= text.count("\n") + 1
        return
    for _pointer, node in pointer_index(document.root).values():
        assert 0 <= node.start <= node.end <= len(text)
        raw = text[node.start : node.end]
        if isinstance(node, ShellWord) and node.static and node.kind == "string":
            if node.quote == "" and "\\" not in raw:
                assert raw == node.value  # a bare literal word is its own value
            if node.quote == "'":
                assert raw == "'" + str(node.value) + "'"


@FUZZ
@given(
    st.sampled_from(["'", '"', ""]),
    st.text(max_size=12),
    st.text(alphabet="abc \n#;", max_size=20),
)
def test_a_crushrc_edit_changes_only_the_word_it_edits(style: str, value: str, tail: str) -> None:
    from mcpcred.parsing.shell import parse_crushrc, quote

    first = quote("old", style)
    text = f"# head\nmcp add a \\\n  --command x --env K {first}  # c\n{tail}\n"
    document = parse_crushrc(text, "crushrc")
    change = Change("set", ("mcp", "a", "env", "K"), value)
    out = apply(document, [change])
    verify(out, "shell", "crushrc", [change])
    word = document.root.get("mcp").get("a").get("env").get("K")  # type: ignore[union-attr]
    assert out[: word.start] == text[: word.start]  # type: ignore[union-attr]
    assert out.endswith(text[word.end :])  # type: ignore[union-attr]


def _pointers_by_recursion(
    node: Node, pointer: tuple[str | int, ...], out: dict[int, tuple[tuple[str | int, ...], Node]]
) -> None:
    out[id(node)] = (pointer, node)
    if isinstance(node, ObjectNode):
        for key, value in node.members:
            _pointers_by_recursion(value, (*pointer, key.name), out)
    elif isinstance(node, ArrayNode):
        for i, item in enumerate(node.items):
            _pointers_by_recursion(item, (*pointer, i), out)


@FUZZ
@given(jsonc_documents())
def test_pointer_index_is_every_node_in_document_order(text: str) -> None:
    """Rules iterate ``pointer_index`` in order (it decides which finding comes first)."""
    root = parse_jsonc(text).root
    expected: dict[int, tuple[tuple[str | int, ...], Node]] = {}
    _pointers_by_recursion(root, ("base",), expected)
    assert list(pointer_index(root, ("base",)).items()) == list(expected.items())
