"""The test clean-up that kills by pid file leaves a process it did not start alone."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.support.procs import command_line, kill_if_running


def test_a_reused_pid_running_something_else_is_not_killed() -> None:
    # A pid file that now names another program (the pid was reused): left alone.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd (before, it is a copy of us)
        while b"time.sleep(30)" not in (command_line(stranger.pid) or b""):
            assert time.monotonic() < deadline, "the child never started"
            time.sleep(0.01)
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
