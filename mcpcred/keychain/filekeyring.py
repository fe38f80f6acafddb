"""The file store as a ``keyring`` backend, so the CLI's ``SecretStore`` uses it unchanged.

Name it with ``PYTHON_KEYRING_BACKEND=mcpcred.keychain.filekeyring.FileKeyring``, or let
the store selection (``mcpcred.keychain.selection``) pick it when the user opted in;
``wrap`` records this id and the shim then reads the file directly (no keyring).

keyring must never pick it on its own (a passphrase store chosen by priority would
be a surprise, and would prompt): the class is removed from keyring's registry of
backends right after it is defined, and its priority is below keyring's "fail"
backend besides. Loading it by name (what ``PYTHON_KEYRING_BACKEND`` and
``keyring.core.load_keyring`` do) still works.
"""

from __future__ import annotations

import os

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError

from mcpcred.keychain import keysource
from mcpcred.keychain.filestore import FileStore, default_path


class FileKeyring(KeyringBackend):
    """Secrets in mcpcred's encrypted store file (see ``mcpcred.keychain.filestore``)."""

    priority = -1  # never chosen by priority (see the module)

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        ask = keysource.prompt if keysource.can_prompt() else None
        self.store = FileStore(default_path(os.environ), os.environ, ask=ask)

    def get_password(self, service: str, username: str) -> str | None:
        """The value stored for ``service``/``username``, or None."""
        return self.store.get(service, username)

    def set_password(self, service: str, username: str, password: str) -> None:
        """Store a value (creating the file from a passphrase variable if needed)."""
        self.store.set(service, username, password)

    def delete_password(self, service: str, username: str) -> None:
        """Remove a value; keyring's ``PasswordDeleteError`` when there was none."""
        if not self.store.delete(service, username):
            raise PasswordDeleteError(f"no item {username!r} in the file store")


# keyring registers every subclass for discovery when it is defined; take this one out.
KeyringBackend._classes.discard(FileKeyring)
