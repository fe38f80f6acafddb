"""Parsers for client config formats that keep the exact position of every value.

Findings point at a value's line and column, and ``wrap`` edits values in
place, so these parsers return a tree of spans over the original text rather
than plain Python data. The tree is format-neutral (``nodes``); ``jsonc`` and
``toml`` build it.
"""

from mcpcred.parsing.nodes import ArrayNode, KeyNode, Node, ObjectNode, ScalarNode, Source

__all__ = ["ArrayNode", "KeyNode", "Node", "ObjectNode", "ScalarNode", "Source"]
