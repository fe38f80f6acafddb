"""``mcpcred setup``: set up exactly the credentials a repository declares, then wrap and check.

A team commits its MCP client configs with references (``mcpcred:secret/linear-key``,
``mcpcred:oauth/github``) and lists in ``mcpcred.toml`` what each needs
(``[credentials.NAME]``, see ``mcpcred.project_credentials``). A new member runs
``mcpcred setup`` once: every credential that already resolves is skipped, a login
runs ``mcpcred login``'s flow, a secret is asked for without echo (or read from
stdin as ``NAME=VALUE`` lines, for scripts), a password manager's reference is
only checked (never copied). Then the repository's own client configs (``.mcp.json``,
``.vscode/mcp.json``, ``.cursor/mcp.json``, ...) are wrapped, and ``status`` ends it.

Nothing here waits for a person who is not there: with ``--yes`` or without a
terminal, a secret comes from stdin or is reported missing, and a login runs only when
a browser can be opened for it. What is left is named in one line with the command that
sets it, and the exit code is 1. A second run changes nothing: every step first checks
whether it is needed.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING

import typer

from mcpcred import references
from mcpcred.cli.app import app
from mcpcred.cli.report import stderr
from mcpcred.errors import EXIT_FINDINGS, ConfigError, McpcredError, UsageError
from mcpcred.terminal import printable

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mcpcred.clients.base import ClientAdapter
    from mcpcred.host import Host
    from mcpcred.keychain.store import SecretStore
    from mcpcred.models import ConfigLocation
    from mcpcred.oauth.records import LoginRecord
    from mcpcred.oauth.settings import Settings
    from mcpcred.project_credentials import Credential
    from mcpcred.wrap.service import FilePlan

MAX_VALUE = 64 * 1024  # characters of one secret read from stdin
OK = "ok"
ABSENT = frozenset({"missing", "not logged in"})  # states setup sets up (others it reports)


def _timeout(value: float) -> float:
    from mcpcred.cli.login_cmd import MAX_TIMEOUT

    if not 0 < value <= MAX_TIMEOUT:  # also refuses nan and inf
        raise typer.BadParameter(f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds")
    return value


@app.command("setup")
def setup(
    client: list[str] = typer.Option(
        [],
        "--client",
        "-c",
        help="Wrap only this client's project config (repeatable; default: every client "
        "with a config in the repository).",
    ),
    yes: bool = typer.Option(
        False,
        "--yes",
        "-y",
        help="Ask nothing: wrap without confirming; secrets only from stdin; fail at once on "
        "what needs a person.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    timeout: float = typer.Option(
        300.0, "--timeout", callback=_timeout, help="Seconds to wait for a login's browser."
    ),
) -> int:
    """Set up the credentials this repository's mcpcred.toml declares, wrap its configs, check.

    Skips what already resolves; runs each login, asks for each secret without echo (or
    reads NAME=VALUE lines from stdin when it is not a terminal), checks password
    managers; then wraps the repository's client configs and shows `status`. Exits 1 when
    something is left unresolved (named on stderr with the command that sets it).

    Example: printf 'linear-key=%s\\n' "$LINEAR_KEY" | mcpcred setup --yes
    """
    from mcpcred import project_credentials
    from mcpcred.paths import project_file
    from mcpcred.wrap import service

    start = os.getcwd()
    found = project_file(start)
    if found is None:
        raise ConfigError(
            "no mcpcred.toml in this folder or above it (up to the repository root)",
            hint="a repository declares its credentials under [credentials.NAME] in "
            "mcpcred.toml (see docs/setup.md)",
        )
    declared = project_credentials.load(found)
    wanted = [service.adapter_for(c).id for c in client]  # bad ids refused before any change
    root = os.path.dirname(os.path.abspath(found))
    interactive = sys.stdin.isatty() and not yes
    store = _store()
    if not declared.credentials:
        stderr(f"{printable(found)} declares no credentials ([credentials.NAME])")
    reader = _StdinValues([c.name for c in declared.credentials if c.ref_kind == references.SECRET])
    report = [_one(c, store, interactive, reader, timeout) for c in declared.credentials]
    files = _wrap(root, wanted, store, interactive=interactive, yes=yes)
    status_doc, status_code = _status(root, as_json)
    missing = [r for r in report if r["state"] != OK]
    unwrapped = [f for f in files if f["result"] == "not wrapped"]
    listed = status_doc.get("unresolved")
    unresolved = [
        u
        for u in (listed if isinstance(listed, list) else [])
        if isinstance(u, dict) and _in_project(u, status_doc)
    ]
    ok = not missing and not unwrapped and not unresolved
    if as_json:
        from mcpcred.terminal import write_json

        write_json(
            {
                "ok": ok,
                "project": found,
                "credentials": report,
                "files": files,
                "status": status_doc,
            }
        )
    left = [f"{r['name']} ({r['fix']})" for r in missing]
    left += [
        f"{f['client']} {f['path']} not wrapped (mcpcred wrap {f['client']} --config "
        f"{shlex.quote(os.path.relpath(os.path.join(root, str(f['path'])), start))})"
        for f in unwrapped
    ]
    named = {str(r["reference"]) for r in missing}
    users: dict[tuple[str, str], list[str]] = {}  # one .mcp.json may be two clients' file
    for u in unresolved:
        if u.get("reference") not in named:
            users.setdefault((str(u["reference"]), str(u["state"])), []).append(
                f"{u['client']}/{u['server']}"
            )
    left += [
        f"{reference} ({state}; used by {', '.join(who)}; not declared in mcpcred.toml)"
        for (reference, state), who in users.items()
    ]
    if left:
        stderr(f"error: not set up: {printable('; '.join(left))}")
    elif status_code and not as_json:
        stderr("note: servers outside this repository have credentials that do not resolve")
    return 0 if ok else EXIT_FINDINGS


def _store() -> SecretStore:
    """The store secrets and logins go to (one line and exit 5 when there is none)."""
    from mcpcred.keychain.store import SecretStore

    store = SecretStore()
    _ = store.backend  # refuse an unusable or insecure keychain before anything is asked
    return store


def _one(
    credential: Credential,
    store: SecretStore,
    interactive: bool,
    reader: _StdinValues,
    timeout: float,
) -> dict[str, object]:
    """Check one declared credential, set it up if it does not resolve; its report row."""
    from mcpcred import project_credentials
    from mcpcred.cli.status_cmd import credential_state

    row: dict[str, object] = {
        "name": credential.name,
        "kind": credential.kind,
        "reference": credential.reference,
        "fix": credential.fix(),
    }
    label = f"{credential.name} ({credential.reference})"
    before = credential_state(store, credential.ref_kind, credential.ref_name, check=True)
    stored = _stored_login(credential, store) if before == OK else None
    taken = _taken_by(credential, stored)
    if taken is not None:
        # The name is another server's login: "already set up" would tell the user this
        # repository's server is logged in, and its config would be handed that token.
        stderr(f"{label}: the login name is taken by {printable(taken)}, not this server")
        row["fix"] = f"rename [credentials.{credential.name}] in mcpcred.toml and its references"
        return {**row, "state": "taken", "action": "failed"}
    short, short_base = _scopes_short(credential, stored)
    if short:
        # A login asked for fewer scopes than this repository's servers need: it resolves,
        # and the server fails at its first call. Log in again asking for both sets.
        stderr(
            f"{label}: logged in without the scope(s) this repository asks for: "
            f"{printable(' '.join(short))}"
        )
        before = "missing scopes"
        wanted = dict.fromkeys([*short_base, *credential.scopes])
        row["fix"] = credential.fix() + "".join(f" --scope {s}" for s in wanted)
    elif before == OK:
        stderr(f"{label}: already set up, skipped")
        return {**row, "state": OK, "action": "skipped"}
    if credential.external:
        stderr(f"{label}: the password manager says: {printable(before)}")
        if credential.url:
            stderr(f"  see {printable(credential.url)}")
        return {**row, "state": before, "action": "checked"}
    if before not in ABSENT and not short:
        # there, but unreadable (a locked keychain, a store error): asking for the value
        # again would overwrite one that may be right, or fail the same way
        stderr(f"{label}: cannot be checked: {printable(before)}")
        if before == "locked":
            row["fix"] = "unlock the keychain, or `mcpcred store unlock` for the file store"
        return {**row, "state": before, "action": "failed"}
    try:
        if credential.kind == project_credentials.OAUTH:
            action = _login(credential, interactive, timeout, also=short_base)
        else:
            action = _secret(credential, store, interactive, reader)
    except McpcredError as exc:
        stderr(f"{label}: {printable(exc.message)}")
        if exc.hint:
            stderr(f"  hint: {printable(exc.hint)}")
        return {**row, "state": before, "action": "failed"}
    if action != "set":
        return {**row, "state": before, "action": action}
    after = credential_state(store, credential.ref_kind, credential.ref_name, check=True)
    return {**row, "state": after, "action": "set"}


def _stored_login(credential: Credential, store: SecretStore) -> LoginRecord | None:
    """The login record a declared login resolves to, read once for the checks below.

    None for a secret, a login not stored, or a record that cannot be read (the state
    check has said what it can).
    """
    from mcpcred import project_credentials

    if credential.kind != project_credentials.OAUTH:
        return None
    from mcpcred.keychain.vault import StoreVault
    from mcpcred.oauth.records import LoginRecord, record_name

    key = record_name(*references.split_login(credential.ref_name))
    try:
        return LoginRecord.loads(StoreVault(store).read([key]).get(key))
    except McpcredError:
        return None


def _scopes_short(
    credential: Credential, record: LoginRecord | None
) -> tuple[list[str], tuple[str, ...]]:
    """The declared scopes the stored login never asked for, and the scopes it did.

    Only a login's own record says what it asked for; one without scopes declared, or
    without a readable record, is taken as it is.
    """
    if record is None or not credential.scopes:
        return [], ()
    # A server's login (MCP authorization) keeps the scopes it asked for; a provider's
    # login the scopes granted, and what it asked for beside them (records since 0.1).
    asked = record.scopes if record.server_url else record.asked_scopes
    if asked is None:
        return [], ()
    return [s for s in credential.scopes if s not in asked], tuple(asked)


def _taken_by(credential: Credential, record: LoginRecord | None) -> str | None:
    """For a server's login whose name is stored: the other server it belongs to, if any.

    ``mcpcred login URL --name NAME`` refuses a name another server's login holds; setup
    must too, or a repository could declare ``[credentials.sentry] server = "https://its
    own host"`` and be told the user's Sentry login is its server's.
    """
    if credential.server is None or record is None:
        return None
    from mcpcred.oauth import urls

    stated = record.resource or record.server_url
    if stated and urls.resource_covers(stated, credential.server):
        return None
    return record.server_url or record.resource or record.provider


class _StdinValues:
    """Secrets for scripts: ``NAME=VALUE`` lines on stdin, one per secret, in any order.

    A line names its secret, so what a script pipes in lands in the right place whichever
    secrets are already set (those lines are read and dropped: setup never overwrites).
    stdin is read only when a secret is missing, and only until that secret's line or the
    end of input, so a run with nothing missing never touches it and a closed or empty
    stdin never blocks. A line that is not ``NAME=VALUE`` is refused without being shown.
    """

    def __init__(self, names: list[str]) -> None:
        self.names = names  # the secrets mcpcred.toml declares to paste
        self.values: dict[str, str] = {}
        self.ended = False
        self.number = 0

    def get(self, name: str) -> str:
        while name not in self.values and not self.ended:
            line = sys.stdin.readline(MAX_VALUE + 1) if sys.stdin is not None else ""
            if not line:
                self.ended = True
                break
            self.number += 1
            if len(line) > MAX_VALUE:
                raise UsageError(
                    f"line {self.number} of stdin is longer than {MAX_VALUE // 1024} KiB"
                )
            line = line.removesuffix("\n").removesuffix("\r")
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals or key not in self.names:
                # never shown: a raw value pasted without a name would be in the message
                raise UsageError(
                    f"line {self.number} of stdin is not NAME=VALUE with a NAME of "
                    f"mcpcred.toml ({', '.join(self.names)})",
                    hint=f"one line per secret: printf '{name}=%s\\n' \"$VALUE\" | mcpcred setup",
                )
            self.values.setdefault(key, value)
        return self.values.get(name, "")


def _secret(
    credential: Credential, store: SecretStore, interactive: bool, reader: _StdinValues
) -> str:
    """Ask for (or read) one secret and store it; ``set`` or ``missing``."""
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import check_value

    what = printable(credential.prompt or f"value for {credential.reference}")
    if interactive:
        import getpass

        stderr(f"{credential.name}: {what}")
        if credential.url:
            stderr(f"  get it at {printable(credential.url)}")
        value = getpass.getpass(f"{credential.name} (not shown; empty to skip): ")
    elif not sys.stdin.isatty():
        value = reader.get(credential.name)
    else:  # --yes on a terminal: nobody is asked
        value = ""
    if not value.strip():
        stderr(f"{credential.name}: not given ({what})")
        return "missing"
    check_value(credential.name, value)
    existed = store.exists(credential.name)
    store.set(credential.name, value)
    SecretIndex().touch(credential.name)
    verb = "updated" if existed else "stored"
    stderr(f"{credential.name}: {verb} in {store.where} ({store.backend_name})")
    return "set"


def _login(
    credential: Credential, interactive: bool, timeout: float, also: Sequence[str] = ()
) -> str:
    """Run ``mcpcred login``'s flow for one declared login; ``set`` or ``missing``.

    A provider's login (``provider = ...``) or a remote MCP server's (``server = URL``,
    MCP authorization with discovery). Without a person to ask (``--yes``, no terminal),
    the login runs only if a browser can be opened for it: waiting for someone to type a
    device code nobody sees would hang.
    """
    import webbrowser

    from mcpcred import references
    from mcpcred.cli.login_cmd import _index, _vault
    from mcpcred.errors import LoginRequired
    from mcpcred.oauth import settings
    from mcpcred.oauth.browser import open_url
    from mcpcred.paths import config_file

    if not interactive:
        try:
            webbrowser.get()
        except webbrowser.Error:
            stderr(f"{credential.name}: not logged in, and no browser to log in with")
            return "missing"

    def opener(url: str) -> bool:
        opened = open_url(url)
        if not opened and not interactive:
            raise LoginRequired(
                "no browser could be opened to log in",
                hint=f"run on a terminal: {credential.fix()}",
            )
        return opened

    config = settings.load(config_file())
    vault = _vault()
    if also:  # a login again for more scopes keeps those the login had (other servers use them)
        import dataclasses

        scopes = tuple(dict.fromkeys([*also, *credential.scopes]))
        credential = dataclasses.replace(credential, scopes=scopes)
    if credential.server is not None:
        record = _login_server(credential, opener, timeout, config.refresh_skew)
        where = credential.server
    else:
        record = _login_provider(credential, opener, timeout, config)
        where = record.provider
    _index().touch(references.login_name(record.provider, record.account))
    who = f" as {printable(record.user)}" if record.user else ""
    stderr(f"{credential.name}: logged in to {printable(where)}{who} ({vault.store.where})")
    return "set"


def _login_provider(
    credential: Credential, opener: Callable[[str], bool], timeout: float, config: Settings
) -> LoginRecord:
    """``mcpcred login PROVIDER``'s flow; the user's own client id wins over the repository's."""
    from mcpcred.cli.login_cmd import _ConsoleUI, _vault
    from mcpcred.oauth import login as flows
    from mcpcred.oauth import settings
    from mcpcred.oauth.http import HttpxTransport

    assert credential.provider is not None  # noqa: S101 (every provider login has one)
    entry = settings.entry_for(credential.provider, config)
    profile = settings.provider(
        credential.provider,
        config,
        client_id=None if "client-id" in entry else credential.client_id,
        scopes=list(credential.scopes),
    )
    stderr(f"{credential.name}: logging in to {profile.title}")
    request = flows.LoginRequest(
        provider=profile,
        account=credential.account,
        flow=credential.flow,
        browser=True,
        client_secret=None,
        timeout=timeout,
        skew=config.refresh_skew,
    )
    transport = HttpxTransport()
    try:
        return flows.login(
            request, transport=transport, vault=_vault(), ui=_ConsoleUI(), open_url=opener
        )
    finally:
        transport.close()


def _login_server(
    credential: Credential, opener: Callable[[str], bool], timeout: float, skew: int
) -> LoginRecord:
    """``mcpcred login URL --name NAME``'s flow (MCP authorization) for a remote server."""
    import httpx

    from mcpcred.cli.login_cmd import _ConsoleUI, _vault
    from mcpcred.oauth import mcp
    from mcpcred.oauth.http import USER_AGENT

    assert credential.server is not None  # noqa: S101 (the caller checked)
    stderr(f"{credential.name}: logging in to {printable(credential.server)}")
    request = mcp.RemoteLoginRequest(
        url=credential.server,
        name=credential.name,
        scopes=credential.scopes,
        client_id=credential.client_id,
        browser=True,
        timeout=timeout,
        skew=skew,
    )
    with httpx.Client(timeout=15.0, headers={"User-Agent": USER_AGENT}) as http:
        return mcp.login_remote(
            request, http=http, vault=_vault(), ui=_ConsoleUI(), open_url=opener
        )


def _project_configs(root: str, wanted: list[str]) -> list[tuple[ClientAdapter, ConfigLocation]]:
    """The repository's own client config files that exist, each once (first client wins:
    Claude Code and Copilot CLI both read ``.mcp.json``)."""
    from pathlib import PurePath

    from mcpcred.clients import ADAPTERS
    from mcpcred.discovery import expand

    found: list[tuple[ClientAdapter, ConfigLocation]] = []
    seen: set[str] = set()
    for adapter in ADAPTERS:
        if adapter.id == "generic" or (wanted and adapter.id not in wanted):
            continue
        for location in adapter.project_locations(PurePath(root)):
            for concrete in expand(location):
                real = os.path.realpath(concrete.path)
                if real not in seen:
                    seen.add(real)
                    found.append((adapter, concrete))
    return found


def _wrap(
    root: str, wanted: list[str], store: SecretStore, *, interactive: bool, yes: bool
) -> list[dict[str, object]]:
    """Plan ``wrap`` for each of the repository's configs, show it, ask, write; one row each."""
    from dataclasses import replace

    from mcpcred.cli.wrap_cmd import _show_diff, _summary
    from mcpcred.host import Host
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.wrap import service

    host: Host = replace(Host.current(), cwd=root)  # the repository's files are "project" ones
    configs = _project_configs(root, wanted)
    if not configs:
        stderr("no client config in this repository to wrap (.mcp.json, .vscode/mcp.json, ...)")
        return []
    index = SecretIndex()
    namer = service.SecretNamer(store, index)
    settings = service.shim_settings(host, store.backend_name)
    rows: list[dict[str, object]] = []
    pending: list[tuple[ClientAdapter, FilePlan]] = []
    for adapter, location in configs:
        shown = os.path.relpath(location.path, root)
        row: dict[str, object] = {"client": adapter.id, "path": shown}
        try:
            plans = service.plan_wrap(
                adapter, host, config=location.path, servers=[], settings=settings, namer=namer
            )
        except McpcredError as exc:
            stderr(f"{adapter.id} {shown}: {printable(exc.message)}")
            rows.append({**row, "result": "not wrapped"})
            continue
        changed = [p for p in plans if p.changed]
        if not changed:
            rows.append({**row, "result": "already wrapped" if plans[0].servers else "no servers"})
            continue
        rows.append({**row, "result": "pending"})
        pending.extend((adapter, p) for p in changed)
    if not pending:
        for row in rows:
            if row["result"] != "not wrapped":
                stderr(f"{row['client']} {row['path']}: {row['result']}")
        return rows
    plans = [p for _, p in pending]
    _summary(plans)
    if interactive:
        _show_diff(plans, [m.value for p in plans for m in p.moves])
        question = f"Wrap {len(plans)} config file(s) of this repository?"
        go = typer.confirm(question, default=True, err=True)
    else:
        go = yes
        if not go:
            stderr("not wrapping without confirmation (no terminal): pass --yes")
    if go:
        outcome = service.execute_wrap(plans, store, index)
        for name in outcome.stored:
            stderr(f"stored secret '{name}' (it was in a config file: rotate it)")
        for plan, backup in zip(outcome.written, outcome.backups, strict=True):
            stderr(f"wrote {plan.display} (backup without secrets: {backup})")
        clients = sorted({a.display_name for a, _ in pending})
        stderr(f"restart {', '.join(clients)} to start the servers through mcpcred")
    for row in rows:
        if row["result"] == "pending":
            row["result"] = "wrapped" if go else "not wrapped"
    return rows


def _status(root: str, as_json: bool) -> tuple[dict[str, object], int]:
    """``status --json``'s document (read by setup for its own exit code) and its code; in
    text mode the table is shown too. Run from the repository's root, so its project
    configs are the ones listed."""
    import contextlib
    import io
    import json

    from mcpcred.cli.status_cmd import status

    os.chdir(root)
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(io.StringIO()):
        code = status(as_json=True, check=False)
    document = json.loads(captured.getvalue())
    if not as_json:
        sys.stderr.flush()
        status(as_json=False, check=False)
    return document, code


def _in_project(unresolved: dict[str, object], document: dict[str, object]) -> bool:
    """Whether an unresolved credential belongs to a server of the repository's configs."""
    servers = document.get("servers", [])
    return any(
        isinstance(s, dict)
        and s.get("scope") == "project"
        and s.get("client") == unresolved.get("client")
        and s.get("server") == unresolved.get("server")
        for s in (servers if isinstance(servers, list) else [])
    )
