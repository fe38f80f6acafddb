"""YAML (Goose, Continue) read into the same span-carrying node tree as JSON and TOML.

ruamel.yaml composes the document into nodes whose marks are character offsets
into the text (a BOM and a CRLF included), which is what ``Node`` spans are, so
findings point at the right line and column and unwrap can find an entry's
text. Values are resolved by the YAML 1.2 core schema (``yes`` is a string,
``true`` a bool), as ruamel.yaml and the clients' own loaders do.

ruamel.yaml is imported here only: audit and wrap load this module when a file
is YAML, and nothing on the shim's path ever does.
"""

from __future__ import annotations

from typing import Any

from mcpcred.errors import ParseError
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, Node, ObjectNode, ScalarNode, Source

_STR = "tag:yaml.org,2002:str"
_MAX_DEPTH = 256  # as the JSON parser: a deeper file is refused, not recursed into
_QUOTE_AFTER = frozenset(" \t\r\n[{,:-?")  # where a quoted scalar can begin


def parse_yaml(text: str, path: str | None = None) -> Document:
    """Parse the first YAML document, whose top level must be a mapping (or empty)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    source = Source(text, path)
    deep = _too_deep(text)
    if deep is not None:  # ruamel.yaml's scanner slows down with depth: refuse it first
        line, column = source.position(deep)
        raise ParseError(
            f"nested deeper than {_MAX_DEPTH} levels", path=path, line=line, column=column
        )
    loader = YAML(typ="rt")
    try:
        root = loader.compose(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = exc.problem or exc.context or "not valid YAML"
        raise ParseError(problem, path=path, line=line, column=column) from None
    except YAMLError as exc:
        raise ParseError(str(exc).splitlines()[0] or "not valid YAML", path=path) from None
    except RecursionError:  # the composer recurses: a hostile file must not crash the run
        raise ParseError(f"nested deeper than {_MAX_DEPTH} levels", path=path) from None
    if root is None:  # empty, or only comments
        start = 1 if text.startswith("\ufeff") else 0
        return Document(ObjectNode(start, start), source, "yaml")
    builder = _Builder(path, text)
    node = builder.build(root, 0)
    if not isinstance(node, ObjectNode):
        line, column = source.position(node.start)
        raise ParseError("expected a mapping at the top level", path=path, line=line, column=column)
    return Document(node, source, "yaml", builder.duplicates)


def _too_deep(text: str) -> int | None:
    """The offset where ``[``/``{`` nesting passes the limit, if it does (quotes and
    comments skipped; brackets inside a plain scalar count, which only makes it stricter)."""
    if text.count("[") + text.count("{") <= _MAX_DEPTH:
        return None
    depth, i, size = 0, 0, len(text)
    while i < size:
        char = text[i]
        if char in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return i
        elif char in "]}":
            depth = max(depth - 1, 0)
        elif char == "#" and (i == 0 or text[i - 1] in " \t\r\n"):
            i = text.find("\n", i)
            if i < 0:
                break
        elif char in "'\"" and i > 0 and text[i - 1] not in _QUOTE_AFTER:
            pass  # a quote inside a plain scalar (``it's``) starts nothing
        elif char == "'":
            i = text.find("'", i + 1)
            if i < 0:
                break
        elif char == '"':
            i += 1
            while i < size and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        i += 1
    return None


class _Builder:
    def __init__(self, path: str | None, text: str) -> None:
        self.path = path
        self._text = text
        self.duplicates = False
        self._values: Any = None

    def build(self, node: Any, depth: int) -> Node:
        from ruamel.yaml.nodes import MappingNode, SequenceNode

        if depth > _MAX_DEPTH:
            mark = node.start_mark
            raise ParseError(
                f"nested deeper than {_MAX_DEPTH} levels",
                path=self.path,
                line=mark.line + 1,
                column=mark.column + 1,
            )
        start, end = node.start_mark.index, node.end_mark.index
        if isinstance(node, MappingNode):
            mapping = ObjectNode(start, end)
            for key, value in node.value:
                name = (
                    self._scalar(key) if not isinstance(key, MappingNode | SequenceNode) else None
                )
                text = name if isinstance(name, str) else str(name)
                if text in mapping:
                    self.duplicates = True
                key_node = KeyNode(text, key.start_mark.index, key.end_mark.index)
                mapping.add(key_node, self.build(value, depth + 1))
            if not node.flow_style and mapping.members:
                # a block collection's mark runs on to the next token (past comments and
                # indentation): its text ends where its last value does
                mapping.end = max(v.end for _, v in (*mapping.members, *mapping.shadowed))
            return mapping
        if isinstance(node, SequenceNode):
            items = [self.build(item, depth + 1) for item in node.value]
            if not node.flow_style and items:
                end = max(item.end for item in items)  # as for a block mapping
            return ArrayNode(start, end, items)
        value = self._scalar(node)
        kind = {bool: "bool", int: "number", float: "number", type(None): "null"}.get(
            type(value), "string"
        )
        if node.style in ("|", ">"):
            # a block scalar's mark takes the line break after it: the value ends before it
            end = start + len(self._text[start:end].rstrip())
        return ScalarNode(start, end, value, kind)

    def _scalar(self, node: Any) -> object:
        """The value of a scalar by its resolved tag; anything unusual stays its text."""
        if node.tag == _STR or not isinstance(node.value, str):
            return node.value
        if self._values is None:
            from ruamel.yaml import YAML

            self._values = YAML(typ="safe", pure=True).constructor
        from ruamel.yaml.error import YAMLError

        try:
            value = self._values.construct_object(node, deep=True)
        except (YAMLError, ValueError, TypeError):  # a tag the safe schema does not know
            return node.value
        if value is None or isinstance(value, bool | int | float | str):
            return value
        return node.value
