"""Claude Code: ``~/.claude.json`` (user and per-project "local" scope) and ``.mcp.json``.

User-scope servers sit at the top level of ``~/.claude.json``; local-scope ones
under ``projects["/abs/path"].mcpServers`` in the same file; project-scope ones
in a committed ``.mcp.json``. ``CLAUDE_CONFIG_DIR`` moves the user file. The
CLI rewrites ``~/.claude.json`` constantly (counters, history), so edits must be
surgical and re-checked before writing. It expands ``${VAR}`` and
``${VAR:-default}`` in command, args, env, url and headers.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

USER_FILE = ".claude.json"
MANAGED_FILE = "managed-mcp.json"


class ClaudeCode(ClientAdapter):
    id = "claude-code"
    display_name = "Claude Code"
    containers = (("mcpServers",), ("projects", "*", "mcpServers"))
    # `servers` (VS Code's key) is an error for Claude Code, but the file still holds secrets.
    project_files = (ProjectFile((".mcp.json",), "json", (("mcpServers",), ("servers",))),)
    file_names = (USER_FILE, ".mcp.json", MANAGED_FILE)
    expands = "${VAR} and ${VAR:-default} in command, args, env, url, headers"
    reference_hint = "${VAR} (Claude Code expands it from its environment)"
    rewrites_own_file = True
    header_helper = "headersHelper"
    stdio_type = "stdio"
    # its own OAuth settings and a helper command of the user's own stay with the client
    bridge_blockers = ("headersHelper", "oauth")
    # Its documented ``oauth`` block ({clientId, callbackPort, scopes, authServerMetadataUrl})
    # holds no secret: Claude Code keeps one given to `claude mcp add --client-secret` in its
    # own credential store, so such a block has nothing to move. A ``clientSecret`` a user
    # put there anyway is a secret in the file like Cursor's or Gemini CLI's, and is moved
    # the same way (the bridge signs in with mcpcred's login, which uses the app).
    oauth_client = ("oauth", "clientId", "clientSecret")
    oauth_client_scopes = ("scopes", "string")
    oauth_client_redirect = ("callbackPort", "port")  # http://localhost:PORT/callback
    oauth_client_fix = (
        "Rotate it, then remove clientSecret from the file: Claude Code keeps an OAuth app's "
        "secret in its own credential store (claude mcp add --client-id ID --client-secret)"
    )

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        config_dir = host.var("CLAUDE_CONFIG_DIR")
        user = host.path(config_dir) if config_dir else host.user_profile()
        if host.os == "macos":
            managed = host.path("/Library/Application Support/ClaudeCode", MANAGED_FILE)
        elif host.os == "windows":
            managed = host.path("C:\\Program Files\\ClaudeCode", MANAGED_FILE)
        else:
            managed = host.path("/etc/claude-code", MANAGED_FILE)
        return [
            ConfigLocation(self.id, str(user / USER_FILE), "user", "json"),
            ConfigLocation(self.id, str(managed), "system", "json"),
        ]
