"""JSONC parsing: values equal json.loads, and every span points at the right text."""

from __future__ import annotations

import json

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.nodes import ObjectNode, ScalarNode

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
