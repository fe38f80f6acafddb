"""SARIF results written directly are the bytes ``json.dumps`` wrote from result dicts.

``compact_results`` skips building a dict per result (most of rendering SARIF); the
compact log must stay the same bytes for any finding: any text in messages, names
and evidence (lone surrogates, controls, quotes, backslashes), missing fields,
absolute, home and relative paths.
"""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred.audit.formats.sarif import compact_results, result_object
from mcpcred.audit.rules import RULES
from mcpcred.models import Finding, Severity
from mcpcred.terminal import json_text

any_text = st.text(st.characters(exclude_categories=[]), max_size=12) | st.sampled_from(
    ["\u202e", "a\x85b", "\x7f", "\u2026(40 chars)", "\ud800"]
)  # lone surrogates, bidi, C1, DEL too
optional_text = st.none() | any_text
findings = st.builds(
    Finding,
    rule=st.sampled_from(sorted(RULES)),
    severity=st.sampled_from(list(Severity)),
    path=st.sampled_from([".mcp.json", "a b/é.json", "/abs/x.json", "~/.cursor/mcp.json", 'q"\\'])
    | any_text.filter(lambda p: bool(p) and not p.startswith("~")),  # ~x: no such user
    line=st.integers(0, 10**6),
    column=st.integers(0, 10**6),
    message=any_text,
    client=optional_text,
    server=optional_text,
    fix=optional_text,
    evidence=optional_text,
    pointer=st.lists(any_text | st.integers(0, 9), max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(findings, max_size=4))
def test_compact_results_are_json_dumps_of_the_result_objects(batch: list[Finding]) -> None:
    index = {rule_id: i for i, rule_id in enumerate(sorted(RULES))}
    expected = json.dumps(
        [result_object(f, index) for f in batch], ensure_ascii=False, separators=(",", ":")
    )[1:-1]
    assert compact_results(batch, index) == expected


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.lists(findings, max_size=4))
def test_visible_results_are_json_text_of_the_whole(batch: list[Finding]) -> None:
    """``visible`` escapes hidden characters value by value, as ``json_text`` of the whole
    text did (bidi overrides, C1 controls, lone surrogates, DEL in names and paths)."""
    index = {rule_id: i for i, rule_id in enumerate(sorted(RULES))}
    whole = json_text(compact_results(batch, index))
    assert compact_results(batch, index, visible=True) == whole
    if any(c in whole for c in "\u202e\x85\x7f"):
        raise AssertionError("a hidden character was left raw")


def test_a_parse_error_without_a_position_is_null_as_before() -> None:
    """ParseError findings may carry no line or column (typed int, given None)."""
    finding = Finding("error/parse", Severity.HIGH, "x.json", None, None, "Cannot parse")  # type: ignore[arg-type]
    index = {rule_id: i for i, rule_id in enumerate(sorted(RULES))}
    written = compact_results([finding], index)
    assert '"region":{"startLine":null,"startColumn":null}' in written
    assert (
        written
        == json.dumps([result_object(finding, index)], ensure_ascii=False, separators=(",", ":"))[
            1:-1
        ]
    )
