"""What the keychain keeps for a login, and the names it keeps it under.

Two items per login, both JSON, both in the keychain service ``mcpcred``:

- ``oauth:<provider>/<account>``: the login record. The refresh token, and
  everything needed to use it without mcpcred's config (token endpoint,
  client id, quirks), so a server start never depends on a file that may
  have changed. Rewritten whenever the provider rotates the refresh token.
- ``oauth:<provider>/<account>:access``: the cached access token with its
  expiry and the moment it should be refreshed. The shim reads only this
  item on the fast path.

Plain classes and ``json`` only: the shim imports this module.
"""

from __future__ import annotations

import json

from mcpcred.errors import LoginRequired
from mcpcred.oauth.tokens import TokenResponse

VERSION = 1
PREFIX = "oauth:"
ACCESS_SUFFIX = ":access"


def record_name(provider: str, account: str) -> str:
    """Keychain name of the login record."""
    return f"{PREFIX}{provider}/{account}"


def access_name(provider: str, account: str) -> str:
    """Keychain name of the cached access token."""
    return record_name(provider, account) + ACCESS_SUFFIX


def login_command(provider: str, account: str) -> str:
    """The command that (re)creates this login, for hints."""
    if account == "default":
        return f"mcpcred login {provider}"
    return f"mcpcred login {provider} --account {account}"


def fresh_access(cached: str | None, now: float) -> AccessToken | None:
    """The access token in a cache item if it needs no refresh at ``now``; else None."""
    found = AccessToken.loads(cached)
    return found if found is not None and found.fresh(now) else None


def fresh_token(cached: str | None, now: float) -> str | None:
    """The token value in a cache item if it needs no refresh at ``now``; else None."""
    found = fresh_access(cached, now)
    return found.token if found is not None else None


class AccessToken:
    """A cached access token: the value, when it expires, when to replace it."""

    __slots__ = ("expires_at", "obtained_at", "refresh_at", "scopes", "token")

    def __init__(
        self,
        token: str,
        *,
        expires_at: float | None,
        refresh_at: float | None,
        obtained_at: float,
        scopes: list[str] | None = None,
    ) -> None:
        self.token = token
        self.expires_at = expires_at
        self.refresh_at = refresh_at
        self.obtained_at = obtained_at
        self.scopes = scopes

    @classmethod
    def issued(cls, response: TokenResponse, now: float, skew: int) -> AccessToken:
        """The token from a fresh response; refreshed ``skew`` s (at most half its life) early."""
        expires_at = refresh_at = None
        if response.expires_in is not None:
            lifetime = float(response.expires_in)
            expires_at = now + lifetime
            refresh_at = expires_at - min(float(skew), lifetime / 2)
        scopes = list(response.scope) if response.scope is not None else None
        return cls(
            response.access_token,
            expires_at=expires_at,
            refresh_at=refresh_at,
            obtained_at=now,
            scopes=scopes,
        )

    def fresh(self, now: float) -> bool:
        """Good to hand to a server that starts now (no refresh due)."""
        return self.refresh_at is None or now < self.refresh_at

    def valid(self, now: float, margin: float = 5.0) -> bool:
        """Not expired yet (with a margin), even if a refresh is due."""
        return self.expires_at is None or now + margin < self.expires_at

    def dumps(self) -> str:
        """The keychain form."""
        return json.dumps(
            {
                "v": VERSION,
                "access_token": self.token,
                "expires_at": self.expires_at,
                "refresh_at": self.refresh_at,
                "obtained_at": self.obtained_at,
                "scopes": self.scopes,
            },
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, text: str | None) -> AccessToken | None:
        """The cached token, or None when there is none or it is unreadable (then: refresh)."""
        if not text:
            return None
        try:
            data = json.loads(text)
            token = data["access_token"]
            if data.get("v") != VERSION or not isinstance(token, str) or not token:
                return None
            return cls(
                token,
                expires_at=_number(data.get("expires_at")),
                refresh_at=_number(data.get("refresh_at")),
                obtained_at=_number(data.get("obtained_at")) or 0.0,
                scopes=_strings(data.get("scopes")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


class LoginRecord:
    """A login as stored: the refresh token and how to use it."""

    _FIELDS = (
        "provider",
        "account",
        "client_id",
        "client_secret",
        "token_endpoint",
        "revocation_endpoint",
        "issuer",
        "resource",
        "scopes",
        "refresh_token",
        "refresh_expires_at",
        "comma_scopes",
        "send_resource",
        "skew",
        "user",
        "flow",
        "created_at",
        "refreshed_at",
        "server_url",
        "registration",
        "asked_scopes",
    )
    __slots__ = _FIELDS

    provider: str
    account: str
    client_id: str
    client_secret: str | None
    token_endpoint: str
    revocation_endpoint: str | None
    issuer: str | None
    resource: str | None
    scopes: list[str]
    refresh_token: str | None
    refresh_expires_at: float | None
    comma_scopes: bool
    send_resource: bool
    skew: int
    user: str | None
    flow: str
    created_at: float
    refreshed_at: float | None
    # A login to a remote MCP server (``mcpcred login URL``): the server's URL (``resource``
    # is its canonical form, sent on every token request) and how the client id was
    # obtained ("pre-registered", "metadata-document", "dynamic", "mcp-remote").
    server_url: str | None
    registration: str | None
    # A provider login's ``scopes`` are those granted (the token response's ``scope``),
    # which may be fewer or differently named; ``asked_scopes`` keeps what the login
    # asked for, so ``setup`` can tell a login that never asked for a declared scope
    # (None: a record written before it was kept).
    asked_scopes: list[str] | None

    def __init__(self, **fields: object) -> None:
        defaults: dict[str, object] = {
            "client_secret": None,
            "revocation_endpoint": None,
            "issuer": None,
            "resource": None,
            "scopes": [],
            "refresh_token": None,
            "refresh_expires_at": None,
            "comma_scopes": False,
            "send_resource": True,
            "skew": 300,
            "user": None,
            "flow": "device",
            "created_at": 0.0,
            "refreshed_at": None,
            "server_url": None,
            "registration": None,
            "asked_scopes": None,
        }
        unknown = set(fields) - set(self._FIELDS)
        if unknown:
            raise TypeError(f"unknown login record field(s): {sorted(unknown)}")
        for name in self._FIELDS:
            if name in fields:
                setattr(self, name, fields[name])
            elif name in defaults:
                setattr(self, name, defaults[name])
            else:
                raise TypeError(f"login record field {name!r} is required")

    def label(self) -> str:
        """``github`` or ``github/work``, as in references."""
        return self.provider if self.account == "default" else f"{self.provider}/{self.account}"

    def refresh_form(self) -> dict[str, str]:
        """The body of a refresh request (RFC 6749 §6)."""
        if not self.refresh_token:
            raise LoginRequired(
                f"the {self.label()} login has no refresh token",
                hint=f"log in again: {login_command(self.provider, self.account)}",
            )
        form = {
            "grant_type": "refresh_token",
            "refresh_token": self.refresh_token,
            "client_id": self.client_id,
        }
        if self.client_secret:
            form["client_secret"] = self.client_secret
        if self.resource and self.send_resource:
            form["resource"] = self.resource
        return form

    def refreshed(self, response: TokenResponse, now: float) -> LoginRecord:
        """This record after a refresh: the rotated refresh token if the provider sent one."""
        fields = {name: getattr(self, name) for name in self._FIELDS}
        fields["refreshed_at"] = now
        if response.refresh_token:
            fields["refresh_token"] = response.refresh_token
            if response.refresh_token_expires_in is not None:
                fields["refresh_expires_at"] = now + response.refresh_token_expires_in
        return LoginRecord(**fields)

    def dumps(self) -> str:
        """The keychain form."""
        data: dict[str, object] = {"v": VERSION}
        data.update({name: getattr(self, name) for name in self._FIELDS})
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None) -> LoginRecord | None:
        """The record, or None when the text is not one this version can use."""
        if not text:
            return None
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.pop("v", None) != VERSION:
                return None
            known = {k: v for k, v in data.items() if k in cls._FIELDS}
            record = cls(**known)
        except (ValueError, TypeError):
            return None
        if not all(isinstance(getattr(record, k), str) for k in ("client_id", "token_endpoint")):
            return None
        return record


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _strings(value: object) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [str(v) for v in value]
