"""An in-memory keyring backend for unit tests that must not need a keychain.

Tests against the real keychain use the ``keychain`` fixture (gnome-keyring on
a private D-Bus); this fake only stands in where the keychain is beside the
point (planning, editing) or must misbehave on purpose (time-outs, locks).
"""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    """Values in a dict; ``limit`` rejects longer values like Windows does."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, limit: int | None = None) -> None:
        super().__init__()
        self.items: dict[tuple[str, str], str] = {}
        self.limit = limit
        self.calls = 0

    def get_password(self, service: str, username: str) -> str | None:
        self.calls += 1
        return self.items.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.calls += 1
        if self.limit is not None and len(password) > self.limit:
            raise ValueError("value too long for this backend")
        self.items[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.calls += 1
        if self.items.pop((service, username), None) is None:
            raise PasswordDeleteError("not found")
