"""Tool pins: the tool definitions a server offered first, and what changed since.

A server's first ``tools/list`` answer to a client is pinned: one file per
server *and client*, ``<data>/pins/<server>.d/<client key>.json`` (see
``client_key``), holding each tool's definition and its hash. Later listings
are compared with the pins. A changed, added or removed tool is *drift*; it
is recorded in the same file as ``pending`` (so ``mcpcred pins diff`` and
``pins accept`` work while the server is not running) until the user accepts
it, or until the server offers the pinned definitions again. Pins are per
client because servers offer different tools to clients with different
capabilities; one shared file flipped between them.

What is pinned: ``name``, ``description`` and ``inputSchema``, the parts of a
tool the model reads to decide what to call and how. ``title``,
``annotations`` and ``outputSchema`` are not: they change with SDK upgrades
(and clients treat annotations as untrusted hints anyway), so pinning them
would report drift nobody can judge. What one file stores is bounded
(``MAX_TOOLS``, ``MAX_DEFINITION``, ``MAX_STORED``, ``MAX_CLIENTS`` files per
server): tools beyond that are reported as ``unpinned``, never stored.

The shim imports this module on every guarded server start, so it uses the
standard library only (plain classes, no dataclasses or pathlib). Files are
replaced atomically (0600, in 0700 folders): concurrent shims of one client
may race, the last writer wins, and no reader ever sees a torn file. A file
that cannot be read or parsed is a ``ConfigError`` naming it, never quoting it.

    {"version": 2, "server": "github", "client": "claude-code.1f0e3dad",
     "client_name": "claude-code", "capabilities": ["roots"],
     "pinned_at": "2025-06-01T12:00:00Z",
     "tools": {"search": {"hash": "...", "definition": {...}, "pinned_at": "..."}},
     "pending": {"search": {"hash": "..." | null, "definition": {...} | null,
                            "seen_at": "...", "change": "added" | "changed" | "removed"}}}

Version 1 files (``<data>/pins/<server>.json``, the same without the client
fields) are read, never written: see ``PinStore``.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from mcpcred.errors import ConfigError, UsageError
from mcpcred.fsutil import atomic_write
from mcpcred.paths import DATA_DIR_VAR

VERSION = 2  # per client; version 1 files (one per server) are still read
LEGACY_VERSION = 1
FIELDS = ("name", "description", "inputSchema")
CHANGES = ("added", "changed", "removed")
SUFFIX = ".json"
FOLDER_SUFFIX = ".d"  # a server's folder of per-client files: never mistaken for a pin file
# Lower case only: on a case-insensitive file system (macOS, Windows) "GitHub"
# and "github" must not share a file, so upper-case letters are escaped too.
_SAFE = frozenset("abcdefghijklmnopqrstuvwxyz0123456789._-")
_MAX_STEM = 120
_MAX_FILE = 64 * 1024 * 1024
MAX_DEPTH = 100
# Bounds on what one client's pin file stores: a server decides how many tools it
# offers and how large they are, so without them it decides how much mcpcred writes.
MAX_TOOLS = 1000  # pinned and pending entries
MAX_DEFINITION = 128 * 1024  # bytes of one definition, as stored
MAX_STORED = 4 * 1024 * 1024  # bytes of all definitions in one file
MAX_CLIENTS = 16  # client pin files per server
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

    ``unpinned``: tools that could not be stored (beyond ``limits_note``), so
    they cannot be checked. ``created`` is true when this observation created
    the pins. A drift is true when any list is non-empty.
    """

    __slots__ = ("added", "changed", "created", "removed", "unpinned")

    def __init__(
        self,
        added: list[str] | None = None,
        changed: list[str] | None = None,
        removed: list[str] | None = None,
        *,
        unpinned: list[str] | None = None,
        created: bool = False,
    ) -> None:
        self.added = sorted(added or [])
        self.changed = sorted(changed or [])
        self.removed = sorted(removed or [])
        self.unpinned = sorted(unpinned or [])
        self.created = created

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.unpinned)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Drift):
            return NotImplemented
        return (self.added, self.changed, self.removed, self.unpinned, self.created) == (
            other.added,
            other.changed,
            other.removed,
            other.unpinned,
            other.created,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Drift(added={self.added!r}, changed={self.changed!r}, removed={self.removed!r}, "
            f"unpinned={self.unpinned!r}, created={self.created!r})"
        )

    def counts(self) -> dict[str, int]:
        """How many tools of each kind of change."""
        return {
            "added": len(self.added),
            "changed": len(self.changed),
            "removed": len(self.removed),
        }


Document = dict[str, object]
LEGACY = None  # ``client`` of the single pin file per server written before pins were per client


def client_key(client: str | None, client_name: str | None, capabilities: object) -> str:
    """The key one client's pins are kept under: ``<client>.<8 hex digits>``.

    ``client`` is the shim's ``--client`` (the config the entry was wrapped
    in), else the ``clientInfo.name`` sent in ``initialize``, else
    ``unknown``; the digits hash the sorted *names* of the capabilities the
    client declared (``roots``, ``sampling``, ``elicitation``...). Servers
    offer tools by capability (server-everything adds some for clients with
    roots, sampling or elicitation), so two clients that differ there must not
    share pins, or each would see the other's tools as drift. One client keeps
    one key from session to session; only names count, not their settings, so
    a client update that flips a sub-flag does not start its pins afresh.
    """
    ident = (client or client_name or "unknown")[:60]
    names = sorted(str(key) for key in capabilities) if isinstance(capabilities, dict) else []
    digest = hashlib.sha256("\n".join(names).encode("utf-8", "surrogatepass")).hexdigest()
    return f"{ident}.{digest[:8]}"


def client_matches(key: str | None, wanted: str | None) -> bool:
    """Whether the pin file of ``key`` is one ``--client wanted`` names (None: every file).

    ``wanted`` is a whole key or the client part before its dot; the file from
    before pins were per client (``LEGACY``) is only ever chosen by None.
    """
    if wanted is None:
        return True
    return key is not None and (key == wanted or key.rsplit(".", 1)[0] == wanted)


def limits_note() -> str:
    """The storage bounds, as said in warnings and refusals."""
    return (
        f"mcpcred pins at most {MAX_TOOLS} tools per client, {MAX_DEFINITION // 1024} KiB per "
        f"definition and {MAX_STORED // (1024 * 1024)} MiB in all"
    )


class PinStore:
    """The pin files of every server, in one folder: ``<server>.d/<client key>.json``.

    A file written before pins were kept per client (``<server>.json``, the
    ``LEGACY`` client) is still read: it is the reference for every client's
    first listing, like the other clients' pins (see ``observe``), so
    upgrading loses no pin.
    """

    __slots__ = ("_clock", "folder")

    def __init__(self, folder: str, clock: Callable[[], float] = time.time) -> None:
        self.folder = folder
        self._clock = clock

    # -- files -------------------------------------------------------------------
    def path(self, server: str, client: str | None) -> str:
        """The pin file of ``client`` (a ``client_key``, or ``LEGACY``) for ``server``."""
        if client is None:
            return os.path.join(self.folder, file_stem(server) + SUFFIX)
        return os.path.join(self.server_folder(server), file_stem(client) + SUFFIX)

    def server_folder(self, server: str) -> str:
        """The folder of ``server``'s per-client pin files (always directly inside ``folder``)."""
        return os.path.join(self.folder, file_stem(server) + FOLDER_SUFFIX)

    def servers(self) -> list[str]:
        """Servers that have pins, sorted; none when the folder does not exist."""
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
            if name.startswith("."):
                continue
            full = os.path.join(self.folder, name)
            if name.endswith(FOLDER_SUFFIX) and os.path.isdir(full):
                stem = name[: -len(FOLDER_SUFFIX)]
                files = _json_names(full)
                if not files:
                    continue
                server = server_of(stem)
                if server is None and "~" in stem:
                    server = self._named(os.path.join(full, files[0]), "server")
            elif name.endswith(SUFFIX):
                stem = name[: -len(SUFFIX)]
                server = server_of(stem)
                if server is None and "~" in stem:
                    server = self._named(full, "server")
            else:
                continue
            if server is not None:
                found.add(server)
        return sorted(found)

    def clients(self, server: str) -> list[str]:
        """The client keys with a pin file for ``server``, sorted."""
        folder = self.server_folder(server)
        try:
            names = _json_names(folder, strict=True)
        except OSError as exc:
            raise ConfigError(f"cannot read the pins folder {folder}: {exc.strerror}") from None
        keys = set()
        for name in names:
            stem = name[: -len(SUFFIX)]
            key = server_of(stem)
            if key is None and "~" in stem:
                key = self._named(os.path.join(folder, name), "client")
            if key is not None:
                keys.add(key)
        return sorted(keys)

    def load(self, server: str, client: str | None) -> Document | None:
        """The parsed pin file of ``client`` (or ``LEGACY``) for ``server``; None without one."""
        return self._read_file(self.path(server, client), server, client)

    def documents(
        self, server: str, errors: list[ConfigError] | None = None
    ) -> list[tuple[str | None, Document]]:
        """Every pin file of ``server``: ``LEGACY`` first, then by client key.

        A file that cannot be read raises, or with ``errors`` is appended there and skipped.
        """
        out: list[tuple[str | None, Document]] = []
        try:
            keys: list[str | None] = [LEGACY, *self.clients(server)]
        except ConfigError as exc:
            if errors is None:
                raise
            errors.append(exc)
            keys = [LEGACY]
        for key in keys:
            try:
                document = self.load(server, key)
            except ConfigError as exc:
                if errors is None:
                    raise
                errors.append(exc)
                continue
            if document is not None:
                out.append((key, document))
        return out

    def forget(self, server: str, client: str | None = None) -> int:
        """Delete pins of ``server`` (all, or one client's); how many files went.

        Its tools are pinned again at the next start. ``client`` matches a
        client key or the client name the keys start with.
        """
        targets = [
            self.path(server, key)
            for key, _ in self._chosen(server, client, readable=False)
            if client is None or key is not None
        ]
        removed = 0
        for path in targets:
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.rmdir(path)  # a folder in a pin file's place (left by hand)
                else:
                    os.unlink(path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise ConfigError(f"cannot remove {path}: {exc.strerror}") from None
            removed += 1
        if client is None:
            import contextlib

            # absent, or not empty (a file mcpcred did not write): left alone
            with contextlib.suppress(OSError):
                os.rmdir(self.server_folder(server))
        return removed

    def pending_names(self, server: str, client: str) -> set[str]:
        """Tools with an ``added`` or ``changed`` change waiting for ``pins accept``.

        Those of ``client``'s pin file; before its first listing (no file yet),
        those of every pin file of the server: a client must not call a tool
        that waits for review elsewhere just because its own pins are new.
        """
        own = self.load(server, client)
        documents = [own] if own is not None else [d for _, d in self.documents(server)]
        names: set[str] = set()
        for document in documents:
            for name, entry in _dict(document.get("pending")).items():
                if isinstance(entry, dict) and entry.get("change") in ("added", "changed"):
                    names.add(str(name))
        return names

    def pinned_names(self, server: str, client: str) -> set[str]:
        """Tools pinned for ``client`` (before its first listing: for any client of ``server``).

        In block mode these are the only tools a call may name before a listing
        in the session has checked the server's current offer.
        """
        own = self.load(server, client)
        documents = [own] if own is not None else [d for _, d in self.documents(server)]
        names: set[str] = set()
        for document in documents:
            names.update(str(name) for name in _dict(document.get("tools")))
        return names

    # -- observing ---------------------------------------------------------------
    def observe(
        self,
        server: str,
        client: str,
        tools: Sequence[Mapping[str, object]],
        *,
        complete: bool,
        earlier: Collection[str] = (),
        adopt_new: bool = False,
        held: Collection[str] = (),
        about: Mapping[str, object] | None = None,
    ) -> Drift:
        """Compare one ``tools/list`` answer (or page) with ``client``'s pins; record the drift.

        No pins for this client yet: every tool is pinned, ``Drift(created=True)``,
        except that a tool another client of the server (or the pin file from
        before pins were per client) pinned with another definition is pinned
        with that definition and reported ``changed``: a server cannot shed a
        rug pull by waiting for a new client. Otherwise a tool with another
        hash is ``changed``, an unknown name ``added`` (or, with ``adopt_new``,
        pinned as above: for later pages of the client's first listing), and
        with ``complete`` (this is the last page, and ``earlier`` holds the
        names listed on the pages before it) pinned names not listed are
        ``removed``. A name listed twice with different definitions counts as
        changed. The pending change of a name in ``held`` (withheld by the
        session) is kept even if the pinned definition is listed again, so
        ``pins diff`` still shows why. Tools beyond the storage bounds
        (``limits_note``) are not stored and come back as ``unpinned``.
        ``about`` (client name, capabilities) is stored when the file is
        created. The file is written only when something in it changes.
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
        document = self.load(server, client)
        created = document is None
        if document is None:
            self._room_for(server)
            document = {
                "version": VERSION,
                "server": server,
                "client": client,
                **dict(about or {}),
                "pinned_at": now,
                "tools": {},
                "pending": {},
            }
            adopt_new = True
        pins = _dict(document["tools"])
        pending = _dict(document["pending"])
        budget = _Budget(pins, pending)
        reference: dict[str, dict[str, tuple[object, str]]] | None = None
        added: list[str] = []
        changed: list[str] = []
        removed: list[str] = []
        unpinned: list[str] = []
        dirty = created
        for name, offered in listed.items():
            pin = pins.get(name)
            if pin is None and adopt_new and name not in pending:
                if reference is None:
                    reference = self._reference(server, client)
                known = reference.get(name, {})
                base = offered if not known or offered[0] in known else _newest(known)
                if not budget.fits(base[1]):
                    unpinned.append(name)
                    continue
                pin = pins[name] = {"hash": base[0], "definition": base[1], "pinned_at": now}
                dirty = True
            pinned = pin.get("hash") if isinstance(pin, dict) else None
            if offered[0] == pinned:
                if name not in doubled:
                    if name in pending and name not in held:
                        budget.release(pending.pop(name))
                        dirty = True
                    continue
                offered = doubled[name]  # record the definition that differs from the pin
            change = "added" if pin is None else "changed"
            seen = pending.get(name)
            same = (
                isinstance(seen, dict)
                and seen.get("hash") == offered[0]
                and seen.get("change") == change
            )
            if not same:
                if not budget.fits(offered[1], replacing=seen):
                    unpinned.append(name)
                    continue
                pending[name] = _pending(offered[0], offered[1], now, change)
                dirty = True
            (added if pin is None else changed).append(name)
        if complete:
            every = set(listed).union(earlier)
            for name in pins:
                if name in every:
                    continue
                removed.append(name)
                seen = pending.get(name)
                if not (isinstance(seen, dict) and seen.get("change") == "removed"):
                    pending[name] = _pending(None, None, now, "removed")
                    dirty = True
            for name in list(pending):
                if name not in every and name not in pins and name not in held:
                    del pending[name]  # added, then gone again
                    dirty = True
        if dirty:
            self._write(server, client, document)
        return Drift(added, changed, removed, unpinned=unpinned, created=created)

    def accept(
        self, server: str, names: list[str] | None = None, client: str | None = None
    ) -> Drift:
        """Make pending changes (all, or those of ``names``) the new pins; returns them.

        Every pin file of ``server`` is updated, or with ``client`` only that
        client's (a key, or the client name keys start with). Removed tools are
        dropped from the pins. ``UsageError`` for a server or client without
        pins, or a name with no pending change.
        """
        targets = self._chosen(server, client)
        if not targets:
            if client is not None and self._chosen(server, None):
                raise UsageError(
                    f"no pinned tools of client '{client}' for server '{server}'",
                    hint="clients with pins: "
                    + ", ".join(str(k) for k, _ in self._chosen(server, None) if k is not None),
                )
            raise UsageError(f"no pinned tools for server '{server}'", hint=self.known_hint())
        waiting: set[str] = set()
        for _, document in targets:
            waiting.update(_dict(document["pending"]))
        chosen = sorted(waiting) if names is None else list(dict.fromkeys(names))
        unknown = [name for name in chosen if name not in waiting]
        if unknown:
            listed = ", ".join(f"'{n}'" for n in unknown)
            hint = (
                "pending: " + ", ".join(sorted(waiting))
                if waiting
                else f"nothing is pending for server '{server}'"
            )
            raise UsageError(f"no pending change for {listed} of server '{server}'", hint=hint)
        now = self._now()
        accepted: dict[str, set[str]] = {change: set() for change in CHANGES}
        for key, document in targets:
            pins = _dict(document["tools"])
            pending = _dict(document["pending"])
            mine = [name for name in chosen if name in pending]
            for name in mine:
                entry = _dict(pending.pop(name))
                change = str(entry.get("change"))
                accepted[change if change in accepted else "changed"].add(name)
                if change == "removed":
                    pins.pop(name, None)
                else:
                    pins[name] = {
                        "hash": entry.get("hash"),
                        "definition": entry.get("definition"),
                        "pinned_at": now,
                    }
            if mine:
                self._write(server, key, document)
        return Drift(
            sorted(accepted["added"]), sorted(accepted["changed"]), sorted(accepted["removed"])
        )

    def known_hint(self) -> str:
        """A hint naming the servers that have pins."""
        known = self.servers()
        if not known:
            return "no server has pinned tools yet; guard mode pins them at a server's first start"
        return "servers with pins: " + ", ".join(known)

    # -- internals ---------------------------------------------------------------
    def _now(self) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._clock()))

    def _chosen(
        self, server: str, client: str | None, *, readable: bool = True
    ) -> list[tuple[str | None, Document]]:
        """Pin files of ``server`` whose key or client name is ``client`` (None: all).

        With ``readable`` false, files that cannot be read are included (with
        an empty document): ``forget`` must be able to remove them.
        """
        if readable:
            found = self.documents(server)
        else:
            found = []
            for key in [LEGACY, *self.clients(server)]:
                path = self.path(server, key)
                if os.path.lexists(path):
                    found.append((key, {}))
        return [(key, document) for key, document in found if client_matches(key, client)]

    def _reference(self, server: str, client: str) -> dict[str, dict[str, tuple[object, str]]]:
        """What the server's other pin files pinned: name -> hash -> (definition, pinned_at)."""
        reference: dict[str, dict[str, tuple[object, str]]] = {}
        for key, document in self.documents(server):
            if key == client:
                continue
            for name, entry in _dict(document.get("tools")).items():
                if isinstance(entry, dict) and isinstance(entry.get("hash"), str):
                    known = reference.setdefault(str(name), {})
                    known[str(entry["hash"])] = (
                        entry.get("definition"),
                        str(entry.get("pinned_at")),
                    )
        return reference

    def _room_for(self, server: str) -> None:
        """Refuse a new client pin file once ``server`` has ``MAX_CLIENTS`` of them."""
        keys = self.clients(server)
        if len(keys) >= MAX_CLIENTS:
            raise ConfigError(
                f"server '{server}' already has pins for {len(keys)} clients, the most "
                "mcpcred keeps",
                hint=f"remove some: mcpcred pins forget {server} --client KEY",
            )

    def _named(self, path: str, field: str) -> str | None:
        """The ``server`` or ``client`` a pin file names (shortened file names), or None."""
        try:
            document = self._read_file(path, None, None, any_client=True)
        except ConfigError:
            return None
        value = document.get(field) if document is not None else None
        return value if isinstance(value, str) else None

    def _write(self, server: str, client: str | None, document: Document) -> None:
        path = self.path(server, client)
        _private_folder(os.path.dirname(path))
        # ASCII: a lone surrogate from a server cannot break the write, and hidden
        # characters stay visible to anyone who opens the file.
        text = json.dumps(document, indent=2, sort_keys=True, default=str)
        if len(text) > _MAX_FILE:  # the bounds in observe keep files far smaller
            raise ConfigError(f"pin file {path} would be larger than 64 MiB: not written")
        try:
            atomic_write(path, text + "\n")
        except OSError as exc:
            raise ConfigError(f"cannot write pin file {path}: {exc.strerror}") from None

    def _read_file(
        self, path: str, server: str | None, client: str | None, *, any_client: bool = False
    ) -> Document | None:
        hint = (
            f"remove it to pin the server's tools again: mcpcred pins forget {server}"
            if server is not None
            else f"remove {path}"
        )
        try:
            # Non-blocking: a FIFO in the file's place must not hang the shim.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigError(f"cannot read pin file {path}: {exc.strerror}", hint=hint) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise ConfigError(f"pin file {path} is not a regular file", hint=hint)
            with os.fdopen(fd, "rb") as handle:
                fd = -1
                data = handle.read(_MAX_FILE + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read pin file {path}: {exc.strerror}", hint=hint) from None
        finally:
            if fd >= 0:
                os.close(fd)
        if len(data) > _MAX_FILE:
            raise ConfigError(f"pin file {path} is larger than 64 MiB", hint=hint)
        try:
            document = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise ConfigError(f"pin file {path} is not valid JSON", hint=hint) from None
        problem = _problem(document, server, client, any_client=any_client)
        if problem:
            raise ConfigError(f"pin file {path} {problem}", hint=hint)
        return _dict(document)


class _Budget:
    """What one client's pin file may still take (``MAX_TOOLS``, ``MAX_STORED``).

    Counted lazily: most listings add nothing, and summing the sizes of a big
    file's definitions costs more than comparing hashes.
    """

    def __init__(self, pins: dict[str, object], pending: dict[str, object]) -> None:
        self.sections = (pins, pending)
        self.entries = -1
        self.size = 0

    def _count(self) -> None:
        if self.entries >= 0:
            return
        self.entries = 0
        for section in self.sections:
            for entry in section.values():
                self.entries += 1
                self.size += _size(entry)

    def fits(self, shape: object, replacing: object = None) -> bool:
        """Whether a definition can be stored (replacing an entry); if so it is counted."""
        grows = _definition_size(shape)
        if grows > MAX_DEFINITION:
            return False
        self._count()
        entries = self.entries + (0 if isinstance(replacing, dict) else 1)
        size = self.size + grows - _size(replacing)
        if entries > MAX_TOOLS or size > MAX_STORED:
            return False
        self.entries, self.size = entries, size
        return True

    def release(self, entry: object) -> None:
        """An entry was dropped."""
        if self.entries >= 0:
            self.entries -= 1
            self.size -= _size(entry)


def _size(entry: object) -> int:
    return _definition_size(entry.get("definition")) if isinstance(entry, dict) else 0


def _definition_size(shape: object) -> int:
    """Bytes of a definition as stored (ASCII JSON)."""
    if shape is None:
        return 0
    return len(json.dumps(shape, sort_keys=True, default=str))


def _newest(known: Mapping[str, tuple[object, str]]) -> tuple[str, dict[str, object]]:
    """The most recently pinned of other clients' definitions of one tool."""
    digest, (shape, _) = max(known.items(), key=lambda item: item[1][1])
    return digest, _dict(shape)


def _json_names(folder: str, *, strict: bool = False) -> list[str]:
    """Sorted ``*.json`` names in ``folder`` (hidden ones aside); none if it is not there."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError:
        if strict:
            raise
        return []
    return sorted(n for n in names if n.endswith(SUFFIX) and not n.startswith("."))


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


def _problem(
    document: object, server: str | None, client: str | None, *, any_client: bool = False
) -> str | None:
    """What is wrong with a parsed pin file, or None (never quotes its content).

    ``client`` None is the file from before pins were per client (version 1);
    ``any_client`` accepts either kind (a file read only for its names).
    """
    if not isinstance(document, dict):
        return "is not a pin file (not a JSON object)"
    version = document.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        return f"was written by a newer mcpcred (format version {version})"
    expected = (
        (LEGACY_VERSION, VERSION)
        if any_client
        else ((LEGACY_VERSION,) if client is None else (VERSION,))
    )
    if version not in expected or isinstance(version, bool):
        return f"is not a version {expected[-1]} pin file"
    if not isinstance(document.get("server"), str):
        return "has no server name"
    if server is not None and document["server"] != server:
        return "belongs to another server"
    if version == VERSION and not isinstance(document.get("client"), str):
        return "has no client key"
    if client is not None and document.get("client") != client:
        return "belongs to another client"
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
