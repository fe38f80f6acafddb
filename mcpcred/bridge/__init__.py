"""The shim as a stdio<->HTTP bridge to remote MCP servers.

Clients that cannot hold a remote server's credentials without writing them
into their config (Claude Desktop, Zed, VS Code) start ``mcpcred shim --url
URL [--header 'Name: value']...`` as a stdio server instead; the URL and the
header values hold references, resolved from the keychain at start.

- ``upstream``: the HTTP side (Streamable HTTP, legacy HTTP+SSE, sessions,
  retries, 401 -> ``reauth``); knows nothing of policy;
- ``remote``: resolving the entry's references, a ``reauth`` that refreshes
  OAuth logins across processes, and the relay's server side wrapping
  ``Upstream`` (guarded or not, the message path is ``guard.relay.Relay``).

Nothing here is imported for a local server: the exec fast path stays as it is.
"""
