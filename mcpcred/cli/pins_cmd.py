"""``mcpcred pins list|diff|accept|forget``: the tool definitions guard mode pinned.

Guard mode pins a server's tools at its first start, per client (servers
offer different tools to clients with different capabilities); later changes
wait as *pending* in the pin file (and, with ``on_change = "block"``, are
withheld from the client) until accepted here. Every command covers all
clients of a server unless ``--client`` names one (a client key such as
``claude-code.1f0e3dad``, or the client name before its dot). Everything works
from the pin files, so the server need not be running. Tool names and definitions come from the
server: text output escapes hidden and control characters, so a bidi
override or an escape sequence in a definition cannot rewrite what is shown.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import typer

from mcpcred.cli.app import app
from mcpcred.errors import EXIT_CONFIG, EXIT_FINDINGS, ConfigError, UsageError
from mcpcred.terminal import write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcpcred.guard.pins import PinStore

pins_app = typer.Typer(
    help="Review the tool definitions guard mode pinned, and accept changes to them."
    + "\n\nExample: mcpcred pins diff",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(pins_app, name="pins")


def _store() -> PinStore:
    from mcpcred.guard.pins import PinStore, default_folder

    return PinStore(default_folder())


CLIENT_HELP = "Only this client's pins: a key from `pins list`, or the client name before its dot."
Found = list[tuple[str, str | None, dict[str, object]]]


def _documents(
    store: PinStore, server: str | None, client: str | None = None
) -> tuple[Found, list[ConfigError]]:
    """Pin files (server, client key, document) of one server (which must have pins) or of
    all, only ``client``'s with one; unreadable ones apart."""
    from mcpcred.guard.pins import client_matches

    errors: list[ConfigError] = []
    found: Found = []
    for name in [server] if server is not None else store.servers():
        for key, document in store.documents(name, errors):
            if client_matches(key, client):
                found.append((name, key, document))
    if server is not None and not found and not errors:
        what = f"client '{client}' of server '{server}'" if client else f"server '{server}'"
        raise UsageError(f"no pinned tools for {what}", hint=store.known_hint())
    return found, errors


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _client_label(key: str | None) -> str:
    return key if key is not None else "(any, from before per-client pins)"


def _report(errors: list[ConfigError]) -> int:
    for exc in errors:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"hint: {exc.hint}\n")
    return EXIT_CONFIG if errors else 0


def _entries(value: object) -> dict[str, dict[str, object]]:
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, dict)}


def _definition(entry: Mapping[str, object]) -> dict[str, object] | None:
    value = entry.get("definition")
    return value if isinstance(value, dict) else None


def _hidden(document: Mapping[str, object]) -> dict[str, list[dict[str, str]]]:
    """Hidden-content findings per tool, over pinned and pending definitions."""
    from mcpcred.guard.hidden import scan_tool

    out: dict[str, list[dict[str, str]]] = {}
    for section in ("tools", "pending"):
        for name, entry in _entries(document.get(section)).items():
            shape = _definition(entry)
            if shape is None:
                continue
            for finding in scan_tool(shape):
                row = finding.as_dict()
                if row not in out.setdefault(name, []):
                    out[name].append(row)
    return {name: rows for name, rows in sorted(out.items()) if rows}


def _counts(document: Mapping[str, object]) -> dict[str, int]:
    counts = {"added": 0, "changed": 0, "removed": 0}
    for entry in _entries(document.get("pending")).values():
        change = entry.get("change")
        if isinstance(change, str) and change in counts:
            counts[change] += 1
    return counts


@pins_app.command("list")
def pins_list(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    client: str | None = typer.Option(None, "--client", help=CLIENT_HELP, show_default=False),
) -> int:
    """Servers and clients with pinned tools: how many, since when, pending changes, findings.

    Example: mcpcred pins list --json
    """
    from mcpcred.guard.hidden import safe_text

    store = _store()
    documents, errors = _documents(store, None, client)
    rows = []
    for server, key, document in documents:
        hidden = _hidden(document)
        capabilities = document.get("capabilities")
        rows.append(
            {
                "server": server,
                "client": key,
                "client_name": document.get("client_name"),
                "capabilities": capabilities if isinstance(capabilities, list) else None,
                "tools": len(_entries(document.get("tools"))),
                "pinned_at": document.get("pinned_at"),
                "pending": _counts(document),
                "hidden_findings": sum(len(found) for found in hidden.values()),
                "flagged_tools": sorted(hidden),
            }
        )
    if as_json:
        write_json({"pins": rows})
        return _report(errors)
    if not rows and not errors:
        sys.stderr.write(
            "no pinned tools yet: guard mode pins a server's tools at its first start\n"
        )
        return 0
    table = [("server", "client", "tools", "pinned", "pending", "hidden")]
    for row in rows:
        pending = row["pending"]
        assert isinstance(pending, dict)  # noqa: S101 - built above
        waiting = (
            ", ".join(f"{n} {kind}" for kind, n in pending.items() if n)
            if any(pending.values())
            else "-"
        )
        flagged = row["flagged_tools"]
        assert isinstance(flagged, list)  # noqa: S101 - built above
        table.append(
            (
                safe_text(str(row["server"]), 40),
                safe_text(_client_label(_text(row["client"])), 60),
                str(row["tools"]),
                str(row["pinned_at"] or "-")[:10],
                waiting,
                f"{len(flagged)} tool{'s' if len(flagged) != 1 else ''}" if flagged else "-",
            )
        )
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        sys.stdout.write("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        sys.stdout.write("\n")
    return _report(errors)


@pins_app.command("diff")
def pins_diff(
    server: str | None = typer.Argument(
        None, help="Server name (default: every server with pins).", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    client: str | None = typer.Option(None, "--client", help=CLIENT_HELP, show_default=False),
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit with 1 when changes are pending (like git diff)."
    ),
) -> int:
    """Show pending tool changes: what was pinned, what the server offers now.

    Example: mcpcred pins diff github --exit-code
    """
    from mcpcred.guard.hidden import safe_text, scan_tool
    from mcpcred.guard.pins import diff_lines

    store = _store()
    documents, errors = _documents(store, server, client)
    changes = []
    for name, key, document in documents:
        pins = _entries(document.get("tools"))
        for tool, entry in sorted(_entries(document.get("pending")).items()):
            pinned = _definition(pins.get(tool, {}))
            offered = _definition(entry)
            changes.append(
                {
                    "server": name,
                    "client": key,
                    "tool": tool,
                    "change": entry.get("change"),
                    "seen_at": entry.get("seen_at"),
                    "pinned": pinned,
                    "offered": offered,
                    "hidden": [f.as_dict() for f in scan_tool(offered)] if offered else [],
                }
            )
    if as_json:
        write_json({"changes": changes})
    elif not changes:
        if not errors:
            sys.stderr.write("no pending changes to pinned tools\n")
    else:
        out: list[str] = []
        for name, key, _ in documents:
            mine = [c for c in changes if c["server"] == name and c["client"] == key]
            if not mine:
                continue
            shown = safe_text(name, 80)
            plural = "s" if len(mine) != 1 else ""
            out.append(
                f"server {shown}, client {safe_text(_client_label(key), 80)}: "
                f"{len(mine)} pending change{plural}"
            )
            for change in mine:
                out.append(
                    f"{change['change']} tool {safe_text(str(change['tool']), 80)} "
                    f"(first seen {change['seen_at']})"
                )
                hidden = change["hidden"]
                assert isinstance(hidden, list)  # noqa: S101 - built above
                out.extend(f"  ! hidden {f['kind']} in {f['where']}: {f['detail']}" for f in hidden)
                old = change["pinned"]
                new = change["offered"]
                assert old is None or isinstance(old, dict)  # noqa: S101 - built above
                assert new is None or isinstance(new, dict)  # noqa: S101 - built above
                out.extend("  " + line for line in diff_lines(old, new))
            only = f" --client {safe_text(key, 80)}" if key is not None else ""
            out.append(f"accept with: mcpcred pins accept {shown}{only}")
            out.append("")
        sys.stdout.write("\n".join(out))
    status = _report(errors)
    if status:
        return status
    return EXIT_FINDINGS if exit_code and changes else 0


@pins_app.command("accept")
def pins_accept(
    server: str | None = typer.Argument(None, help="Server name.", show_default=False),
    tools: list[str] = typer.Option(
        [], "--tool", help="Accept only this tool's change (repeatable).", show_default=False
    ),
    all_servers: bool = typer.Option(
        False, "--all-servers", help="Accept every pending change of every server."
    ),
    client: str | None = typer.Option(None, "--client", help=CLIENT_HELP, show_default=False),
) -> int:
    """Make pending tool changes the new pins (review them first with `pins diff`).

    Example: mcpcred pins accept github --tool create_issue
    """
    from mcpcred.guard.hidden import safe_text, scan_tool

    store = _store()
    if all_servers and server is not None:
        raise UsageError("give a server name or --all-servers, not both")
    if all_servers and tools:
        raise UsageError("--tool needs a server name, not --all-servers")
    if not all_servers and server is None:
        raise UsageError("name the server whose changes to accept", hint=store.known_hint())
    targets = store.servers() if all_servers else [server] if server is not None else []
    for name in targets:
        before: dict[str, object] = {}
        for _, document in store.documents(name):
            before.update(_entries(document.get("pending")))
        if all_servers and client is not None:
            try:
                drift = store.accept(name, None, client)
            except UsageError:
                continue  # this server has no pins of that client
        else:
            drift = store.accept(name, tools or None, client)
        shown = safe_text(name, 80)
        if not drift:
            sys.stderr.write(f"nothing to accept for server '{shown}'\n")
            continue
        parts = [
            f"{kind} " + ", ".join(safe_text(t, 80) for t in names)
            for kind, names in (
                ("changed", drift.changed),
                ("added", drift.added),
                ("removed", drift.removed),
            )
            if names
        ]
        sys.stderr.write(f"accepted for server '{shown}': {'; '.join(parts)}\n")
        pending = _entries(before)
        for tool in [*drift.changed, *drift.added]:
            shape = _definition(pending.get(tool, {}))
            kinds = sorted({f.kind for f in scan_tool(shape)}) if shape else []
            if kinds:
                sys.stderr.write(
                    f"warning: tool '{safe_text(tool, 80)}' has hidden content in its "
                    f"definition ({', '.join(kinds)})\n"
                )
    return 0


@pins_app.command("forget")
def pins_forget(
    server: str = typer.Argument(..., help="Server name.", show_default=False),
    client: str | None = typer.Option(None, "--client", help=CLIENT_HELP, show_default=False),
) -> int:
    """Delete a server's pins (or one client's); its tools are pinned again at its next start.

    Example: mcpcred pins forget github --client cursor
    """
    from mcpcred.guard.hidden import safe_text

    store = _store()
    removed = store.forget(server, client)
    if not removed:
        what = f"client '{client}' of server '{server}'" if client else f"server '{server}'"
        raise UsageError(f"no pinned tools for {what}", hint=store.known_hint())
    whose = f"client '{safe_text(client, 80)}' of " if client else ""
    files = f"{removed} pin file{'s' if removed != 1 else ''}"
    sys.stderr.write(
        f"forgot the pinned tools of {whose}server '{safe_text(server, 80)}' ({files}); "
        "they are pinned again at its next start\n"
    )
    return 0
