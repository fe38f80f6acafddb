"""LM Studio: ``mcpServers`` in ``~/.lmstudio/mcp.json`` ("Cursor notation").

Checked: lmstudio.ai docs "Use MCP servers" (file, Cursor notation, remote
``url``/``headers`` since 0.3.17) and the reference (Part 1 §13), which also
cites a report of the file at ``~/.cache/lm-studio/mcp.json`` on macOS 0.3.33:
both are read
(the second not on Windows). No project scope; nothing is expanded. The in-app editor and
"Add to LM Studio" links write the file.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class LMStudio(ClientAdapter):
    id = "lm-studio"
    display_name = "LM Studio"
    expands = "nothing"
    rewrites_own_file = True

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        profile = host.user_profile()
        out = [ConfigLocation(self.id, str(profile / ".lmstudio" / "mcp.json"), "user", "json")]
        if host.os != "windows":  # the reported macOS location (0.3.33), also on Linux builds
            cache = profile / ".cache" / "lm-studio" / "mcp.json"
            out.append(ConfigLocation(self.id, str(cache), "user", "json"))
        return out
