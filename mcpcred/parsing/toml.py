"""TOML 1.0 parser that remembers where every key and value sits in the text.

Codex keeps its MCP servers in ``config.toml``. mcpcred must point a finding at
the exact line and column of a secret value, and ``wrap`` later rewrites that
value in place; ``tomllib`` only returns data, so this module parses TOML
itself and builds the span tree of ``mcpcred.parsing.nodes``.

What it guarantees:

* For every document ``tomllib`` accepts, ``parse_toml(text).root.to_python()``
  equals ``tomllib.loads(text)``: same keys and order, same ``str``/``int``/
  ``float``/``bool`` and ``datetime``/``date``/``time`` values (time zones,
  microseconds truncated as ``tomllib`` does, CRLF in multi-line strings read
  as LF). A leading BOM is skipped; ``tomllib`` itself rejects one.
* Every document TOML 1.0 forbids raises ``ParseError`` (and nothing else)
  with the line and column of the problem, in time linear in the input.
  Messages name keys but never quote a value, which may be a secret.
  Arrays and inline tables nested deeper than ``MAX_NESTING`` are refused.
  Where ``tomllib`` is laxer than the spec (integers beyond 64 bits), this
  parser follows ``tomllib``.

Spans (half-open character offsets into the text):

* Scalars cover the literal exactly, quotes (single or triple) included.
* Arrays and inline tables cover ``[``..``]`` and ``{``..``}``.
* A key covers its segment (quotes included); for ``a.b.c = 1`` the three
  segments are three keys. A table made by a header is keyed by its segment
  in the header that defined it (``[a.b]`` then ``[a]``: ``a``'s key moves to
  the ``[a]`` header).
* A table defined by ``[header]`` (and each ``[[array]]`` element) starts at
  the header's ``[`` and ends at the end of the last line of its section that
  holds the header or a key/value, trailing comment included, line break
  excluded; sub-table sections are not included. A table only implied by a
  header (``a`` in ``[a.b]``) spans that header. A table made by dotted keys
  starts at the first dotted key that made it and ends with the last value
  assigned through it. An array of tables runs from its first ``[[`` to the end
  of its last element. The root spans the whole text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import NoReturn

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

__all__ = ["MAX_NESTING", "parse_toml"]

MAX_NESTING = 100
"""Deepest nesting of arrays / inline tables accepted (real configs use 2 or 3)."""

# Characters TOML forbids in strings and comments (tab is allowed; line breaks
# are handled where they are legal).
_CTRL = r"\x00-\x08\x0a-\x1f\x7f"
_COMMENT_SRC = rf"#[^{_CTRL}]*+"

# Possessive quantifiers everywhere a pattern could otherwise backtrack.
_TRIVIA = re.compile(rf"(?:[ \t]*+(?:{_COMMENT_SRC})?+\r?\n)*+[ \t]*+")
_COMMENT = re.compile(_COMMENT_SRC)
_EOL = re.compile(rf"[ \t]*+(?:{_COMMENT_SRC})?+(\r?\n|\Z)")
_WS = re.compile(r"[ \t]*+")
_ARRAY_TRIVIA = re.compile(rf"(?:[ \t\n]++|\r\n|{_COMMENT_SRC})*+")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]++")
_DOT = re.compile(r"[ \t]*+\.[ \t]*+")
_EQUALS = re.compile(r"[ \t]*+=[ \t]*+")

_BASIC = re.compile(rf'"([^"\\{_CTRL}]*+)"')
_BASIC_CHUNK = re.compile(rf'[^"\\{_CTRL}]*+')
_LITERAL = re.compile(rf"'([^'{_CTRL}]*+)'")
_LITERAL_CHUNK = re.compile(rf"[^'{_CTRL}]*+")
_ML_BASIC_CHUNK = re.compile(r'[^"\\\x00-\x08\x0b-\x1f\x7f]*+')
_ML_LITERAL_CHUNK = re.compile(r"[^'\x00-\x08\x0b-\x1f\x7f]*+")
_QUOTES = re.compile(r"\"++|'++")
_ESCAPE = re.compile(r'\\(?:([btnfr"\\])|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8}))')
_LINE_CONTINUATION = re.compile(r"\\[ \t]*+\r?\n(?:[ \t\n]++|\r\n)*+")
_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\"}

_NUMBER = re.compile(
    r"""
      0x(?P<hex>[0-9A-Fa-f](?:_?[0-9A-Fa-f])*+)
    | 0o(?P<oct>[0-7](?:_?[0-7])*+)
    | 0b(?P<bin>[01](?:_?[01])*+)
    | [+-]?(?:0|[1-9](?:_?[0-9])*+)
      (?P<float>(?:\.[0-9](?:_?[0-9])*+)?(?:[eE][+-]?[0-9](?:_?[0-9])*+)?)
    | (?P<special>[+-]?(?:inf|nan))
    """,
    re.VERBOSE,
)
_DATE_TIME = re.compile(
    r"""
    ([0-9]{4})-([0-9]{2})-([0-9]{2})
    (?:
        [Tt\ ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]++))?
        (?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))?
    )?
    """,
    re.VERBOSE,
)
_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]++))?")

# Table states (values of ``_Parser.state``); a value >= 0 is a table made or
# entered by dotted keys, and the number is the header section that did it.
# Inline tables have no state: they can never be extended.
_IMPLICIT = -1  # implied by a header (``a`` in ``[a.b]``): may still get its own header
_EXPLICIT = -2  # defined by a header or an ``[[array]]`` element; the root

_NEWLINES = "\r\n"


def parse_toml(text: str, path: str | None = None) -> Document:
    """Parse a TOML 1.0 document into a span tree; raise ``ParseError`` if invalid."""
    source = Source(text, path)
    root = _Parser(text, source).parse()
    return Document(root=root, source=source, format="toml")


def _show(name: str) -> str:
    """A key name for an error message: short, quoted, escapes visible."""
    return repr(name if len(name) <= 40 else name[:40] + "...")


def _dotted(keys: list[KeyNode], count: int) -> str:
    return _show(".".join(key.name for key in keys[:count]))


class _Parser:
    __slots__ = ("aot", "root", "source", "state", "text")

    def __init__(self, text: str, source: Source) -> None:
        self.text = text
        self.source = source
        self.root = ObjectNode(0, len(text))
        self.state: dict[ObjectNode, int] = {self.root: _EXPLICIT}
        self.aot: set[ArrayNode] = set()  # arrays made by [[header]]: the only extensible ones

    # -- errors ---------------------------------------------------------------

    def _fail(self, message: str, offset: int) -> NoReturn:
        line, column = self.source.position(offset)
        raise ParseError(message, path=self.source.path, line=line, column=column)

    def _fail_expect(self, offset: int, message: str) -> NoReturn:
        """Fail at ``offset``, naming a stray control character if that is what is there."""
        char = self.text[offset : offset + 1]
        if char == "\r":
            message = "carriage return without line feed"
        elif char and ((char < " " and char not in "\t\n") or char == "\x7f"):
            message = "control character not allowed here"
        self._fail(message, offset)

    # -- document structure ---------------------------------------------------

    def parse(self) -> ObjectNode:
        text = self.text
        size = len(text)
        root = self.root
        table = root
        array: ArrayNode | None = None
        section = 0
        after = ""
        pos = 1 if text.startswith(BOM) else 0
        while True:
            m = _TRIVIA.match(text, pos)
            if m is not None:
                pos = m.end()
            if pos >= size:
                break
            char = text[pos]
            if char == "[":
                section += 1
                table, array, pos = self._header(pos)
                after = "expected end of line after table header"
            elif char == "#":  # a comment not followed by a line break
                m = _COMMENT.match(text, pos)
                pos = pos if m is None else m.end()
                if pos >= size:
                    break
                self._fail("control character in comment", pos)
            else:
                pos = self._keyval(pos, table, section)
                after = "expected end of line after value"
            m = _EOL.match(text, pos)
            if m is None:
                self._fail_after_statement(pos, after)
            if table is not root:
                table.end = m.start(1)
                if array is not None:
                    array.end = table.end
            pos = m.end()
        return root

    def _fail_after_statement(self, pos: int, message: str) -> NoReturn:
        """Fail on what follows a statement on its line that is neither a comment nor a break."""
        pos = _skip_ws(self.text, pos)
        m = _COMMENT.match(self.text, pos)
        if m is not None:
            self._fail("control character in comment", m.end())
        self._fail_expect(pos, message)

    def _header(self, pos: int) -> tuple[ObjectNode, ArrayNode | None, int]:
        text = self.text
        is_array = text.startswith("[[", pos)
        keys, i = self._key(_skip_ws(text, pos + (2 if is_array else 1)))
        i = _skip_ws(text, i)
        close = "]]" if is_array else "]"
        if not text.startswith(close, i):
            self._fail_expect(i, f"expected '{close}' to close table header")
        end = i + len(close)
        state = self.state
        node = self.root
        for index, key in enumerate(keys[:-1]):
            child = node.get(key.name)
            if child is None:
                child = ObjectNode(pos, end)
                state[child] = _IMPLICIT
                node.add(key, child)
            else:
                if isinstance(child, ArrayNode) and child in self.aot:
                    child = child.items[-1]  # the element being filled in
                if not (isinstance(child, ObjectNode) and child in state):
                    self._fail(
                        _not_a_table(child, _dotted(keys, index + 1), inline=True), key.start
                    )
            node = child
        last = keys[-1]
        existing = node.get(last.name)
        table = ObjectNode(pos, end)
        if is_array:
            if existing is None:
                array = ArrayNode(pos, end)
                self.aot.add(array)
                node.add(last, array)
            elif isinstance(existing, ArrayNode) and existing in self.aot:
                array = existing
            else:
                name = _dotted(keys, len(keys))
                self._fail(
                    f"key {name} is already defined and is not an array of tables", last.start
                )
            state[table] = _EXPLICIT
            array.items.append(table)
            array.end = end
            return table, array, end
        if existing is None:
            node.add(last, table)
        elif isinstance(existing, ObjectNode) and state.get(existing) == _IMPLICIT:
            table = existing
            table.start = pos
            table.end = end
            node.add(last, table)  # the key now points into this header
        else:
            self._fail(f"table {_dotted(keys, len(keys))} is already defined", last.start)
        state[table] = _EXPLICIT
        return table, None, end

    def _keyval(self, pos: int, table: ObjectNode, section: int) -> int:
        keys, i = self._key(pos)
        m = _EQUALS.match(self.text, i)
        if m is None:
            self._fail_expect(_skip_ws(self.text, i), "expected '=' after key")
        value, i = self._value(m.end(), 0)
        node = table
        if len(keys) > 1:
            state = self.state
            for index, key in enumerate(keys[:-1]):
                child = node.get(key.name)
                if child is None:
                    child = ObjectNode(keys[0].start, value.end)
                    state[child] = section
                    node.add(key, child)
                elif isinstance(child, ObjectNode) and state.get(child) in (_IMPLICIT, section):
                    state[child] = section
                    child.end = max(child.end, value.end)
                else:
                    self._fail(
                        _not_a_table(child, _dotted(keys, index + 1), inline=child not in state),
                        key.start,
                    )
                node = child
        last = keys[-1]
        if last.name in node:
            self._fail(f"duplicate key {_dotted(keys, len(keys))}", last.start)
        node.add(last, value)
        return i

    def _key(self, pos: int) -> tuple[list[KeyNode], int]:
        text = self.text
        keys: list[KeyNode] = []
        while True:
            m = _BARE_KEY.match(text, pos)
            if m is not None:
                end = m.end()
                keys.append(KeyNode(m.group(), pos, end))
            else:
                char = text[pos : pos + 1]
                if char == '"':
                    name, end = self._basic(pos)
                elif char == "'":
                    name, end = self._literal(pos)
                else:
                    self._fail_expect(pos, "expected a key")
                keys.append(KeyNode(name, pos, end))
            m = _DOT.match(text, end)
            if m is None:
                return keys, end
            pos = m.end()

    # -- values ---------------------------------------------------------------

    def _value(self, pos: int, depth: int) -> tuple[Node, int]:
        text = self.text
        char = text[pos : pos + 1]
        if char == '"':
            if text.startswith('"""', pos):
                value, end = self._ml_basic(pos)
            else:
                value, end = self._basic(pos)
            return ScalarNode(pos, end, value, "string"), end
        if char == "'":
            if text.startswith("'''", pos):
                value, end = self._ml_literal(pos)
            else:
                value, end = self._literal(pos)
            return ScalarNode(pos, end, value, "string"), end
        if char == "[":
            return self._array(pos, depth + 1)
        if char == "{":
            return self._inline_table(pos, depth + 1)
        if char == "t" and text.startswith("true", pos):
            return ScalarNode(pos, pos + 4, True, "bool"), pos + 4
        if char == "f" and text.startswith("false", pos):
            return ScalarNode(pos, pos + 5, False, "bool"), pos + 5
        if "0" <= char <= "9":
            m = _DATE_TIME.match(text, pos)
            if m is not None:
                return self._datetime(m), m.end()
            m = _TIME.match(text, pos)
            if m is not None:
                return self._time(m), m.end()
        m = _NUMBER.match(text, pos)
        if m is not None:
            end = m.end()
            literal = m.group()
            digits = m.group("hex")
            if digits is not None:
                return ScalarNode(pos, end, int(digits, 16), "integer"), end
            digits = m.group("oct")
            if digits is not None:
                return ScalarNode(pos, end, int(digits, 8), "integer"), end
            digits = m.group("bin")
            if digits is not None:
                return ScalarNode(pos, end, int(digits, 2), "integer"), end
            if m.group("float") or m.group("special"):
                return ScalarNode(pos, end, float(literal), "float"), end
            try:
                number = int(literal)
            except ValueError:  # over Python's limit on decimal digits
                self._fail("integer too large", pos)
            return ScalarNode(pos, end, number, "integer"), end
        if not char or char in "\r\n#":
            self._fail("missing value", pos)
        self._fail_expect(pos, "invalid value")

    def _datetime(self, m: re.Match[str]) -> ScalarNode:
        year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = m.groups()
        start = m.start()
        try:
            if hour is None:
                return ScalarNode(start, m.end(), date(int(year), int(month), int(day)), "date")
            tz: timezone | None = None
            if zulu:
                tz = UTC
            elif sign:
                hours, minutes = int(off_h), int(off_m)
                if hours > 23 or minutes > 59:
                    raise ValueError
                offset = timedelta(hours=hours, minutes=minutes)
                tz = timezone(-offset if sign == "-" else offset)
            value = datetime(
                int(year),
                int(month),
                int(day),
                int(hour),
                int(minute),
                int(second),
                _micros(fraction),
                tzinfo=tz,
            )
        except ValueError:
            self._fail("invalid date or time", start)
        return ScalarNode(start, m.end(), value, "datetime")

    def _time(self, m: re.Match[str]) -> ScalarNode:
        hour, minute, second, fraction = m.groups()
        try:
            value = time(int(hour), int(minute), int(second), _micros(fraction))
        except ValueError:
            self._fail("invalid time", m.start())
        return ScalarNode(m.start(), m.end(), value, "time")

    def _array(self, pos: int, depth: int) -> tuple[ArrayNode, int]:
        if depth > MAX_NESTING:
            self._fail("arrays or inline tables nested too deeply", pos)
        text = self.text
        node = ArrayNode(pos, pos)
        items = node.items
        i = _skip_array_trivia(text, pos + 1)
        while True:
            char = text[i : i + 1]
            if char == "]":
                node.end = i + 1
                return node, i + 1
            if not char:
                self._fail("unterminated array", pos)
            value, i = self._value(i, depth)
            items.append(value)
            i = _skip_array_trivia(text, i)
            char = text[i : i + 1]
            if char == ",":
                i = _skip_array_trivia(text, i + 1)
            elif char == "]":
                node.end = i + 1
                return node, i + 1
            elif not char:
                self._fail("unterminated array", pos)
            else:
                self._fail_expect(i, "expected ',' or ']' in array")

    def _inline_table(self, pos: int, depth: int) -> tuple[ObjectNode, int]:
        if depth > MAX_NESTING:
            self._fail("arrays or inline tables nested too deeply", pos)
        text = self.text
        node = ObjectNode(pos, pos)
        dotted: set[ObjectNode] = set()  # tables made by dotted keys inside this one
        i = _skip_ws(text, pos + 1)
        if text.startswith("}", i):
            node.end = i + 1
            return node, i + 1
        while True:
            char = text[i : i + 1]
            if not char:
                self._fail("unterminated inline table", pos)
            if char == "}":  # the empty table returned above, so a comma came before
                self._fail("trailing comma not allowed in inline table", i)
            if char and char in _NEWLINES:
                self._fail("newline not allowed in inline table", i)
            keys, i = self._key(i)
            m = _EQUALS.match(text, i)
            if m is None:
                self._fail_expect(_skip_ws(text, i), "expected '=' after key")
            value, i = self._value(m.end(), depth)
            target = node
            for index, key in enumerate(keys[:-1]):
                child = target.get(key.name)
                if child is None:
                    child = ObjectNode(keys[0].start, value.end)
                    dotted.add(child)
                    target.add(key, child)
                elif isinstance(child, ObjectNode) and child in dotted:
                    child.end = value.end
                else:
                    name = _dotted(keys, index + 1)
                    self._fail(_not_a_table(child, name, inline=child not in dotted), key.start)
                target = child
            last = keys[-1]
            if last.name in target:
                self._fail(f"duplicate key {_dotted(keys, len(keys))}", last.start)
            target.add(last, value)
            i = _skip_ws(text, i)
            char = text[i : i + 1]
            if char == ",":
                i = _skip_ws(text, i + 1)
            elif char == "}":
                node.end = i + 1
                return node, i + 1
            elif not char:
                self._fail("unterminated inline table", pos)
            elif char in _NEWLINES:
                self._fail("newline not allowed in inline table", i)
            else:
                self._fail_expect(i, "expected ',' or '}' in inline table")

    # -- strings --------------------------------------------------------------

    def _basic(self, pos: int) -> tuple[str, int]:
        text = self.text
        m = _BASIC.match(text, pos)
        if m is not None:
            return m.group(1), m.end()
        parts: list[str] = []
        i = pos + 1
        while True:
            m = _BASIC_CHUNK.match(text, i)
            j = i if m is None else m.end()
            if j > i:
                parts.append(text[i:j])
            char = text[j : j + 1]
            if char == '"':
                return "".join(parts), j + 1
            if char == "\\":
                decoded, i = self._escape(j)
                parts.append(decoded)
                continue
            self._bad_string_char(j, pos)

    def _ml_basic(self, pos: int) -> tuple[str, int]:
        text = self.text
        i = _skip_first_newline(text, pos + 3)
        parts: list[str] = []
        while True:
            m = _ML_BASIC_CHUNK.match(text, i)
            j = i if m is None else m.end()
            if j > i:
                parts.append(text[i:j])
            char = text[j : j + 1]
            if char == '"':
                closed, i = _quotes(text, j, parts)
                if closed:
                    return "".join(parts), i
            elif char == "\\":
                m = _LINE_CONTINUATION.match(text, j)
                if m is not None:
                    i = m.end()
                else:
                    decoded, i = self._escape(j)
                    parts.append(decoded)
            elif text.startswith("\r\n", j):
                parts.append("\n")
                i = j + 2
            else:
                self._bad_string_char(j, pos, multiline=True)

    def _literal(self, pos: int) -> tuple[str, int]:
        m = _LITERAL.match(self.text, pos)
        if m is not None:
            return m.group(1), m.end()
        m = _LITERAL_CHUNK.match(self.text, pos + 1)
        self._bad_string_char(pos + 1 if m is None else m.end(), pos)

    def _ml_literal(self, pos: int) -> tuple[str, int]:
        text = self.text
        i = _skip_first_newline(text, pos + 3)
        parts: list[str] = []
        while True:
            m = _ML_LITERAL_CHUNK.match(text, i)
            j = i if m is None else m.end()
            if j > i:
                parts.append(text[i:j])
            if text.startswith("'", j):
                closed, i = _quotes(text, j, parts)
                if closed:
                    return "".join(parts), i
            elif text.startswith("\r\n", j):
                parts.append("\n")
                i = j + 2
            else:
                self._bad_string_char(j, pos, multiline=True)

    def _escape(self, pos: int) -> tuple[str, int]:
        """Decode the escape sequence at ``pos`` (a backslash); return it and where it ends."""
        m = _ESCAPE.match(self.text, pos)
        if m is None:
            self._fail("invalid escape in string", pos)
        simple, short, long = m.groups()
        if simple is not None:
            return _ESCAPES[simple], m.end()
        code = int(short or long, 16)
        if 0xD800 <= code <= 0xDFFF or code > 0x10FFFF:
            self._fail("escape is not a Unicode scalar value", pos)
        return chr(code), m.end()

    def _bad_string_char(self, offset: int, start: int, *, multiline: bool = False) -> NoReturn:
        """Fail on the character that stopped a string scan at ``offset``."""
        char = self.text[offset : offset + 1]
        if not char:
            self._fail("unterminated string", start)
        if not multiline and (char == "\n" or self.text.startswith("\r\n", offset)):
            self._fail("newline in single-line string", offset)
        self._fail("control character in string", offset)


def _micros(fraction: str | None) -> int:
    """Microseconds from a fraction of a second, truncated to 6 digits as tomllib does."""
    return int(fraction[:6].ljust(6, "0")) if fraction else 0


def _not_a_table(node: Node, name: str, *, inline: bool) -> str:
    """Why the key path ``name`` cannot lead into ``node``."""
    if isinstance(node, ObjectNode):
        if inline:
            return f"inline table {name} cannot be extended"
        return f"table {name} cannot be extended with dotted keys here"
    if isinstance(node, ArrayNode):
        return f"array {name} cannot be extended"
    return f"key {name} is already defined and is not a table"


def _quotes(text: str, pos: int, parts: list[str]) -> tuple[bool, int]:
    """Handle a run of quotes in a multi-line string: content, or the closing delimiter.

    Up to two quotes right before the closing three belong to the content.
    """
    m = _QUOTES.match(text, pos)
    run = 1 if m is None else m.end() - pos
    quote = text[pos]
    if run < 3:
        parts.append(quote * run)
        return False, pos + run
    extra = min(run - 3, 2)
    parts.append(quote * extra)
    return True, pos + 3 + extra


def _skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return pos if m is None else m.end()


def _skip_array_trivia(text: str, pos: int) -> int:
    m = _ARRAY_TRIVIA.match(text, pos)
    return pos if m is None else m.end()


def _skip_first_newline(text: str, pos: int) -> int:
    if text.startswith("\n", pos):
        return pos + 1
    if text.startswith("\r\n", pos):
        return pos + 2
    return pos
