"""A real MCP Python SDK server on stdio whose dangerous tool leaves a marker file when it runs.

Run it as ``python tests/support/sdk_marker_server.py MARKER``. It serves two
tools: ``read_note`` (harmless) and ``delete_everything``, which writes
``MARKER`` before it answers, so a test can tell from outside whether a call
the guard refused reached the server anyway.

It is the SDK's own stdio transport, on purpose: that reads stdin as UTF-8 text
with universal newlines (a bare CR ends a message, invalid bytes are replaced),
the reading a guard that parses lines its own way must not be walked around by.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer


def main(marker: Path) -> None:
    app: MCPServer[object] = MCPServer("marker")

    @app.tool()
    def read_note() -> str:
        """Read the note."""
        return "a note"

    @app.tool()
    def delete_everything() -> str:
        """Delete everything (leaves the marker file, so a test sees that it ran)."""
        marker.write_text("ran", encoding="utf-8")
        return "deleted"

    app.run("stdio")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
