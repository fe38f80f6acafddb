"""Writing files the safe way: atomically, with private permissions.

A crash or a full disk must never leave a half-written report, baseline or
(later) client config, and nothing mcpcred writes should be readable by other
users, since reports and baselines describe where credentials are.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


@contextmanager
def atomic_writer(path: str, mode: int = 0o600) -> Iterator[TextIO]:
    """A text handle whose content replaces ``path`` when the block ends without error.

    Like ``atomic_write`` for output produced piece by piece (a streamed report):
    the temp file is created 0600 in the same folder, fsynced and renamed; on
    an exception it is removed and ``path`` is left as it was.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".mcpcred-", suffix=".tmp", dir=directory)
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
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".mcpcred-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
