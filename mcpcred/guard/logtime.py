"""When an audit record says it happened: one reading for every reader of the log.

`mcpcred log --since` and the OTLP exporter both need a record's ``time`` as an
aware datetime. They must agree: a record the log command shows as inside a
window must be exported with the same instant. Kept out of ``auditlog`` so the
guard's write path does not import :mod:`datetime`.
"""

from __future__ import annotations

from datetime import UTC, datetime


def record_time(value: object) -> datetime | None:
    """The record's ``time`` field as an aware datetime, or None if it is not one.

    The guard writes UTC with an offset; a time without one (a record written by
    hand, or by an older version) is read as UTC rather than as local time, so the
    same log reads the same on every machine."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
