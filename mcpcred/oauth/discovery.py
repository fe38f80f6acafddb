"""Endpoints from an issuer's metadata (RFC 8414, and OpenID Connect Discovery).

The metadata is fetched over https (or http on loopback), its ``issuer``
must equal the issuer asked for, character for character (RFC 8414 §3.3: a
mismatch is how mix-up attacks show), and every endpoint in it is checked
by ``urls.check_endpoint`` before it is used or opened.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlsplit, urlunsplit

from mcpcred.errors import OAuthError
from mcpcred.oauth import tokens
from mcpcred.oauth.providers import PKCE, Provider
from mcpcred.oauth.urls import check_endpoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcpcred.oauth.http import Transport

OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"


def metadata_urls(issuer: str) -> list[str]:
    """Where the metadata may be: RFC 8414 (path inserted), then OIDC (path appended)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit((parts.scheme, parts.netloc, OAUTH_WELL_KNOWN + path, "", ""))
    oidc = urlunsplit((parts.scheme, parts.netloc, path + OIDC_WELL_KNOWN, "", ""))
    return list(dict.fromkeys([rfc8414, oidc]))


def discover(issuer: str, transport: Transport) -> dict[str, object]:
    """The metadata document of ``issuer``, checked."""
    check_endpoint(issuer, "issuer")
    last: OAuthError | None = None
    for url in metadata_urls(issuer):
        reply = transport.get(url, {"Accept": "application/json"})
        if reply.status == 404:
            last = OAuthError(f"no authorization server metadata at {issuer} (HTTP 404)")
            continue
        fields = tokens.decode(reply)
        if reply.status != 200 or not fields:
            last = OAuthError(
                f"the metadata at {url} is not usable (HTTP {reply.status})",
                hint="check --issuer; it must be the exact issuer URL of the server",
            )
            continue
        stated = fields.get("issuer")
        if stated != issuer:
            shown = tokens.one_line(stated, 120) if isinstance(stated, str) else "nothing"
            raise OAuthError(
                f"the server at {issuer} says its issuer is {shown!r}; they must match exactly",
                hint=f"if that server is the one you mean, pass --issuer {shown}"
                if isinstance(stated, str)
                else "check --issuer",
            )
        return fields
    raise last or OAuthError(f"no authorization server metadata at {issuer}")


def complete(provider: Provider, transport: Transport) -> Provider:
    """``provider`` with the endpoints its issuer's metadata adds (configured ones win)."""
    if not provider.issuer:
        return provider
    fields = discover(provider.issuer, transport)

    def endpoint(key: str, current: str | None) -> str | None:
        if current is not None:
            return current
        value = fields.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise OAuthError(f"the metadata of {provider.issuer} has a non-string {key}")
        return check_endpoint(value, f"{key} in the metadata of {provider.issuer}")

    methods = fields.get("code_challenge_methods_supported")
    flows = provider.flows
    if isinstance(methods, list) and "S256" not in methods:
        flows = tuple(f for f in flows if f != PKCE)  # PKCE without S256 would be `plain`
    scopes = provider.scopes
    supported = fields.get("scopes_supported")
    if not scopes and isinstance(supported, list):
        # OIDC servers want `openid`; most only issue refresh tokens for `offline_access`.
        scopes = tuple(s for s in ("openid", "offline_access") if s in supported)
    updated = replace(
        provider,
        flows=flows,
        scopes=scopes,
        authorization_endpoint=endpoint("authorization_endpoint", provider.authorization_endpoint),
        token_endpoint=endpoint("token_endpoint", provider.token_endpoint),
        device_authorization_endpoint=endpoint(
            "device_authorization_endpoint", provider.device_authorization_endpoint
        ),
        revocation_endpoint=endpoint("revocation_endpoint", provider.revocation_endpoint),
        identity_endpoint=endpoint("userinfo_endpoint", provider.identity_endpoint),
    )
    if updated.token_endpoint is None:
        raise OAuthError(f"the metadata of {provider.issuer} names no token_endpoint")
    if not any(updated.available(flow) for flow in updated.flows):
        raise OAuthError(
            f"{provider.issuer} offers neither the device flow nor the authorization code "
            "flow with PKCE (S256)"
        )
    return updated
