"""The real OAuth test server works, and its harness can tell when it does not.

These drive ``tests/oauth_server/oidc_server.mjs`` (panva's ``oidc-provider``) through
``tests/support/oauth_server.py`` and ``tests/support/fakebrowser.py`` with plain httpx,
never mcpcred's code, so a failure here points at the harness rather than at mcpcred.
They also pin the server behaviour that mcpcred's login and refresh code must cope with:
no ``interval`` in the device response, rotation with reuse detection, RFC 9207 ``iss``.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from tests.support import fakebrowser
from tests.support.oauth_server import (
    CLIENT_ID,
    DEVICE_CODE_GRANT,
    OidcServer,
    StartOidcServer,
    require_node,
)

ZERO_STATS = {
    "token": 0,
    "authorization_code": 0,
    "refresh_token": 0,
    DEVICE_CODE_GRANT: 0,
    "refresh_ok": 0,
    "refresh_error": 0,
    "revocation": 0,
    "device_authorization": 0,
    "refresh_with_resource": 0,
    "registration": 0,
}


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    """The OAuth client's HTTP (no proxies from the environment: everything is loopback)."""
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        yield http


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """The user's browser: keeps cookies, follows redirects."""
    with httpx.Client(timeout=10.0, trust_env=False, follow_redirects=True) as http:
        yield http


class _Listener(http.server.HTTPServer):
    """A one-shot loopback redirect listener (RFC 8252 §7.3) on 127.0.0.1:<random port>."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CallbackHandler)
        self.paths: list[str] = []
        self.timeout = 10.0

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/callback"


class _CallbackHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        assert isinstance(self.server, _Listener)
        self.server.paths.append(self.path)
        body = b"You can close this window."
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[_Listener]:
    server = _Listener()
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if thread.is_alive():  # the test failed before the redirect: release the thread
            with httpx.Client(trust_env=False) as http:
                http.get(server.redirect_uri)
        thread.join(10)
        server.server_close()


def _device_start(server: OidcServer, client: httpx.Client) -> dict[str, Any]:
    response = client.post(
        server.metadata()["device_authorization_endpoint"],
        data={"client_id": CLIENT_ID, "scope": "openid mcp:tools", "resource": server.resource},
    )
    assert response.status_code == 200, response.text
    started: dict[str, Any] = response.json()
    return started


def _token(server: OidcServer, client: httpx.Client, **data: str) -> httpx.Response:
    return client.post(server.url("/token"), data={"client_id": CLIENT_ID, **data})


def _poll(server: OidcServer, client: httpx.Client, device_code: str) -> httpx.Response:
    return _token(server, client, grant_type=DEVICE_CODE_GRANT, device_code=device_code)


def _refresh(server: OidcServer, client: httpx.Client, refresh_token: str) -> httpx.Response:
    return _token(server, client, grant_type="refresh_token", refresh_token=refresh_token)


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    error = response.json()["error"]
    assert isinstance(error, str)
    return error


def _device_login(
    server: OidcServer, client: httpx.Client, browser: httpx.Client, login: str = "alice"
) -> dict[str, Any]:
    """Device flow, approved: returns the token response."""
    started = _device_start(server, client)
    fakebrowser.approve_device(browser, started["verification_uri_complete"], login=login)
    response = _poll(server, client, started["device_code"])
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _call_resource(server: OidcServer, client: httpx.Client, access_token: str) -> httpx.Response:
    return client.get(server.resource, headers={"Authorization": f"Bearer {access_token}"})


def test_discovery_names_this_issuer_and_the_device_endpoint(
    oidc_server: OidcServer, client: httpx.Client
) -> None:
    issuer = f"http://127.0.0.1:{oidc_server.port}"
    assert oidc_server.issuer == issuer
    assert oidc_server.resource == f"{issuer}/mcp"
    assert oidc_server.client_id == "mcpcred-test"
    meta = oidc_server.metadata()
    assert meta["issuer"] == issuer
    assert meta["device_authorization_endpoint"] == f"{issuer}/device/auth"
    assert meta["token_endpoint"] == f"{issuer}/token"
    assert meta["revocation_endpoint"] == f"{issuer}/token/revocation"
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert DEVICE_CODE_GRANT in meta["grant_types_supported"]
    # The RFC 9728 glue: the resource names this server, and /mcp points at it on a 401.
    prm = client.get(f"{issuer}/.well-known/oauth-protected-resource/mcp").json()
    assert prm["resource"] == oidc_server.resource
    assert prm["authorization_servers"] == [issuer]
    unauthorized = client.get(oidc_server.resource)
    assert unauthorized.status_code == 401
    challenge = unauthorized.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{issuer}/.well-known/oauth-protected-resource/mcp"' in challenge


def test_device_flow_approved_gives_tokens_the_resource_accepts(
    oidc_server: OidcServer, client: httpx.Client, browser: httpx.Client
) -> None:
    started = _device_start(oidc_server, client)
    assert started["expires_in"] == 600
    assert "interval" not in started  # oidc-provider never sends one: clients default to 5 s
    assert started["verification_uri_complete"].startswith(
        f"{oidc_server.issuer}/device?user_code="
    )
    assert _error(_poll(oidc_server, client, started["device_code"])) == "authorization_pending"

    page = fakebrowser.approve_device(browser, started["verification_uri_complete"], login="bob")
    assert fakebrowser.title(page) == "Sign-in Success"

    response = _poll(oidc_server, client, started["device_code"])
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 60
    assert tokens["refresh_token"]
    called = _call_resource(oidc_server, client, tokens["access_token"])
    assert called.status_code == 200, called.text
    assert called.json()["sub"] == "bob"
    assert called.json()["client_id"] == CLIENT_ID
    # Replaying a used device code fails (and, per oidc-provider, revokes the grant).
    assert _error(_poll(oidc_server, client, started["device_code"])) == "invalid_grant"


def test_device_flow_denied_gives_access_denied(
    oidc_server: OidcServer, client: httpx.Client, browser: httpx.Client
) -> None:
    started = _device_start(oidc_server, client)
    fakebrowser.approve_device(browser, started["verification_uri_complete"], deny=True)
    assert _error(_poll(oidc_server, client, started["device_code"])) == "access_denied"


def test_device_code_expires_after_device_ttl(
    start_oidc_server: StartOidcServer, client: httpx.Client
) -> None:
    server = start_oidc_server(DEVICE_TTL="2")
    started = _device_start(server, client)
    assert started["expires_in"] == 2
    begun = time.monotonic()
    errors = [_error(_poll(server, client, started["device_code"]))]
    while errors[-1] == "authorization_pending" and time.monotonic() - begun < 6:
        time.sleep(0.25)
        errors.append(_error(_poll(server, client, started["device_code"])))
    assert errors[0] == "authorization_pending"
    assert errors[-1] == "expired_token", errors
    assert time.monotonic() - begun >= 1


def test_authorization_code_with_pkce_over_a_loopback_redirect(
    oidc_server: OidcServer, client: httpx.Client, browser: httpx.Client, listener: _Listener
) -> None:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    state = secrets.token_urlsafe(16)
    query = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": listener.redirect_uri,  # registered without a port: RFC 8252 §7.3
        "scope": "openid mcp:tools",
        "state": state,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": oidc_server.resource,
    }
    url = f"{oidc_server.metadata()['authorization_endpoint']}?{urlencode(query)}"

    landed = fakebrowser.approve_authorize(browser, url, login="carol")

    assert landed.status_code == 200
    assert landed.text == "You can close this window."
    assert len(listener.paths) == 1
    callback = urlsplit(listener.paths[0])
    assert callback.path == "/callback"
    params = parse_qs(callback.query)
    assert params["state"] == [state]
    assert params["iss"] == [oidc_server.issuer]  # RFC 9207
    exchange = {
        "grant_type": "authorization_code",
        "code": params["code"][0],
        "redirect_uri": listener.redirect_uri,
    }
    wrong = _token(oidc_server, client, **exchange, code_verifier=secrets.token_urlsafe(48))
    assert _error(wrong) == "invalid_grant"  # PKCE is checked (and the code survives it)
    response = _token(oidc_server, client, **exchange, code_verifier=verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["refresh_token"]
    assert _call_resource(oidc_server, client, tokens["access_token"]).json()["sub"] == "carol"
    assert (
        _error(_token(oidc_server, client, **exchange, code_verifier=verifier)) == "invalid_grant"
    )
    assert oidc_server.stats()["authorization_code"] == 3


def test_refresh_rotates_and_reusing_the_old_token_revokes_the_grant(
    oidc_server: OidcServer, client: httpx.Client, browser: httpx.Client
) -> None:
    first = _device_login(oidc_server, client, browser)["refresh_token"]
    response = _refresh(oidc_server, client, first)
    assert response.status_code == 200, response.text
    second = response.json()["refresh_token"]
    assert second != first
    assert _error(_refresh(oidc_server, client, first)) == "invalid_grant"
    # Reuse detection: the new refresh token died with the grant.
    assert _error(_refresh(oidc_server, client, second)) == "invalid_grant"
    stats = oidc_server.stats()
    assert (stats["refresh_token"], stats["refresh_ok"], stats["refresh_error"]) == (3, 1, 2)


def test_rotate_0_keeps_the_refresh_token_and_env_reaches_the_server(
    start_oidc_server: StartOidcServer, client: httpx.Client, browser: httpx.Client
) -> None:
    server = start_oidc_server(ACCESS_TTL="7", ROTATE="0")
    tokens = _device_login(server, client, browser)
    assert tokens["expires_in"] == 7
    for _ in range(2):
        response = _refresh(server, client, tokens["refresh_token"])
        assert response.status_code == 200, response.text
        assert response.json()["refresh_token"] == tokens["refresh_token"]
        assert response.json()["expires_in"] == 7


def test_stats_count_exactly_what_was_sent_and_reset_zeroes_them(
    oidc_server: OidcServer, client: httpx.Client, browser: httpx.Client
) -> None:
    assert oidc_server.stats() == ZERO_STATS
    started = _device_start(oidc_server, client)
    _poll(oidc_server, client, started["device_code"])  # authorization_pending
    fakebrowser.approve_device(browser, started["verification_uri_complete"])
    refresh_token = _poll(oidc_server, client, started["device_code"]).json()["refresh_token"]
    assert _refresh(oidc_server, client, refresh_token).status_code == 200
    assert oidc_server.stats() == {
        **ZERO_STATS,
        "token": 3,
        DEVICE_CODE_GRANT: 2,
        "refresh_token": 1,
        "refresh_ok": 1,
        "device_authorization": 1,
    }

    oidc_server.reset()
    assert oidc_server.stats() == ZERO_STATS

    revoked = client.post(
        oidc_server.metadata()["revocation_endpoint"],
        data={"client_id": CLIENT_ID, "token": refresh_token, "token_type_hint": "refresh_token"},
    )
    assert revoked.status_code == 200, revoked.text
    _token(oidc_server, client, grant_type="refresh_token", refresh_token="not-a-token")
    client.post(oidc_server.url("/token"), json={"grant_type": "refresh_token"})  # not a form
    assert oidc_server.stats() == {
        **ZERO_STATS,
        "token": 2,
        "refresh_token": 1,
        "refresh_error": 1,
        "revocation": 1,
        "(no grant_type)": 1,
    }


def test_slow_token_ms_holds_token_responses_back(
    start_oidc_server: StartOidcServer, client: httpx.Client
) -> None:
    server = start_oidc_server(SLOW_TOKEN_MS="400")
    begun = time.monotonic()
    assert _error(_refresh(server, client, "not-a-token")) == "invalid_grant"
    assert time.monotonic() - begun >= 0.4
    assert server.stats()["refresh_error"] == 1


def test_stop_ends_the_server(start_oidc_server: StartOidcServer, client: httpx.Client) -> None:
    server = start_oidc_server()
    assert server.is_running()
    assert "oidc-provider WARNING" in server.stderr()  # stderr is captured, not lost
    server.stop()
    assert not server.is_running()
    with pytest.raises(httpx.ConnectError):
        client.get(server.url("/.well-known/oauth-authorization-server"))
    server.stop()  # idempotent


def test_a_server_that_cannot_start_raises_with_its_stderr() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RuntimeError, match=r"exited with status 1[\s\S]*EADDRINUSE"):
            OidcServer({"PORT": taken.getsockname()[1]})


def test_missing_node_or_package_raises_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(RuntimeError, match=r"oidc-provider is not installed.*\./scripts/test"):
        require_node(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match=r"node is not on PATH.*\./scripts/test"):
        OidcServer()
