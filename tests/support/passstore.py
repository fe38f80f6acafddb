"""A real ``pass`` password store with a real gpg key, in a temporary GNUPGHOME.

``unlocked`` has a key without a passphrase (what gpg-agent gives once a user
has unlocked it); ``locked`` has a key with a passphrase that no agent holds,
the case of a server started where nobody can type it. Each store's gpg-agent
is stopped when the session ends.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TOOLS = ("pass", "gpg", "gpgconf")


def available() -> bool:
    """Whether ``pass`` and gpg are installed (scripts/test installs them from apt)."""
    return all(shutil.which(tool) for tool in TOOLS)


class PassStore:
    """One store: its environment (GNUPGHOME, PASSWORD_STORE_DIR) and ``insert``."""

    def __init__(self, root: Path) -> None:
        self.gnupg = root / "gnupg"
        self.store = root / "store"
        self.env = {"GNUPGHOME": str(self.gnupg), "PASSWORD_STORE_DIR": str(self.store)}

    def environ(self) -> dict[str, str]:
        """The current environment with this store's variables, and no display to prompt on."""
        env = {**os.environ, **self.env}
        for name in ("DISPLAY", "WAYLAND_DISPLAY", "GPG_TTY", "PINENTRY_USER_DATA"):
            env.pop(name, None)
        return env

    def insert(self, path: str, content: str) -> None:
        """``pass insert -m PATH`` with ``content`` on stdin (never in argv)."""
        subprocess.run(
            ["pass", "insert", "-m", "-f", path],
            input=content,
            env=self.environ(),
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )

    def stop_agent(self) -> None:
        """Stop this GNUPGHOME's gpg-agent (it forgets every cached passphrase)."""
        subprocess.run(
            ["gpgconf", "--kill", "gpg-agent"],
            env=self.environ(),
            capture_output=True,
            check=False,
            timeout=30,
        )


@contextmanager
def pass_store(root: Path, passphrase: str = "") -> Iterator[PassStore]:
    """A store under ``root`` whose gpg key has ``passphrase`` (empty: none)."""
    store = PassStore(root)
    store.gnupg.mkdir(mode=0o700, parents=True)
    env = store.environ()
    subprocess.run(
        ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", passphrase,
         "--quick-gen-key", "mcpcred test <test@example.invalid>", "default", "default", "never"],
        env=env, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    listing = subprocess.run(
        ["gpg", "--list-keys", "--with-colons"],
        env=env, capture_output=True, text=True, check=True, timeout=30,
    )  # fmt: skip
    fingerprint = next(
        line.split(":")[9] for line in listing.stdout.splitlines() if line.startswith("fpr:")
    )
    subprocess.run(
        ["pass", "init", fingerprint], env=env, capture_output=True, check=True, timeout=30
    )
    try:
        yield store
    finally:
        store.stop_agent()
