"""The Secret Service read straight over D-Bus, for the commands that only read.

``SecretStore`` finds its backend through keyring's discovery: every backend module
imported, ``ctypes.util.find_library`` spawning ``ldconfig`` and ``gcc``, a D-Bus
connection per candidate; 100-300 ms and a dozen processes, before the first read.
``status`` and ``wrap --dry-run`` only look, so on Linux they take the shim's path
instead (``mcpcred.shim.resolve``, ``mcpcred.keychain.secretservice``): the session bus,
one connection, searches and reads in as few round trips as the protocol allows.

``open_direct`` returns ``None`` whenever only keyring can say which store is in use, and
the caller then does what it did before (``SecretStore()``); the answers are the same, and
so are the messages when there is no keychain at all:

- ``PYTHON_KEYRING_BACKEND`` names a backend other than the Secret Service;
- the store file exists (the file store is in use, ``selection`` rule 2);
- keyring's own config file exists (it may name a backend);
- not Linux, or no session bus, or no Secret Service answering on it.

Otherwise keyring's discovery would choose the Secret Service too (it is the Linux
backend keyring prefers whenever it answers, and ``SecretStore`` replaces a chainer by
it), which is also what the shim reads at every server start.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING

from mcpcred.errors import SecretNotFound, SecretStoreError
from mcpcred.keychain import SECRET_SERVICE
from mcpcred.keychain.selection import BACKEND_VAR, KEYCHAIN, Choice, opted_in
from mcpcred.keychain.store import DEFAULT_TIMEOUT, SERVICE, SecretStore

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from mcpcred.keychain.secretservice import Session
    from mcpcred.keychain.vault import SecretServiceVault

REASON = "the OS keychain answers (keyring's choice)"


def keyring_config(environ: Mapping[str, str]) -> str:
    """keyring's config file on Linux (``keyring.util.platform_``), without importing keyring."""
    root = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(root, "python_keyring", "keyringrc.cfg")


def open_direct(
    environ: Mapping[str, str], timeout: float = DEFAULT_TIMEOUT
) -> DirectSecretService | None:
    """The Secret Service, connected, when it is for sure the store in use; else ``None``."""
    named = environ.get(BACKEND_VAR)
    if not sys.platform.startswith("linux") or named not in (None, "", SECRET_SERVICE):
        return None
    if not named and (opted_in(environ) is not None or os.path.exists(keyring_config(environ))):
        return None
    from mcpcred.keychain.bus import session_bus_address
    from mcpcred.keychain.secretservice import Session

    address = session_bus_address(environ)
    if address is None:
        return None
    try:
        session = Session(address, timeout, SERVICE)
    except SecretStoreError:  # no bus there
        return None
    try:
        session.client.session()  # OpenSession: the service answers (activated if need be)
    except SecretStoreError:
        session.close()
        return None
    reason = f"{BACKEND_VAR} names it" if named else REASON
    return DirectSecretService(session, address, timeout, Choice(KEYCHAIN, SECRET_SERVICE, reason))


class DirectSecretService(SecretStore):
    """``SecretStore``'s reads (``get``, ``exists``) over one D-Bus connection; no writes.

    A subclass so that code written for ``SecretStore`` reads through it unchanged; every
    write goes through ``backend``, which refuses, so nothing can reach keyring from here.
    """

    def __init__(self, session: Session, address: str, timeout: float, choice: Choice) -> None:
        super().__init__(timeout=timeout)
        self.session = session
        self.address = address
        self.choice = choice

    @property
    def backend(self) -> KeyringBackend:
        raise SecretStoreError("internal: the direct Secret Service view only reads")

    @property
    def backend_name(self) -> str:
        return SECRET_SERVICE

    @property
    def where(self) -> str:
        return "the keychain"

    def get(self, name: str) -> str:
        """The value of secret ``name`` (joined from its parts); ``SecretNotFound`` if none."""
        try:
            return self.session.read([name])[name]
        except SecretNotFound:
            raise SecretNotFound(name, store=self.where) from None

    def exists(self, name: str) -> bool:
        """Whether an item of that name is stored, locked or not: a search, nothing unlocked."""
        unlocked, locked = self.session.client.search({"service": SERVICE, "username": name})
        return bool(unlocked or locked)

    def vault(self) -> SecretServiceVault:
        """The same connection as the read/write port logins use (``login_rows`` reads)."""
        from mcpcred.keychain.vault import SecretServiceVault

        return SecretServiceVault(self.address, self.timeout, SERVICE, session=self.session)

    def close(self) -> None:
        """End the session and the connection."""
        self.session.close()
