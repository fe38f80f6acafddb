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
    """Secrets in mcpcred's encrypted store file (see ``mcpcred.keychain.filestore``).

    ``SecretStore`` runs every keyring call in a worker thread with a time limit (a
    wedged keychain must not hang a command). A passphrase prompt must not run there:
    a person typing slowly would meet a keychain time-out, and a Ctrl-C at the prompt
    would leave the terminal without echo (the worker thread dies without restoring
    it). So the store itself never prompts; ``mcpcred_unlock``, which ``SecretStore`` calls in
    the caller's thread before the timed call, does, once per key.
    """

    priority = -1  # never chosen by priority (see the module)

    def __init__(self, store: FileStore | None = None) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if store is None:
            ask = keysource.prompt if keysource.can_prompt() else None
            store = FileStore(default_path(os.environ), os.environ, ask=ask)
        self._ask = store.ask
        store.ask = None  # timed calls fail with "locked" rather than prompt (see the class)
        self.store = store

    @property
    def mcpcred_where(self) -> str:
        """How ``SecretStore``'s messages name this store: "the file store (PATH)"."""
        return self.store.where

    def mcpcred_unlock(self) -> None:
        """Learn the file's key now, prompting if that is the only source (no time limit).

        A no-op without a store file (the first write creates it from a passphrase
        variable) or without a terminal (the timed call then says the store is locked).
        """
        if self._ask is None:
            return
        doc = self.store.load()
        if doc is None:
            return
        self.store.ask = self._ask
        try:
            self.store.key(doc)
        finally:
            self.store.ask = None

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
