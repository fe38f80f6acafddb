"""Zed: ``context_servers`` in the JSONC ``settings.json`` (user) or ``.zed/settings.json``.

Two entry shapes exist: the current flat one (``command`` string, ``args``,
``env``) and the legacy one (``"source": "custom"`` and/or a nested
``"command": {"path", "args", "env"}``) still found in user files. Entries
with only ``settings`` belong to an extension and carry no command. Zed
expands no variables and rewrites settings.json from its UI.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile, _members
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Pointer, ServerEntry
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, ObjectNode


class Zed(ClientAdapter):
    id = "zed"
    display_name = "Zed"
    containers = (("context_servers",),)
    project_files = (ProjectFile((".zed", "settings.json"), "jsonc"),)
    expands = "nothing"
    rewrites_own_file = True
    remote_only_keys = ("url", "headers")
    bridge_blockers = ("oauth",)  # Zed's own sign-in (its client secret is in the keychain)
    oauth_client = ("oauth", "client_id", "client_secret")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        if host.os == "windows":
            path = host.appdata() / "Zed" / "settings.json"
        elif host.os == "macos":
            path = host.path(host.home, ".config", "zed", "settings.json")
        else:
            path = host.xdg_config_home() / "zed" / "settings.json"
        return [ConfigLocation(self.id, str(path), "user", "jsonc")]

    def entry(
        self,
        document: Document,
        location: ConfigLocation,
        key: KeyNode,
        node: ObjectNode,
        pointer: Pointer,
    ) -> ServerEntry:
        entry = super().entry(document, location, key, node, pointer)
        nested = node.get("command")
        if isinstance(nested, ObjectNode):  # legacy {"command": {"path", "args", "env"}}
            entry.command = nested.get("path")
            args = nested.get("args")
            entry.args = list(args.items) if isinstance(args, ArrayNode) else []
            entry.env = entry.env + _members(nested, ("env",))
            entry.transport = "stdio"
        return entry
