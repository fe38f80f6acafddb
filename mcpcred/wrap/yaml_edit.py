"""Edits to a YAML file (Goose, Continue) through the spans ruamel.yaml recorded.

A YAML file is edited like a JSON one: each change replaces, inserts or deletes
the characters of one value or member, so comments, key order, indentation,
quoting, line endings and a BOM elsewhere stay byte for byte (a round trip
through a dumper re-flows what it does not understand, and unwrap must give the
file back exactly). New values are written in YAML's flow style (``[a, b]``,
``{k: v}``) on the line of their key, which every YAML loader reads; strings are
plain where that reads back as the same string, else double-quoted JSON
literals (valid YAML). A scalar keeps the quoting its old value had, and a
block mapping replaced whole (a bridge entry) stays a block mapping.

``edit.verify`` parses the result again and checks every change; a surprise is a
refused edit, never a damaged file.
"""

from __future__ import annotations

import json
import re

from mcpcred.models import Pointer
from mcpcred.parsing.nodes import ArrayNode, Document, Node, ObjectNode, ScalarNode
from mcpcred.wrap.plan import Change

# Characters a plain scalar may hold here, anywhere in a flow or block context; what
# YAML would read as another type (true, 1.5, null, ~) is ruled out separately.
_PLAIN = re.compile(r"(?:-(?=[^\s])|[A-Za-z0-9_./=+~$^(])[A-Za-z0-9_./@=+~$%^()*:-]*")
_NOT_STRINGS = re.compile(
    r"(?i:true|false|yes|no|on|off|y|n|null|~|[-+]?(\.inf|\.nan)"
    r"|[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|0x[0-9a-f_]+|0o[0-7_]+)"
)


def render_scalar(value: object, quoted: str | None = None, *, flow: bool = True) -> str:
    """One YAML scalar: plain when it reads back as ``value``, else a JSON literal.

    ``quoted`` is the quote the old value used (``'`` or ``"``): a string keeps it.
    ``flow``: the scalar stands inside ``[...]``/``{...}``, where ``,[]{}`` end it.
    """
    if isinstance(value, str):
        if quoted == "'" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        plain = quoted is None and _plain_ok(value, flow)
        return value if plain else json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return render_flow(value)


def _plain_ok(value: str, flow: bool) -> bool:
    """Whether ``value`` written plain reads back as this same string."""
    if _PLAIN.fullmatch(value) is not None:
        return not value.endswith(":") and _NOT_STRINGS.fullmatch(value) is None
    if flow or not value or value != value.strip() or not value.isprintable():
        return False
    # a block context allows more: flow indicators inside, spaces between words
    return (
        _PLAIN.match(value) is not None
        and ": " not in value
        and " #" not in value
        and not value.endswith(":")
        and _NOT_STRINGS.fullmatch(value) is None
    )


def render_flow(value: object) -> str:
    """A value in flow style: ``[a, b]``, ``{k: v}``, or a scalar."""
    if isinstance(value, list):
        return "[" + ", ".join(render_flow(item) for item in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{render_scalar(str(k))}: {render_flow(v)}" for k, v in value.items())
        return "{" + inner + "}"
    return render_scalar(value)


class YamlEditor:
    """Collects splices for one document and applies them from the end."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.text = document.source.text
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        self.splices: list[tuple[int, int, str]] = []

    def apply(self, changes: list[Change]) -> str:
        from mcpcred.wrap.edit import EditError, resolve

        for change in changes:
            if change.op == "add":
                parent = resolve(self.document.root, change.pointer[:-1])
                if not isinstance(parent, ObjectNode):
                    raise EditError("nowhere to add a YAML member: its parent is no mapping")
                self._add(parent, str(change.pointer[-1]), change.value)
                continue
            node = resolve(self.document.root, change.pointer)
            if node is None:
                raise EditError("no YAML value at " + "/".join(map(str, change.pointer)))
            if change.op == "remove":
                self._remove(change.pointer, node)
            elif change.text is not None:
                self.splices.append((node.start, node.end, change.text))
            else:
                rendered = self._render(node, change.value, change.pointer)
                self.splices.append((node.start, node.end, rendered))
        out = self.text
        splices = sorted(set(self.splices), reverse=True)  # an anchor's value: once
        for (_, end, _), (next_start, _, _) in zip(splices[1:], splices, strict=False):
            if end > next_start:  # two edits of one text (an anchor used twice, differently)
                raise EditError(
                    "two changes meet in the same YAML text (a value shared through an "
                    "anchor?); not rewritten"
                )
        for start, end, replacement in splices:
            out = out[:start] + replacement + out[end:]
        for change in changes:
            if change.op == "set" and change.text is not None:
                out = _settle(out, change, self.document.source.path)
        return out

    # -- rendering ------------------------------------------------------------------
    def scalar(self, node: ScalarNode, value: object, pointer: Pointer) -> str:
        """The text that replaces scalar ``node`` with ``value``, as ``apply`` writes it."""
        return self._render(node, value, pointer)

    def in_flow(self, pointer: Pointer) -> bool:
        """Whether the value at ``pointer`` sits in a flow collection (``[...]``, ``{...}``)."""
        from mcpcred.wrap.edit import resolve

        parent = resolve(self.document.root, pointer[:-1])
        return parent is not None and self.text[parent.start : parent.start + 1] in ("[", "{")

    def _render(self, node: Node, value: object, pointer: Pointer) -> str:
        text = self.text[node.start : node.end]
        if isinstance(node, ScalarNode) and not isinstance(value, list | dict):
            quote = text[:1] if text[:1] in ("'", '"') else None
            return render_scalar(value, quote, flow=self.in_flow(pointer))
        if isinstance(node, ArrayNode) and isinstance(value, list) and text[:1] == "-":
            # a block sequence stays one: an item a line, at the column of the first
            column = self.document.source.position(node.start)[1] - 1
            lead = self.newline + " " * column
            styles = self._item_styles(node)
            return lead.join("- " + self._item(v, styles) for v in value)
        if isinstance(node, ArrayNode) and isinstance(value, list):
            styles = self._item_styles(node)
            return "[" + ", ".join(self._item(v, styles) for v in value) + "]"
        if isinstance(node, ObjectNode) and isinstance(value, dict) and value and text[:1] != "{":
            # a block mapping stays one (a whole entry: the bridge's), a member a line
            column = self.document.source.position(node.start)[1] - 1
            lead = self.newline + " " * column
            return lead.join(
                f"{render_scalar(str(k), flow=False)}: {render_flow(v)}" for k, v in value.items()
            )
        return render_flow(value)

    @staticmethod
    def _item(value: object, styles: dict[object, str | None]) -> str:
        if isinstance(value, str):
            return render_scalar(value, styles.get(value, styles.get(None)))
        return render_flow(value)

    def _item_styles(self, node: ArrayNode) -> dict[object, str | None]:
        """The quote each string item used, by value (an item kept keeps its quoting, so
        unwrap gives the same text back); under None the quote they all share, if any."""
        styles: dict[object, str | None] = {}
        for item in node.items:
            if isinstance(item, ScalarNode) and isinstance(item.value, str):
                first = self.text[item.start : item.start + 1]
                styles[item.value] = first if first in ("'", '"') else None
        shared = set(styles.values())
        if len(shared) == 1:
            styles[None] = shared.pop()
        return styles

    # -- members --------------------------------------------------------------------
    def _add(self, parent: ObjectNode, key: str, value: object) -> None:
        member = f"{render_scalar(key)}: {render_flow(value)}"
        text = self.text
        if text[parent.start : parent.start + 1] == "{":  # a flow mapping: before its }
            close = parent.end - 1
            self.splices.append((close, close, (", " if parent.members else "") + member))
            return
        if not parent.members:
            from mcpcred.wrap.edit import EditError

            raise EditError("cannot add to an empty YAML block mapping")
        column = self.document.source.position(parent.members[0][0].start)[1] - 1
        self.splices.append((parent.end, parent.end, self.newline + " " * column + member))

    def _remove(self, pointer: Pointer, node: Node) -> None:
        from mcpcred.wrap.edit import EditError, resolve

        parent = resolve(self.document.root, pointer[:-1])
        if not isinstance(parent, ObjectNode):
            raise EditError("only mapping members are removed from YAML")
        keys = [k for k, _ in parent.members]
        index = next(i for i, (k, _) in enumerate(parent.members) if k.name == pointer[-1])
        key = keys[index]
        text = self.text
        if text[parent.start : parent.start + 1] == "{":
            start, end = key.start, node.end
            if index + 1 < len(keys):
                end = keys[index + 1].start
            elif index > 0:
                start = parent.members[index - 1][1].end
            self.splices.append((start, end, ""))
            return
        # the line break before the member up to the end of its (last) line: what _add
        # inserted, so a member wrap added and unwrap removes leaves no trace
        start = self._line_start(key.start)
        end = text.find("\n", node.end)
        end = len(text) if end < 0 else end
        if text[end - 1 : end] == "\r":
            end -= 1
        if start > 0:
            start -= 2 if text[start - 2 : start] == "\r\n" else 1
        elif end < len(text):
            end = text.find("\n", end) + 1  # the first line: take its own line break
        self.splices.append((start, end, ""))

    def _line_start(self, offset: int) -> int:
        return self.text.rfind("\n", 0, offset) + 1


def _settle(text: str, change: Change, path: str | None) -> str:
    """``text`` with the entry ``change`` put back by its exact text holding the planned
    values: a scalar that still reads otherwise (a reference ``--restore-secrets``
    replaces, written plain) is rewritten in its own quoting."""
    from mcpcred.errors import McpcredError
    from mcpcred.parsing.yaml import parse_yaml
    from mcpcred.wrap.edit import resolve

    try:
        node = resolve(parse_yaml(text, path).root, change.pointer)
    except McpcredError:
        return text  # verify reports it
    if node is None or node.to_python() == change.value:
        return text
    fixes: list[tuple[int, int, str]] = []
    _differences(text, node, change.value, False, fixes)
    for start, end, replacement in sorted(fixes, reverse=True):
        text = text[:start] + replacement + text[end:]
    return text


def _differences(
    text: str, node: Node, value: object, flow: bool, out: list[tuple[int, int, str]]
) -> None:
    inner = text[node.start : node.start + 1] in ("[", "{")
    if isinstance(node, ObjectNode) and isinstance(value, dict):
        for key, child in node.members:
            if key.name in value:
                _differences(text, child, value[key.name], inner, out)
    elif isinstance(node, ArrayNode) and isinstance(value, list):
        if len(node.items) == len(value):
            for child, item in zip(node.items, value, strict=True):
                _differences(text, child, item, inner, out)
    elif isinstance(node, ScalarNode) and node.value != value:
        first = text[node.start : node.start + 1]
        quote = first if first in ("'", '"') else None
        out.append((node.start, node.end, render_scalar(value, quote, flow=flow)))
