"""The stdio<->HTTP bridge to remote MCP servers.

``upstream.Upstream`` is the HTTP side: it speaks whatever transport era the
remote server speaks (``detect``: stateless 2026-07-28 in ``modern``, the
Streamable HTTP handshake era in ``streamable``, legacy HTTP+SSE in
``legacy_sse``) over one credential-aware HTTP ``channel``. Everything here
imports httpx, so only the remote path of the shim loads this package.
"""
