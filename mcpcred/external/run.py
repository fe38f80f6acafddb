"""Running a password manager's command: no shell, no stdin, a deadline, stderr in one line.

The value comes on stdout, so stdout is never quoted anywhere; stderr may
explain a failure, so its last line is kept, with anything that looks like the
value or a long token cut out. The child gets its own session: a terminal
pinentry or password prompt cannot draw over the client's terminal UI (a
graphical pinentry still can ask), and on a timeout the whole group is killed.
Its stdin is empty: the shim's stdin is the client's JSON-RPC stream, which
belongs to the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from mcpcred.errors import ExternalUnavailable

MAX_OUTPUT = 1 << 20  # a credential is never a megabyte; more is a wrong command
_LONG = re.compile(r"[A-Za-z0-9+/=_.:-]{32,}")  # token-like runs: never echoed
_LOG_PREFIX = re.compile(r"^\[[A-Z]+\] \d{4}/\d\d/\d\d \d\d:\d\d:\d\d ")  # op's "[ERROR] date "


class Result:
    """What a command gave: its exit status, stdout (the value) and stderr's last line."""

    __slots__ = ("code", "stderr", "stdout")

    def __init__(self, code: int, stdout: bytes, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr  # every line, for matching; never shown whole

    def line(self) -> str:
        """The last non-empty stderr line, safe to show."""
        return one_line(self.stderr, self.stdout)


def run(argv: list[str], environ: Mapping[str, str], timeout: float, what: str) -> Result:
    """Run ``argv`` (``argv[0]`` looked up on ``environ``'s PATH) within ``timeout`` seconds."""
    import subprocess
    import sys

    try:
        child = subprocess.Popen(  # an argv the user wrote; no shell
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(environ),
            start_new_session=sys.platform != "win32",
        )
    except FileNotFoundError:
        raise ExternalUnavailable(
            f"{what}: {argv[0]!r} is not installed or not on the server's PATH",
            hint="GUI clients do not see your shell's PATH: set PATH in the server's env",
        ) from None
    except OSError as exc:
        raise ExternalUnavailable(f"{what}: cannot run {argv[0]!r}: {exc.strerror}") from None
    out = _Reader(child.stdout)
    err = _Reader(child.stderr)
    try:
        code = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(child)
        raise ExternalUnavailable(
            f"{what}: {argv[0]!r} did not answer within {timeout:g} s",
            hint="it may be waiting for an unlock prompt; unlock it, or raise the shim's --timeout",
        ) from None
    # The command has exited; what it wrote is in the pipes. A daemon it left behind may
    # hold them open (an agent it started), so wait for the end of the output briefly only.
    out.join(GRACE)
    err.join(GRACE)
    if out.overflow:
        raise ExternalUnavailable(f"{what}: {argv[0]!r} printed more than 1 MiB")
    return Result(code, out.data(), err.data().decode("utf-8", "replace"))


GRACE = 1.0  # seconds to wait for the pipes once the command has exited


class _Reader:
    """Drains one pipe in a thread (bounded), so a full pipe never blocks the command."""

    def __init__(self, stream: object) -> None:
        import threading

        self.stream = stream
        self.chunks: list[bytes] = []
        self.size = 0
        self.overflow = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        import contextlib
        import os

        fd = self.stream.fileno()  # type: ignore[attr-defined]
        try:
            while chunk := os.read(fd, 65536):
                if self.size + len(chunk) > MAX_OUTPUT:
                    self.overflow = True
                    continue  # keep draining, keep nothing more
                self.chunks.append(chunk)
                self.size += len(chunk)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            self.stream.close()  # type: ignore[attr-defined]

    def join(self, timeout: float) -> None:
        self.thread.join(timeout)

    def data(self) -> bytes:
        return b"".join(self.chunks)


def _kill(child: object) -> None:
    """Kill the command and whatever it started in its session; reap it."""
    import contextlib
    import os
    import signal
    import subprocess

    assert isinstance(child, subprocess.Popen)  # noqa: S101
    with contextlib.suppress(OSError):
        if hasattr(os, "killpg"):
            os.killpg(child.pid, signal.SIGKILL)
        else:  # pragma: no cover - Windows
            child.kill()
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        child.wait(timeout=1)  # reaped; the pipes' readers end with the session


def one_line(stderr: str, stdout: bytes) -> str:
    """The last non-empty line of ``stderr``, without the value, long tokens or controls."""
    from mcpcred.terminal import printable

    text = stderr
    value = stdout.decode("utf-8", "replace")
    for piece in sorted({p.strip() for p in value.splitlines()}, key=len, reverse=True):
        if len(piece) >= 4:
            text = text.replace(piece, "[value]")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "no error message"
    line = _LOG_PREFIX.sub("", lines[-1])
    line = _LONG.sub("[...]", line)
    line = printable(line)
    return line if len(line) <= 200 else line[:197] + "..."


def text(stdout: bytes, what: str) -> str:
    """``stdout`` as the value: UTF-8, no trailing line break, no NUL, not empty."""
    from mcpcred.errors import ExternalNotFound, ExternalSecretError

    try:
        value = stdout.decode("utf-8")
    except UnicodeDecodeError:
        raise ExternalSecretError(f"{what}: the value is not UTF-8 text") from None
    value = value.rstrip("\r\n")
    if not value:
        raise ExternalNotFound(f"{what}: the value is empty")
    if "\0" in value:
        raise ExternalSecretError(f"{what}: the value holds a NUL character")
    return value


def lowered(result: Result) -> str:
    """stderr in lower case, for matching a tool's known messages."""
    return result.stderr.lower()
