"""Fakes for the OAuth unit tests: an in-memory vault and an httpx-backed transport."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest

from mcpcred.oauth.http import HttpxTransport


class MemoryVault:
    """The ``Vault`` port over a dict, recording the order of writes."""

    def __init__(self) -> None:
        self.items: dict[str, str] = {}
        self.writes: list[str] = []

    def read(self, names: Sequence[str]) -> dict[str, str]:
        return {n: self.items[n] for n in names if n in self.items}

    def write(self, name: str, value: str) -> None:
        self.items[name] = value
        self.writes.append(name)

    def delete(self, name: str) -> bool:
        return self.items.pop(name, None) is not None


Handler = Callable[[httpx.Request], httpx.Response]


def mock_transport(handler: Handler) -> HttpxTransport:
    """A transport whose every request is answered by ``handler`` (httpx.MockTransport)."""
    return HttpxTransport(httpx.Client(transport=httpx.MockTransport(handler)))


def form_of(request: httpx.Request) -> dict[str, str]:
    """The form fields a request sent."""
    from urllib.parse import parse_qsl

    return dict(parse_qsl(request.content.decode()))


@pytest.fixture
def vault() -> MemoryVault:
    return MemoryVault()
