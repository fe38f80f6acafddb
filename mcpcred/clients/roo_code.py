"""Roo Code: ``mcpServers`` in the extension's ``mcp_settings.json`` and ``.roo/mcp.json``.

Checked: docs.roocode.com "Using MCP in Roo Code" (global file, project
``.roo/mcp.json`` that wins on a name clash, the fields below) and the
reference (Part 1 §15).

- Global: ``<editor User folder>/globalStorage/rooveterinaryinc.roo-cline/
  settings/mcp_settings.json`` for VS Code and its forks; project
  ``.roo/mcp.json``.
- stdio ``command``, ``args``, ``cwd``, ``env``, ``alwaysAllow``, ``disabled``,
  ``timeout``, ``disabledTools``; remote ``type`` ``streamable-http`` or
  ``sse``, ``url``, ``headers``.
- Roo injects ``${env:VAR}`` (and ``${workspaceFolder}``) into server configs.
- The UI rewrites the file (toggles, "always allow").
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.clients.cline import editor_user_dirs
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

FILE = "mcp_settings.json"
EXTENSION = "rooveterinaryinc.roo-cline"


class RooCode(ClientAdapter):
    id = "roo-code"
    display_name = "Roo Code"
    project_files = (ProjectFile((".roo", "mcp.json"), "json"),)
    file_names = (FILE,)
    expands = "${env:VAR}, ${workspaceFolder}"
    reference_hint = "${env:VAR}"
    rewrites_own_file = True

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        return [
            ConfigLocation(
                self.id,
                str(host.path(user, "globalStorage", EXTENSION, "settings", FILE)),
                "user",
                "json",
            )
            for user in editor_user_dirs(host)
        ]
