"""Kiro (IDE and ``kiro-cli``): ``mcpServers`` in ``.kiro/settings/mcp.json`` and agent files.

Checked: kiro.dev docs ("IDE > MCP > Configuration", "CLI > MCP"), as the
reference read them; Kiro is closed source and cannot be installed here (its
installer downloads from AWS), so nothing was run.

- User ``~/.kiro/settings/mcp.json``, workspace ``.kiro/settings/mcp.json``
  (workspace wins); CLI agents ``~/.kiro/agents/*.json`` carry ``mcpServers`` of
  their own. Only the ``~/.kiro`` form is documented, on every OS.
- stdio ``command``, ``args``, ``env``, ``disabled``, ``autoApprove``,
  ``disabledTools``; remote ``url``, ``headers``, ``oauth`` (Kiro's own sign-in:
  the bridge does not take it over), ``oauthScopes``. No ``type`` key.
- ``${VAR}`` in ``env`` is expanded (CLI >= 2.4.0 only for names approved in
  ``kiroAgent.mcpApprovedEnvVars``); headers take ``${env:VAR}``.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class Kiro(ClientAdapter):
    id = "kiro"
    display_name = "Kiro"
    project_files = (ProjectFile((".kiro", "settings", "mcp.json"), "json"),)
    expands = "${VAR} in env (approved names only, CLI 2.4+), ${env:VAR} in headers"
    reference_hint = "${VAR} in env (approved in kiroAgent.mcpApprovedEnvVars)"
    remote_only_keys = ("type", "url", "headers", "oauthScopes")
    bridge_blockers = ("oauth",)

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        base = host.user_profile() / ".kiro"
        return [
            ConfigLocation(self.id, str(base / "settings" / "mcp.json"), "user", "json"),
            ConfigLocation(self.id, str(base / "agents" / "*.json"), "user", "json"),
        ]
