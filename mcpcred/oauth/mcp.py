"""``mcpcred login URL``: the client side of MCP authorization, for a remote MCP server.

The steps, in the order of the MCP authorization spec (2026-07-28):

1. an unauthenticated request to the server; its ``401`` carries
   ``WWW-Authenticate: Bearer resource_metadata=..., scope=...`` (both optional);
2. the protected resource metadata (RFC 9728): the header's URL, else the
   path-inserted well-known URL, else the root one. Its ``resource`` must be the
   server's URL or a parent of it: otherwise a server could collect tokens meant for
   another resource;
3. the authorization server's metadata (RFC 8414, then OpenID Connect, in the spec's
   order), whose ``issuer`` must equal the issuer asked for, character for character;
4. **a server that does not advertise PKCE S256 is refused** (the spec's MUST);
   ``--assume-pkce`` is the documented escape hatch for Entra ID and Cognito, which
   support S256 but do not say so;
5. a client id: pre-registered (``--client-id``, or one stored for this issuer), a
   Client ID Metadata Document URL (``--client-metadata-url``, when the server
   supports it), or RFC 7591 dynamic registration (``application_type: native``).
   Client ids are bound to their issuer and kept in the keychain keyed by it;
6. the authorization code flow with PKCE S256 and ``resource`` (RFC 8707: the
   metadata's ``resource``, which is the server's canonical URL or a parent of it)
   on the authorization and token requests, through the existing loopback listener,
   which checks ``state`` and then ``iss`` (RFC 9207);
7. the login record, with everything a refresh needs (token endpoint, client id,
   ``resource``, issuer), so that ``mcpcred:oauth/NAME`` resolves at spawn through
   ``mint`` without discovery, and every refresh sends ``resource``.

Scopes: the challenge's, else the metadata's ``scopes_supported``, plus those of an
earlier login to the same server and ``--scope`` (step-up asks for the union).

CLI only: this module uses httpx. Nothing here prints, logs or raises a token.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from mcpcred import references
from mcpcred.errors import OAuthError, UsageError
from mcpcred.oauth import challenge as challenges
from mcpcred.oauth import loopback, providers, records, tokens
from mcpcred.oauth.providers import PKCE, Provider
from mcpcred.oauth.records import AccessToken, LoginRecord
from mcpcred.oauth.urls import canonical, check_endpoint, resource_covers

if TYPE_CHECKING:
    import httpx

    from mcpcred.keychain.vault import Vault
    from mcpcred.oauth.login import LoginUI

PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
OAUTH_WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
CLIENT_PREFIX = "oauth-client:"  # keychain: a client id (and secret) per issuer
# keychain: an OAuth app ``wrap`` found in a client's entry for a server, by canonical URL
# (``{"client_id", "client_secret_ref"}``: the secret itself is an ordinary secret)
PENDING_PREFIX = "oauth-client-for:"
PROTOCOL_VERSION = "2025-11-25"
CLIENT_NAME = "mcpcred"
# RFC 8252 §7.3: a native client's loopback redirect matches on any port.
REGISTERED_REDIRECT = "http://127.0.0.1" + loopback.CALLBACK_PATH
MCP_FLOW = "mcp"

PRE_REGISTERED = "pre-registered"
METADATA_DOCUMENT = "metadata-document"
DYNAMIC = "dynamic"
MCP_REMOTE = "mcp-remote"


def is_url(value: str) -> bool:
    """Whether a ``login`` argument is a server URL rather than a provider or login name."""
    return value.startswith(("https://", "http://"))


def default_name(url: str) -> str:
    """A login name from a server URL: ``https://mcp.linear.app/mcp`` -> ``linear``."""
    host = (urlsplit(url).hostname or "server").lower()
    labels = [p for p in host.split(".") if p]
    generic = {"mcp", "api", "www", "app", "server", "remote"}
    if all(p.isdigit() for p in labels) or ":" in host or host == "localhost":
        port = urlsplit(url).port
        return f"local-{port}" if port else "local"
    meaningful = [p for p in labels[:-1] if p not in generic] or labels[:1]
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in meaningful[-1])
    name = name.strip("-_")[:56] or "server"
    if name in providers.BUILTIN or name in providers.ALIASES:
        name += "-mcp"  # `github` is the provider login; the server's is `github-mcp`
    return name if references.valid_name(name) else "server"


@dataclass(frozen=True, slots=True)
class RemoteLoginRequest:
    """What the user asked ``mcpcred login URL`` for."""

    url: str
    name: str
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret: str | None = None
    client_metadata_url: str | None = None
    assume_pkce: bool = False
    browser: bool = True
    timeout: float = loopback.DEFAULT_TIMEOUT
    skew: int = 300


@dataclass(frozen=True, slots=True)
class Discovered:
    """What discovery found for one server: its metadata and its authorization server's."""

    server_url: str
    resource: str
    challenge: challenges.Challenge | None
    resource_metadata: dict[str, Any]
    issuer: str
    metadata: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """A client id for one issuer, and how mcpcred got it."""

    issuer: str
    client_id: str
    client_secret: str | None
    registration: str
    # The loopback port registered alongside the portless redirect URI (dynamic registration
    # only; 0: none). RFC 8252 §7.3 says a server must accept any port on a loopback
    # redirect, but some match registered URIs exactly: the login listens there when it can.
    redirect_port: int = 0
    # The scopes the app's client asked for instead of the server's (an app ``wrap`` found in
    # a client's entry: Cursor's ``auth.scopes``, Gemini CLI's ``oauth.scopes``). Not kept
    # with the issuer's client: they belong to that entry, and stay with its pending app.
    scopes: tuple[str, ...] = ()
    # The loopback redirect a pre-registered app is registered with for the client it came
    # from (Gemini CLI's http://localhost:7777/oauth/callback, Claude Code's callbackPort):
    # the login is redirected exactly there. Kept with the issuer's client: it is the app's.
    redirect_uri: str | None = None

    def dumps(self) -> str:
        data: dict[str, object] = {
            "v": 1,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "registration": self.registration,
        }
        if self.redirect_port:
            data["redirect_port"] = self.redirect_port
        if self.redirect_uri:
            data["redirect_uri"] = self.redirect_uri
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def loads(cls, text: str | None, issuer: str) -> ClientInfo | None:
        try:
            data = json.loads(text or "")
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("issuer") != issuer:
            return None  # bound to its issuer: never used for another one
        client_id, secret = data.get("client_id"), data.get("client_secret")
        if not isinstance(client_id, str) or not client_id:
            return None
        port = data.get("redirect_port")
        return cls(
            issuer,
            client_id,
            secret if isinstance(secret, str) and secret else None,
            str(data.get("registration") or PRE_REGISTERED),
            port if type(port) is int and 0 < port < 65536 else 0,
            redirect_uri=_fixed(data.get("redirect_uri")),
        )


def client_item(issuer: str) -> str:
    """Keychain name of the client id kept for ``issuer``."""
    return CLIENT_PREFIX + issuer


def pending_item(url: str) -> str:
    """Keychain name of the OAuth app ``wrap`` left for the server at ``url``."""
    return PENDING_PREFIX + canonical(url)


def pending_value(
    client_id: str,
    secret_name: str,
    scopes: Sequence[str] = (),
    redirect_uri: str | None = None,
) -> str:
    """What ``wrap`` stores under ``pending_item``: the app's id, its secret's name, the
    scopes the client's entry asked for instead of the server's (none: the server's), and
    the loopback redirect the app is registered with for that client (none: any port)."""
    data: dict[str, object] = {"v": 1, "client_id": client_id, "client_secret_ref": secret_name}
    if scopes:
        data["scopes"] = list(scopes)
    if redirect_uri:
        data["redirect_uri"] = redirect_uri
    return json.dumps(data, separators=(",", ":"))


def pending_client(vault: Vault, urls: Sequence[str], issuer: str) -> ClientInfo | None:
    """The OAuth app a client's entry for one of ``urls`` signed in with, moved there by
    ``wrap`` (its secret read from the keychain); None when there is none.

    The app was registered by the user for this server (GitHub's remote server has no
    dynamic registration), so it comes before anything mcpcred would register itself.
    """
    names = [pending_item(u) for u in dict.fromkeys(urls)]
    found = vault.read(names)
    text = next((found[n] for n in names if n in found), None)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    client_id = data.get("client_id") if isinstance(data, dict) else None
    ref = data.get("client_secret_ref") if isinstance(data, dict) else None
    if not isinstance(client_id, str) or not client_id:
        return None
    secret = None
    if isinstance(ref, str) and ref:
        secret = vault.read([ref]).get(ref)
        if secret is None:
            raise OAuthError(
                f"the OAuth app wrap kept for this server names the secret '{ref}', which "
                "is not in the keychain",
                hint=f"store it again with `mcpcred secret set {ref}`, or pass --client-id "
                "(and --client-secret-stdin)",
                error="no_client_secret",
            )
    listed = data.get("scopes") if isinstance(data, dict) else None
    scopes = [s for s in listed if isinstance(s, str) and s] if isinstance(listed, list) else []
    redirect = data.get("redirect_uri") if isinstance(data, dict) else None
    return ClientInfo(
        issuer, client_id, secret, PRE_REGISTERED, scopes=tuple(scopes),
        redirect_uri=_fixed(redirect),
    )  # fmt: skip


def _fixed(redirect: object) -> str | None:
    """A stored redirect URI the loopback listener can receive; None for anything else."""
    if isinstance(redirect, str) and loopback.fixed_redirect(redirect) is not None:
        return redirect
    return None


# -- discovery ---------------------------------------------------------------------------


def probe(url: str, http: httpx.Client) -> tuple[int, challenges.Challenge | None]:
    """Send an unauthenticated ``initialize``; the status and the Bearer challenge if any."""
    import httpx

    body = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": CLIENT_NAME, "version": "0"},
        },
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
    }
    try:
        with http.stream("POST", url, json=body, headers=headers) as response:
            status = response.status_code
            found = challenges.parse(response.headers.get("www-authenticate"))
    except httpx.HTTPError as exc:
        from mcpcred.oauth.http import network_error

        raise network_error(url, exc) from None
    return status, found


def resource_metadata_urls(server_url: str, found: challenges.Challenge | None) -> list[str]:
    """Where the RFC 9728 metadata may be: the challenge's URL, path-inserted, root."""
    parts = urlsplit(server_url)
    path = parts.path.rstrip("/")
    urls = []
    if found is not None and found.resource_metadata:
        urls.append(found.resource_metadata)
    if path:
        urls.append(urlunsplit((parts.scheme, parts.netloc, PRM_WELL_KNOWN + path, "", "")))
    urls.append(urlunsplit((parts.scheme, parts.netloc, PRM_WELL_KNOWN, "", "")))
    return list(dict.fromkeys(urls))


def authorization_server_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata may be, in the MCP spec's order (RFC 8414, then OIDC)."""
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")

    def at(p: str) -> str:
        return urlunsplit((parts.scheme, parts.netloc, p, "", ""))

    if path:
        urls = [at(OAUTH_WELL_KNOWN + path), at(OIDC_WELL_KNOWN + path), at(path + OIDC_WELL_KNOWN)]
    else:
        urls = [at(OAUTH_WELL_KNOWN), at(OIDC_WELL_KNOWN)]
    return urls


def _get_json(url: str, http: httpx.Client, what: str) -> tuple[int, dict[str, Any] | None]:
    import httpx

    check_endpoint(url, what)
    try:
        response = http.get(url, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        from mcpcred.oauth.http import network_error

        raise network_error(url, exc) from None
    if response.status_code != 200:
        return response.status_code, None
    try:
        data = response.json()
    except ValueError:
        return response.status_code, None
    return 200, data if isinstance(data, dict) else None


def discover(url: str, http: httpx.Client) -> Discovered:
    """Steps 1-3: the challenge, the protected resource metadata, the AS metadata."""
    check_endpoint(url, "server URL")
    server_url = url
    resource = canonical(url)
    status, found = probe(url, http)
    if 200 <= status < 300 and found is None:
        raise UsageError(
            f"{urlsplit(url).netloc} answered without asking for a login (HTTP {status})",
            hint="nothing to log in to; if it needs an API key, store it with "
            "`mcpcred secret set NAME` and send it in a header",
        )
    prm: dict[str, Any] | None = None
    unreachable: OAuthError | None = None
    for candidate in resource_metadata_urls(url, found):
        try:
            _code, prm = _get_json(candidate, http, "protected resource metadata URL")
        except OAuthError as exc:  # unreachable or not https: the next place may do
            unreachable = exc
            continue
        if prm is not None:
            break
    if prm is None and unreachable is not None:
        raise unreachable
    if prm is None:
        raise OAuthError(
            f"{urlsplit(url).netloc} publishes no OAuth protected resource metadata "
            f"(RFC 9728; HTTP {status} from the server)",
            hint="it may not use MCP authorization: use a personal access token "
            "(`mcpcred secret set NAME`, then a header), or check the URL",
            error="no_resource_metadata",
        )
    stated = prm.get("resource")
    if not isinstance(stated, str) or not resource_covers(stated, url):
        shown = tokens.one_line(stated, 120) if isinstance(stated, str) else "nothing"
        raise OAuthError(
            f"the server's metadata names resource {shown!r}, not {resource!r}: refused "
            "(a token for it must not be obtained through this server)",
            error="resource_mismatch",
        )
    # The metadata's own resource (the server URL or a parent of it) is what the server
    # expects as the tokens' audience; the SDKs send it too (RFC 9728 §3.3, RFC 8707).
    resource = stated
    servers = prm.get("authorization_servers")
    if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
        raise OAuthError(
            f"the protected resource metadata of {resource} lists no authorization server",
            error="no_authorization_server",
        )
    issuer = servers[0]
    check_endpoint(issuer, "authorization server (issuer)")
    metadata = authorization_server_metadata(issuer, http)
    return Discovered(server_url, resource, found, prm, issuer, metadata)


def authorization_server_metadata(issuer: str, http: httpx.Client) -> dict[str, Any]:
    """The issuer's metadata, with the exact-issuer check (RFC 8414 §3.3)."""
    for candidate in authorization_server_urls(issuer):
        _code, data = _get_json(candidate, http, "authorization server metadata URL")
        if data is None:
            continue
        stated = data.get("issuer")
        if stated != issuer:
            shown = tokens.one_line(stated, 120) if isinstance(stated, str) else "nothing"
            raise OAuthError(
                f"the authorization server at {issuer} says its issuer is {shown!r}; "
                "they must match exactly: refused (mix-up protection)",
                error="issuer_mismatch",
            )
        return data
    raise OAuthError(
        f"no authorization server metadata for {issuer} (RFC 8414 / OpenID Connect)",
        error="no_metadata",
    )


def check_pkce(metadata: Mapping[str, Any], issuer: str, assume: bool) -> None:
    """Refuse an authorization server that does not advertise PKCE S256 (spec: MUST)."""
    methods = metadata.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" in methods:
        return
    if assume and methods is None:
        return  # documented escape hatch: S256 is still sent, never `plain`
    said = "does not list S256" if isinstance(methods, list) else "does not advertise PKCE"
    raise OAuthError(
        f"the authorization server {issuer} {said} (code_challenge_methods_supported): "
        "refused, as MCP authorization requires",
        hint="use a personal access token instead (`mcpcred secret set NAME`, then a header)"
        if isinstance(methods, list)
        else "if you know it supports PKCE S256 (Entra ID, Cognito), pass --assume-pkce; "
        "else use a personal access token (`mcpcred secret set NAME`, then a header)",
        error="pkce_not_supported",
    )


def _endpoint(metadata: Mapping[str, Any], key: str, issuer: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OAuthError(f"the metadata of {issuer} has a non-string {key}")
    return check_endpoint(value, f"{key} in the metadata of {issuer}")


# -- registration ------------------------------------------------------------------------


def no_client_hint(name: str) -> str:
    """What to do when a server offers no way for mcpcred to get a client id by itself."""
    return (
        "use an OAuth app registered for mcpcred: --client-id ID (a secret, if any, "
        "through --client-secret-stdin), or a personal access token: "
        f"`mcpcred secret set {name}-token`, then send the header "
        f"'Authorization: Bearer {{{{mcpcred:secret/{name}-token}}}}'"
    )


def client_for(
    request: RemoteLoginRequest,
    found: Discovered,
    http: httpx.Client,
    vault: Vault,
) -> ClientInfo:
    """The client id to use, in the spec's order: pre-registered, CIMD, DCR.

    What the user passes now comes first (``--client-id``, then ``--client-metadata-url``
    where the server supports it), then the OAuth app ``wrap`` found in a client's entry
    for this server (``pending_client``), then the client kept for this issuer by an earlier
    login (so a step-up keeps its client, and an app's secret is asked for once), then a
    new dynamic registration.
    """
    issuer = found.issuer
    if request.client_id:
        return ClientInfo(issuer, request.client_id, request.client_secret, PRE_REGISTERED)
    if request.client_metadata_url:
        url = check_endpoint(request.client_metadata_url, "client metadata document URL")
        if not url.startswith("https://") or urlsplit(url).path in ("", "/"):
            raise UsageError(
                "--client-metadata-url must be an https URL with a path (it becomes the client id)"
            )
        if found.metadata.get("client_id_metadata_document_supported") is True:
            return ClientInfo(issuer, url, None, METADATA_DOCUMENT)
    pending = pending_client(vault, [request.url, found.server_url], issuer)
    if pending is not None:
        return pending
    name = client_item(issuer)
    stored = ClientInfo.loads(vault.read([name]).get(name), issuer)
    if stored is not None:
        return stored
    endpoint = _endpoint(found.metadata, "registration_endpoint", issuer)
    if endpoint is None:
        raise OAuthError(
            f"{issuer} offers no dynamic client registration, so mcpcred needs a client id",
            hint=no_client_hint(request.name),
            error="no_registration",
        )
    return register(endpoint, issuer, request.name, http)


def register(endpoint: str, issuer: str, name: str, http: httpx.Client) -> ClientInfo:
    """RFC 7591 dynamic registration as a native public client."""
    import httpx

    port = _free_port()
    body = {
        "client_name": CLIENT_NAME,
        "redirect_uris": [REGISTERED_REDIRECT, _redirect(port)],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "application_type": "native",
    }
    try:
        response = http.post(endpoint, json=body, headers={"Accept": "application/json"})
    except httpx.HTTPError as exc:
        from mcpcred.oauth.http import network_error

        raise network_error(endpoint, exc) from None
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code not in (200, 201) or not isinstance(data, dict):
        detail = ""
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            detail = f": {tokens.one_line(data['error'], 60)}"
        raise OAuthError(
            f"{issuer} refused dynamic client registration (HTTP {response.status_code}{detail})",
            hint=no_client_hint(name),
            error="registration_refused",
        )
    client_id, secret = data.get("client_id"), data.get("client_secret")
    if data.get("token_endpoint_auth_method", "none") == "none":
        secret = None  # some servers issue one anyway; a public client must not send it
    if not isinstance(client_id, str) or not client_id:
        raise OAuthError(
            f"{issuer}'s registration answer has no client_id", error="invalid_response"
        )
    return ClientInfo(
        issuer, client_id, secret if isinstance(secret, str) and secret else None, DYNAMIC, port
    )


def _redirect(port: int) -> str:
    return f"http://127.0.0.1:{port}{loopback.CALLBACK_PATH}"


def _free_port(port: int = 0) -> int:
    """``port`` if nothing listens there now (0: any free port); 0 if it is taken."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0
        return int(probe.getsockname()[1])


# -- the login ---------------------------------------------------------------------------


def requested_scopes(
    found: Discovered,
    previous: Sequence[str],
    extra: Sequence[str],
    configured: Sequence[str] = (),
) -> tuple[str, ...]:
    """The challenge's scopes (else the metadata's), the earlier login's, ``--scope``'s.

    ``configured``: the scopes a client's entry set for its OAuth app. They take the place
    of the challenge's and the metadata's, as in that client (Cursor and Gemini CLI ask for
    them instead of the discovered ones), so the login asks for what the user chose.
    """
    base: Sequence[str] = found.challenge.scopes if found.challenge is not None else ()
    if configured:
        base = configured
    elif not base:
        listed = found.resource_metadata.get("scopes_supported")
        base = [s for s in listed if isinstance(s, str)] if isinstance(listed, list) else []
    wanted = list(dict.fromkeys([*previous, *base, *extra]))
    offered = found.metadata.get("scopes_supported")
    if isinstance(offered, list) and "offline_access" in offered and wanted:
        wanted = [s for s in wanted if s != "offline_access"] + ["offline_access"]
    return tuple(wanted)


def existing_record(vault: Vault, name: str) -> LoginRecord | None:
    """The stored login named ``name`` (account ``default``), if any."""
    key = records.record_name(name, references.DEFAULT_ACCOUNT)
    return LoginRecord.loads(vault.read([key]).get(key))


def check_name(vault: Vault, name: str, resource: str) -> LoginRecord | None:
    """The earlier login to the same server under ``name``; refuse a name taken otherwise."""
    if not references.valid_name(name) or "/" in name:
        raise UsageError(
            f"invalid login name {name!r}", hint="use a-z, 0-9, '.', '_', '-', e.g. linear"
        )
    if name in providers.BUILTIN or name in providers.ALIASES:
        raise UsageError(
            f"{name!r} names a built-in provider; a server's login needs another name",
            hint=f"pass --name, e.g. --name {name}-mcp",
        )
    previous = existing_record(vault, name)
    if previous is not None and previous.resource != resource:
        where = previous.server_url or previous.provider
        raise UsageError(
            f"the login name {name!r} is taken (by {where})",
            hint="pick another with --name, or `mcpcred logout " + name + "` first",
        )
    return previous


def login_remote(
    request: RemoteLoginRequest,
    *,
    http: httpx.Client,
    vault: Vault,
    ui: LoginUI,
    open_url: Callable[[str], bool],
    clock: Callable[[], float] = time.time,
) -> LoginRecord:
    """Log in to the MCP server at ``request.url``; store and return the login."""
    from mcpcred.oauth.http import HttpxTransport

    found = discover(request.url, http)
    previous = check_name(vault, request.name, found.resource)
    issuer, meta = found.issuer, found.metadata
    check_pkce(meta, issuer, request.assume_pkce)
    authorization_endpoint = _endpoint(meta, "authorization_endpoint", issuer)
    token_endpoint = _endpoint(meta, "token_endpoint", issuer)
    if authorization_endpoint is None or token_endpoint is None:
        raise OAuthError(f"the metadata of {issuer} lacks an authorization or token endpoint")
    client = client_for(request, found, http, vault)
    same_issuer = previous is not None and previous.issuer == issuer
    scopes = requested_scopes(
        found, previous.scopes if same_issuer and previous else [], request.scopes, client.scopes
    )
    params: tuple[tuple[str, str], ...] = ()
    if "offline_access" in scopes:
        params = (("prompt", "consent"),)  # OIDC issues offline_access only with consent
    provider = Provider(
        name=request.name,
        title=urlsplit(request.url).netloc,
        flows=(PKCE,),
        scopes=scopes,
        issuer=issuer,
        authorization_endpoint=authorization_endpoint,
        token_endpoint=token_endpoint,
        revocation_endpoint=_endpoint(meta, "revocation_endpoint", issuer),
        client_id=client.client_id,
        resource=found.resource,
        auth_params=params,
        # The port registered with this client, while it is free; else any port (RFC 8252).
        redirect_port=_free_port(client.redirect_port) if client.redirect_port else 0,
        redirect_uri=client.redirect_uri,
        iss_required=meta.get("authorization_response_iss_parameter_supported") is True,
    )
    extra = {"resource": found.resource}
    if client.client_secret:
        extra["client_secret"] = client.client_secret

    def show(url: str) -> None:
        opened = request.browser and open_url(url)
        ui.authorize_url(url, opened)

    transport = HttpxTransport(http)
    with ui.waiting("waiting for the browser to come back"):
        response = loopback.authorize(
            provider, transport, open_url=show, extra=extra, timeout=request.timeout
        )
    # The client id proved itself: keep it for this issuer (step-up, the next login).
    vault.write(client_item(issuer), client.dumps())
    now = clock()
    record = LoginRecord(
        provider=request.name,
        account=references.DEFAULT_ACCOUNT,
        client_id=client.client_id,
        client_secret=client.client_secret,
        token_endpoint=token_endpoint,
        revocation_endpoint=provider.revocation_endpoint,
        issuer=issuer,
        resource=found.resource,
        scopes=list(scopes),
        refresh_token=response.refresh_token,
        refresh_expires_at=(
            now + response.refresh_token_expires_in
            if response.refresh_token_expires_in is not None
            else None
        ),
        send_resource=True,
        skew=request.skew,
        user=None,
        flow=MCP_FLOW,
        created_at=now,
        server_url=found.server_url,
        registration=client.registration,
    )
    store(vault, record, AccessToken.issued(response, now, request.skew))
    return record


def store(vault: Vault, record: LoginRecord, access: AccessToken) -> None:
    """Write the login: the record (refresh token) first, then the access token.

    Under the login's refresh lock (``mint`` takes the same one), so a server start that
    is refreshing the earlier grant right now cannot write its result over this login.
    """
    from mcpcred.oauth.lock import held, lock_path
    from mcpcred.paths import runtime_path

    path = lock_path(runtime_path(), record.provider, record.account)
    with held(path, timeout=30.0, what=record.label()):
        vault.write(records.record_name(record.provider, record.account), record.dumps())
        vault.write(records.access_name(record.provider, record.account), access.dumps())


# -- mcp-remote's plaintext token files --------------------------------------------------


@dataclass(frozen=True, slots=True)
class McpRemoteLogin:
    """One server's files in mcp-remote's folder."""

    hash: str
    tokens_file: Path
    client_file: Path | None
    tokens: dict[str, Any]
    client: dict[str, Any]


def mcp_remote_dirs(environ: Mapping[str, str], home: Path) -> list[Path]:
    """mcp-remote's folders: ``$MCP_REMOTE_CONFIG_DIR`` or ``~/.mcp-auth``, and their
    per-version subfolders (``mcp-remote-0.1.37``, ``mcp-remote-v1`` ...)."""
    base = (
        Path(environ["MCP_REMOTE_CONFIG_DIR"])
        if environ.get("MCP_REMOTE_CONFIG_DIR")
        else home / ".mcp-auth"
    )
    found = [base] if base.is_dir() else []
    if base.is_dir():
        found += sorted(p for p in base.glob("mcp-remote-*") if p.is_dir())
    return found


def server_hash(url: str) -> str:
    """mcp-remote's file key for a server started without extra headers: md5 of the URL."""
    return hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()


def read_mcp_remote(folders: Sequence[Path]) -> list[McpRemoteLogin]:
    """Every ``<hash>_tokens.json`` (with its ``_client_info.json``) in ``folders``."""
    found: list[McpRemoteLogin] = []
    for folder in folders:
        for path in sorted(folder.glob("*_tokens.json")):
            key = path.name[: -len("_tokens.json")]
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
                continue
            info_path = path.with_name(f"{key}_client_info.json")
            info: dict[str, Any] = {}
            if info_path.is_file():
                try:
                    loaded = json.loads(info_path.read_text(encoding="utf-8"))
                    info = loaded if isinstance(loaded, dict) else {}
                except (OSError, ValueError):
                    info = {}
            found.append(
                McpRemoteLogin(key, path, info_path if info_path.is_file() else None, data, info)
            )
    return found


def _expiry(data: Mapping[str, Any], modified: float) -> float | None:
    """When an mcp-remote access token expires: ``expires_at`` (s or ms), else the file's
    time plus ``expires_in``."""
    at = data.get("expires_at")
    if isinstance(at, int | float) and not isinstance(at, bool) and at > 0:
        return float(at) / 1000.0 if at > 1e11 else float(at)
    lifetime = tokens.seconds(data.get("expires_in"))
    return modified + lifetime if lifetime is not None else None


def import_one(
    item: McpRemoteLogin,
    url: str,
    name: str,
    *,
    http: httpx.Client,
    vault: Vault,
    skew: int,
    clock: Callable[[], float] = time.time,
) -> LoginRecord:
    """Store mcp-remote's tokens for ``url`` as login ``name``; the keychain copy is read
    back and compared before this returns."""
    found = discover(url, http)
    check_name(vault, name, found.resource)
    stated = item.tokens.get("issuer")
    if isinstance(stated, str) and stated and stated != found.issuer:
        raise OAuthError(
            f"mcp-remote's tokens for {url} were issued by {tokens.one_line(stated, 80)!r}, "
            f"but the server now names {found.issuer!r}: not imported",
            error="issuer_mismatch",
        )
    token_endpoint = _endpoint(found.metadata, "token_endpoint", found.issuer)
    client_id = item.client.get("client_id")
    if token_endpoint is None or not isinstance(client_id, str) or not client_id:
        raise OAuthError(
            f"mcp-remote's files for {url} lack a client id (no _client_info.json)",
            hint=f"log in afresh instead: mcpcred login {url} --name {name}",
            error="incomplete",
        )
    secret = item.client.get("client_secret")
    refresh = item.tokens.get("refresh_token")
    now = clock()
    expires_at = _expiry(item.tokens, item.tokens_file.stat().st_mtime)
    scope = tokens.scopes(item.tokens.get("scope"))
    record = LoginRecord(
        provider=name,
        account=references.DEFAULT_ACCOUNT,
        client_id=client_id,
        client_secret=secret if isinstance(secret, str) and secret else None,
        token_endpoint=token_endpoint,
        revocation_endpoint=_endpoint(found.metadata, "revocation_endpoint", found.issuer),
        issuer=found.issuer,
        resource=found.resource,
        scopes=list(scope or ()),
        refresh_token=refresh if isinstance(refresh, str) and refresh else None,
        send_resource=True,
        skew=skew,
        flow=MCP_FLOW,
        created_at=now,
        server_url=url,
        registration=MCP_REMOTE,
    )
    refresh_at = (
        None if expires_at is None else expires_at - min(float(skew), max(expires_at - now, 0) / 2)
    )
    access = AccessToken(
        str(item.tokens["access_token"]),
        expires_at=expires_at,
        refresh_at=refresh_at,
        obtained_at=now,
        scopes=list(scope) if scope is not None else None,
    )
    store(vault, record, access)
    # Verify before anyone deletes the plaintext: what the keychain gives back must be it.
    keys = [records.record_name(name, record.account), records.access_name(name, record.account)]
    back = vault.read(keys)
    again = LoginRecord.loads(back.get(keys[0]))
    cached = AccessToken.loads(back.get(keys[1]))
    if (
        again is None
        or cached is None
        or again.refresh_token != record.refresh_token
        or cached.token != access.token
        or again.client_id != client_id
    ):
        raise OAuthError(
            f"the keychain did not give back the imported {name} login intact; "
            "mcp-remote's files were left in place",
            error="verify_failed",
        )
    return record
