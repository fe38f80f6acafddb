"""Writing files the safe way: atomically, with private permissions.

A crash or a full disk must never leave a half-written report, baseline or
(later) client config, and nothing mcpcred writes should be readable by other
users, since reports and baselines describe where credentials are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

_TEMP_FLAGS = (
    os.O_WRONLY
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _temp_beside(path: str) -> tuple[int, str]:
    """A new 0600 file next to ``path``, opened exclusively: ``tempfile.mkstemp``'s
    guarantees without importing tempfile (shutil, random, bz2, lzma), which a
    one-file ``audit-config`` run would otherwise pay for its report.
    """
    directory = os.path.dirname(os.path.abspath(path))
    for _ in range(100):
        temp = os.path.join(directory, f".mcpcred-{os.urandom(8).hex()}.tmp")
        try:
            return os.open(temp, _TEMP_FLAGS, 0o600), temp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name in {directory}")


@contextmanager
def atomic_writer(path: str, mode: int = 0o600) -> Iterator[TextIO]:
    """A text handle whose content replaces ``path`` when the block ends without error.

    Like ``atomic_write`` for output produced piece by piece (a streamed report):
    the temp file is created 0600 in the same folder, fsynced and renamed; on
    an exception it is removed and ``path`` is left as it was.
    """
    fd, temp = _temp_beside(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def atomic_write(path: str, text: str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``text``: temp file in the same folder, fsync, rename."""
    with atomic_writer(path, mode) as handle:
        handle.write(text)
