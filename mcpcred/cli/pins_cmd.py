"""``mcpcred pins list|diff|accept|forget``: the tool definitions guard mode pinned.

Guard mode pins a server's tools at its first start; later changes wait as
*pending* in the pin file (and, with ``on_change = "block"``, are withheld
from the client) until accepted here. Everything works from the pin files, so
the server need not be running. Tool names and definitions come from the
server: text output escapes hidden and control characters, so a bidi
override or an escape sequence in a definition cannot rewrite what is shown.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

import typer

from mcpcred.cli.app import app
from mcpcred.errors import EXIT_CONFIG, EXIT_FINDINGS, ConfigError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from mcpcred.guard.pins import PinStore

pins_app = typer.Typer(
    help="Review the tool definitions guard mode pinned, and accept changes to them.",
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


def _documents(
    store: PinStore, server: str | None
) -> tuple[list[tuple[str, dict[str, object]]], list[ConfigError]]:
    """Pin files of one server (which must exist) or of all; unreadable ones apart."""
    if server is not None:
        document = store.load(server)
        if document is None:
            raise UsageError(f"no pinned tools for server '{server}'", hint=store.known_hint())
        return [(server, document)], []
    found: list[tuple[str, dict[str, object]]] = []
    errors: list[ConfigError] = []
    for name in store.servers():
        try:
            document = store.load(name)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if document is not None:
            found.append((name, document))
    return found, errors


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
) -> int:
    """Servers with pinned tools: how many, since when, pending changes, hidden instructions."""
    from mcpcred.guard.hidden import safe_text

    store = _store()
    documents, errors = _documents(store, None)
    rows = []
    for server, document in documents:
        hidden = _hidden(document)
        rows.append(
            {
                "server": server,
                "tools": len(_entries(document.get("tools"))),
                "pinned_at": document.get("pinned_at"),
                "pending": _counts(document),
                "hidden_findings": sum(len(found) for found in hidden.values()),
                "flagged_tools": sorted(hidden),
            }
        )
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return _report(errors)
    if not rows and not errors:
        sys.stderr.write(
            "no pinned tools yet: guard mode pins a server's tools at its first start\n"
        )
        return 0
    table = [("server", "tools", "pinned", "pending", "hidden")]
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
    exit_code: bool = typer.Option(
        False, "--exit-code", help="Exit with 1 when changes are pending (like git diff)."
    ),
) -> int:
    """Show pending tool changes: what was pinned, what the server offers now."""
    from mcpcred.guard.hidden import safe_text, scan_tool
    from mcpcred.guard.pins import diff_lines

    store = _store()
    documents, errors = _documents(store, server)
    changes = []
    for name, document in documents:
        pins = _entries(document.get("tools"))
        for tool, entry in sorted(_entries(document.get("pending")).items()):
            pinned = _definition(pins.get(tool, {}))
            offered = _definition(entry)
            changes.append(
                {
                    "server": name,
                    "tool": tool,
                    "change": entry.get("change"),
                    "seen_at": entry.get("seen_at"),
                    "pinned": pinned,
                    "offered": offered,
                    "hidden": [f.as_dict() for f in scan_tool(offered)] if offered else [],
                }
            )
    if as_json:
        sys.stdout.write(json.dumps(changes, indent=2) + "\n")
    elif not changes:
        if not errors:
            sys.stderr.write("no pending changes to pinned tools\n")
    else:
        out: list[str] = []
        for name, _ in documents:
            mine = [c for c in changes if c["server"] == name]
            if not mine:
                continue
            shown = safe_text(name, 80)
            plural = "s" if len(mine) != 1 else ""
            out.append(f"server {shown}: {len(mine)} pending change{plural}")
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
            out.append(f"accept with: mcpcred pins accept {shown}")
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
) -> int:
    """Make pending tool changes the new pins (review them first with `pins diff`)."""
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
        before = store.load(name)
        drift = store.accept(name, tools or None)
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
        pending = _entries(before.get("pending")) if before else {}
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
) -> int:
    """Delete a server's pins; its tools are pinned again at its next start."""
    from mcpcred.guard.hidden import safe_text

    store = _store()
    if not store.forget(server):
        raise UsageError(f"no pinned tools for server '{server}'", hint=store.known_hint())
    sys.stderr.write(
        f"forgot the pinned tools of server '{safe_text(server, 80)}'; "
        "they are pinned again at its next start\n"
    )
    return 0
