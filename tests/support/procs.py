"""Killing test processes by a pid read from a file, without killing a stranger.

A pid file outlives its process: once the process has exited and been reaped
(by init, after its parent died), the kernel may hand the number to any new
process. A full run of the suite starts thousands of processes, and with
``pid_max`` at 32768 the numbers come round within minutes: a clean-up that
killed "the server's pid" was a suspect for the shared test gnome-keyring
daemon dying mid-suite. So a pid from a file is killed only while it is still
the program the test started.
"""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def command_line(pid: int) -> bytes | None:
    """``/proc/PID/cmdline`` (NUL-separated), or None if there is no such live process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat[stat.rfind(")") + 2] == "Z":
            return None
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, IndexError):
        return None


def kill_if_running(pid: int, program: str, signum: int = signal.SIGKILL) -> bool:
    """Send ``signum`` to ``pid`` only if its command line names ``program``; True if sent.

    ``program`` is a word of the command the test started (``scripted_server.py``,
    ``sleep``): a reused pid belongs to something else and is left alone.
    """
    argv = command_line(pid)
    if argv is None or not any(
        program in part for part in argv.decode(errors="replace").split("\0")
    ):
        return False
    with contextlib.suppress(OSError):
        os.kill(pid, signum)
        return True
    return False
