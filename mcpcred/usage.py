"""Which servers use which credentials: references found in every client config.

``secret list`` shows where each secret is used, ``secret rm`` warns before
removing one that is still referenced, and ``status`` shows, per server,
whether its credentials resolve. All of them read the same inventory: every
supported client's user, system and project files, parsed, never executed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import PurePath

from mcpcred import references
from mcpcred.clients import ADAPTERS, is_wrapped
from mcpcred.discovery import expand
from mcpcred.errors import ConfigError
from mcpcred.host import Host
from mcpcred.parsing.files import display_path, parse, read_text
from mcpcred.parsing.nodes import Document, ScalarNode, pointer_index, shadowed_members

# The transport of a pseudo-entry for a hidden block that is no server's (a repeated
# ``mcpServers``): it holds references, but no client starts anything from it.
HIDDEN = "hidden"


@dataclass(slots=True)
class ServerUse:
    """One server entry and the references it holds."""

    client: str
    server: str
    path: str
    scope: str
    transport: str
    wrapped: bool
    refs: list[tuple[str, str]] = field(default_factory=list)  # (kind, name)
    plaintext: int = 0  # credentials still written in the file
    env_names: list[str] = field(default_factory=list)  # the env vars it sets
    # references the server would receive as text: no shim or headers helper resolves them
    literal: list[tuple[str, str]] = field(default_factory=list)
    # references in values a repeated key hides: the client reads none of them, but the
    # file holds them, and removing the repeat (the fix wrap asks for) brings them back
    hidden: list[tuple[str, str]] = field(default_factory=list)
    pointer: tuple[str | int, ...] = ()  # where the entry sits in its file
    # why wrap must leave it as it is (a crushrc command built by the shell), if it must
    blocked: str | None = None


@dataclass(slots=True)
class FileError:
    """A config file that could not be read or parsed."""

    client: str
    path: str
    message: str
    # references mentioned anywhere in the file's text: still in use, even unparsed
    refs: list[tuple[str, str]] = field(default_factory=list)


def servers(host: Host) -> tuple[list[ServerUse], list[FileError]]:
    """Every server entry of every supported client on this machine and project."""
    from mcpcred.audit.rules import Auditor

    auditor = Auditor(host)
    uses: list[ServerUse] = []
    errors: list[FileError] = []
    root = PurePath(host.cwd)
    seen: set[tuple[str, str]] = set()
    for adapter in ADAPTERS:
        if adapter.id == "generic":
            continue
        for location in adapter.user_locations(host) + adapter.project_locations(root):
            for concrete in expand(location):
                real = (adapter.id, os.path.realpath(concrete.path))
                if real in seen:  # run from HOME, a "project" file is the user file itself
                    continue
                seen.add(real)
                shown = display_path(concrete.path, host)
                try:
                    text = read_text(concrete.path)
                except ConfigError as exc:
                    errors.append(FileError(adapter.id, shown, exc.message))
                    continue
                except OSError as exc:
                    errors.append(FileError(adapter.id, shown, exc.strerror or "cannot read"))
                    continue
                try:
                    document = parse(concrete.path, text)
                except ConfigError as exc:
                    mentioned = references.find_all(text)
                    errors.append(FileError(adapter.id, shown, exc.message, mentioned))
                    continue
                first = len(uses)
                for entry in adapter.servers(document, concrete):
                    use = ServerUse(
                        adapter.id,
                        entry.name,
                        shown,
                        concrete.scope,
                        entry.transport,
                        is_wrapped(entry)
                        or bool(adapter.header_helper and adapter.header_helper in entry.node),
                    )
                    use.blocked = adapter.wrap_blocker(entry)
                    helper = entry.node.get(adapter.header_helper or "")
                    stdio_wrapped = entry.transport == "stdio" and is_wrapped(entry)
                    for _, node in pointer_index(entry.node).values():
                        if isinstance(node, ScalarNode) and isinstance(node.value, str):
                            # every mention counts: a reference inside a headers helper
                            # command ('--header "X-Key: mcpcred:secret/k"') is in use too
                            found = references.find_all(node.value)
                            use.refs.extend(found)
                            if not stdio_wrapped and node is not helper:
                                use.literal.extend(found)  # nothing resolves it on the way
                    use.refs = list(dict.fromkeys(use.refs))
                    use.literal = list(dict.fromkeys(use.literal))
                    use.plaintext = sum(1 for _ in auditor.secret_hits(entry))
                    use.env_names = [key.name for key, _ in entry.env]
                    use.pointer = entry.pointer
                    uses.append(use)
                uses.extend(_hidden(document, uses[first:], adapter.id, shown, concrete.scope))
                # anything else the text mentions (a block the client does not read, a
                # setting): no server of this client gets it, but it is still a use
                known = {ref for use in uses[first:] for ref in (*use.refs, *use.hidden)}
                rest = [ref for ref in references.find_all(text) if ref not in known]
                if rest:
                    label = "(elsewhere in the file)"
                    other = ServerUse(adapter.id, label, shown, concrete.scope, HIDDEN, False)
                    other.hidden = list(dict.fromkeys(rest))
                    uses.append(other)
    return uses, errors


def _hidden(
    document: Document, entries: list[ServerUse], client: str, shown: str, scope: str
) -> list[ServerUse]:
    """Attach references hidden behind a repeated key to the server that holds them.

    A hidden member inside a server (``"TOKEN": "mcpcred:secret/a", "TOKEN": "x"``) or a
    whole hidden server entry counts for the live server of that name; a hidden block that
    holds servers (``mcpServers`` twice) gets a pseudo-entry of its own, so that
    ``secret rm`` still sees what it references. Returns those pseudo-entries.
    """
    extra: list[ServerUse] = []
    for pointer, _key, value in shadowed_members(document.root):
        found = [
            ref
            for _, node in pointer_index(value).values()
            if isinstance(node, ScalarNode) and isinstance(node.value, str)
            for ref in references.find_all(node.value)
        ]
        if not found:
            continue
        owners = [u for u in entries if pointer[: len(u.pointer)] == u.pointer]
        if not owners:
            label = "/".join(str(p) for p in pointer)
            owners = [ServerUse(client, f"{label} (hidden)", shown, scope, HIDDEN, False)]
            extra.extend(owners)
        for use in owners:
            use.hidden = list(dict.fromkeys([*use.hidden, *found]))
    return extra


def users_of(name: str, uses: list[ServerUse]) -> list[ServerUse]:
    """Servers that reference secret ``name``, in their live values or behind a repeated key."""
    wanted = (references.SECRET, name)
    return [u for u in uses if wanted in u.refs or wanted in u.hidden]
