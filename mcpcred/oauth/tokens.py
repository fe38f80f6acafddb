"""Reading token-endpoint answers (RFC 6749 §5), with the quirks real providers have.

Shared by the CLI (login) and the shim (refresh), so a quirk is handled once:

- GitHub answers ``application/x-www-form-urlencoded`` unless asked for
  JSON, sends errors with HTTP 200, lists scopes with commas and numbers as
  strings; so a reply is decoded by its content, an ``error`` field wins over
  the status, and numbers are read leniently.
- Errors are ``TokenError`` with the provider's ``error`` code; the
  description is cut to one short printable line, since it ends up in
  terminals and MCP client logs.

Nothing here logs or formats a token.
"""

from __future__ import annotations

import json
import math

from mcpcred.errors import OAuthError
from mcpcred.oauth.http import Reply

# Polling answers that mean "keep waiting" (RFC 8628 §3.5); every other error is final.
PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"
# A lifetime longer than a year is read as a year: a token mcpcred keeps is never one that
# "never expires", and every date computed from it stays in range.
MAX_LIFETIME = 366 * 24 * 3600


class TokenError(OAuthError):
    """The endpoint answered with an OAuth error (or with something that is not OAuth)."""

    def __init__(
        self,
        message: str,
        *,
        error: str,
        description: str = "",
        status: int = 0,
        interval: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, error=error)
        self.description = description
        self.status = status
        self.interval = interval


class TokenResponse:
    """A successful token response, fields normalised (a plain class: the shim imports it)."""

    __slots__ = (
        "access_token",
        "expires_in",
        "id_token",
        "refresh_token",
        "refresh_token_expires_in",
        "scope",
    )

    def __init__(
        self,
        access_token: str,
        *,
        expires_in: int | None = None,
        refresh_token: str | None = None,
        refresh_token_expires_in: int | None = None,
        scope: tuple[str, ...] | None = None,
        id_token: str | None = None,
    ) -> None:
        self.access_token = access_token
        self.expires_in = expires_in
        self.refresh_token = refresh_token
        self.refresh_token_expires_in = refresh_token_expires_in
        self.scope = scope
        self.id_token = id_token


def decode(reply: Reply) -> dict[str, object]:
    """The fields of a reply body: JSON, or form-encoded (GitHub's default)."""
    text = reply.body.decode("utf-8", "replace").strip()
    kind = reply.content_type.split(";")[0].strip().lower()
    if kind.endswith("json") or text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}
    if kind == "application/x-www-form-urlencoded" or (text and "=" in text and "<" not in text):
        from urllib.parse import parse_qsl

        return dict(parse_qsl(text, keep_blank_values=True))
    return {}


def parse(reply: Reply, *, what: str, comma_scopes: bool = False) -> TokenResponse:
    """The token response in ``reply``; ``TokenError`` for an error or a non-OAuth answer."""
    fields = decode(reply)
    raise_for_error(reply, fields, what)
    token = fields.get("access_token")
    if not isinstance(token, str) or not token:
        raise TokenError(
            f"{what}: the answer has no access_token (HTTP {reply.status})",
            error="invalid_response",
            status=reply.status,
        )
    token_type = str(fields.get("token_type") or "Bearer")
    if token_type.lower() not in ("bearer", "n_a"):
        # DPoP and MAC tokens need proof with every request: not usable as an env var.
        raise TokenError(
            f"{what}: unsupported token type {token_type[:20]!r}",
            error="unsupported_token_type",
            status=reply.status,
        )
    refresh = fields.get("refresh_token")
    id_token = fields.get("id_token")
    return TokenResponse(
        token,
        expires_in=lifetime(fields, "expires_in", reply, what),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        refresh_token_expires_in=lifetime(fields, "refresh_token_expires_in", reply, what),
        scope=scopes(fields.get("scope"), comma=comma_scopes),
        id_token=id_token if isinstance(id_token, str) and id_token else None,
    )


def raise_for_error(reply: Reply, fields: dict[str, object], what: str) -> None:
    """Raise ``TokenError`` when ``reply`` is an OAuth error or not a success at all."""
    error = fields.get("error")
    if isinstance(error, str) and error:
        description = one_line(fields.get("error_description"))
        detail = f" ({description})" if description else ""
        raise TokenError(
            f"{what}: {one_line(error, 60)}{detail}",
            error=one_line(error, 60),
            description=description,
            status=reply.status,
            interval=seconds(fields.get("interval")),
        )
    if not 200 <= reply.status < 300:
        kind = reply.content_type.split(";")[0].strip() or "no content type"
        raise TokenError(
            f"{what}: HTTP {reply.status} ({kind})",
            error="http_error" if reply.status < 500 else "server_error",
            status=reply.status,
        )


def scopes(value: object, *, comma: bool = False) -> tuple[str, ...] | None:
    """A scope field as a tuple; commas separate too where the provider uses them."""
    if isinstance(value, list):
        return tuple(str(v) for v in value if str(v))
    if not isinstance(value, str):
        return None
    text = value.replace(",", " ") if comma or ("," in value and " " not in value) else value
    return tuple(part for part in text.split() if part)


def one_line(value: object, limit: int = 200) -> str:
    """A provider-supplied string, made safe to print: one line, printable, bounded."""
    if not isinstance(value, str):
        return ""
    text = "".join(ch if ch.isprintable() else " " for ch in value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def lifetime(fields: dict[str, object], name: str, reply: Reply, what: str) -> int | None:
    """The lifetime ``fields[name]`` in seconds, at most ``MAX_LIFETIME``; None when absent.

    A lifetime that is there but is not a number of seconds (negative, ``1e400``, NaN,
    text) is a broken answer, refused with ``TokenError``: reading it as "no expiry"
    would keep a token forever, and reading it as "expired" would hide the provider's bug.
    """
    value = fields.get(name)
    if value is None or value == "":
        return None
    number = seconds(value)
    if number is None:
        raise TokenError(
            f"{what}: the answer's {name} is not a number of seconds",
            error="invalid_response",
            status=reply.status,
        )
    return number


def seconds(value: object) -> int | None:
    """A lifetime or interval in seconds, at most ``MAX_LIFETIME``; None unless a number >= 0.

    Providers send ints, strings or floats; JSON's ``1e400`` is a float infinity.
    """
    if isinstance(value, bool):
        return None
    number: float
    if isinstance(value, int):
        number = float(min(value, MAX_LIFETIME)) if value >= 0 else -1.0
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0:
        return None
    return int(min(number, MAX_LIFETIME))
