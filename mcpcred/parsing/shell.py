"""Crush's ``crushrc``, a Bash script, read into the same span-carrying node tree as JSON.

Since v0.88 Crush's main config is a Bash script that its own interpreter runs
at start-up, with builtins such as ``mcp add NAME --command C --args A --env K
V``. mcpcred does not run it (it is code, and may call a password manager):
it lexes the script the way Bash splits words, and reads the commands that hold
credentials:

- ``mcp add NAME [flags]``: one server entry, the object Crush builds from the
  flags (``type``, ``command``, ``args``, ``env``, ``url``, ``headers``,
  ``timeout``, ``disabled``, ``oauth_client_secret`` ...), under ``mcp``;
- ``provider add ID [flags]``: a model provider, ``api_key`` and
  ``extra_headers``, under ``providers``;
- assignments, ``NAME=value`` and ``export NAME=value`` (also ``declare``,
  ``local``, ``readonly``, ``typeset``), under ``environment``.

Each value is a ``ShellWord`` whose span is the word's text in the script, so
findings point at the right line and wrap can replace exactly that word. A word
is *static* when its value is known without running anything (plain text and
quotes); one with ``$VAR``, ``$(cmd)``, backquotes, globs, braces or a leading
``~`` is not, and its value is its text without quotes, which reads as the
reference it is. A second ``mcp add`` for the same name merges into the first
in Crush; here it is a repeated key, which wrap refuses (as in JSON). What the
lexer cannot follow without running the script (a here-document) is a parse
error: such a file is reported, never rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mcpcred.errors import ParseError
from mcpcred.parsing.nodes import (
    BOM,
    ArrayNode,
    Document,
    KeyNode,
    Node,
    ObjectNode,
    ScalarNode,
    Source,
)

FORMAT = "shell"
FILE_NAMES = frozenset({"crushrc", ".crushrc"})
_BREAK = frozenset(" \t\r\n;&|()<>")
_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "time",
     "esac"}
)  # fmt: skip
_DECLARE = frozenset({"export", "declare", "typeset", "local", "readonly"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?=\+?=)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE = re.compile(r"[A-Za-z0-9_./:@%+=,{}-]+")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})

# Crush's flags (internal/shellconfig): name -> (key, how): "set" a string, "append" to a
# list, "child" a KEY VALUE pair into an object, "int", "bool".
MCP_FLAGS: dict[str, tuple[str, str]] = {
    "--type": ("type", "set"),
    "--command": ("command", "set"),
    "--args": ("args", "append"),
    "--env": ("env", "child"),
    "--url": ("url", "set"),
    "--header": ("headers", "child"),
    "--timeout": ("timeout", "int"),
    "--disabled": ("disabled", "bool"),
    "--disabled-tools": ("disabled_tools", "append"),
    "--enabled-tools": ("enabled_tools", "append"),
    "--oauth": ("oauth", "bool"),
    "--oauth-client-id": ("oauth_client_id", "set"),
    "--oauth-client-secret": ("oauth_client_secret", "set"),
    "--oauth-callback-port": ("oauth_callback_port", "int"),
}
FLAG_OF = {key: flag for flag, (key, _) in MCP_FLAGS.items()}
PROVIDER_FLAGS: dict[str, tuple[str, str]] = {
    "--name": ("name", "set"),
    "--type": ("type", "set"),
    "--api-key": ("api_key", "set"),
    "--base-url": ("base_url", "set"),
    "--disable": ("disable", "bool"),
    "--flat-rate": ("flat_rate", "bool"),
    "--discover-models": ("discover_models", "bool"),
    "--system-prompt-prefix": ("system_prompt_prefix", "set"),
    "--extra-header": ("extra_headers", "child"),
    "--extra-body": ("extra_body", "set"),
    "--provider-options": ("provider_options", "set"),
}


@dataclass(slots=True, eq=False)
class ShellWord(ScalarNode):
    """One word of the script: its span, its value, and whether that value is literal."""

    static: bool = True
    quote: str = ""  # how the word is quoted: "" (bare), "'", '"', or "mixed"


@dataclass(slots=True, eq=False)
class Command:
    """One simple command: its words (keywords such as ``then`` dropped)."""

    words: list[ShellWord]
    redirected: bool = False

    @property
    def start(self) -> int:
        return self.words[0].start

    @property
    def end(self) -> int:
        return self.words[-1].end


@dataclass(slots=True, eq=False)
class ShellEntry(ObjectNode):
    """An ``mcp add`` (or ``provider add``) command read as the object Crush builds.

    ``flags`` keeps each flag with its value words, in order, for the editor;
    ``problem`` says why wrap must leave the command alone, if it must.
    """

    command: Command | None = None
    flags: list[tuple[ShellWord, list[ShellWord]]] = field(default_factory=list)
    problem: str | None = None


def parse_crushrc(text: str, path: str | None = None) -> Document:
    """Read a crushrc's servers, providers and assignments; the script is not run."""
    source = Source(text, path)
    commands = lex(text, source, path)
    start = 1 if text.startswith(BOM) else 0
    root = ObjectNode(start, len(text))
    servers: ObjectNode | None = None
    providers: ObjectNode | None = None
    environment: ObjectNode | None = None
    for command in commands:
        words = command.words
        assigned, rest = _assignments(words)
        if assigned:
            environment = environment or _section(root, "environment", command.start)
            for key, value in assigned:
                environment.add(key, value)
                environment.end = max(environment.end, value.end)
        if len(rest) < 3 or not (rest[0].static and rest[1].static) or rest[1].value != "add":
            continue
        if rest[0].value == "mcp":
            servers = servers or _section(root, "mcp", command.start)
            entry = _entry(command, rest, MCP_FLAGS)
            servers.add(KeyNode(str(rest[2].value), rest[2].start, rest[2].end), entry)
            servers.end = max(servers.end, entry.end)
        elif rest[0].value == "provider":
            providers = providers or _section(root, "providers", command.start)
            entry = _entry(command, rest, PROVIDER_FLAGS)
            providers.add(KeyNode(str(rest[2].value), rest[2].start, rest[2].end), entry)
            providers.end = max(providers.end, entry.end)
    return Document(root, source, FORMAT)


def _section(root: ObjectNode, name: str, at: int) -> ObjectNode:
    section = ObjectNode(at, at)
    root.add(KeyNode(name, at, at), section)
    return section


def _assignments(
    words: list[ShellWord],
) -> tuple[list[tuple[KeyNode, ShellWord]], list[ShellWord]]:
    """``NAME=value`` words before a command (or after ``export``...), and the rest."""
    out: list[tuple[KeyNode, ShellWord]] = []
    index = 0
    declaring = bool(words) and words[0].static and words[0].value in _DECLARE
    if declaring:
        index = 1
    while index < len(words):
        word = words[index]
        found = _ASSIGNMENT.match(word.raw) if isinstance(word, _Lexed) else None
        if found is None or not isinstance(word, _Lexed):
            if declaring and str(word.value).startswith("-"):  # declare -x NAME=...
                index += 1
                continue
            if declaring and _NAME.fullmatch(str(word.value)):  # export NAME (no value)
                index += 1
                continue
            break
        name = found.group(0)
        skip = len(name) + (2 if word.raw[len(name)] == "+" else 1)
        value = ShellWord(
            word.start + skip,
            word.end,
            str(word.value)[skip:],
            static=word.static,
            quote=_quote_of(word.raw[skip:]),
        )
        out.append((KeyNode(name, word.start, word.start + len(name)), value))
        index += 1
    return out, ([] if declaring else words[index:])


def _entry(
    command: Command, words: list[ShellWord], spec: dict[str, tuple[str, str]]
) -> ShellEntry:
    entry = ShellEntry(command.start, command.end, command=command)
    if command.redirected:
        entry.problem = "the command has a redirection"
    name = words[2]
    if not name.static:
        entry.problem = "its name is not a literal word"
    index = 3
    while index < len(words):
        flag = words[index]
        known = spec.get(str(flag.value)) if flag.static else None
        if known is None:
            entry.problem = (
                entry.problem or f"it has an option mcpcred does not know ({flag.value})"
            )
            index += 1
            continue
        key, how = known
        count = 2 if how == "child" else 1
        values = words[index + 1 : index + 1 + count]
        if len(values) < count:
            entry.problem = entry.problem or f"{flag.value} has no value"
            break
        entry.flags.append((flag, values))
        flag_key = KeyNode(key, flag.start, flag.end)
        if how == "child":
            holder = entry.get(key)
            if not isinstance(holder, ObjectNode):
                holder = ObjectNode(flag.start, values[1].end)
                entry.add(flag_key, holder)
            holder.add(KeyNode(str(values[0].value), values[0].start, values[0].end), values[1])
            holder.end = values[1].end
        elif how == "append":
            array = entry.get(key)
            if not isinstance(array, ArrayNode):
                array = ArrayNode(flag.start, values[0].end)
                entry.add(flag_key, array)
            array.items.append(values[0])
            array.end = values[0].end
        else:
            value = values[0]
            if how in ("int", "bool") and value.static:
                value = _typed(value, how)
            entry.add(flag_key, value)
        index += 1 + count
    return entry


def _typed(word: ShellWord, how: str) -> ShellWord:
    text = str(word.value)
    if how == "int" and re.fullmatch(r"-?[0-9]+", text):
        return ShellWord(word.start, word.end, int(text), "number", quote=word.quote)
    if how == "bool" and text.lower() in _TRUE | _FALSE:
        return ShellWord(word.start, word.end, text.lower() in _TRUE, "bool", quote=word.quote)
    return word


# -- the lexer ------------------------------------------------------------------------
@dataclass(slots=True, eq=False)
class _Lexed(ShellWord):
    raw: str = ""


def lex(text: str, source: Source | None = None, path: str | None = None) -> list[Command]:
    """Split a script into simple commands of words, as Bash would (without running it)."""
    source = source or Source(text, path)
    commands: list[Command] = []
    words: list[ShellWord] = []
    redirected = False
    i = 1 if text.startswith(BOM) else 0
    size = len(text)

    def flush() -> None:
        nonlocal words, redirected
        while words and words[0].static and words[0].value in _KEYWORDS and words[0].quote == "":
            words.pop(0)
        if words:
            commands.append(Command(words, redirected))
        words, redirected = [], False

    while i < size:
        char = text[i]
        if char in " \t\r":
            i += 1
        elif char == "\\" and text.startswith(("\n", "\r\n"), i + 1):
            i += 2 if text[i + 1] == "\n" else 3
        elif char in "\n;&|()":
            flush()
            i += 1
        elif char == "#":
            end = text.find("\n", i)
            i = size if end < 0 else end
        elif char in "<>":
            if text.startswith("<<", i) and not text.startswith("<<<", i):
                line, column = source.position(i)
                raise ParseError(
                    "a here-document: mcpcred cannot read this crushrc without running it",
                    path=path,
                    line=line,
                    column=column,
                )
            redirected = True
            while i < size and text[i] in "<>&|":
                i += 1
            while i < size and text[i] in " \t":
                i += 1
            if i < size and text[i] not in _BREAK:
                i = _word(text, i, source, path).end  # the target: not one of the words
        else:
            word = _word(text, i, source, path)
            words.append(word)
            i = word.end
    flush()
    return commands


def _word(text: str, i: int, source: Source, path: str | None) -> _Lexed:
    start = i
    size = len(text)
    value: list[str] = []
    static = True
    braces = False
    quotes: set[str] = set()

    def fail(message: str, at: int) -> ParseError:
        line, column = source.position(at)
        return ParseError(message, path=path, line=line, column=column)

    while i < size and text[i] not in _BREAK:
        char = text[i]
        if char == "\\":
            if text.startswith(("\n", "\r\n"), i + 1):  # a line continuation
                i += 2 if text[i + 1] == "\n" else 3
                continue
            value.append(text[i + 1 : i + 2])
            quotes.add("\\")
            i += 2
        elif char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise fail("a quote (') is not closed", i)
            value.append(text[i + 1 : end])
            quotes.add("'")
            i = end + 1
        elif char == '"' or (char == "$" and text.startswith('"', i + 1)):
            i += 2 if char == "$" else 1
            quotes.add('"')
            while True:
                if i >= size:
                    raise fail('a quote (") is not closed', start)
                inner = text[i]
                if inner == '"':
                    i += 1
                    break
                if inner == "\\" and text[i + 1 : i + 2] in ('"', "\\", "$", "`", "\n"):
                    if text[i + 1] != "\n":
                        value.append(text[i + 1])
                    i += 2
                elif inner in "$`":
                    end = _expansion(text, i, fail)
                    if end == i + 1 and inner == "$":  # a lone $
                        value.append("$")
                    else:
                        static = False
                        value.append(text[i:end])
                    i = end
                else:
                    value.append(inner)
                    i += 1
        elif char in "$`":
            end = _expansion(text, i, fail)
            if end == i + 1 and char == "$":
                value.append("$")
            else:
                static = False
                value.append(text[i:end])
            i = end
        else:
            if char in "*?[" or (char == "~" and i == start):
                static = False
            braces = braces or char in "{}"
            value.append(char)
            i += 1
    raw = text[start:i]
    if braces and _brace_expansion(raw):
        static = False
    quote = "mixed" if len(quotes) > 1 else next(iter(quotes), "")
    if quote in ("'", '"') and not (raw[:1] == quote and raw[-1:] == quote):
        quote = "mixed"
    return _Lexed(start, i, "".join(value), static=static, quote=quote, raw=raw)


def _expansion(text: str, i: int, fail: object) -> int:
    """The end of the ``$...`` or backquoted expansion at ``i``."""
    size = len(text)
    if text[i] == "`":
        j = i + 1
        while j < size and text[j] != "`":
            j += 2 if text[j] == "\\" else 1
        if j >= size:
            raise fail("a backquote (`) is not closed", i)  # type: ignore[operator]
        return j + 1
    following = text[i + 1 : i + 2]
    if following == "(":
        return _closing(text, i + 2, "(", ")", fail)
    if following == "{":
        return _closing(text, i + 2, "{", "}", fail)
    if following == "'":  # $'...' (ANSI-C quoting)
        j = i + 2
        while j < size and text[j] != "'":
            j += 2 if text[j] == "\\" else 1
        if j >= size:
            raise fail("a quote (') is not closed", i)  # type: ignore[operator]
        return j + 1
    found = _NAME.match(text, i + 1)
    if found:
        return found.end()
    if following and following in "@*#?$!-0123456789":
        return i + 2
    return i + 1


def _closing(text: str, i: int, opening: str, closing: str, fail: object) -> int:
    depth = 1
    size = len(text)
    j = i
    while j < size:
        char = text[j]
        if char == "\\":
            j += 2
            continue
        if char == "'" and opening == "(":
            end = text.find("'", j + 1)
            j = size if end < 0 else end + 1
            continue
        if char == '"':
            j += 1
            while j < size and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            continue
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    raise fail(f"a {'$' + opening} is not closed", i - 2)  # type: ignore[operator]


def _brace_expansion(text: str) -> bool:
    """Whether Bash may expand braces in a word: ``{a,b}`` and ``{1..3}`` expand, ``{x}``
    and ``{{x}}`` do not. Judged on the raw text, so a quoted comma counts too (when in
    doubt, the word is not literal)."""
    return "{" in text and "}" in text and ("," in text or ".." in text)


def _quote_of(raw: str) -> str:
    if len(raw) >= 2 and raw[0] in "'\"" and raw[-1] == raw[0]:
        inner = raw[1:-1]
        if raw[0] not in inner:
            return raw[0]
    return "" if not any(c in raw for c in "'\"\\") else "mixed"


# -- writing words ----------------------------------------------------------------------
def quote(value: str, style: str = "") -> str:
    """``value`` as one shell word reading back as exactly ``value``, in ``style`` if it can.

    ``style`` is how the word it replaces was quoted, so a value put back by unwrap
    is written as it was: bare stays bare where that is safe, ``"..."`` stays
    double-quoted, anything else is single-quoted.
    """
    if style == '"':
        return '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'
    if (
        style == ""
        and _BARE.fullmatch(value)
        and not value.startswith("#")
        and not _brace_expansion(value)
        and value not in ("{", "}")
    ):
        return value
    return "'" + value.replace("'", "'\\''") + "'"


def node_value(node: Node) -> object:
    """The value a rewritten word must read back as (a typed word is its text)."""
    return node.to_python()
