"""The keychain as the OAuth code sees it: read some names, write one, delete one.

Logins keep JSON records in the same keychain service as secrets. Two
adapters serve the same port: ``StoreVault`` over ``SecretStore`` (keyring,
every OS; the CLI) and ``SecretServiceVault`` (Linux, our own D-Bus client, no keyring
import; the shim). Missing names are simply absent from ``read``'s answer:
for logins, absence is an ordinary state (not logged in, nothing cached).
"""

from __future__ import annotations

from mcpcred.errors import SecretCorrupt, SecretNotFound

# The shim imports this module; ``typing`` would cost it ~3 ms.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Protocol

    from mcpcred.keychain.filestore import FileStore
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
            except (SecretNotFound, SecretCorrupt):
                continue  # torn: another process is rewriting it; absent for now
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
    """The shim's adapter on Linux: the Secret Service over one D-Bus connection (``dbuswire``).

    A refresh reads two items and writes two; opening a D-Bus connection and
    a session costs about 3 ms each time, so the connection is opened on first
    use and kept until ``close``.
    """

    def __init__(
        self, address: str, timeout: float, service: str = "mcpcred", session: object = None
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.service = service
        self._session: object = session  # shared with the shim's first read, if given

    def _open(self) -> object:
        from mcpcred.keychain.secretservice import Session

        if self._session is None:
            self._session = Session(self.address, self.timeout, self.service)
        return self._session

    def read(self, names: Sequence[str]) -> dict[str, str]:
        return self._open().read([], optional=list(names))  # type: ignore[attr-defined,no-any-return]

    def write(self, name: str, value: str) -> None:
        self._open().write({name: value})  # type: ignore[attr-defined]

    def delete(self, name: str) -> bool:  # pragma: no cover - the shim never deletes
        raise NotImplementedError("the shim never deletes keychain items")

    def close(self) -> None:
        """Close the connection, if one was opened."""
        if self._session is not None:
            self._session.close()  # type: ignore[attr-defined]
            self._session = None


class FileStoreVault:
    """The shim's adapter for the encrypted file store (no keyring; see ``filestore``)."""

    def __init__(self, store: FileStore) -> None:
        self.store = store

    def read(self, names: Sequence[str]) -> dict[str, str]:
        return self.store.read([], optional=list(names))

    def write(self, name: str, value: str) -> None:
        self.store.put(name, value)

    def delete(self, name: str) -> bool:
        from mcpcred.keychain.filestore import SERVICE

        return self.store.delete(SERVICE, name)
