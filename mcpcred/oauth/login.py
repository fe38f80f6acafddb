"""A whole login: pick a flow, run it, learn who logged in, store the result.

Only the CLI runs this: it may open a browser and wait for the user. What it
stores (``records``) is everything the shim will need to refresh the token
without this module, the config file or the network for discovery.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mcpcred.errors import OAuthError, UsageError
from mcpcred.oauth import device, discovery, loopback, records, tokens
from mcpcred.oauth.device import DeviceCode
from mcpcred.oauth.providers import DEVICE, FLOWS, PKCE, Provider
from mcpcred.oauth.records import AccessToken, LoginRecord
from mcpcred.oauth.tokens import TokenResponse

if TYPE_CHECKING:
    from mcpcred.keychain.vault import Vault
    from mcpcred.oauth.http import Transport


class LoginUI(Protocol):
    """How a login talks to the user (the CLI renders it with rich)."""

    def device_code(self, code: DeviceCode, opened: bool) -> None:
        """Show where to go and what to type."""

    def authorize_url(self, url: str, opened: bool) -> None:
        """Show the URL the browser should open."""

    def waiting(self, what: str) -> AbstractContextManager[object]:
        """A context manager shown while polling or listening (a spinner)."""


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What the user asked for."""

    provider: Provider
    account: str = "default"
    flow: str | None = None
    browser: bool = True
    client_secret: str | None = None
    timeout: float = loopback.DEFAULT_TIMEOUT
    skew: int = 300


def client_id_hint(provider: Provider) -> str:
    """Exactly how to get a client id for ``provider`` and where to put it."""
    from mcpcred.paths import config_file

    steps = provider.register_steps or (
        f"register an OAuth client for mcpcred at {provider.register_url or 'the provider'} "
        "(docs/login.md#providers)"
    )
    return (
        f"{steps}; then run `mcpcred login {provider.name} --client-id ID`, or put "
        f'client-id = "ID" under [providers.{provider.name}] in {config_file()}'
    )


def login(
    request: LoginRequest,
    *,
    transport: Transport,
    vault: Vault,
    ui: LoginUI,
    open_url: Callable[[str], bool],
    clock: Callable[[], float] = time.time,
) -> LoginRecord:
    """Log in and store the login; returns the stored record."""
    provider = discovery.complete(request.provider, transport)
    if not provider.client_id:
        raise UsageError(
            f"{provider.title} needs a client id registered for mcpcred",
            hint=client_id_hint(provider),
        )
    flow = choose_flow(provider, request.flow)
    secret = request.client_secret
    if flow == PKCE and provider.quirks.secret_for_code and not secret:
        raise UsageError(
            f"{provider.title} needs the client secret for this flow",
            hint="pipe it in with --client-secret-stdin (it is kept in the keychain), "
            "or use --flow device where the provider offers it",
        )
    extra: dict[str, str] = {}
    if secret:
        extra["client_secret"] = secret
    send_resource = provider.quirks.resource_indicators
    if provider.resource and send_resource:
        extra["resource"] = provider.resource

    if flow == DEVICE:
        start_extra = {k: v for k, v in extra.items() if k == "resource"}
        code = device.start(provider, transport, extra=start_extra)
        target = code.verification_uri_complete or code.verification_uri
        opened = request.browser and open_url(target)
        ui.device_code(code, opened)
        with ui.waiting(f"waiting for approval at {code.verification_uri}"):
            response = device.poll(provider, code, transport, extra=extra)
    else:

        def show(url: str) -> None:
            opened = request.browser and open_url(url)
            ui.authorize_url(url, opened)

        with ui.waiting("waiting for the browser to come back"):
            response = loopback.authorize(
                provider, transport, open_url=show, extra=extra, timeout=request.timeout
            )
    now = clock()
    user = identify(provider, response, transport)
    if provider.token_endpoint is None:  # complete() guarantees one; keeps types honest
        raise OAuthError(f"{provider.title} has no token endpoint")
    record = LoginRecord(
        provider=provider.name,
        account=request.account,
        client_id=provider.client_id,
        client_secret=secret,
        token_endpoint=provider.token_endpoint,
        revocation_endpoint=provider.revocation_endpoint,
        issuer=provider.issuer,
        resource=provider.resource,
        scopes=list(response.scope if response.scope is not None else provider.scopes),
        asked_scopes=list(provider.scopes),
        refresh_token=response.refresh_token,
        refresh_expires_at=(
            now + response.refresh_token_expires_in
            if response.refresh_token_expires_in is not None
            else None
        ),
        comma_scopes=provider.quirks.comma_scopes,
        send_resource=send_resource,
        skew=request.skew,
        user=user,
        flow=flow,
        created_at=now,
    )
    vault.write(records.record_name(provider.name, request.account), record.dumps())
    access = AccessToken.issued(response, now, request.skew)
    vault.write(records.access_name(provider.name, request.account), access.dumps())
    return record


def choose_flow(provider: Provider, wanted: str | None) -> str:
    """The flow to run: the one asked for if possible, else the provider's first."""
    if wanted is not None:
        if wanted not in FLOWS:
            raise UsageError(f"unknown flow {wanted!r}; choose device or pkce")
        if not provider.available(wanted):
            offered = [f for f in provider.flows if provider.available(f)]
            raise UsageError(
                f"{provider.title} does not offer the {wanted} flow here",
                hint=f"use --flow {offered[0]}" if offered else None,
            )
        return wanted
    for flow in provider.flows:
        if provider.available(flow):
            return flow
    raise OAuthError(f"{provider.title} has no endpoint for either login flow")


def identify(provider: Provider, response: TokenResponse, transport: Transport) -> str | None:
    """Who logged in, for ``status``: from the ID token, else the identity endpoint.

    Best effort and display only: the ID token's signature is not checked
    (it came straight from the token endpoint over TLS, and nothing is
    authorised on its strength), and any failure just means "unknown".
    """
    field = provider.identity_field
    if response.id_token:
        claims = _jwt_claims(response.id_token)
        for key in (field, "preferred_username", "email", "sub"):
            value = claims.get(key)
            if isinstance(value, str) and value:
                return tokens.one_line(value, 120)
    if provider.identity_endpoint is None:
        return None
    try:
        reply = transport.get(
            provider.identity_endpoint,
            {"Authorization": f"Bearer {response.access_token}", "Accept": "application/json"},
        )
    except OAuthError:
        return None
    if reply.status != 200:
        return None
    value = tokens.decode(reply).get(field)
    return tokens.one_line(value, 120) if isinstance(value, str) and value else None


def _jwt_claims(token: str) -> dict[str, object]:
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def revoke(record: LoginRecord, transport: Transport) -> bool | None:
    """Revoke the refresh token (RFC 7009); None when the provider offers no endpoint."""
    if record.revocation_endpoint is None or not record.refresh_token:
        return None
    form = {
        "token": record.refresh_token,
        "token_type_hint": "refresh_token",
        "client_id": record.client_id,
    }
    if record.client_secret:
        form["client_secret"] = record.client_secret
    try:
        reply = transport.post_form(
            record.revocation_endpoint, form, {"Accept": "application/json"}
        )
    except OAuthError:
        return False
    # RFC 7009 §2.2: 200 also for a token that was already invalid.
    return reply.status == 200
