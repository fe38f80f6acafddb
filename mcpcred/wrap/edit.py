"""Applying planned changes to a file's text without disturbing anything else.

JSON and JSONC are edited through the spans the parser recorded: each change
replaces, inserts or deletes exactly the characters of one value or member, so
comments, key order, indentation, trailing commas, line endings and a BOM stay
byte-for-byte as they were. New text follows the file's own style (its indent
unit, its line ending, one-line or multi-line arrays).

TOML is edited with tomlkit, the style-preserving TOML library (it keeps
comments, whitespace, key order and table layout on round trip, and handles
dotted keys and super-tables); tomli-w can only write a whole document anew.

Every result is parsed again and checked against the plan before it is
written: an edit that does not read back as intended is a bug, and the file is
left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

from mcpcred.errors import McpcredError
from mcpcred.models import Pointer
from mcpcred.parsing.nodes import ArrayNode, Document, Node, ObjectNode
from mcpcred.wrap.plan import Change

_INDENT = re.compile(r"\n([ \t]+)\S")


class EditError(McpcredError):
    """An edit could not be applied or did not read back as planned (a bug)."""


def apply(document: Document, changes: list[Change]) -> str:
    """The document's text with ``changes`` applied (the input is not modified)."""
    if not changes:
        return document.source.text
    if document.format == "toml":
        return _apply_toml(document.source.text, changes)
    if document.format == "yaml":
        from mcpcred.wrap.yaml_edit import YamlEditor

        return YamlEditor(document).apply(changes)
    if document.format == "shell":
        from mcpcred.wrap.shell_edit import ShellEditor

        return ShellEditor(document).apply(changes)
    return _JsonEditor(document).apply(changes)


def verify(text: str, document_format: str, path: str, changes: list[Change]) -> None:
    """Parse ``text`` again and check every set/add landed and every remove is gone."""
    from mcpcred.parsing.jsonc import parse_jsonc
    from mcpcred.parsing.toml import parse_toml

    try:
        if document_format == "yaml":
            from mcpcred.parsing.yaml import parse_yaml

            fresh = parse_yaml(text, path)
        elif document_format == "shell":
            from mcpcred.parsing.shell import parse_crushrc

            fresh = parse_crushrc(text, path)
        else:
            fresh = parse_toml(text, path) if document_format == "toml" else parse_jsonc(text, path)
    except McpcredError as exc:
        raise EditError(f"the rewritten {path} would not parse: {exc.message}") from None
    for change in changes:
        node = _resolve(fresh.root, change.pointer)
        if change.op == "remove":
            ok = node is None
        else:
            ok = node is not None and node.to_python() == change.value
        if not ok:
            where = "/".join(str(p) for p in change.pointer)
            raise EditError(f"the rewritten {path} does not hold the planned value at {where}")


def extent(node: Node) -> tuple[int, int]:
    """Where a value's text starts and ends, everything under it included.

    Beyond ``node.end`` only in TOML, where a table's ``[a.b]`` sub-sections follow
    its own section (usually right after it; a check on the data catches the rest).
    """
    from mcpcred.parsing.nodes import pointer_index

    return node.start, max(n.end for _, n in pointer_index(node).values())


def resolve(root: Node, pointer: Pointer) -> Node | None:
    """The node at ``pointer`` under ``root``, if there is one."""
    return _resolve(root, pointer)


def _resolve(root: Node, pointer: Pointer) -> Node | None:
    node: Node | None = root
    for segment in pointer:
        if isinstance(node, ObjectNode) and isinstance(segment, str):
            node = node.get(segment)
        elif isinstance(node, ArrayNode) and isinstance(segment, int):
            node = node.items[segment] if 0 <= segment < len(node.items) else None
        else:
            return None
    return node


# -- JSON / JSONC ---------------------------------------------------------------------
class _JsonEditor:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.text = document.source.text
        self.newline = "\r\n" if "\r\n" in self.text else "\n"
        found = _INDENT.search(self.text.replace("\r\n", "\n"))
        self.unit = found.group(1) if found else "  "
        if len(self.unit) > 8 or (self.unit.strip(" ") and self.unit.strip("\t")):
            self.unit = "  "
        # (start, end, replacement), applied from the end so offsets stay valid
        self.splices: list[tuple[int, int, str]] = []

    def apply(self, changes: list[Change]) -> str:
        adds: dict[Pointer, list[Change]] = {}
        for change in changes:
            if change.op == "set":
                self._set(change)
            elif change.op == "remove":
                self._remove(change)
            else:
                adds.setdefault(change.pointer[:-1], []).append(change)
        for parent, group in adds.items():
            self._add(parent, group)
        out = self.text
        for start, end, replacement in sorted(
            self.splices, key=lambda s: (s[0], s[1]), reverse=True
        ):
            out = out[:start] + replacement + out[end:]
        return out

    def _node(self, pointer: Pointer) -> Node:
        node = _resolve(self.document.root, pointer)
        if node is None:
            raise EditError(f"nothing at {'/'.join(map(str, pointer))} to edit")
        return node

    def _line_indent(self, offset: int) -> str:
        line_start = self.text.rfind("\n", 0, offset) + 1
        prefix = self.text[line_start:offset]
        return prefix if not prefix.strip() else re.match(r"[ \t]*", prefix).group(0)  # type: ignore[union-attr]

    def _multiline(self, node: Node) -> bool:
        return "\n" in self.text[node.start : node.end]

    def _set(self, change: Change) -> None:
        node = self._node(change.pointer)
        if change.text is not None and _reads_as(change.text, change.value):
            self.splices.append((node.start, node.end, change.text))
            return
        indent = self._line_indent(node.start)
        item_indent = None
        if isinstance(node, ArrayNode | ObjectNode) and self._multiline(node):
            first = node.items[0] if isinstance(node, ArrayNode) and node.items else None
            item_indent = self._line_indent(first.start) if first else indent + self.unit
        inline = not self._multiline(node)
        rendered = self._render(change.value, indent, item_indent, inline=inline)
        self.splices.append((node.start, node.end, rendered))

    def _remove(self, change: Change) -> None:
        parent = self._node(change.pointer[:-1])
        if not isinstance(parent, ObjectNode):
            raise EditError("can only remove object members")
        members = parent.members
        index = next((i for i, (k, _) in enumerate(members) if k.name == change.pointer[-1]), None)
        if index is None:
            return
        key, value = members[index]
        if index + 1 < len(members):
            self.splices.append((key.start, members[index + 1][0].start, ""))
        elif index > 0:
            self.splices.append((members[index - 1][1].end, value.end, ""))
        else:
            self.splices.append((parent.start + 1, parent.end - 1, ""))

    def _add(self, parent_pointer: Pointer, changes: list[Change]) -> None:
        parent = self._node(parent_pointer)
        if not isinstance(parent, ObjectNode):
            raise EditError("can only add members to an object")
        if parent.members:
            last_key, last_value = parent.members[-1]
            indent = self._line_indent(last_key.start)
            multiline = self._multiline(parent)
            rendered = "".join(
                ("," + self.newline + indent if multiline else ", ")
                + self._member(c.pointer[-1], c.value, indent)
                for c in changes
            )
            self.splices.append((last_value.end, last_value.end, rendered))
            return
        outer = self._line_indent(parent.start)
        indent = outer + self.unit
        body = ("," + self.newline + indent).join(
            self._member(c.pointer[-1], c.value, indent) for c in changes
        )
        text = "{" + self.newline + indent + body + self.newline + outer + "}"
        self.splices.append((parent.start, parent.end, text))

    def _member(self, key: str | int, value: object, indent: str) -> str:
        return json.dumps(str(key), ensure_ascii=False) + ": " + self._render(value, indent, None)

    def _render(
        self, value: object, indent: str, item_indent: str | None, *, inline: bool = False
    ) -> str:
        """JSON text for a value: arrays multi-line with ``item_indent``, objects unless inline."""
        if isinstance(value, dict):
            if not value:
                return "{}"
            if inline:
                return (
                    "{"
                    + ", ".join(
                        json.dumps(str(k), ensure_ascii=False)
                        + ": "
                        + self._render(v, indent, None)
                        for k, v in value.items()
                    )
                    + "}"
                )
            inner = indent + self.unit
            members = ("," + self.newline + inner).join(
                json.dumps(str(k), ensure_ascii=False) + ": " + self._render(v, inner, None)
                for k, v in value.items()
            )
            return "{" + self.newline + inner + members + self.newline + indent + "}"
        if isinstance(value, list):
            items = [self._render(v, indent, None) for v in value]
            if item_indent is None or not items:
                return "[" + ", ".join(items) + "]"
            joined = ("," + self.newline + item_indent).join(items)
            return "[" + self.newline + item_indent + joined + self.newline + indent + "]"
        return json.dumps(value, ensure_ascii=False)


def _reads_as(text: str, value: object) -> bool:
    """Whether a JSON text (one value, as the file held it) parses to ``value``."""
    from mcpcred.parsing.jsonc import parse_jsonc

    if not text.lstrip().startswith("{"):
        return False
    try:
        return parse_jsonc(text, "").root.to_python() == value
    except McpcredError:
        return False


# -- TOML ---------------------------------------------------------------------------
def _inline(value: Any) -> Any:
    """Nested objects as inline tables: a table set inside a ``[section]`` must not grow
    sections of its own (unwrap puts the section's exact text back over it)."""
    import tomlkit

    if isinstance(value, dict):
        table = tomlkit.inline_table()
        for name, item in value.items():
            table[name] = _inline(item)
        return table
    if isinstance(value, list):
        return [_inline(item) for item in value]
    return value


def _toml_put(holder: Any, key: str | int, value: Any, existing: Any) -> None:
    """Set ``holder[key]`` in the layout the file already uses there.

    A ``[section]`` stays a section (its members are set one by one, recursively,
    so a ``[a.headers]`` sub-section survives too); a multi-line array stays
    multi-line; new objects are inline tables.
    """
    import tomlkit
    from tomlkit.items import Array, Table

    if isinstance(value, list):
        array = tomlkit.array()
        array.extend(_inline(value))
        if isinstance(existing, Array) and "\n" in existing.as_string():
            array.multiline(True)
        holder[key] = array
        return
    if isinstance(value, dict) and isinstance(existing, Table) and not existing.is_super_table():
        for name in list(existing.keys()):
            if name not in value:
                del existing[name]
        for name, item in value.items():
            _toml_put(existing, name, item, existing.get(name))  # a Table: never an index
        return
    holder[key] = _inline(value)


def _toml_texts(out: str, changes: list[Change]) -> str:
    """Each whole-entry ``text`` put back in place of tomlkit's rendering, when the file
    still reads the same with it (the data check makes any layout surprise harmless)."""
    from mcpcred.parsing.toml import parse_toml

    for change in changes:
        if change.op != "set" or change.text is None:
            continue
        try:
            document = parse_toml(out, "")
            node = _resolve(document.root, change.pointer)
            if node is None:
                continue
            start, end = extent(node)
            candidate = out[:start] + change.text + out[end:]
            if parse_toml(candidate, "").root.to_python() == document.root.to_python():
                out = candidate
        except McpcredError:
            continue
    return out


def _apply_toml(text: str, changes: list[Change]) -> str:
    import tomlkit

    crlf = "\r\n" in text
    doc: Any = tomlkit.parse(text)
    for change in changes:
        holder: Any = doc
        for segment in change.pointer[:-1]:
            holder = holder[segment]
        key = change.pointer[-1]
        if change.op == "remove":
            del holder[key]
            continue
        existing = None
        if change.op == "set":
            try:
                existing = holder[key]
            except (KeyError, IndexError, TypeError):
                existing = None
        _toml_put(holder, key, change.value, existing)
    out = tomlkit.dumps(doc)
    if crlf:
        out = re.sub(r"(?<!\r)\n", "\r\n", out)
    if any(change.op == "remove" for change in changes):
        out = _same_ending(text, out)
    return _toml_texts(out, changes)


def _same_ending(before: str, after: str) -> str:
    """``after`` ending in no more line breaks than ``before`` did.

    tomlkit keeps the blank line in front of a removed ``[a.b]`` section with the table
    before it: removed at the end of the file, it is left as a blank last line, which
    unwrap (writing the entry's own text back) would keep, one byte off the original.
    """
    kept = len(before) - len(before.rstrip("\r\n"))
    body = after.rstrip("\r\n")
    if len(after) - len(body) > kept:
        return body + before[len(before) - kept :]
    return after
