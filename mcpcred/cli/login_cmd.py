"""``mcpcred login|logout|token``: OAuth logins whose tokens servers get at spawn time.

``login`` is the only interactive part of mcpcred's OAuth: it may open a
browser and waits for the user. Everything it prints for the user also goes
to stderr as plain ``URL ...`` and ``code ...`` lines, for scripts and
screen readers. ``token`` prints a token only to a terminal unless
``--force`` says the caller means it, so an agent or a CI log cannot
collect one by running a command.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from mcpcred import references
from mcpcred.cli.app import app
from mcpcred.cli.report import stderr
from mcpcred.errors import UsageError

if TYPE_CHECKING:
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.vault import StoreVault
    from mcpcred.oauth.device import DeviceCode
    from mcpcred.oauth.providers import Provider
    from mcpcred.oauth.records import LoginRecord

LOGIN_INDEX = "logins.json"


def _account(value: str) -> str:
    if not references.valid_name(value):
        raise UsageError(
            f"invalid account name {value!r}",
            hint="use a-z, 0-9, '.', '_', '-', e.g. work",
        )
    return value


MAX_TIMEOUT = 3600.0


def _timeout(value: float) -> float:
    """``--timeout`` is a wait, so a positive, finite number of seconds (an hour at most)."""
    if not 0 < value <= MAX_TIMEOUT:  # also refuses nan and inf
        raise typer.BadParameter(f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


class _ConsoleUI:
    """The login's conversation with the user: rich on a terminal, plain lines always."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)

    def device_code(self, code: DeviceCode, opened: bool) -> None:
        from rich.panel import Panel
        from rich.text import Text

        where = code.verification_uri
        body = Text.assemble(
            ("Open  ", "bold"),
            (where, "cyan underline"),
            "\n",
            ("Enter ", "bold"),
            (code.user_code, "bold yellow"),
        )
        if opened:
            body.append("\n(a browser window was opened for you)", style="dim")
        if self.console.is_terminal:
            self.console.print(Panel(body, title="mcpcred login", expand=False))
        stderr(f"URL {code.verification_uri_complete or where}")
        stderr(f"code {code.user_code}")

    def authorize_url(self, url: str, opened: bool) -> None:
        if self.console.is_terminal:
            note = "a browser window was opened" if opened else "open this URL in a browser"
            self.console.print(f"[bold]Log in[/bold] ({note}):")
        stderr(f"URL {url}")

    @contextmanager
    def waiting(self, what: str) -> Iterator[object]:
        if self.console.is_terminal:
            with self.console.status(what) as status:
                yield status
        else:
            yield None


def _vault() -> StoreVault:
    from mcpcred.keychain.store import SecretStore
    from mcpcred.keychain.vault import StoreVault

    return StoreVault(SecretStore())


def _index() -> SecretIndex:
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.paths import data_dir

    return SecretIndex(data_dir() / LOGIN_INDEX)


@app.command("login")
def login(
    provider: str = typer.Argument(
        ...,
        help="github, gitlab, google, entra, atlassian, or a provider from the config file.",
        show_default=False,
    ),
    flow: str | None = typer.Option(
        None, "--flow", help="device (a code to type in a browser) or pkce (browser redirect)."
    ),
    scope: list[str] | None = typer.Option(
        None, "--scope", help="Scope to ask for (repeat, or space-separated); default per provider."
    ),
    account: str = typer.Option(
        "default", "--account", help="Name for this login, to keep several per provider."
    ),
    no_browser: bool = typer.Option(
        False, "--no-browser", help="Do not open a browser; print the URL instead."
    ),
    client_id: str | None = typer.Option(
        None, "--client-id", help="OAuth client id registered for mcpcred at the provider."
    ),
    client_secret_stdin: bool = typer.Option(
        False,
        "--client-secret-stdin",
        help="Read the client secret from stdin (for providers "
        "that require one; it is kept in the keychain with the login).",
    ),
    issuer: str | None = typer.Option(
        None, "--issuer", help="Discover endpoints from this issuer (RFC 8414 / OIDC)."
    ),
    resource: str | None = typer.Option(
        None, "--resource", help="RFC 8707 resource indicator (the MCP server's URL)."
    ),
    timeout: float = typer.Option(
        300.0,
        "--timeout",
        callback=_timeout,
        help="Seconds to wait for the browser.",
    ),
) -> int:
    """Log in with OAuth; servers then get fresh access tokens at spawn time."""
    from mcpcred.oauth import login as flows
    from mcpcred.oauth import settings
    from mcpcred.oauth.browser import open_url
    from mcpcred.oauth.http import HttpxTransport
    from mcpcred.paths import config_file

    _account(account)
    scopes = [part for item in scope or [] for part in item.split()]
    config = settings.load(config_file())
    profile = settings.provider(
        provider, config, issuer=issuer, client_id=client_id, scopes=scopes, resource=resource
    )
    secret = None
    if client_secret_stdin:
        secret = sys.stdin.readline().strip()
        if not secret:
            raise UsageError("--client-secret-stdin: stdin was empty")
    request = flows.LoginRequest(
        provider=profile,
        account=account,
        flow=flow,
        browser=not no_browser,
        client_secret=secret,
        timeout=timeout,
        skew=config.refresh_skew,
    )
    transport = HttpxTransport()
    vault = _vault()
    try:
        record = flows.login(
            request, transport=transport, vault=vault, ui=_ConsoleUI(), open_url=open_url
        )
    finally:
        transport.close()
    _index().touch(references.login_name(record.provider, record.account))
    who = f" as {record.user}" if record.user else ""
    stderr(f"logged in to {profile.title}{who} (stored in {vault.store.backend_name})")
    _suggest(profile, record)
    return 0


def _suggest(profile: Provider, record: LoginRecord) -> None:
    """Tell the user how to hand this login to their servers."""
    from mcpcred.host import Host
    from mcpcred.usage import servers

    ref = references.login_name(record.provider, record.account)
    try:
        uses, _errors = servers(Host.current())
    except Exception:  # a suggestion must never fail a login that worked
        uses = []
    shown = 0
    for use in uses:
        for var in use.env_names:
            if var in profile.env_vars and use.transport == "stdio":
                stderr(
                    f"use it: mcpcred wrap {use.client} --server {use.server} "
                    f"--bind {var}=oauth:{ref}"
                )
                shown += 1
                break
    if not shown:
        var = profile.env_vars[0] if profile.env_vars else "TOKEN"
        stderr(f"use it: mcpcred wrap CLIENT --server NAME --bind {var}=oauth:{ref}")
        stderr(f"   (or write mcpcred:oauth/{ref} as the value in a wrapped server's env)")


@app.command("logout")
def logout(
    provider: str = typer.Argument(..., help="The provider logged in to.", show_default=False),
    account: str = typer.Option("default", "--account", help="Which login of that provider."),
) -> int:
    """Revoke the login at the provider (where it offers revocation) and delete it."""
    from mcpcred.oauth import login as flows
    from mcpcred.oauth import records
    from mcpcred.oauth.http import HttpxTransport

    _account(account)
    name = references.login_name(provider, account)
    vault = _vault()
    record_key = records.record_name(provider, account)
    record = records.LoginRecord.loads(vault.read([record_key]).get(record_key))
    revoked: bool | None = None
    if record is not None:
        transport = HttpxTransport()
        try:
            revoked = flows.revoke(record, transport)
        finally:
            transport.close()
    removed = vault.delete(record_key)
    removed = vault.delete(records.access_name(provider, account)) or removed
    _index().remove(name)
    if not removed and record is None:
        raise UsageError(f"not logged in to {name}", hint="`mcpcred status` lists the logins")
    if revoked is None:
        stderr(
            f"logged out of {name} (deleted from the keychain; the provider offers no "
            "revocation endpoint, so revoke mcpcred's access in its settings too)"
        )
    elif revoked:
        stderr(f"logged out of {name} (revoked at the provider and deleted)")
    else:
        stderr(
            f"logged out of {name} (deleted from the keychain, but the provider did not "
            "confirm the revocation: revoke mcpcred's access in its settings)"
        )
    return 0


@app.command("token")
def token(
    provider: str = typer.Argument(..., help="The provider logged in to.", show_default=False),
    account: str = typer.Option("default", "--account", help="Which login of that provider."),
    force: bool = typer.Option(
        False, "--force", help="Print even when stdout is not a terminal (pipes, files, agents)."
    ),
) -> int:
    """Print a fresh access token (to a terminal only, unless --force)."""
    from mcpcred.oauth.http import HttpxTransport
    from mcpcred.oauth.mint import Minter
    from mcpcred.paths import runtime_dir

    _account(account)
    if not force and not sys.stdout.isatty():
        raise UsageError(
            "refusing to print an access token to a pipe or a file",
            hint="pass --force if you really mean to; better: reference it as "
            f"mcpcred:oauth/{references.login_name(provider, account)} in a wrapped server",
        )
    transport = HttpxTransport()
    try:
        minter = Minter(_vault(), transport=lambda: transport, lock_dir=runtime_dir)
        value = minter.token(provider, account)  # the cached one if fresh, read under the lock
    finally:
        transport.close()
    sys.stdout.write(value + "\n")
    return 0


def login_rows() -> list[dict[str, object]]:
    """What ``status`` shows per login; never a token."""
    from mcpcred.oauth import records

    index = _index()
    vault = _vault()
    now = time.time()
    rows: list[dict[str, object]] = []
    for name in sorted(index.entries()):
        provider, account = references.split_login(name)
        keys = [records.record_name(provider, account), records.access_name(provider, account)]
        values = vault.read(keys)
        record = records.LoginRecord.loads(values.get(keys[0]))
        access = records.AccessToken.loads(values.get(keys[1]))
        rows.append(
            {
                "login": name,
                "reference": references.whole(name, references.OAUTH),
                "provider": provider,
                "account": account,
                "user": record.user if record else None,
                "scopes": record.scopes if record else [],
                "stored": record is not None,
                "refresh_token": bool(record and record.refresh_token),
                "access_expires_in": (
                    None
                    if access is None or access.expires_at is None
                    else int(access.expires_at - now)
                ),
                "access_cached": access is not None,
            }
        )
    return rows
