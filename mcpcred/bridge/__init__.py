"""The stdio<->HTTP bridge to remote MCP servers.

Clients that cannot hold a remote server's credentials without writing them
into their config (Claude Desktop, Zed, VS Code) start ``mcpcred shim --url
URL [--header 'Name: value']...`` as a stdio server instead; the URL and the
header values hold references, resolved from the keychain at start.

- ``upstream.Upstream`` is the HTTP side: it speaks whatever transport era the
  remote server speaks (``detect``: stateless 2026-07-28 in ``modern``, the
  Streamable HTTP handshake era in ``streamable``, legacy HTTP+SSE in
  ``legacy_sse``) over one credential-aware HTTP ``channel``; it knows
  nothing of policy;
- ``remote``: resolving the entry's references, a ``reauth`` that refreshes
  OAuth logins across processes, and the relay's server side wrapping
  ``Upstream`` (guarded or not, the message path is ``guard.relay.Relay``).

Everything here may import httpx, so only the remote path of the shim loads
this package: the exec fast path for local servers stays as it is.
"""

import sys

# httpx's package imports its own command-line client whenever click and rich are installed
# (typer brings both): about 40 ms of a bridge's start, for a client the bridge never runs. An
# empty entry for that module makes httpx take its "CLI not installed" fallback instead.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
