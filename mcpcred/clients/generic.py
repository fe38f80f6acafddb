"""Any other file that holds MCP servers in the common ``mcpServers`` shape.

Cline, Roo Code, Junie, LM Studio, Amazon Q, Kiro and most server READMEs use
the Claude-style ``mcpServers`` map. When ``audit-config`` is pointed at such a
file it is still scanned with every rule; it is only not listed as a client.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class Generic(ClientAdapter):
    id = "generic"
    display_name = "MCP config"
    containers = (("mcpServers",), ("servers",))
    url_keys = ("url", "serverUrl", "httpUrl")
    file_names = ("cline_mcp_settings.json", "mcp_settings.json", "mcp.json")
    bridge = False  # no known client: no known stdio shape to write

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        return []
