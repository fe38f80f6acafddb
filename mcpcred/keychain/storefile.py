"""Where the encrypted file store lives: the one thing every server start asks of it.

Kept apart from ``filestore`` (the format, the KDF, the AEAD) because the shim
checks for the store file on every start, the Secret Service path included,
and that check must cost a ``stat``, not an import of the store's machinery.
Stdlib only; no platformdirs or pathlib, following ``mcpcred.paths.data_dir``'s rules.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

FILE_NAME = "store.enc"
STORE_FILE_VAR = "MCPCRED_STORE_FILE"


def default_path(environ: Mapping[str, str]) -> str:
    """Where the store file lives: ``$MCPCRED_STORE_FILE``, else ``store.enc`` in the data folder.

    Computed without platformdirs or pathlib (the shim calls this on every start),
    following the same rules as ``mcpcred.paths.data_dir``.
    """
    explicit = environ.get(STORE_FILE_VAR)
    if explicit:
        return explicit
    return os.path.join(data_folder(environ), FILE_NAME)


def data_folder(environ: Mapping[str, str]) -> str:
    """mcpcred's data folder (``$MCPCRED_DATA_DIR``, else the platform's), without imports."""
    return environ.get("MCPCRED_DATA_DIR") or _platform_data_dir(environ)


def _platform_data_dir(environ: Mapping[str, str]) -> str:
    home = environ.get("HOME") or os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "mcpcred")
    if sys.platform == "win32":  # pragma: no cover - not runnable here
        local = environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
        return os.path.join(local, "mcpcred")
    xdg = environ.get("XDG_DATA_HOME", "").strip()
    return os.path.join(xdg or os.path.join(home, ".local", "share"), "mcpcred")
