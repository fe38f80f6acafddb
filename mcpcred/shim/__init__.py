"""``mcpcred shim``: resolve credential references, then become the MCP server.

MCP clients start every server through the shim (``wrap`` rewrote the entry to
``<mcpcred> shim [options] -- <command> <args...>``), so it sits on every
server start: it imports only the standard library (it speaks D-Bus to the Secret Service
itself, ``mcpcred.keychain.dbuswire``), plus ``cryptography``'s AEAD and KDF
when the encrypted file store is in use.

- ``options``: the shim's settings, read from its arguments only, because
  clients such as Codex and the MCP SDKs strip the environment;
- ``resolve``: find references in env and args and fetch their values in one
  keychain round trip;
- ``launch``: exec the server (POSIX) or run it as a child (Windows);
- ``fail``: when something cannot be resolved, say so on stderr and answer
  the client's ``initialize`` with a JSON-RPC error, so the user sees it in
  the client instead of a silent "server disconnected".
"""
