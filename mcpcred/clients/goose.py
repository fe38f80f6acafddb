"""Goose (Block): the ``extensions`` map in YAML ``config.yaml``.

Checked: Goose's docs "Configuration Files" (``~/.config/goose/config.yaml`` on
macOS and Linux, ``%APPDATA%\\Block\\goose\\config\\config.yaml`` on Windows)
and "Using Extensions", and configs written by ``goose configure``; the
reference (Part 1 §11) agrees.

- ``extensions.<name>`` = ``{enabled, type: stdio, name, cmd, args, envs,
  env_keys, timeout, description}``; remote ``type: streamable_http`` (or the
  legacy ``sse``) with ``uri`` and ``headers``; ``builtin``, ``platform`` and
  ``frontend`` extensions run inside Goose, have no command and are no servers here.
- ``envs`` holds literal values (where plaintext tokens sit); ``env_keys`` only
  names secrets Goose keeps in the OS keyring itself. Nothing is expanded.
- The config folder follows XDG on Linux and macOS (``$XDG_CONFIG_HOME/goose``)
  and moves with ``GOOSE_PATH_ROOT`` (``$GOOSE_PATH_ROOT/config``).
- Goose rewrites the file (``goose configure``, the desktop app's settings):
  wrap edits only the characters of the values it changes (see
  ``mcpcred.wrap.yaml_edit``), so comments and layout stay.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, ServerEntry
from mcpcred.parsing.nodes import Document, ObjectNode, ScalarNode

# Extensions that run inside Goose itself: no process, no URL, nothing to wrap or audit as a server
_IN_PROCESS = frozenset({"builtin", "platform", "frontend"})


class Goose(ClientAdapter):
    id = "goose"
    display_name = "Goose"
    containers = (("extensions",),)
    command_key = "cmd"
    env_keys = ("envs",)
    url_keys = ("uri",)
    remote_types = frozenset({"sse", "streamable_http"})
    file_names = ("config.yaml",)
    expands = "nothing (env_keys names secrets Goose keeps in the OS keyring)"
    reference_hint = "env_keys (Goose keeps the value in the OS keyring)"
    rewrites_own_file = True
    stdio_type = "stdio"
    remote_only_keys = ("type", "uri", "headers")

    def servers(self, document: Document, location: ConfigLocation) -> list[ServerEntry]:
        """Every extension but those Goose runs in its own process (``builtin``...)."""
        return [
            entry
            for entry in super().servers(document, location)
            if not (
                isinstance(kind := entry.node.get("type"), ScalarNode) and kind.value in _IN_PROCESS
            )
        ]

    def remote_transport(self, node: ObjectNode) -> str:
        kind = node.get("type")
        value = kind.value if isinstance(kind, ScalarNode) else None
        return {"sse": "sse", "streamable_http": "http"}.get(str(value), "auto")

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        root = host.var("GOOSE_PATH_ROOT")
        if root:
            base = host.path(root) / "config"
        elif host.os == "windows":
            base = host.appdata() / "Block" / "goose" / "config"
        else:
            base = host.xdg_config_home() / "goose"
        return [ConfigLocation(self.id, str(base / "config.yaml"), "user", "yaml")]
