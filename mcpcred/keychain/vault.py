"""The keychain as the OAuth code sees it: read some names, write one, delete one.

Logins keep JSON records in the same keychain service as secrets. Two
adapters serve the same port: ``StoreVault`` over ``SecretStore`` (keyring,
every OS; the CLI) and ``SecretServiceVault`` (Linux, jeepney, no keyring
import; the shim). Missing names are simply absent from ``read``'s answer:
for logins, absence is an ordinary state (not logged in, nothing cached).
"""

from __future__ import annotations

from mcpcred.errors import SecretNotFound, SecretStoreError

# The shim imports this module; ``typing`` would cost it ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    from mcpcred.keychain.store import SecretStore

    class Vault(Protocol):
        """Named string values in the OS keychain."""

        def read(self, names: Sequence[str]) -> dict[str, str]:
            """The values of those ``names`` that exist (torn or missing ones are left out)."""
            ...

        def write(self, name: str, value: str) -> None:
            """Store ``value`` under ``name``, replacing what was there."""
            ...

        def delete(self, name: str) -> bool:
            """Remove ``name``; False when there was nothing to remove."""
            ...


class StoreVault:
    """The portable adapter: keyring, through ``SecretStore`` (limits, errors, chunks)."""

    def __init__(self, store: SecretStore) -> None:
        self.store = store

    def read(self, names: Sequence[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in dict.fromkeys(names):
            try:
                out[name] = self.store.get(name)
            except SecretNotFound:
                continue
            except SecretStoreError as exc:
                if "torn write" not in exc.message:
                    raise
        return out

    def write(self, name: str, value: str) -> None:
        self.store.set(name, value)

    def delete(self, name: str) -> bool:
        try:
            self.store.delete(name)
        except SecretNotFound:
            return False
        return True


class SecretServiceVault:
    """The shim's adapter on Linux: the Secret Service over one jeepney connection per call."""

    def __init__(self, address: str, timeout: float, service: str = "mcpcred") -> None:
        self.address = address
        self.timeout = timeout
        self.service = service

    def read(self, names: Sequence[str]) -> dict[str, str]:
        from mcpcred.keychain.secretservice import read_secrets

        return read_secrets(
            [], optional=list(names), address=self.address, service=self.service,
            timeout=self.timeout,
        )  # fmt: skip

    def write(self, name: str, value: str) -> None:
        from mcpcred.keychain.secretservice import write_secrets

        write_secrets(
            {name: value}, address=self.address, service=self.service, timeout=self.timeout
        )

    def delete(self, name: str) -> bool:  # pragma: no cover - the shim never deletes
        raise NotImplementedError("the shim never deletes keychain items")
