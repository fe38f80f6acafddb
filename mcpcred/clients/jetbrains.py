"""JetBrains Junie (IDE plugin and CLI): ``mcpServers`` in ``.junie/mcp/mcp.json``.

Checked: JetBrains' Junie docs ("MCP settings": user ``~/.junie/mcp/mcp.json``,
project ``.junie/mcp/mcp.json``, Claude-style ``command``/``args``/``env``) and
the reference (Part 1 §12). Junie's docs speak of stdio servers only; third
parties report ``url``/``headers`` too, which are read like any remote entry.
JetBrains AI Assistant keeps its MCP servers in the IDE's own settings (entered
in Settings > Tools > AI Assistant > MCP, no documented file): not covered.
Nothing is expanded.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class JetBrains(ClientAdapter):
    id = "jetbrains"
    display_name = "JetBrains Junie"
    project_files = (ProjectFile((".junie", "mcp", "mcp.json"), "json"),)
    expands = "nothing"

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        path = host.user_profile() / ".junie" / "mcp" / "mcp.json"
        return [ConfigLocation(self.id, str(path), "user", "json")]
