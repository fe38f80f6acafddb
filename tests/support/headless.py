"""A headless machine for the file store's end-to-end tests: its environment, the CLI, a pty.

Shared by the file store, agent and container tests (a test module importing
another's private helpers is how they started; they live here instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
# A server that prints the argv and environment it was started with, as JSON.
REPORT = "import json, os, sys; print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ)}))"


def headless(home: Path, **extra: str) -> dict[str, str]:
    """A container's environment: no session bus, an empty runtime dir, no keychain."""
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env.update({"HOME": str(home), "XDG_RUNTIME_DIR": ""})
    env.update(extra)
    return env


def run_cli(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCRED, *args],
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def converse(
    args: list[str],
    replies: list[tuple[str, str]],
    env: dict[str, str],
    *,
    pause: float = 0.0,
    program: list[str] | None = None,
) -> tuple[int, str]:
    """Run mcpcred on a real terminal (a pty), answering each prompt when it appears
    (``pause`` seconds after it appears: a person typing slowly)."""
    import pty
    import select
    import time

    argv = program or [sys.executable, "-m", "mcpcred", *args]
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes mcpcred
        os.execve(argv[0], argv, env)  # noqa: S606
    output = b""

    def read_some() -> bool:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            return False
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            return False
        nonlocal output
        output += data
        return bool(data)

    for prompt, reply in replies:
        while prompt.encode() not in output:
            if not read_some():
                break
        time.sleep(pause)
        os.write(fd, reply.encode() + b"\n")
        output = output.replace(prompt.encode(), b"<asked>", 1)
    while read_some():
        pass
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), output.decode(errors="replace")
