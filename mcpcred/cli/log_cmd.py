"""``mcpcred log [verify|export]``: read, check and send the audit log that guard mode writes.

``mcpcred log`` shows records (a table, or JSON Lines with ``--json``),
filtered by server, tool, time, event and outcome, and with ``--follow``
keeps printing new ones. Showing needs no key. ``mcpcred log verify`` checks
the HMAC chain with the key from the keychain, and the files against the
keychain's checkpoint of them, and exits 1 when the log was changed: edited,
forged, reordered, cut short, rolled back to an older copy, cut at its start
or deleted.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import typer

from mcpcred.cli.app import app
from mcpcred.errors import (
    EXIT_FINDINGS,
    SecretNotFound,
    SecretStoreError,
    ShimError,
    UsageError,
    describe,
)
from mcpcred.guard.logtime import record_time
from mcpcred.terminal import json_text, printable, write_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpcred.guard import auditlog
    from mcpcred.guard.auditlog import Record

log_app = typer.Typer(
    help="Show the audit log of guarded servers; `log verify` checks it, `log export` sends it."
    + "\n\nExample: mcpcred log --since 30m",
    invoke_without_command=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(log_app, name="log")

POLL_SECONDS = 0.3
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_COLUMNS = (  # header, width
    ("time", 19),
    ("server", 12),
    ("client", 11),
    ("event", 14),
    ("tool / uri", 22),
    ("outcome", 7),
    ("duration", 8),
    ("size", 7),
)
_NO_WRAP = {"time", "outcome", "duration", "size"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """``30m``, ``2h``, ``7d``, ``45s``, ``1w`` ago, or an ISO date/time (local unless it says)."""
    value = text.strip()
    match = re.fullmatch(r"(\d+)\s*([smhdw])", value)
    if match:
        moment = now or datetime.now(UTC)
        return moment - timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"--since {text!r} is neither a duration nor a date",
            hint="use 45s, 30m, 2h, 7d, 1w, or an ISO date/time such as 2025-01-31 or "
            "2025-01-31T14:00",
        ) from None
    return when if when.tzinfo else when.astimezone()


def _filter(
    *,
    server: str | None,
    tool: str | None,
    since: datetime | None,
    denied: bool,
    event: str | None,
) -> Callable[[Record], bool]:
    from fnmatch import fnmatchcase

    def matches(record: Record) -> bool:
        if server is not None and record.get("server") != server:
            return False
        if event is not None and record.get("event") != event:
            return False
        if denied and record.get("outcome") != "denied":
            return False
        if tool is not None:
            name = record.get("tool")
            if not isinstance(name, str) or not fnmatchcase(name, tool):
                return False
        if since is not None:
            when = record_time(record.get("time"))
            if when is None or when < since:
                return False
        return True

    return matches


@log_app.callback()
def log_show(
    ctx: typer.Context,
    server: str | None = typer.Option(None, "--server", "-s", help="Only this server."),
    tool: str | None = typer.Option(
        None, "--tool", help="Only tools whose name matches this glob, e.g. 'create_*'."
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only records since 45s, 30m, 2h, 7d ago, or an ISO date/time."
    ),
    denied: bool = typer.Option(False, "--denied", help="Only calls that guard mode denied."),
    event: str | None = typer.Option(
        None,
        "--event",
        help="Only this event: request, call, session, inject, refresh, pins, finding, "
        "malformed, mask, exit, restart, journal.",
    ),
    limit: int = typer.Option(
        50, "--limit", "-n", help="Show the last N matching records (0: all).", min=0
    ),
    as_json: bool = typer.Option(
        False, "--json", help="JSON Lines: the stored records, MAC included."
    ),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing new records (Ctrl-C stops)."
    ),
) -> int:
    """Show the audit log of guarded servers (the last 50 records unless --limit).

    Example: mcpcred log --server github --since 2h --denied
    """
    if ctx.invoked_subcommand is not None:
        return 0
    from mcpcred.guard import auditlog

    matches = _filter(
        server=server,
        tool=tool,
        since=parse_since(since) if since is not None else None,
        denied=denied,
        event=event,
    )
    folder = auditlog.default_folder()
    if not auditlog.exists(folder) and not follow:
        sys.stderr.write("no audit log yet: guarded servers write it as they run\n")
        return 0
    follower = auditlog.Follower(folder)
    shown: deque[Record] = deque(maxlen=limit or None)
    bad = 0
    for _, _, record in follower.poll():
        if record is None:
            bad += 1
        elif matches(record):
            shown.append(record)
    if bad:
        sys.stderr.write(
            f"note: {bad} line(s) of the log are not records; check it: mcpcred log verify\n"
        )
    write = _json_writer() if as_json else _table_writer(fixed=follow)
    write(list(shown), True)
    if not follow:
        if not shown and not as_json:
            sys.stderr.write("no matching records\n")
        return 0
    if not auditlog.exists(folder):
        sys.stderr.write("no audit log yet; waiting for records (Ctrl-C stops)\n")
    header = not shown
    while True:
        time.sleep(POLL_SECONDS)
        new = [r for _, _, r in follower.poll() if r is not None and matches(r)]
        if new:
            write(new, header)
            header = False


def _json_writer() -> Callable[[list[Record], bool], None]:
    def write(records: list[Record], header: bool) -> None:
        for record in records:
            line = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
            sys.stdout.write(json_text(line) + "\n")
        sys.stdout.flush()

    return write


def _table_writer(*, fixed: bool) -> Callable[[list[Record], bool], None]:
    """Rows as a rich table; ``fixed`` widths keep later batches (``--follow``) aligned."""
    from rich.table import Table

    from mcpcred.terminal import console as make_console
    from mcpcred.terminal import emit, is_terminal

    console = make_console()
    fixed = fixed and is_terminal(console.file)  # piped: whole cells, never cut to fit
    widths = _fixed_widths(console.width)

    def write(records: list[Record], header: bool) -> None:
        if not records:
            return
        table = Table(box=None, pad_edge=False, show_edge=False, show_header=header)
        for name, width in _COLUMNS:
            if fixed:
                table.add_column(name, width=widths[name], no_wrap=True, overflow="ellipsis")
            elif name in _NO_WRAP:
                table.add_column(name, no_wrap=True, min_width=width)
            else:
                table.add_column(name, overflow="fold")
        for record in records:
            table.add_row(*(printable(cell) for cell in _cells(record)))
        emit(console, table)
        console.file.flush()

    return write


def _fixed_widths(total: int) -> dict[str, int]:
    """Column widths for ``total`` characters: the short columns keep theirs, the others shrink."""
    gaps = 2 * (len(_COLUMNS) - 1)
    kept = sum(width for name, width in _COLUMNS if name in _NO_WRAP)
    flexible = sum(width for name, width in _COLUMNS if name not in _NO_WRAP)
    room = min(flexible, total - gaps - kept)
    return {
        name: width if name in _NO_WRAP else max(4, width * room // flexible)
        for name, width in _COLUMNS
    }


def _cells(record: Record) -> list[str]:
    when = record_time(record.get("time"))
    stamp = when.astimezone().strftime("%Y-%m-%d %H:%M:%S") if when else str(record.get("time"))
    event = _text(record.get("event"))
    method = record.get("method")
    if event == "call" and isinstance(method, str):
        event = method
    target = record.get("tool") if record.get("tool") is not None else record.get("uri")
    client = record.get("client") if record.get("client") is not None else record.get("client_name")
    return [
        stamp,
        _text(record.get("server")),
        _text(client),
        event,
        _text(target),
        _text(record.get("outcome")),
        _duration(record.get("duration_ms")),
        _size(record.get("result_bytes")),
    ]


def _text(value: object) -> str:
    return "-" if value is None or value == "" else str(value)


def _duration(value: object) -> str:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.1f} s"


def _size(value: object) -> str:
    if not isinstance(value, int) or isinstance(value, bool):
        return "-"
    if value < 1000:
        return f"{value} B"
    if value < 1_000_000:
        return f"{value / 1000:.1f} kB"
    return f"{value / 1_000_000:.1f} MB"


@log_app.command("verify")
def log_verify(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    reset_checkpoint: bool = typer.Option(
        False,
        "--reset-checkpoint",
        help="After checking, take the log as it is now as the keychain's checkpoint "
        "(when you removed or replaced the log yourself).",
    ),
) -> int:
    """Check that no record was changed, removed, added or reordered (exit 1 if one was).

    Example: mcpcred log verify --json
    """
    from mcpcred.guard import auditlog

    folder = auditlog.default_folder()
    if reset_checkpoint:  # report what is wrong first: that is what the reset forgets
        code = log_verify(as_json=as_json, reset_checkpoint=False)
        _reset(folder)
        return code
    checkpoint = _checkpoint(folder)
    if not auditlog.exists(folder) and (checkpoint is None or checkpoint.seq <= 0):
        if as_json:
            result = auditlog.Verification()
            write_json({**result.as_dict(), "folder": folder})
        sys.stderr.write("no audit log yet\n")
        return 0
    if not auditlog.exists(folder):  # the keychain says there was one: no key needed to say so
        result = auditlog.verify(folder, b"unused", checkpoint)
    else:
        key = _key()
        recovered = _recover(folder, key)
        result = auditlog.verify(folder, key, checkpoint)
        result.notes[:0] = recovered
        if checkpoint is None:
            result.notes.append(
                "the keychain holds no checkpoint of this log yet (guarded servers save one "
                "as they write): a rollback or a deleted start cannot be detected"
            )
    if as_json:
        write_json({**result.as_dict(), "folder": folder})
    else:
        for note in result.notes:
            sys.stderr.write(f"note: {note}\n")
        if result.ok:
            span = f" (seq {result.first_seq}\u2013{result.last_seq})" if result.records else ""
            sys.stdout.write(f"audit log OK: {result.records} records{span}\n")
        else:
            for problem in result.problems:
                sys.stdout.write(f"{problem}\n")
            count = len(result.problems)
            sys.stdout.write(
                f"audit log NOT OK: {count} problem{'s' if count != 1 else ''} in "
                f"{result.records} records ({folder})\n"
            )
    return 0 if result.ok else EXIT_FINDINGS


def _recover(folder: str, key: bytes) -> list[str]:
    """Fold in the journals of guarded servers that were killed (``journal.recover``).

    What a killed shim recorded only in its journal belongs in the log; done
    here too (not only by the next guarded server), so that ``verify`` checks
    the log as it will be. A folder that cannot be written is verified as it is.
    """
    from mcpcred.guard import auditlog, journal

    if not journal.supported() or not journal.journals(folder):
        return []
    log = auditlog.AuditLog(folder, key)
    try:
        return journal.recover(log)
    except (OSError, ShimError) as exc:
        return [f"journals of ended guarded servers could not be folded in: {describe(exc)}"]
    finally:
        log.close()


def _reset(folder: str) -> None:
    """Make the keychain's checkpoint name the log as it is now (or remove it: no log)."""
    from mcpcred.guard import auditlog
    from mcpcred.keychain.store import SecretStore

    store = SecretStore()
    name = auditlog.checkpoint_name(folder)
    state = auditlog.current_checkpoint(folder, _key()) if auditlog.exists(folder) else None
    if state is None:
        with contextlib.suppress(SecretNotFound):
            store.delete(name)
        sys.stderr.write("checkpoint removed: the next guarded server starts a new one\n")
        return
    store.set(name, state.to_text())
    sys.stderr.write(f"checkpoint reset: the log as it is now (up to seq {state.seq})\n")


def _checkpoint(folder: str) -> auditlog.Checkpoint | None:
    """The keychain's checkpoint of the log in ``folder``; None if there is none yet."""
    from mcpcred.guard import auditlog
    from mcpcred.keychain.store import SecretStore

    try:
        text = SecretStore().get(auditlog.checkpoint_name(folder))
    except SecretNotFound:
        return None
    return auditlog.Checkpoint.from_text(text)


def _key() -> bytes:
    from mcpcred.guard import auditlog
    from mcpcred.keychain.store import SecretStore

    store = SecretStore()
    try:
        text = store.get(auditlog.KEY_NAME)
    except SecretNotFound:
        raise SecretStoreError(
            f"the audit log's key ({auditlog.KEY_NAME}) is not in {store.where}, "
            "so the log cannot be verified",
            hint="guard mode stores the key when it first writes the log; if the key was "
            "deleted, the records written with it can no longer be checked",
        ) from None
    return auditlog.key_from_text(text)


EXPORT_BATCH = 512


@log_app.command("export")
def log_export(
    to: str = typer.Option(
        ...,
        "--to",
        help="Where: otlp+http://HOST:PORT, otlp+https://..., syslog+tcp://HOST:PORT, "
        "syslog+tls://..., syslog+udp://...",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only records since 45s, 30m, 2h, 7d ago, or an ISO date/time."
    ),
    header: list[str] = typer.Option(
        [],
        "--header",
        help="NAME=mcpcred:secret/SECRET: a header read from the secret store (repeatable).",
    ),
    ca_file: str | None = typer.Option(
        None, "--ca-file", help="CA certificate(s) to trust for otlp+https or syslog+tls."
    ),
    timeout: float = typer.Option(
        10.0, "--timeout", help="Seconds to wait for each batch.", min=0.1
    ),
) -> int:
    """Send the audit log (or its records --since) to a collector or syslog receiver now.

    Example: mcpcred log export --to otlp+http://127.0.0.1:4318 --since 7d
    """
    from dataclasses import replace

    from mcpcred.errors import ExportError
    from mcpcred.export import targets
    from mcpcred.guard import auditlog

    target = targets.parse(to, where="--to")
    refs: dict[str, str] = {}
    for item in header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(
                "--header takes NAME=mcpcred:secret/SECRET",
                hint="e.g. --header Authorization=mcpcred:secret/otel-token",
            )
        refs[name.strip()] = value.strip()
    checked = targets.header_refs(refs, where="--header", error=UsageError)
    if checked and target.kind != "otlp":
        raise UsageError("--header applies to otlp+http and otlp+https only")
    targets.check_plaintext(target, where="--header", error=UsageError, has_headers=bool(checked))
    if ca_file is not None and target.scheme not in ("otlp+https", "syslog+tls"):
        raise UsageError("--ca-file needs otlp+https or syslog+tls")
    target = replace(target, headers=checked, ca_file=ca_file)
    matches = _filter(
        server=None,
        tool=None,
        since=parse_since(since) if since is not None else None,
        denied=False,
        event=None,
    )
    folder = auditlog.default_folder()
    sink = targets.build(target, targets.resolve_headers(target), timeout=timeout)
    sent = 0
    first: object = None
    last: object = None
    try:
        batch: list[Record] = []
        for _, _, record in auditlog.read(folder):
            if record is None or not matches(record):
                continue
            batch.append(record)
            if len(batch) >= EXPORT_BATCH:
                sink.send(batch)
                sent, first, last = (
                    sent + len(batch),
                    first or batch[0].get("seq"),
                    batch[-1].get("seq"),
                )
                batch = []
        if batch:
            sink.send(batch)
            sent, first, last = (
                sent + len(batch),
                first or batch[0].get("seq"),
                batch[-1].get("seq"),
            )
    except ExportError as exc:
        done = f" after {sent} record(s)" if sent else ""
        raise ExportError(exc.message + done, hint=exc.hint) from None
    finally:
        sink.close()
    span = f" (seq {first}\u2013{last})" if sent else ""
    sys.stdout.write(f"exported {sent} record(s){span} to {target.shown}\n")
    return 0
