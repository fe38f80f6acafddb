"""Which URLs mcpcred will send a credential to, or open in a browser.

Every endpoint must be ``https``, except a loopback address over ``http``
(RFC 8252 §7.3; that is where test servers and local bridges live). URLs that
come from a provider's metadata are attacker-controlled if the provider (or
the network) is: in CVE-2025-6514, mcp-remote passed a discovered
``authorization_endpoint`` to a shell and ran commands. So a URL is checked
here before it is used or opened, and it is opened without any shell.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit, urlunsplit

from mcpcred.errors import OAuthError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_MAX_LENGTH = 8192


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) always means this machine."""
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, what: str) -> str:
    """``url`` if it may carry credentials; else an ``OAuthError`` naming ``what``.

    Refused: anything but https (or http to loopback), user info
    (``https://user:pass@host``), fragments, whitespace and control
    characters (which some URL openers split into extra arguments), and
    absurd lengths.
    """
    if not url or len(url) > _MAX_LENGTH:
        raise OAuthError(f"the {what} is not a usable URL")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise OAuthError(f"the {what} contains whitespace or control characters: refused")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (raises ValueError on a bad port)
    except ValueError:
        raise OAuthError(f"the {what} is not a valid URL") from None
    if not host:
        raise OAuthError(f"the {what} has no host: {_shown(url)}")
    if parts.username is not None or parts.password is not None:
        raise OAuthError(f"the {what} contains user info: refused")
    if parts.fragment or "#" in url:
        raise OAuthError(f"the {what} has a fragment: refused")
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    raise OAuthError(
        f"the {what} must use https (http only to a loopback address): {_shown(url)}",
        hint="check the provider's URL in mcpcred's config, or the issuer you passed",
    )


def _shown(url: str) -> str:
    """A URL cut to a length that fits a one-line error (it never holds a token)."""
    return url if len(url) <= 120 else url[:117] + "..."


def canonical(url: str) -> str:
    """The canonical server URI (RFC 8707 ``resource``): lower-case scheme and host, no
    fragment, no default port, and no trailing slash when the path is only ``/``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is not None and (scheme, port) not in (("https", 443), ("http", 80)):
        host = f"{host}:{port}"
    path = "" if parts.path == "/" else parts.path
    return urlunsplit((scheme, host, path, parts.query, ""))


def resource_covers(stated: str, server_url: str) -> bool:
    """Whether metadata ``resource`` ``stated`` is the server URL or a parent of it."""
    a, b = urlsplit(canonical(stated)), urlsplit(canonical(server_url))
    if (a.scheme, a.netloc) != (b.scheme, b.netloc) or a.query:
        return False
    parent = a.path.rstrip("/")
    return b.path == a.path or b.path.rstrip("/") == parent or b.path.startswith(parent + "/")
