"""``Resolved.check_audiences``: a remote-server login's token goes only to its server."""

from __future__ import annotations

import json

import pytest

from mcpcred.errors import ShimError
from mcpcred.shim import resolve
from mcpcred.shim.resolve import Resolved


def _found(**audiences: str) -> Resolved:
    found = Resolved()
    found.audiences = dict(audiences)
    return found


@pytest.mark.parametrize(
    "url",
    [
        "https://mcp.example.com/mcp",
        "https://MCP.example.com:443/mcp",
        "https://mcp.example.com/mcp/",
        "https://mcp.example.com/mcp/sub?key=1",
    ],
)
def test_the_login_s_own_server_passes(url: str) -> None:
    _found(linear="https://mcp.example.com/mcp").check_audiences(url, "shown")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/mcp",
        "https://mcp.example.com.evil.example/mcp",
        "http://mcp.example.com/mcp",
        "https://mcp.example.com:8443/mcp",
        "https://mcp.example.com/mcpx",
        "https://mcp.example.com/other",
        "https://mcp.example.com:99999/mcp",
    ],
)
def test_any_other_server_is_refused_naming_both(url: str) -> None:
    with pytest.raises(ShimError) as caught:
        _found(linear="https://mcp.example.com/mcp").check_audiences(url, "SHOWN")
    assert "mcpcred:oauth/linear is for https://mcp.example.com/mcp, not for SHOWN" in str(
        caught.value.message
    )
    assert "mcpcred login" in (caught.value.hint or "")


def test_a_parent_resource_covers_the_paths_under_it() -> None:
    found = _found(app="https://api.example.com/")
    found.check_audiences("https://api.example.com/v1/mcp", "shown")
    with pytest.raises(ShimError):
        found.check_audiences("https://other.example.com/v1/mcp", "shown")


def test_no_audience_means_no_check() -> None:
    Resolved().check_audiences("https://anywhere.example/mcp", "shown")


def test_only_logins_to_a_server_url_bind_their_tokens() -> None:
    mcp_login = {
        "server_url": "https://mcp.example.com/mcp",
        "resource": "https://mcp.example.com/mcp",
    }
    provider_login = {"server_url": None, "resource": "api://00000000-0000/.default"}

    def record(extra: dict[str, object]) -> str:
        base = {
            "v": 1,
            "provider": "x",
            "account": "default",
            "client_id": "c",
            "token_endpoint": "https://as.example.com/token",
            "flow": "pkce",
            "created_at": 0,
            "refresh_token": "r",
        }
        return json.dumps({**base, **extra})

    from mcpcred.oauth.records import VERSION, LoginRecord

    assert LoginRecord.loads(record({**mcp_login, "v": VERSION})) is not None
    assert resolve._audience(record({**mcp_login, "v": VERSION})) == "https://mcp.example.com/mcp"
    assert resolve._audience(record({**provider_login, "v": VERSION})) is None
    assert resolve._audience(None) is None
    assert resolve._audience("not json") is None
