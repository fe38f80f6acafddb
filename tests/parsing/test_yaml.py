"""YAML read into the span-carrying node tree: values, positions, errors."""

from __future__ import annotations

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing.yaml import parse_yaml


def test_values_resolve_by_the_yaml_1_2_core_schema() -> None:
    text = "a: true\nb: yes\nc: 010\nd: 1.5\ne: null\nf: ~\ng: '1'\nh: 0x1F\ni: on\n"
    assert parse_yaml(text).root.to_python() == {
        "a": True,
        "b": "yes",  # YAML 1.1's bool words are strings in 1.2
        "c": 10,
        "d": 1.5,
        "e": None,
        "f": None,
        "g": "1",
        "h": 31,
        "i": "on",
    }


def test_spans_are_character_offsets_with_a_bom_and_crlf() -> None:
    text = "\ufeff# c\r\nx:\r\n  k: 'v' # trailing\r\n  l: [a, \"b\"]\r\n"
    document = parse_yaml(text, "f.yaml")
    x = document.root.get("x")
    assert x is not None
    k = x.get("k")  # type: ignore[union-attr]
    assert k is not None and text[k.start : k.end] == "'v'"
    assert document.source.position(k.start) == (3, 6)
    # a block mapping's text ends with its last value, not at the next token
    assert text[x.start : x.end] == "k: 'v' # trailing\r\n  l: [a, \"b\"]"


def test_anchors_and_repeated_keys() -> None:
    text = "base: &b {T: x}\ncopy: *b\nT: 1\nT: 2\n"
    document = parse_yaml(text)
    assert document.root.to_python() == {"base": {"T": "x"}, "copy": {"T": "x"}, "T": 2}
    assert document.duplicates
    assert [k.name for k, _ in document.root.shadowed] == ["T"]


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [("a: [1,\n", 2, 1), ("a: b\n c: d\n", 2, 3), ("- a\n", 1, 1), ("a: 'x\n", 2, 1)],
)
def test_errors_name_the_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(ParseError) as caught:
        parse_yaml(text, "f.yaml")
    assert (caught.value.line, caught.value.column) == (line, column)
    assert "\n" not in str(caught.value)


def test_an_empty_or_comment_only_file_is_an_empty_mapping() -> None:
    assert parse_yaml("").root.to_python() == {}
    assert parse_yaml("# nothing yet\n").root.to_python() == {}


@pytest.mark.parametrize("depth", [400, 1200])
def test_a_deeply_nested_file_is_refused_with_one_line(depth: int) -> None:
    text = "a: " + "[" * depth + "]" * depth + "\n"
    with pytest.raises(ParseError, match="nested deeper than 256 levels"):
        parse_yaml(text, "f.yaml")


def test_quotes_inside_plain_scalars_do_not_hide_deep_nesting() -> None:
    text = "a: it's\nb: " + "[" * 300 + "]" * 300 + "\nc: 'x'\n"
    with pytest.raises(ParseError, match="nested deeper"):
        parse_yaml(text, "f.yaml")
    many = "a: [" + ", ".join(["[1]"] * 400) + "]\nb: 'it''s [[[['\n"  # wide, not deep
    assert len(parse_yaml(many).root.to_python()["a"]) == 400  # type: ignore[arg-type]
