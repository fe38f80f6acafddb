"""A record's time reads the same for `mcpcred log` and for the OTLP exporter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from mcpcred.export.otlp import _nanos
from mcpcred.guard.logtime import record_time


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-05T10:00:00+00:00", datetime(2026, 12, 5, 10, tzinfo=UTC)),
        # no offset: UTC, never the reader's local time
        ("2026-12-05T10:00:00", datetime(2026, 12, 5, 10, tzinfo=UTC)),
        (
            "2026-12-05T11:00:00+01:00",
            datetime(2026, 12, 5, 11, tzinfo=timezone(timedelta(hours=1))),
        ),
    ],
)
def test_a_time_is_read_as_an_aware_instant(value: str, expected: datetime) -> None:
    when = record_time(value)
    assert when == expected and when.tzinfo is not None
    assert _nanos(value) == int(expected.timestamp()) * 10**9  # the exporter's instant is the same


@pytest.mark.parametrize("value", [None, 1796432400, "yesterday", "", ["2026-12-05"]])
def test_anything_else_has_no_time(value: object) -> None:
    assert record_time(value) is None
    assert _nanos(value) is None
