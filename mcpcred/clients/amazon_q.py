"""Amazon Q Developer (CLI and IDE): ``mcpServers`` in agent files and the legacy ``mcp.json``.

Checked: aws/amazon-q-developer-cli ``docs/agent-format.md`` and
``crates/chat-cli/src/mcp_client/client.rs`` as the reference read them (the
open project is now maintenance-only; its successor is Kiro, a separate
adapter). Not runnable here (needs an AWS sign-in).

- CLI agents ``~/.aws/amazonq/cli-agents/*.json``; the IDE's agent
  ``~/.aws/amazonq/agents/default.json``; legacy ``~/.aws/amazonq/mcp.json``
  and the workspace ``.amazonq/mcp.json`` (pulled into an agent by
  ``useLegacyMcpJson``).
- stdio ``command``, ``args``, ``env``, ``timeout`` (ms), ``disabled``; remote
  ``type: "http"``, ``url``, ``headers``.
- ``${env:VAR}`` is substituted in ``env`` and ``headers``
  (``substitute_env_vars``); nothing else is expanded.
"""

from __future__ import annotations

from mcpcred.clients.base import ClientAdapter, ProjectFile
from mcpcred.host import Host
from mcpcred.models import ConfigLocation


class AmazonQ(ClientAdapter):
    id = "amazon-q"
    display_name = "Amazon Q Developer"
    project_files = (ProjectFile((".amazonq", "mcp.json"), "json"),)
    expands = "${env:VAR} in env and headers"
    reference_hint = "${env:VAR} in env"

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        base = host.user_profile() / ".aws" / "amazonq"
        return [
            ConfigLocation(self.id, str(base / "cli-agents" / "*.json"), "user", "json"),
            ConfigLocation(self.id, str(base / "agents" / "default.json"), "user", "json"),
            ConfigLocation(self.id, str(base / "mcp.json"), "user", "json"),
        ]
