"""Gemini CLI: ``mcpServers`` in ``~/.gemini/settings.json`` and ``.gemini/settings.json``.

The files are JSON with comments. ``GEMINI_CLI_HOME`` moves the folder that
holds ``.gemini``; system settings and defaults live in an OS-specific folder
unless ``GEMINI_CLI_SYSTEM_SETTINGS_PATH`` / ``..._DEFAULTS_PATH`` name them.
Remote entries use ``httpUrl`` (Streamable HTTP) or ``url``. ``$VAR``,
``${VAR}`` (and ``%VAR%`` on Windows) are expanded; inherited variables whose
names look secret are stripped from servers unless listed in ``env``.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation
from mcpcred.parsing.nodes import ObjectNode


class Gemini(ClientAdapter):
    id = "gemini-cli"
    display_name = "Gemini CLI"
    url_keys = ("httpUrl", "url")
    project_files = (ProjectFile((".gemini", "settings.json"), "jsonc"),)
    expands = "$VAR, ${VAR}, ${VAR:-default} (and %VAR% on Windows)"
    reference_hint = "$VAR or ${VAR}"
    remote_only_keys = ("httpUrl", "url", "type", "headers")
    bridge_blockers = ("oauth", "authProviderType", "targetAudience", "targetServiceAccount")
    oauth_client = ("oauth", "clientId", "clientSecret")
    # registrationUrl only serves a client without a clientId: with one it is never used
    oauth_client_extra = ("enabled", "registrationUrl")
    oauth_client_scopes = ("scopes", "list")  # asked for instead of the discovered scopes
    # Gemini CLI listens on a fixed port: an app made for it is registered with this redirect
    oauth_client_redirect = ("redirectUri", "uri")
    oauth_client_default_redirect = "http://localhost:7777/oauth/callback"

    def remote_transport(self, node: ObjectNode) -> str:
        """``httpUrl`` is Streamable HTTP; ``url`` is SSE unless ``type`` says ``http``."""
        if "httpUrl" in node:
            return "http"
        return "http" if super().remote_transport(node) == "http" else "sse"

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        root = host.var("GEMINI_CLI_HOME")
        base = host.path(root) if root else host.user_profile()
        out = [ConfigLocation(self.id, str(base / ".gemini" / "settings.json"), "user", "jsonc")]
        if host.os == "windows":
            system_dir = host.path("C:\\ProgramData\\gemini-cli")
        elif host.os == "macos":
            system_dir = host.path("/Library/Application Support/GeminiCli")
        else:
            system_dir = host.path("/etc/gemini-cli")
        settings = host.var("GEMINI_CLI_SYSTEM_SETTINGS_PATH")
        defaults = host.var("GEMINI_CLI_SYSTEM_DEFAULTS_PATH")
        for override, name in ((settings, "settings.json"), (defaults, "system-defaults.json")):
            path = host.path(override) if override else system_dir / name
            out.append(ConfigLocation(self.id, str(path), "system", "jsonc"))
        return out
