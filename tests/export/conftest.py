"""Fixtures shared by the export tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.otlp_receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A real OTLP/HTTP receiver on a loopback port of its own, stopped after the test.

    One per test, so a test that makes it fail, redirect or demand a header leaves
    nothing behind for the next one."""
    started = Receiver().start()
    yield started
    started.stop()
