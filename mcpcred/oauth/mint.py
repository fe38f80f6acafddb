"""A fresh access token for a login, at server start: cached, or refreshed exactly once.

The fast path is one keychain read (done by the shim together with its
secrets) and a clock comparison: no network, no lock. When the cached token
is due for refresh:

1. take the login's lock (``lock``), so that concurrent starts queue up;
2. read the cache again: if another process refreshed meanwhile, use that;
3. otherwise refresh with the stored refresh token, store the record with
   the rotated refresh token *first* (losing it would lose the login), then
   the new access token, then release the lock.

Never interactive: a login that cannot be refreshed is a ``LoginRequired``
naming ``mcpcred login ...``; the shim reports it and exits. If the refresh
fails for a passing reason (network, provider 5xx) while the cached token
has not actually expired yet, that token is used.
"""

from __future__ import annotations

import time

from mcpcred.errors import LoginRequired, OAuthError
from mcpcred.oauth import records, tokens
from mcpcred.oauth.lock import held, lock_path
from mcpcred.oauth.records import AccessToken, LoginRecord, login_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from mcpcred.keychain.vault import Vault
    from mcpcred.oauth.http import Transport

LOCK_WAIT = 30.0
# Errors after which the stored login is useless: only a new login helps.
_DEAD_GRANT = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "access_denied",
        "bad_refresh_token",  # GitHub's word for invalid_grant
    }
)


class Minter:
    """Turns logins into access tokens; one per process, shared by all references."""

    def __init__(
        self,
        vault: Vault,
        *,
        transport: Callable[[], Transport],
        lock_dir: Callable[[], Path | str],
        clock: Callable[[], float] = time.time,
        lock_wait: float = LOCK_WAIT,
    ) -> None:
        self.vault = vault
        self.transport = transport
        self.lock_dir = lock_dir
        self.clock = clock
        self.lock_wait = lock_wait
        self.refreshed = 0  # how many refreshes this process made (tests, benchmarks)

    def token(self, provider: str, account: str, cached: str | None = None) -> str:
        """A usable access token; ``cached`` is the cache item if the caller already read it."""
        found = records.fresh_token(cached, self.clock())
        return found if found is not None else self.refresh(provider, account).token

    def renew(self, provider: str, account: str, rejected: str) -> AccessToken:
        """A new access token to replace ``rejected``, which the server just refused (401).

        For a bridge that got a 401 mid-session: the server's word beats the cached
        expiry (the token may have been revoked, or the clocks disagree), so the refresh
        happens even if the cache calls the token fresh, but only once across every
        process holding the same token: under the lock, a cached token that differs
        from ``rejected`` is one another process already got, and is returned as is.
        ``LoginRequired`` (naming ``mcpcred login ...``) when the login cannot be
        refreshed.
        """
        return self.refresh(provider, account, force=True, rejected=rejected)

    def refresh(
        self, provider: str, account: str, *, force: bool = False, rejected: str | None = None
    ) -> AccessToken:
        """Refresh under the lock, unless another process just did (or ``force``).

        With ``rejected``, ``force`` applies only while the cache still holds that token.
        """
        label = provider if account == "default" else f"{provider}/{account}"
        access = records.access_name(provider, account)
        name = records.record_name(provider, account)
        path = lock_path(self.lock_dir(), provider, account)
        with held(path, timeout=self.lock_wait, what=label):
            values = self.vault.read([access, name])
            cached = AccessToken.loads(values.get(access))
            now = self.clock()
            if rejected is not None and cached is not None and cached.token != rejected:
                if cached.valid(now):
                    return cached  # another process replaced the rejected token already
            elif not force and cached is not None and cached.fresh(now):
                return cached
            if cached is not None and cached.token == rejected:
                cached = None  # the server refused it: never a fallback
            record = LoginRecord.loads(values.get(name))
            if record is None:
                if cached is not None and cached.valid(now):
                    return cached
                raise LoginRequired(
                    f"not logged in to {label}"
                    if name not in values
                    else f"the {label} login is stored in a form this mcpcred cannot read",
                    hint=f"log in: {login_command(provider, account)}",
                )
            if not record.refresh_token and cached is not None and cached.valid(now):
                return cached  # cannot be refreshed, but still good for now
            with _signals_deferred():
                try:
                    fresh = self._exchange(record, label)
                except LoginRequired:
                    raise
                except OAuthError:
                    if cached is not None and cached.valid(now):
                        return cached  # a passing failure; the old token still works for now
                    raise
                now = self.clock()
                self.vault.write(name, record.refreshed(fresh, now).dumps())
                token = AccessToken.issued(fresh, now, record.skew)
                self.vault.write(access, token.dumps())
            self.refreshed += 1
            return token

    def _exchange(self, record: LoginRecord, label: str) -> tokens.TokenResponse:
        command = login_command(record.provider, record.account)
        if not record.refresh_token:
            raise LoginRequired(
                f"the {label} access token expired and the login cannot be refreshed "
                "(the provider gave no refresh token)",
                hint=f"log in again: {command}",
            )
        if record.refresh_expires_at is not None and self.clock() >= record.refresh_expires_at:
            raise LoginRequired(f"the {label} login expired", hint=f"log in again: {command}")
        headers = {"Accept": "application/json"}
        what = f"refreshing the {label} login"
        try:
            reply = self.transport().post_form(
                record.token_endpoint, record.refresh_form(), headers
            )
            return tokens.parse(reply, what=what, comma_scopes=record.comma_scopes)
        except tokens.TokenError as exc:
            if exc.error in _DEAD_GRANT:
                raise LoginRequired(
                    f"{label}: the provider refused the stored login ({exc.error}"
                    + (f": {exc.description}" if exc.description else "")
                    + ")",
                    hint=f"log in again: {command}",
                    error=exc.error,
                ) from None
            raise OAuthError(exc.message, hint=_retry_hint(command), error=exc.error) from None
        except OAuthError as exc:
            raise OAuthError(exc.message, hint=_retry_hint(command), error=exc.error) from None


class _signals_deferred:  # lower case: it reads as `with _signals_deferred():`
    """Hold back SIGTERM, SIGINT and SIGHUP from request to stored result.

    A rotating provider invalidates the old refresh token as soon as it
    answers; a shim killed between that answer and the keychain write would
    lose the only valid refresh token and with it the login. Claude Desktop
    does kill freshly started servers. Blocked signals stay pending and are
    delivered (with their usual effect) once the new token is stored.
    SIGKILL cannot be held back; nothing can help there.
    """

    __slots__ = ("_old",)

    def __init__(self) -> None:
        self._old: object = None

    def __enter__(self) -> None:
        import signal

        mask = getattr(signal, "pthread_sigmask", None)
        if mask is not None:
            held = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
            self._old = mask(signal.SIG_BLOCK, held)

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            import signal

            signal.pthread_sigmask(signal.SIG_SETMASK, self._old)  # type: ignore[arg-type]


def _retry_hint(command: str) -> str:
    return f"try again; if it keeps failing, log in again: {command}"
