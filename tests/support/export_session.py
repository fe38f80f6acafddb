"""What the audit-export end-to-end tests (OTLP and syslog) share.

Both drive one guarded session through a real shim and wait for its records at a
real collector: a warm-up call (the export worker starts with the shim, a Python
start, so the first delivery is slow), then a call carrying a token and a denied
one, timed from the last call to their arrival. Both then stop the worker the
shim started, found through its lock files.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.support.procs import kill_if_running

Arrived = Callable[[str, int], bool]  # (tool, how many calls of it) -> all delivered?
Call = Callable[..., Awaitable[Any]]  # test_guard_e2e.call


def delivery_script(
    call: Call, arrived: Arrived, token: str, denied: str = "get-env"
) -> Callable[[Any], Awaitable[float]]:
    """The session: warm up, then an echo with ``token`` and a call to ``denied``.

    Returns the seconds from the last call until both reached the collector.
    """

    async def script(session: Any) -> float:
        await call(session, "echo", {"message": "warm-up"})
        deadline = time.monotonic() + 30
        while not arrived("echo", 1):
            assert time.monotonic() < deadline, "the worker never delivered"
            await asyncio.sleep(0.05)
        await call(session, "echo", {"message": f"token {token}"})
        await call(session, denied)
        done = time.monotonic()
        while not (arrived("echo", 2) and arrived(denied, 1)):
            assert time.monotonic() - done < 10, "not delivered"
            await asyncio.sleep(0.01)
        return time.monotonic() - done

    return script


def worker_pids(runtime: Path) -> list[int]:
    """The export workers' pids, from their lock files in mcpcred's runtime folder."""
    pids = []
    for lock in runtime.glob("export-*.lock"):
        if lock.name == "export-users.lock":
            continue
        text = lock.read_text().strip()
        if text.isdigit():
            pids.append(int(text))
    return pids


def wait_workers_gone(runtime: Path, timeout: float = 15) -> None:
    """Wait for the workers to leave by themselves (no guarded shim left, all sent)."""
    deadline = time.monotonic() + timeout
    while [p for p in worker_pids(runtime) if kill_if_running(p, "mcpcred", 0)]:
        assert time.monotonic() < deadline, "the worker did not leave"
        time.sleep(0.1)


def stop_workers(runtime: Path) -> None:
    """Kill whatever export worker is still running (a failed test's clean-up)."""
    for pid in worker_pids(runtime):
        kill_if_running(pid, "mcpcred.export.worker")
