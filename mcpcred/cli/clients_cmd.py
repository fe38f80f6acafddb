"""``mcpcred clients``: which MCP clients are configured here, and where."""

from __future__ import annotations

import typer

from mcpcred.cli.app import app
from mcpcred.host import Host
from mcpcred.inventory import ClientStatus, inventory


@app.command("clients")
def clients(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    all_paths: bool = typer.Option(
        False, "--all", "-a", help="Also list the config paths that do not exist."
    ),
) -> int:
    """List supported clients: found or not, config paths, servers, how many are wrapped.

    Example: mcpcred clients --all --json
    """
    statuses = inventory(Host.current())
    if as_json:
        from mcpcred.terminal import write_json

        write_json({"clients": [_as_dict(s) for s in statuses]})
        return 0
    from rich.table import Table

    from mcpcred.terminal import cell, emit
    from mcpcred.terminal import console as make_console

    console = make_console()

    table = Table(box=None, pad_edge=False, show_edge=False)
    for column in ("client", "found", "stdio", "remote", "wrapped"):
        table.add_column(
            column, justify="right" if column in {"stdio", "remote", "wrapped"} else "left"
        )
    table.add_column("config files", overflow="fold")  # a path is never cut short
    for status in statuses:
        files = [f for f in status.files if f.exists or all_paths]
        lines = [
            f"{f.path}"
            + ("" if f.exists else " (absent)")
            + (f"  [error: {f.error}]" if f.error else "")
            for f in files
        ]
        table.add_row(
            status.id,
            "yes" if status.found else "no",
            str(status.total("stdio")),
            str(status.total("remote")),
            str(status.total("wrapped")),
            cell(lines, console) or "-",
        )
    emit(console, table)
    return 0


def _as_dict(status: ClientStatus) -> dict[str, object]:
    return {
        "id": status.id,
        "name": status.name,
        "found": status.found,
        "servers": {
            "stdio": status.total("stdio"),
            "remote": status.total("remote"),
            "wrapped": status.total("wrapped"),
        },
        "files": [
            {
                "path": f.path,
                "scope": f.scope,
                "format": f.format,
                "exists": f.exists,
                "stdio": f.stdio,
                "remote": f.remote,
                "wrapped": f.wrapped,
                "error": f.error,
            }
            for f in status.files
        ],
    }
