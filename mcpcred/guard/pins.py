"""Tool pins: the tool definitions a server offered first, and what changed since.

A server's first ``tools/list`` answer is pinned: one file per server,
``<data>/pins/<server>.json``, holding each tool's definition and its hash.
Later listings are compared with the pins. A changed, added or removed tool
is *drift*; it is recorded in the same file as ``pending`` (so ``mcpcred pins
diff`` and ``pins accept`` work while the server is not running) until the
user accepts it, or until the server offers the pinned definitions again.

What is pinned: ``name``, ``description`` and ``inputSchema``, the parts of a
tool the model reads to decide what to call and how. ``title``,
``annotations`` and ``outputSchema`` are not: they change with SDK upgrades
(and clients treat annotations as untrusted hints anyway), so pinning them
would report drift nobody can judge.

The shim imports this module on every guarded server start, so it uses the
standard library only (plain classes, no dataclasses or pathlib). Files are
replaced atomically (0600, in a 0700 folder): concurrent shims of one server
may race, the last writer wins, and no reader ever sees a torn file. A file
that cannot be read or parsed is a ``ConfigError`` naming it, never quoting it.

    {"version": 1, "server": "github", "pinned_at": "2025-06-01T12:00:00Z",
     "tools": {"search": {"hash": "...", "definition": {...}, "pinned_at": "..."}},
     "pending": {"search": {"hash": "..." | null, "definition": {...} | null,
                            "seen_at": "...", "change": "added" | "changed" | "removed"}}}
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence

from mcpcred.errors import ConfigError, UsageError
from mcpcred.fsutil import atomic_write
from mcpcred.paths import DATA_DIR_VAR

VERSION = 1
FIELDS = ("name", "description", "inputSchema")
CHANGES = ("added", "changed", "removed")
SUFFIX = ".json"
# Lower case only: on a case-insensitive file system (macOS, Windows) "GitHub"
# and "github" must not share a file, so upper-case letters are escaped too.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_STEM = 120
_MAX_FILE = 64 * 1024 * 1024
MAX_DEPTH = 100
DEEP_NOTE = f"nested deeper than {MAX_DEPTH} levels: not stored by mcpcred"


def definition(tool: Mapping[str, object]) -> dict[str, object]:
    """The pinned part of a tool: ``name``, ``description``, ``inputSchema`` (missing: None).

    A schema nested deeper than ``MAX_DEPTH`` levels is replaced by a note: the
    JSON encoder would run out of stack on it (its hash still covers it all).
    """
    shape = {key: tool.get(key) for key in FIELDS}
    if _too_deep(shape):
        shape["inputSchema"] = {"$comment": DEEP_NOTE}
    return shape


def tool_hash(tool: Mapping[str, object]) -> str:
    """SHA-256 (hex) of the canonical JSON of the tool's ``name``, ``description``, ``inputSchema``.

    Canonical: sorted keys, no whitespace, UTF-8 as is; so the order of keys in
    an ``inputSchema`` does not matter, and any change of the name, the
    description or the schema does. Other fields (``title``, ``annotations``,
    ``outputSchema``...) are not part of the hash. A schema nested deeper than
    ``MAX_DEPTH`` is hashed from an equally canonical token stream instead,
    built without recursion.
    """
    shape = {key: tool.get(key) for key in FIELDS}
    if _too_deep(shape):
        text = "deep\x1f" + "\x1f".join(_tokens(shape))
    else:
        text = json.dumps(
            shape, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
        )
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _too_deep(value: object, limit: int | None = None) -> bool:
    """Whether containers nest deeper than ``limit`` (iterative: safe on any depth)."""
    limit = MAX_DEPTH if limit is None else limit
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def _tokens(value: object) -> list[str]:
    """A canonical flat rendering of JSON data (sorted keys), built without recursion."""
    out: list[str] = []
    stack: list[object] = [value]
    close = object()
    closers: dict[int, str] = {}
    while stack:
        item = stack.pop()
        if item is close:
            out.append(closers.pop(len(stack)))
        elif isinstance(item, dict):
            out.append("{")
            closers[len(stack)] = "}"
            stack.append(close)
            for key in sorted(item, key=str, reverse=True):
                stack.append(item[key])
                stack.append(_Key(str(key)))
        elif isinstance(item, list):
            out.append("[")
            closers[len(stack)] = "]"
            stack.append(close)
            stack.extend(reversed(item))
        elif isinstance(item, _Key):
            out.append("k" + json.dumps(item.text, ensure_ascii=False))
        else:
            out.append(json.dumps(item, ensure_ascii=False, default=str))
    return out


class _Key:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def default_folder(env: Mapping[str, str] | None = None) -> str:
    """``<data folder>/pins``, computed without creating anything.

    ``PinStore`` creates it (0700) on its first write, so reading commands and
    ``audit-config`` never leave folders behind.
    """
    environ = os.environ if env is None else env
    base = environ.get(DATA_DIR_VAR)
    if not base:
        import platformdirs

        base = platformdirs.user_data_dir("mcpcred", appauthor=False)
    return os.path.join(base, "pins")


def file_stem(server: str) -> str:
    """A file name for ``server``: ``[a-z0-9._-]`` kept, everything else ``%XX``-escaped.

    A leading dot is escaped too (no hidden files, no ``..``); names whose
    escaped form is too long end in ``~`` and a hash of the name.
    """
    if not server:
        raise UsageError("a server name cannot be empty")
    out = []
    for index, char in enumerate(server):
        if char in _SAFE and not (index == 0 and char == "."):
            out.append(char)
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
    stem = "".join(out)
    if len(stem) > _MAX_STEM:
        cut = stem[:80]
        cut = cut[: cut.rfind("%")] if "%" in cut[-2:] else cut
        stem = cut + "~" + hashlib.sha256(server.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return stem


def server_of(stem: str) -> str | None:
    """The server name a ``file_stem`` came from; None when it is not reversible."""
    if "~" in stem:
        return None
    data = bytearray()
    index = 0
    while index < len(stem):
        char = stem[index]
        if char == "%":
            try:
                data.append(int(stem[index + 1 : index + 3], 16))
            except ValueError:
                return None
            index += 3
        elif char in _SAFE:
            data.extend(char.encode())
            index += 1
        else:
            return None
    try:
        name = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return name if name and file_stem(name) == stem else None


class Drift:
    """Tools that differ from their pins: ``added``, ``changed``, ``removed`` (sorted names).

    ``created`` is true when this observation created the pins. A drift is
    true when any list is non-empty.
    """

    __slots__ = ("added", "changed", "created", "removed")

    def __init__(
        self,
        added: list[str] | None = None,
        changed: list[str] | None = None,
        removed: list[str] | None = None,
        *,
        created: bool = False,
    ) -> None:
        self.added = sorted(added or [])
        self.changed = sorted(changed or [])
        self.removed = sorted(removed or [])
        self.created = created

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Drift):
            return NotImplemented
        return (self.added, self.changed, self.removed, self.created) == (
            other.added,
            other.changed,
            other.removed,
            other.created,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Drift(added={self.added!r}, changed={self.changed!r}, removed={self.removed!r}, "
            f"created={self.created!r})"
        )

    def counts(self) -> dict[str, int]:
        """How many tools of each kind of change."""
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
        }


Document = dict[str, object]


class PinStore:
    """The pin files of every server, in one folder."""

    __slots__ = ("_clock", "folder")

    def __init__(self, folder: str, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self._clock = clock

    # -- files -------------------------------------------------------------------
    def path(self, server: str) -> str:
        """The pin file of ``server`` (always directly inside ``folder``)."""
        return os.path.join(self.folder, file_stem(server) + SUFFIX)

    def servers(self) -> list[str]:
        """Servers that have a pin file, sorted; none when the folder does not exist."""
        try:
            names = os.listdir(self.folder)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise ConfigError(
                f"cannot read the pins folder {self.folder}: {exc.strerror}"
            ) from None
        found = set()
        for name in names:
            if not name.endswith(SUFFIX) or name.startswith("."):
                continue
            server = server_of(name[: -len(SUFFIX)])
            if server is None and "~" in name:
                try:
                    document = self._read_file(os.path.join(self.folder, name), None)
                except ConfigError:
                    continue
                if document is not None:
                    server = str(document["server"])
            if server is not None:
                found.add(server)
        return sorted(found)

    def load(self, server: str) -> Document | None:
        """The parsed pin file of ``server``; None when it has none."""
        return self._read_file(self.path(server), server)

    def forget(self, server: str) -> bool:
        """Delete the pins of ``server`` (pinned again at its next start); false if none."""
        try:
            os.unlink(self.path(server))
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ConfigError(f"cannot remove {self.path(server)}: {exc.strerror}") from None
        return True

    # -- observing ---------------------------------------------------------------
    def observe(
        self,
        server: str,
        tools: Sequence[Mapping[str, object]],
        *,
        complete: bool,
        adopt_new: bool = False,
    ) -> Drift:
        """Compare one ``tools/list`` answer (or page) with the pins; record the drift.

        No pins yet: every tool is pinned, ``Drift(created=True)``. Otherwise a
        tool with another hash is ``changed``, an unknown name ``added`` (or,
        with ``adopt_new``, pinned silently: for later pages of the very first
        listing), and with ``complete`` (the listing holds every tool: a single
        page, or all pages gathered) pinned names not listed are ``removed``.
        A name listed twice with different definitions counts as changed. The
        file is written only when something in it changes.
        """
        now = self._now()
        listed: dict[str, tuple[str, dict[str, object]]] = {}
        doubled: dict[str, tuple[str, dict[str, object]]] = {}
        for tool in tools:
            name = tool.get("name")
            if not isinstance(name, str):
                continue
            digest = tool_hash(tool)
            if name not in listed:
                listed[name] = (digest, definition(tool))
            elif listed[name][0] != digest and name not in doubled:
                doubled[name] = (digest, definition(tool))
        document = self.load(server)
        if document is None:
            created: dict[str, object] = {
                name: {"hash": digest, "definition": shape, "pinned_at": now}
                for name, (digest, shape) in listed.items()
            }
            doubts: dict[str, object] = {
                name: _pending(digest, shape, now, "changed")
                for name, (digest, shape) in doubled.items()
            }
            self._write(
                server,
                {
                    "version": VERSION,
                    "server": server,
                    "pinned_at": now,
                    "tools": created,
                    "pending": doubts,
                },
            )
            return Drift(changed=list(doubled), created=True)
        pins = _dict(document["tools"])
        pending = _dict(document["pending"])
        added: list[str] = []
        changed: list[str] = []
        removed: list[str] = []
        dirty = False
        for name, (digest, shape) in listed.items():
            pin = pins.get(name)
            pinned = pin.get("hash") if isinstance(pin, dict) else None
            if name in doubled:
                if digest == pinned:  # record the definition that differs from the pin
                    digest, shape = doubled[name]
            elif digest == pinned:
                if name in pending:
                    del pending[name]
                    dirty = True
                continue
            if pin is None and adopt_new and name not in pending:
                pins[name] = {"hash": digest, "definition": shape, "pinned_at": now}
                dirty = True
                continue
            change = "added" if pin is None else "changed"
            (added if pin is None else changed).append(name)
            seen = pending.get(name)
            if not (
                isinstance(seen, dict)
                and seen.get("hash") == digest
                and seen.get("change") == change
            ):
                pending[name] = _pending(digest, shape, now, change)
                dirty = True
        if complete:
            for name in pins:
                if name in listed:
                    continue
                removed.append(name)
                seen = pending.get(name)
                if not (isinstance(seen, dict) and seen.get("change") == "removed"):
                    pending[name] = _pending(None, None, now, "removed")
                    dirty = True
            for name in list(pending):
                if name not in listed and name not in pins:
                    del pending[name]  # added, then gone again
                    dirty = True
        if dirty:
            self._write(server, document)
        return Drift(added, changed, removed)

    def accept(self, server: str, names: list[str] | None = None) -> Drift:
        """Make pending changes (all, or those of ``names``) the new pins; returns them.

        Removed tools are dropped from the pins. ``UsageError`` for a server
        without pins or a name with no pending change.
        """
        document = self.load(server)
        if document is None:
            raise UsageError(f"no pinned tools for server '{server}'", hint=self.known_hint())
        pins = _dict(document["tools"])
        pending = _dict(document["pending"])
        chosen = sorted(pending) if names is None else list(dict.fromkeys(names))
        unknown = [name for name in chosen if name not in pending]
        if unknown:
            listed = ", ".join(f"'{n}'" for n in unknown)
            hint = (
                "pending: " + ", ".join(sorted(pending))
                if pending
                else f"nothing is pending for server '{server}'"
            )
            raise UsageError(f"no pending change for {listed} of server '{server}'", hint=hint)
        now = self._now()
        accepted: dict[str, list[str]] = {change: [] for change in CHANGES}
        for name in chosen:
            entry = _dict(pending.pop(name))
            change = str(entry.get("change"))
            accepted[change if change in accepted else "changed"].append(name)
            if change == "removed":
                pins.pop(name, None)
            else:
                pins[name] = {
                    "hash": entry.get("hash"),
                    "definition": entry.get("definition"),
                    "pinned_at": now,
                }
        if chosen:
            self._write(server, document)
        return Drift(accepted["added"], accepted["changed"], accepted["removed"])

    def known_hint(self) -> str:
        """A hint naming the servers that have pins."""
        known = self.servers()
        if not known:
            return "no server has pinned tools yet; guard mode pins them at a server's first start"
        return "servers with pins: " + ", ".join(known)

    # -- internals ---------------------------------------------------------------
    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _write(self, server: str, document: Document) -> None:
        _private_folder(self.folder)
        # ASCII: a lone surrogate from a server cannot break the write, and hidden
        # characters stay visible to anyone who opens the file.
        text = json.dumps(document, indent=2, sort_keys=True, default=str)
        try:
            atomic_write(self.path(server), text + "\n")
        except OSError as exc:
            raise ConfigError(
                f"cannot write pin file {self.path(server)}: {exc.strerror}"
            ) from None

    def _read_file(self, path: str, server: str | None) -> Document | None:
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_FILE + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read pin file {path}: {exc.strerror}") from None
        hint = (
            f"remove it to pin the server's tools again: mcpcred pins forget {server}"
            if server is not None
            else f"remove {path}"
        )
        if len(data) > _MAX_FILE:
            raise ConfigError(f"pin file {path} is larger than 64 MiB", hint=hint)
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ConfigError(f"pin file {path} is not valid JSON", hint=hint) from None
        problem = _problem(document, server)
        if problem:
            raise ConfigError(f"pin file {path} {problem}", hint=hint)
        return _dict(document)


def diff_lines(old: Mapping[str, object] | None, new: Mapping[str, object] | None) -> list[str]:
    """A unified diff of two tool definitions as pretty JSON (``None``: no definition).

    Hidden and control characters are shown escaped (``\\u200b``), so the
    diff shows what the model would read, not what a terminal would render.
    """
    import difflib

    from mcpcred.guard.hidden import safe_text

    def lines(value: Mapping[str, object] | None) -> list[str]:
        if value is None:
            return []
        text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)
        return [safe_text(line, 1 << 30) for line in text.splitlines()]

    return list(
        difflib.unified_diff(lines(old), lines(new), "pinned", "offered now", lineterm="", n=3)
    )


def _pending(
    digest: str | None, shape: dict[str, object] | None, now: str, change: str
) -> dict[str, object]:
    return {"hash": digest, "definition": shape, "seen_at": now, "change": change}


def _dict(value: object) -> dict[str, object]:
    return value if isinstance(value, dict) else {}


def _problem(document: object, server: str | None) -> str | None:
    """What is wrong with a parsed pin file, or None (never quotes its content)."""
    if not isinstance(document, dict):
        return "is not a pin file (not a JSON object)"
    version = document.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        return f"was written by a newer mcpcred (format version {version})"
    if version != VERSION:
        return f"is not a version {VERSION} pin file"
    if not isinstance(document.get("server"), str):
        return "has no server name"
    if server is not None and document["server"] != server:
        return "belongs to another server"
    tools = document.get("tools")
    pending = document.get("pending")
    if not isinstance(tools, dict) or not isinstance(pending, dict):
        return "is malformed (tools and pending must be objects)"
    for entry in tools.values():
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str):
            return "is malformed (a pinned tool has no hash)"
    for entry in pending.values():
        if not isinstance(entry, dict) or entry.get("change") not in CHANGES:
            return "is malformed (a pending change has no kind)"
        if entry["change"] != "removed" and not isinstance(entry.get("hash"), str):
            return "is malformed (a pending change has no hash)"
    return None


def _private_folder(path: str) -> None:
    """Create ``path`` and missing parents with mode 0700 (no pathlib: the shim calls this)."""
    if os.path.isdir(path):
        return
    missing = []
    current = os.path.abspath(path)
    while not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise ConfigError(f"cannot create the pins folder {folder}: {exc.strerror}") from None
