"""Amp: the literal key ``"amp.mcpServers"`` in JSONC ``~/.config/amp/settings.json``.

Checked: the reference's probe of ``@sourcegraph/amp`` (``amp mcp add``,
``amp mcp doctor``, ``amp mcp approve``) and ampcode.com's manual ("MCP",
settings file ``~/.config/amp/settings.json``). The key is one string with a
dot in it, not nested objects.

- User ``$AMP_SETTINGS_FILE``, else ``$XDG_CONFIG_HOME/amp/settings.json``
  (``~/.config/amp``; the same rule on every OS); workspace
  ``.amp/settings.json``.
- stdio ``command``, ``args``, ``env``, ``disabled``; remote ``url`` and
  ``headers`` without a ``type`` (Streamable HTTP, then SSE).
- ``${VAR}`` is expanded in args, env and headers; bare ``$VAR`` is not and an
  unset ``${VAR}`` stays literal.
- Workspace servers need ``amp mcp approve NAME``; the approval is a hash of
  the entry, so wrapping a workspace entry asks for it again.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

KEY = "amp.mcpServers"


class Amp(ClientAdapter):
    id = "amp"
    display_name = "Amp"
    containers = ((KEY,),)
    project_files = (ProjectFile((".amp", "settings.json"), "jsonc"),)
    expands = "${VAR} in args, env, headers (not bare $VAR)"
    reference_hint = "${VAR} (Amp expands it from its environment)"
    rewrites_own_file = True
    project_note = (
        "Amp asks to approve a changed workspace server again: run `amp mcp approve NAME`"
    )

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        explicit = host.var("AMP_SETTINGS_FILE")
        if explicit:
            path = host.path(explicit)
        else:
            xdg = host.var("XDG_CONFIG_HOME")
            base = (
                host.path(xdg)
                if xdg and host.path(xdg).is_absolute()
                else host.user_profile() / ".config"
            )
            path = base / "amp" / "settings.json"
        return [ConfigLocation(self.id, str(path), "user", "jsonc")]
