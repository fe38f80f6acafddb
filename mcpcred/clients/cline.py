"""Cline (CLI and VS Code extension): ``mcpServers`` in ``cline_mcp_settings.json``.

Checked: the reference's reading of npm ``cline`` 3.0.65 / ``@cline/core`` 0.0.86
(zod schema, ``resolveMcpSettingsPath``, a headless run) against cline/cline
issues #7081, #13596, #3129 and the extension docs ("Configuring MCP servers").

- CLI file: ``$CLINE_MCP_SETTINGS_PATH``, else ``$CLINE_DATA_DIR/settings/``,
  else ``$CLINE_DIR/data/settings/``, else ``~/.cline/data/settings/``. The
  extension keeps its own file in the editor's ``globalStorage``
  (``saoudrizwan.claude-dev``), for VS Code and the forks that run it. No
  project scope (#13596).
- Two entry shapes. ``cline mcp add`` writes the nested one,
  ``{"transport": {"type": "stdio", "command", "args", "cwd", "env"},
  "disabled", "timeout"}`` (remote: ``{"transport": {"type": "streamableHttp",
  "url", "headers"}}``); the flat one (``command``/``args``/``env``, or
  ``url``/``headers``/``type``) is still read. A flat remote entry without a
  type is SSE. wrap writes the shim into whichever shape the entry has; a
  bridge entry is flat (``type: "stdio"``).
- ``JSON.parse``: one ``//`` comment and Cline loads no server at all, without a
  message. Strict JSON (wrap writes none).
- No variable expansion: ``${VAR}`` reaches the server literally (#3129).
- OAuth state (``oauth.tokens``) is written back into this same file.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, _members
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Pointer, ServerEntry
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, ObjectNode, ScalarNode

FILE = "cline_mcp_settings.json"
EXTENSION = "saoudrizwan.claude-dev"
# VS Code and the forks Cline's extension runs in, each with its own user folder
EDITORS = ("Code", "Code - Insiders", "Cursor", "Windsurf", "VSCodium")


def editor_user_dirs(host: Host) -> list[str]:
    """The ``User`` folder of each VS Code-based editor on ``host``."""
    if host.os == "macos":
        base = host.path(host.home, "Library", "Application Support")
    elif host.os == "windows":
        base = host.appdata()
    else:
        base = host.xdg_config_home()
    return [str(base / editor / "User") for editor in EDITORS]


class Cline(ClientAdapter):
    id = "cline"
    display_name = "Cline"
    file_names = (FILE,)
    strict_json_scopes = frozenset({"user", "project", "system"})
    expands = "nothing"
    rewrites_own_file = True
    stdio_type = "stdio"
    remote_only_keys = ("type", "transportType", "url", "headers", "transport")
    # Cline's own OAuth client and the tokens it saved for it
    bridge_blockers = ("oauthClient", "oauth")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        explicit = host.var("CLINE_MCP_SETTINGS_PATH")
        data_dir = host.var("CLINE_DATA_DIR")
        cline_dir = host.var("CLINE_DIR")
        if explicit:
            cli = host.path(explicit)
        elif data_dir:
            cli = host.path(data_dir) / "settings" / FILE
        elif cline_dir:
            cli = host.path(cline_dir) / "data" / "settings" / FILE
        else:
            cli = host.user_profile() / ".cline" / "data" / "settings" / FILE
        out = [ConfigLocation(self.id, str(cli), "user", "json")]
        for user in editor_user_dirs(host):
            path = host.path(user, "globalStorage", EXTENSION, "settings", FILE)
            out.append(ConfigLocation(self.id, str(path), "user", "json"))
        return out

    def stdio_holder(self, node: ObjectNode) -> ObjectNode:
        transport = node.get("transport")
        return transport if isinstance(transport, ObjectNode) else node

    def remote_transport(self, node: ObjectNode) -> str:
        """``streamableHttp`` (or ``transportType: http``) is Streamable HTTP; a remote
        entry without a type is SSE."""
        holder = self.stdio_holder(node)
        for key in ("type", "transportType"):
            kind = holder.get(key)
            value = kind.value if isinstance(kind, ScalarNode) else None
            if value in ("streamableHttp", "streamable-http", "http"):
                return "http"
            if value == "sse":
                return "sse"
        return "sse"

    def entry(
        self,
        document: Document,
        location: ConfigLocation,
        key: KeyNode,
        node: ObjectNode,
        pointer: Pointer,
    ) -> ServerEntry:
        entry = super().entry(document, location, key, node, pointer)
        nested = node.get("transport")
        if isinstance(nested, ObjectNode):
            entry.command = nested.get("command")
            args = nested.get("args")
            entry.args = list(args.items) if isinstance(args, ArrayNode) else []
            entry.env = entry.env + _members(nested, ("env",))
            entry.url = nested.get("url")
            entry.headers = entry.headers + _members(nested, ("headers",))
            remote = entry.url is not None and entry.command is None
            entry.transport = "remote" if remote else "stdio"
        return entry
