"""The names of stored secrets, with when they were created and last changed.

``keyring`` cannot enumerate what it holds, so ``secret list`` needs a record
of its own. It holds names and timestamps only (no values, no digests) and is
written atomically with mode 0600 like everything mcpcred writes. If it is
lost, the secrets are still in the keychain and still resolve; ``secret list``
then shows them only where a config references them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from mcpcred.fsutil import atomic_write
from mcpcred.paths import data_dir

FILE = "secrets.json"


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """What the index knows about one secret."""

    name: str
    created: str
    changed: str


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class SecretIndex:
    """Load-modify-save access to the index file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / FILE

    def entries(self) -> dict[str, IndexEntry]:
        """Every recorded secret by name; an unreadable index counts as empty."""
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        secrets = data.get("secrets") if isinstance(data, dict) else None
        if not isinstance(secrets, dict):
            return {}
        out: dict[str, IndexEntry] = {}
        for name, meta in secrets.items():
            if isinstance(name, str) and isinstance(meta, dict):
                created = str(meta.get("created", ""))
                out[name] = IndexEntry(name, created, str(meta.get("changed", created)))
        return out

    def touch(self, name: str) -> None:
        """Record that ``name`` was stored now."""
        entries = self.entries()
        now = _now()
        previous = entries.get(name)
        entries[name] = IndexEntry(name, previous.created if previous else now, now)
        self._save(entries)

    def remove(self, name: str) -> None:
        """Forget ``name``."""
        entries = self.entries()
        if entries.pop(name, None) is not None:
            self._save(entries)

    def _save(self, entries: dict[str, IndexEntry]) -> None:
        data = {
            "version": 1,
            "secrets": {
                e.name: {"created": e.created, "changed": e.changed}
                for e in sorted(entries.values(), key=lambda e: e.name)
            },
        }
        atomic_write(str(self.path), json.dumps(data, indent=2) + "\n")
