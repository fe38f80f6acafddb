"""The TOML span parser: same data as tomllib, exact positions, safe errors."""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, timezone

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, Node, ObjectNode, ScalarNode
from mcpcred.parsing.toml import MAX_NESTING, parse_toml

BOM = "\ufeff"

CODEX = """\
# Codex configuration
model = "o3"
approval_policy = "on-request"

[mcp_servers.github]
command = "npx"   # launcher
args = ["-y", "@modelcontextprotocol/server-github"]

[mcp_servers.github.env]
GITHUB_PERSONAL_ACCESS_TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyz"

[mcp_servers.postgres]
command = "docker"
args = [
  "run", "-i",   # interactive
  # a comment line inside the array
  "mcp/postgres",
  "postgresql://user:pass@localhost/db",
]
env = { PGPASSWORD = "hunter2", "PG.HOST" = 'localhost' }
startup_timeout_sec = 20
tool_timeout_sec = 60.5
enabled = true

[mcp_servers.remote]
url = "https://example.com/mcp"
http_headers = { Authorization = "Bearer abc", "X-Api-Key" = "k" }
bearer_token_env_var = "REMOTE_TOKEN"
"""

VALID: dict[str, str] = {
    "codex": CODEX,
    "empty": "",
    "only-comments": "# a\n\n   # b\n\t\n",
    "comment-at-eof": "a = 1 # no newline after this comment",
    "bare-keys": "key = 1\nbare_key = 2\nbare-key = 3\n1234 = 4\n-_- = 5\n",
    "quoted-keys": (
        '"127.0.0.1" = "v"\n"character encoding" = "v"\n"ʎǝʞ" = "v"\n'
        '\'key2\' = "v"\n\'quoted "value"\' = "v"\n"" = "empty"\n'
        '"tab\\tkey" = 1\n"\\u00e9t\\u00e9" = 2\n'
    ),
    "dotted-keys": (
        'name = "Orange"\nphysical.color = "orange"\nphysical.shape = "round"\n'
        'site."google.com" = true\nfruit . flavor = "x"\n3.14159 = "pi"\n'
    ),
    "dotted-into-header-table": "[fruit]\napple.color = 'red'\napple.taste.sweet = true\n"
    "[fruit.apple.texture]\nsmooth = true\n",
    "basic-strings": (
        'a = "I\'m a string. \\"You can quote me\\". Name\\tJos\\u00E9\\nLocation\\tSF."\n'
        'b = "\\b\\t\\n\\f\\r\\"\\\\"\n'
        'c = "\\U0001F600 \\u0041"\n'
        'd = ""\n'
        'e = "tab\there"\n'
        'f = "non-ascii: é ü 中文 🙂"\n'
    ),
    "literal-strings": (
        "winpath = 'C:\\Users\\nodejs\\templates'\n"
        "winpath2 = '\\\\ServerX\\admin$\\system32\\'\n"
        "quoted = 'Tom \"Dubs\" Preston-Werner'\n"
        "regex = '<\\i\\c*\\s*>'\n"
        "empty = ''\n"
    ),
    "multiline-basic": (
        'str1 = """\nRoses are red\nViolets are blue"""\n'
        'str2 = """\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog."""\n'
        'str3 = """\\\n       The quick brown \\\n       fox jumps over \\   \n'
        '       the lazy dog.\\\n       """\n'
        'str4 = """Here are two quotation marks: "". Simple enough."""\n'
        'str5 = """Here are three quotation marks: ""\\"."""\n'
        'str6 = """Here are fifteen quotation marks: ""\\"""\\"""\\"""\\"""\\"."""\n'
        'str7 = """"This," she said, "is just a pointless statement.""""\n'
        'str8 = """tab\tand escapes \\t \\u00e9"""\n'
        'str9 = """"""\n'
    ),
    "multiline-literal": (
        "regex2 = '''I [dw]on't need \\d{2} apples'''\n"
        "lines = '''\nThe first newline is\ntrimmed in raw strings.\n"
        "   All other whitespace\n   is preserved.\n'''\n"
        'quot15 = \'\'\'Here are fifteen quotation marks: """""""""""""""\'\'\'\n'
        "apos15 = \"Here are fifteen apostrophes: '''''''''''''''\"\n"
        "str = ''''That,' she said, 'is still pointless.''''\n"
    ),
    "integers": (
        "int1 = +99\nint2 = 42\nint3 = 0\nint4 = -17\nint5 = 1_000\nint6 = 5_349_221\n"
        "int7 = 53_49_221\nint8 = 1_2_3_4_5\nhex1 = 0xDEADBEEF\nhex2 = 0xdeadbeef\n"
        "hex3 = 0xdead_beef\noct1 = 0o01234567\noct2 = 0o755\nbin1 = 0b11010110\n"
        "zero = +0\nnzero = -0\nbig = 9223372036854775807\nsmall = -9223372036854775808\n"
    ),
    "floats": (
        "flt1 = +1.0\nflt2 = 3.1415\nflt3 = -0.01\nflt4 = 5e+22\nflt5 = 1e06\n"
        "flt6 = -2E-2\nflt7 = 6.626e-34\nflt8 = 224_617.445_991_228\nflt9 = 0e0\n"
        "sf1 = inf\nsf2 = +inf\nsf3 = -inf\nsf4 = nan\nsf5 = +nan\nsf6 = -nan\n"
        "zero = -0.0\nexp_us = 1e1_0\n"
    ),
    "booleans": "bool1 = true\nbool2 = false\n",
    "datetimes": (
        "odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\n"
        "odt3 = 1979-05-27T00:32:00.999999-07:00\nodt4 = 1979-05-27 07:32:00Z\n"
        "odt5 = 1979-05-27t07:32:00z\nodt6 = 1979-05-27T07:32:00.1234567+05:30\n"
        "ldt1 = 1979-05-27T07:32:00\nldt2 = 1979-05-27T00:32:00.5\n"
        "ld1 = 1979-05-27\nlt1 = 07:32:00\nlt2 = 00:32:00.999999\nleap = 2024-02-29\n"
        "arr = [1979-05-27, 07:32:00, 1979-05-27 07:32:00]\n"
    ),
    "arrays": (
        'integers = [ 1, 2, 3 ]\ncolors = [ "red", "yellow", "green" ]\n'
        "nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]\n"
        'nested_mixed_array = [ [ 1, 2 ], ["a", "b", "c"] ]\n'
        "string_array = [ \"all\", 'strings', \"\"\"are the same\"\"\", '''type''' ]\n"
        "numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]\n"
        'contributors = [\n  "Foo Bar <foo@example.com>",\n'
        '  { name = "Baz Qux", email = "bazqux@example.com", url = "https://example.com" }\n]\n'
        "integers2 = [\n  1, 2, 3\n]\nintegers3 = [\n  1,\n  2, # this is ok\n]\n"
        "empty = []\nempty2 = [ # comment\n]\ntrailing = [1,]\n"
    ),
    "inline-tables": (
        'name = { first = "Tom", last = "Preston-Werner" }\npoint = { x = 1, y = 2 }\n'
        'animal = { type.name = "pug", type.size = "small" }\nempty = {}\nempty2 = { }\n'
        "nested = { a = { b = { c = [1, { d = 2 }] } } }\n"
        'multi = { s = """two\nlines""", arr = [\n  1,\n  2,\n] }\n'
    ),
    "tables": (
        '[table-1]\nkey1 = "some string"\nkey2 = 123\n\n[table-2]\nkey1 = "another string"\n'
        'key2 = 456\n[dog."tater.man"]\ntype.name = "pug"\n[a.b.c]\n[ d.e.f ]\n'
        "[ g .  h  . i ]\n[ j . \"ʞ\" . 'l' ]\n"
    ),
    "super-table-after-sub": "[x.y.z.w]\na = 1\n[x]\nb = 2\n",
    "implicit-then-dotted": "[a.b.c]\nz = 9\n[a]\nb.t = 1\n",
    "array-of-tables": (
        '[[products]]\nname = "Hammer"\nsku = 738594937\n\n[[products]]  # empty table\n\n'
        '[[products]]\nname = "Nail"\nsku = 284758393\ncolor = "gray"\n'
    ),
    "nested-array-of-tables": (
        '[[fruits]]\nname = "apple"\n\n[fruits.physical]\ncolor = "red"\nshape = "round"\n\n'
        '[[fruits.varieties]]\nname = "red delicious"\n\n[[fruits.varieties]]\n'
        'name = "granny smith"\n\n\n[[fruits]]\nname = "banana"\n\n[[fruits.varieties]]\n'
        'name = "plantain"\n'
    ),
    "aot-then-subtable": "[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2\n",
    "whitespace": " \t a \t = \t 1 \t # c\n\t[ t ]\t\n  b=2\n",
    "dotted-root-then-header-subtable": "x.y = 1\n[x.z]\nw = 2\n",
    "no-trailing-newline": '[s]\nk = "v"',
}


def _normalize(value: object) -> object:
    """Make NaN comparable and keep types visible (1 vs 1.0 vs True)."""
    if isinstance(value, dict):
        return {key: _normalize(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normalize(item) for item in value]
    if isinstance(value, float) and math.isnan(value):
        return ("nan",)
    if isinstance(value, datetime):
        return (type(value).__name__, value, value.utcoffset())
    return (type(value).__name__, value)


def _walk(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, ObjectNode):
        for member in node.members:
            yield from _walk(member[1])
    elif isinstance(node, ArrayNode):
        for item in node.items:
            yield from _walk(item)


def _keys(node: Node) -> Iterator[KeyNode]:
    for each in _walk(node):
        if isinstance(each, ObjectNode):
            for key, _ in each.members:
                yield key


def _get(doc: Document, *path: str | int) -> Node:
    node: Node = doc.root
    for step in path:
        if isinstance(step, int):
            assert isinstance(node, ArrayNode)
            node = node.items[step]
        else:
            assert isinstance(node, ObjectNode)
            child = node.get(step)
            assert child is not None, step
            node = child
    return node


def _text(doc: Document, node: Node | KeyNode) -> str:
    return doc.source.text[node.start : node.end]


# -- same data as tomllib ---------------------------------------------------


@pytest.mark.parametrize("name", sorted(VALID))
def test_matches_tomllib(name: str) -> None:
    text = VALID[name]
    doc = parse_toml(text)
    assert doc.format == "toml"
    assert doc.source.text == text
    assert _normalize(doc.root.to_python()) == _normalize(tomllib.loads(text))


@pytest.mark.parametrize("name", sorted(VALID))
def test_crlf_variant_matches_tomllib(name: str) -> None:
    text = VALID[name].replace("\n", "\r\n")
    assert _normalize(parse_toml(text).root.to_python()) == _normalize(tomllib.loads(text))


@pytest.mark.parametrize("name", sorted(VALID))
def test_bom_variant_matches_tomllib(name: str) -> None:
    # tomllib itself refuses a BOM; the data must be that of the text after it.
    text = VALID[name]
    assert _normalize(parse_toml(BOM + text).root.to_python()) == _normalize(tomllib.loads(text))


def test_value_types_and_kinds() -> None:
    doc = parse_toml(VALID["datetimes"] + "s = 's'\ni = 1\nf = 1.5\nb = true\n")
    root = doc.root
    expected = {
        "odt1": ("datetime", datetime(1979, 5, 27, 7, 32, tzinfo=UTC)),
        "odt2": ("datetime", datetime(1979, 5, 27, 0, 32, tzinfo=timezone(-timedelta(hours=7)))),
        "odt6": (
            "datetime",
            datetime(
                1979, 5, 27, 7, 32, 0, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
            ),
        ),
        "ldt1": ("datetime", datetime(1979, 5, 27, 7, 32)),
        "ld1": ("date", date(1979, 5, 27)),
        "lt2": ("time", time(0, 32, 0, 999999)),
        "s": ("string", "s"),
        "i": ("integer", 1),
        "f": ("float", 1.5),
        "b": ("bool", True),
    }
    for name, (kind, value) in expected.items():
        node = root.get(name)
        assert isinstance(node, ScalarNode)
        assert node.kind == kind, name
        assert type(node.value) is type(value), name
        assert node.value == value, name
    odt1 = root.get("odt1")
    assert isinstance(odt1, ScalarNode) and isinstance(odt1.value, datetime)
    assert odt1.value.utcoffset() == timedelta(0)


def test_crlf_inside_multiline_strings_reads_as_lf() -> None:
    text = "a = \"\"\"\r\none\r\ntwo\\\r\n   three\"\"\"\r\nb = '''\r\nx\r\ny'''\r\n"
    assert parse_toml(text).root.to_python() == {"a": "one\ntwothree", "b": "x\ny"}
    assert parse_toml(text).root.to_python() == tomllib.loads(text)


def test_very_large_decimal_integer_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="integer too large"):
        parse_toml("n = 1" + "0" * 5000 + "\n")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    ok = "a = " + "[" * MAX_NESTING + "]" * MAX_NESTING + "\n"
    assert parse_toml(ok).root.to_python() == tomllib.loads(ok)
    for opener in ("[", "{b = "):
        with pytest.raises(ParseError, match="nested too deeply") as info:
            parse_toml("a = " + opener * 100_000)
        assert info.value.line == 1


# -- spans and positions ----------------------------------------------------


def test_inline_table_value_position() -> None:
    text = '[mcp_servers.gh]\nenv = { TOKEN = "ghp_x" }\n'
    doc = parse_toml(text)
    token = _get(doc, "mcp_servers", "gh", "env", "TOKEN")
    assert isinstance(token, ScalarNode)
    assert token.value == "ghp_x"
    assert doc.source.position(token.start) == (2, 17)
    assert doc.source.position(token.end) == (2, 24)
    assert _text(doc, token) == '"ghp_x"'
    env = _get(doc, "mcp_servers", "gh", "env")
    assert _text(doc, env) == '{ TOKEN = "ghp_x" }'
    assert isinstance(env, ObjectNode)
    key = env.key("TOKEN")
    assert key is not None
    assert _text(doc, key) == "TOKEN"
    assert doc.source.position(key.start) == (2, 9)


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_scalar_span_is_its_own_literal(name: str) -> None:
    for variant in (VALID[name], VALID[name].replace("\n", "\r\n"), BOM + VALID[name]):
        doc = parse_toml(variant)
        for node in _walk(doc.root):
            assert 0 <= node.start <= node.end <= len(variant)
            if isinstance(node, ScalarNode):
                literal = _text(doc, node)
                reread = tomllib.loads("x = " + literal)["x"]
                assert _normalize(reread) == _normalize(node.value), literal
                if node.kind == "string":
                    assert literal[0] in "\"'" and literal[-1] == literal[0]
            elif isinstance(node, ArrayNode):  # "[...]" or an array of tables' first "[["
                assert _text(doc, node).startswith("[")
            elif isinstance(node, ObjectNode) and node is not doc.root:
                assert _text(doc, node)[0] not in " \t\r\n#,=]}"


@pytest.mark.parametrize("name", sorted(VALID))
def test_every_key_span_is_its_own_literal(name: str) -> None:
    doc = parse_toml(VALID[name])
    for key in _keys(doc.root):
        literal = _text(doc, key)
        assert list(tomllib.loads(literal + " = 1")) == [key.name], literal


def test_codex_positions() -> None:
    doc = parse_toml(CODEX)
    pos = doc.source.position
    secret = _get(doc, "mcp_servers", "github", "env", "GITHUB_PERSONAL_ACCESS_TOKEN")
    assert pos(secret.start) == (10, 32)
    assert _text(doc, secret) == '"ghp_0123456789abcdefghijklmnopqrstuvwxyz"'

    args = _get(doc, "mcp_servers", "postgres", "args")
    assert isinstance(args, ArrayNode)
    assert pos(args.start) == (14, 8)
    assert pos(args.end) == (19, 2)
    dsn = args.items[3]
    assert pos(dsn.start) == (18, 3)
    assert _text(doc, dsn) == '"postgresql://user:pass@localhost/db"'

    env = _get(doc, "mcp_servers", "postgres", "env")
    assert isinstance(env, ObjectNode)
    host_key = env.key("PG.HOST")
    assert host_key is not None and _text(doc, host_key) == '"PG.HOST"'
    assert pos(host_key.start) == (20, 33)
    assert _text(doc, _get(doc, "mcp_servers", "postgres", "env", "PG.HOST")) == "'localhost'"

    header = _get(doc, "mcp_servers", "remote", "http_headers", "X-Api-Key")
    assert pos(header.start) == (27, 62)


def test_table_spans_and_header_keys() -> None:
    doc = parse_toml(CODEX)
    text = CODEX
    servers = _get(doc, "mcp_servers")
    github = _get(doc, "mcp_servers", "github")
    github_env = _get(doc, "mcp_servers", "github", "env")
    assert isinstance(servers, ObjectNode) and isinstance(github, ObjectNode)
    # [mcp_servers.github] section: header line to the end of its last key/value line.
    assert _text(doc, github) == (
        '[mcp_servers.github]\ncommand = "npx"   # launcher\n'
        'args = ["-y", "@modelcontextprotocol/server-github"]'
    )
    assert _text(doc, github_env).startswith("[mcp_servers.github.env]\nGITHUB_PERSONAL")
    assert _text(doc, github_env).endswith('xyz"')
    # The implicit super-table spans the header that first implied it.
    assert _text(doc, servers) == "[mcp_servers.github]"
    # Keys made by headers point at their segment in the header.
    servers_key = doc.root.key("mcp_servers")
    assert servers_key is not None
    assert servers_key.start == text.index("[mcp_servers.github]") + 1
    assert _text(doc, servers_key) == "mcp_servers"
    github_key = servers.key("github")
    assert github_key is not None
    assert doc.source.position(github_key.start) == (5, 14)
    assert _text(doc, github_key) == "github"
    env_key = github.key("env")
    assert env_key is not None and doc.source.position(env_key.start) == (9, 21)
    root = doc.root
    assert (root.start, root.end) == (0, len(text))


def test_implicit_table_moves_to_its_own_header() -> None:
    text = "[a.b]\nx = 1\n\n[a] # defined here\ny = 2\n\n# trailing comment\n"
    doc = parse_toml(text)
    a = _get(doc, "a")
    assert _text(doc, a) == "[a] # defined here\ny = 2"
    key = doc.root.key("a")
    assert key is not None and doc.source.position(key.start) == (4, 2)
    assert list(doc.root.to_python()) == ["a"]
    assert doc.root.to_python() == {"a": {"b": {"x": 1}, "y": 2}}


def test_array_of_tables_spans() -> None:
    text = VALID["array-of-tables"]
    doc = parse_toml(text)
    products = _get(doc, "products")
    assert isinstance(products, ArrayNode)
    assert all(isinstance(item, ObjectNode) for item in products.items)
    assert len(products.items) == 3
    first, second, third = products.items
    assert _text(doc, first) == '[[products]]\nname = "Hammer"\nsku = 738594937'
    assert _text(doc, second) == "[[products]]  # empty table"
    assert _text(doc, third).startswith('[[products]]\nname = "Nail"')
    assert (products.start, products.end) == (first.start, third.end)
    assert doc.source.position(products.end) == (10, 15)
    key = doc.root.key("products")
    assert key is not None and doc.source.position(key.start) == (1, 3)


def test_dotted_key_tables_spans() -> None:
    text = 'name = "x"\nphysical.color = "orange"\nphysical.shape = "round"\nz = 1\n'
    doc = parse_toml(text)
    physical = _get(doc, "physical")
    assert _text(doc, physical) == 'physical.color = "orange"\nphysical.shape = "round"'
    assert isinstance(physical, ObjectNode)
    color_key = physical.key("color")
    assert color_key is not None and doc.source.position(color_key.start) == (2, 10)
    shape = _get(doc, "physical", "shape")
    assert doc.source.position(shape.start) == (3, 18)
    inline = parse_toml('t = { a.b = 1, a.c = "s" }\n')
    a = _get(inline, "t", "a")
    assert _text(inline, a) == 'a.b = 1, a.c = "s"'


def test_multiline_string_spans() -> None:
    text = 'k = 1\ns = """\nline one\nline "two"\n"""\nt = \'\'\'x\ny\'\'\' # c\nu = 2\n'
    doc = parse_toml(text)
    s = _get(doc, "s")
    assert isinstance(s, ScalarNode)
    assert s.value == 'line one\nline "two"\n'
    assert doc.source.position(s.start) == (2, 5)
    assert doc.source.position(s.end) == (5, 4)
    assert _text(doc, s) == '"""\nline one\nline "two"\n"""'
    t = _get(doc, "t")
    assert _text(doc, t) == "'''x\ny'''"
    assert doc.source.position(_get(doc, "u").start) == (8, 5)


def test_crlf_positions() -> None:
    text = (
        'a = "x"\r\n# comment\r\n\r\n[t]\r\nkey = "value"\r\nm = """\r\nq\r\n"""\r\nafter = 1\r\n'
    )
    doc = parse_toml(text)
    pos = doc.source.position
    value = _get(doc, "t", "key")
    assert pos(value.start) == (5, 7)
    assert _text(doc, value) == '"value"'
    m = _get(doc, "t", "m")
    assert isinstance(m, ScalarNode) and m.value == "q\n"
    assert pos(m.end) == (8, 4)
    assert pos(_get(doc, "t", "after").start) == (9, 9)
    # the table ends before the CR of its last line
    t = _get(doc, "t")
    assert _text(doc, t).endswith("after = 1")


def test_bom_positions() -> None:
    text = BOM + 'token = "secret-ish"\n[s]\nk = 1\n'
    doc = parse_toml(text)
    key = doc.root.key("token")
    assert key is not None
    assert key.start == 1
    assert doc.source.position(key.start) == (1, 1)
    assert doc.source.position(_get(doc, "token").start) == (1, 9)
    assert doc.source.position(_get(doc, "s", "k").start) == (3, 5)


def test_header_keys_with_whitespace_and_quotes() -> None:
    text = "[ a . \"b.c\" . 'd' ]\nx = 1\n"
    doc = parse_toml(text)
    a = _get(doc, "a")
    b = _get(doc, "a", "b.c")
    assert isinstance(a, ObjectNode) and isinstance(b, ObjectNode)
    bc_key = a.key("b.c")
    d_key = b.key("d")
    assert bc_key is not None and d_key is not None
    assert _text(doc, bc_key) == '"b.c"'
    assert _text(doc, d_key) == "'d'"
    assert _text(doc, _get(doc, "a", "b.c", "d")) == text.rstrip("\n")


# -- invalid documents ------------------------------------------------------

INVALID: list[tuple[str, int]] = [
    # (document, line of the problem)
    ("[a]\nx = 1\n[a]\n", 3),
    ("[a.b]\n[a]\n[a.b]\n", 3),
    ("a = 1\na = 2\n", 2),
    ("a = 1\n'a' = 2\n", 2),
    ('a = 1\n"a" = 2\n', 2),
    ("[t]\nx.y = 1\nx = 2\n", 3),
    ("a.b = 1\na.b.c = 2\n", 2),
    ("[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3),
    ("[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]\n", 3),
    ("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4),
    ("arr = [1]\n[[arr]]\n", 2),
    ("[a]\n[[a]]\n", 2),
    ("[[a]]\n[a]\n", 2),
    ("x = 1\n[x.y]\n", 2),
    ("x = [1]\n[x.y]\n", 2),
    ("t = { a = 1 }\nt.b = 2\n", 2),
    ("t = { a = 1 }\n[t]\n", 2),
    ("t = { a = 1 }\n[t.b]\n", 2),
    ("t = { a = { b = 1 } }\n[t.a]\n", 2),
    ("t = { a.b = 1, a = 2 }\n", 1),
    ("t = { a = {}, a.b = 1 }\n", 1),
    ("t = { a = 1, a = 1 }\n", 1),
    ("t = { a = 1, }\n", 1),
    ("t = { a = 1\n}\n", 1),
    ("t = {\na = 1 }\n", 1),
    ('s = "bad \\q escape"\n', 1),
    ('ok = 1\ns = "\\x41"\n', 2),
    ('s = "\\uD800"\n', 1),
    ('s = "\\U00110000"\n', 1),
    ('s = "\\u12"\n', 1),
    ('s = """line\\ x"""\n', 1),
    ('a = 1\ns = "control \x01 char"\n', 2),
    ("s = 'control \x7f char'\n", 1),
    ('s = """multi \x00 line"""\n', 1),
    ("# comment \x01 with control\n", 1),
    ("a = 1 # comment \x7f\n", 1),
    ('s = "no\nnewline"\n', 1),
    ("s = 'no\nnewline'\n", 1),
    ('ok = 1\ns = "unterminated\n', 2),
    ('s = """unterminated\n\n', 1),
    ("s = '''unterminated\n", 1),
    ('s = """x""""""\n', 1),
    ("a = 01\n", 1),
    ("a = +01.5\n", 1),
    ("a = 1__0\n", 1),
    ("a = 1_\n", 1),
    ("a = _1\n", 1),
    ("a = 1.\n", 1),
    ("a = .5\n", 1),
    ("a = 1e\n", 1),
    ("a = 0X1F\n", 1),
    ("a = +0x1F\n", 1),
    ("a = 0b102\n", 1),
    ("a = infinity\n", 1),
    ("a = True\n", 1),
    ("a =\n", 1),
    ("a = # nothing\n", 1),
    ("ok = 1\nb = \n", 2),
    ("a\n", 1),
    ("a b = 1\n", 1),
    ("= 1\n", 1),
    ("a. = 1\n", 1),
    ("a = 1 b = 2\n", 1),
    ('a = "x" "y"\n', 1),
    ("[a\n", 1),
    ("[]\n", 1),
    ("[[a]\n", 1),
    ("[ [a]]\n", 1),
    ("[a] b = 1\n", 1),
    ("a = [1, 2\n", 1),
    ("a = [1,,2]\n", 1),
    ("a = [,]\n", 1),
    ("a = [1 2]\n", 1),
    ("a = 1979-02-30\n", 1),
    ("a = 1979-05-27T25:00:00\n", 1),
    ("a = 1979-05-27T07:32\n", 1),
    ("a = 1979-05-27T07:32:60Z\n", 1),
    ("a = 07:32\n", 1),
    ("a = 1979-05-27T07:32:00+24:00\n", 1),
    ("a = 1979-5-27\n", 1),
    ("a = 1\rb = 2\n", 1),
    ("ok = true\n\r\n\rx = 1\n", 3),
    (BOM + "a = 1\n" + BOM + "b = 2\n", 2),
    ("ʞ = 1\n", 1),
]


@pytest.mark.parametrize(("text", "line"), INVALID)
def test_invalid_documents(text: str, line: int) -> None:
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text.removeprefix(BOM))
    with pytest.raises(ParseError) as info:
        parse_toml(text)
    assert info.value.line == line, info.value.message
    assert info.value.column >= 1


def test_error_carries_path_and_position() -> None:
    with pytest.raises(ParseError) as info:
        parse_toml("[a]\nx = 1\n[a]\n", path="config.toml")
    error = info.value
    assert (error.path, error.line, error.column) == ("config.toml", 3, 2)
    assert error.reason == "table 'a' is already defined"
    assert str(error) == "config.toml:3:2: table 'a' is already defined"


SECRET = "ghp_S3cr3tT0k3nValue0123456789abcdefXYZ"

BROKEN_WITH_SECRET = [
    f'[mcp_servers.gh]\nenv = {{ TOKEN = "{SECRET}\\q" }}\n',
    f'[mcp_servers.gh]\nenv = {{ TOKEN = "{SECRET}\n',
    f'token = "{SECRET}\x01"\n',
    f'token = "{SECRET}',
    f'token = """{SECRET}',
    f"token = '{SECRET}",
    f'token = "{SECRET}" {SECRET}\n',
    f'token = "{SECRET}"\ntoken = "{SECRET}"\n',
    f'env = {{ TOKEN = "{SECRET}", TOKEN = "{SECRET}" }}\n',
    f'env = {{ TOKEN = "{SECRET}" }}\nenv.X = 1\n',
    f'args = ["{SECRET}" "{SECRET}"]\n',
    f"token = {SECRET}\n",
    f'token = "{SECRET}" # \x01\n',
    f'"{SECRET}\\q" = 1\n',
    f'token = """{SECRET}\\ x"""\n',
]


@pytest.mark.parametrize("text", BROKEN_WITH_SECRET)
def test_error_messages_never_contain_values(text: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_toml(text, path="config.toml")
    error = info.value
    for shown in (str(error), error.reason, repr(error), str(error.args), error.hint or ""):
        assert SECRET not in shown
        assert SECRET[:12] not in shown


def test_mutated_documents_agree_with_tomllib() -> None:
    """Random edits of the valid documents: accept/reject and data as tomllib, only ParseError."""
    rng = random.Random(20240611)
    pieces = [*"[]{}=.,\"'#\n\r\t \\abc01:-+_eTZ", "[[", "]]", '"""', "'''", "\r\n"]
    pieces += ["x = 1\n", "[a]\n", "[[a]]\n", "a.b = 2\n", "\x00", "\x7f", "é"]
    sources = list(VALID.values())
    outcomes = {True: 0, False: 0}
    for _ in range(4000):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(text))
            roll = rng.random()
            if roll < 0.45:
                text = text[:i] + rng.choice(pieces) + text[i:]
            elif roll < 0.8:
                text = text[:i] + text[i + 1 :]
            else:
                j = rng.randint(0, len(text))
                text = text[:i] + text[j : j + rng.randint(1, 12)] + text[i:]
        try:
            expected: object = _normalize(tomllib.loads(text))
        except tomllib.TOMLDecodeError:
            expected = None
        try:
            got: object = _normalize(parse_toml(text).root.to_python())
        except ParseError:
            got = None
        assert got == expected, repr(text)
        outcomes[expected is None] += 1
    assert min(outcomes.values()) > 500  # both valid and invalid cases were exercised


def test_table_rules_agree_with_tomllib() -> None:
    """Random headers, dotted keys and inline tables over a few names."""
    rng = random.Random(7)
    names = ["a", "b", "c"]

    def path() -> str:
        return ".".join(rng.choice(names) for _ in range(rng.randint(1, 3)))

    def value(depth: int = 0) -> str:
        roll = rng.random()
        if roll < 0.5 or depth > 1:
            return "1"
        if roll < 0.7:
            return "[" + ", ".join(value(depth + 1) for _ in range(rng.randint(0, 2))) + "]"
        members = (f"{path()} = {value(depth + 1)}" for _ in range(rng.randint(0, 3)))
        return "{" + ", ".join(members) + "}"

    def statement() -> str:
        roll = rng.random()
        if roll < 0.25:
            return f"[{path()}]"
        if roll < 0.4:
            return f"[[{path()}]]"
        return f"{path()} = {value()}"

    outcomes = {True: 0, False: 0}
    for _ in range(5000):
        text = "\n".join(statement() for _ in range(rng.randint(1, 7))) + "\n"
        try:
            expected: object = tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            expected = None
        try:
            got: object = parse_toml(text).root.to_python()
        except ParseError:
            got = None
        assert got == expected, text
        outcomes[expected is None] += 1
    assert min(outcomes.values()) > 1000
