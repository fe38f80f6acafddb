"""Reading a client config for a rewrite, and writing it back safely.

A ``Snapshot`` remembers the exact bytes that were planned against. The write
re-reads the file first and refuses if anything changed in between (Claude
Code rewrites ``~/.claude.json`` all the time), then replaces it atomically
(temp file in the same folder, fsync, rename) with the original permissions.
Backups go to mcpcred's private data folder with mode 0600, and hold the file
as it is once secrets are replaced by references: a backup never holds a secret.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path

from mcpcred.audit.scan import MAX_FILE_BYTES, parse
from mcpcred.errors import ConfigError, ParseError
from mcpcred.fsutil import atomic_write
from mcpcred.parsing.nodes import Document
from mcpcred.paths import private_dir


@dataclass(slots=True)
class Snapshot:
    """A config file as read: its bytes' digest, mode and parsed document."""

    path: str
    digest: str
    mode: int
    document: Document


def read(path: str) -> Snapshot:
    """Read and parse ``path``; a parse error names file:line:column and changes nothing."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
        mode = stat.S_IMODE(os.stat(path).st_mode)
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
    return Snapshot(path, hashlib.sha256(data).hexdigest(), mode, document)


def write(snapshot: Snapshot, text: str) -> None:
    """Replace the file with ``text`` unless it changed since ``snapshot`` was taken."""
    try:
        with open(snapshot.path, "rb") as handle:
            current = hashlib.sha256(handle.read(MAX_FILE_BYTES + 1)).hexdigest()
    except OSError as exc:
        raise ConfigError(f"cannot read {snapshot.path} again: {exc.strerror}") from None
    if current != snapshot.digest:
        raise ConfigError(
            f"{snapshot.path} changed while mcpcred was working on it; it was not written",
            hint="quit the client (it may be rewriting its own file) and run the command again",
        )
    atomic_write(snapshot.path, text, mode=snapshot.mode)


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
