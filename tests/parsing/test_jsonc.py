"""JSONC parsing: values equal json.loads, and every span points at the right text."""

from __future__ import annotations

import json

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.nodes import ObjectNode, ScalarNode
from tests.support import jsonc_paths

STRICT = [
    "{}",
    '{"a": 1, "b": [1, 2.5, -3e2, true, false, null], "c": {"d": "\\u00e9\\n\\"q\\""}}',
    '{"mcpServers": {"gh": {"command": "npx", "args": ["-y", "x"], "env": {"T": "v"}}}}',
    '{"dup": 1, "dup": 2}',
    '{"emoji": "\\ud83d\\ude00 \u00e9", "nested": [[[]], {}]}',
]


@pytest.mark.parametrize("text", STRICT)
def test_strict_json_equals_json_loads(text: str) -> None:
    document = parse_jsonc(text)
    assert document.root.to_python() == json.loads(text)
    assert document.format == "json"


def test_comments_and_trailing_commas_are_jsonc() -> None:
    text = '{\n  // line\n  "a": [1, 2,], /* block\n */ "b": {"c": 3,},\n}'
    document = parse_jsonc(text)
    assert document.root.to_python() == {"a": [1, 2], "b": {"c": 3}}
    assert document.format == "jsonc"


def _value(document_text: str, *keys: str) -> tuple[int, int, str]:
    document = parse_jsonc(document_text)
    node = document.root
    for key in keys:
        assert isinstance(node, ObjectNode)
        child = node.get(key)
        assert child is not None
        node = child  # type: ignore[assignment]
    line, column = document.source.position(node.start)
    return line, column, document_text[node.start : node.end]


def test_positions_lf() -> None:
    text = '{\n  "env": {\n    "TOKEN": "abc"\n  }\n}\n'
    assert _value(text, "env", "TOKEN") == (3, 14, '"abc"')


def test_positions_crlf_are_the_same_lines_and_columns() -> None:
    text = '{\r\n  "env": {\r\n    "TOKEN": "abc"\r\n  }\r\n}\r\n'
    assert _value(text, "env", "TOKEN") == (3, 14, '"abc"')


def test_bom_does_not_count_as_a_column() -> None:
    text = '\ufeff{"a": "x"}'
    line, column, literal = _value(text, "a")
    assert (line, column, literal) == (1, 7, '"x"')


def test_columns_count_code_points_after_non_ascii() -> None:
    text = '{"\u00e9\u00e9": "x", "b": "y"}'
    assert _value(text, "b")[1] == len('{"\u00e9\u00e9": "x", "b": ') + 1


def test_positions_after_comments_and_escapes() -> None:
    text = '{\n  /* "x": "no" */ "a": "q\\"uote", // c\n  "b": "here"\n}'
    assert _value(text, "b") == (3, 8, '"here"')
    assert _value(text, "a")[2] == '"q\\"uote"'


def test_key_spans() -> None:
    document = parse_jsonc('{"servers": {"my server": {}}}')
    servers = document.root.get("servers")
    assert isinstance(servers, ObjectNode)
    key = servers.key("my server")
    assert key is not None
    assert document.source.text[key.start : key.end] == '"my server"'


def test_scalar_kinds() -> None:
    document = parse_jsonc('{"s": "x", "n": 1, "f": 1.5, "b": true, "z": null}')
    kinds = {k: v.kind for k, v in document.root.items() if isinstance(v, ScalarNode)}
    assert kinds == {"s": "string", "n": "number", "f": "number", "b": "bool", "z": "null"}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ('{"a": 1', 1, 8),
        ('{\n"a": "x\n"}', 2, 6),
        ('{"a": [1 2]}', 1, 10),
        ("", 1, 1),
        ("[1]", 1, 1),
        ('{"a": 01}', 1, 7),
        ("{'a': 1}", 1, 2),
        ('{"a": tru}', 1, 7),
        ('{"a": 1} x', 1, 10),
        ('{"a": "\\q"}', 1, 7),
        ("{/* never closed", 1, 2),
        ('{"a" 1}', 1, 6),
        ('{"a": 1,, "b": 2}', 1, 9),
        ('{"a": NaN}', 1, 7),
        ("{\n\n  }x", 3, 4),
    ],
)
def test_malformed_input_raises_parse_error_with_position(
    text: str, line: int, column: int
) -> None:
    with pytest.raises(ParseError) as info:
        parse_jsonc(text, "cfg.json")
    assert (info.value.line, info.value.column) == (line, column)
    assert info.value.path == "cfg.json"


def test_error_message_never_quotes_the_content() -> None:
    secret = "ghp_" + "A1b2C3d4" * 4 + "zz"
    text = '{"env": {"GITHUB_TOKEN": "' + secret + "\n}}"
    with pytest.raises(ParseError) as info:
        parse_jsonc(text)
    assert secret not in str(info.value)
    assert secret[:8] not in str(info.value)


def test_deep_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(ParseError, match="nesting too deep"):
        parse_jsonc('{"a": ' + "[" * 5000 + "]" * 5000 + "}")


def test_truncated_files_always_raise_parse_error() -> None:
    text = json.dumps(
        {"mcpServers": {"a": {"command": "npx", "args": ["-y", "p@1"], "env": {"K": "\u00e9"}}}},
        indent=2,
    )
    for cut in range(len(text) - 1):
        with pytest.raises(ParseError):
            parse_jsonc(text[:cut])


# The fast path (C json decoder, then a token scan) and the reference parser must
# agree on every text; see tests/support/jsonc_paths.py for what "agree" covers.
TAKES_FAST_PATH = [
    "{}",
    '{"a": 1}',
    '\ufeff{"a": "x"}',  # a BOM: offsets count it, columns do not
    '{\r\n  "env": {\r\n    "TOKEN": "abc"\r\n  }\r\n}\r\n',  # CRLF
    '{"dup": 1, "dup": {"x": [1]}, "other": 2, "dup": "last"}',  # duplicates
    '{"a": {"k": 1, "k": 2}, "b": [{"k": 3, "k": 4}]}',  # duplicates inside
    '{"": "", "\\u0000": 0}',  # an empty key, an escaped NUL key
    '{"a": "\\ud800", "\\udfff": "\\ud83d\\ude00"}',  # lone and paired surrogates
    '{"big": ' + "9" * 4000 + ', "float": ' + "9" * 5000 + ".5}",  # huge numbers
    '{"e": 1e400, "f": -1E-400, "z": -0, "g": 0.0, "h": 12e+3}',
    '{"é": "ü", "emoji": "😀", "q": "say \\"hi\\"\\n\\t\\\\/"}',
    '{"t": true, "f": false, "n": null, "l": [true, false, null]}',
    '{"nested": [[[]], {}, [{}], {"a": []}]}',
    ' \t\r\n{ \t\r\n"a" \t\r\n: \t\r\n1 \t\r\n, "b":[ 1 , 2 ] } \t\r\n',
    '{"a": "x", "b": "[not a token]", "c": "{\\"also\\": 1}", "d": "//not a comment"}',
    # JSONC: comments and trailing commas, blanked and then proven
    '// head\n{"a": 1, /* mid */ "b": [1, 2,], "c": {"d": 3,},}\n// tail',
    '{"a": 1, // a trailing comma, then a comment, then the brace\n}',
    '{"a": [1, /* c */ ], "b": 2 /* x */ , /* y */ "c": 3}',
    '{"url": "https://x.example/*not*/a//comment", /**/ "k": "v"}',
    '\ufeff/* BOM then a comment */ {"a": 1,}',
    '{"a": 1}/* the comment ends the file */',
    '{"a":1//c\n,"b":2}',
    '{"a": true/**/}',
    "{/***/}",
    '{"a": 1, "a": 2,}',
]


@pytest.mark.parametrize("text", TAKES_FAST_PATH)
def test_fast_path_reads_the_same_tree_as_the_reference(text: str) -> None:
    assert jsonc_paths.assert_same(text), "expected the fast path to take this text"


DECLINED = [
    # Errors: the reference decides, so messages and positions are unchanged.
    "",
    "   ",
    "\ufeff",
    "[1]",
    '"x"',
    "1",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": -Infinity}',
    '{"a": 1, "b": [NaN]}',
    "[,]",
    '{"a": [,]}',
    '{"a": [1,,]}',
    '{"a": ,}',
    "{,}",
    '{"a": 1,,}',
    '{"a" 1}',
    '{"a": 1 /* never closed',
    '{"a": 1} /* never closed',
    '{"a": 1} /*/',
    '{"a": 1/2}',
    '{"a": 1/**/2}',
    '{"a": tr/**/ue}',
    '{"a": -/**/1}',
    '{"a": "x"} // ok\n x',
    '{"a": "unterminated',
    '{"a": "\\"\\"\\"',
    '{"a": "bad \\q escape"}',
    '{"a": "raw\ncontrol"}',
    "{\"a\": 'single'}",
    '{"a": 1}\ufeff',
    '\ufeff\ufeff{"a": 1}',
    '{"a": 01}',
    '{"a": 1.}',
    '{"a": .5}',
    '{"a": +1}',
    '{"a": 0x10}',
    '{"a": ' + "1" * 5000 + "}",  # more digits than int() converts: an error, not a crash
    '{"a": [' + "1" * 5000 + "], /* c */}",
    '{"a": 1}}',
    '{"a": 1\u00a0}',  # a no-break space is not JSON whitespace
    '{"a": 1\x0c}',
    '{"a":' + "[" * 300 + "]" * 300 + "}",
    '{"a": 1,\n// "b": 2,\n]',
]


@pytest.mark.parametrize("text", DECLINED)
def test_fast_path_declines_what_it_cannot_prove(text: str) -> None:
    assert not jsonc_paths.assert_same(text)


def test_huge_integer_is_a_parse_error_not_a_crash() -> None:
    with pytest.raises(ParseError, match="too many digits") as info:
        parse_jsonc('{\n  "a": ' + "1" * 5000 + "\n}")
    assert (info.value.line, info.value.column) == (2, 8)


@pytest.mark.parametrize("depth", [254, 255, 256, 257, 258])
def test_nesting_limit_is_the_same_on_both_paths(depth: int) -> None:
    """The root object is depth 1; 256 levels parse, 257 are 'nesting too deep'."""
    arrays = '{"a": ' + "[" * (depth - 1) + "]" * (depth - 1) + "}"
    objects = '{"k":' * (depth - 1) + "{}" + "}" * (depth - 1)
    for text in (arrays, objects):
        assert jsonc_paths.assert_same(text) == (depth <= 256)
        if depth > 256:
            with pytest.raises(ParseError, match="nesting too deep"):
                parse_jsonc(text)


def test_trailing_comma_scan_is_linear_on_hostile_input() -> None:
    """Unterminated strings and comments, stray slashes and commas must not make the
    fast path quadratic: each text below takes milliseconds when linear and many
    seconds when quadratic (a size where a quadratic scan fails the test, not hangs it)."""
    import time

    n = 30_000
    hostile = [
        '{"a": "' + '\\"' * n,
        "{" + ", /*" * n,
        "{" + '"\\' * n,
        '{"a": [1' + " " * n + ",]" * 1000,
        "{" + "/" * n,  # slashes that start no comment
        "{" + "," * n + "}",
        '{"a": 1' + ", /* long comment */ x" * (n // 10),  # comments after commas, no bracket
        "{//" + "\n," * n,
        '{"a": [' + "1, " * n + "// a comment\n",  # a comment late in a long text
    ]
    for text in hostile:
        started = time.perf_counter()
        jsonc_paths.outcome(text, fast=True)
        assert time.perf_counter() - started < 3, text[:20]


def test_every_fixture_config_takes_the_fast_path_with_the_same_tree() -> None:
    """The repository's client fixtures (JSON and JSONC) are read the same both ways."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "fixtures"
    seen = 0
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".json", ".jsonc") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        if jsonc_paths.outcome(text, fast=False)[0] == "error":
            assert not jsonc_paths.assert_same(text)
            continue
        assert jsonc_paths.assert_same(text), path
        seen += 1
    assert seen >= 10
