"""Test isolation: every test runs with a temporary HOME and project directory.

Nothing a test does may read or change the developer's real client configs, so
HOME, the XDG/AppData folders and every variable that moves a client's config
are pointed into ``tmp_path`` (or removed) before each test.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = [
    "tests.support.oauth_fixtures",
    "tests.support.pins",
    "tests.support.keychain_fixtures",
    "pytester",
]

MOVING_VARS = (
    "XDG_CONFIG_HOME", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "CODEX_HOME",
    "CLAUDE_CONFIG_DIR", "GEMINI_CLI_HOME", "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
    "GEMINI_CLI_SYSTEM_DEFAULTS_PATH", "NO_COLOR", "FORCE_COLOR", "MCPCRED_DEBUG",
    "COLUMNS", "XDG_DATA_HOME", "XDG_STATE_HOME", "MCPCRED_DATA_DIR", "PYTHON_KEYRING_BACKEND",
    "MCPCRED_ALLOW_INSECURE_KEYRING", "MCPCRED_CONFIG", "MCPCRED_RUNTIME_DIR", "XDG_RUNTIME_DIR",
    "MCPCRED_PASSPHRASE", "MCPCRED_PASSPHRASE_FILE", "MCPCRED_STORE_FILE",
)  # fmt: skip


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME and a fresh working directory (``project``) for each test."""
    home = tmp_path / "home"
    project = tmp_path / "project"
    home.mkdir()
    project.mkdir()
    for name in MOVING_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(project)
    return home


@pytest.fixture(autouse=True)
def fresh_keyring_choice() -> Iterator[None]:
    """Forget keyring's backend choice after a test that left anything but the Secret Service.

    keyring chooses once per process and keeps the choice; a test that ran under
    ``PYTHON_KEYRING_BACKEND`` (the null or a memory backend) or a file store would
    otherwise decide what ``SecretStore()`` means in every later test of the process.
    """
    yield
    core = sys.modules.get("keyring.core")
    chosen = getattr(core, "_keyring_backend", None)
    if chosen is not None and type(chosen).__module__ != "keyring.backends.SecretService":
        core._keyring_backend = None  # type: ignore[union-attr]


@pytest.fixture
def home(isolated_home: Path) -> Path:
    """The temporary HOME."""
    return isolated_home


@pytest.fixture
def project(isolated_home: Path) -> Path:
    """The temporary project directory (also the working directory)."""
    return Path(os.getcwd())
