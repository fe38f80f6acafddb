"""Crush (Charm): ``mcp`` in strict-JSON ``crush.json`` files.

Checked: charmbracelet/crush ``internal/config`` (``config.go`` ``MCPConfig``,
``load.go``, ``resolve.go``) and ``docs/config/README.md``, as the reference
read them, and the project's README (``$schema`` https://charm.land/crush.json).

- Files, lowest first: ``/etc/crush/crush.json`` (Unix), the user file
  ``$CRUSH_GLOBAL_CONFIG/crush.json`` (else ``$XDG_CONFIG_HOME/crush``,
  ``~/.config/crush`` on every OS), Crush's own state
  ``$CRUSH_GLOBAL_DATA/crush.json`` (else ``$XDG_DATA_HOME/crush``,
  ``~/.local/share/crush``; Windows ``%LOCALAPPDATA%\\crush``), and the project's
  ``.crush.json`` / ``crush.json``.
- JSON is checked with Go's ``json.Valid``: strict, no comments, no trailing
  commas (wrap writes none). The newer ``crushrc`` is a Bash script run by
  Crush's own interpreter; mcpcred does not read or rewrite it.
- stdio ``type: "stdio"``, ``command``, ``args``, ``env``, ``timeout`` (s),
  ``disabled``, ``disabled_tools``; remote ``type`` ``http``/``sse``, ``url``,
  ``headers``, ``oauth`` and flat ``oauth_client_id``/``oauth_client_secret``
  (Crush's own sign-in).
- Values of command, args, env, url and headers go through a shell: ``$VAR``,
  ``${VAR}``, ``${VAR:-d}`` and ``$(command)``.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

FILE = "crush.json"


class Crush(ClientAdapter):
    id = "crush"
    display_name = "Crush"
    containers = (("mcp",),)
    project_files = (ProjectFile((".crush.json",), "json"), ProjectFile((FILE,), "json"))
    file_names = (FILE, ".crush.json")
    strict_json_scopes = frozenset({"user", "project", "system"})
    expands = "$VAR, ${VAR}, ${VAR:-d}, $(command) in command, args, env, url, headers"
    reference_hint = "$VAR or $(command) (Crush runs the value through its shell)"
    stdio_type = "stdio"
    bridge_blockers = ("oauth", "oauth_client_id", "oauth_client_secret", "oauth_callback_port")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        config = host.var("CRUSH_GLOBAL_CONFIG")
        xdg = host.var("XDG_CONFIG_HOME")
        if config:
            user = host.path(config)
        elif xdg and host.path(xdg).is_absolute():
            user = host.path(xdg) / "crush"
        else:
            user = host.user_profile() / ".config" / "crush"
        data_dir = host.var("CRUSH_GLOBAL_DATA")
        xdg_data = host.var("XDG_DATA_HOME")
        if data_dir:
            data = host.path(data_dir)
        elif xdg_data and host.path(xdg_data).is_absolute():
            data = host.path(xdg_data) / "crush"
        elif host.os == "windows":
            local = host.var("LOCALAPPDATA")
            data = (
                host.path(local) if local else host.user_profile() / "AppData" / "Local"
            ) / "crush"
        else:
            data = host.path(host.home, ".local", "share", "crush")
        out = [
            ConfigLocation(self.id, str(user / FILE), "user", "json"),
            ConfigLocation(self.id, str(data / FILE), "user", "json"),
        ]
        if host.os != "windows":
            out.append(ConfigLocation(self.id, "/etc/crush/crush.json", "system", "json"))
        return out
