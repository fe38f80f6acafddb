"""Pytest fixtures for the real OAuth test server (``tests/support/oauth_server.py``).

Registered for the whole suite by ``pytest_plugins`` in ``tests/conftest.py``.
Every server a test starts is stopped at its teardown, so no node process outlives a test.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported by the fixtures: httpx is loaded only by tests that use them
    from tests.support.oauth_server import OidcServer, StartOidcServer


@pytest.fixture
def start_oidc_server() -> Iterator[StartOidcServer]:
    """Factory: ``start_oidc_server(ACCESS_TTL="2", ROTATE="0")`` starts one more server.

    Keyword arguments are env overrides for ``oidc_server.mjs`` (``ACCESS_TTL``,
    ``REFRESH_TTL``, ``DEVICE_TTL``, ``ROTATE``, ``SLOW_TOKEN_MS``, ``PORT``).
    """
    from tests.support.oauth_server import OidcServer

    servers: list[OidcServer] = []

    def start(**env: str | int) -> OidcServer:
        server = OidcServer(env)
        servers.append(server)
        return server

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def oidc_server(start_oidc_server: StartOidcServer) -> OidcServer:
    """One running server with 60 s access tokens and the other defaults."""
    return start_oidc_server(ACCESS_TTL="60")
