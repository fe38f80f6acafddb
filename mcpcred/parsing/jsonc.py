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

Two parsers, one result. The recursive-descent ``_Parser`` is the reference: it
reads every text, and its errors are the ones reported. Scanning a tree of
configs spent half of its time in it, so ``parse_jsonc`` first tries
``_parse_fast``: the C ``json`` decoder proves the text valid (after comments
and trailing commas are blanked to spaces, which keeps every offset), and one
regular expression then lists the tokens of the now-known-good text with their
offsets, from which the tree is built in one flat loop. Whenever it cannot
prove the text is a document ``_Parser`` would read the same way (a syntax
error, NaN, nesting deeper than ``_MAX_DEPTH``, a top level that is not an
object), it returns None and ``_Parser`` decides, so the errors are unchanged.
"""

from __future__ import annotations

import json
import re
from itertools import islice

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
            try:
                number: int | float = (
                    float(literal) if any(c in literal for c in ".eE") else int(literal)
                )
            except ValueError:  # more digits than int() converts (sys.get_int_max_str_digits)
                raise self.fail("number has too many digits") from None
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
    document = _parse_fast(text, path)
    if document is not None:
        return document
    return _parse_reference(text, path)


def _parse_reference(text: str, path: str | None = None) -> Document:
    """``parse_jsonc`` by recursive descent only: every text, and the exact errors."""
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


class _Rejected(ValueError):
    """NaN, Infinity or -Infinity: ``json`` reads them, JSON (and ``_Parser``) does not."""


def _reject_constant(name: str) -> object:
    raise _Rejected(name)


_STRICT = json.JSONDecoder(parse_constant=_reject_constant)

# What a JSONC text has outside strict JSON: a comment, or a comma whose next
# token, past whitespace and comments, closes an object or array. Each match
# first skips (inside the regex engine, not in a Python loop) everything else:
# runs of other characters, strings (an unterminated one takes the rest of the
# text), a '/' that starts no comment, other commas. Every position is either
# skipped or starts group 1 (an unterminated block comment takes the rest; \Z
# ends the last match at the end), so no match fails and restarts one character
# on, and possessive quantifiers never backtrack: linear on any input.
_TRAILING = r"(?=(?:[ \t\n\r]|//[^\n]*+|/\*.*?\*/)*+[}\]])"
_EXTENDED = re.compile(
    r'(?:[^"/,]++|"[^"\\]*+(?:\\.[^"\\]*+)*+"?|/(?![/*])|,(?!' + _TRAILING[3:] + r")*+"
    r"(//[^\n]*+|/\*(?:.*?\*/|.*+)|," + _TRAILING + r"|\Z)",
    re.DOTALL,
)
# The tokens of a valid JSON text: each after the whitespace, commas and colons
# before it, and a value in an object after its key and colon. The four groups of
# a match cover it without gaps (a group that did not take part is ''), and the
# matches cover the text, so every offset is a running sum of lengths; a member
# with a scalar value is one match: the loop in ``_build`` runs once per value.
_TOKENS = re.compile(
    r'([ \t\n\r,:]*+)(?:("[^"\\]*+(?:\\.[^"\\]*+)*+")([ \t\n\r]*+:[ \t\n\r]*+))?'
    r'("[^"\\]*+(?:\\.[^"\\]*+)*+"|[{}\[\]]|[^ \t\n\r,:{}\[\]"]++)',
    re.DOTALL,
)


def _blank_extended(body: str) -> str | None:
    """``body`` with comments and trailing commas replaced by spaces (offsets kept),
    or None when it has neither or one ``_Parser`` would reject."""
    pieces: list[str] = []
    at = 0
    commas: list[int] = []
    for match in _EXTENDED.finditer(body):
        start, end = match.span(1)
        if start == end:  # \Z
            break
        char = body[start]
        if char == "/" and body[start + 1] == "*" and (end - start < 4 or body[end - 2] != "*"):
            return None  # unterminated block comment
        if char == ",":
            commas.append(start)
        pieces.append(body[at:start])
        pieces.append(" " * (end - start))
        at = end
    if not pieces:
        return None
    pieces.append(body[at:])
    blanked = "".join(pieces)
    # A comma is trailing only after a value: "[,]" or "[1,,]" is an error, not "[]".
    # (The whitespace walked back over is disjoint between two trailing commas, since
    # a closing bracket stands between them: linear in all.)
    for comma in commas:
        before = comma - 1
        while before >= 0 and blanked[before] in " \t\n\r":
            before -= 1
        if before < 0 or blanked[before] in "[{,:":
            return None
    return blanked


def _parse_fast(text: str, path: str | None) -> Document | None:
    """The document ``_Parser`` would build, or None when that is not proven (see the
    module docstring)."""
    begin = 1 if text.startswith(BOM) else 0
    body = text[begin:] if begin else text
    extended = False
    try:
        _STRICT.decode(body)
    except (ValueError, RecursionError):  # _Rejected and JSONDecodeError are ValueErrors
        blanked = _blank_extended(body)
        if blanked is None:
            return None
        try:
            _STRICT.decode(blanked)
        except (ValueError, RecursionError):
            return None
        body = blanked
        extended = True
    built = _build(body, begin)
    if built is None:
        return None
    root, duplicates = built
    return Document(root, Source(text, path), "jsonc" if extended else "json", duplicates)


def _build(body: str, begin: int) -> tuple[ObjectNode, bool] | None:
    """The tree of a valid JSON ``body`` whose offset 0 is ``begin`` in the text, and
    whether some object repeats a key.

    None when the top level is not an object or nesting is deeper than ``_Parser``
    allows. This loop is the hot path of a scan: it checks nothing the decoder
    has already proven, and fills ``ObjectNode`` as ``ObjectNode.add`` would.
    """
    matches = _TOKENS.findall(body)
    if not matches or matches[0][1] or matches[0][3] != "{":
        return None
    # The groups of the matches cover the text in order: offsets are running sums.
    end = begin + len(matches[0][0]) + 1
    root = ObjectNode(end - 1, end - 1)
    top: ObjectNode | ArrayNode = root
    members = root.members
    index = root._index  # filled as ObjectNode.add would
    items: list[Node] = []
    Frame = tuple[ObjectNode | ArrayNode, list[tuple[KeyNode, Node]], dict[str, int], list[Node]]
    stack: list[Frame] = []
    duplicates = False
    node: Node
    for space, key_text, colon, token in islice(matches, 1, None):
        key_start = end + len(space)
        start = key_start + len(key_text) + len(colon)
        end = start + len(token)
        char = token[0]
        if char == '"':
            value = token[1:-1]
            if "\\" in value:
                value = json.loads(token)  # as _Parser.string decodes escapes
            node = ScalarNode(start, end, value, "string")
        elif char == "}" or char == "]":
            top.end = end
            if not stack:
                break
            top, members, index, items = stack.pop()
            continue
        elif char == "{":
            if len(stack) >= _MAX_DEPTH - 1:
                return None
            node = ObjectNode(start, start)
        elif char == "[":
            if len(stack) >= _MAX_DEPTH - 1:
                return None
            node = ArrayNode(start, start)
        elif char == "t":
            node = ScalarNode(start, end, True, "bool")
        elif char == "f":
            node = ScalarNode(start, end, False, "bool")
        elif char == "n":
            node = ScalarNode(start, end, None, "null")
        else:
            number: int | float = (
                float(token) if "." in token or "e" in token or "E" in token else int(token)
            )
            node = ScalarNode(start, end, number, "number")
        if key_text:
            name = key_text[1:-1]
            if "\\" in name:
                name = json.loads(key_text)
            key = KeyNode(name, key_start, key_start + len(key_text))
            if name in index:
                top.add(key, node)  # type: ignore[union-attr]
                duplicates = True
            else:
                index[name] = len(members)
                members.append((key, node))
        else:
            items.append(node)
        if char == "{" or char == "[":
            stack.append((top, members, index, items))
            if isinstance(node, ObjectNode):
                top, members, index = node, node.members, node._index
            else:
                assert isinstance(node, ArrayNode)  # noqa: S101 - made above for "["
                top, items = node, node.items
    return root, duplicates
