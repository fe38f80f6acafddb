"""``mcpcred secret set|list|rm|show``: the secrets mcpcred keeps in the OS keychain.

A value never travels through argv (visible in the process list and shell
history): ``set`` reads it from a hidden prompt or, for scripts, from stdin.
``show`` prints a value only to a terminal and only with ``--reveal``, so an
agent or a log collector cannot pick one up by running a command.
"""

from __future__ import annotations

import getpass
import sys

import typer

from mcpcred import references
from mcpcred.cli.app import app
from mcpcred.errors import SecretNotFound, UsageError
from mcpcred.terminal import printable

secret_app = typer.Typer(
    help="Manage the secrets mcpcred keeps in the OS keychain (values never in argv)."
    + "\n\nExample: mcpcred secret list",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(secret_app, name="secret")


def _checked(name: str) -> str:
    if not references.valid_name(name):
        raise UsageError(
            f"invalid secret name {name!r}",
            hint="use 1-64 characters: a-z, 0-9, '.', '_', '-' (starting and ending with a "
            "letter or digit), e.g. github-pat",
        )
    return name


@secret_app.command("set")
def secret_set(
    name: str = typer.Argument(..., help="Secret name, e.g. github-pat.", show_default=False),
    from_stdin: bool = typer.Option(
        False, "--from-stdin", help="Read the value from stdin (one trailing newline is dropped)."
    ),
) -> int:
    """Store a secret (asks for it without echo, or reads it from stdin).

    Example: printf %s "$TOKEN" | mcpcred secret set github-pat --from-stdin
    """
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore

    _checked(name)
    if from_stdin:
        value = sys.stdin.read()
        value = value[:-1] if value.endswith("\n") else value
        value = value[:-1] if value.endswith("\r") else value
    else:
        if not sys.stdin.isatty():
            raise UsageError(
                "no terminal to ask for the value", hint="pipe it in with --from-stdin"
            )
        value = getpass.getpass(f"value for {name} (not shown): ")
    if not value:
        raise UsageError("the value is empty; nothing was stored")
    store = SecretStore()
    existed = store.exists(name)
    store.set(name, value)
    SecretIndex().touch(name)
    verb = "updated" if existed else "stored"
    sys.stderr.write(f"{verb} secret '{name}' in {store.where} ({store.backend_name})\n")
    return 0


@secret_app.command("list")
def secret_list(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> int:
    """List secret names, where each is used and when it last changed (never values).

    Example: mcpcred secret list --json
    """
    from mcpcred.host import Host
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore
    from mcpcred.usage import servers, users_of

    store = SecretStore()
    _ = store.backend  # refuse an unusable or insecure keychain before anything else
    indexed = SecretIndex().entries()
    uses, _ = servers(Host.current())
    referenced = {n for u in uses for k, n in (*u.refs, *u.hidden) if k == references.SECRET}
    rows = []
    for name in sorted(set(indexed) | referenced):
        users = users_of(name, uses)
        meta = indexed.get(name)
        rows.append(
            {
                "name": name,
                "stored": store.exists(name),
                "changed": meta.changed if meta else None,
                "used_by": [
                    {"client": u.client, "server": u.server, "path": u.path} for u in users
                ],
            }
        )
    if as_json:
        from mcpcred.terminal import write_json

        write_json({"secrets": rows})
        return 0
    if not rows:
        sys.stderr.write("no secrets yet: `mcpcred wrap CLIENT` or `mcpcred secret set NAME`\n")
        return 0
    from rich.table import Table

    from mcpcred.terminal import console, emit

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("name", "status", "changed", "used by"):
        table.add_column(column, overflow="fold")
    for row in rows:
        used = row["used_by"] if isinstance(row["used_by"], list) else []
        table.add_row(
            str(row["name"]),
            "stored" if row["stored"] else "MISSING",
            str(row["changed"] or "-"),
            printable(", ".join(f"{u['client']}/{u['server']}" for u in used)) or "-",
        )
    emit(console(), table)
    return 0


@secret_app.command("rm")
def secret_rm(
    name: str = typer.Argument(..., help="Secret name.", show_default=False),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove even if a server still uses it."),
) -> int:
    """Remove a secret from the keychain.

    Example: mcpcred secret rm github-pat
    """
    from mcpcred.host import Host
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore
    from mcpcred.usage import HIDDEN, servers, users_of

    _checked(name)
    uses, unreadable = servers(Host.current())
    users = users_of(name, uses)
    if users and not yes:
        where = ", ".join(
            f"{u.client}/{u.server}"
            + (
                " (behind a repeated key)"
                if (references.SECRET, name) not in u.refs and u.transport != HIDDEN
                else ""
            )
            for u in users
        )
        raise UsageError(
            f"secret '{name}' is still used by {where}; those servers would fail to start",
            hint=f"unwrap them first, or pass --yes: mcpcred secret rm {name} --yes",
        )
    mentioned = [e for e in unreadable if (references.SECRET, name) in e.refs]
    if mentioned and not yes:
        raise UsageError(
            f"secret '{name}' is mentioned in {mentioned[0].path}, which mcpcred cannot parse "
            f"({mentioned[0].message}); a server there may still need it",
            hint=f"fix the file first, or pass --yes: mcpcred secret rm {name} --yes",
        )
    store = SecretStore()
    try:
        store.delete(name)
    except SecretNotFound:
        SecretIndex().remove(name)
        raise
    SecretIndex().remove(name)
    sys.stderr.write(f"removed secret '{name}'\n")
    return 0


@secret_app.command("show")
def secret_show(
    name: str = typer.Argument(..., help="Secret name.", show_default=False),
    reveal: bool = typer.Option(False, "--reveal", help="Really print the value."),
) -> int:
    """Print a secret's value: only to a terminal, and only with --reveal.

    Example: mcpcred secret show github-pat --reveal
    """
    from mcpcred.keychain.store import SecretStore

    _checked(name)
    if not sys.stdout.isatty():
        raise UsageError(
            "refusing to print a secret to something that is not a terminal",
            hint="secrets are shown only on a terminal, so logs and agents cannot collect them",
        )
    if not reveal:
        raise UsageError(f"add --reveal to print the value of '{name}' on this terminal")
    value = SecretStore().get(name)
    sys.stdout.write(value + "\n")
    return 0
