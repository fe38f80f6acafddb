"""JSON and JSON-with-comments parsing that keeps the span of every value.

VS Code, Zed and Gemini CLI read their settings as JSONC (``//`` and ``/* */``
comments, trailing commas); Claude Desktop and Cursor read strict JSON. One
parser serves both: it accepts the JSONC superset and reports whether the file
used any of it, so a strict-JSON client can be warned about a file it would
reject. Semantics follow ``JSON.parse``: a repeated key keeps the last value;
the earlier ones stay in ``ObjectNode.shadowed`` (and ``Document.duplicates``
is set), because a value the client ignores is still in the file.

Errors are ``ParseError`` with the line and column of the problem and a message
that never quotes the file's content, since a broken file may hold a secret.
"""

from __future__ import annotations

import json
import re

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

__all__ = ["parse_jsonc"]

_MAX_DEPTH = 256

_SPACE = re.compile(r"[ \t\n\r]*")
_LINE_COMMENT = re.compile(r"//[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_NUMBER_START = frozenset("-0123456789")
_LITERALS = {"true": True, "false": False, "null": None}
_LITERAL = re.compile(r"true|false|null")
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")


class _Parser:
    """Recursive descent over one text; ``pos`` is the next unread character."""

    __slots__ = ("duplicates", "extended", "path", "pos", "source", "text")

    def __init__(self, text: str, path: str | None) -> None:
        self.text = text
        self.path = path
        self.source = Source(text, path)
        self.pos = 1 if text.startswith(BOM) else 0
        self.extended = False  # comments or trailing commas seen
        self.duplicates = False  # some object repeats a key

    def fail(self, message: str, offset: int | None = None) -> ParseError:
        line, column = self.source.position(self.pos if offset is None else offset)
        return ParseError(message, path=self.path, line=line, column=column)

    def skip(self) -> None:
        text = self.text
        pos = _SPACE.match(text, self.pos).end()  # type: ignore[union-attr]
        while text.startswith("/", pos):
            match = _LINE_COMMENT.match(text, pos) or _BLOCK_COMMENT.match(text, pos)
            if match is None:
                if text.startswith("/*", pos):
                    raise self.fail("unterminated /* comment", pos)
                raise self.fail("unexpected '/'", pos)
            self.extended = True
            pos = _SPACE.match(text, match.end()).end()  # type: ignore[union-attr]
        self.pos = pos

    def value(self, depth: int) -> Node:
        self.skip()
        text = self.text
        pos = self.pos
        if pos >= len(text):
            raise self.fail("unexpected end of file, expected a value")
        char = text[pos]
        if char == "{":
            return self.obj(depth + 1)
        if char == "[":
            return self.array(depth + 1)
        if char == '"':
            start = pos
            value = self.string()
            return ScalarNode(start, self.pos, value, "string")
        if char in _NUMBER_START:
            match = _NUMBER.match(text, pos)
            if match is None:
                raise self.fail("invalid number")
            literal = match.group()
            number: int | float = (
                float(literal) if any(c in literal for c in ".eE") else int(literal)
            )
            self.pos = match.end()
            self._expect_boundary("number", pos)
            return ScalarNode(pos, self.pos, number, "number")
        match = _LITERAL.match(text, pos)
        if match is not None:
            self.pos = match.end()
            self._expect_boundary("literal", pos)
            word = match.group()
            return ScalarNode(pos, self.pos, _LITERALS[word], "null" if word == "null" else "bool")
        if char == "'":
            raise self.fail("strings must use double quotes")
        if _WORD.match(text, pos):
            raise self.fail("unexpected word, expected a value")
        raise self.fail("unexpected character, expected a value")

    def _expect_boundary(self, what: str, start: int) -> None:
        if self.pos < len(self.text) and (
            self.text[self.pos].isalnum() or self.text[self.pos] in "_.$"
        ):
            raise self.fail(f"invalid {what}", start)

    def string(self) -> str:
        text = self.text
        start = self.pos
        match = _STRING.match(text, start)
        if match is None:
            end = text.find('"', start + 1)
            newline = text.find("\n", start + 1)
            if end == -1 or (newline != -1 and newline < end):
                raise self.fail("unterminated string", start)
            raise self.fail("control character in string", start)
        self.pos = match.end()
        literal = match.group()
        if "\\" not in literal:
            return literal[1:-1]
        try:
            decoded = json.loads(literal)
        except ValueError:
            raise self.fail("invalid escape in string", start) from None
        assert isinstance(decoded, str)  # noqa: S101 - a quoted literal always decodes to str
        return decoded

    def obj(self, depth: int) -> ObjectNode:
        if depth > _MAX_DEPTH:
            raise self.fail("nesting too deep")
        start = self.pos
        self.pos += 1
        node = ObjectNode(start, start)
        text = self.text
        trailing = False
        while True:
            self.skip()
            if self.pos >= len(text):
                raise self.fail("unexpected end of file, expected '}'")
            char = text[self.pos]
            if char == "}":
                if trailing:
                    self.extended = True
                self.pos += 1
                node.end = self.pos
                if node.shadowed:
                    self.duplicates = True
                return node
            if node.members and not trailing:
                raise self.fail("expected ',' or '}' after a member")
            if char != '"':
                raise self.fail("expected a double-quoted key")
            key_start = self.pos
            name = self.string()
            key = KeyNode(name, key_start, self.pos)
            self.skip()
            if not text.startswith(":", self.pos):
                raise self.fail("expected ':' after key")
            self.pos += 1
            node.add(key, self.value(depth))
            self.skip()
            trailing = text.startswith(",", self.pos)
            if trailing:
                self.pos += 1

    def array(self, depth: int) -> ArrayNode:
        if depth > _MAX_DEPTH:
            raise self.fail("nesting too deep")
        start = self.pos
        self.pos += 1
        node = ArrayNode(start, start)
        text = self.text
        trailing = False
        while True:
            self.skip()
            if self.pos >= len(text):
                raise self.fail("unexpected end of file, expected ']'")
            if text[self.pos] == "]":
                if trailing:
                    self.extended = True
                self.pos += 1
                node.end = self.pos
                return node
            if node.items and not trailing:
                raise self.fail("expected ',' or ']' after an element")
            node.items.append(self.value(depth))
            self.skip()
            trailing = text.startswith(",", self.pos)
            if trailing:
                self.pos += 1


def parse_jsonc(text: str, path: str | None = None) -> Document:
    """Parse a JSON/JSONC document whose top level must be an object.

    ``Document.format`` is ``"json"`` when the text is strict JSON and
    ``"jsonc"`` when it relies on comments or trailing commas.
    """
    parser = _Parser(text, path)
    parser.skip()
    if parser.pos >= len(text):
        raise parser.fail("file is empty, expected a JSON object")
    if text[parser.pos] != "{":
        raise parser.fail("expected a JSON object at the top level")
    root = parser.value(0)
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected content after the top-level object")
    assert isinstance(root, ObjectNode)  # noqa: S101 - checked the opening brace above
    return Document(root, parser.source, "jsonc" if parser.extended else "json", parser.duplicates)
