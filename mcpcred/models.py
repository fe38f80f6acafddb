"""Plain data passed between the layers: severities, server entries, findings.

Only the standard library is imported here, so every layer (the shim included)
can use these types without pulling in anything heavy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mcpcred.parsing.nodes import Document, KeyNode, Node, ObjectNode

Pointer = tuple[str | int, ...]


class Severity(enum.IntEnum):
    """Ordered so that ``--fail-on`` is a comparison."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Severity from its lower-case name (``ValueError`` otherwise)."""
        try:
            return cls[text.upper()]
        except KeyError:
            raise ValueError(text) from None


@dataclass(frozen=True, slots=True)
class ConfigLocation:
    """A place where a client keeps (or would keep) MCP servers.

    ``path`` is a string so that path tables for every OS can be computed and
    tested on any OS.
    """

    client: str
    path: str
    scope: str  # "user" | "project" | "system"
    format: str  # "json" | "jsonc" | "toml"


@dataclass(slots=True, eq=False)
class ServerEntry:
    """One MCP server as written in one config file."""

    client: str
    name: str
    location: ConfigLocation
    document: Document
    node: ObjectNode
    pointer: Pointer  # path from the document root to ``node``
    transport: str  # "stdio" | "remote"
    command: Node | None = None
    args: list[Node] = field(default_factory=list)
    env: list[tuple[KeyNode, Node]] = field(default_factory=list)
    url: Node | None = None
    headers: list[tuple[KeyNode, Node]] = field(default_factory=list)

    def command_text(self) -> str | None:
        """The command as a string, if it is one."""
        value = None if self.command is None else self.command.to_python()
        return value if isinstance(value, str) else None

    def arg_texts(self) -> list[str]:
        """Args that are strings (others are skipped, not stringified)."""
        return [v for v in (a.to_python() for a in self.args) if isinstance(v, str)]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing ``audit-config`` reports.

    ``evidence`` is already redacted (prefix and length). ``secret_digest`` is a
    SHA-256 of the secret value, kept only so that baselines can tell a rotated
    value from a suppressed one; renderers never output it.
    """

    rule: str
    severity: Severity
    path: str
    line: int
    column: int
    message: str
    client: str | None = None
    server: str | None = None
    fix: str | None = None
    evidence: str | None = None
    pointer: Pointer = ()
    secret_digest: bytes | None = field(default=None, repr=False, compare=False)
