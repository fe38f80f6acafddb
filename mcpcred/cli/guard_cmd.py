"""``mcpcred guard CLIENT --server NAME``: turn on guard mode for one server.

Guard mode is configured in mcpcred's own config file (``[servers.NAME]``),
not in the client's: the client only needs to start the server through the
shim, which ``wrap`` arranges (and this command does first, if needed). The
table is edited with tomlkit, so the user's comments and layout survive, and
written atomically; a file mcpcred cannot parse is never touched.

Server names belong to a client (``github`` in Claude Code and in Cursor may
be different servers), so the table this command writes carries ``clients =
[CLIENT]``; ``--all-clients`` writes one for every client instead. A table
without ``clients`` (hand-written, or from before the key existed) applies to
every client: changing it needs ``--all-clients``, so a change for one client
never silently reaches the others.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from mcpcred.cli.app import app
from mcpcred.errors import ConfigError, UsageError
from mcpcred.terminal import printable


@app.command("guard")
def guard(
    client: str = typer.Argument(
        ..., help="Client id (see `mcpcred clients`).", show_default=False
    ),
    server: str = typer.Option(
        ..., "--server", "-s", help="The server to guard.", show_default=False
    ),
    allow: list[str] = typer.Option(
        [], "--allow", help="Only tools matching this glob (repeatable)."
    ),
    deny: list[str] = typer.Option(
        [], "--deny", help="Never tools matching this glob (repeatable)."
    ),
    preset: list[str] = typer.Option(
        [],
        "--preset",
        help="A named allow list: read-only, github-read-only, filesystem-read-only.",
    ),
    on_change: str | None = typer.Option(
        None, "--on-change", help="When tool definitions change: warn (default) or block."
    ),
    restart_on_expiry: bool | None = typer.Option(
        None,
        "--restart-on-expiry/--no-restart-on-expiry",
        help="Restart the server with a fresh OAuth token before its token expires.",
        show_default=False,
    ),
    on_log_failure: str | None = typer.Option(
        None,
        "--on-log-failure",
        help="When a request's audit record cannot be written: refuse it (default) or allow it.",
    ),
    off: bool = typer.Option(False, "--off", help="Stop guarding this server (guard = false)."),
    all_clients: bool = typer.Option(
        False,
        "--all-clients",
        help="Apply to the server of this name in every client, not only CLIENT.",
    ),
    config: str | None = typer.Option(None, "--config", help="Only this client config file."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before wrapping."),
) -> int:
    """Relay a server through mcpcred: audit log, tool policy, pinned tool definitions.

    Example: mcpcred guard claude-code --server github --preset github-read-only
    """
    from mcpcred.guard.settings import ON_CHANGE, ON_LOG_FAILURE, PRESETS
    from mcpcred.paths import config_file

    if on_change is not None and on_change not in ON_CHANGE:
        raise UsageError("--on-change must be warn or block")
    if on_log_failure is not None and on_log_failure not in ON_LOG_FAILURE:
        raise UsageError("--on-log-failure must be refuse or allow")
    for name in preset:
        if name not in PRESETS:
            raise UsageError(
                f"unknown preset {name!r}", hint=f"presets: {', '.join(sorted(PRESETS))}"
            )
    if off and (allow or deny or preset or on_change or restart_on_expiry or on_log_failure):
        raise UsageError("--off takes no policy options")
    from mcpcred.wrap.service import adapter_for

    adapter_for(client)  # an unknown client is a usage error before anything is written
    path = config_file()
    scope = None if all_clients else client

    def edited() -> str:
        return _edit(
            _read(str(path)),
            str(path),
            server,
            allow=allow,
            deny=deny,
            preset=preset,
            on_change=on_change,
            restart=restart_on_expiry,
            on_log_failure=on_log_failure,
            off=off,
            client=scope,
        )

    edited()  # a config file mcpcred cannot edit stops here, before the client's is touched
    if not off:
        from mcpcred.cli.wrap_cmd import wrap

        wrap(
            client,
            config=config,
            server=[server],
            dry_run=False,
            yes=yes,
            bind=[],
            remote=None,
            name=None,
            header=[],
            header_from_stdin=None,
            oauth=False,
            transport="auto",
            allow_http=False,
            bridge=True,  # a remote server is guarded only through the bridge
        )
    updated = edited()
    from mcpcred.fsutil import atomic_write
    from mcpcred.paths import private_dir

    private_dir(path.parent)
    atomic_write(str(path), updated)
    import tomllib

    scoped = tomllib.loads(updated)["servers"][server].get("clients")
    state = "no longer guarded" if off else "guarded"
    where = f"in {client}" if scoped else "in every client"
    sys.stderr.write(printable(f"{server}: {state} {where} ({path} [servers.{server}])") + "\n")
    if not off:
        sys.stderr.write(
            f"restart the client; calls are logged (mcpcred log --server {server}) and tool "
            f"definitions are pinned on the first start (mcpcred pins list)\n"
        )
    return 0


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {type(exc).__name__}") from None


def _edit(
    text: str,
    path: str,
    server: str,
    *,
    allow: list[str],
    deny: list[str],
    preset: list[str],
    on_change: str | None,
    restart: bool | None,
    off: bool,
    on_log_failure: str | None = None,
    client: str | None = None,
) -> str:
    """``text`` with ``[servers.SERVER]`` updated; options not given keep their values.

    ``client`` scopes the change to that client (``clients = [...]``); None
    means every client (``--all-clients``).
    """
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        document: Any = tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError(
            f"{path}: not valid TOML ({exc}); not changed", hint="fix the file first"
        ) from None
    servers = document.get("servers")
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        document["servers"] = servers
    table = servers.get(server)
    if table is None:
        table = tomlkit.table()
        servers[server] = table
        if client is not None:
            table["clients"] = [client]
    elif client is None:
        if "clients" in table:
            del table["clients"]
    elif "clients" not in table and (
        off or allow or deny or preset or on_change or restart is not None or "guard" in table
    ):
        raise UsageError(
            f"[servers.{server}] in {path} applies to the server {server!r} of every client; "
            f"changing it for {client} would change it for all of them",
            hint=f'pass --all-clients, or add clients = ["{client}"] to that table',
        )
    elif "clients" in table:
        clients = [str(c) for c in table["clients"]]
        if off:
            if client not in clients:
                return _checked_dump(document, path, server)  # not guarded there: nothing to do
            if clients != [client]:
                table["clients"] = [c for c in clients if c != client]  # the others stay guarded
                return _checked_dump(document, path, server)
        elif table.get("guard") is False:
            table["clients"] = [client]  # the others stay off
        elif client not in clients:
            table["clients"] = [*clients, client]
    if off:
        table["guard"] = False
    else:
        if "guard" in table:
            del table["guard"]
        for key, values in (("allow", allow), ("deny", deny)):
            if values:
                existing = [str(v) for v in table.get(key, [])]
                table[key] = existing + [v for v in values if v not in existing]
        if preset:
            table["preset"] = preset[0] if len(preset) == 1 else list(preset)
        if on_change is not None:
            table["on_change"] = on_change
        if restart is not None:
            table["restart_on_expiry"] = restart
        if on_log_failure is not None:
            table["on_log_failure"] = on_log_failure
    return _checked_dump(document, path, server)


def _checked_dump(document: Any, path: str, server: str) -> str:
    import tomlkit

    updated: str = tomlkit.dumps(document)
    _check(updated, path, server)
    return updated


def _check(text: str, path: str, server: str) -> None:
    """Refuse to write a table the shim would reject (it would fail every start)."""
    import tomllib

    from mcpcred.guard.settings import check_table

    data = tomllib.loads(text)
    check_table(path, server, data["servers"][server], project=False)
