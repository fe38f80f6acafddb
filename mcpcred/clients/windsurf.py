"""Windsurf (Cascade): ``~/.codeium/windsurf/mcp_config.json``, key ``mcpServers``.

Remote entries use ``serverUrl`` (``url`` is accepted too); ``${env:VAR}`` is
expanded in command, args, env, serverUrl, url and headers.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

FILE = "mcp_config.json"


class Windsurf(ClientAdapter):
    id = "windsurf"
    display_name = "Windsurf"
    url_keys = ("serverUrl", "url")
    project_files = (ProjectFile((".windsurf", FILE), "json"),)
    file_names = (FILE,)
    expands = "${env:VAR} in command, args, env, serverUrl, url, headers"
    reference_hint = "${env:VAR}"
    remote_only_keys = ("type", "serverUrl", "url", "headers")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        base = host.user_profile() / ".codeium"
        return [
            ConfigLocation(self.id, str(base / variant / FILE), "user", "json")
            for variant in ("windsurf", "windsurf-next")
        ]
