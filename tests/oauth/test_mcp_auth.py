"""The pure parts of ``mcpcred login URL`` and the bridge's forced refresh (``Minter.renew``).

The whole flow runs against real servers in ``tests/integration/test_login_remote_e2e.py``;
these pin the rules that are easy to get subtly wrong: challenge parsing, which resource
metadata is acceptable, the order of metadata URLs, the PKCE refusal, the order of client
registration methods, step-up scopes, mcp-remote's file key, and ``renew``'s
compare-and-swap.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from mcpcred.errors import LoginRequired, OAuthError, UsageError
from mcpcred.oauth import challenge, mcp, urls
from mcpcred.oauth.records import AccessToken, LoginRecord
from tests.oauth.conftest import MemoryVault, form_of, mock_transport
from tests.oauth.test_mint import (
    Clock,
    ThreadSafeVault,
    TokenEndpoint,
    access_in,
    cached,
    minter_for,
    record_of,
    store,
)

# -- challenges --------------------------------------------------------------------------


def test_a_bearer_challenge_gives_metadata_url_and_scopes() -> None:
    found = challenge.parse(
        'Bearer error="invalid_token", error_description="Authentication required", '
        'resource_metadata="http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp", '
        'scope="mcp:tools mcp:read"'
    )
    assert found is not None
    assert found.resource_metadata == "http://127.0.0.1:1/.well-known/oauth-protected-resource/mcp"
    assert found.scopes == ("mcp:tools", "mcp:read")
    assert not found.insufficient_scope


def test_a_challenge_after_another_scheme_and_unquoted_values() -> None:
    found = challenge.parse('Basic realm="x", Bearer error=insufficient_scope, scope=admin')
    assert found is not None and found.insufficient_scope and found.scopes == ("admin",)
    assert challenge.parse('Basic realm="x"') is None
    assert challenge.parse(None) is None
    bare = challenge.parse("Bearer")
    assert bare is not None and bare.resource_metadata is None and bare.scopes == ()


def test_the_step_up_message_names_the_command() -> None:
    found = challenge.parse('Bearer error="insufficient_scope", scope="mcp:admin"')
    assert found is not None
    assert challenge.step_up_message("linear", found).endswith(
        "run mcpcred login linear --scope mcp:admin"
    )


# -- resource and metadata URLs ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://MCP.Example.com:443/mcp#frag", "https://mcp.example.com/mcp"),
        ("https://mcp.example.com/", "https://mcp.example.com"),
        ("http://127.0.0.1:8080/mcp/", "http://127.0.0.1:8080/mcp/"),
    ],
)
def test_canonical_server_uri(url: str, expected: str) -> None:
    assert urls.canonical(url) == expected


@pytest.mark.parametrize(
    ("stated", "ok"),
    [
        ("https://mcp.example.com/mcp", True),
        ("https://mcp.example.com", True),  # a parent
        ("https://mcp.example.com/", True),
        ("https://mcp.example.com/other", False),
        ("https://mcp.example.com/mc", False),  # a prefix is not a parent
        ("https://evil.example.com/mcp", False),
        ("http://mcp.example.com/mcp", False),
    ],
)
def test_which_metadata_resource_covers_the_server(stated: str, ok: bool) -> None:
    assert urls.resource_covers(stated, "https://mcp.example.com/mcp") is ok


def test_protected_resource_metadata_urls_in_order() -> None:
    found = challenge.Challenge(resource_metadata="https://x.example/prm")
    assert mcp.resource_metadata_urls("https://x.example/a/mcp", found) == [
        "https://x.example/prm",
        "https://x.example/.well-known/oauth-protected-resource/a/mcp",
        "https://x.example/.well-known/oauth-protected-resource",
    ]
    assert mcp.resource_metadata_urls("https://x.example", None) == [
        "https://x.example/.well-known/oauth-protected-resource"
    ]


def test_authorization_server_metadata_urls_in_the_spec_order() -> None:
    assert mcp.authorization_server_urls("https://auth.example.com/tenant1") == [
        "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://auth.example.com/.well-known/openid-configuration/tenant1",
        "https://auth.example.com/tenant1/.well-known/openid-configuration",
    ]
    assert mcp.authorization_server_urls("https://auth.example.com") == [
        "https://auth.example.com/.well-known/oauth-authorization-server",
        "https://auth.example.com/.well-known/openid-configuration",
    ]


def test_default_names() -> None:
    assert mcp.default_name("https://mcp.linear.app/mcp") == "linear"
    assert mcp.default_name("https://api.githubcopilot.com/mcp/") == "githubcopilot"
    assert mcp.default_name("http://127.0.0.1:8802/mcp") == "local-8802"


# -- discovery against a mock server -----------------------------------------------------


def server(routes: dict[str, tuple[int, Any, dict[str, str]]]) -> tuple[httpx.Client, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        key = f"{request.method} {request.url}"
        seen.append(key)
        status, body, headers = routes.get(key, (404, {}, {}))
        return httpx.Response(status, json=body, headers=headers)

    return httpx.Client(transport=httpx.MockTransport(handle)), seen


MCP_URL = "https://mcp.example.com/mcp"
ISSUER = "https://auth.example.com"
PRM = "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
ASM = "https://auth.example.com/.well-known/oauth-authorization-server"
META = {
    "issuer": ISSUER,
    "authorization_endpoint": ISSUER + "/authorize",
    "token_endpoint": ISSUER + "/token",
    "registration_endpoint": ISSUER + "/register",
    "code_challenge_methods_supported": ["S256"],
}
CHALLENGE = {"WWW-Authenticate": 'Bearer resource_metadata="' + PRM + '", scope="read"'}


def routes(**over: Any) -> dict[str, tuple[int, Any, dict[str, str]]]:
    base: dict[str, tuple[int, Any, dict[str, str]]] = {
        f"POST {MCP_URL}": (401, {}, CHALLENGE),
        f"GET {PRM}": (200, {"resource": MCP_URL, "authorization_servers": [ISSUER]}, {}),
        f"GET {ASM}": (200, META, {}),
    }
    base.update(over)
    return base


def test_discovery_follows_the_challenge_then_the_issuer() -> None:
    http, seen = server(routes())
    found = mcp.discover(MCP_URL, http)
    assert found.issuer == ISSUER and found.resource == MCP_URL
    assert found.challenge is not None and found.challenge.scopes == ("read",)
    assert seen == [f"POST {MCP_URL}", f"GET {PRM}", f"GET {ASM}"]


def test_discovery_refuses_metadata_whose_issuer_differs() -> None:
    http, _ = server(routes(**{f"GET {ASM}": (200, {**META, "issuer": ISSUER + "/"}, {})}))
    with pytest.raises(OAuthError, match="must match exactly"):
        mcp.discover(MCP_URL, http)


def test_discovery_falls_back_to_oidc_metadata() -> None:
    oidc = "https://auth.example.com/.well-known/openid-configuration"
    http, seen = server(routes(**{f"GET {ASM}": (404, {}, {}), f"GET {oidc}": (200, META, {})}))
    assert mcp.discover(MCP_URL, http).metadata["token_endpoint"] == ISSUER + "/token"
    assert seen[-2:] == [f"GET {ASM}", f"GET {oidc}"]


def test_a_server_that_needs_no_login_is_a_usage_error() -> None:
    http, _ = server({f"POST {MCP_URL}": (200, {}, {})})
    with pytest.raises(UsageError, match="without asking for a login"):
        mcp.discover(MCP_URL, http)


def test_plain_http_to_a_remote_host_is_refused_before_any_request() -> None:
    http, seen = server({})
    with pytest.raises(OAuthError, match="https"):
        mcp.discover("http://mcp.example.com/mcp", http)
    assert seen == []


@pytest.mark.parametrize("methods", [None, ["plain"], []])
def test_pkce_s256_must_be_advertised(methods: list[str] | None) -> None:
    meta = dict(META)
    if methods is None:
        del meta["code_challenge_methods_supported"]
    else:
        meta["code_challenge_methods_supported"] = methods
    with pytest.raises(OAuthError, match="refused") as caught:
        mcp.check_pkce(meta, ISSUER, assume=False)
    assert "\n" not in caught.value.message
    if methods is None:
        mcp.check_pkce(meta, ISSUER, assume=True)  # the documented escape hatch
    else:  # a list without S256 is refused even with it: that server does not do S256
        with pytest.raises(OAuthError):
            mcp.check_pkce(meta, ISSUER, assume=True)


# -- client registration order -----------------------------------------------------------


def discovered(**meta: Any) -> mcp.Discovered:
    return mcp.Discovered(MCP_URL, MCP_URL, None, {}, ISSUER, {**META, **meta})


def request(**fields: Any) -> mcp.RemoteLoginRequest:
    return mcp.RemoteLoginRequest(url=MCP_URL, name="demo", **fields)


def test_a_given_client_id_wins_over_everything() -> None:
    http, seen = server({})
    info = mcp.client_for(
        request(client_id="cid", client_secret="sec"), discovered(), http, MemoryVault()
    )
    assert (info.client_id, info.client_secret, info.registration) == (
        "cid",
        "sec",
        "pre-registered",
    )
    assert seen == []


def test_a_client_kept_for_the_issuer_is_reused_and_only_for_that_issuer() -> None:
    vault = MemoryVault()
    kept = mcp.ClientInfo(ISSUER, "kept", None, mcp.DYNAMIC)
    vault.write(mcp.client_item(ISSUER), kept.dumps())
    http, seen = server({})
    assert mcp.client_for(request(), discovered(), http, vault).client_id == "kept"
    assert seen == []
    assert mcp.ClientInfo.loads(kept.dumps(), "https://other.example.com") is None


def test_a_metadata_document_is_used_when_the_server_supports_it() -> None:
    http, seen = server({})
    url = "https://mcpcred.example.com/client.json"
    info = mcp.client_for(
        request(client_metadata_url=url),
        discovered(client_id_metadata_document_supported=True),
        http,
        MemoryVault(),
    )
    assert (info.client_id, info.registration) == (url, "metadata-document")
    assert seen == []  # no registration call


def test_dynamic_registration_is_native_and_public() -> None:
    sent: list[dict[str, Any]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(201, json={"client_id": "minted"})

    http = httpx.Client(transport=httpx.MockTransport(handle))
    url = "https://mcpcred.example.com/client.json"  # not supported here: falls through to DCR
    info = mcp.client_for(request(client_metadata_url=url), discovered(), http, MemoryVault())
    assert (info.client_id, info.registration) == ("minted", "dynamic")
    assert sent[0]["application_type"] == "native"
    assert sent[0]["token_endpoint_auth_method"] == "none"
    # Any port (RFC 8252), and one exact port for servers that match registered URIs exactly.
    port = info.redirect_port
    assert 0 < port < 65536
    assert sent[0]["redirect_uris"] == [
        "http://127.0.0.1/callback",
        f"http://127.0.0.1:{port}/callback",
    ]
    kept = mcp.ClientInfo.loads(info.dumps(), info.issuer)
    assert kept is not None and kept.redirect_port == port  # the next login listens there


def test_a_kept_client_without_a_port_and_a_bad_port_read_as_none() -> None:
    plain = mcp.ClientInfo(ISSUER, "id", None, "pre-registered")
    assert '"redirect_port"' not in plain.dumps()
    for bad in ("80", 0, -1, 70000, True):
        text = json.dumps({"issuer": ISSUER, "client_id": "id", "redirect_port": bad})
        info = mcp.ClientInfo.loads(text, ISSUER)
        assert info is not None and info.redirect_port == 0


def test_no_registration_endpoint_says_to_use_a_client_id_or_a_token() -> None:
    meta = {k: v for k, v in META.items() if k != "registration_endpoint"}
    found = mcp.Discovered(MCP_URL, MCP_URL, None, {}, ISSUER, meta)
    http, _ = server({})
    with pytest.raises(OAuthError) as caught:
        mcp.client_for(request(), found, http, MemoryVault())
    assert "--client-id" in (caught.value.hint or "")
    assert "mcpcred secret set demo-token" in (caught.value.hint or "")


def test_an_app_wrap_left_for_the_server_comes_before_the_kept_client_and_registration() -> None:
    vault = MemoryVault()
    vault.write(mcp.client_item(ISSUER), mcp.ClientInfo(ISSUER, "kept", None, mcp.DYNAMIC).dumps())
    vault.write("zed-app-secret", "s3cr3t-value")
    # kept by the canonical URL: the login's URL may be spelled differently
    loud = MCP_URL.replace("https://", "HTTPS://", 1)
    vault.write(mcp.pending_item(loud), mcp.pending_value("Iv23app", "zed-app-secret"))
    http, seen = server({})
    info = mcp.client_for(request(), discovered(), http, vault)
    assert (info.client_id, info.client_secret, info.registration, info.issuer) == (
        "Iv23app",
        "s3cr3t-value",
        "pre-registered",
        ISSUER,
    )
    assert seen == []  # no registration call
    # what the user passes still wins
    given = mcp.client_for(request(client_id="cid"), discovered(), http, vault)
    assert given.client_id == "cid"


def test_an_app_whose_secret_left_the_keychain_says_so_without_guessing() -> None:
    vault = MemoryVault()
    vault.write(mcp.pending_item(MCP_URL), mcp.pending_value("Iv23app", "gone-secret"))
    http, seen = server({})
    with pytest.raises(OAuthError) as caught:
        mcp.client_for(request(), discovered(), http, vault)
    assert "gone-secret" in str(caught.value)
    assert "mcpcred secret set gone-secret" in (caught.value.hint or "")
    assert seen == []  # no registration behind the user's back


@pytest.mark.parametrize("text", ["", "not json", "[]", '{"client_id": ""}', '{"v": 1}'])
def test_a_torn_pending_app_is_ignored(text: str) -> None:
    vault = MemoryVault()
    vault.write(mcp.pending_item(MCP_URL), text)
    vault.write(mcp.client_item(ISSUER), mcp.ClientInfo(ISSUER, "kept", None, mcp.DYNAMIC).dumps())
    http, _ = server({})
    assert mcp.client_for(request(), discovered(), http, vault).client_id == "kept"


# -- scopes ------------------------------------------------------------------------------


def test_scopes_are_the_union_of_earlier_challenged_and_asked() -> None:
    found = mcp.Discovered(
        MCP_URL, MCP_URL, challenge.Challenge(scopes=("b",)), {"scopes_supported": ["x"]}, ISSUER,
        {**META, "scopes_supported": ["a", "b", "c", "offline_access"]},
    )  # fmt: skip
    assert mcp.requested_scopes(found, ["a"], ["c", "a"]) == ("a", "b", "c", "offline_access")
    without = mcp.Discovered(MCP_URL, MCP_URL, None, {"scopes_supported": ["x"]}, ISSUER, META)
    assert mcp.requested_scopes(without, [], []) == ("x",)  # the metadata's, without a challenge


def test_an_apps_own_scopes_take_the_place_of_the_discovered_ones() -> None:
    """Cursor and Gemini CLI ask for an app block's scopes instead of the server's; so does
    the login that uses the app (an earlier grant and ``--scope`` still add theirs)."""
    found = mcp.Discovered(
        MCP_URL, MCP_URL, challenge.Challenge(scopes=("b",)), {"scopes_supported": ["x"]}, ISSUER,
        {**META, "scopes_supported": ["a", "b", "repo", "offline_access"]},
    )  # fmt: skip
    # offline_access, which the server offers, still comes last: a refresh token is what
    # lets a server start without a browser
    assert mcp.requested_scopes(found, [], [], ["repo", "read:org"]) == (
        "repo", "read:org", "offline_access",
    )  # fmt: skip
    assert mcp.requested_scopes(found, ["a"], ["c"], ["repo"]) == (
        "a", "repo", "c", "offline_access",
    )  # fmt: skip
    plain = mcp.Discovered(MCP_URL, MCP_URL, challenge.Challenge(scopes=("b",)), {}, ISSUER, META)
    assert mcp.requested_scopes(plain, [], [], ["repo"]) == ("repo",)


def test_the_scopes_kept_with_an_app_reach_the_client_but_not_the_issuers_record() -> None:
    vault = MemoryVault()
    vault.write("app-secret", "s3cr3t-value")
    value = mcp.pending_value("Iv23app", "app-secret", ["repo", "read:org"])
    vault.write(mcp.pending_item(MCP_URL), value)
    http, _ = server({})
    info = mcp.client_for(request(), discovered(), http, vault)
    assert info.scopes == ("repo", "read:org")
    assert "repo" not in info.dumps()  # they belong to the entry's app, not to the issuer
    assert "scopes" not in mcp.pending_value("Iv23app", "app-secret")  # none: the server's
    # a torn list keeps the strings only
    vault.write(mcp.pending_item(MCP_URL), value.replace('"read:org"', "7"))
    assert mcp.client_for(request(), discovered(), http, vault).scopes == ("repo",)


# -- mcp-remote --------------------------------------------------------------------------


def test_mcp_remote_file_key_is_md5_of_the_url() -> None:
    # the value mcp-remote 0.15.1 itself uses for this URL (its getServerUrlHash)
    assert mcp.server_hash("https://mcp.atlassian.com/v1/mcp") == "01910c24c5f2edcaf999bd1eaaeaeee8"


def test_mcp_remote_folders_and_files(tmp_path: Path) -> None:
    base = tmp_path / "auth"
    (base / "mcp-remote-v1").mkdir(parents=True)
    (base / "mcp-remote-v1" / "abc_tokens.json").write_text('{"access_token": "t"}')
    (base / "mcp-remote-v1" / "abc_client_info.json").write_text('{"client_id": "c"}')
    (base / "mcp-remote-v1" / "bad_tokens.json").write_text("not json")
    folders = mcp.mcp_remote_dirs({"MCP_REMOTE_CONFIG_DIR": str(base)}, tmp_path)
    found = mcp.read_mcp_remote(folders)
    assert [(f.hash, f.client.get("client_id")) for f in found] == [("abc", "c")]
    assert mcp.mcp_remote_dirs({}, tmp_path / "nohome") == []


# -- Minter.renew: the bridge's forced refresh after a 401 -------------------------------


def test_renew_refreshes_even_a_fresh_token_the_server_refused(tmp_path: Path) -> None:
    vault = MemoryVault()
    store(vault, record_of(resource=MCP_URL), cached(refresh_in=1000, expires_in=2000))
    endpoint = TokenEndpoint()
    token = minter_for(vault, endpoint, tmp_path).renew("acme", "default", "at-0")
    assert token.token == "at-1" and len(endpoint.requests) == 1
    assert form_of(endpoint.requests[0])["resource"] == MCP_URL


def test_renew_returns_a_token_another_process_already_got(tmp_path: Path) -> None:
    vault = MemoryVault()
    store(vault, record_of(), cached(refresh_in=1000, expires_in=2000, token="at-new"))
    endpoint = TokenEndpoint()
    token = minter_for(vault, endpoint, tmp_path).renew("acme", "default", "at-old")
    assert token.token == "at-new" and endpoint.requests == []


def test_renew_never_falls_back_to_the_refused_token(tmp_path: Path) -> None:
    vault = MemoryVault()
    store(vault, record_of(), cached(refresh_in=1000, expires_in=2000))
    with pytest.raises(OAuthError):  # a passing failure: not the refused token instead
        minter_for(vault, TokenEndpoint(status=503), tmp_path).renew("acme", "default", "at-0")
    store(vault, record_of(refresh_token=None), cached(refresh_in=1000, expires_in=2000))
    with pytest.raises(LoginRequired) as caught:
        minter_for(vault, TokenEndpoint(), tmp_path).renew("acme", "default", "at-0")
    assert "mcpcred login acme" in (caught.value.hint or "")


def test_a_burst_of_renews_for_one_refused_token_makes_one_refresh(tmp_path: Path) -> None:
    vault = ThreadSafeVault()
    store(vault, record_of(), cached(refresh_in=1000, expires_in=2000))
    endpoint = TokenEndpoint(delay=0.05)
    got: list[str] = []

    def one() -> None:
        got.append(
            minter_for(vault, endpoint, tmp_path, Clock()).renew("acme", "default", "at-0").token
        )

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert got == ["at-1"] * 8 and len(endpoint.requests) == 1
    assert access_in(vault).token == "at-1"
    record = LoginRecord.loads(vault.items["oauth:acme/default"])
    assert record is not None and record.refresh_token == "rt-1"
    assert isinstance(AccessToken.loads(vault.items["oauth:acme/default:access"]), AccessToken)


def test_a_parent_resource_in_the_metadata_is_the_one_sent() -> None:
    parent = "https://mcp.example.com"
    http, _ = server(
        routes(**{f"GET {PRM}": (200, {"resource": parent, "authorization_servers": [ISSUER]}, {})})
    )
    assert mcp.discover(MCP_URL, http).resource == parent


def test_a_metadata_document_asked_for_now_beats_a_kept_dynamic_client() -> None:
    vault = MemoryVault()
    vault.write(mcp.client_item(ISSUER), mcp.ClientInfo(ISSUER, "kept", None, mcp.DYNAMIC).dumps())
    http, _ = server({})
    url = "https://mcpcred.example.com/client.json"
    found = discovered(client_id_metadata_document_supported=True)
    assert mcp.client_for(request(client_metadata_url=url), found, http, vault).client_id == url
    with pytest.raises(UsageError, match="https URL with a path"):
        mcp.client_for(request(client_metadata_url="https://x.example.com/"), found, http, vault)


@pytest.mark.parametrize(
    ("method", "kept"), [(None, None), ("none", None), ("client_secret_post", "s")]
)
def test_a_registered_secret_is_kept_only_for_a_confidential_client(
    method: str | None, kept: str | None
) -> None:
    answer: dict[str, Any] = {"client_id": "minted", "client_secret": "s"}
    if method is not None:
        answer["token_endpoint_auth_method"] = method
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(201, json=answer)))
    assert mcp.register(ISSUER + "/register", ISSUER, "demo", http).client_secret == kept


def test_a_refused_registration_names_the_status_and_both_ways_out() -> None:
    http = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(422, json={"message": "no"}))
    )
    with pytest.raises(OAuthError) as caught:
        mcp.register(ISSUER + "/register", ISSUER, "gh", http)
    assert "HTTP 422" in caught.value.message and "\n" not in caught.value.message
    assert "--client-id" in (caught.value.hint or "") and "mcpcred:secret/gh-token" in (
        caught.value.hint or ""
    )


# -- the callback: state, then iss, then error -------------------------------------------


def _provider(**fields: Any) -> Any:
    from mcpcred.oauth.providers import Provider

    return Provider(
        name="demo", title="demo", issuer=ISSUER, token_endpoint=ISSUER + "/token",
        authorization_endpoint=ISSUER + "/authorize", client_id="cid", **fields,
    )  # fmt: skip


def _finish(params: dict[str, str], **fields: Any) -> Any:
    from mcpcred.oauth import loopback

    def refuse(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the code must not be exchanged")

    transport = mock_transport(refuse)
    return loopback._finish(
        _provider(**fields), transport, params, "st", "verifier", "http://127.0.0.1:1/callback", {}
    )


def test_a_missing_iss_is_refused_when_the_server_promised_one() -> None:
    with pytest.raises(OAuthError, match="RFC 9207"):
        _finish({"state": "st", "code": "c"}, iss_required=True)


def test_a_wrong_iss_hides_the_other_servers_error_text() -> None:
    params = {
        "state": "st",
        "iss": "https://evil.example",
        "error": "x",
        "error_description": "click here",
    }
    with pytest.raises(OAuthError) as caught:
        _finish(params)
    assert "RFC 9207" in caught.value.message and "click here" not in caught.value.message


def test_a_server_login_never_takes_a_built_in_providers_name() -> None:
    assert mcp.default_name("https://mcp.github.com/mcp") == "github-mcp"
    with pytest.raises(UsageError, match="built-in provider"):
        mcp.check_name(MemoryVault(), "github", MCP_URL)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://localhost:7777/oauth/callback", ("127.0.0.1", 7777, "/oauth/callback")),
        ("http://127.0.0.1:8123/cb", ("127.0.0.1", 8123, "/cb")),
        ("http://[::1]:9000/callback", ("::1", 9000, "/callback")),
        ("http://LOCALHOST:7777/callback", ("127.0.0.1", 7777, "/callback")),
        ("http://localhost/oauth/callback", None),  # port 80: not a loopback listener's
        ("https://localhost:7777/callback", None),
        ("http://example.com:7777/callback", None),
        ("http://0.0.0.0:7777/callback", None),
        ("http://localhost:7777/callback?x=1", None),
        ("http://localhost:7777/callback#f", None),
        ("http://u@localhost:7777/callback", None),
        ("http://localhost:0/callback", None),
        ("http://localhost:99999/callback", None),
        ("cursor://anysphere.cursor-mcp/oauth/callback", None),
        ("http://localhost:7777", None),
    ],
)
def test_a_fixed_redirect_is_only_one_the_loopback_listener_can_receive(
    uri: str, expected: tuple[str, int, str] | None
) -> None:
    from mcpcred.oauth.loopback import fixed_redirect

    assert fixed_redirect(uri) == expected


def test_the_redirect_an_app_is_registered_with_is_kept_with_it_and_its_issuer() -> None:
    vault = MemoryVault()
    vault.write("app-secret", "s3cr3t-value")
    redirect = "http://localhost:7777/oauth/callback"
    vault.write(mcp.pending_item(MCP_URL), mcp.pending_value("Iv23app", "app-secret", (), redirect))
    http, _ = server({})
    info = mcp.client_for(request(), discovered(), http, vault)
    assert info.redirect_uri == redirect
    # kept with the issuer's client after the login: a later login uses the same redirect
    again = mcp.ClientInfo.loads(info.dumps(), ISSUER)
    assert again is not None and again.redirect_uri == redirect
    # one the listener could not receive is dropped, not sent
    torn = json.dumps({"issuer": ISSUER, "client_id": "id", "redirect_uri": "https://x/cb"})
    loaded = mcp.ClientInfo.loads(torn, ISSUER)
    assert loaded is not None and loaded.redirect_uri is None
