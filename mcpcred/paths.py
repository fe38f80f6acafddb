"""Where mcpcred keeps its own files (never secrets: those live in the keychain).

The data folder holds the secret index (names and dates), the backups ``wrap``
makes (already without secrets) and the wrap records ``unwrap`` uses. It comes
from platformdirs, so it follows each OS's convention (``XDG_DATA_HOME`` on
Linux, ``~/Library/Application Support`` on macOS, ``%LOCALAPPDATA%`` on
Windows); ``MCPCRED_DATA_DIR`` moves it. Folders are created private (0700).
"""

from __future__ import annotations

import os

# ``pathlib`` costs the shim ~3 ms; only ``runtime_path`` (the shim's) avoids it.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

DATA_DIR_VAR = "MCPCRED_DATA_DIR"
CONFIG_VAR = "MCPCRED_CONFIG"
RUNTIME_DIR_VAR = "MCPCRED_RUNTIME_DIR"


def data_dir() -> Path:
    """mcpcred's data folder, created with mode 0700 if missing."""
    from pathlib import Path

    override = os.environ.get(DATA_DIR_VAR)
    if override:
        path = Path(override)
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir("mcpcred", appauthor=False))
    return private_dir(path)


def private_dir(path: Path) -> Path:
    """``path`` as a folder only the user can enter (it and any parent it creates)."""
    try:
        missing = [p for p in [path, *path.parents] if not p.exists()]
        for folder in reversed(missing):
            folder.mkdir(mode=0o700, exist_ok=True)
        if not path.is_dir():
            raise NotADirectoryError(20, "a file is in the way, not a folder")
    except OSError as exc:  # a file in the way, a name too long, a read-only disk: user input
        from mcpcred.errors import ConfigError

        raise ConfigError(
            f"cannot create the folder {path}: {exc.strerror or type(exc).__name__}",
            hint=f"check {DATA_DIR_VAR}, XDG_DATA_HOME, {RUNTIME_DIR_VAR} and HOME",
        ) from None
    return path


def config_file() -> Path:
    """mcpcred's own settings file (TOML; may not exist). ``MCPCRED_CONFIG`` moves it."""
    from pathlib import Path

    override = os.environ.get(CONFIG_VAR)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("mcpcred", appauthor=False)) / "config.toml"


def runtime_dir() -> Path:
    """``runtime_path`` as a ``Path``."""
    from pathlib import Path

    return Path(runtime_path())


def runtime_path() -> str:
    """A private folder for lock files, created 0700.

    Locks belong in the per-login runtime folder (``$XDG_RUNTIME_DIR`` on
    Linux: a tmpfs that only this user can enter and that is emptied at
    logout), so a lock can never outlive the session. Where there is none, a
    ``run`` folder inside the data folder does: the locks are advisory and the
    OS drops them when their holder dies, so a leftover file blocks nobody.
    ``MCPCRED_RUNTIME_DIR`` moves it.
    """
    override = os.environ.get(RUNTIME_DIR_VAR)
    if override:
        return _private(override)
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and _own_private_dir(xdg):
        return _private(os.path.join(xdg, "mcpcred"))
    return str(private_dir(data_dir() / "run"))


def _private(path: str) -> str:
    """``private_dir`` without pathlib, for the shim."""
    if not os.path.isdir(path):
        try:
            os.makedirs(path, mode=0o700, exist_ok=True)
        except OSError as exc:
            from mcpcred.errors import ConfigError

            raise ConfigError(
                f"cannot create the folder {path}: {exc.strerror or type(exc).__name__}",
                hint=f"check {RUNTIME_DIR_VAR}, {DATA_DIR_VAR} and HOME",
            ) from None
    return path


def _own_private_dir(path: str) -> bool:
    try:
        info = os.stat(path)
    except OSError:
        return False
    getuid = getattr(os, "getuid", None)
    return getuid is None or (info.st_uid == getuid() and info.st_mode & 0o077 == 0)


PROJECT_FILE = "mcpcred.toml"


def project_file(start: str) -> str | None:
    """The nearest ``mcpcred.toml`` at or above ``start``, not above a repository root.

    Both ``audit-config`` (its ``[audit]`` section) and the shim (``[servers.NAME]``)
    look for it the same way; the shim does on every server start, so: stats only.
    """
    current = os.path.abspath(start)
    while True:
        candidate = os.path.join(current, PROJECT_FILE)
        if os.path.isfile(candidate):
            return candidate
        if os.path.exists(os.path.join(current, ".git")):
            return None
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent
