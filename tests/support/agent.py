"""A private runtime folder for the key agent, and an agent that never outlives its test.

Socket paths are limited to ~107 bytes, which a pytest ``tmp_path`` plus
``.local/share/mcpcred/run/agent.sock`` can exceed, so each test gets a short
folder of its own in the system temp dir (``MCPCRED_RUNTIME_DIR``). Whatever
agent answers there at the end is stopped, and killed if it does not go.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mcpcred.keychain import agent
from tests.support.procs import command_line, kill_if_running

KEY = bytes(range(7, 39))  # 32 bytes, none of them printable text on its own


@contextmanager
def runtime_folder() -> Iterator[Path]:
    """A fresh 0700 folder with a short path; removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="mca-"))
    try:
        folder = base / "r"
        folder.mkdir(mode=0o700)
        yield folder
    finally:
        shutil.rmtree(base, ignore_errors=True)


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` ended (or became a zombie) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if command_line(pid) is None:
            return True
        time.sleep(0.02)
    return False


def end_agent(environ: dict[str, str]) -> None:
    """Stop the agent of ``environ`` if one answers; kill it if it does not go."""
    try:
        running = agent.status(environ)
    except Exception:  # a test may have left the folder hostile on purpose
        running = None
    if running is None:
        return
    agent.stop(environ)
    if not wait_gone(running.pid, 5.0):
        kill_if_running(running.pid, "mcpcred")
        wait_gone(running.pid, 5.0)


def foreground(environ: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    """``mcpcred agent serve ARGS`` in the foreground with stderr into ``log``; ready when it returns."""
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "mcpcred", "agent", "serve", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, **environ},
        )
    deadline = time.monotonic() + 15.0
    while agent.status(environ) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            raise AssertionError(f"the agent did not start: {log.read_text()}")
        time.sleep(0.02)
    return process
