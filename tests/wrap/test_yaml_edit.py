"""Edits to YAML files touch only the characters of the values they change."""

from __future__ import annotations

import pytest

from mcpcred.parsing.yaml import parse_yaml
from mcpcred.wrap import edit
from mcpcred.wrap.plan import Change
from mcpcred.wrap.yaml_edit import render_scalar

TEXT = """\
# Goose
extensions:
  gh:  # the GitHub one
    cmd: npx
    args:
      - -y
      - '@modelcontextprotocol/server-github@2025.4.8'
    envs: {TOKEN: "x1"}   # pasted
    timeout: 300
  other: {cmd: uvx, args: [a, 'b c']}
GOOSE_MODE: smart_approve
"""


def _apply(text: str, changes: list[Change]) -> str:
    document = parse_yaml(text, "c.yaml")
    out = edit.apply(document, changes)
    edit.verify(out, "yaml", "c.yaml", changes)
    return out


def test_setting_scalars_and_a_block_sequence_keeps_everything_else() -> None:
    out = _apply(
        TEXT,
        [
            Change("set", ("extensions", "gh", "cmd"), "/opt/mcpcred"),
            Change("set", ("extensions", "gh", "args"), ["shim", "--", "npx", "-y", "@m/s@1"]),
            Change("set", ("extensions", "gh", "envs", "TOKEN"), "mcpcred:secret/t"),
        ],
    )
    assert out == TEXT.replace("cmd: npx", "cmd: /opt/mcpcred").replace(
        "      - -y\n      - '@modelcontextprotocol/server-github@2025.4.8'",
        # a new item in a list of mixed quoting: plain if it can be, else double-quoted
        '      - shim\n      - --\n      - npx\n      - -y\n      - "@m/s@1"',
    ).replace('{TOKEN: "x1"}', '{TOKEN: "mcpcred:secret/t"}')


def test_a_flow_sequence_stays_flow_and_each_item_keeps_its_quote() -> None:
    out = _apply(TEXT, [Change("set", ("extensions", "other", "args"), ["s", "a", "b c"])])
    assert "other: {cmd: uvx, args: [s, a, 'b c']}" in out


def test_add_then_remove_leaves_the_file_as_it_was() -> None:
    added = _apply(TEXT, [Change("add", ("extensions", "gh", "env_keys"), ["A"])])
    assert "    timeout: 300\n    env_keys: [A]\n  other:" in added
    removed = _apply(added, [Change("remove", ("extensions", "gh", "env_keys"))])
    assert removed == TEXT
    flow = _apply(TEXT, [Change("add", ("extensions", "other", "envs"), {"K": "v"})])
    assert "other: {cmd: uvx, args: [a, 'b c'], envs: {K: v}}" in flow
    assert _apply(flow, [Change("remove", ("extensions", "other", "envs"))]) == TEXT


def test_a_whole_entry_stays_a_block_mapping_and_its_text_comes_back() -> None:
    entry = parse_yaml(TEXT).root.get("extensions").get("gh")  # type: ignore[union-attr]
    original = TEXT[entry.start : entry.end]  # type: ignore[union-attr]
    bridged = _apply(TEXT, [Change("set", ("extensions", "gh"), {"type": "stdio", "cmd": "m"})])
    assert "  gh:  # the GitHub one\n    type: stdio\n    cmd: m\n  other:" in bridged
    value = parse_yaml(TEXT).root.to_python()["extensions"]["gh"]  # type: ignore[index]
    back = _apply(bridged, [Change("set", ("extensions", "gh"), value, text=original)])
    assert back == TEXT


@pytest.mark.parametrize(
    ("value", "flow", "expected"),
    [
        ("plain", True, "plain"),
        ("-y", True, "-y"),
        ("@scoped/pkg", True, '"@scoped/pkg"'),  # @ cannot start a plain scalar
        ("true", True, '"true"'),  # would read as a bool
        ("010", True, '"010"'),
        ("~", True, '"~"'),
        ("a: b", False, '"a: b"'),
        ("a #b", False, '"a #b"'),
        ("Bearer {{mcpcred:secret/x}}", False, "Bearer {{mcpcred:secret/x}}"),
        ("Bearer {{mcpcred:secret/x}}", True, '"Bearer {{mcpcred:secret/x}}"'),
        ("a,b", True, '"a,b"'),
        (" lead", False, '" lead"'),
        ("line\nbreak", False, '"line\\nbreak"'),
        ("mcpcred:secret/github-pat", True, "mcpcred:secret/github-pat"),
    ],
)
def test_scalars_are_plain_only_when_they_read_back_the_same(
    value: str, flow: bool, expected: str
) -> None:
    rendered = render_scalar(value, flow=flow)
    assert rendered == expected
    document = f"k: [{rendered}]\n" if flow else f"k: {rendered}\n"
    read = parse_yaml(document).root.to_python()["k"]
    assert (read[0] if flow else read) == value  # type: ignore[index]


def test_a_single_quoted_value_stays_single_quoted() -> None:
    assert render_scalar("it's", "'") == "'it''s'"
