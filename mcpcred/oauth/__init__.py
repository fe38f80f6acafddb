"""Logins: OAuth 2 flows, provider profiles, and access tokens minted at spawn time.

Layout, from the edge inwards:

- ``login`` runs a whole login (CLI only: it may open a browser and wait).
- ``device`` (RFC 8628) and ``loopback`` (authorization code + PKCE,
  RFC 7636 / RFC 8252) are the two interactive flows.
- ``providers`` and ``settings`` say where a provider's endpoints are and
  what it gets wrong; ``discovery`` reads RFC 8414 / OIDC metadata.
- ``tokens`` reads token-endpoint answers, quirks included; ``records`` is
  what the keychain keeps; ``mint`` turns a stored login into a fresh access
  token, once across all processes (``lock``).
- ``http`` is the transport port: the shim uses a socket-level request
  (httpx, authlib and even urllib.request cost too much of its budget), the
  CLI uses httpx.

The shim imports only ``mint``, ``records``, ``tokens``, ``lock`` and
``http``, none of which import httpx, authlib, typer or rich.
"""
