"""VS Code (Copilot agent mode): ``servers`` + ``inputs`` in JSONC ``mcp.json`` files.

The user file sits in the profile folder (``Code/User/mcp.json``, also the
Insiders build); older releases kept ``"mcp": {"servers": ...}`` in
``settings.json``, which is still read here; a workspace has
``.vscode/mcp.json``; dev containers carry servers under
``customizations.vscode.mcp.servers``. Secrets are meant to come from
``inputs`` (``${input:id}``, stored by VS Code) or ``${env:VAR}``.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation
from mcpcred.parsing.nodes import ObjectNode

_SETTINGS = (("mcp", "servers"),)
_PRODUCTS = ("Code", "Code - Insiders")


class VSCode(ClientAdapter):
    id = "vscode"
    display_name = "VS Code"
    containers = (("servers",), ("mcp", "servers"))
    project_files = (
        ProjectFile((".vscode", "mcp.json"), "jsonc", (("servers",),)),
        ProjectFile((".vscode", "settings.json"), "jsonc", _SETTINGS),
        ProjectFile(
            (".devcontainer", "devcontainer.json"),
            "jsonc",
            (("customizations", "vscode", "mcp", "servers"),),
        ),
    )
    expands = "${input:id}, ${env:VAR}, ${userHome}, ${workspaceFolder}"
    reference_hint = "an input (${input:id} with password: true) or ${env:VAR}"
    stdio_type = "stdio"

    def remote_transport(self, node: ObjectNode) -> str:
        """``"sse"`` is SSE; ``"http"`` means Streamable HTTP with a fallback to SSE, which
        is what the bridge's ``auto`` does, so it is not pinned to ``http``."""
        return "sse" if super().remote_transport(node) == "sse" else "auto"

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        if host.os == "macos":
            base = host.path(host.home, "Library", "Application Support")
        elif host.os == "windows":
            base = host.appdata()
        else:
            base = host.xdg_config_home()
        out: list[ConfigLocation] = []
        for product in _PRODUCTS:
            user = base / product / "User"
            out.append(ConfigLocation(self.id, str(user / "mcp.json"), "user", "jsonc"))
            out.append(ConfigLocation(self.id, str(user / "settings.json"), "user", "jsonc"))
            out.append(
                ConfigLocation(self.id, str(user / "profiles" / "*" / "mcp.json"), "user", "jsonc")
            )
        return out
