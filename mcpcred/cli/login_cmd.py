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
from mcpcred.errors import OAuthError, SecretStoreError, UsageError

if TYPE_CHECKING:
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.vault import StoreVault, Vault
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
    """The login's conversation with the user: rich on a terminal, plain lines always.

    The panel and the spinner go to stderr only when it is a terminal (``FORCE_COLOR``
    colours them but does not make a pipe one): a script reading stderr gets the plain
    ``URL ...`` and ``code ...`` lines and nothing redrawn.
    """

    def __init__(self) -> None:
        from mcpcred.terminal import console, is_terminal

        self.console = console(stderr=True)
        self.shown = is_terminal(sys.stderr)

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
        if self.shown:
            self.console.print(Panel(body, title="mcpcred login", expand=False))
        stderr(f"URL {code.verification_uri_complete or where}")
        stderr(f"code {code.user_code}")

    def authorize_url(self, url: str, opened: bool) -> None:
        if self.shown:
            from rich.text import Text

            note = "a browser window was opened" if opened else "open this URL in a browser"
            self.console.print(Text.assemble(("Log in", "bold"), f" ({note}):"))
        stderr(f"URL {url}")

    @contextmanager
    def waiting(self, what: str) -> Iterator[object]:
        from mcpcred.terminal import progress

        with progress(what) as advance:
            yield advance


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
    provider: str | None = typer.Argument(
        None,
        help="A remote MCP server's URL (https://...), the name of an earlier login to one, "
        "or github, gitlab, google, entra, atlassian, or a provider from the config file.",
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
        help="Read the client secret from stdin, or a prompt on a terminal (for providers "
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
    name: str | None = typer.Option(
        None, "--name", help="Login name for a server URL (default: from its host name)."
    ),
    client_metadata_url: str | None = typer.Option(
        None,
        "--client-metadata-url",
        help="Server URL login: your HTTPS Client ID Metadata Document, used as the client id "
        "where the authorization server supports it.",
    ),
    assume_pkce: bool = typer.Option(
        False,
        "--assume-pkce",
        help="Server URL login: accept an authorization server that does not advertise PKCE "
        "(Entra ID, Cognito); S256 is sent anyway.",
    ),
    import_mcp_remote: bool = typer.Option(
        False,
        "--import-mcp-remote",
        help="Import mcp-remote's plaintext token files (~/.mcp-auth) into the keychain.",
    ),
    url: list[str] | None = typer.Option(
        None, "--url", help="With --import-mcp-remote: a server URL the files may belong to."
    ),
    delete_plaintext: bool = typer.Option(
        False,
        "--delete-plaintext",
        help="With --import-mcp-remote: delete mcp-remote's files once the keychain copy "
        "is verified.",
    ),
) -> int:
    """Log in with OAuth; servers then get fresh access tokens at spawn time.

    Example: mcpcred login github --client-id Iv1.0123456789abcdef
    """
    from mcpcred.oauth import login as flows
    from mcpcred.oauth import settings
    from mcpcred.oauth.browser import open_url
    from mcpcred.oauth.http import HttpxTransport
    from mcpcred.paths import config_file

    _account(account)
    scopes = [part for item in scope or [] for part in item.split()]
    config = settings.load(config_file())
    secret = _client_secret() if client_secret_stdin else None
    if import_mcp_remote:
        return _import_mcp_remote(provider, url or [], name, delete_plaintext, config.refresh_skew)
    if provider is None:
        raise UsageError(
            "login needs a server URL, a login name or a provider",
            hint="e.g. mcpcred login https://mcp.example.com/mcp",
        )
    remote = _remote_target(provider, account, name)
    if remote is not None:
        wrong = [
            f for f, v in (("--flow", flow), ("--issuer", issuer), ("--resource", resource)) if v
        ]
        if wrong:
            raise UsageError(
                f"{', '.join(wrong)}: for providers; a server's login discovers its own",
                hint="drop the option (see docs/remote.md)",
            )
        server_url, login_name = remote
        return _login_remote(
            server_url,
            login_name,
            scopes=scopes,
            client_id=client_id,
            client_secret=secret,
            client_metadata_url=client_metadata_url,
            assume_pkce=assume_pkce,
            browser=not no_browser,
            timeout=timeout,
            skew=config.refresh_skew,
        )
    wrong = [
        f
        for f, v in (
            ("--name", name),
            ("--client-metadata-url", client_metadata_url),
            ("--assume-pkce", assume_pkce),
            ("--url", url),
            ("--delete-plaintext", delete_plaintext),
        )
        if v
    ]
    if wrong:
        raise UsageError(
            f"{', '.join(wrong)}: only for a remote MCP server's login (mcpcred login URL)",
            hint="for a provider, use --account to name the login",
        )
    profile = settings.provider(
        provider, config, issuer=issuer, client_id=client_id, scopes=scopes, resource=resource
    )
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


def _client_secret() -> str:
    """The client secret: a prompt on a terminal, else one line of stdin (never argv)."""
    if sys.stdin.isatty():
        import getpass

        value = getpass.getpass("client secret (not shown): ").strip()
    else:
        value = sys.stdin.readline().strip()
    if not value:
        raise UsageError("--client-secret-stdin: no secret was given")
    return value


def _remote_target(provider: str, account: str, name: str | None) -> tuple[str, str] | None:
    """``(server URL, login name)`` when ``login``'s argument means a remote MCP server.

    A URL does; so does the name of an earlier ``mcpcred login URL`` (its record keeps the
    URL), and the name of a remote server in a client's config when no provider is
    called so.
    """
    from mcpcred.oauth import mcp, providers

    if mcp.is_url(provider):
        if account != "default":
            raise UsageError("--account is for providers; name a server login with --name")
        return provider, name or mcp.default_name(provider)
    if not references.valid_name(provider) or "/" in provider:
        return None
    if provider in providers.BUILTIN or provider in providers.ALIASES:
        return None  # never a server login's name (mcp.check_name refuses those)
    try:
        record = mcp.existing_record(_vault(), provider)
    except SecretStoreError:
        record = None  # the provider path reports the keychain when it gets there
    if record is not None and record.server_url:
        return record.server_url, provider
    for server, server_url in config_server_urls():
        if server == provider:
            return server_url, name or provider
    return None


def config_server_urls() -> list[tuple[str, str]]:
    """``(server name, URL)`` of every remote server in the clients' configs: remote
    entries, and stdio entries that run a bridge with a URL argument (mcp-remote)."""
    from mcpcred.clients import ADAPTERS
    from mcpcred.discovery import expand
    from mcpcred.host import Host
    from mcpcred.oauth import mcp
    from mcpcred.parsing.files import parse, read_text

    host = Host.current()
    found: list[tuple[str, str]] = []
    try:
        from pathlib import PurePath

        for adapter in ADAPTERS:
            if adapter.id == "generic":
                continue
            locations = adapter.user_locations(host) + adapter.project_locations(PurePath(host.cwd))
            for location in locations:
                for concrete in expand(location):
                    try:
                        document = parse(concrete.path, read_text(concrete.path))
                    except Exception:  # noqa: S112 (an unreadable file is skipped)
                        continue
                    for entry in adapter.servers(document, concrete):
                        value = entry.url.to_python() if entry.url is not None else None
                        texts = [value] if isinstance(value, str) else entry.arg_texts()
                        for text in texts:
                            if mcp.is_url(text) and "mcpcred:" not in text:
                                found.append((entry.name, text))
                                break
    except Exception:
        return found
    return found


def _login_remote(
    server_url: str,
    login_name: str,
    *,
    scopes: list[str],
    client_id: str | None,
    client_secret: str | None,
    client_metadata_url: str | None,
    assume_pkce: bool,
    browser: bool,
    timeout: float,
    skew: int,
) -> int:
    import httpx

    from mcpcred.oauth import mcp
    from mcpcred.oauth.browser import open_url
    from mcpcred.oauth.http import USER_AGENT

    if client_secret and not client_id:
        raise UsageError("--client-secret-stdin needs --client-id")
    request = mcp.RemoteLoginRequest(
        url=server_url,
        name=login_name,
        scopes=tuple(scopes),
        client_id=client_id,
        client_secret=client_secret,
        client_metadata_url=client_metadata_url,
        assume_pkce=assume_pkce,
        browser=browser,
        timeout=timeout,
        skew=skew,
    )
    vault = _vault()
    with httpx.Client(timeout=15.0, headers={"User-Agent": USER_AGENT}) as http:
        record = mcp.login_remote(
            request, http=http, vault=vault, ui=_ConsoleUI(), open_url=open_url
        )
    _index().touch(references.login_name(record.provider, record.account))
    how = {mcp.DYNAMIC: "registered dynamically", mcp.METADATA_DOCUMENT: "client metadata document"}
    note = how.get(record.registration or "", "pre-registered client")
    stderr(
        f"logged in to {server_url} as login {login_name!r} "
        f"(scopes: {' '.join(record.scopes) or 'none'}; {note}; "
        f"stored in {vault.store.backend_name})"
    )
    ref = references.embedded(login_name, references.OAUTH)
    stderr(f'use it: the header "Authorization: Bearer {ref}" on that server\'s entry')
    return 0


def _import_mcp_remote(
    target: str | None, urls: list[str], name: str | None, delete: bool, skew: int
) -> int:
    """``login --import-mcp-remote``: mcp-remote's plaintext tokens into the keychain."""
    import os
    from pathlib import Path

    import httpx

    from mcpcred.oauth import mcp
    from mcpcred.oauth.http import USER_AGENT

    candidates = [*urls, *([target] if target and mcp.is_url(target) else [])]
    candidates += [u for _server, u in config_server_urls()]
    by_hash = {mcp.server_hash(u): u for u in candidates}
    named = {u: s for s, u in config_server_urls()}
    folders = mcp.mcp_remote_dirs(os.environ, Path.home())
    found = mcp.read_mcp_remote(folders)
    if not found:
        raise UsageError("no mcp-remote token files found (~/.mcp-auth, or $MCP_REMOTE_CONFIG_DIR)")
    vault = _vault()
    imported = failed = 0
    with httpx.Client(timeout=15.0, headers={"User-Agent": USER_AGENT}) as http:
        for item in found:
            server_url = by_hash.get(item.hash)
            if server_url is None:
                stderr(
                    f"skipped {item.tokens_file.name}: its server is unknown "
                    "(mcp-remote names files by a hash of the URL); pass --url URL"
                )
                failed += 1
                continue
            login_name = name if name and len(found) == 1 else None
            login_name = login_name or named.get(server_url) or mcp.default_name(server_url)
            if not references.valid_name(login_name):
                login_name = mcp.default_name(server_url)
            try:
                record = mcp.import_one(
                    item, server_url, login_name, http=http, vault=vault, skew=skew
                )
            except (UsageError, OAuthError) as exc:
                stderr(f"not imported: {server_url}: {exc.message}")
                failed += 1
                continue
            _index().touch(references.login_name(record.provider, record.account))
            imported += 1
            stderr(f"imported {server_url} as login {login_name!r} (verified in the keychain)")
            files = [p for p in (item.tokens_file, item.client_file) if p is not None]
            if not delete and sys.stdin.isatty():
                answer = input(
                    f"  delete mcp-remote's plaintext files for it ({len(files)})? [y/N] "
                )
                delete_now = answer.strip().lower() in ("y", "yes")
            else:
                delete_now = delete
            if delete_now:
                for path in files:
                    path.unlink(missing_ok=True)
                stderr(f"  deleted mcp-remote's plaintext files for it ({len(files)})")
            else:
                stderr(
                    f"  mcp-remote's plaintext files are still there ({item.tokens_file.parent}); "
                    "rerun with --delete-plaintext to delete them"
                )
    if failed and not imported:
        return 7
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
    """Revoke the login at the provider (where it offers revocation) and delete it.

    Example: mcpcred logout github --account work
    """
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
    """Print a fresh access token (to a terminal only, unless --force).

    Example: mcpcred token github | head -c 8
    """
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


def login_rows(vault: Vault | None = None) -> list[dict[str, object]]:
    """What ``status`` shows per login; never a token. ``vault``: the store to read, when
    the caller has it open already (default: ``SecretStore``'s)."""
    from mcpcred.oauth import records

    index = _index()
    vault = vault or _vault()
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
