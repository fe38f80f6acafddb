"""The shared test keychain survives its daemon dying (one test's accident is not every test's)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support import keychain as real_keychain


def test_a_dead_keyring_daemon_is_started_again_unlocked(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "before", "v1")
    pid = real_keychain.owner_pid(keychain)
    assert pid is not None
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
    pid = real_keychain.owner_pid(keychain)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="locked"):  # D-Bus activates a daemon, locked
        real_keychain.store(keychain, "mcpcred", "x", "v")
    assert real_keychain.heal(keychain) == pid
    real_keychain.store(keychain, "mcpcred", "x", "v")
    assert real_keychain.lookup(keychain, "mcpcred", "x") == "v"


_INNER = """
import os, signal, time
from pathlib import Path

from tests.support import keychain as real_keychain


def test_the_daemon_dies_under_it(keychain):
    first = Path(os.environ["INNER_MARK"])
    if not first.exists():
        first.write_text("ran")
        os.kill(real_keychain.owner_pid(keychain), signal.SIGKILL)
        time.sleep(0.3)
        assert real_keychain.lookup(keychain, "mcpcred", "x") == "v"  # None: locked
    real_keychain.store(keychain, "mcpcred", "x", "v")
    assert real_keychain.lookup(keychain, "mcpcred", "x") == "v"


def test_its_own_bug(keychain):
    real_keychain.store(keychain, "mcpcred", "y", "v")
    assert real_keychain.lookup(keychain, "mcpcred", "y") == "w"
"""


def test_only_a_test_whose_keyring_died_under_it_is_rerun(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The suite's own rerun settings, in an inner session with its own private keyring:
    the test whose daemon was killed fails with KeyringDaemonDied and passes on its
    rerun; a test that fails on its own is not rerun."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).parents[2]
    options = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    (only,) = options["only_rerun"]
    pytester.makeini(f"[pytest]\nreruns = {options['reruns']}\nonly_rerun = {only}\n")
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.setenv("INNER_MARK", str(pytester.path / "first-run"))
    pytester.makepyfile(test_inner=_INNER)

    result = pytester.runpytest_subprocess("-p", "tests.support.keychain_fixtures", "-raR")

    text = result.stdout.str()
    outcomes = result.parseoutcomes()
    assert (outcomes.get("passed"), outcomes.get("failed"), outcomes.get("rerun")) == (1, 1, 1), (
        text
    )
    assert "RERUN test_inner.py::test_the_daemon_dies_under_it" in text
    assert "FAILED test_inner.py::test_its_own_bug" in text
    assert "= shared test keychain =" in text  # the run's end says what happened, and where
    assert "died during test_inner.py::test_the_daemon_dies_under_it (failed;" in text
    assert "was gone before test_inner.py::test_the_daemon_dies_under_it" in text
