"""The test clean-up that kills by pid file leaves a process it did not start alone."""

from __future__ import annotations

import subprocess
import sys

from tests.support.procs import kill_if_running


def test_a_reused_pid_running_something_else_is_not_killed() -> None:
    # A pid file that now names another program (the pid was reused): left alone.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not kill_if_running(stranger.pid, "scripted_server.py")
        assert stranger.poll() is None
        assert kill_if_running(stranger.pid, "time.sleep(30)")
        assert stranger.wait(5) < 0
    finally:
        stranger.kill()
        stranger.wait(5)


def test_a_gone_process_is_not_signalled() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait(5)
    assert not kill_if_running(gone.pid, "python")
