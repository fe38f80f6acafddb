"""Crush's crushrc read without running it: words as Bash splits them, the objects Crush builds.

Where it matters, the expected words come from real Bash: the script is sourced
with ``mcp`` and ``provider`` defined as functions that print their arguments,
so the lexer is checked against the shell, not against what this file thinks
Bash does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing.files import parse
from mcpcred.parsing.shell import ShellEntry, ShellWord, lex, parse_crushrc, quote

TRICKY = r"""#!/bin/bash
# a comment with 'quotes' and "more"
mcp add one --command 'my server' --args "a b" --args c\ d --args 'it'\''s' \
  --args "say \"hi\"" --args x#y --env TOKEN "t0k3n" ; mcp add two --command srv
if true; then mcp add three --command three; fi
"""


def _bash_words(script: str, tmp_path: Path) -> list[list[str]]:
    """Each ``mcp`` call's arguments, as real Bash passes them."""
    bash = shutil.which("bash")
    if bash is None:  # pragma: no cover - Debian always has it
        pytest.fail("bash is needed to check the crushrc lexer against the real shell")
    path = tmp_path / "crushrc"
    path.write_text(script, encoding="utf-8")
    prelude = 'mcp() { printf "%s\\0" "$@"; printf "\\n"; }\nsource "$1"\n'
    done = subprocess.run(
        [bash, "-c", prelude, "bash", str(path)],
        capture_output=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    calls = [line for line in done.stdout.split(b"\n") if line]
    return [[word.decode() for word in call.split(b"\0")[:-1]] for call in calls]


def test_words_are_the_ones_bash_passes(tmp_path: Path) -> None:
    ours = [[str(w.value) for w in c.words[1:]] for c in lex(TRICKY) if c.words[0].value == "mcp"]
    assert ours == _bash_words(TRICKY, tmp_path)
    assert ours[0][:4] == ["add", "one", "--command", "my server"]
    assert ours[2] == ["add", "three", "--command", "three"]  # `then` is no word of it


def test_servers_are_the_objects_crush_builds() -> None:
    document = parse_crushrc(TRICKY, "crushrc")
    assert document.format == "shell"
    servers = document.root.to_python()["mcp"]
    assert servers == {
        "one": {
            "command": "my server",
            "args": ["a b", "c d", "it's", 'say "hi"', "x#y"],
            "env": {"TOKEN": "t0k3n"},
        },
        "two": {"command": "srv"},
        "three": {"command": "three"},
    }


def test_spans_point_at_the_words_and_keep_their_quotes() -> None:
    text = "\ufeffmcp add a \\\r\n  --env K 'v 1' --timeout 30 --disabled yes\r\n"
    document = parse_crushrc(text)
    entry = document.root.get("mcp").get("a")  # type: ignore[union-attr]
    assert isinstance(entry, ShellEntry)
    value = entry.get("env").get("K")  # type: ignore[union-attr]
    assert isinstance(value, ShellWord)
    assert text[value.start : value.end] == "'v 1'" and value.quote == "'"
    assert document.source.position(value.start) == (2, 11)
    assert entry.to_python() == {"env": {"K": "v 1"}, "timeout": 30, "disabled": True}
    assert text[entry.start : entry.end].endswith("--disabled yes")


def test_expansions_are_not_static_and_read_as_references() -> None:
    text = (
        'mcp add a --command "$HOME/bin/a" --args ~/x --args "$(pass show a)" '
        "--args `date` --args '$LITERAL' --args *.txt --args ${B:-d} --args {x,y}\n"
    )
    entry = parse_crushrc(text).root.get("mcp").get("a")  # type: ignore[union-attr]
    assert isinstance(entry, ShellEntry)
    words = [v[0] for _, v in entry.flags]
    assert [w.static for w in words] == [False, False, False, False, True, False, False, False]
    assert [w.value for w in words[:3]] == ["$HOME/bin/a", "~/x", "$(pass show a)"]


def test_assignments_exports_and_providers() -> None:
    text = (
        "export OPENAI_API_KEY=sk-abc\n"
        'declare -x A="b c" B\n'
        "C=1 D='2' mcp add x --command y\n"
        "provider add openai --type openai --api-key key1 --extra-header X-Key key2\n"
        "echo E=not-an-assignment\n"
    )
    root = parse_crushrc(text).root.to_python()
    assert root["environment"] == {"OPENAI_API_KEY": "sk-abc", "A": "b c", "C": "1", "D": "2"}
    assert root["providers"] == {
        "openai": {"type": "openai", "api_key": "key1", "extra_headers": {"X-Key": "key2"}}
    }
    assert root["mcp"] == {"x": {"command": "y"}}


def test_a_second_mcp_add_of_a_name_is_a_repeated_key() -> None:
    document = parse_crushrc("mcp add a --command x\nmcp add a --env T v\n")
    servers = document.root.get("mcp")
    assert servers is not None and [k.name for k, _ in servers.replaced] == ["a"]  # type: ignore[union-attr]


def test_an_unknown_flag_or_a_redirection_is_a_problem_not_an_error() -> None:
    text = "mcp add a --command x --cwd /srv\nmcp add b --command y > /dev/null\n"
    servers = parse_crushrc(text).root.get("mcp")
    a, b = servers.get("a"), servers.get("b")  # type: ignore[union-attr]
    assert isinstance(a, ShellEntry) and a.problem is not None and "--cwd" in a.problem
    assert isinstance(b, ShellEntry) and b.problem == "the command has a redirection"
    assert b.to_python() == {"command": "y"}  # the redirection's target is no word of it
    named = parse_crushrc('mcp add "$n" --command x --env T v\n').root.get("mcp")
    key, entry = named.members[0]  # type: ignore[union-attr]
    assert key.name == "$n" and isinstance(entry, ShellEntry)
    assert entry.problem == "its name is not a literal word"
    assert entry.to_python() == {"command": "x", "env": {"T": "v"}}  # still read, for audit


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("mcp add a --command 'x\n", "a quote (') is not closed", 1),
        ('echo ok\nmcp add a --env T "x\n', 'a quote (") is not closed', 2),
        ("x=$(echo (\n", "a $( is not closed", 1),
        ("cat <<EOF\nmcp add a --env T secret\nEOF\n", "here-document", 1),
    ],
)
def test_what_cannot_be_read_without_running_it_is_a_parse_error(
    text: str, message: str, line: int
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_crushrc(text, "crushrc")
    assert message in caught.value.reason and caught.value.line == line


def test_files_named_crushrc_are_parsed_as_shell() -> None:
    assert parse("/x/.crushrc", "mcp add a --command b\n").format == "shell"
    assert parse("/x/crushrc", "").root.to_python() == {}


@pytest.mark.parametrize(
    "value", ["plain", "with space", "it's", 'a"b', "$HOME", "`x`", "back\\slash", "", "#x", "*"]
)
@pytest.mark.parametrize("style", ["", "'", '"'])
def test_quote_reads_back_as_the_value_in_bash(value: str, style: str, tmp_path: Path) -> None:
    script = f"mcp add a --args {quote(value, style)}\n"
    assert _bash_words(script, tmp_path) == [["add", "a", "--args", value]]
    word = parse_crushrc(script).root.get("mcp").get("a").get("args").items[0]  # type: ignore[union-attr]
    assert isinstance(word, ShellWord) and word.static and word.value == value
