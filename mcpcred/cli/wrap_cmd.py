"""``mcpcred wrap`` and ``mcpcred unwrap``: rewrite a client's servers, after showing how.

The plan is computed first and shown (per server: what happens, which secrets
move and under which names; with ``--dry-run`` or before asking, a diff with
values redacted). Nothing is stored or written before the user agrees, or
passes ``--yes``; without a terminal to ask on, ``--yes`` is required.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from mcpcred import references
from mcpcred.cli.app import app
from mcpcred.errors import SecretStoreError, UsageError
from mcpcred.terminal import printable

if TYPE_CHECKING:
    from rich.console import Console

    from mcpcred.keychain.store import SecretStore
    from mcpcred.wrap.service import FilePlan

_STATUS_TEXT = {
    "wrap": "wrap",
    "wrapped": "already wrapped",
    "remote": "remote, no credential in the file",
    "unwrappable": "NOT WRAPPED",
    "weak": "left as it is, a default password",
    "unwrap": "unwrap",
    "not-wrapped": "not wrapped",
    "kept": "STAYS WRAPPED",
}


def _console() -> Console:
    from mcpcred.terminal import console

    return console()


def _show_diff(plans: list[FilePlan], secrets: list[str]) -> None:
    from rich.text import Text

    from mcpcred.wrap.diff import redacted_diff

    console = _console()
    for plan in plans:
        if not plan.changed:
            continue
        hidden = [*secrets, *plan.hidden]  # context lines may hold credentials that stay
        for line in redacted_diff(plan.original, plan.new_text, plan.display, hidden):
            style = ""
            if line.startswith(("+++", "---")):
                style = "bold"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            elif line.startswith("@@"):
                style = "cyan"
            console.print(Text(printable(line), style=style), soft_wrap=True)


def _summary(plans: list[FilePlan], target: str = "keychain") -> None:
    from mcpcred.clients import BY_ID

    out = sys.stderr
    for plan in plans:
        out.write(f"{printable(plan.display)} ({plan.location.client}, {plan.location.scope})\n")
        if plan.changed and plan.location.scope == "project":
            out.write(
                "  note: a project file is usually shared: its entries will name this machine's "
                "mcpcred path, and teammates need the secrets in their own keychains\n"
            )
        if plan.changed and plan.snapshot.linked:
            out.write(
                "  note: reached through a symbolic link: mcpcred writes the real file, keeps "
                "the link\n"
            )
        if plan.moves and plan.snapshot.linked:
            from mcpcred.wrap.files import repository_of

            repository = repository_of(plan.snapshot.real)
            if repository is not None:
                out.write(
                    f"  note: the target is in the git repository {repository}: if the file was "
                    "committed, its history keeps the secrets; rotate them\n"
                )
        if plan.unread:
            out.write(
                f"  note: credentials in blocks {BY_ID[plan.location.client].display_name} does "
                "not read stay in the "
                f"file (wrap cannot start those servers): {printable(', '.join(plan.unread))}; "
                "delete them, or move them by hand\n"
            )
        if plan.settings:
            out.write(
                f"  note: credentials {BY_ID[plan.location.client].display_name} needs itself "
                f"stay in the file (wrap moves only what the servers it starts need): "
                f"{printable('; '.join(plan.settings))}; `mcpcred audit-config` says how "
                "to fetch them instead\n"
            )
        if not plan.servers:
            out.write("  no servers\n")
        for server in plan.servers:
            out.write(
                f"  {printable(server.name)}: {_STATUS_TEXT.get(server.status, server.status)}\n"
            )
            for move in server.moves:
                out.write(f"    {printable(move.where)} -> {target} as '{move.name}'\n")
            for note in server.notes:
                out.write(f"    note: {printable(note)}\n")
    out.flush()


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("not writing without confirmation", hint="pass --yes to confirm")
    if not typer.confirm(question, default=False, err=True):
        raise typer.Exit(1)


def _warn_running(client: str) -> None:
    from mcpcred.clients import BY_ID
    from mcpcred.clients.running import running

    adapter = BY_ID[client]
    if running(client):
        sys.stderr.write(
            f"warning: {adapter.display_name} seems to be running"
            + (
                "; it rewrites its own config and may undo this change: quit it first"
                if adapter.rewrites_own_file
                else "; restart it afterwards"
            )
            + "\n"
        )


def _review(
    plans: list[FilePlan],
    secrets: list[str],
    client: str,
    *,
    dry_run: bool,
    yes: bool,
    client_name: str,
    dry: str,
    question: str,
    target: str = "keychain",
) -> bool:
    """Show the plan (and the redacted diff) and ask; True when the run should write.

    ``target`` names the store the secrets go to ("keychain", "file store")."""
    _summary(plans, target)
    changed = [p for p in plans if p.changed]
    if not changed:
        sys.stderr.write(_nothing(plans, client_name) + "\n")
        return False
    if dry_run:
        _show_diff(plans, secrets)
        sys.stderr.write(dry + "\n")
        return False
    _warn_running(client)
    if not yes:
        _show_diff(plans, secrets)
    _confirm(question.format(count=len(changed)), yes)
    return True


_NOTHING_BECAUSE = {
    "wrapped": "already wrapped",
    "remote": "remote, no credential in the file",
    "unwrappable": "left as they are, with credentials mcpcred cannot move (see the notes above)",
    "weak": "left as they are, holding only a well-known default password mcpcred cannot move",
    "not-wrapped": "not wrapped",
    "kept": "kept on mcpcred, they need references only mcpcred resolves (see the notes above)",
    "unread": "in blocks the client does not read, with credentials left in the file",
    "settings": "credentials the client needs itself, left in the file",
}


def _nothing(plans: list[FilePlan], client: str) -> str:
    """Why a run changes nothing, server by server: "already wrapped" only when it is true."""
    by_status: dict[str, list[str]] = {}
    for plan in plans:
        for server in plan.servers:
            by_status.setdefault(server.status, []).append(server.name)
    unread = [name for plan in plans for name in plan.unread]
    if unread:
        by_status["unread"] = unread
    settings = [name for plan in plans for name in plan.settings]
    if settings:
        by_status["settings"] = settings
    if not by_status:
        return f"nothing to change: {client}'s config has no servers"
    parts = [
        f"{_NOTHING_BECAUSE.get(status, status)}: {', '.join(names)}"
        for status, names in by_status.items()
    ]
    return f"nothing to change ({'; '.join(parts)})"


_BIND_HELP = (
    "expected VAR=oauth:PROVIDER[/ACCOUNT], VAR=secret:NAME, VAR=pass:PATH, "
    "VAR=op://VAULT/ITEM/FIELD, VAR=bw:ITEM/FIELD, VAR=vault:PATH#FIELD or "
    'VAR=cmd:["PROGRAM","ARG",...]'
)


def _binds(values: list[str]) -> dict[str, str]:
    """``VAR=oauth:github`` -> {VAR: "mcpcred:oauth/github"}; usage errors for the rest.

    A password manager's locator (``pass:Email/github.com``, ``op://...``)
    becomes ``mcpcred:pass/Email/github.com``, ``mcpcred:op/...``: the client's
    config then says where the value lives, and the shim asks at every start.
    """
    import re

    out: dict[str, str] = {}
    for value in values:
        variable, equals, target = value.partition("=")
        if not equals or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", variable):
            raise UsageError(
                f"--bind {value[:60]!r}: {_BIND_HELP}",
                hint="e.g. --bind GITHUB_PERSONAL_ACCESS_TOKEN=oauth:github",
            )
        if variable in out:
            raise UsageError(f"--bind names {variable} twice")
        out[variable] = _bind_target(variable, target)
    return out


def _bind_target(variable: str, target: str) -> str:
    """The reference ``--bind VAR=TARGET`` writes; a usage error names what is wrong."""
    if target.startswith("op://"):
        kind, name = references.OP, target[len("op://") :]
    else:
        kind, colon, name = target.partition(":")
        if not colon:
            kind = ""
    if kind in references.EXTERNAL:
        problem = references.locator_problem(kind, name)
        if problem is not None:
            raise UsageError(f"--bind {variable}: the {kind} reference cannot be used: {problem}")
        return references.whole(name, kind)
    good_name = bool(name) and all(references.valid_name(p) for p in name.split("/"))
    if (
        kind not in (references.OAUTH, references.SECRET)
        or not good_name
        or name.count("/") > (1 if kind == references.OAUTH else 0)
    ):
        raise UsageError(
            f"--bind {variable}={target[:40]!r}: {_BIND_HELP}",
            hint="e.g. --bind GITHUB_PERSONAL_ACCESS_TOKEN=oauth:github",
        )
    return references.whole(name, kind)


def _external_only(binds: dict[str, str]) -> bool:
    """Whether every ``--bind`` names a password manager (wrap may then need no keychain)."""
    return bool(binds) and all(
        kind in references.EXTERNAL for ref in binds.values() for kind, _ in references.find(ref)
    )


def _direct() -> SecretStore | None:
    """The Secret Service read directly, when it is for sure the store in use (``None``:
    only keyring's discovery can tell; see ``keychain.direct``)."""
    import os

    from mcpcred.keychain.direct import open_direct

    return open_direct(os.environ)


def _check_logins(binds: dict[str, str], store: SecretStore) -> None:
    """Warn about a bound login or secret that does not exist yet (it may come later)."""
    from mcpcred.oauth import records

    for reference in binds.values():
        for kind, name in references.find(reference):
            if kind == references.OAUTH:
                provider, account = references.split_login(name)
                if not store.exists(records.record_name(provider, account)):
                    sys.stderr.write(
                        f"note: not logged in to {name} yet; servers will fail to start "
                        f"until you run: {records.login_command(provider, account)}\n"
                    )
            elif kind in references.EXTERNAL:
                continue  # asked at every start; `mcpcred status --check` tries it now
            elif not store.exists(name):
                sys.stderr.write(
                    f"note: secret '{name}' is not in {store.where} yet; store it with: "
                    f"mcpcred secret set {name}\n"
                )


def _plain_headers(values: list[str]) -> list[tuple[str, str]]:
    """``Name: value`` -> (Name, value); a usage error names the bad one (never its value)."""
    import re

    out: list[tuple[str, str]] = []
    for index, value in enumerate(values, 1):
        header, colon, text = value.partition(":")
        if not colon or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header.strip()):
            raise UsageError(f"--header number {index}: expected 'Name: value'")
        out.append((header.strip(), text.strip()))
    return out


def _stdin_header(header: str | None) -> tuple[str, str] | None:
    """The secret header's value, read from a prompt on a terminal, else one line of stdin.

    Never from argv: a command line is kept in shell history and shown in process lists.
    """
    import getpass
    import re

    if header is None:
        return None
    if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", header):
        raise UsageError(f"--header-from-stdin {header!r}: not a header name")
    if sys.stdin.isatty():
        value = getpass.getpass(f"Value of header {header} (not shown): ")
    else:
        value = sys.stdin.read(64 * 1024 + 1)
        if len(value) > 64 * 1024:
            raise UsageError("the header value on stdin is longer than 64 KiB")
        value = value.removesuffix("\n").removesuffix("\r")
    if not value.strip():
        raise UsageError(f"no value for header {header} on stdin")
    if "\n" in value or "\r" in value:
        raise UsageError(f"the value for header {header} must be one line")
    return header, value.strip()


@app.command("wrap")
def wrap(
    client: str = typer.Argument(
        ..., help="Client id (see `mcpcred clients`).", show_default=False
    ),
    config: str | None = typer.Option(None, "--config", help="Only this config file."),
    server: list[str] = typer.Option([], "--server", "-s", help="Only this server (repeatable)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the changes; write nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before writing."),
    bind: list[str] = typer.Option(
        [],
        "--bind",
        help="Set an env variable to a login or secret: VAR=oauth:github, VAR=oauth:github/work, "
        "VAR=secret:NAME, or a password manager: VAR=pass:PATH, VAR=op://VAULT/ITEM/FIELD, "
        'VAR=bw:ITEM/FIELD, VAR=vault:PATH#FIELD, VAR=cmd:["PROGRAM","ARG"] '
        "(repeatable; needs --server).",
    ),
    remote: str | None = typer.Option(
        None,
        "--remote",
        help="Add this remote server (URL) to Claude Desktop as an entry running the mcpcred "
        "bridge (needs --name).",
    ),
    name: str | None = typer.Option(None, "--name", help="With --remote: the server's name."),
    header: list[str] = typer.Option(
        [],
        "--header",
        "-H",
        help="With --remote: a header without a credential, 'Name: value' (repeatable).",
    ),
    header_from_stdin: str | None = typer.Option(
        None,
        "--header-from-stdin",
        help="With --remote: the header NAME whose value (a credential) is read from stdin, "
        "or prompted for on a terminal; it goes to the keychain.",
    ),
    oauth: bool = typer.Option(
        False, "--oauth", help="With --remote: sign in with `mcpcred login URL --name NAME`."
    ),
    transport: str = typer.Option(
        "auto", "--transport", help="With --remote: auto, http (Streamable HTTP) or sse."
    ),
    allow_http: bool = typer.Option(
        False, "--allow-http", help="With --remote: allow plain http:// to another host."
    ),
    bridge: bool = typer.Option(
        False,
        "--bridge",
        help="Run every chosen remote server through the mcpcred bridge, even without a "
        "credential in the file or where a header helper would do (guard mode needs it).",
    ),
) -> int:
    """Move a client's secrets into the OS keychain and start its servers through the shim.

    Example: mcpcred wrap claude-desktop --dry-run
    """
    from mcpcred.host import Host
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore
    from mcpcred.wrap import service

    add_remote = remote is not None
    if not add_remote and (name or header or header_from_stdin or oauth or allow_http):
        raise UsageError("--name, --header, --header-from-stdin, --oauth and --allow-http "
                         "go with --remote URL")  # fmt: skip
    if add_remote and (server or bind or bridge):
        raise UsageError("--remote adds one server: --server, --bind and --bridge do not apply")
    if add_remote and not name:
        raise UsageError("--remote needs --name NAME", hint="e.g. --name linear")
    binds = _binds(bind)
    if binds and not server:
        raise UsageError(
            "--bind needs --server: say which server(s) get the variable",
            hint=f"e.g. mcpcred wrap {client} --server github --bind {bind[0]}",
        )
    host = Host.current()
    adapter = service.adapter_for(client)
    store: SecretStore | None = None
    backend: str | None = None
    no_store: SecretStoreError | None = None
    try:
        # a dry run only reads: the Secret Service the shim's way, without keyring's discovery
        candidate = (_direct() if dry_run else None) or SecretStore()
        backend = candidate.backend_name
        store = candidate
    except SecretStoreError as exc:
        # binding only password-manager references needs no keychain (a server, a
        # container): planning goes on, and the error stands if a value must move
        if not dry_run and not _external_only(binds):
            raise
        if dry_run:
            sys.stderr.write(f"note: keychain: {exc.message} (dry run continues)\n")
        no_store = exc
    index = SecretIndex()
    namer = service.SecretNamer(store, index)
    settings = service.shim_settings(host, backend)
    if add_remote:
        plans = service.plan_add_remote(
            adapter,
            host,
            config=config,
            name=name or "",
            url=remote or "",
            headers=_plain_headers(header),
            secret_header=_stdin_header(header_from_stdin),
            oauth=oauth,
            transport=transport,
            allow_http=allow_http,
            settings=settings,
            namer=namer,
        )
    else:
        plans = service.plan_wrap(
            adapter,
            host,
            config=config,
            servers=server,
            settings=settings,
            namer=namer,
            binds=binds,
            bridge_remote=bridge,
        )
    if binds and store is not None:
        _check_logins(binds, store)
    if any(ref.split("/", 1)[0][len(references.PREFIX) :] in references.EXTERNAL
           for ref in binds.values()):  # fmt: skip
        sys.stderr.write(
            "note: password managers are asked at every server start, never copied; "
            "try the references now with: mcpcred status --check\n"
        )
    if not plans:
        raise UsageError(
            f"no config file of {adapter.display_name} was found",
            hint="name one with --config FILE; `mcpcred clients --all` shows where mcpcred looks",
        )
    secrets = [m.value for p in plans for m in p.moves]
    if no_store is not None and not dry_run and (secrets or _has_oauth_app(plans)):
        raise no_store
    if not _review(
        plans,
        secrets,
        adapter.id,
        dry_run=dry_run,
        yes=yes,
        client_name=adapter.display_name,
        dry="dry run: nothing was stored or written",
        question="Write {count} file(s) and store the secrets in "
        + (store.where if store is not None else "the keychain")
        .replace("{", "{{")
        .replace("}", "}}")
        + "?",
        target="file store" if store is not None and store.where != "the keychain" else "keychain",
    ):
        return 0
    from mcpcred.terminal import progress

    with progress(f"storing secrets and writing {len(plans)} file(s)"):
        outcome = service.execute_wrap(plans, store, index)
    where = store.where if store is not None else "the keychain"  # None: nothing to store
    for name in outcome.stored:
        sys.stderr.write(f"stored secret '{name}' in {where} ({backend})\n")
    for name in outcome.reused:
        sys.stderr.write(f"reused secret '{name}' (already in {where})\n")
    for plan, backup in zip(outcome.written, outcome.backups, strict=True):
        sys.stderr.write(f"wrote {plan.display} (backup without secrets: {backup})\n")
    if outcome.written and add_remote:
        sys.stderr.write(f"restart {adapter.display_name} to connect to {name}\n")
    elif outcome.written:
        sys.stderr.write(
            f"restart {adapter.display_name} to start its servers through mcpcred; "
            "rotate any credential that was in the file (it may be in old backups and history)\n"
        )
    left = [s.name for p in plans for s in p.servers if s.status == "unwrappable"]
    left += [name for p in plans for name in p.unread]
    if any(p.settings for p in plans):
        left.append(f"{adapter.display_name}'s own settings")
    if left:
        sys.stderr.write(
            f"left in the file: the credentials of {', '.join(left)} (see the notes above)\n"
        )
    return 0


def _has_oauth_app(plans: list[FilePlan]) -> bool:
    """Whether a plan keeps an OAuth app (which goes to the keychain)."""
    return any("oauth_client" in s.record for p in plans for s in p.servers)


@app.command("unwrap")
def unwrap(
    client: str = typer.Argument(
        ..., help="Client id (see `mcpcred clients`).", show_default=False
    ),
    config: str | None = typer.Option(None, "--config", help="Only this config file."),
    server: list[str] = typer.Option([], "--server", "-s", help="Only this server (repeatable)."),
    restore_secrets: bool = typer.Option(
        False, "--restore-secrets", help="Write the secret values back into the file (plain text)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Show the changes; write nothing."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before writing."),
) -> int:
    """Undo wrap; a server that needs a keychain secret stays wrapped unless --restore-secrets.

    Example: mcpcred unwrap cursor --server github --dry-run
    """
    from mcpcred.host import Host
    from mcpcred.keychain.store import SecretStore
    from mcpcred.wrap import service

    host = Host.current()
    adapter = service.adapter_for(client)
    store = SecretStore() if restore_secrets else None
    plans = service.plan_unwrap(
        adapter,
        host,
        config=config,
        servers=server,
        restore_secrets=restore_secrets,
        store=store,
    )
    if not plans:
        raise UsageError(f"no config file of {adapter.display_name} was found")
    if restore_secrets and any(p.changed for p in plans):
        sys.stderr.write(
            "warning: --restore-secrets writes secret values back into plain-text config files\n"
        )
    if not _review(
        plans,
        [v for p in plans for server in p.servers for v in server.revealed],
        adapter.id,
        dry_run=dry_run,
        yes=yes,
        client_name=adapter.display_name,
        dry="dry run: nothing was written",
        question="Rewrite {count} file(s)?",
    ):
        return 0
    from mcpcred.terminal import progress

    with progress(f"rewriting {len(plans)} file(s)"):
        outcome = service.execute_unwrap(plans, store)
    for plan, backup in zip(outcome.written, outcome.backups, strict=True):
        sys.stderr.write(f"wrote {plan.display} (backup: {backup})\n")
    for url in outcome.forgotten_apps:
        sys.stderr.write(
            f"removed the OAuth app kept for mcpcred login to {url}: the entry signs in "
            "with it itself again\n"
        )
    for url, why in outcome.kept_apps:
        sys.stderr.write(
            f"warning: could not remove the OAuth app kept for mcpcred login to {url} ({why}); "
            "a later `mcpcred login` to that server would still use it\n"
        )
    return 0
