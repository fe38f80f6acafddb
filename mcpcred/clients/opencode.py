"""opencode: ``mcp`` in JSONC ``opencode.json[c]``, each stdio server one argv array.

Checked against the reference's reading of the opencode 1.18.33 binary and the
current docs (opencode.ai "MCP servers" and "Config"; schema ``McpLocalConfig``
/ ``McpRemoteConfig``, which forbid unknown keys): they agree on the shapes.

- User files: ``$XDG_CONFIG_HOME/opencode/`` (default ``~/.config/opencode``,
  the same rule on macOS and Windows: the path code has no per-OS branch),
  files ``config.json``, ``opencode.json``, ``opencode.jsonc``; ``$OPENCODE_CONFIG``
  names one more file, ``$OPENCODE_CONFIG_DIR`` and ``~/.opencode`` hold
  ``opencode.json[c]`` too. Managed (system) files in ``/etc/opencode``,
  ``/Library/Application Support/opencode`` or ``%ProgramData%\\opencode``.
- Project files: ``opencode.json[c]`` and ``.opencode/opencode.json[c]``.
- stdio: ``{"type": "local", "command": [argv...], "environment": {...},
  "enabled": bool}``: the command and its arguments are ONE array, so wrap
  rewrites that array (``argv_command``). Remote: ``{"type": "remote", "url",
  "headers", "oauth": false | {clientId, clientSecret, scope, redirectUri...}}``;
  Streamable HTTP first, then SSE (the bridge's ``auto``).
- The V2 shape ``mcp.servers.<name>`` (``disabled`` instead of ``enabled``,
  snake_case oauth keys) is lowered to V1 by opencode and read here too.
- ``{env:VAR}`` and ``{file:path}`` are substituted in the file's TEXT before it
  is parsed, so they work in every field (argv, environment, url, headers);
  ``${VAR}`` is NOT expanded by opencode. A bridge entry's ``--header`` keeps a
  ``{env:VAR}`` and opencode still fills it in.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile, find_containers
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, ServerEntry
from mcpcred.parsing.nodes import Document, ObjectNode, ScalarNode

_NAMES = ("opencode.json", "opencode.jsonc")
_V2 = "servers"


class OpenCode(ClientAdapter):
    id = "opencode"
    display_name = "opencode"
    containers = (("mcp",), ("mcp", _V2))
    argv_command = True
    env_keys = ("environment", "env")
    remote_types = frozenset({"remote"})
    project_files = tuple(ProjectFile((n,), "jsonc") for n in _NAMES) + tuple(
        ProjectFile((".opencode", n), "jsonc") for n in _NAMES
    )
    file_names = _NAMES
    expands = "{env:VAR} and {file:path} anywhere in the file (its text, before parsing)"
    reference_hint = "{env:VAR} (or {file:path} for a file only you can read)"
    stdio_type = "local"
    # a local entry allows no other keys: everything remote goes
    remote_only_keys = ("type", "url", "headers", "oauth")
    bridge_blockers = ("oauth",)
    oauth_client = ("oauth", "clientId", "clientSecret")
    oauth_client_scopes = ("scope", "string")
    oauth_client_redirect = ("redirectUri", "uri")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        xdg = host.var("XDG_CONFIG_HOME")
        base = (
            host.path(xdg)
            if xdg and host.path(xdg).is_absolute()
            else host.user_profile() / ".config"
        ) / "opencode"
        paths = [base / "config.json", *(base / n for n in _NAMES)]
        explicit = host.var("OPENCODE_CONFIG")
        if explicit:
            paths.append(host.path(explicit))
        paths.extend(host.user_profile() / ".opencode" / n for n in _NAMES)
        config_dir = host.var("OPENCODE_CONFIG_DIR")
        if config_dir:
            paths.extend(host.path(config_dir) / n for n in _NAMES)
        out = [ConfigLocation(self.id, str(p), "user", "jsonc") for p in paths]
        if host.os == "windows":
            managed = host.path(host.var("ProgramData") or "C:\\ProgramData", "opencode")
        elif host.os == "macos":
            managed = host.path("/Library/Application Support/opencode")
        else:
            managed = host.path("/etc/opencode")
        out.extend(ConfigLocation(self.id, str(managed / n), "system", "jsonc") for n in _NAMES)
        return out

    def blockers(self, node: ObjectNode) -> list[str]:
        """``"oauth": false`` switches opencode's own sign-in off: nothing to carry over."""
        oauth = node.get("oauth")
        if isinstance(oauth, ScalarNode) and oauth.value is False:
            return []
        return super().blockers(node)

    def servers(self, document: Document, location: ConfigLocation) -> list[ServerEntry]:
        """V1 ``mcp.<name>`` and V2 ``mcp.servers.<name>``; the V2 map is no server."""
        entries: list[ServerEntry] = []
        for container, pointer in find_containers(document.root, self.containers_for(location)):
            for key, value in container.members:
                if not isinstance(value, ObjectNode):
                    continue
                if pointer == ("mcp",) and key.name == _V2 and not _is_server(value):
                    continue
                if not any(k in value for k in ("type", "command", "url")):
                    continue  # {"enabled": false}: turns off a server defined elsewhere
                entries.append(self.entry(document, location, key, value, (*pointer, key.name)))
        return entries


def _is_server(node: ObjectNode) -> bool:
    """Whether ``mcp.servers`` is a V1 server that happens to be called "servers"."""
    return any(k in node for k in ("type", "command", "url", "enabled"))
