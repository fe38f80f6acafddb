"""Claude Desktop: one strict-JSON file per user, servers under ``mcpServers``.

There is no official Linux build; community builds follow XDG. The Windows
Store (MSIX) package keeps a virtualised copy under ``%LOCALAPPDATA%``. The app
does not expand variables and is known to rewrite (and sometimes clobber) its
own file, so it must be quit before a rewrite.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

FILE = "claude_desktop_config.json"


class ClaudeDesktop(ClientAdapter):
    id = "claude-desktop"
    display_name = "Claude Desktop"
    file_names = (FILE,)
    expands = "nothing"
    rewrites_own_file = True

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        if host.os == "macos":
            paths = [host.path(host.home, "Library", "Application Support", "Claude", FILE)]
        elif host.os == "windows":
            paths = [host.appdata() / "Claude" / FILE]
            local = host.var("LOCALAPPDATA")
            if local:
                paths.append(
                    host.path(local, "Packages", "Claude_pzs8sxrjxfjjc", "LocalCache", "Roaming")
                    / "Claude"
                    / FILE
                )
        else:
            paths = [host.xdg_config_home() / "Claude" / FILE]
        return [ConfigLocation(self.id, str(p), "user", "json") for p in paths]
