"""Authorization code + PKCE with a loopback redirect (RFC 6749, 7636, 8252).

mcpcred listens on ``127.0.0.1`` (never ``0.0.0.0``; RFC 8252 §8.3 prefers
the literal address to ``localhost``) on an ephemeral port unless the
provider matches ports exactly, sends the user's browser to the provider
with an S256 challenge and a random ``state``, and serves exactly one
callback: the first request to ``/callback``. Anything else gets a 404 and
is ignored; after the callback the socket is closed. A wrong ``state``
ends the login (it is how a forged redirect shows); so does an ``iss``
that differs from the issuer (RFC 9207 mix-up protection), when both are
known, and a missing ``iss`` when the server's metadata promises one.

The browser's request for the callback is answered last: ``state``, ``error``
and ``iss`` are checked and the code is exchanged while the browser waits, and
only a successful exchange is answered "Logged in". Every other outcome gets a
"Login failed" page, so the tab never claims a login that did not happen.
"""

from __future__ import annotations

import html
import os
import socket
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from mcpcred.errors import LoginDenied, OAuthError
from mcpcred.oauth import tokens
from mcpcred.oauth.providers import Provider
from mcpcred.oauth.tokens import TokenResponse
from mcpcred.oauth.urls import check_endpoint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcpcred.oauth.http import Transport

CALLBACK_PATH = "/callback"
DEFAULT_TIMEOUT = 300.0
ANSWER_TIMEOUT = 5.0  # sending the page to a browser that stopped reading
_MAX_REQUEST = 16384


@dataclass(slots=True)
class Callback:
    """What the browser brought back, and its connection, still waiting for a page."""

    params: dict[str, str]
    conn: socket.socket | None = None

    def answer(self, status: int, title: str, text: str) -> None:
        """Show the browser its page (once) and close the connection."""
        conn, self.conn = self.conn, None
        if conn is not None:
            with conn:
                _respond(conn, status, title, text)


def fixed_redirect(uri: str) -> tuple[str, int, str] | None:
    """(bind address, port, path) of a fixed redirect URI the listener can receive.

    Only ``http://`` to ``localhost``, ``127.0.0.1`` or ``[::1]`` with an explicit port, a
    path, and no query, fragment or userinfo: what a client's OAuth app may be registered
    with (Gemini CLI's ``http://localhost:7777/oauth/callback``). ``localhost`` is served
    on 127.0.0.1 (RFC 8252 §8.3: never a wildcard address). None for anything else.
    """
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme != "http" or port is None or port == 0 or "@" in parts.netloc:
        return None
    if parts.query or parts.fragment or "#" in uri or not parts.path.startswith("/"):
        return None
    address = {"localhost": "127.0.0.1", "127.0.0.1": "127.0.0.1", "::1": "::1"}.get(host)
    return (address, port, parts.path) if address else None


class Listener:
    """A one-shot HTTP listener on 127.0.0.1 (or ::1) for the redirect."""

    def __init__(
        self,
        port: int = 0,
        path: str = CALLBACK_PATH,
        address: str = "127.0.0.1",
        *,
        fixed: bool = False,  # the port and path are an OAuth app's registered redirect
    ) -> None:
        self.path = path
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if port and os.name != "nt":
            # A fixed port (Atlassian) must be free again right after the last login,
            # whose closed callback connection sits in TIME_WAIT. (On Windows this
            # option would let another program take the port; there it is not needed.)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((address, port))
        except OSError as exc:
            self.sock.close()
            raise OAuthError(
                f"cannot listen on {address}:{port} for the login callback: {exc.strerror}",
                hint="another program uses that port, which the OAuth app's redirect names; "
                "close it (the client the app was made for listens there while it signs in) "
                "and log in again"
                if fixed
                else "another program uses that port; close it or change redirect-port",
            ) from None
        self.sock.listen(4)
        self.port: int = self.sock.getsockname()[1]

    @property
    def redirect_uri(self) -> str:
        """What the provider must redirect to."""
        return f"http://127.0.0.1:{self.port}{CALLBACK_PATH}"

    def wait(self, timeout: float) -> Callback:
        """Serve until the callback arrives (its answer is the caller's), or time out."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LoginDenied(
                        f"no answer from the browser within {timeout:g} s",
                        hint="run the login again (or use --flow device)",
                        error="timeout",
                    )
                self.sock.settimeout(left)
                try:
                    conn, _addr = self.sock.accept()
                except TimeoutError:
                    continue
                try:
                    # short: a browser's speculative preconnect sends nothing at all
                    conn.settimeout(min(2.0, max(left, 0.1)))
                    target = _request_target(conn)
                    if target is None or urlsplit(target).path != self.path:
                        _respond(conn, 404, "Not found", "This is mcpcred's login listener.")
                        conn.close()
                        continue
                    params = dict(parse_qsl(urlsplit(target).query, keep_blank_values=True))
                    conn.settimeout(ANSWER_TIMEOUT)  # for sending the page, after the exchange
                except BaseException:
                    conn.close()
                    raise
                return Callback(params, conn)
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening (idempotent)."""
        self.sock.close()


def authorize(
    provider: Provider,
    transport: Transport,
    *,
    open_url: Callable[[str], None],
    extra: dict[str, str],
    timeout: float = DEFAULT_TIMEOUT,
) -> TokenResponse:
    """Run the whole flow: listen, send the user to the provider, exchange the code."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    if provider.authorization_endpoint is None or provider.token_endpoint is None:
        raise OAuthError(f"{provider.name} has no authorization endpoint")
    if provider.client_id is None:
        raise OAuthError(f"{provider.name} needs a client id")
    check_endpoint(provider.authorization_endpoint, f"{provider.name} authorization endpoint")
    verifier = generate_token(64)
    state = generate_token(32)
    fixed = fixed_redirect(provider.redirect_uri) if provider.redirect_uri else None
    if provider.redirect_uri and fixed is None:
        raise OAuthError(f"{provider.name}: a redirect URI mcpcred cannot listen on")
    if fixed:
        listener = Listener(fixed[1], fixed[2], fixed[0], fixed=True)
    else:
        listener = Listener(provider.redirect_port)
    # the app's own redirect, exactly as it is registered; else the listener's
    redirect = provider.redirect_uri if fixed and provider.redirect_uri else listener.redirect_uri
    try:
        url = prepare_grant_uri(
            provider.authorization_endpoint,
            provider.client_id,
            "code",
            redirect_uri=redirect,
            scope=" ".join(provider.scopes) or None,
            state=state,
            code_challenge=create_s256_code_challenge(verifier),
            code_challenge_method="S256",
            **dict(provider.auth_params),
            **{k: v for k, v in extra.items() if k == "resource"},
        )
        open_url(url)
        callback = listener.wait(timeout)
    finally:
        listener.close()
    try:
        response = _finish(provider, transport, callback.params, state, verifier, redirect, extra)
    except BaseException:
        callback.answer(
            400,
            "Login failed",
            f"mcpcred did not log you in to {provider.title}; the terminal says why. "
            "You can close this tab.",
        )
        raise
    callback.answer(
        200, "Logged in", f"mcpcred is logged in to {provider.title}. You can close this tab."
    )
    return response


def _finish(
    provider: Provider,
    transport: Transport,
    params: dict[str, str],
    state: str,
    verifier: str,
    redirect_uri: str,
    extra: dict[str, str],
) -> TokenResponse:
    """Check the callback (``state`` first, then ``iss``, then ``error``), exchange its code."""
    if provider.token_endpoint is None or provider.client_id is None:  # checked by authorize
        raise OAuthError(f"{provider.name} has no token endpoint")
    if params.get("state") != state:
        raise OAuthError(
            "the login callback carried the wrong state: refused (a forged or stale redirect)",
            hint="run the login again, and finish it in the browser tab it opens",
            error="state_mismatch",
        )
    # `iss` before `error`: an answer from the wrong server (a mix-up) is not shown at all,
    # not even its error_description (RFC 9207 §2.4).
    issuer = params.get("iss")
    if issuer is None and provider.iss_required:
        raise OAuthError(
            f"the login callback carried no issuer (iss), though {provider.issuer} says it "
            "always sends one: refused (RFC 9207 mix-up protection)",
            error="issuer_mismatch",
        )
    if issuer is not None and provider.issuer is not None and issuer != provider.issuer:
        raise OAuthError(
            f"the login callback came from issuer {tokens.one_line(issuer, 80)!r}, "
            f"not {provider.issuer!r}: refused (RFC 9207 mix-up protection)",
            error="issuer_mismatch",
        )
    if "error" in params:
        error = tokens.one_line(params["error"], 60)
        description = tokens.one_line(params.get("error_description"))
        detail = f" ({description})" if description else ""
        raised = LoginDenied if error == "access_denied" else OAuthError
        raise raised(f"{provider.name} refused the login: {error}{detail}", error=error)
    code = params.get("code")
    if not code:
        raise OAuthError("the login callback carried no code", error="invalid_response")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": provider.client_id,
        "code_verifier": verifier,
        **extra,
    }
    reply = transport.post_form(provider.token_endpoint, form, {"Accept": "application/json"})
    return tokens.parse(
        reply, what=f"{provider.name} code exchange", comma_scopes=provider.quirks.comma_scopes
    )


def _request_target(conn: socket.socket) -> str | None:
    """The request target of one HTTP request (only the request line matters)."""
    data = b""
    try:
        while b"\r\n" not in data and len(data) < _MAX_REQUEST:
            chunk = conn.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        return None
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    method, _, rest = line.partition(" ")
    target = rest.rpartition(" ")[0] if " HTTP/" in rest else rest
    return target if method == "GET" and target.startswith("/") else None


def _respond(conn: socket.socket, status: int, title: str, text: str) -> None:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>mcpcred: {html.escape(title)}</title></head>"
        "<body style='font-family: system-ui, sans-serif; margin: 3em'>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>"
    ).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        "Cache-Control: no-store\r\nReferrer-Policy: no-referrer\r\n\r\n"
    ).encode()
    with suppress(OSError):
        conn.sendall(head + body)
