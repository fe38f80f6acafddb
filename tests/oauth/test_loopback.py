"""The loopback listener on an OAuth app's fixed redirect (a port and path of its own)."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from mcpcred.errors import OAuthError
from mcpcred.oauth.loopback import Listener


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_fixed_redirect_is_served_at_its_path_only() -> None:
    """Gemini CLI's ``/oauth/callback``: another path gets a 404 and is not the callback."""
    port = _free_port()
    listener = Listener(port, "/oauth/callback", fixed=True)
    seen: list[httpx.Response] = []

    def browser() -> None:
        with httpx.Client(trust_env=False, timeout=5) as client:
            seen.append(client.get(f"http://localhost:{port}/callback?code=wrong"))
            seen.append(client.get(f"http://localhost:{port}/oauth/callback?code=c&state=s"))

    thread = threading.Thread(target=browser)
    thread.start()
    callback = listener.wait(10)
    assert callback.params == {"code": "c", "state": "s"}
    callback.answer(200, "Logged in", "ok")
    thread.join(10)
    assert seen[0].status_code == 404 and seen[1].status_code == 200


def test_a_fixed_redirect_whose_port_is_taken_says_why_it_cannot_move() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(OAuthError) as caught:
            Listener(port, "/oauth/callback", fixed=True)
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "the OAuth app's redirect names" in (caught.value.hint or "")
    assert "redirect-port" not in (caught.value.hint or "")  # it cannot be changed here
