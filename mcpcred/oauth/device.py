"""The device authorization grant (RFC 8628): a code the user types in a browser.

Works from a terminal with no browser, over SSH, in a container. The
polling loop follows the RFC and what real servers do:

- no ``interval`` in the answer means 5 s (oidc-provider never sends one);
- ``slow_down`` adds 5 s, or takes the server's new ``interval`` when it is
  larger (GitHub sends one);
- only ``authorization_pending`` and ``slow_down`` mean "keep polling";
  every other error ends the login (servers disagree on the codes for a bad
  device code, so no other code is special-cased);
- the device code is used until it succeeds once, never again (replaying it
  makes oidc-provider revoke the whole grant).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from mcpcred.errors import LoginDenied, OAuthError
from mcpcred.oauth import tokens
from mcpcred.oauth.providers import Provider
from mcpcred.oauth.tokens import TokenError, TokenResponse
from mcpcred.oauth.urls import check_endpoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcpcred.oauth.http import Transport

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5
DEFAULT_EXPIRES_IN = 900
SLOW_DOWN_STEP = 5
# GitHub answers form-encoded unless asked for JSON; everyone else ignores the header.
_JSON = {"Accept": "application/json"}


@dataclass(frozen=True, slots=True)
class DeviceCode:
    """What the user needs to see, and what mcpcred polls with."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int


def start(provider: Provider, transport: Transport, *, extra: dict[str, str]) -> DeviceCode:
    """Ask for a device code and a user code."""
    endpoint = provider.device_authorization_endpoint
    if endpoint is None or provider.client_id is None:
        raise OAuthError(f"{provider.name} has no device authorization endpoint")
    form = {"client_id": provider.client_id, **extra}
    if provider.scopes:
        form["scope"] = " ".join(provider.scopes)
    reply = transport.post_form(endpoint, form, _JSON)
    fields = tokens.decode(reply)
    tokens.raise_for_error(reply, fields, f"starting the {provider.name} device login")
    device_code = fields.get("device_code")
    user_code = fields.get("user_code")
    # Google calls it verification_url.
    uri = fields.get("verification_uri") or fields.get("verification_url")
    if not (isinstance(device_code, str) and isinstance(user_code, str) and isinstance(uri, str)):
        raise OAuthError(
            f"{provider.name}: the device authorization answer lacks device_code, "
            "user_code or verification_uri"
        )
    complete = fields.get("verification_uri_complete")
    where = f"{provider.name} verification URL"
    return DeviceCode(
        device_code=device_code,
        user_code=tokens.one_line(user_code, 64),
        verification_uri=check_endpoint(uri, where),
        verification_uri_complete=(
            check_endpoint(complete, where) if isinstance(complete, str) and complete else None
        ),
        expires_in=_positive(fields.get("expires_in"), DEFAULT_EXPIRES_IN),
        interval=_positive(fields.get("interval"), DEFAULT_INTERVAL),
    )


def poll(
    provider: Provider,
    code: DeviceCode,
    transport: Transport,
    *,
    extra: dict[str, str],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> TokenResponse:
    """Poll the token endpoint until the user approves, refuses, or the code expires."""
    if provider.token_endpoint is None or provider.client_id is None:
        raise OAuthError(f"{provider.name} has no token endpoint")
    form = {
        "grant_type": GRANT_TYPE,
        "device_code": code.device_code,
        "client_id": provider.client_id,
    }
    form.update(extra)
    deadline = clock() + code.expires_in
    interval = code.interval
    what = f"{provider.name} device login"
    while True:
        if clock() + interval > deadline:
            raise LoginDenied(
                f"the {provider.name} code {code.user_code} expired before it was approved",
                hint=f"run the login again and approve within {code.expires_in // 60 or 1} min",
                error="expired_token",
            )
        sleep(interval)
        reply = transport.post_form(provider.token_endpoint, form, _JSON)
        try:
            return tokens.parse(reply, what=what, comma_scopes=provider.quirks.comma_scopes)
        except TokenError as exc:
            if exc.error == tokens.PENDING:
                continue
            if exc.error == tokens.SLOW_DOWN:
                interval = max(interval + SLOW_DOWN_STEP, exc.interval or 0)
                continue
            if exc.error == "access_denied":
                raise LoginDenied(
                    f"the {provider.name} login was denied",
                    hint="run the login again and approve it",
                    error=exc.error,
                ) from None
            if exc.error in ("expired_token", "token_expired"):
                raise LoginDenied(
                    f"the {provider.name} code {code.user_code} expired before it was approved",
                    hint="run the login again",
                    error="expired_token",
                ) from None
            raise


def _positive(value: object, default: int) -> int:
    """A positive number of seconds (at most ``tokens.MAX_LIFETIME``), else ``default``."""
    seconds = tokens.seconds(value)
    return seconds if seconds else default
