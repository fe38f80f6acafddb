"""The shared real keychain for tests, and what happens when its daemon dies under one.

A plugin (listed in ``tests/conftest.py``'s ``pytest_plugins``) so that a test can run
an inner pytest session with exactly these fixtures and hook (``-p``): see
``tests/keychain/test_fixture_heals.py``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import keychain as real_keychain

# What happened to the shared keyring daemon, for the end of the run: pytest captures a
# test's stderr (fd 2 included) and shows it only when the test fails.
_EVENTS: list[str] = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[object]:
    """A test that fails because the shared keyring daemon died under it says so.

    Its own error (a secret "missing", a "locked" keychain) would blame the code under
    test; ``KeyringDaemonDied`` names the real cause, and only that error is rerun
    (once, ``only_rerun`` in pyproject.toml), after the ``keychain`` fixture healed the
    daemon. The test's own error stays attached as the cause. A death under a test that
    passed is listed at the end of the run: it names the test that may have caused it.
    """
    env = item.funcargs.get("secret_service") if hasattr(item, "funcargs") else None
    if not isinstance(env, dict):
        return (yield)
    try:
        result = yield
    except Exception as exc:
        gone = _died(env, item, "failed")
        if gone is None:
            raise
        raise real_keychain.KeyringDaemonDied(
            f"the shared gnome-keyring-daemon {gone} died while this test ran; its "
            f"failure ({type(exc).__name__}) says nothing about the code under test"
        ) from exc
    _died(env, item, "passed")
    return result


def _died(env: dict[str, str], item: pytest.Item, outcome: str) -> int | None:
    """The pid of the daemon serving ``env`` if it is no longer the bus's Secret Service."""
    pid = real_keychain.serving(env)
    now = real_keychain.owner_pid(env)
    if pid is None or now == pid:
        return None
    _EVENTS.append(
        f"gnome-keyring-daemon {pid} died during {item.nodeid} ({outcome}; the bus's "
        f"Secret Service is now {now or 'nobody'})"
    )
    return pid


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Every death and restart of the shared keyring daemon, where the run's log shows it."""
    if _EVENTS:
        terminalreporter.section("shared test keychain")
        for line in _EVENTS:
            terminalreporter.line(line)


@pytest.fixture(scope="session")
def secret_service() -> Iterator[dict[str, str]]:
    """One real, unlocked Secret Service (gnome-keyring on a private D-Bus) for the session.

    Yields the variables that lead a client to it (see ``tests/support/keychain.py``);
    the keyring's files live in the session's own temp dir, never in a test's HOME.
    """
    with real_keychain.real_secret_service() as env:
        yield env


@pytest.fixture
def keychain(secret_service: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The real keychain, emptied of ``mcpcred`` items, in this test's environment.

    The variables are set with monkeypatch, so processes the test starts inherit them;
    keyring's backend overrides are removed so that ``keyring`` finds the Secret Service.
    """
    gone = real_keychain.heal(secret_service)
    if gone is not None:  # listed at the end of the run: an earlier test took the daemon down
        _EVENTS.append(
            f"gnome-keyring-daemon {gone} was gone before "
            f"{os.environ.get('PYTEST_CURRENT_TEST', '?')}; started again, unlocked"
        )
    real_keychain.clear(secret_service, "mcpcred")
    for name, value in secret_service.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PYTHON_KEYRING_BACKEND", raising=False)
    monkeypatch.delenv("MCPCRED_ALLOW_INSECURE_KEYRING", raising=False)
    return secret_service
