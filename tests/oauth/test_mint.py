"""``mint.Minter``: a cached access token, or exactly one refresh, and the lock behind it."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import pytest

from mcpcred.errors import EXIT_OAUTH, LoginRequired, OAuthError
from mcpcred.oauth import records
from mcpcred.oauth.lock import held, lock_path
from mcpcred.oauth.mint import Minter
from mcpcred.oauth.records import AccessToken, LoginRecord
from tests.oauth.conftest import MemoryVault, form_of, mock_transport

TOKEN_URL = "https://auth.example.com/token"
NOW = 1_700_000_000.0


class Clock:
    """A settable clock."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """A token endpoint that counts requests; answers rotate a refresh token each time."""

    def __init__(self, status: int = 200, delay: float = 0.0, **fields: object) -> None:
        self.status = status
        self.delay = delay
        self.fields = fields
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            n = len(self.requests)
        if self.delay:
            time.sleep(self.delay)
        if self.status != 200:
            return httpx.Response(self.status, json=self.fields)
        body: dict[str, object] = {
            "access_token": f"at-{n}",
            "token_type": "Bearer",
            "expires_in": 3600,
            "refresh_token": f"rt-{n}",
        }
        body.update(self.fields)
        return httpx.Response(200, json={k: v for k, v in body.items() if v is not None})


class ThreadSafeVault(MemoryVault):
    """The in-memory vault, safe to share between threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def read(self, names: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return super().read(names)

    def write(self, name: str, value: str) -> None:
        with self._lock:
            super().write(name, value)


def record_of(provider: str = "acme", account: str = "default", **fields: object) -> LoginRecord:
    values: dict[str, object] = {
        "provider": provider,
        "account": account,
        "client_id": "cid",
        "token_endpoint": TOKEN_URL,
        "refresh_token": "rt-0",
    }
    values.update(fields)
    return LoginRecord(**values)


def store(
    vault: MemoryVault,
    record: LoginRecord | None = None,
    access: AccessToken | None = None,
    provider: str = "acme",
    account: str = "default",
) -> None:
    """Put a login (and its cached token) in the vault; forget those writes."""
    if record is not None:
        vault.write(records.record_name(provider, account), record.dumps())
    if access is not None:
        vault.write(records.access_name(provider, account), access.dumps())
    vault.writes.clear()


def cached(*, refresh_in: float, expires_in: float, token: str = "at-0") -> AccessToken:  # noqa: S107
    """A cached token due in ``refresh_in`` s and expiring in ``expires_in`` s (from NOW)."""
    return AccessToken(
        token, expires_at=NOW + expires_in, refresh_at=NOW + refresh_in, obtained_at=NOW - 3000
    )


def minter_for(
    vault: MemoryVault, endpoint: TokenEndpoint, tmp_path: Path, clock: Clock | None = None
) -> Minter:
    transport = mock_transport(endpoint)
    return Minter(
        vault, transport=lambda: transport, lock_dir=lambda: tmp_path, clock=clock or Clock()
    )


def access_in(vault: MemoryVault, provider: str = "acme", account: str = "default") -> AccessToken:
    found = AccessToken.loads(vault.items[records.access_name(provider, account)])
    assert found is not None
    return found


def record_in(vault: MemoryVault, provider: str = "acme", account: str = "default") -> LoginRecord:
    found = LoginRecord.loads(vault.items[records.record_name(provider, account)])
    assert found is not None
    return found


# --- the cache ------------------------------------------------------------------------


def test_fresh_cached_token_needs_no_request(vault: MemoryVault, tmp_path: Path) -> None:
    """A token not yet due comes back as is: no request, no write."""
    token = cached(refresh_in=100, expires_in=400)
    store(vault, record_of(), token)
    endpoint = TokenEndpoint()
    minter = minter_for(vault, endpoint, tmp_path)
    assert minter.token("acme", "default", token.dumps()) == "at-0"  # the shim's fast path
    assert minter.token("acme", "default") == "at-0"  # read under the lock
    assert endpoint.requests == []
    assert vault.writes == []
    assert minter.refreshed == 0


def test_stale_token_is_refreshed_once_and_cached(vault: MemoryVault, tmp_path: Path) -> None:
    """A due token: one refresh; the next call uses the new cache."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    endpoint = TokenEndpoint()
    minter = minter_for(vault, endpoint, tmp_path)
    assert minter.token("acme", "default") == "at-1"
    assert len(endpoint.requests) == 1
    assert form_of(endpoint.requests[0]) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt-0",
        "client_id": "cid",
    }
    assert endpoint.requests[0].headers["accept"] == "application/json"
    item = vault.items[records.access_name("acme", "default")]
    assert minter.token("acme", "default", item) == "at-1"
    assert minter.token("acme", "default") == "at-1"
    assert len(endpoint.requests) == 1
    assert minter.refreshed == 1


def test_missing_or_unreadable_cache_is_refreshed(vault: MemoryVault, tmp_path: Path) -> None:
    """No cached token (or garbage in its place) just means: refresh."""
    store(vault, record_of())
    vault.items[records.access_name("acme", "default")] = "{not json"
    endpoint = TokenEndpoint()
    assert minter_for(vault, endpoint, tmp_path).token("acme", "default", "{not json") == "at-1"
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize(
    ("lifetime", "skew", "refresh_after"),
    [(60, 300, 30), (3600, 300, 3300), (600, 0, 600), (100, 50, 50)],
)
def test_refresh_time_is_skew_capped_at_half_the_lifetime(
    vault: MemoryVault, tmp_path: Path, lifetime: int, skew: int, refresh_after: float
) -> None:
    """refresh_at = expires_at - min(skew, lifetime / 2)."""
    store(vault, record_of(skew=skew), cached(refresh_in=-1, expires_in=10))
    endpoint = TokenEndpoint(expires_in=lifetime)
    clock = Clock()
    minter = minter_for(vault, endpoint, tmp_path, clock)
    minter.token("acme", "default")
    access = access_in(vault)
    assert access.expires_at == NOW + lifetime
    assert access.refresh_at == NOW + refresh_after
    clock.now = NOW + refresh_after - 1
    minter.token("acme", "default")
    assert len(endpoint.requests) == 1
    clock.now = NOW + refresh_after
    minter.token("acme", "default")
    assert len(endpoint.requests) == 2


def test_token_without_lifetime_is_never_refreshed(vault: MemoryVault, tmp_path: Path) -> None:
    """No expires_in (GitHub OAuth Apps): cached for good."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=10))
    endpoint = TokenEndpoint(expires_in=None)
    clock = Clock()
    minter = minter_for(vault, endpoint, tmp_path, clock)
    minter.token("acme", "default")
    access = access_in(vault)
    assert (access.expires_at, access.refresh_at) == (None, None)
    clock.now += 10 * 365 * 86400
    assert minter.token("acme", "default") == "at-1"
    assert len(endpoint.requests) == 1


def test_force_refreshes_a_fresh_token(vault: MemoryVault, tmp_path: Path) -> None:
    """``force`` skips the cache (``mcpcred token --refresh``)."""
    store(vault, record_of(), cached(refresh_in=100, expires_in=400))
    endpoint = TokenEndpoint()
    assert (
        minter_for(vault, endpoint, tmp_path).refresh("acme", "default", force=True).token == "at-1"
    )
    assert len(endpoint.requests) == 1


# --- rotation -------------------------------------------------------------------------


def test_rotated_refresh_token_is_written_first(vault: MemoryVault, tmp_path: Path) -> None:
    """Losing a rotated refresh token loses the login: the record is written before the cache."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    minter_for(vault, TokenEndpoint(refresh_token_expires_in=1000), tmp_path).token(
        "acme", "default"
    )
    assert vault.writes == [
        records.record_name("acme", "default"),
        records.access_name("acme", "default"),
    ]
    record = record_in(vault)
    assert record.refresh_token == "rt-1"
    assert record.refreshed_at == NOW
    assert record.refresh_expires_at == NOW + 1000
    assert access_in(vault).token == "at-1"


def test_refresh_without_rotation_keeps_the_refresh_token(
    vault: MemoryVault, tmp_path: Path
) -> None:
    """A refresh answer without refresh_token leaves the stored one."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    minter_for(vault, TokenEndpoint(refresh_token=None), tmp_path).token("acme", "default")
    assert record_in(vault).refresh_token == "rt-0"


def test_refresh_sends_secret_and_resource(vault: MemoryVault, tmp_path: Path) -> None:
    """The stored client secret and resource go with the refresh (when the provider takes it)."""
    record = record_of(client_secret="shh", resource="https://mcp.example.com/mcp")
    store(vault, record, cached(refresh_in=-1, expires_in=200))
    endpoint = TokenEndpoint()
    minter_for(vault, endpoint, tmp_path).token("acme", "default")
    form = form_of(endpoint.requests[0])
    assert form["client_secret"] == "shh"
    assert form["resource"] == "https://mcp.example.com/mcp"


# --- failures -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "command"),
    [("default", "mcpcred login acme"), ("work", "mcpcred login acme --account work")],
)
def test_invalid_grant_requires_a_new_login(
    vault: MemoryVault, tmp_path: Path, account: str, command: str
) -> None:
    """A refused refresh token: LoginRequired (exit 7) naming the exact login command."""
    store(
        vault,
        record_of(account=account),
        cached(refresh_in=-1, expires_in=-1),
        account=account,
    )
    endpoint = TokenEndpoint(400, error="invalid_grant", error_description="revoked")
    with pytest.raises(LoginRequired) as caught:
        minter_for(vault, endpoint, tmp_path).token("acme", account)
    assert caught.value.exit_code == EXIT_OAUTH == 7
    assert caught.value.error == "invalid_grant"
    assert "revoked" in caught.value.message
    assert caught.value.hint is not None and command in caught.value.hint
    assert vault.writes == []


@pytest.mark.parametrize("error", ["invalid_client", "unauthorized_client", "invalid_scope"])
def test_other_dead_grants_require_a_new_login(
    vault: MemoryVault, tmp_path: Path, error: str
) -> None:
    """The client or scope was revoked: only a new login helps."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=-1))
    with pytest.raises(LoginRequired):
        minter_for(vault, TokenEndpoint(400, error=error), tmp_path).token("acme", "default")


def test_invalid_grant_is_final_even_with_a_valid_cache(vault: MemoryVault, tmp_path: Path) -> None:
    """A revoked login is reported at once, not hidden behind the last token."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    with pytest.raises(LoginRequired):
        minter_for(vault, TokenEndpoint(400, error="invalid_grant"), tmp_path).token(
            "acme", "default"
        )


def refuse_connection(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize("failure", ["network", "http500", "html502"])
def test_passing_failure_with_a_valid_cache_uses_it(
    vault: MemoryVault, tmp_path: Path, failure: str
) -> None:
    """Network down or provider 5xx while the cached token still works: use it, write nothing."""
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    endpoints: dict[str, Callable[[httpx.Request], httpx.Response]] = {
        "network": refuse_connection,
        "http500": TokenEndpoint(500, error="server_error"),
        "html502": lambda request: httpx.Response(502, text="<html>Bad gateway</html>"),
    }
    endpoint = endpoints[failure]
    transport = mock_transport(endpoint)
    minter = Minter(vault, transport=lambda: transport, lock_dir=lambda: tmp_path, clock=Clock())
    assert minter.token("acme", "default") == "at-0"
    assert vault.writes == []
    assert record_in(vault).refresh_token == "rt-0"


@pytest.mark.parametrize("failure", ["network", "http500"])
def test_passing_failure_with_an_expired_cache_is_an_error(
    vault: MemoryVault, tmp_path: Path, failure: str
) -> None:
    """Nothing usable left: OAuthError (not LoginRequired) whose hint names the login command."""
    store(vault, record_of(account="work"), cached(refresh_in=-10, expires_in=-1), account="work")
    endpoint = (
        refuse_connection if failure == "network" else TokenEndpoint(500, error="server_error")
    )
    transport = mock_transport(endpoint)
    minter = Minter(vault, transport=lambda: transport, lock_dir=lambda: tmp_path, clock=Clock())
    with pytest.raises(OAuthError) as caught:
        minter.token("acme", "work")
    assert not isinstance(caught.value, LoginRequired)
    assert caught.value.hint is not None
    assert "mcpcred login acme --account work" in caught.value.hint
    assert vault.writes == []


def test_cache_within_the_margin_counts_as_expired(vault: MemoryVault, tmp_path: Path) -> None:
    """A token with 3 s left is too close to expiry to hand to a server starting now."""
    store(vault, record_of(), cached(refresh_in=-100, expires_in=3))
    with pytest.raises(OAuthError):
        minter_for(vault, TokenEndpoint(503), tmp_path).token("acme", "default")


def test_not_logged_in(vault: MemoryVault, tmp_path: Path) -> None:
    """No login record at all: LoginRequired saying so."""
    endpoint = TokenEndpoint()
    with pytest.raises(LoginRequired, match="not logged in to acme/work") as caught:
        minter_for(vault, endpoint, tmp_path).token("acme", "work")
    assert (
        caught.value.hint is not None and "mcpcred login acme --account work" in caught.value.hint
    )
    assert endpoint.requests == []


def test_unreadable_login_record(vault: MemoryVault, tmp_path: Path) -> None:
    """A record this version cannot read: LoginRequired, not a crash."""
    vault.items[records.record_name("acme", "default")] = '{"v": 99}'
    with pytest.raises(LoginRequired, match="cannot read"):
        minter_for(vault, TokenEndpoint(), tmp_path).token("acme", "default")


def test_no_refresh_token_and_expired_access(vault: MemoryVault, tmp_path: Path) -> None:
    """Nothing to refresh with: LoginRequired, and no request is sent."""
    store(vault, record_of(refresh_token=None), cached(refresh_in=-10, expires_in=-1))
    endpoint = TokenEndpoint()
    with pytest.raises(LoginRequired) as caught:
        minter_for(vault, endpoint, tmp_path).token("acme", "default")
    assert caught.value.hint is not None and "mcpcred login acme" in caught.value.hint
    assert endpoint.requests == []


def test_expired_refresh_token_is_not_sent(vault: MemoryVault, tmp_path: Path) -> None:
    """Past refresh_expires_at the login is over; no request."""
    store(vault, record_of(refresh_expires_at=NOW - 1), cached(refresh_in=-10, expires_in=-1))
    endpoint = TokenEndpoint()
    with pytest.raises(LoginRequired, match="expired"):
        minter_for(vault, endpoint, tmp_path).token("acme", "default")
    assert endpoint.requests == []


# --- concurrency and the lock ---------------------------------------------------------


def test_concurrent_minters_refresh_exactly_once(tmp_path: Path) -> None:
    """Eight starts at once, each with its own Minter: one refresh, one token for all."""
    vault = ThreadSafeVault()
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    endpoint = TokenEndpoint(delay=0.2)
    minters = [minter_for(vault, endpoint, tmp_path) for _ in range(8)]
    barrier = threading.Barrier(len(minters))
    results: list[str] = []
    errors: list[BaseException] = []

    def start(minter: Minter) -> None:
        try:
            barrier.wait(5)
            results.append(minter.token("acme", "default"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(m,)) for m in minters]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not errors, errors
    assert len(endpoint.requests) == 1
    assert results == ["at-1"] * 8
    assert sum(m.refreshed for m in minters) == 1
    assert record_in(vault).refresh_token == "rt-1"


HOLDER = (
    "import fcntl, os, sys, time\n"
    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
    "fcntl.flock(fd, fcntl.LOCK_EX)\n"
    "print('locked', flush=True)\n"
    "time.sleep(60)\n"
)


@pytest.mark.skipif(sys.platform == "win32", reason="flock holder script")
def test_lock_held_by_another_process(tmp_path: Path) -> None:
    """A live holder makes waiters give up after the timeout; a killed one frees the lock."""
    path = lock_path(tmp_path, "acme", "default")
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    ) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline().strip() == "locked"
            started = time.monotonic()
            with pytest.raises(OAuthError) as caught, held(path, timeout=0.3, what="acme"):
                pass
            waited = time.monotonic() - started
            assert 0.3 <= waited < 2
            assert caught.value.error == "lock_timeout"
            assert "acme" in caught.value.message
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(5)
    started = time.monotonic()
    with held(path, timeout=5, what="acme"):
        assert time.monotonic() - started < 1


def test_minter_gives_up_when_the_lock_stays_held(tmp_path: Path) -> None:
    """A stuck refresher elsewhere costs a clear error after lock_wait, not a hang."""
    vault = MemoryVault()
    store(vault, record_of(), cached(refresh_in=-1, expires_in=200))
    endpoint = TokenEndpoint()
    transport = mock_transport(endpoint)
    minter = Minter(
        vault, transport=lambda: transport, lock_dir=lambda: tmp_path, clock=Clock(), lock_wait=0.2
    )
    with (
        held(lock_path(tmp_path, "acme", "default"), timeout=1, what="acme"),
        pytest.raises(OAuthError, match="refreshing"),
    ):
        minter.token("acme", "default")
    assert endpoint.requests == []


def test_lock_file_is_private(tmp_path: Path) -> None:
    """The lock file is created 0600 whatever the umask."""
    path = tmp_path / "oauth-acme-default.lock"
    old = os.umask(0)
    try:
        with held(path, timeout=1, what="acme"):
            pass
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_lock_is_reentrant_across_sequential_uses(tmp_path: Path) -> None:
    """Released on exit: the next holder gets it at once."""
    path = tmp_path / "l.lock"
    for _ in range(3):
        started = time.monotonic()
        with held(path, timeout=1, what="acme"):
            pass
        assert time.monotonic() - started < 0.5


def test_lock_path_names_the_login(tmp_path: Path) -> None:
    """One lock file per provider and account."""
    assert lock_path(tmp_path, "github", "work") == str(tmp_path / "oauth-github@work.lock")
    assert lock_path(tmp_path, "github", "default") != lock_path(tmp_path, "github", "work")
    assert lock_path(tmp_path, "a-b", "c") != lock_path(tmp_path, "a", "b-c")


def test_store_vault_treats_a_torn_item_as_absent() -> None:
    """A chunked value whose parts no longer match (a concurrent rewrite) reads as missing."""
    from mcpcred.keychain import chunks
    from mcpcred.keychain.store import SERVICE, SecretStore
    from mcpcred.keychain.vault import StoreVault
    from tests.support.memkeyring import MemoryKeyring

    backend = MemoryKeyring()
    store = SecretStore(backend)
    store.set("oauth:x/default:access", "a" * 2500)
    backend.set_password(SERVICE, chunks.part_name("oauth:x/default:access", 2), "b" * 1000)
    store.set("whole", "v")
    assert StoreVault(store).read(["oauth:x/default:access", "whole", "missing"]) == {"whole": "v"}
