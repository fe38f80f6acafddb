"""The shared test keychain survives its daemon dying (one test's accident is not every test's)."""

from __future__ import annotations

import os
import signal
import time

from tests.support import keychain as real_keychain


def test_a_dead_keyring_daemon_is_started_again_unlocked(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "before", "v1")
    words = real_keychain._bus_call({**os.environ, **keychain}, "GetConnectionUnixProcessID")
    pid = int(words.split()[-1])
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    assert real_keychain.heal(keychain) == pid
    real_keychain.store(keychain, "mcpcred", "after", "v2")  # raises on a locked collection
    assert real_keychain.lookup(keychain, "mcpcred", "after") == "v2"
    assert real_keychain.lookup(keychain, "mcpcred", "before") == "v1"  # the same keyring file
    assert real_keychain.heal(keychain) is None  # healthy: nothing to do


def test_a_daemon_activated_locked_is_replaced_by_an_unlocked_one(
    keychain: dict[str, str],
) -> None:
    import pytest

    words = real_keychain._bus_call({**os.environ, **keychain}, "GetConnectionUnixProcessID")
    pid = int(words.split()[-1])
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="locked"):  # D-Bus activates a daemon, locked
        real_keychain.store(keychain, "mcpcred", "x", "v")
    assert real_keychain.heal(keychain) == pid
    real_keychain.store(keychain, "mcpcred", "x", "v")
    assert real_keychain.lookup(keychain, "mcpcred", "x") == "v"
