"""Reading a client config for a rewrite, and writing it back safely.

A ``Snapshot`` remembers the exact bytes that were planned against. The write
re-reads the file first and refuses if anything changed in between (Claude
Code rewrites ``~/.claude.json`` all the time), then replaces it atomically
(temp file in the same folder, fsync, rename) with the original permissions.
Backups go to mcpcred's private data folder with mode 0600, and hold the file
as it is once secrets are replaced by references: a backup never holds a secret.

A config is often a symbolic link into a dotfiles repository (stow, chezmoi,
home-manager). Replacing the link by a regular file would leave the token in
the repository's copy, so reads and writes go to the link's real file, and the
link stays. Where writing through is unsafe (a dangling link, a loop, a file of
another user, a hard link whose other names would keep the old text) the file
is refused before anything is stored or written.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from mcpcred.errors import ConfigError, ParseError
from mcpcred.fsutil import atomic_write
from mcpcred.parsing.files import MAX_FILE_BYTES, parse
from mcpcred.parsing.nodes import Document
from mcpcred.paths import private_dir


@dataclass(slots=True)
class Snapshot:
    """A config file as read: its bytes' digest, mode and parsed document.

    ``path`` is the name the client reads; ``real`` the file behind it (the
    target of a symbolic link), which is what is read and written.
    """

    path: str
    digest: str
    mode: int
    document: Document
    real: str = ""

    @property
    def linked(self) -> bool:
        """Whether ``path`` reaches its file through a symbolic link."""
        return self.real != os.path.abspath(self.path)


def real_path(path: str) -> str:
    """The file behind ``path`` (following every link), or a one-line refusal.

    A dangling link and a link loop are configuration errors, not missing files:
    the client cannot read them either, and writing would replace the link.
    """
    try:
        return os.path.realpath(path, strict=True)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ConfigError(
                f"{path} is a loop of symbolic links; not rewritten",
                hint="point the link at the real config file, then run the command again",
            ) from None
        if os.path.islink(path):
            raise ConfigError(
                f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; "
                "not rewritten",
                hint="restore the link's target (or remove the link), then run the command again",
            ) from None
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def check_writable(snapshot: Snapshot) -> None:
    """Refuse, before anything is stored or written, a file mcpcred must not replace.

    The replacement is a new file renamed over the real one, so it would
    silently take a file away from another user, and would leave other hard
    links to the file (which keep the old text, secrets included) behind.
    """
    real = snapshot.real or os.path.abspath(snapshot.path)
    shown = f"{snapshot.path} (a link to {real})" if snapshot.linked else snapshot.path
    try:
        info = os.stat(real)
    except OSError as exc:
        raise ConfigError(f"cannot read {shown} again: {exc.strerror}") from None
    if hasattr(os, "geteuid") and info.st_uid != os.geteuid():
        raise ConfigError(
            f"{shown} belongs to another user; mcpcred does not rewrite it",
            hint="ask its owner to move the secrets; to wrap your other files, name each one "
            "with --config FILE",
        )
    if info.st_nlink > 1:
        raise ConfigError(
            f"{shown} has {info.st_nlink} hard links; rewriting one name would leave the "
            "secrets under the others",
            hint="replace the extra hard links by symbolic links, then run the command again",
        )
    folder = os.path.dirname(real)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(
            f"cannot write in {folder}, the folder of {shown}; nothing was changed",
            hint="the file is rewritten by replacing it, which needs write access to its folder",
        )


def read(path: str) -> Snapshot:
    """Read and parse ``path``; a parse error names file:line:column and changes nothing."""
    real = real_path(path)
    try:
        with open(real, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        mode = stat.S_IMODE(os.stat(real).st_mode)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(f"{path} is larger than 64 MiB; not rewritten")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError(
            f"{path} is UTF-16; mcpcred rewrites UTF-8 files only",
            hint="save it as UTF-8 (every MCP client reads UTF-8), then run wrap again",
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError("file is not UTF-8 text", path=path, line=line) from None
    document = parse(path, text)
    return Snapshot(path, hashlib.sha256(data).hexdigest(), mode, document, real)


def write(snapshot: Snapshot, text: str) -> None:
    """Replace the file with ``text`` unless it changed since ``snapshot`` was taken.

    A symbolic link is written through: the link stays, its real file changes.
    """
    check_unchanged(snapshot)
    atomic_write(snapshot.real or snapshot.path, text, mode=snapshot.mode)


def check_unchanged(snapshot: Snapshot) -> None:
    """Refuse if the file (or where its link points) changed since it was read."""
    if snapshot.real and real_path(snapshot.path) != snapshot.real:
        raise ConfigError(
            f"{snapshot.path} now links somewhere else than when mcpcred read it; "
            "it was not written",
            hint="run the command again",
        )
    try:
        with open(snapshot.real or snapshot.path, "rb") as handle:
            current = hashlib.sha256(handle.read(MAX_FILE_BYTES + 1)).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read {snapshot.path} again: {exc.strerror}") from None
    if current != snapshot.digest:
        raise ConfigError(
            f"{snapshot.path} changed while mcpcred was working on it; it was not written",
            hint="quit the client (it may be rewriting its own file) and run the command again",
        )


def backup(directory: Path, client: str, path: str, text: str) -> Path:
    """Keep ``text`` (already free of secrets) as a private, timestamped backup."""
    folder = private_dir(directory / client)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = folder / f"{stamp}-{os.path.basename(path)}"
    counter = 1
    while target.exists():
        counter += 1
        target = folder / f"{stamp}-{counter}-{os.path.basename(path)}"
    atomic_write(str(target), text, mode=0o600)
    return target


def repository_of(path: str) -> str | None:
    """The git work tree holding ``path``, if any: its history keeps what the file held."""
    folder = os.path.dirname(os.path.abspath(path))
    while True:
        if os.path.exists(os.path.join(folder, ".git")):
            return folder
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
