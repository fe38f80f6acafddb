"""``tools/*`` findings: what guard mode pinned about the servers in the scanned configs.

Guard mode keeps pin files per server and client (``mcpcred.guard.pins``).
When a scanned config has a server entry whose name has pins, two rules look
at all of them (every client's, and the file from before pins were per
client):

- ``tools/hidden-instructions``: a pinned or pending tool definition holds
  text aimed at the model (``mcpcred.guard.hidden``), one finding per tool;
- ``tools/definition-changed``: a change to a tool that nobody accepted yet,
  one finding per tool and pending definition (several clients waiting for
the same change make one finding).

Findings point at the server entry. Their evidence names the tool and the
first 12 hex digits of the definition's hash, so a baseline that accepts one
definition reports the next one again. Nothing is created: the data folder
and the pins folder are only read, and only when they exist. An unreadable
pin file is skipped (``mcpcred pins list`` reports it).
"""

from __future__ import annotations

import os

from mcpcred.host import Host
from mcpcred.models import Finding, ServerEntry, Severity

_SEVERITY = {"high": Severity.HIGH, "medium": Severity.MEDIUM, "low": Severity.LOW}


class PinnedTools:
    """The pin files of one machine, read lazily, as findings per server entry."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._names: frozenset[str] | None = None
        self._cache: dict[str, list[tuple[str, Severity, str, str]]] = {}

    def findings(self, entry: ServerEntry, display_path: str) -> list[Finding]:
        """The ``tools/*`` findings of one server entry (none when it has no pins)."""
        if entry.name not in self._servers():
            return []
        from mcpcred.audit.rules import RULES, entry_finding

        out = []
        for rule_id, severity, message, evidence in self._of(entry.name):
            rule = RULES[rule_id]
            out.append(
                entry_finding(
                    entry,
                    rule,
                    display_path,
                    entry.node.start,
                    message,
                    severity=severity,
                    fix=rule.fix.replace("SERVER", _quoted(entry.name)),
                    evidence=evidence,
                    pointer=entry.pointer,
                )
            )
        return out

    def _servers(self) -> frozenset[str]:
        if self._names is None:
            from mcpcred.keychain.storefile import data_folder

            # The folder is located without guard.pins and platformdirs (~20 ms of
            # imports): most machines have no pins, and pre-commit runs this per commit.
            folder = os.path.join(data_folder(self.host.env), "pins")
            names: frozenset[str] = frozenset()
            if os.path.isdir(folder):
                from mcpcred.errors import ConfigError
                from mcpcred.guard.pins import PinStore

                try:
                    names = frozenset(PinStore(folder).servers())
                except ConfigError:  # an unreadable folder: pins are optional context
                    names = frozenset()
            self._names = names
        return self._names

    def _of(self, server: str) -> list[tuple[str, Severity, str, str]]:
        if server not in self._cache:
            self._cache[server] = self._read(server)
        return self._cache[server]

    def _read(self, server: str) -> list[tuple[str, Severity, str, str]]:
        from mcpcred.errors import ConfigError
        from mcpcred.guard.hidden import safe_text, scan_tool
        from mcpcred.guard.pins import PinStore, default_folder

        errors: list[ConfigError] = []  # unreadable files are skipped: `pins list` names them
        documents = PinStore(default_folder(self.host.env)).documents(server, errors)
        shown_server = safe_text(server, 80)
        out: list[tuple[str, Severity, str, str]] = []
        names = sorted(
            {
                str(name)
                for _, document in documents
                for section in ("tools", "pending")
                for name in _entries(document.get(section))
            }
        )
        for tool in names:
            kinds: set[str] = set()
            severity = Severity.LOW
            hashes: list[str] = []
            only_pending = True
            changes: dict[tuple[str, str], None] = {}
            for _, document in documents:
                pins = _entries(document.get("tools"))
                pending = _entries(document.get("pending"))
                for section, entries in (("tools", pins), ("pending", pending)):
                    entry = entries.get(tool)
                    shape = entry.get("definition") if entry else None
                    if entry is None or not isinstance(shape, dict):
                        continue
                    found = scan_tool(shape)
                    if not found:
                        continue
                    only_pending = only_pending and section == "pending"
                    digest = str(entry.get("hash"))[:12]
                    if digest not in hashes:
                        hashes.append(digest)
                    for item in found:
                        kinds.add(item.kind)
                        severity = max(severity, _SEVERITY[item.severity])
                change = pending.get(tool)
                if change is not None:
                    kind = str(change.get("change"))
                    digest = str(change.get("hash"))[:12] if change.get("hash") else "none"
                    changes[(kind, digest)] = None
            name = safe_text(tool, 60)
            if kinds:
                where = " (a pending change)" if only_pending else ""
                out.append(
                    (
                        "tools/hidden-instructions",
                        severity,
                        f"Tool '{name}' of server '{shown_server}' has hidden content in its "
                        f"definition{where}: {', '.join(sorted(kinds))}",
                        f"{name}@{'+'.join(hashes)}",
                    )
                )
            for kind, digest in changes:
                verb = {"added": "was added", "removed": "was removed"}.get(kind, "changed")
                out.append(
                    (
                        "tools/definition-changed",
                        Severity.MEDIUM,
                        f"Tool '{name}' of server '{shown_server}' {verb} since its tools were "
                        "pinned; the change is not accepted",
                        f"{name} {kind}@{digest}",
                    )
                )
        return out


def _entries(value: object) -> dict[str, dict[str, object]]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def _quoted(name: str) -> str:
    import shlex

    return shlex.quote(name)
