"""``mcpcred login`` end to end: the real CLI, the real keychain, a real OAuth server.

The server is panva's oidc-provider (OpenID Certified) on loopback
(``tests/support/oauth_server.py``); the user's part is played by
``tests/support/browser_cli.py``, started by Python's ``webbrowser`` through
``$BROWSER`` exactly as a desktop browser would be, so the login's own
browser-opening path runs too. Everything mcpcred stores lands in
gnome-keyring on a private D-Bus, and the tests read it back from there.

Covered: device flow approved / denied / expired, authorization code + PKCE
through the loopback listener, discovery with an exact issuer match, refresh
with rotation at server start (the shim), a revoked login failing a server
start with a message naming ``mcpcred login``, logout revoking at the server,
and ``mcpcred token`` refusing pipes.
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

from tests.support import keychain as real_keychain
from tests.support.oauth_server import OidcServer, StartOidcServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MCPCRED = Path(sys.executable).parent / "mcpcred"
PROVIDER = "testidp"
RECORD = f"oauth:{PROVIDER}/default"
ACCESS = f"oauth:{PROVIDER}/default:access"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    env["BROWSER"] = f"{sys.executable} -m tests.support.browser_cli %s"
    env.update(extra)
    return env


def login(
    server: OidcServer, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``mcpcred login testidp --issuer ... --client-id mcpcred-test ARGS``."""
    command = [
        str(MCPCRED), "login", PROVIDER, "--issuer", server.issuer,
        "--client-id", server.client_id, "--resource", server.resource, *args,
    ]  # fmt: skip
    return subprocess.run(
        command,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def mcpcred(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MCPCRED), *args],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def stored(keychain: dict[str, str], name: str) -> dict[str, object] | None:
    value = real_keychain.lookup(keychain, "mcpcred", name)
    return None if value is None else json.loads(value)


def resource_call(server: OidcServer, token: str) -> int:
    """Status of a call to the server's protected resource (validates the JWT access token)."""
    response = httpx.get(
        server.url("/mcp"), headers={"Authorization": f"Bearer {token}"}, trust_env=False
    )
    return response.status_code


def shim(env: dict[str, str], *command: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    argv = [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--", *command]
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=60, input=stdin, check=False
    )


PRINT_TOKEN = (sys.executable, "-c", "import os; print(os.environ['TOKEN'])")


def test_device_flow_approved_stores_the_login_in_the_keychain(
    keychain: dict[str, str], oidc_server: OidcServer, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.txt"
    result = login(oidc_server, "--flow", "device", env=_env(FAKEBROWSER_LOG=str(opened)))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    url = next(line[4:] for line in lines if line.startswith("URL "))
    code = next(line[5:] for line in lines if line.startswith("code "))
    assert url.startswith(oidc_server.issuer + "/device")
    assert code in url  # verification_uri_complete carries the user code
    assert opened.read_text().split() == [url]  # the browser got exactly that URL
    assert "logged in to" in result.stderr and "alice" in result.stderr
    record = stored(keychain, RECORD)
    access = stored(keychain, ACCESS)
    assert record is not None and access is not None
    assert record["refresh_token"] and record["user"] == "alice"
    assert record["token_endpoint"] == oidc_server.metadata()["token_endpoint"]
    assert resource_call(oidc_server, str(access["access_token"])) == 200
    stats = oidc_server.stats()
    assert stats["device_authorization"] == 1
    assert stats[DEVICE_GRANT] >= 1
    # Nothing sensitive outside the keychain: not in the output, not in mcpcred's files.
    for secret in (str(record["refresh_token"]), str(access["access_token"])):
        assert secret not in result.stdout + result.stderr
        for path in Path(os.environ["HOME"]).rglob("*"):
            if path.is_file():
                assert secret not in path.read_text(errors="replace"), path


def test_device_flow_denied_stores_nothing(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    result = login(oidc_server, "--flow", "device", env=_env(FAKEBROWSER_DENY="1"))
    assert result.returncode == 7, result.stderr
    assert "denied" in result.stderr
    assert stored(keychain, RECORD) is None
    assert stored(keychain, ACCESS) is None


def test_device_code_that_expires_before_approval_ends_the_login(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    server = start_oidc_server(DEVICE_TTL="6")
    started = time.monotonic()
    result = login(server, "--flow", "device", "--no-browser")
    assert result.returncode == 7, result.stderr
    assert "expired" in result.stderr
    assert time.monotonic() - started < 30
    assert stored(keychain, RECORD) is None


def test_pkce_flow_through_the_loopback_listener(
    keychain: dict[str, str], oidc_server: OidcServer, tmp_path: Path
) -> None:
    opened = tmp_path / "opened.txt"
    page = tmp_path / "page.txt"
    result = login(
        oidc_server,
        "--flow",
        "pkce",
        env=_env(FAKEBROWSER_LOG=str(opened), FAKEBROWSER_PAGE=str(page)),
    )
    assert result.returncode == 0, result.stderr
    assert page.read_text().startswith("200\n")  # said after the code was exchanged
    assert "<h1>Logged in</h1>" in page.read_text()
    url = opened.read_text().strip()
    assert url.startswith(oidc_server.issuer + "/auth?")
    assert "code_challenge_method=S256" in url and "state=" in url
    assert "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    record = stored(keychain, RECORD)
    assert record is not None and record["refresh_token"] and record["flow"] == "pkce"
    assert oidc_server.stats()["authorization_code"] == 1


def test_issuer_must_match_the_metadata_exactly(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    wrong = oidc_server.issuer.replace("127.0.0.1", "localhost")
    result = subprocess.run(
        [str(MCPCRED), "login", PROVIDER, "--issuer", wrong, "--client-id", "mcpcred-test",
         "--no-browser"],
        env=_env(), capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip
    assert result.returncode == 7, result.stderr
    assert "must match exactly" in result.stderr
    assert oidc_server.issuer in result.stderr  # says what the server calls itself
    assert oidc_server.stats()["token"] == 0


def test_server_start_refreshes_an_expiring_token_and_stores_the_rotated_one(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    # A 10 s lifetime refreshes 5 s after issue: room for a loaded 2-core machine to log in and
    # start once from the cache; then wait until just past the refresh point, not a fixed time.
    server = start_oidc_server(ACCESS_TTL="10")
    assert login(server, "--flow", "pkce").returncode == 0
    refresh_due = time.monotonic() + 5.3  # the token was issued before login returned
    before = stored(keychain, RECORD)
    assert before is not None
    env = _env(TOKEN=f"mcpcred:oauth/{PROVIDER}")
    fresh = shim(env, *PRINT_TOKEN)
    assert fresh.returncode == 0, fresh.stderr
    assert server.stats()["refresh_token"] == 0  # cached: no network call
    time.sleep(max(0.0, refresh_due - time.monotonic()))  # past refresh_at (half its life)
    refreshed = shim(env, *PRINT_TOKEN)
    assert refreshed.returncode == 0, refreshed.stderr
    token = refreshed.stdout.strip()
    assert token != fresh.stdout.strip()
    assert resource_call(server, token) == 200
    after = stored(keychain, RECORD)
    assert after is not None
    assert after["refresh_token"] != before["refresh_token"]  # rotated and kept
    stats = server.stats()
    assert (stats["refresh_token"], stats["refresh_ok"]) == (1, 1)
    again = shim(env, *PRINT_TOKEN)
    assert again.stdout.strip() == token
    assert server.stats()["refresh_token"] == 1


def test_a_revoked_login_stops_the_server_with_a_message_naming_login(
    keychain: dict[str, str], start_oidc_server: StartOidcServer
) -> None:
    server = start_oidc_server(ACCESS_TTL="2")
    assert login(server, "--flow", "pkce").returncode == 0
    record = stored(keychain, RECORD)
    assert record is not None
    revoked = httpx.post(
        server.metadata()["revocation_endpoint"],
        data={"token": record["refresh_token"], "client_id": server.client_id},
        trust_env=False,
    )
    assert revoked.status_code == 200
    time.sleep(2.2)  # the access token is now expired, not just due
    initialize = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}})
    result = shim(_env(TOKEN=f"mcpcred:oauth/{PROVIDER}"), *PRINT_TOKEN, stdin=initialize + "\n")
    assert result.returncode == 7, result.stderr
    assert "invalid_grant" in result.stderr
    assert f"mcpcred login {PROVIDER}" in result.stderr
    answer = json.loads(result.stdout.splitlines()[0])
    assert answer["id"] == 1
    assert f"mcpcred login {PROVIDER}" in answer["error"]["message"]
    assert str(record["refresh_token"]) not in result.stdout + result.stderr


def test_logout_revokes_at_the_server_and_deletes_the_login(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    assert login(oidc_server, "--flow", "pkce").returncode == 0
    record = stored(keychain, RECORD)
    assert record is not None
    result = mcpcred("logout", PROVIDER)
    assert result.returncode == 0, result.stderr
    assert "revoked" in result.stderr
    assert oidc_server.stats()["revocation"] == 1
    assert stored(keychain, RECORD) is None and stored(keychain, ACCESS) is None
    reuse = httpx.post(
        oidc_server.metadata()["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": record["refresh_token"],
            "client_id": oidc_server.client_id,
        },
        trust_env=False,
    )
    assert reuse.json()["error"] == "invalid_grant"
    assert mcpcred("logout", PROVIDER).returncode == 2  # nothing left to log out of


def test_status_shows_the_login_without_values(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    assert login(oidc_server, "--flow", "pkce").returncode == 0
    record = stored(keychain, RECORD)
    access = stored(keychain, ACCESS)
    assert record is not None and access is not None
    result = mcpcred("status", "--json")
    assert result.returncode == 0, result.stderr
    (row,) = json.loads(result.stdout)["logins"]
    assert row["reference"] == f"mcpcred:oauth/{PROVIDER}"
    assert row["user"] == "alice" and row["refresh_token"] is True
    assert 0 < row["access_expires_in"] <= 60
    text = mcpcred("status")
    for value in (str(record["refresh_token"]), str(access["access_token"])):
        assert value not in result.stdout + text.stdout + text.stderr


def test_token_is_printed_only_to_a_terminal_or_with_force(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    assert login(oidc_server, "--flow", "pkce").returncode == 0
    refused = mcpcred("token", PROVIDER)
    assert refused.returncode == 2
    assert refused.stdout == ""
    forced = mcpcred("token", PROVIDER, "--force")
    assert forced.returncode == 0, forced.stderr
    assert resource_call(oidc_server, forced.stdout.strip()) == 200


def test_headers_helper_resolves_a_login_for_remote_servers(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    assert login(oidc_server, "--flow", "pkce").returncode == 0
    header = f"Authorization: Bearer {{{{mcpcred:oauth/{PROVIDER}}}}}"
    result = mcpcred("headers", "--server", "remote", "--header", header)
    assert result.returncode == 0, result.stderr
    value = json.loads(result.stdout)["Authorization"]
    assert value.startswith("Bearer ")
    assert resource_call(oidc_server, value.removeprefix("Bearer ")) == 200


def test_ctrl_c_while_polling_stops_cleanly_and_stores_nothing(
    keychain: dict[str, str], oidc_server: OidcServer
) -> None:
    command = [
        str(MCPCRED), "login", PROVIDER, "--issuer", oidc_server.issuer,
        "--client-id", oidc_server.client_id, "--flow", "device", "--no-browser",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stderr is not None
    seen = [process.stderr.readline() for _ in range(2)]
    assert seen[0].startswith("URL ") and seen[1].startswith("code ")
    process.send_signal(signal.SIGINT)
    _out, err = process.communicate(timeout=30)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert stored(keychain, RECORD) is None


def test_several_accounts_per_provider(keychain: dict[str, str], oidc_server: OidcServer) -> None:
    assert login(oidc_server, "--flow", "pkce").returncode == 0
    assert login(oidc_server, "--flow", "pkce", "--account", "work").returncode == 0
    work = stored(keychain, f"oauth:{PROVIDER}/work")
    default = stored(keychain, RECORD)
    assert work is not None and default is not None
    assert work["refresh_token"] != default["refresh_token"]
    logins = {row["reference"] for row in json.loads(mcpcred("status", "--json").stdout)["logins"]}
    assert logins == {f"mcpcred:oauth/{PROVIDER}", f"mcpcred:oauth/{PROVIDER}/work"}
    env = _env(TOKEN=f"mcpcred:oauth/{PROVIDER}/work")
    result = shim(env, *PRINT_TOKEN)
    assert result.returncode == 0, result.stderr
    cached = stored(keychain, f"oauth:{PROVIDER}/work:access")
    assert cached is not None and result.stdout.strip() == cached["access_token"]
    assert mcpcred("logout", PROVIDER, "--account", "work").returncode == 0
    assert stored(keychain, f"oauth:{PROVIDER}/work") is None
    assert stored(keychain, RECORD) is not None  # the other login is untouched
