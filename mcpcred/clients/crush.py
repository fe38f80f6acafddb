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
  commas (wrap writes none).
- Since v0.88 the main config is ``crushrc``, a Bash script Crush's own
  interpreter runs at start-up (``docs/config/README.md``,
  ``internal/shellconfig``): the user one beside ``crush.json`` (never in the
  data folder), the project's ``.crushrc`` / ``crushrc``. mcpcred reads it
  without running it (``mcpcred.parsing.shell``): each ``mcp add NAME --command
  C --args A --env K V ...`` is a server, wrapped word by word
  (``mcpcred.wrap.shell_edit``) when its command and arguments are literal;
  ``export NAME=value`` lines and ``provider add --api-key`` are reported, not
  moved: Crush needs those values itself, and mcpcred hands secrets only to
  the servers it starts.
- stdio ``type: "stdio"``, ``command``, ``args``, ``env``, ``timeout`` (s),
  ``disabled``, ``disabled_tools``; remote ``type`` ``http``/``sse``, ``url``,
  ``headers``, ``oauth`` and flat ``oauth_client_id``/``oauth_client_secret``
  (Crush's own sign-in).
- Values of command, args, env, url and headers go through a shell: ``$VAR``,
  ``${VAR}``, ``${VAR:-d}`` and ``$(command)``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Finding, ServerEntry
from mcpcred.parsing.nodes import Document, ObjectNode, ScalarNode

if TYPE_CHECKING:
    from mcpcred.audit.rules import Auditor

FILE = "crush.json"
SCRIPT = "crushrc"
SETTING_FIX = (
    "Rotate it, then let the script fetch it when Crush starts instead of holding it: "
    '"$(pass show NAME)", "$(op read op://...)", or a variable set outside the file '
    '("$OPENAI_API_KEY"); mcpcred moves only the secrets of the servers it starts'
)


class Crush(ClientAdapter):
    id = "crush"
    display_name = "Crush"
    containers = (("mcp",),)
    project_files = (
        ProjectFile(("." + SCRIPT,), "shell"),
        ProjectFile((SCRIPT,), "shell"),
        ProjectFile((".crush.json",), "json"),
        ProjectFile((FILE,), "json"),
    )
    file_names = (FILE, ".crush.json", SCRIPT, "." + SCRIPT)
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
            ConfigLocation(self.id, str(user / SCRIPT), "user", "shell"),
            ConfigLocation(self.id, str(user / FILE), "user", "json"),
            ConfigLocation(self.id, str(data / FILE), "user", "json"),
        ]
        if host.os != "windows":
            out.append(ConfigLocation(self.id, "/etc/crush/crush.json", "system", "json"))
        return out

    def wrap_blocker(self, entry: ServerEntry) -> str | None:
        from mcpcred.parsing.shell import ShellEntry

        node = entry.node
        if not isinstance(node, ShellEntry):
            return None
        script = os.path.basename(entry.location.path)
        if node.problem is not None:
            return f"its `mcp add` in {script} is left as it is: {node.problem}"
        if entry.transport == "remote":
            words = [w for _flag, values in node.flags for w in values]
        else:
            words = [w for flag, values in node.flags if flag.value in ("--command", "--args")
                     for w in values]  # fmt: skip
        dynamic = [w for w in words if not w.static]
        if dynamic:
            text = entry.document.source.text
            shown = text[dynamic[0].start : dynamic[0].end]
            return (
                f"its `mcp add` in {script} builds {shown} with the shell ($VAR, $(...), "
                "globs, ~): mcpcred rewrites only literal words, so that what Crush runs "
                "stays the same; write them out, or wrap it by hand"
            )
        return None

    def setting_findings(
        self, document: Document, auditor: Auditor, display_path: str
    ) -> list[Finding]:
        if document.format != "shell":
            return []
        settings: list[tuple[str, ScalarNode, str]] = []
        environment = document.root.get("environment")
        if isinstance(environment, ObjectNode):
            for key, value in environment.members:
                if isinstance(value, ScalarNode):
                    what = f"variable {key.name} set in the script (Crush's own settings)"
                    settings.append((key.name, value, what))
        providers = document.root.get("providers")
        if isinstance(providers, ObjectNode):
            for key, provider in providers.members:
                if not isinstance(provider, ObjectNode):
                    continue
                api_key = provider.get("api_key")
                if isinstance(api_key, ScalarNode):
                    settings.append(("api_key", api_key, f"API key of provider '{key.name}'"))
                headers = provider.get("extra_headers")
                if isinstance(headers, ObjectNode):
                    for header, value in headers.members:
                        if isinstance(value, ScalarNode):
                            what = f"header {header.name} of provider '{key.name}'"
                            settings.append((header.name, value, what))
        return auditor.setting_findings(document, settings, display_path, self.id, SETTING_FIX)
