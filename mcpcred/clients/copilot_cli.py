"""GitHub Copilot CLI: ``mcpServers`` in ``~/.copilot/mcp-config.json`` and workspace files.

Checked: the reference's probe of ``@github/copilot`` 1.0.102 and GitHub's docs
("CLI command reference", "Add MCP servers"). The docs once said
``XDG_CONFIG_HOME`` moves the file; the CLI does not honour it (github/docs
#40682, and the probe): ``COPILOT_HOME`` does. The client wins.

- stdio: ``type`` ``"local"`` or ``"stdio"`` (the same to Copilot), ``command``,
  ``args``, ``env``, ``cwd``, ``tools``, ``timeout``. wrap writes ``"stdio"``:
  the workspace ``.mcp.json`` is Claude Code's file too, which knows ``stdio``
  and not ``local``.
- Remote: ``type`` ``http`` (``streamable-http`` an alias) or ``sse``, ``url``,
  ``headers``; ``oauthClientId``/``oidc`` are Copilot's own sign-in (the bridge
  cannot take them over).
- ``$VAR``, ``${VAR}``, ``${VAR:-default}`` are expanded in env, args, headers.
- Enabled/disabled is not in this file: ``copilot mcp disable`` writes
  ``disabledMcpServers`` to ``~/.copilot/settings.json``.
- A workspace file with a ``//`` comment is skipped silently, so workspace files
  are strict JSON (wrap writes none).
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

FILE = "mcp-config.json"


class CopilotCli(ClientAdapter):
    id = "copilot-cli"
    display_name = "GitHub Copilot CLI"
    project_files = (
        ProjectFile((".mcp.json",), "json"),
        ProjectFile((".github", "mcp.json"), "json"),
    )
    file_names = (FILE,)
    strict_json_scopes = frozenset({"project"})
    expands = "$VAR, ${VAR}, ${VAR:-default} in env, args, headers"
    reference_hint = "${VAR} (Copilot CLI expands it from its environment)"
    stdio_type = "stdio"
    bridge_blockers = ("oauthClientId", "oauthGrantType", "oidc")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        home = host.var("COPILOT_HOME")
        base = host.path(home) if home else host.user_profile() / ".copilot"
        return [ConfigLocation(self.id, str(base / FILE), "user", "jsonc")]
