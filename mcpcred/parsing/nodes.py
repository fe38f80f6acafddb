"""A format-neutral tree of values with their spans in the source text.

Offsets are indices into the decoded text (a ``str``), so a UTF-8 BOM, when
present, is character 0 and the document starts at offset 1. Line and column
are derived lazily from an offset through ``Source``: scanning thousands of
files must not pay for positions nobody asks for. Lines and columns are
1-based; columns count Unicode code points; a BOM does not count as a column,
and a CRLF line ending is one line break.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field

BOM = "\ufeff"

Scalar = object  # str, int, float, bool, None or a TOML date/time


# Positions answered by counting line breaks before the line table is built: a file
# has a few findings, and building the table walked every line of every file in
# Python; a file with many findings still gets the table (no quadratic counting).
_COUNTED_POSITIONS = 16


class Source:
    """The text of one file, with a line table built when it pays."""

    __slots__ = ("_counted", "_line_starts", "path", "text")

    def __init__(self, text: str, path: str | None = None) -> None:
        self.text = text
        self.path = path
        self._line_starts: list[int] | None = None
        self._counted = 0

    def _starts(self) -> list[int]:
        if self._line_starts is None:
            text = self.text
            starts = [1 if text.startswith(BOM) else 0]
            find = text.find
            i = find("\n")
            while i != -1:
                starts.append(i + 1)
                i = find("\n", i + 1)
            self._line_starts = starts
        return self._line_starts

    def position(self, offset: int) -> tuple[int, int]:
        """Return (line, column), both 1-based, of a character offset."""
        if self._line_starts is None and self._counted < _COUNTED_POSITIONS and offset >= 0:
            # What the table says, from the line breaks before ``offset`` (in C).
            self._counted += 1
            text = self.text
            breaks = text.count("\n", 0, offset)
            # the line starts after the last break before it (the first line: after a BOM)
            start = text.rfind("\n", 0, offset) + 1 if breaks else int(text.startswith(BOM))
            return breaks + 1, offset - start + 1
        starts = self._starts()
        index = bisect.bisect_right(starts, offset) - 1
        index = max(index, 0)
        return index + 1, offset - starts[index] + 1

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line ending."""
        starts = self._starts()
        if not 1 <= line <= len(starts):
            return ""
        begin = starts[line - 1]
        end = starts[line] - 1 if line < len(starts) else len(self.text)
        return self.text[begin:end].rstrip("\r")


@dataclass(slots=True, eq=False)
class Node:
    """A value and the half-open span ``[start, end)`` it occupies in the text."""

    start: int
    end: int

    def to_python(self) -> object:
        """Plain Python data (dict/list/scalars), as ``json.loads`` would give."""
        raise NotImplementedError


@dataclass(slots=True, eq=False)
class ScalarNode(Node):
    """A string, number, boolean, null or (TOML) date-time.

    For strings, ``start``/``end`` cover the quotes; ``value`` is the decoded text.
    """

    value: Scalar = None
    kind: str = "string"

    def to_python(self) -> object:
        return self.value


@dataclass(slots=True, eq=False)
class KeyNode:
    """An object key (decoded) and its span, quotes included."""

    name: str
    start: int
    end: int


@dataclass(slots=True, eq=False)
class ObjectNode(Node):
    """A JSON object or TOML table; keeps members in source order.

    TOML tables may be defined piecewise across the file; ``start`` is the
    first place that defines the table (its header or first dotted key).
    """

    members: list[tuple[KeyNode, Node]] = field(default_factory=list)
    _index: dict[str, int] = field(default_factory=dict, repr=False)
    # Earlier members of a repeated key, in source order: ``members`` holds what
    # the client reads, these are what it silently drops (and what review misses).
    shadowed: list[tuple[KeyNode, Node]] = field(default_factory=list)

    def add(self, key: KeyNode, value: Node) -> None:
        """Append a member; a repeated key replaces the earlier one, as JSON.parse does.

        The replaced member is kept in ``shadowed``: ``{"TOKEN": "ghp_...", "TOKEN":
        "changeme"}`` still holds the token in the file.
        """
        existing = self._index.get(key.name)
        if existing is not None:
            if self.members[existing][1] is not value:  # TOML re-points a key at its table
                self.shadowed.append(self.members[existing])
            self.members[existing] = (key, value)
        else:
            self._index[key.name] = len(self.members)
            self.members.append((key, value))

    @property
    def replaced(self) -> list[tuple[KeyNode, Node]]:
        """The members a repeated key replaced (``shadowed``), as wrap asks for them."""
        return self.shadowed

    def get(self, name: str) -> Node | None:
        """The member value called ``name``, or None."""
        index = self._index.get(name)
        return None if index is None else self.members[index][1]

    def key(self, name: str) -> KeyNode | None:
        """The key node of member ``name``, or None."""
        index = self._index.get(name)
        return None if index is None else self.members[index][0]

    def items(self) -> Iterator[tuple[str, Node]]:
        """(name, value) pairs in source order."""
        for key, value in self.members:
            yield key.name, value

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self.members)

    def to_python(self) -> dict[str, object]:
        return {key.name: value.to_python() for key, value in self.members}


@dataclass(slots=True, eq=False)
class ArrayNode(Node):
    """A JSON array or TOML array (or array of tables)."""

    items: list[Node] = field(default_factory=list)

    def to_python(self) -> list[object]:
        return [item.to_python() for item in self.items]


@dataclass(slots=True)
class Document:
    """A parsed file: its root node (an object) and the source it came from."""

    root: ObjectNode
    source: Source
    format: str  # "json" | "jsonc" | "toml" | "yaml"
    # Whether some object repeats a key (``ObjectNode.shadowed``, ``shadowed_members``).
    duplicates: bool = False


def pointer_index(
    node: Node, base: tuple[str | int, ...] = ()
) -> dict[int, tuple[tuple[str | int, ...], Node]]:
    """Every node under ``node`` (by identity) with its JSON pointer, in document order."""
    index: dict[int, tuple[tuple[str | int, ...], Node]] = {}
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(node, base)]
    pop, push = stack.pop, stack.extend
    while stack:
        current, pointer = pop()
        index[id(current)] = (pointer, current)
        # Children pushed last first, so that they come off the stack in order.
        if isinstance(current, ObjectNode):
            push([(v, (*pointer, k.name)) for k, v in reversed(current.members)])
        elif isinstance(current, ArrayNode):
            items = current.items
            push([(items[i], (*pointer, i)) for i in range(len(items) - 1, -1, -1)])
    return index


def shadowed_members(
    node: Node, base: tuple[str | int, ...] = ()
) -> list[tuple[tuple[str | int, ...], KeyNode, Node]]:
    """Every member hidden by a later duplicate key under ``node``, in source order.

    Each comes with the JSON pointer its key would have (the pointer of the value
    the client reads instead). Duplicates inside hidden values are included.
    """
    out: list[tuple[tuple[str | int, ...], KeyNode, Node]] = []
    stack: list[tuple[Node, tuple[str | int, ...]]] = [(node, base)]
    while stack:
        current, pointer = stack.pop()
        if isinstance(current, ObjectNode):
            for key, value in current.shadowed:
                out.append(((*pointer, key.name), key, value))
                stack.append((value, (*pointer, key.name)))
            stack.extend((v, (*pointer, k.name)) for k, v in current.members)
        elif isinstance(current, ArrayNode):
            stack.extend((item, (*pointer, i)) for i, item in enumerate(current.items))
    out.sort(key=lambda item: item[1].start)
    return out
