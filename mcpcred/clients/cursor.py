"""Cursor: ``~/.cursor/mcp.json`` and a project ``.cursor/mcp.json``, key ``mcpServers``.

Cursor expands ``${env:NAME}``, ``${userHome}`` and ``${workspaceFolder}`` in
command, args, env, url and headers; remote entries may carry a static OAuth
client in ``auth`` (``CLIENT_SECRET`` is a secret).
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class Cursor(ClientAdapter):
    id = "cursor"
    display_name = "Cursor"
    project_files = (ProjectFile((".cursor", "mcp.json"), "json"),)
    expands = "${env:NAME}, ${userHome}, ${workspaceFolder} in command, args, env, url, headers"
    reference_hint = "${env:VAR}"
    bridge_blockers = ("auth",)  # a static OAuth client Cursor signs in with itself
    oauth_client = ("auth", "CLIENT_ID", "CLIENT_SECRET")
    oauth_client_scopes = ("scopes", "list")  # asked for instead of the server's scopes_supported

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        path = host.user_profile() / ".cursor" / "mcp.json"
        return [ConfigLocation(self.id, str(path), "user", "json")]
