"""Refresh at server start under concurrency, against a server that punishes mistakes.

oidc-provider rotates refresh tokens and treats a second use of an old one
as theft: it revokes the whole grant, so every later refresh fails and the
user has to log in again. MCP clients start all their servers at once, so
without a single-flight refresh a restart of Claude Desktop with a few
GitHub-backed servers would log the user out. These tests start real shims
against the real server and count the refresh requests the server saw.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.test_login_e2e import MCPCRED, PROVIDER, RECORD, _env, login, stored
from tests.support.oauth_server import OidcServer, StartOidcServer

pytestmark = pytest.mark.slow

SHIMS = 20
PRINT_TOKEN = [sys.executable, "-c", "import os; print(os.environ['TOKEN'])"]


def _shim_argv(*command: str) -> list[str]:
    return [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--", *command]


def _valid(server: OidcServer, token: str) -> bool:
    response = httpx.get(
        server.url("/mcp"), headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )
    return response.status_code == 200


def _wait_until_stale(keychain: dict[str, str]) -> None:
    """Sleep until the cached access token is due for refresh."""
    from tests.support import keychain as real_keychain

    cached = json.loads(real_keychain.lookup(keychain, "mcpcred", RECORD + ":access") or "{}")
    delay = float(cached["refresh_at"]) - time.time() + 0.2
    if delay > 0:
        time.sleep(delay)


def test_twenty_shims_at_once_make_exactly_one_refresh(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    # A slow token endpoint widens the window in which a second refresh would race the first.
    server = start_oidc_server(ACCESS_TTL="4", SLOW_TOKEN_MS="300")
    assert login(server, "--flow", "pkce").returncode == 0
    _wait_until_stale(keychain)
    server.reset()
    env = _env(TOKEN=f"mcpcred:oauth/{PROVIDER}")
    shims = [
        subprocess.Popen(
            _shim_argv(*PRINT_TOKEN), env=env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(SHIMS)
    ]  # fmt: skip
    results = [(p.wait(timeout=60), *p.communicate()) for p in shims]
    failures = [err for code, _out, err in results if code != 0]
    assert not failures, failures[:3]
    tokens = {out.strip() for _code, out, _err in results}
    assert len(tokens) == 1  # every server got the one new token
    (token,) = tokens
    assert _valid(server, token)
    stats = server.stats()
    assert stats["refresh_token"] == 1, stats
    assert stats["refresh_error"] == 0, stats
    # The grant is still alive: the next refresh (with the stored, rotated token) works.
    _wait_until_stale(keychain)
    again = subprocess.run(
        [str(MCPCRED), "token", PROVIDER, "--force"],
        env=_env(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert _valid(server, again.stdout.strip())
    assert server.stats()["refresh_ok"] == 2


def test_a_shim_terminated_mid_refresh_still_stores_the_rotated_token(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    """Claude Desktop kills servers it just started; the login must survive that."""
    server = start_oidc_server(ACCESS_TTL="4", SLOW_TOKEN_MS="1500")
    assert login(server, "--flow", "pkce").returncode == 0
    before = stored(keychain, RECORD)
    assert before is not None
    _wait_until_stale(keychain)
    server.reset()
    env = _env(TOKEN=f"mcpcred:oauth/{PROVIDER}")
    victim = subprocess.Popen(
        _shim_argv(*PRINT_TOKEN), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while server.stats()["refresh_token"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.stats()["refresh_token"] == 1  # the request is out; the answer is delayed
    victim.send_signal(signal.SIGTERM)
    _out, err = victim.communicate(timeout=30)
    assert victim.returncode == -signal.SIGTERM, err  # it did die of the signal, afterwards
    after = stored(keychain, RECORD)
    assert after is not None
    assert after["refresh_token"] != before["refresh_token"]  # the rotated token was kept
    follow = subprocess.run(
        _shim_argv(*PRINT_TOKEN), env=env, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert follow.returncode == 0, follow.stderr
    assert _valid(server, follow.stdout.strip())
    assert server.stats()["refresh_token"] == 1  # the stored token was fresh: no new refresh


def test_a_killed_shim_never_leaves_a_lock_that_blocks_the_next_start(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    # Without rotation, the refresh token the killed shim sent stays valid. The token
    # endpoint answers 2 s late (the issued token must outlive that: 10 s).
    server = start_oidc_server(ACCESS_TTL="10", SLOW_TOKEN_MS="2000", ROTATE="0")
    assert login(server, "--flow", "pkce").returncode == 0
    _wait_until_stale(keychain)
    server.reset()
    env = _env(TOKEN=f"mcpcred:oauth/{PROVIDER}")
    holder = subprocess.Popen(
        _shim_argv(*PRINT_TOKEN), env=env, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while server.stats()["refresh_token"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    holder.kill()  # SIGKILL while it holds the lock
    holder.wait(timeout=10)
    locks = list(Path(os.environ["XDG_RUNTIME_DIR"], "mcpcred").glob("*.lock")) or list(
        Path(os.environ["HOME"]).rglob("*.lock")
    )
    assert locks, "the lock file should still exist; only the lock is gone"
    started = time.monotonic()
    follow = subprocess.run(
        _shim_argv(*PRINT_TOKEN), env=env, capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    elapsed = time.monotonic() - started
    assert follow.returncode == 0, follow.stderr
    assert _valid(server, follow.stdout.strip())
    # It waited only for its own (slow) refresh, never for the dead holder's lock.
    assert elapsed < 2.0 + 3.0, elapsed
    assert oct(locks[0].stat().st_mode & 0o777) == "0o600"
