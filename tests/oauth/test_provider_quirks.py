"""Each built-in provider profile, driven through the real flows against a mock of its API.

The mocks answer the way each provider documents (and is known to behave): GitHub's
form-encoded answers and HTTP-200 errors, Google's ``verification_url``, Entra's refusal
of ``resource``, Atlassian's fixed callback port, and RFC 8414 discovery for the rest.
The "browser" of the loopback flow is a thread that follows the authorization URL
straight back to mcpcred's listener on 127.0.0.1.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from mcpcred.errors import EXIT_USAGE, LoginDenied, LoginRequired, OAuthError, UsageError
from mcpcred.oauth import device, discovery, loopback, providers, records, settings
from mcpcred.oauth.device import DeviceCode
from mcpcred.oauth.http import HttpxTransport
from mcpcred.oauth.login import LoginRequest, choose_flow, login
from mcpcred.oauth.mint import Minter
from mcpcred.oauth.providers import DEVICE, PKCE, Provider
from mcpcred.oauth.records import AccessToken, LoginRecord
from mcpcred.oauth.settings import Settings
from mcpcred.oauth.tokens import TokenError
from tests.oauth.conftest import MemoryVault, form_of, mock_transport

FORM = "application/x-www-form-urlencoded; charset=utf-8"
MCP_RESOURCE = "https://mcp.example.com/mcp"

Handler = Callable[[httpx.Request], httpx.Response]


# --- fakes ------------------------------------------------------------------------------


class Clock:
    """A fake clock: ``sleep`` records the wait and moves time on, instantly."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Api:
    """A provider's HTTP API: routes by ``METHOD url`` (no query), records every request."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = f"{request.method} {str(request.url).split('?')[0]}"
        handler = self.routes.get(key)
        if handler is None:
            raise AssertionError(f"unexpected request: {key}")
        return handler(request)

    def transport(self) -> HttpxTransport:
        return mock_transport(self)

    def to(self, url: str) -> list[httpx.Request]:
        """The requests sent to ``url`` (query ignored)."""
        return [r for r in self.requests if str(r.url).split("?")[0] == url]


class UI:
    """The login UI, recording what it was asked to show."""

    def __init__(self) -> None:
        self.codes: list[tuple[DeviceCode, bool]] = []
        self.urls: list[tuple[str, bool]] = []
        self.waits: list[str] = []

    def device_code(self, code: DeviceCode, opened: bool) -> None:
        self.codes.append((code, opened))

    def authorize_url(self, url: str, opened: bool) -> None:
        self.urls.append((url, opened))

    def waiting(self, what: str) -> AbstractContextManager[object]:
        self.waits.append(what)
        return nullcontext()


class Opener:
    """``open_url`` for the device flow: records the URL, says a browser opened."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        return True


class Browser:
    """``open_url`` for the loopback flow: a thread that goes straight to the redirect URI.

    ``params`` is the callback query (``state`` is copied from the authorization URL
    unless given); ``first`` are (method, path) requests sent to the listener before it.
    """

    def __init__(
        self, params: dict[str, str] | None = None, first: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.params = {"code": "the-code"} if params is None else params
        self.first = first
        self.urls: list[str] = []
        self.statuses: list[int] = []
        self.pages: list[str] = []  # the body of each answer, in order
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def __call__(self, url: str) -> bool:
        self.urls.append(url)
        params = {"state": self.query["state"], **self.params}
        self.thread = threading.Thread(
            target=self._visit, args=(self.query["redirect_uri"], params), daemon=True
        )
        self.thread.start()
        return True

    def open(self, url: str) -> None:
        """``open_url`` as ``loopback.authorize`` takes it."""
        self(url)

    @property
    def query(self) -> dict[str, str]:
        """The authorization URL's query."""
        return dict(parse_qsl(urlsplit(self.urls[-1]).query))

    @property
    def port(self) -> int:
        """The listener's port, from the redirect URI."""
        port = urlsplit(self.query["redirect_uri"]).port
        assert port is not None
        return port

    def _visit(self, redirect_uri: str, params: dict[str, str]) -> None:
        origin = redirect_uri.rsplit("/", 1)[0]
        try:
            with httpx.Client(trust_env=False, timeout=5) as client:
                for method, path in self.first:
                    page = client.request(method, origin + path)
                    self.pages.append(page.text)
                    self.statuses.append(page.status_code)
                page = client.get(redirect_uri, params=params)
                self.pages.append(page.text)
                self.statuses.append(page.status_code)
        except BaseException as exc:
            self.errors.append(exc)

    def finish(self) -> None:
        """Wait for the browser thread; it must have had all its answers."""
        assert self.thread is not None
        self.thread.join(5)
        assert not self.thread.is_alive()
        assert not self.errors, self.errors


class PatientBrowser(Browser):
    """A browser that reads the callback's answer to the end before it closes.

    The listener answers ``Connection: close``, so the listener always closes first
    (as it does with a browser that keeps reading); no race with the test's own close.
    """

    def _visit(self, redirect_uri: str, params: dict[str, str]) -> None:
        parts = urlsplit(redirect_uri)
        assert parts.port is not None
        try:
            with socket.create_connection(("127.0.0.1", parts.port), timeout=5) as conn:
                target = f"{parts.path}?{urlencode(params)}"
                conn.sendall(f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
            self.statuses.append(int(data.split(b" ", 2)[1]))
        except BaseException as exc:
            self.errors.append(exc)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A fake clock, also used by ``device.poll`` when ``login`` calls it."""
    fake = Clock()
    defaults = device.poll.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "sleep", fake.sleep)
    monkeypatch.setitem(defaults, "clock", fake)
    return fake


def answer(status: int = 200, /, **fields: object) -> Handler:
    """A JSON answer."""
    return lambda request: httpx.Response(status, json=fields)


def in_turn(*handlers: Handler) -> Handler:
    """One handler per request, in order."""
    queue = list(handlers)

    def handle(request: httpx.Request) -> httpx.Response:
        assert queue, "more requests than the test expected"
        return queue.pop(0)(request)

    return handle


def jwt(**claims: object) -> str:
    """An unsigned JWT carrying ``claims`` (login reads it for display only)."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(dict(claims))}.sig"


def s256(verifier: str) -> str:
    """The RFC 7636 S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def no_resource_sent(api: Api, browser_urls: Sequence[str] = ()) -> None:
    """No request (nor authorization URL) carried an RFC 8707 ``resource``."""
    for request in api.requests:
        assert "resource" not in form_of(request), request.url
        assert "resource" not in dict(request.url.params), request.url
    for url in browser_urls:
        assert "resource" not in dict(parse_qsl(urlsplit(url).query)), url


def stale_login(
    vault: MemoryVault, clock: Clock, tmp_path: Path, api: Api, **fields: object
) -> Minter:
    """A stored login whose cached access token is due (not expired); a Minter over it."""
    record = LoginRecord(**{"account": "default", "refresh_token": "rt-old", **fields})
    cached = AccessToken(
        "at-old", expires_at=clock.now + 60, refresh_at=clock.now - 1, obtained_at=0
    )
    vault.write(records.record_name(record.provider, record.account), record.dumps())
    vault.write(records.access_name(record.provider, record.account), cached.dumps())
    vault.writes.clear()
    transport = api.transport()
    return Minter(vault, transport=lambda: transport, lock_dir=lambda: tmp_path, clock=clock)


def stored(vault: MemoryVault, provider: str) -> tuple[LoginRecord, AccessToken]:
    """The login record and cached token in the vault."""
    record = LoginRecord.loads(vault.items[records.record_name(provider, "default")])
    access = AccessToken.loads(vault.items[records.access_name(provider, "default")])
    assert record is not None and access is not None
    return record, access


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def assert_closed(port: int) -> None:
    """Nothing accepts connections on ``port`` any more."""
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


# --- GitHub -----------------------------------------------------------------------------

GITHUB_DEVICE = {
    "device_code": "3584d83530557fdd1f46af8289938c8ef79f9dc5",
    "user_code": "WDJB-MJHT",
    "verification_uri": "https://github.com/login/device",
    "expires_in": 899,
    "interval": 5,
}
GITHUB_TOKEN = {
    "access_token": "ghu_new",
    "expires_in": 28800,
    "refresh_token": "ghr_new",
    "refresh_token_expires_in": 15811200,
    "scope": "repo,read:org",
    "token_type": "bearer",
}


def github(fields: dict[str, object], *, form_only: bool = False) -> Handler:
    """GitHub: form-encoded unless the request accepts JSON; errors with HTTP 200."""

    def handle(request: httpx.Request) -> httpx.Response:
        if not form_only and "application/json" in request.headers.get("accept", ""):
            return httpx.Response(200, json=fields)
        body = urlencode({k: str(v) for k, v in fields.items()})
        return httpx.Response(200, content=body.encode(), headers={"Content-Type": FORM})

    return handle


def github_api(token: Handler, *, form_only: bool = False) -> Api:
    return Api(
        {
            "POST https://github.com/login/device/code": github(GITHUB_DEVICE, form_only=form_only),
            "POST https://github.com/login/oauth/access_token": token,
            "GET https://api.github.com/user": answer(login="octocat", id=1),
        }
    )


def github_profile() -> Provider:
    return settings.provider("github", Settings(), client_id="Iv23liExample", resource=MCP_RESOURCE)


def test_github_device_login(clock: Clock, vault: MemoryVault) -> None:
    """Device flow: JSON asked for, 200-errors polled through, slow_down obeyed, scopes split."""
    api = github_api(
        in_turn(
            github({"error": "authorization_pending", "error_description": "pending"}),
            github(
                {"error": "slow_down", "error_description": "Too many requests", "interval": 10}
            ),
            github(GITHUB_TOKEN),
        )
    )
    ui, opener = UI(), Opener()
    record = login(
        LoginRequest(provider=github_profile()),
        transport=api.transport(),
        vault=vault,
        ui=ui,
        open_url=opener,
        clock=clock,
    )

    start = api.requests[0]
    assert str(start.url) == "https://github.com/login/device/code"
    assert form_of(start) == {"client_id": "Iv23liExample", "scope": "repo read:org"}
    for request in api.requests:
        assert "application/json" in request.headers["accept"], request.url
    polls = api.to("https://github.com/login/oauth/access_token")
    assert len(polls) == 3
    assert form_of(polls[0]) == {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": GITHUB_DEVICE["device_code"],
        "client_id": "Iv23liExample",
    }
    # 5 s as told, 5 s again after authorization_pending, max(5 + 5, 10) after slow_down.
    assert clock.sleeps == [5, 5, 10]
    no_resource_sent(api)

    assert opener.urls == ["https://github.com/login/device"]
    assert ui.codes[0][0].user_code == "WDJB-MJHT"
    assert record.flow == DEVICE
    assert record.scopes == ["repo", "read:org"]
    assert record.user == "octocat"
    assert (record.comma_scopes, record.send_resource) == (True, False)
    assert record.refresh_expires_at == clock.now + 15811200
    saved, access = stored(vault, "github")
    assert saved.refresh_token == "ghr_new"
    assert access.token == "ghu_new"
    assert access.scopes == ["repo", "read:org"]
    assert vault.writes == [
        records.record_name("github", "default"),
        records.access_name("github", "default"),
    ]


def test_github_form_encoded_answers_are_read_anyway(clock: Clock) -> None:
    """Even when GitHub ignores Accept, form-encoded answers (strings for numbers) parse."""
    api = github_api(
        in_turn(
            github({"error": "authorization_pending"}, form_only=True),
            github(GITHUB_TOKEN, form_only=True),
        ),
        form_only=True,
    )
    profile = github_profile()
    transport = api.transport()
    code = device.start(profile, transport, extra={})
    assert code.device_code == GITHUB_DEVICE["device_code"]
    assert (code.expires_in, code.interval) == (899, 5)
    assert code.verification_uri_complete is None
    response = device.poll(profile, code, transport, extra={}, sleep=clock.sleep, clock=clock)
    assert response.access_token == "ghu_new"
    assert response.expires_in == 28800
    assert response.refresh_token == "ghr_new"
    assert response.refresh_token_expires_in == 15811200
    assert response.scope == ("repo", "read:org")
    assert clock.sleeps == [5, 5]
    assert api.requests[0].headers["content-type"].startswith("application/x-www-form-urlencoded")


@pytest.mark.parametrize(("told", "expected"), [(10, 10), (20, 20), (3, 10), (None, 10)])
def test_github_slow_down_takes_the_larger_interval(
    clock: Clock, told: int | None, expected: int
) -> None:
    """After slow_down the wait is max(interval + 5, the interval GitHub sends)."""
    slow: dict[str, object] = {"error": "slow_down"}
    if told is not None:
        slow["interval"] = told
    api = github_api(in_turn(github(slow), github(GITHUB_TOKEN)))
    profile = github_profile()
    transport = api.transport()
    code = device.start(profile, transport, extra={})
    device.poll(profile, code, transport, extra={}, sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [5, expected]


def test_github_pkce_login_sends_the_secret_and_no_resource(vault: MemoryVault) -> None:
    """Code flow: S256 challenge, client secret in the exchange, no resource anywhere."""
    api = github_api(github(GITHUB_TOKEN))
    browser, ui = Browser(), UI()
    record = login(
        LoginRequest(provider=github_profile(), flow=PKCE, client_secret="s3cret", timeout=10),
        transport=api.transport(),
        vault=vault,
        ui=ui,
        open_url=browser,
    )
    browser.finish()
    query = browser.query
    assert browser.urls[0].startswith("https://github.com/login/oauth/authorize?")
    assert query["client_id"] == "Iv23liExample"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert query["redirect_uri"] == f"http://127.0.0.1:{browser.port}/callback"
    assert ui.urls == [(browser.urls[0], True)]
    (exchange,) = api.to("https://github.com/login/oauth/access_token")
    form = form_of(exchange)
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == query["redirect_uri"]
    assert form["client_secret"] == "s3cret"
    assert s256(form["code_verifier"]) == query["code_challenge"]
    assert "application/json" in exchange.headers["accept"]
    no_resource_sent(api, browser.urls)
    assert record.client_secret == "s3cret"
    assert record.scopes == ["repo", "read:org"]
    assert browser.statuses == [200]
    assert_closed(browser.port)


def test_github_pkce_needs_the_client_secret(vault: MemoryVault) -> None:
    """GitHub's code exchange needs the secret even with PKCE: a usage error, before any request."""
    api = github_api(github(GITHUB_TOKEN))
    with pytest.raises(UsageError, match="client secret") as caught:
        login(
            LoginRequest(provider=github_profile(), flow=PKCE),
            transport=api.transport(),
            vault=vault,
            ui=UI(),
            open_url=Browser(),
        )
    assert caught.value.hint is not None and "--client-secret-stdin" in caught.value.hint
    assert api.requests == []
    assert vault.items == {}


def github_record() -> dict[str, object]:
    return {
        "provider": "github",
        "client_id": "Iv23liExample",
        "token_endpoint": "https://github.com/login/oauth/access_token",
        "resource": MCP_RESOURCE,
        "comma_scopes": True,
        "send_resource": False,
    }


def test_github_refresh_sends_no_resource(clock: Clock, vault: MemoryVault, tmp_path: Path) -> None:
    """The stored quirks apply at refresh time: JSON asked for, no resource, commas split."""
    api = github_api(github(GITHUB_TOKEN, form_only=True))
    minter = stale_login(vault, clock, tmp_path, api, **github_record())
    assert minter.token("github", "default") == "ghu_new"
    (refresh,) = api.requests
    assert form_of(refresh) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-old",
        "client_id": "Iv23liExample",
    }
    assert "application/json" in refresh.headers["accept"]
    no_resource_sent(api)
    _record, access = stored(vault, "github")
    assert access.scopes == ["repo", "read:org"]


def test_github_bad_refresh_token_means_log_in_again(
    clock: Clock, vault: MemoryVault, tmp_path: Path
) -> None:
    """GitHub's dead refresh token is ``bad_refresh_token`` (HTTP 200): a new login is needed.

    GitHub documents no ``invalid_grant`` for refreshes; an expired or reused refresh
    token answers ``error=bad_refresh_token``, which is as final as invalid_grant.
    """
    api = github_api(
        github(
            {
                "error": "bad_refresh_token",
                "error_description": "The refresh token passed is incorrect or expired.",
            },
            form_only=True,
        )
    )
    minter = stale_login(vault, clock, tmp_path, api, **github_record())
    clock.now += 3600  # the cached token has expired too: nothing to fall back on
    with pytest.raises(LoginRequired) as caught:
        minter.token("github", "default")
    assert caught.value.hint is not None and "mcpcred login github" in caught.value.hint


# --- GitLab -----------------------------------------------------------------------------


def gitlab_profile() -> Provider:
    return settings.provider("gitlab", Settings(), client_id="gl-app")


def test_gitlab_endpoints() -> None:
    """All of GitLab's OAuth endpoints are under https://gitlab.com/oauth/."""
    gitlab = gitlab_profile()
    assert gitlab.authorization_endpoint == "https://gitlab.com/oauth/authorize"
    assert gitlab.token_endpoint == "https://gitlab.com/oauth/token"
    assert gitlab.device_authorization_endpoint == "https://gitlab.com/oauth/authorize_device"
    assert gitlab.revocation_endpoint == "https://gitlab.com/oauth/revoke"
    assert gitlab.identity_endpoint == "https://gitlab.com/api/v4/user"


def test_gitlab_device_login(clock: Clock, vault: MemoryVault) -> None:
    """GitLab sends verification_uri_complete (opened) and errors as HTTP 400 JSON."""
    complete = "https://gitlab.com/oauth/device?user_code=0A44L90H"
    api = Api(
        {
            "POST https://gitlab.com/oauth/authorize_device": answer(
                device_code="GmRhmhcxhZDzh",
                user_code="0A44L90H",
                verification_uri="https://gitlab.com/oauth/device",
                verification_uri_complete=complete,
                expires_in=300,
                interval=5,
            ),
            "POST https://gitlab.com/oauth/token": in_turn(
                answer(400, error="authorization_pending"),
                answer(
                    200,
                    access_token="glpat-at",
                    token_type="Bearer",
                    expires_in=7200,
                    refresh_token="gl-rt",
                    scope="api",
                    created_at=1,
                ),
            ),
            "GET https://gitlab.com/api/v4/user": answer(username="tanuki"),
        }
    )
    opener = Opener()
    record = login(
        LoginRequest(provider=gitlab_profile()),
        transport=api.transport(),
        vault=vault,
        ui=UI(),
        open_url=opener,
        clock=clock,
    )
    assert opener.urls == [complete]
    assert form_of(api.requests[0]) == {"client_id": "gl-app", "scope": "api"}
    assert clock.sleeps == [5, 5]
    assert record.user == "tanuki"
    assert record.refresh_token == "gl-rt"
    assert record.revocation_endpoint == "https://gitlab.com/oauth/revoke"


def test_gitlab_refresh_rotates_the_refresh_token(
    clock: Clock, vault: MemoryVault, tmp_path: Path
) -> None:
    """Each GitLab refresh returns a new refresh token: stored, and stored before the access token."""
    api = Api(
        {
            "POST https://gitlab.com/oauth/token": answer(
                access_token="at-new",
                token_type="Bearer",
                expires_in=7200,
                refresh_token="rt-new",
                scope="api",
                created_at=1,
            ),
        }
    )
    minter = stale_login(
        vault,
        clock,
        tmp_path,
        api,
        provider="gitlab",
        client_id="gl-app",
        token_endpoint="https://gitlab.com/oauth/token",
    )
    assert minter.token("gitlab", "default") == "at-new"
    assert form_of(api.requests[0])["refresh_token"] == "rt-old"
    record, access = stored(vault, "gitlab")
    assert record.refresh_token == "rt-new"
    assert record.refreshed_at == clock.now
    assert access.token == "at-new"
    assert vault.writes == [
        records.record_name("gitlab", "default"),
        records.access_name("gitlab", "default"),
    ]


# --- Google -----------------------------------------------------------------------------


def google_profile() -> Provider:
    return settings.provider("google", Settings(), client_id="123-abc.apps.googleusercontent.com")


def test_google_device_answer_uses_verification_url(clock: Clock, vault: MemoryVault) -> None:
    """Google says ``verification_url``; pending is HTTP 428; the secret goes with each poll."""
    api = Api(
        {
            "POST https://oauth2.googleapis.com/device/code": answer(
                device_code="AH-1Ng2",
                user_code="GQVQ-JKEC",
                verification_url="https://www.google.com/device",
                expires_in=1800,
                interval=5,
            ),
            "POST https://oauth2.googleapis.com/token": in_turn(
                answer(
                    428, error="authorization_pending", error_description="Precondition Required"
                ),
                answer(
                    200,
                    access_token="ya29.x",
                    expires_in=3599,
                    token_type="Bearer",
                    refresh_token="1//rt",
                    scope="openid https://www.googleapis.com/auth/userinfo.email",
                    id_token=jwt(sub="1", email="ada@example.com"),
                ),
            ),
        }
    )
    opener, ui = Opener(), UI()
    record = login(
        LoginRequest(provider=google_profile(), flow=DEVICE, client_secret="GOCSPX-secret"),
        transport=api.transport(),
        vault=vault,
        ui=ui,
        open_url=opener,
        clock=clock,
    )
    code = ui.codes[0][0]
    assert code.verification_uri == "https://www.google.com/device"
    assert opener.urls == ["https://www.google.com/device"]
    start, *polls = api.requests
    assert "client_secret" not in form_of(start)
    assert all(form_of(p)["client_secret"] == "GOCSPX-secret" for p in polls)
    assert record.user == "ada@example.com"  # from the ID token: no userinfo request
    assert len(api.requests) == 3
    assert record.scopes == ["openid", "https://www.googleapis.com/auth/userinfo.email"]


def test_google_authorization_url_asks_for_offline_access() -> None:
    """access_type=offline and prompt=consent, or Google sends no refresh token."""
    api = Api(
        {
            "POST https://oauth2.googleapis.com/token": answer(
                access_token="ya29.x", expires_in=3599, token_type="Bearer", refresh_token="1//rt"
            )
        }
    )
    browser = Browser()
    response = loopback.authorize(
        google_profile(),
        api.transport(),
        open_url=browser.open,
        extra={"client_secret": "GOCSPX-secret"},
        timeout=10,
    )
    browser.finish()
    assert browser.urls[0].startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    query = browser.query
    assert query["access_type"] == "offline"
    assert query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256"
    assert query["scope"] == "openid email"
    assert len(query["state"]) >= 20
    form = form_of(api.requests[0])
    assert form["client_secret"] == "GOCSPX-secret"
    assert s256(form["code_verifier"]) == query["code_challenge"]
    assert response.refresh_token == "1//rt"
    assert_closed(browser.port)


def test_google_pkce_needs_the_client_secret(vault: MemoryVault) -> None:
    """Google's first flow is PKCE, and its code exchange needs the secret."""
    api = Api({})
    with pytest.raises(UsageError, match="client secret") as caught:
        login(
            LoginRequest(provider=google_profile()),
            transport=api.transport(),
            vault=vault,
            ui=UI(),
            open_url=Browser(),
        )
    assert caught.value.exit_code == EXIT_USAGE
    assert api.requests == []


def test_google_refresh_keeps_the_old_refresh_token(
    clock: Clock, vault: MemoryVault, tmp_path: Path
) -> None:
    """Google's refresh answer has no refresh_token: the stored one stays."""
    api = Api(
        {
            "POST https://oauth2.googleapis.com/token": answer(
                access_token="ya29.new", expires_in=3599, token_type="Bearer", scope="openid email"
            )
        }
    )
    minter = stale_login(
        vault,
        clock,
        tmp_path,
        api,
        provider="google",
        client_id="123-abc.apps.googleusercontent.com",
        client_secret="GOCSPX-secret",
        token_endpoint="https://oauth2.googleapis.com/token",
    )
    assert minter.token("google", "default") == "ya29.new"
    assert form_of(api.requests[0])["client_secret"] == "GOCSPX-secret"
    record, access = stored(vault, "google")
    assert record.refresh_token == "rt-old"
    assert access.token == "ya29.new"


# --- Microsoft Entra ID -----------------------------------------------------------------

ENTRA_BASE = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0"


def entra_profile(tmp_path: Path) -> Provider:
    path = tmp_path / "config.toml"
    path.write_text(
        '[providers.entra]\nclient-id = "00000000-0000-0000-0000-00000000c1d0"\n'
        'tenant = "contoso.onmicrosoft.com"\n',
        encoding="utf-8",
    )
    return settings.provider("entra", settings.load(path), resource=MCP_RESOURCE)


def entra_token(request: httpx.Request) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "token_type": "Bearer",
            "scope": "openid profile User.Read email",
            "expires_in": 4739,
            "ext_expires_in": 4739,
            "access_token": "eyJ0eXAi.entra",
            "refresh_token": "0.AVYA-rt",
            "id_token": jwt(preferred_username="ada@contoso.onmicrosoft.com"),
        },
    )


def test_entra_tenant_is_filled_in(tmp_path: Path) -> None:
    """Every tenant-scoped endpoint names the configured tenant."""
    entra = entra_profile(tmp_path)
    assert entra.authorization_endpoint == f"{ENTRA_BASE}/authorize"
    assert entra.token_endpoint == f"{ENTRA_BASE}/token"
    assert entra.device_authorization_endpoint == f"{ENTRA_BASE}/devicecode"
    assert entra.resource == MCP_RESOURCE  # kept, but never sent (AADSTS901002)


def test_entra_device_login_sends_no_resource(
    clock: Clock, vault: MemoryVault, tmp_path: Path
) -> None:
    """No verification_uri_complete from Entra, and no resource next to scopes."""
    api = Api(
        {
            f"POST {ENTRA_BASE}/devicecode": answer(
                user_code="FDSFD4DB9",
                device_code="DAQABAAEAAAD",
                verification_uri="https://microsoft.com/devicelogin",
                expires_in=900,
                interval=5,
                message="To sign in, use a web browser to open the page https://microsoft.com/devicelogin",
            ),
            f"POST {ENTRA_BASE}/token": in_turn(
                answer(400, error="authorization_pending", error_codes=[70016]),
                entra_token,
            ),
        }
    )
    opener, ui = Opener(), UI()
    record = login(
        LoginRequest(provider=entra_profile(tmp_path)),
        transport=api.transport(),
        vault=vault,
        ui=ui,
        open_url=opener,
        clock=clock,
    )
    assert str(api.requests[0].url) == f"{ENTRA_BASE}/devicecode"
    assert ui.codes[0][0].verification_uri_complete is None
    assert opener.urls == ["https://microsoft.com/devicelogin"]
    assert form_of(api.requests[0])["scope"] == "offline_access openid profile User.Read"
    no_resource_sent(api)
    assert record.send_resource is False
    assert record.user == "ada@contoso.onmicrosoft.com"
    assert record.refresh_token == "0.AVYA-rt"


def test_entra_pkce_login_sends_no_resource(vault: MemoryVault, tmp_path: Path) -> None:
    """Entra's code flow needs no secret, and the resource stays out of the URL and the exchange."""
    api = Api({f"POST {ENTRA_BASE}/token": entra_token})
    browser = Browser()
    record = login(
        LoginRequest(provider=entra_profile(tmp_path), flow=PKCE, timeout=10),
        transport=api.transport(),
        vault=vault,
        ui=UI(),
        open_url=browser,
    )
    browser.finish()
    assert browser.urls[0].startswith(f"{ENTRA_BASE}/authorize?")
    no_resource_sent(api, browser.urls)
    assert "client_secret" not in form_of(api.requests[0])
    assert record.flow == PKCE


def test_entra_refresh_sends_no_resource(clock: Clock, vault: MemoryVault, tmp_path: Path) -> None:
    """A stored Entra login keeps the quirk: its refreshes carry no resource either."""
    api = Api({f"POST {ENTRA_BASE}/token": entra_token})
    minter = stale_login(
        vault,
        clock,
        tmp_path,
        api,
        provider="entra",
        client_id="00000000-0000-0000-0000-00000000c1d0",
        token_endpoint=f"{ENTRA_BASE}/token",
        resource=MCP_RESOURCE,
        send_resource=False,
    )
    assert minter.token("entra", "default") == "eyJ0eXAi.entra"
    no_resource_sent(api)
    record, _access = stored(vault, "entra")
    assert record.refresh_token == "0.AVYA-rt"


# --- Atlassian --------------------------------------------------------------------------


def atlassian_profile() -> Provider:
    """The Atlassian profile; on port 8765 unless something here already holds it."""
    profile = settings.provider("atlassian", Settings(), client_id="atl-client")
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", profile.redirect_port))
        except OSError:
            return replace(profile, redirect_port=0)
    return profile


def atlassian_api() -> Api:
    return Api(
        {
            "POST https://auth.atlassian.com/oauth/token": answer(
                access_token="atl-at",
                refresh_token="atl-rt",
                expires_in=3600,
                scope="read:me read:jira-work offline_access",
                token_type="Bearer",
            ),
            "GET https://api.atlassian.com/me": answer(email="ada@example.com"),
        }
    )


def test_atlassian_profile_defaults() -> None:
    """Atlassian matches the callback URL exactly: a fixed port, PKCE only."""
    assert providers.ATLASSIAN.redirect_port == 8765
    assert providers.ATLASSIAN.flows == (PKCE,)
    assert settings.provider("jira", Settings()).name == "atlassian"


def test_atlassian_has_no_device_flow(vault: MemoryVault) -> None:
    """Asking for the device flow is a usage error that suggests pkce."""
    profile = settings.provider("atlassian", Settings(), client_id="atl-client")
    with pytest.raises(UsageError, match="device") as caught:
        choose_flow(profile, DEVICE)
    assert caught.value.hint == "use --flow pkce"
    assert choose_flow(profile, None) == PKCE
    with pytest.raises(UsageError):
        login(
            LoginRequest(provider=profile, flow=DEVICE, client_secret="s"),
            transport=Api({}).transport(),
            vault=vault,
            ui=UI(),
            open_url=Opener(),
        )


def test_atlassian_pkce_login(vault: MemoryVault) -> None:
    """audience and prompt=consent in the URL; the listener on the profile's port."""
    profile = atlassian_profile()
    api = atlassian_api()
    browser = Browser()
    record = login(
        LoginRequest(provider=profile, client_secret="atl-secret", timeout=10),
        transport=api.transport(),
        vault=vault,
        ui=UI(),
        open_url=browser,
    )
    browser.finish()
    query = browser.query
    assert browser.urls[0].startswith("https://auth.atlassian.com/authorize?")
    assert query["audience"] == "api.atlassian.com"
    assert query["prompt"] == "consent"
    if profile.redirect_port:
        assert query["redirect_uri"] == "http://127.0.0.1:8765/callback"
    form = form_of(api.to("https://auth.atlassian.com/oauth/token")[0])
    assert form["client_secret"] == "atl-secret"
    no_resource_sent(api, browser.urls)
    assert record.user == "ada@example.com"
    assert record.refresh_token == "atl-rt"
    assert_closed(browser.port)


def test_fixed_redirect_port_is_free_again_right_after_a_login() -> None:
    """A second login on a fixed port (Atlassian's 8765) must not fail for a minute.

    The listener closes the callback connection first, so that connection sits in
    TIME_WAIT on the fixed port; without SO_REUSEADDR the next bind fails with
    "Address already in use" until it expires (60 s on Linux).
    """
    port = free_port()
    profile = replace(
        settings.provider("atlassian", Settings(), client_id="atl-client"), redirect_port=port
    )
    api = atlassian_api()
    for _attempt in range(2):
        browser = PatientBrowser()
        loopback.authorize(
            profile,
            api.transport(),
            open_url=browser.open,
            extra={"client_secret": "s"},
            timeout=10,
        )
        browser.finish()
        assert browser.statuses == [200]
        assert browser.query["redirect_uri"] == f"http://127.0.0.1:{port}/callback"


# --- Generic OpenID Connect / OAuth 2 (discovery) ----------------------------------------

ISSUER = "https://id.example.com"


def metadata(issuer: str = ISSUER, **fields: object) -> dict[str, object]:
    base = issuer.rstrip("/")
    document: dict[str, object] = {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/authorize",
        "token_endpoint": f"{base}/token",
        "device_authorization_endpoint": f"{base}/device",
        "revocation_endpoint": f"{base}/revoke",
        "userinfo_endpoint": f"{base}/me",
        "code_challenge_methods_supported": ["S256"],
    }
    document.update(fields)
    return {k: v for k, v in document.items() if v is not None}


def generic(issuer: str = ISSUER) -> Provider:
    return settings.provider("acme", Settings(), issuer=issuer, client_id="mcpcred")


def test_discovery_fills_the_endpoints() -> None:
    """RFC 8414 metadata at the root: every endpoint taken, both flows available."""
    api = Api({f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata())})
    acme = discovery.complete(generic(), api.transport())
    assert acme.token_endpoint == f"{ISSUER}/token"
    assert acme.authorization_endpoint == f"{ISSUER}/authorize"
    assert acme.device_authorization_endpoint == f"{ISSUER}/device"
    assert acme.identity_endpoint == f"{ISSUER}/me"
    assert acme.flows == (DEVICE, PKCE)
    assert len(api.requests) == 1


def test_discovery_issuer_must_match_exactly() -> None:
    """A metadata document for another issuer is a mix-up: refused, naming both."""
    other = "https://evil.example.com"
    api = Api({f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata(other))})
    with pytest.raises(OAuthError) as caught:
        discovery.complete(generic(), api.transport())
    assert ISSUER in caught.value.message
    assert other in caught.value.message


def test_discovery_trailing_slash_is_a_mismatch() -> None:
    """Character for character: ``https://id.example.com/`` is not ``https://id.example.com``."""
    api = Api(
        {f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata(ISSUER + "/"))}
    )
    with pytest.raises(OAuthError, match="must match exactly"):
        discovery.complete(generic(), api.transport())


def test_discovery_with_a_path_inserts_then_falls_back_to_oidc() -> None:
    """RFC 8414 §3.1 inserts the well-known part before the path; OIDC appends it."""
    issuer = "https://id.example.com/tenant1"
    api = Api(
        {
            "GET https://id.example.com/.well-known/oauth-authorization-server/tenant1": answer(
                404, error="not_found"
            ),
            "GET https://id.example.com/tenant1/.well-known/openid-configuration": answer(
                **metadata(issuer)
            ),
        }
    )
    acme = discovery.complete(generic(issuer), api.transport())
    assert [str(r.url) for r in api.requests] == [
        "https://id.example.com/.well-known/oauth-authorization-server/tenant1",
        "https://id.example.com/tenant1/.well-known/openid-configuration",
    ]
    assert acme.token_endpoint == "https://id.example.com/tenant1/token"
    assert all("application/json" in r.headers["accept"] for r in api.requests)


def test_discovery_without_any_metadata() -> None:
    """Two 404s: an OAuthError naming the issuer."""
    api = Api(
        {
            f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(404),
            f"GET {ISSUER}/.well-known/openid-configuration": answer(404),
        }
    )
    with pytest.raises(OAuthError, match="no authorization server metadata"):
        discovery.complete(generic(), api.transport())


@pytest.mark.parametrize(
    "field",
    [
        "authorization_endpoint",
        "token_endpoint",
        "device_authorization_endpoint",
        "userinfo_endpoint",
    ],
)
@pytest.mark.parametrize(
    "url",
    [
        "http://evil.example.com/x",
        "https://id.example.com/x y",
        "https://id.example.com/x\n--flag",
        "javascript:alert(1)",
        "file:///etc/passwd",
    ],
)
def test_discovery_refuses_unsafe_endpoints(field: str, url: str) -> None:
    """An endpoint from metadata is attacker-controlled if the server is: checked first."""
    api = Api(
        {f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata(**{field: url}))}
    )
    with pytest.raises(OAuthError) as caught:
        discovery.complete(generic(), api.transport())
    assert field in caught.value.message


def test_discovery_without_s256_drops_pkce() -> None:
    """PKCE without S256 would be ``plain``: the code flow is not offered."""
    api = Api(
        {
            f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(
                **metadata(code_challenge_methods_supported=["plain"])
            )
        }
    )
    acme = discovery.complete(generic(), api.transport())
    assert acme.flows == (DEVICE,)
    assert not acme.available(PKCE)
    with pytest.raises(UsageError):
        choose_flow(acme, PKCE)


def test_discovery_without_s256_or_device_flow_is_an_error() -> None:
    """No S256 and no device endpoint: nothing mcpcred can run."""
    document = metadata(
        code_challenge_methods_supported=["plain"], device_authorization_endpoint=None
    )
    api = Api({f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**document)})
    with pytest.raises(OAuthError, match="neither"):
        discovery.complete(generic(), api.transport())


def test_configured_endpoints_win_over_metadata(tmp_path: Path) -> None:
    """An endpoint in the config file is kept; metadata fills only the gaps."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'[providers.acme]\nissuer = "{ISSUER}"\nclient-id = "c"\n'
        'token-endpoint = "https://proxy.example.com/token"\n',
        encoding="utf-8",
    )
    api = Api({f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata())})
    acme = discovery.complete(settings.provider("acme", settings.load(path)), api.transport())
    assert acme.token_endpoint == "https://proxy.example.com/token"
    assert acme.authorization_endpoint == f"{ISSUER}/authorize"


def generic_api(**token: object) -> Api:
    fields = {
        "access_token": "acme-at",
        "token_type": "Bearer",
        "expires_in": 600,
        "refresh_token": "acme-rt",
    }
    fields.update(token)
    return Api(
        {
            f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata()),
            f"POST {ISSUER}/token": answer(**fields),
            f"POST {ISSUER}/device": answer(
                device_code="dc", user_code="ABCD-EFGH", verification_uri=f"{ISSUER}/activate"
            ),
            f"GET {ISSUER}/me": answer(preferred_username="ada"),
        }
    )


def test_generic_pkce_login_with_matching_iss(vault: MemoryVault) -> None:
    """The whole login: discovery, code flow with RFC 9207 ``iss``, identity, storage."""
    api = generic_api()
    browser = Browser({"code": "c1", "iss": ISSUER})
    record = login(
        LoginRequest(provider=generic(), flow=PKCE, timeout=10),
        transport=api.transport(),
        vault=vault,
        ui=UI(),
        open_url=browser,
    )
    browser.finish()
    assert browser.urls[0].startswith(f"{ISSUER}/authorize?")
    assert record.provider == "acme"
    assert record.issuer == ISSUER
    assert record.token_endpoint == f"{ISSUER}/token"
    assert record.user == "ada"
    assert record.refresh_token == "acme-rt"
    assert form_of(api.to(f"{ISSUER}/token")[0])["code"] == "c1"


# --- the loopback listener --------------------------------------------------------------


def acme() -> Provider:
    return discovery.complete(generic(), generic_api().transport())


def test_listener_answers_404_elsewhere_and_keeps_waiting() -> None:
    """Other paths and methods get a 404; the callback still works; then the port is closed."""
    api = generic_api()
    browser = Browser(
        first=[("GET", "/favicon.ico"), ("GET", "/other?code=x&state=y"), ("POST", "/callback")]
    )
    response = loopback.authorize(
        acme(), api.transport(), open_url=browser.open, extra={}, timeout=10
    )
    browser.finish()
    assert browser.statuses == [404, 404, 404, 200]
    assert response.access_token == "acme-at"
    assert len(api.to(f"{ISSUER}/token")) == 1
    assert_closed(browser.port)


def test_the_page_says_logged_in_only_after_the_code_exchange() -> None:
    """Issue 12: the tab said "Logged in" before state was checked or the code exchanged."""
    api = generic_api()
    browser = Browser()
    waiting: list[list[int]] = []
    exchange = api.routes[f"POST {ISSUER}/token"]

    def token(request: httpx.Request) -> httpx.Response:
        waiting.append(list(browser.statuses))  # what the browser had been shown by then
        return exchange(request)

    api.routes[f"POST {ISSUER}/token"] = token
    response = loopback.authorize(
        acme(), api.transport(), open_url=browser.open, extra={}, timeout=10
    )
    browser.finish()
    assert response.access_token == "acme-at"
    assert waiting == [[]], "the browser got its page before the code was exchanged"
    assert browser.statuses == [200]
    assert "<h1>Logged in</h1>" in browser.pages[0]
    assert_closed(browser.port)


@pytest.mark.parametrize(
    ("params", "token_status"),
    [
        ({"code": "c1", "state": "forged"}, 200),  # a forged or stale redirect
        ({"code": "c1", "state": ""}, 200),
        ({"error": "access_denied"}, 200),  # the user said no
        ({"code": "c1", "iss": "https://evil.example.com"}, 200),  # RFC 9207 mix-up
        ({}, 200),  # no code
        ({"code": "c1"}, 400),  # the provider refused the code
    ],
)
def test_every_failed_login_shows_login_failed(params: dict[str, str], token_status: int) -> None:
    """Issue 12: these all showed "Logged in" (the exchange failure after the page)."""
    api = generic_api()
    if token_status != 200:
        api.routes[f"POST {ISSUER}/token"] = answer(token_status, error="invalid_grant")
    browser = Browser(params)
    with pytest.raises(OAuthError):
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert browser.statuses == [400]
    assert "<h1>Login failed</h1>" in browser.pages[0]
    assert "Logged in" not in browser.pages[0]
    exchanged = api.to(f"{ISSUER}/token")
    assert len(exchanged) == (1 if token_status != 200 else 0)


def test_listener_listens_on_loopback_only() -> None:
    """127.0.0.1, an ephemeral port, the fixed callback path."""
    listener = loopback.Listener()
    try:
        assert listener.sock.getsockname()[0] == "127.0.0.1"
        assert listener.port > 0
        assert listener.redirect_uri == f"http://127.0.0.1:{listener.port}/callback"
    finally:
        listener.close()
    assert_closed(listener.port)


def test_wrong_state_is_refused() -> None:
    """A callback with another state is a forged or stale redirect: no code exchange."""
    api = generic_api()
    browser = Browser({"code": "c1", "state": "forged"})
    with pytest.raises(OAuthError, match="state") as caught:
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert caught.value.error == "state_mismatch"
    assert api.to(f"{ISSUER}/token") == []
    assert_closed(browser.port)


def test_missing_state_is_refused() -> None:
    """No state at all is as bad as a wrong one."""
    api = generic_api()
    browser = Browser({"code": "c1", "state": ""})
    with pytest.raises(OAuthError, match="state"):
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert api.to(f"{ISSUER}/token") == []


def test_access_denied_callback_is_login_denied() -> None:
    """The user pressed "Cancel": LoginDenied, no exchange."""
    api = generic_api()
    browser = Browser({"error": "access_denied", "error_description": "The user said no"})
    with pytest.raises(LoginDenied) as caught:
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert caught.value.error == "access_denied"
    assert "The user said no" in caught.value.message
    assert api.to(f"{ISSUER}/token") == []


def test_other_callback_error_is_an_oauth_error() -> None:
    """Any other error (invalid_scope...) is an OAuthError, not a user refusal."""
    api = generic_api()
    browser = Browser({"error": "invalid_scope"})
    with pytest.raises(OAuthError) as caught:
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert not isinstance(caught.value, LoginDenied)
    assert caught.value.error == "invalid_scope"


def test_iss_from_another_issuer_is_refused() -> None:
    """RFC 9207: a callback whose ``iss`` is another server is a mix-up: no exchange."""
    api = generic_api()
    browser = Browser({"code": "c1", "iss": "https://evil.example.com"})
    with pytest.raises(OAuthError, match="issuer") as caught:
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()
    assert caught.value.error == "issuer_mismatch"
    assert api.to(f"{ISSUER}/token") == []


def test_callback_without_code_is_refused() -> None:
    """A callback with the right state but no code ends the login."""
    api = generic_api()
    browser = Browser({})
    with pytest.raises(OAuthError, match="no code"):
        loopback.authorize(acme(), api.transport(), open_url=browser.open, extra={}, timeout=10)
    browser.finish()


def test_no_callback_times_out() -> None:
    """A browser that never comes back ends the login after the timeout."""

    def nobody(url: str) -> None:
        return None

    with pytest.raises(LoginDenied, match="no answer"):
        loopback.authorize(
            acme(), generic_api().transport(), open_url=nobody, extra={}, timeout=0.2
        )


def test_resource_goes_into_the_url_where_the_provider_accepts_it(vault: MemoryVault) -> None:
    """A server without Entra's quirk gets RFC 8707 ``resource`` in the URL and the exchange."""
    api = generic_api()
    profile = settings.provider(
        "acme", Settings(), issuer=ISSUER, client_id="mcpcred", resource=MCP_RESOURCE
    )
    browser = Browser()
    record = login(
        LoginRequest(provider=profile, flow=PKCE, timeout=10),
        transport=api.transport(),
        vault=vault,
        ui=UI(),
        open_url=browser,
    )
    browser.finish()
    assert browser.query["resource"] == MCP_RESOURCE
    assert form_of(api.to(f"{ISSUER}/token")[0])["resource"] == MCP_RESOURCE
    assert record.send_resource is True


# --- the device flow, whatever the provider ---------------------------------------------


def device_api(*polls: Handler, **start: object) -> Api:
    fields: dict[str, object] = {
        "device_code": "dc",
        "user_code": "ABCD-EFGH",
        "verification_uri": f"{ISSUER}/activate",
    }
    fields.update(start)
    return Api(
        {
            f"GET {ISSUER}/.well-known/oauth-authorization-server": answer(**metadata()),
            f"POST {ISSUER}/device": answer(**{k: v for k, v in fields.items() if v is not None}),
            f"POST {ISSUER}/token": in_turn(*polls),
        }
    )


def run_device(api: Api, clock: Clock) -> object:
    transport = api.transport()
    profile = discovery.complete(generic(), transport)
    code = device.start(profile, transport, extra={})
    return device.poll(profile, code, transport, extra={}, sleep=clock.sleep, clock=clock)


def test_device_missing_interval_means_five_seconds(clock: Clock) -> None:
    """oidc-provider sends no interval: the RFC's 5 s."""
    api = device_api(
        answer(400, error="authorization_pending"), answer(access_token="at", token_type="Bearer")
    )
    run_device(api, clock)
    assert clock.sleeps == [5, 5]


@pytest.mark.parametrize("value", [1e400, -5, "later"])
def test_device_start_with_a_broken_lifetime_uses_the_defaults(clock: Clock, value: object) -> None:
    """Issue 12: ``expires_in``/``interval`` of ``1e400`` crashed the device login (exit 70)."""
    raw = json.dumps({"expires_in": value, "interval": value}).encode()  # 1e400 -> Infinity
    api = device_api(answer(access_token="at", token_type="Bearer"))
    start = api.routes[f"POST {ISSUER}/device"]
    api.routes[f"POST {ISSUER}/device"] = lambda request: httpx.Response(
        200,
        content=start(request).content[:-1] + b"," + raw.replace(b"Infinity", b"1e400")[1:],
        headers={"content-type": "application/json"},
    )
    run_device(api, clock)
    assert clock.sleeps == [device.DEFAULT_INTERVAL]


def test_device_server_interval_is_used(clock: Clock) -> None:
    """An interval the server sends (as a string, even) is the wait."""
    api = device_api(answer(access_token="at", token_type="Bearer"), interval="7")
    run_device(api, clock)
    assert clock.sleeps == [7]


@pytest.mark.parametrize("error", ["expired_token", "access_denied"])
def test_device_final_refusals_are_login_denied(clock: Clock, error: str) -> None:
    """The user refused, or let the code expire: LoginDenied, no more polling."""
    api = device_api(answer(400, error="authorization_pending"), answer(400, error=error))
    with pytest.raises(LoginDenied) as caught:
        run_device(api, clock)
    assert caught.value.error == error
    assert len(api.to(f"{ISSUER}/token")) == 2


def test_device_other_errors_end_polling(clock: Clock) -> None:
    """Any other error is final too: a TokenError carrying the provider's code."""
    api = device_api(answer(400, error="invalid_grant", error_description="bad device code"))
    with pytest.raises(TokenError) as caught:
        run_device(api, clock)
    assert caught.value.error == "invalid_grant"
    assert not isinstance(caught.value, LoginDenied)
    assert len(api.to(f"{ISSUER}/token")) == 1


def test_device_code_expiry_ends_polling_on_time(clock: Clock) -> None:
    """The code's expires_in ends the wait, without sleeping past the deadline."""
    pending = answer(400, error="authorization_pending")
    api = device_api(*[pending] * 10, expires_in=12, interval=5)
    started = clock.now
    with pytest.raises(LoginDenied, match="expired") as caught:
        run_device(api, clock)
    assert caught.value.error == "expired_token"
    assert clock.sleeps == [5, 5]
    assert clock.now - started <= 12
    assert len(api.to(f"{ISSUER}/token")) == 2


def test_device_verification_uri_is_checked(clock: Clock) -> None:
    """A verification URI the user would open is checked like every endpoint."""
    api = device_api(verification_uri="https://id.example.com/activate now")
    transport = api.transport()
    profile = discovery.complete(generic(), transport)
    with pytest.raises(OAuthError, match="whitespace"):
        device.start(profile, transport, extra={})
