"""``mcpcred status``: per client and server, wrapped or not, and whether credentials resolve.

Resolving means "the keychain has it": the value is read to check, never shown.
The keychain backend in use is printed first, since every answer depends on it.
References to password managers (``mcpcred:pass/...``, ``op``, ``bw``, ``vault``,
``cmd``) are asked only with ``--check``: asking may run a program or pop up an
unlock prompt, which a plain ``status`` must not do. ``--check`` also reads each
keychain secret (not just its presence), so a locked keychain shows as ``locked``.
"""

from __future__ import annotations

import os
import shlex
import sys
from typing import TYPE_CHECKING

import typer

from mcpcred.cli.app import app
from mcpcred.errors import EXIT_FINDINGS, SecretStoreError
from mcpcred.terminal import printable

if TYPE_CHECKING:
    from mcpcred.keychain.selection import Choice
    from mcpcred.keychain.store import SecretStore

CHECK_TIMEOUT = 10.0  # seconds per password-manager reference, as the shim's default
LITERAL = "literal"  # the server is not wrapped: it gets the reference's text, not the value


@app.command("status")
def status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    check: bool = typer.Option(
        False,
        "--check",
        help="Resolve every reference now, password managers included (values are never "
        "shown): ok, missing, locked, unavailable.",
    ),
) -> int:
    """Show every server: wrapped or not, its credentials and whether each resolves.

    Exits 1 when a credential of a server started through mcpcred does not resolve
    (missing, not logged in, locked, keychain unavailable): the server would fail to start.

    Example: mcpcred status --check --json
    """
    from mcpcred import references
    from mcpcred.cli.login_cmd import login_rows
    from mcpcred.host import Host
    from mcpcred.keychain.direct import open_direct
    from mcpcred.keychain.store import SecretStore
    from mcpcred.usage import HIDDEN, servers

    store: SecretStore | None = None
    direct = open_direct(os.environ)  # the shim's way to the Secret Service: no discovery
    try:
        candidate = direct if direct is not None else SecretStore()
        backend = candidate.backend_name
        store = candidate
    except SecretStoreError as exc:
        backend = f"unavailable: {exc.message}"
    in_use = _store_in_use(direct.choice if direct is not None else None)
    uses, errors = servers(Host.current())
    uses = [u for u in uses if u.transport != HIDDEN]  # a hidden block starts no server
    cache: dict[tuple[str, str], str] = {}

    def state(kind: str, name: str) -> str:
        key = (kind, name)
        if key not in cache:
            cache[key] = credential_state(store, kind, name, check=check)
        return cache[key]

    guard_problem: list[str] = []

    def guarded(server: str, client: str) -> bool:
        """Whether the shim would guard ``server`` of ``client`` (your config, or mcpcred.toml)."""
        import os

        from mcpcred.errors import ConfigError
        from mcpcred.guard.settings import load

        try:
            return load(server, os.environ, client=client) is not None
        except ConfigError as exc:
            if not guard_problem:
                guard_problem.append(exc.message)
            return False

    rows = [
        {
            "client": u.client,
            "server": u.server,
            "path": u.path,
            "scope": u.scope,
            "transport": u.transport,
            "wrapped": u.wrapped,
            "guarded": guarded(u.server, u.client),
            "plaintext_secrets": u.plaintext,
            "credentials": [
                # a server not started through mcpcred gets the reference as plain text
                {
                    "reference": references.whole(n, k),
                    "state": LITERAL if (k, n) in u.literal else state(k, n),
                }
                for k, n in u.refs
            ],
        }
        for u in uses
    ]
    for u in uses:
        if u.literal:
            fix = (
                f"mcpcred wrap {u.client} --server {shlex.quote(u.server)}"
                if u.transport == "stdio"
                else "only headers are resolved, through the client's headers helper"
            )
            sys.stderr.write(
                f"warning: {u.client}/{u.server} holds "
                f"{references.whole(u.literal[0][1], u.literal[0][0])} where mcpcred does not "
                f"resolve it: the server gets that text, not the value (fix: {fix})\n"
            )
    for problem in guard_problem:
        sys.stderr.write(f"warning: guard settings: {printable(problem)}\n")
    logins: list[dict[str, object]] = []
    if store is not None:
        try:
            logins = login_rows(direct.vault() if direct is not None else None)
        except SecretStoreError as exc:
            sys.stderr.write(f"warning: cannot read logins: {exc.message}\n")
    broken = unresolved(rows)
    code = EXIT_FINDINGS if broken else 0
    if as_json:
        from mcpcred.terminal import write_json

        write_json(
            {
                "ok": not broken,
                "keychain": backend,
                "store": in_use,
                "logins": logins,
                "servers": rows,
                "unresolved": broken,
                "errors": [
                    {"client": e.client, "path": e.path, "error": e.message} for e in errors
                ],
            }
        )
        return code
    from rich.table import Table

    from mcpcred.terminal import cell, emit
    from mcpcred.terminal import console as make_console

    console = make_console()
    console.print(f"keychain: {backend}")
    console.print(f"store: {in_use['store']} ({in_use['reason']})")
    if not rows:
        console.print("no MCP servers found (see `mcpcred clients --all` for where mcpcred looks)")
    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("client", "server", "wrapped", "credentials", "file"):
        table.add_column(column, overflow="fold")
    for row in rows:
        creds = [f"{c['reference']} ({c['state']})" for c in row["credentials"]]  # type: ignore[attr-defined]
        if row["plaintext_secrets"]:
            creds.append(f"{row['plaintext_secrets']} in plain text")
        wrapped = "yes" if row["wrapped"] else ("remote" if row["transport"] == "remote" else "no")
        if row["guarded"]:
            wrapped = "guarded" if row["wrapped"] else f"{wrapped} (guard needs wrap)"
        table.add_row(
            str(row["client"]),
            printable(str(row["server"])),
            wrapped,
            cell([printable(c) for c in creds], console) or "-",
            printable(str(row["path"])),
        )
    if rows:
        emit(console, table)
    if logins:
        console.print("")
        emit(console, _logins_table(logins))
    for error in errors:
        sys.stderr.write(f"warning: {printable(error.path)}: {printable(error.message)}\n")
    if broken:
        where = ", ".join(
            f"{b['client']}/{b['server']} {b['reference']} ({b['state']})" for b in broken
        )
        sys.stderr.write(f"error: credentials that do not resolve: {printable(where)}\n")
        sys.stderr.write(
            "hint: `mcpcred secret set NAME` or `mcpcred login ...` as the state says; "
            "the servers fail to start until then\n"
        )
    return code


# States that mean the shim would not get a value: the server fails to start. "not checked"
# (a password manager asked only with --check) and "literal" (a server not started through
# mcpcred gets the reference's text; warned about above) are not among them.
RESOLVES = frozenset({"ok", "not checked", LITERAL})


def unresolved(rows: list[dict[str, object]]) -> list[dict[str, str]]:
    """``(client, server, reference, state)`` of every credential of a server started
    through mcpcred (wrapped, or a remote one through the bridge or the headers helper)
    that does not resolve; empty when every one does. Decides ``status``'s exit code."""
    return [
        {
            "client": str(row["client"]),
            "server": str(row["server"]),
            "reference": str(credential["reference"]),
            "state": str(credential["state"]),
        }
        for row in rows
        for credential in row["credentials"]  # type: ignore[attr-defined]
        if credential["state"] not in RESOLVES
    ]


def credential_state(store: SecretStore | None, kind: str, name: str, *, check: bool) -> str:
    """Whether one reference resolves: ``ok``, ``missing``, ``not logged in``, ``locked``...

    Never the value. Without ``check`` a keychain secret is only looked up (no read, so no
    unlock prompt) and password managers are not asked; ``doctor`` and ``status --check``
    read it. Shared by ``status`` and ``doctor``, so both say the same about a reference.
    """
    from mcpcred import references
    from mcpcred.oauth import records

    if kind in references.EXTERNAL:
        return _external_state(kind, name) if check else "not checked"
    if kind not in references.KINDS:
        return "unsupported"
    if store is None:
        return "unknown"
    item = name
    if kind == references.OAUTH:
        item = records.record_name(*references.split_login(name))
    try:
        if check and kind == references.SECRET:
            return _secret_state(store, item)
        found = store.exists(item)
        return "ok" if found else ("not logged in" if kind == references.OAUTH else "missing")
    except SecretStoreError as exc:
        return f"error: {exc.message}"


def _external_state(kind: str, locator: str) -> str:
    """What the password manager says about one reference, never its value."""
    import os

    from mcpcred.external import check

    return check(kind, locator, os.environ, timeout=CHECK_TIMEOUT)


def _secret_state(store: object, name: str) -> str:
    """``ok``, ``missing``, ``locked`` or ``error: ...`` for one keychain secret (read, dropped)."""
    from mcpcred.errors import KeychainLocked, SecretNotFound
    from mcpcred.keychain.store import SecretStore

    assert isinstance(store, SecretStore)  # noqa: S101
    try:
        store.get(name)
    except SecretNotFound:
        return "missing"
    except KeychainLocked:
        return "locked"
    except SecretStoreError as exc:
        return f"error: {exc.message}"
    return "ok"


def _logins_table(logins: list[dict[str, object]]) -> object:
    """One row per login: who, scopes, access-token expiry, refresh token; never a value."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("login", "user", "scopes", "access token", "refresh token"):
        table.add_column(column, overflow="fold")
    for row in logins:
        left = row["access_expires_in"]
        if not row["access_cached"]:
            access = "none cached"
        elif left is None:
            access = "does not expire"
        elif not isinstance(left, int) or left <= 0:
            access = "expired (refreshed at next start)"
        else:
            access = f"expires in {_duration(left)}"
        refresh = "yes" if row["refresh_token"] else ("no" if row["stored"] else "missing login")
        scopes = row["scopes"]
        table.add_row(
            str(row["reference"]),
            printable(str(row["user"] or "-")),
            printable(" ".join(scopes)) if isinstance(scopes, list) else "-",
            access,
            refresh,
        )
    return table


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _store_in_use(known: Choice | None = None) -> dict[str, str | None]:
    """Which store answers (OS keychain or file store) and why; see ``keychain.selection``.

    ``known``: the answer already found without keyring (``keychain.direct``)."""
    from mcpcred.keychain.selection import explain

    try:
        choice = known or explain(os.environ)
    except Exception as exc:  # keyring's discovery failing is itself the answer
        from mcpcred.errors import describe

        return {"store": "none", "reason": describe(exc), "path": None}
    return {"store": choice.kind, "reason": choice.reason, "path": choice.path}
