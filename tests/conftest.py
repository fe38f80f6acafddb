"""Test isolation: every test runs with a temporary HOME and project directory.

Nothing a test does may read or change the developer's real client configs, so
HOME, the XDG/AppData folders and every variable that moves a client's config
are pointed into ``tmp_path`` (or removed) before each test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

MOVING_VARS = (
    "XDG_CONFIG_HOME", "APPDATA", "LOCALAPPDATA", "USERPROFILE", "CODEX_HOME",
    "CLAUDE_CONFIG_DIR", "GEMINI_CLI_HOME", "GEMINI_CLI_SYSTEM_SETTINGS_PATH",
    "GEMINI_CLI_SYSTEM_DEFAULTS_PATH", "NO_COLOR", "FORCE_COLOR", "MCPCRED_DEBUG",
    "COLUMNS",
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


@pytest.fixture
def home(isolated_home: Path) -> Path:
    """The temporary HOME."""
    return isolated_home


@pytest.fixture
def project(isolated_home: Path) -> Path:
    """The temporary project directory (also the working directory)."""
    return Path(os.getcwd())
