"""Where mcpcred keeps its own files (never secrets: those live in the keychain).

The data folder holds the secret index (names and dates), the backups ``wrap``
makes (already without secrets) and the wrap records ``unwrap`` uses. It comes
from platformdirs, so it follows each OS's convention (``XDG_DATA_HOME`` on
Linux, ``~/Library/Application Support`` on macOS, ``%LOCALAPPDATA%`` on
Windows); ``MCPCRED_DATA_DIR`` moves it. Folders are created private (0700).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_VAR = "MCPCRED_DATA_DIR"


def data_dir() -> Path:
    """mcpcred's data folder, created with mode 0700 if missing."""
    override = os.environ.get(DATA_DIR_VAR)
    if override:
        path = Path(override)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("mcpcred", appauthor=False))
    return private_dir(path)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only the user can enter (it and any parent it creates)."""
    missing = [p for p in [path, *path.parents] if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    return path
