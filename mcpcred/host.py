"""The machine a command runs for: OS kind, environment, home and working directory.

Client adapters compute config paths from a ``Host`` instead of reading
``sys.platform`` and ``os.environ`` themselves, so the path tables for macOS,
Windows and Linux can all be tested on any one machine, and tests can point a
command at a temporary HOME without patching globals.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath, PurePosixPath, PureWindowsPath


@dataclass(frozen=True, slots=True)
class Host:
    """What path computations need to know about a machine."""

    os: str  # "linux" | "macos" | "windows"
    env: Mapping[str, str]
    home: str
    cwd: str

    @classmethod
    def current(cls) -> Host:
        """The machine this process runs on."""
        if sys.platform == "win32":
            kind = "windows"
        elif sys.platform == "darwin":
            kind = "macos"
        else:
            kind = "linux"
        return cls(kind, dict(os.environ), os.path.expanduser("~"), os.getcwd())

    def path(self, *parts: str) -> PurePath:
        """Join parts with this host's path flavour."""
        flavour: type[PurePath] = PureWindowsPath if self.os == "windows" else PurePosixPath
        return flavour(*parts)

    def var(self, name: str) -> str | None:
        """An environment variable, None when unset or empty (as the clients treat it)."""
        value = self.env.get(name)
        return value or None

    def xdg_config_home(self) -> PurePath:
        """``$XDG_CONFIG_HOME`` or ``~/.config`` (Linux and the Linux-style clients)."""
        value = self.var("XDG_CONFIG_HOME")
        if value and self.path(value).is_absolute():
            return self.path(value)
        return self.path(self.home, ".config")

    def appdata(self) -> PurePath:
        """``%APPDATA%`` or its default under the profile (Windows)."""
        value = self.var("APPDATA")
        return self.path(value) if value else self.path(self.home, "AppData", "Roaming")

    def user_profile(self) -> PurePath:
        """``%USERPROFILE%`` on Windows, else HOME: where dot-folders such as ``.cursor`` live."""
        if self.os == "windows":
            value = self.var("USERPROFILE")
            if value:
                return self.path(value)
        return self.path(self.home)
