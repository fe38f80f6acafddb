"""OpenAI Codex (CLI, IDE, app): TOML ``[mcp_servers.NAME]`` tables.

``$CODEX_HOME/config.toml`` (default ``~/.codex``), a system file, and
project ``.codex/config.toml`` (read only in trusted projects). Codex expands
no variables; it clears the environment of stdio servers except for a short
allow-list plus ``env_vars``, and takes remote credentials by reference
(``bearer_token_env_var``, ``env_http_headers``). Literal ``http_headers`` and
an inline ``bearer_token`` are where plaintext secrets end up.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation
from mcpcred.parsing.nodes import ObjectNode

FILE = "config.toml"


class Codex(ClientAdapter):
    id = "codex"
    display_name = "Codex"
    containers = (("mcp_servers",),)
    header_keys = ("http_headers",)
    project_files = (ProjectFile((".codex", FILE), "toml"),)
    expands = "nothing (env_vars, bearer_token_env_var, env_http_headers name variables)"
    reference_hint = "env_vars, bearer_token_env_var or env_http_headers"
    rewrites_own_file = True
    header_helper = "http_headers_helper"
    remote_only_keys = ("url", "http_headers")
    # values Codex takes from its own environment or sign-in, which a bridge cannot reach
    bridge_blockers = (
        "bearer_token_env_var", "env_http_headers", "http_headers_helper", "oauth", "auth",
        "oauth_resource", "scopes",
    )  # fmt: skip

    def remote_transport(self, node: ObjectNode) -> str:
        """Codex speaks Streamable HTTP only."""
        return "http"

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        codex_home = host.var("CODEX_HOME")
        base = host.path(codex_home) if codex_home else host.user_profile() / ".codex"
        out = [ConfigLocation(self.id, str(base / FILE), "user", "toml")]
        if host.os != "windows":
            out.append(ConfigLocation(self.id, "/etc/codex/config.toml", "system", "toml"))
        return out
