"""Continue (IDE extensions and the ``cn`` CLI): a YAML list ``mcpServers``.

Checked: the reference's reading of ``@continuedev/cli`` 1.5.47 (source map:
``configLoader.ts``, ``config-yaml`` ``schemas/mcp``) and Continue's docs
("config.yaml reference", "MCP"): they agree.

- User ``$CONTINUE_GLOBAL_DIR/config.yaml`` (default ``~/.continue``); workspace
  blocks ``.continue/mcpServers/*.yaml`` (``name``/``version``/``schema: v1``
  header, read by the IDE extensions only, not by ``cn``), and Claude-style JSON
  files dropped in the same folder.
- ``mcpServers`` is a LIST: ``- {name, type, command, args, env, cwd}``; remote
  ``type: sse | streamable-http``, ``url``, ``requestOptions.headers`` and
  ``apiKey`` (sent as a bearer token). A JSON block file holds the usual
  ``mcpServers`` map.
- ``${{ secrets.NAME }}`` is resolved from the environment, ``.env`` files or the
  Continue Hub; nothing else is expanded.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile, _members
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Pointer, ServerEntry
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, ObjectNode, ScalarNode


class Continue(ClientAdapter):
    id = "continue"
    display_name = "Continue"
    project_files = (
        ProjectFile((".continue", "mcpServers", "*.yaml"), "yaml"),
        ProjectFile((".continue", "mcpServers", "*.json"), "jsonc"),
    )
    header_keys = ("headers",)  # JSON blocks; YAML ones: requestOptions.headers (entry())
    remote_types = frozenset({"sse", "streamable-http", "http"})
    expands = "${{ secrets.NAME }} (environment, .env files, Continue Hub)"
    reference_hint = "${{ secrets.NAME }}"
    stdio_type = "stdio"
    remote_only_keys = ("type", "url", "headers", "requestOptions")
    bridge_blockers = ("apiKey",)

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        root = host.var("CONTINUE_GLOBAL_DIR")
        base = host.path(root) if root else host.user_profile() / ".continue"
        return [ConfigLocation(self.id, str(base / "config.yaml"), "user", "yaml")]

    def servers(self, document: Document, location: ConfigLocation) -> list[ServerEntry]:
        """A YAML list of servers named by ``name``; a JSON block's ``mcpServers`` map."""
        listed = document.root.get("mcpServers")
        if not isinstance(listed, ArrayNode):
            return super().servers(document, location)
        entries: list[ServerEntry] = []
        for index, item in enumerate(listed.items):
            if not isinstance(item, ObjectNode):
                continue
            name = item.get("name")
            if isinstance(name, ScalarNode) and isinstance(name.value, str):
                key = KeyNode(name.value, name.start, name.end)
            else:
                key = KeyNode(f"server-{index + 1}", item.start, item.start)
            entries.append(self.entry(document, location, key, item, ("mcpServers", index)))
        return entries

    def entry(
        self,
        document: Document,
        location: ConfigLocation,
        key: KeyNode,
        node: ObjectNode,
        pointer: Pointer,
    ) -> ServerEntry:
        entry = super().entry(document, location, key, node, pointer)
        options = node.get("requestOptions")
        if isinstance(options, ObjectNode):
            entry.headers = entry.headers + _members(options, ("headers",))
        return entry
