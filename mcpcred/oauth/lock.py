"""One refresh at a time, across processes: an advisory lock on a file.

MCP clients start every server at once (Claude Desktop even starts
duplicates and kills them), and providers that rotate refresh tokens treat
a second use of the same refresh token as theft and revoke the whole grant.
So the shim that finds the access token stale takes this lock, looks again
(another shim may have refreshed meanwhile), and only then refreshes.

``flock`` (POSIX) and ``LockFileEx`` via ``msvcrt.locking`` (Windows) are
released by the OS when their holder exits or is killed, so a dead shim can
never leave a lock behind that blocks the next start; the file itself stays
and is reused. Waiting is polling with a short back-off and a deadline, so
a hung holder costs the waiters a clear error, not a hang.
"""

from __future__ import annotations

import os
import sys
import time

from mcpcred.errors import OAuthError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

_FIRST_DELAY = 0.002
_MAX_DELAY = 0.02


class held:  # lower case: it reads as `with held(path, ...)`
    """Hold the lock on ``path`` for the ``with`` block; ``OAuthError`` after ``timeout`` s.

    ``error``, when given, builds the exception raised on the timeout instead
    (it receives ``what``), so other users of the lock keep their own error.
    ``first_delay`` is the first wait between tries (it doubles up to 20 ms):
    a lock held for microseconds at a time (the audit log's) is worth polling
    sooner than one held for a network round trip.
    """

    __slots__ = ("_fd", "error", "first_delay", "path", "timeout", "what")

    def __init__(
        self,
        path: Path | str,
        *,
        timeout: float,
        what: str,
        error: Callable[[str], Exception] | None = None,
        first_delay: float = _FIRST_DELAY,
    ) -> None:
        self.path = path
        self.first_delay = first_delay
        self.timeout = timeout
        self.what = what
        self.error = error
        self._fd = -1

    def __enter__(self) -> held:
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
        fd = os.open(self.path, flags, 0o600)
        try:
            deadline = time.monotonic() + self.timeout
            delay = self.first_delay
            while not _try_lock(fd):
                if time.monotonic() >= deadline:
                    if self.error is not None:
                        raise self.error(self.what)
                    raise OAuthError(
                        f"another mcpcred process has been refreshing the {self.what} login "
                        f"for over {self.timeout:g} s",
                        hint="it may be stuck on the network; try again, or check the network",
                        error="lock_timeout",
                    )
                time.sleep(delay)
                delay = min(delay * 2, _MAX_DELAY)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        fd, self._fd = self._fd, -1
        try:
            _unlock(fd)
        finally:
            os.close(fd)


def _try_lock(fd: int) -> bool:
    if sys.platform == "win32":  # pragma: no cover - not runnable here
        import msvcrt

        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":  # pragma: no cover - not runnable here
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


def lock_path(folder: Path | str, provider: str, account: str) -> str:
    """The lock file of one login; ``@`` cannot occur in either name, so no two logins share one."""
    return os.path.join(folder, f"oauth-{provider}@{account}.lock")
