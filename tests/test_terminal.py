"""``terminal.printable``: names from configs and servers cannot drive the terminal."""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred.terminal import json_text, printable


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("github", "github"),
        ("évaluation-中文", "évaluation-中文"),  # letters of any script stay
        ("a\x1b]0;evil\x07b", "a\\x1b]0;evil\\x07b"),  # OSC: retitles the window
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),  # CSI: clears the screen
        ("tab\there\nnext\r", "tab\\x09here\\x0anext\\x0d"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),  # DEL, and C1's 8-bit CSI
        ("safe\u202eexe.txt", "safe\\u202eexe.txt"),  # bidi override
        ("a\u2066b\u2069", "a\\u2066b\\u2069"),  # bidi isolates
        ("zero\u200bwidth\ufeff", "zero\\u200bwidth\\ufeff"),
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("lone\udc80", "lone\\udc80"),  # would not even encode
        ("tag\U000e0041", "tag\\U000e0041"),  # Unicode tag characters hide text
        ("pua\ue000", "pua\\ue000"),
    ],
)
def test_controls_and_invisible_characters_are_shown_as_escapes(raw: str, shown: str) -> None:
    assert printable(raw) == shown
    assert printable(raw).isprintable()


def test_nothing_hidden_survives_and_the_result_always_encodes() -> None:
    every = "".join(chr(code) for code in range(0x110000))
    shown = printable(every)
    shown.encode("utf-8")  # no lone surrogate survives
    hidden = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}
    assert not [c for c in set(shown) if unicodedata.category(c) in hidden]


any_text = st.text(st.characters(exclude_categories=[]))  # lone surrogates too
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | any_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(json_values, st.booleans())
def test_json_text_means_the_same_json_and_hides_nothing(value: object, indent: bool) -> None:
    document = json.dumps(value, ensure_ascii=False, indent=2 if indent else None)
    shown = json_text(document)
    assert json.loads(shown) == value
    shown.encode("utf-8")  # lone surrogates are escaped too
    hidden = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}
    assert not [c for c in set(shown) if c != "\n" and unicodedata.category(c) in hidden]
    assert "\x7f" not in shown


def _json_text_by_character(text: str) -> str:
    """``json_text`` as it was, every character above ASCII looked at."""
    import re

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if code != 0x7F and unicodedata.category(char) not in {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}:
            return char
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return re.sub(r"[^\x00-\x7e]", escape, text)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(json_values | st.sampled_from(["\u2026", "a\u202eb", "\x85", "\x7f"]), max_size=4))
def test_json_text_of_lines_is_the_character_by_character_escape(values: list[object]) -> None:
    """JSON Lines and indented JSON hold line breaks: their quick answer is still exact."""
    for document in (
        "\n".join(json.dumps(v, ensure_ascii=False) for v in values) + "\n",
        json.dumps(values, ensure_ascii=False, indent=2),
    ):
        assert json_text(document) == _json_text_by_character(document)


# -- progress: drawn on a terminal's stderr, nothing anywhere else ----------------------------

_PROGRESS = (
    "import time; from mcpcred.terminal import progress, scan_progress\n"
    "with progress('working on it') as advance:\n"
    "    time.sleep(0.4); advance(1)\n"
    "with scan_progress(500) as advance:\n"
    "    time.sleep(0.4); advance(250)\n"
    "print('finished')\n"
)


def test_progress_is_drawn_on_a_terminal_only() -> None:
    import os
    import subprocess
    import sys

    from tests.support.headless import converse

    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    code, shown = converse([], [], env, program=[sys.executable, "-c", _PROGRESS])
    assert code == 0, shown
    assert "working on it" in shown and "scanning MCP configs" in shown
    assert "250/500" in shown
    piped = subprocess.run(
        [sys.executable, "-c", _PROGRESS],
        env={**env, "FORCE_COLOR": "1"},  # colour, but still not a terminal: nothing drawn
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert piped.stdout == "finished\n"
    assert piped.stderr == ""


def test_no_scan_progress_for_a_few_files() -> None:
    from mcpcred import terminal

    with terminal.scan_progress(3) as advance:
        advance(3)  # the quiet hook takes calls and draws nothing, terminal or not


def test_isprintable_never_passes_a_character_that_must_be_escaped() -> None:
    """``printable`` and ``json_text`` return a text unchanged when ``str.isprintable``
    says so; that holds only if no printable character is DEL or of a hidden category
    (on this Python's Unicode database)."""
    hidden = {"Cc", "Cf", "Co", "Cs", "Zl", "Zp"}
    leaks = [
        code
        for code in range(0x110000)
        if chr(code).isprintable() and (code == 0x7F or unicodedata.category(chr(code)) in hidden)
    ]
    assert leaks == []
    assert printable("évaluation … 中文") == "évaluation … 中文"
    assert json_text('{"a":"… é"}') == '{"a":"… é"}'
    assert json_text('{"a":"\u202e"}') == '{"a":"\\u202e"}'
