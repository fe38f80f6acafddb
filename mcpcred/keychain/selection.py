"""Which store the CLI uses, and why: the OS keychain, or the encrypted file store.

The rules, first match wins:

1. ``PYTHON_KEYRING_BACKEND`` names a backend: that one (keyring's own rule; the
   file store's id is ``mcpcred.keychain.FILE_STORE``).
2. The store file exists (``mcpcred store init --file`` made it, or an earlier
   command with a passphrase variable did): the file store. Creating it is the
   opt-in; ``mcpcred store migrate --to keychain`` moves everything back and
   removes it.
3. keyring's choice, if it is a usable OS keychain.
4. No usable keychain, but ``MCPCRED_PASSPHRASE`` or ``MCPCRED_PASSPHRASE_FILE`` is
   set (CI, containers): the file store, created on the first write.
5. Otherwise no store: commands fail with keyring's "no keychain" error. Never a
   plaintext fallback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mcpcred.keychain import FILE_STORE, keysource
from mcpcred.keychain.filestore import default_path

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

BACKEND_VAR = "PYTHON_KEYRING_BACKEND"
FILE = "file"
KEYCHAIN = "keychain"
NONE = "none"


@dataclass(frozen=True, slots=True)
class Choice:
    """The store in use: its kind, its keyring backend id, and a one-line reason."""

    kind: str  # FILE, KEYCHAIN or NONE
    backend: str | None
    reason: str
    path: str | None = None  # the store file, for the file store


def opted_in(environ: Mapping[str, str]) -> Choice | None:
    """The file store when the user chose it on this machine (rule 2), without asking keyring."""
    if environ.get(BACKEND_VAR):
        return None
    path = default_path(environ)
    if os.path.exists(path):
        return Choice(FILE, FILE_STORE, f"the store file {path} exists", path)
    return None


def fallback(backend: KeyringBackend, environ: Mapping[str, str]) -> Choice | None:
    """The file store when keyring found no usable keychain and a passphrase is set (rule 4)."""
    if environ.get(BACKEND_VAR) or not keysource.have_passphrase(environ):
        return None
    if usable(backend, environ):
        return None
    var = (
        keysource.PASSPHRASE_VAR
        if environ.get(keysource.PASSPHRASE_VAR)
        else keysource.PASSPHRASE_FILE_VAR
    )
    path = default_path(environ)
    return Choice(FILE, FILE_STORE, f"no OS keychain is reachable and {var} is set", path)


def usable(backend: KeyringBackend, environ: Mapping[str, str]) -> bool:
    """Whether ``SecretStore`` would accept keyring's choice (not "fail", not plain text)."""
    from mcpcred.keychain.store import ALLOW_INSECURE, backend_id, insecure

    if backend_id(backend).startswith("keyring.backends.fail"):
        return False
    return not insecure(backend) or environ.get(ALLOW_INSECURE) == "1"


def file_keyring() -> KeyringBackend:
    """A fresh ``FileKeyring`` (imports keyring: the CLI only)."""
    from mcpcred.keychain.filekeyring import FileKeyring

    return FileKeyring()


def explain(environ: Mapping[str, str]) -> Choice:
    """The store the CLI would use right now, and why (``store status``, ``status``)."""
    named = environ.get(BACKEND_VAR)
    if named:
        kind = FILE if named == FILE_STORE else KEYCHAIN
        path = default_path(environ) if kind == FILE else None
        return Choice(kind, named, f"{BACKEND_VAR} names it", path)
    chosen = opted_in(environ)
    if chosen is not None:
        return chosen
    import keyring

    backend = keyring.get_keyring()
    chosen = fallback(backend, environ)
    if chosen is not None:
        return chosen
    from mcpcred.keychain.store import backend_id

    name = backend_id(backend)
    if usable(backend, environ):
        return Choice(KEYCHAIN, name, "the OS keychain answers (keyring's choice)")
    return Choice(
        NONE,
        None,
        f"no usable OS keychain (keyring found {name}), no store file, and "
        f"{keysource.PASSPHRASE_VAR} is not set",
    )
