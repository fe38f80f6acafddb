"""The JSON/JSONC parser's two paths side by side, for tests that hold them equal.

``parse_jsonc`` builds a document through a fast path when it can prove the
text valid, and through the recursive-descent reference otherwise. Audit
findings (line and column) and ``wrap``'s byte edits read every span of the
tree, so "equal" here is everything a caller could see: each node's type,
span, value (and its Python type: 1, 1.0 and True differ), kind, the members
in order with their key spans, the shadowed members, the key index, and the
document's format and duplicates flag; or, for a broken text, the same
``ParseError`` (message, line, column).
"""

from __future__ import annotations

from mcpcred.errors import ParseError
from mcpcred.parsing.jsonc import _parse_fast, _parse_reference, parse_jsonc
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, Node, ObjectNode, ScalarNode


def shape(node: Node) -> object:
    """Everything about ``node`` and its subtree that a caller can observe."""
    if isinstance(node, ObjectNode):
        return (
            "object",
            node.start,
            node.end,
            [(_key(k), shape(v)) for k, v in node.members],
            [(_key(k), shape(v)) for k, v in node.shadowed],
            list(node._index.items()),  # what get() and key() answer from
        )
    if isinstance(node, ArrayNode):
        return ("array", node.start, node.end, [shape(item) for item in node.items])
    assert isinstance(node, ScalarNode)
    return ("scalar", node.start, node.end, type(node.value).__name__, repr(node.value), node.kind)


def _key(key: KeyNode) -> tuple[str, int, int]:
    return (key.name, key.start, key.end)


def document_shape(document: Document) -> object:
    return (shape(document.root), document.format, document.duplicates, document.source.text)


def outcome(text: str, *, fast: bool) -> object:
    """What ``parse_jsonc`` (``fast``) or the reference alone makes of ``text``."""
    try:
        document = parse_jsonc(text, "t.json") if fast else _parse_reference(text, "t.json")
    except ParseError as exc:
        return ("error", exc.reason, exc.line, exc.column, exc.path)
    return document_shape(document)


def assert_same(text: str) -> bool:
    """Both paths agree on ``text``; return whether the fast path took it.

    The fast path may decline any text (the reference then decides), but it
    must never accept one that the reference rejects.
    """
    expected = outcome(text, fast=False)
    assert outcome(text, fast=True) == expected
    fast = _parse_fast(text, "t.json")
    if fast is None:
        return False
    assert expected[0] != "error", "the fast path accepted a text the reference rejects"
    assert document_shape(fast) == expected
    return True
