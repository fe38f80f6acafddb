"""Fixtures and helpers for tests of guard mode's pinned tool definitions.

The fixtures are registered for the whole suite by ``pytest_plugins`` in
``tests/conftest.py``; a test module's own ``pin_data`` or ``pin_store`` fixture overrides them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcpcred.guard.pins import PinStore, client_key

# The client key of ``mcpcred shim --client claude-code`` for a client with no capabilities.
CLIENT = client_key("claude-code", None, {})


def tool(name: str, description: str = "Reads things") -> dict[str, object]:
    """A tool definition as a server lists it, with one ``path`` argument."""
    return {
        "name": name,
        "description": description,
        "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
    }


@pytest.fixture
def pin_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mcpcred's data folder (``MCPCRED_DATA_DIR``) for this test only, not yet created."""
    folder = tmp_path / "data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def pin_store(pin_data: Path) -> PinStore:
    """The pin store in ``pin_data``, where ``mcpcred pins`` and ``audit-config`` look."""
    return PinStore(str(pin_data / "pins"))


# Write-only even for root: procfs checks the mode bits for every user.
_WRITE_ONLY = Path("/proc/sys/vm/drop_caches")


def make_unreadable(path: Path) -> None:
    """Put a file at ``path`` that opening for reading fails on with "permission denied".

    A mode-0 file does it for an ordinary user; root reads any file, so as root
    ``path`` becomes a symlink to a write-only procfs file instead.
    """
    if os.geteuid() != 0:
        path.write_text("{}")
        path.chmod(0)
    else:
        path.symlink_to(_WRITE_ONLY)
    with pytest.raises(PermissionError):
        path.open("rb")
