"""Which servers use which credentials: references found in every client config.

``secret list`` shows where each secret is used, ``secret rm`` warns before
removing one that is still referenced, and ``status`` shows, per server,
whether its credentials resolve. All of them read the same inventory: every
supported client's user, system and project files, parsed, never executed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from mcpcred import references
from mcpcred.audit.scan import display_path, parse, read_text
from mcpcred.clients import ADAPTERS, is_wrapped
from mcpcred.discovery import expand
from mcpcred.errors import ConfigError
from mcpcred.host import Host
from mcpcred.parsing.nodes import ScalarNode, pointer_index


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


@dataclass(slots=True)
class FileError:
    """A config file that could not be read or parsed."""

    client: str
    path: str
    message: str


def servers(host: Host) -> tuple[list[ServerUse], list[FileError]]:
    """Every server entry of every supported client on this machine and project."""
    from mcpcred.audit.rules import Auditor

    auditor = Auditor(host)
    uses: list[ServerUse] = []
    errors: list[FileError] = []
    root = PurePath(host.cwd)
    for adapter in ADAPTERS:
        if adapter.id == "generic":
            continue
        for location in adapter.user_locations(host) + adapter.project_locations(root):
            for concrete in expand(location):
                shown = display_path(concrete.path, host)
                try:
                    document = parse(concrete.path, read_text(concrete.path))
                except ConfigError as exc:
                    errors.append(FileError(adapter.id, shown, exc.message))
                    continue
                except OSError as exc:
                    errors.append(FileError(adapter.id, shown, exc.strerror or "cannot read"))
                    continue
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
                    for _, node in pointer_index(entry.node).values():
                        if isinstance(node, ScalarNode) and isinstance(node.value, str):
                            use.refs.extend(references.find(node.value))
                    use.refs = list(dict.fromkeys(use.refs))
                    use.plaintext = sum(1 for _ in auditor.secret_hits(entry))
                    use.env_names = [key.name for key, _ in entry.env]
                    uses.append(use)
    return uses, errors


def users_of(name: str, uses: list[ServerUse]) -> list[ServerUse]:
    """Servers that reference secret ``name``."""
    return [u for u in uses if (references.SECRET, name) in u.refs]
