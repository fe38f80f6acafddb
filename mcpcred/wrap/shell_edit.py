"""Applying planned changes to a crushrc (a Bash script) word by word.

The plan speaks of the object Crush builds from an ``mcp add`` command (set
``command``, set ``args``, add ``env.TOKEN``...). Here each change becomes an
edit of that command's words and nothing else: a value is one word replaced in
place (keeping its quotes: ``"..."`` stays double-quoted, bare stays bare where
that is safe), a list or an object is its flags (``--args``, ``--env K V``)
removed and written again, a new flag goes at the end of the command (the
shim's ``--args`` right after ``--command``, since Crush appends them in
order). Line continuations, comments, other commands and the rest of the
script stay byte for byte. The result is read again and checked against the
plan before anything is written (``edit.verify``).
"""

from __future__ import annotations

from mcpcred.errors import McpcredError
from mcpcred.parsing.nodes import Document, Node, ObjectNode
from mcpcred.parsing.shell import FLAG_OF, MCP_FLAGS, ShellEntry, ShellWord, parse_crushrc, quote
from mcpcred.wrap.plan import Change


class ShellEditor:
    """Edits one parsed crushrc; ``apply`` returns the new text."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.text = document.source.text
        self.splices: list[tuple[int, int, str]] = []

    def apply(self, changes: list[Change]) -> str:
        from mcpcred.wrap.edit import EditError

        for change in changes:
            if not self._word(change):
                self._entry_change(change, EditError)
        out = self.text
        for start, end, replacement in sorted(
            self.splices, key=lambda s: (s[0], s[1]), reverse=True
        ):
            out = out[:start] + replacement + out[end:]
        return out

    # -- one word ---------------------------------------------------------------------
    def _word(self, change: Change) -> bool:
        """A ``set`` of a value that is one word: replaced where it stands."""
        from mcpcred.wrap.edit import resolve

        node = resolve(self.document.root, change.pointer)
        if change.op != "set" or not isinstance(node, ShellWord):
            return False
        if isinstance(change.value, bool):
            text = "true" if change.value else "false"
        elif isinstance(change.value, int | str):
            text = quote(str(change.value), node.quote)
        else:
            return False
        self.splices.append((node.start, node.end, text))
        return True

    # -- flags of an ``mcp add`` ------------------------------------------------------
    def _entry_change(self, change: Change, error: type[McpcredError]) -> None:
        pointer = change.pointer
        servers = self.document.root.get("mcp")
        entry = servers.get(str(pointer[1])) if isinstance(servers, ObjectNode) else None
        if len(pointer) < 2 or pointer[0] != "mcp" or not isinstance(entry, ShellEntry):
            raise error(f"nothing at {'/'.join(map(str, pointer))} to edit in a crushrc")
        rest = pointer[2:]
        if not rest:
            if change.op != "set" or not isinstance(change.value, dict):
                raise error("a crushrc server can only be replaced whole by another")
            self.splices.append((entry.start, entry.end, self._whole(entry, change)))
            return
        key = str(rest[0])
        flag = FLAG_OF.get(key)
        if flag is None:
            raise error(f"Crush's `mcp add` has no option for '{key}'")
        how = MCP_FLAGS[flag][1]
        if len(rest) == 2 and how == "child":
            self._child(entry, flag, str(rest[1]), change, error)
            return
        if len(rest) != 1:
            raise error(f"cannot edit {'/'.join(map(str, pointer))} in a crushrc")
        groups = [(f, v) for f, v in entry.flags if f.value == flag]
        if key == "args" and change.op != "remove" and self._args(entry, groups, change.value):
            return
        for group in groups:
            self._remove(entry, group)
        if change.op == "remove":
            return
        rendered = _flags(key, change.value, error)
        if key == "args":
            command = next((v[0] for f, v in entry.flags if f.value == "--command"), None)
            at = command.end if command is not None else entry.end
        else:
            at = entry.end
        self.splices.append((at, at, rendered))

    def _args(
        self, entry: ShellEntry, groups: list[tuple[ShellWord, list[ShellWord]]], value: object
    ) -> bool:
        """New arguments that only add to the front of the old ones, or only take some away
        from the front (wrap's shim and unwrap): those ``--args`` alone are written or
        removed, so the others keep their place, their quotes and their line breaks."""
        if not groups or not isinstance(value, list):
            return False
        old = [v[0].value for _, v in groups]
        new = [str(item) for item in value]
        if len(new) > len(old):
            added = new[: len(new) - len(old)]
            at = groups[0][0].start
            text = "".join(f"--args {quote(item)} " for item in added)
            self.splices.append((at, at, text))
            # an old argument that now holds a reference (``--token={{mcpcred:...}}``)
            for (_flag, (word,)), item in zip(groups, new[len(added) :], strict=True):
                if word.value != item:
                    self.splices.append((word.start, word.end, quote(item, word.quote)))
            return True
        if len(new) < len(old) and (not new or old[len(old) - len(new) :] == new):
            if not new:
                return False
            cut = len(old) - len(new)
            start, end = groups[0][0].start, groups[cut][0].start
            mine = {w.start for f, v in groups[:cut] for w in (f, *v)}
            words = entry.command.words if entry.command is not None else []
            if any(start <= w.start < end and w.start not in mine for w in words):
                return False  # another option sits among them: write the arguments anew
            self.splices.append((start, end, ""))
            return True
        return new == old

    def _child(
        self, entry: ShellEntry, flag: str, name: str, change: Change, error: type[McpcredError]
    ) -> None:
        groups = [(f, v) for f, v in entry.flags if f.value == flag and v[0].value == name]
        if change.op == "remove":
            for group in groups:
                self._remove(entry, group)
            return
        if groups and change.op == "set":
            raise error(f"cannot set {flag} {name} to a value that is not a string")
        if not isinstance(change.value, str):
            raise error(f"{flag} {name} must be a string")
        same = [v for f, v in entry.flags if f.value == flag]
        at = same[-1][-1].end if same else entry.end
        self.splices.append((at, at, f" {flag} {quote(name)} {quote(change.value)}"))

    def _remove(self, entry: ShellEntry, group: tuple[ShellWord, list[ShellWord]]) -> None:
        """One flag and its values, with the blank (or line continuation) before it."""
        words = entry.command.words if entry.command is not None else []
        flag, values = group
        index = next(i for i, w in enumerate(words) if w is flag or w.start == flag.start)
        self.splices.append((words[index - 1].end, values[-1].end, ""))

    def _whole(self, entry: ShellEntry, change: Change) -> str:
        """A whole ``mcp add`` command: the text unwrap kept, or one rendered from the value."""
        from mcpcred.wrap.edit import EditError

        if change.text is not None:
            candidate = self.text[: entry.start] + change.text + self.text[entry.end :]
            try:
                fresh = parse_crushrc(candidate, self.document.source.path)
                node = fresh.root.get("mcp")
                node = node.get(str(change.pointer[1])) if isinstance(node, ObjectNode) else None
                if node is not None and node.to_python() == change.value:
                    return change.text
            except McpcredError:
                pass
        name = str(change.pointer[1])
        value = change.value if isinstance(change.value, dict) else {}
        return (
            "mcp add "
            + quote(name)
            + "".join(_flags(str(k), v, EditError) for k, v in value.items())
        )


def _flags(key: str, value: object, error: type[McpcredError]) -> str:
    """`` --flag value`` text for one key of a Crush server object."""
    flag = FLAG_OF.get(key)
    if flag is None:
        raise error(f"Crush's `mcp add` has no option for '{key}'")
    how = MCP_FLAGS[flag][1]
    if how == "append" and isinstance(value, list):
        return "".join(f" {flag} {quote(str(item))}" for item in value)
    if how == "child" and isinstance(value, dict):
        return "".join(f" {flag} {quote(str(k))} {quote(str(v))}" for k, v in value.items())
    if isinstance(value, bool):
        return f" {flag} {'true' if value else 'false'}"
    if isinstance(value, int | str) and how not in ("append", "child"):
        return f" {flag} {quote(str(value))}"
    raise error(f"cannot write {key} = {value!r} as a Crush `mcp add` option")


def reads_as(node: Node | None, value: object) -> bool:
    """Whether a node of a re-read crushrc holds ``value``."""
    return node is not None and node.to_python() == value
