"""``mcpcred login URL`` end to end: MCP authorization against real servers.

The resource server is a real MCP Python SDK server with the SDK's own auth support
(RFC 9728 metadata, 401 challenges, audience-checked JWTs;
``tests/support/oauth_resource_server.py``); the authorization server is panva's
oidc-provider (``tests/support/oauth_server.py``) with knobs for the misbehaviours a
client must refuse. The user is ``tests/support/browser_cli.py``, started through
``$BROWSER``. Everything lands in the real gnome-keyring and is read back from there.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.integration.test_login_e2e import MCPCRED, _env, stored
from tests.support import keychain as real_keychain
from tests.support.mcp_parts import read_entry, sdk_call_tool, sdk_call_tool_entry
from tests.support.oauth_resource_server import (
    ClientMetadataHost,
    ResourceServer,
    call_tool,
    status_of_call,
)
from tests.support.oauth_server import OidcServer, StartOidcServer

pytestmark = pytest.mark.slow

NAME = "demo"
RECORD = f"oauth:{NAME}/default"
ACCESS = RECORD + ":access"
SHIMS = 20
PRINT_TOKEN = [sys.executable, "-c", "import os; print(os.environ['TOKEN'])"]


@pytest.fixture
def start_rs() -> Iterator[object]:
    started: list[ResourceServer] = []

    def start(issuer: str, **kwargs: str) -> ResourceServer:
        server = ResourceServer(issuer, **kwargs)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def run(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MCPCRED), *args],
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=90,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def login(
    url: str, *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return run("login", url, "--name", NAME, *args, env=env, stdin=stdin)


def no_token_leaks(
    result: subprocess.CompletedProcess[str], keychain: dict[str, str], name: str = NAME
) -> None:
    """No token of login ``name`` in the command's output, nor in any file under HOME."""
    record = stored(keychain, f"oauth:{name}/default") or {}
    access = stored(keychain, f"oauth:{name}/default:access") or {}
    for value in (record.get("refresh_token"), access.get("access_token")):
        if value:
            assert str(value) not in result.stdout + result.stderr
            for path in Path(os.environ["HOME"]).rglob("*"):
                if path.is_file():
                    assert str(value) not in path.read_text(errors="replace"), path


def test_dcr_login_then_the_reference_resolves_to_a_token_the_server_accepts(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, tmp_path: Path
) -> None:
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    opened = tmp_path / "opened.txt"
    result = login(rs.url, env=_env(FAKEBROWSER_LOG=str(opened)))
    assert result.returncode == 0, result.stderr
    url = opened.read_text().strip()
    assert url.startswith(oidc_server.issuer + "/auth?")
    params = httpx.URL(url).params
    assert params["code_challenge_method"] == "S256" and params["code_challenge"]
    assert params["resource"] == rs.url  # RFC 8707: the server's canonical URL
    assert params["scope"].split() == ["mcp:tools", "offline_access"]  # challenge + refresh
    assert params["state"] and params["redirect_uri"].startswith("http://127.0.0.1:")
    stats = oidc_server.stats()
    assert stats["registration"] == 1 and stats["authorization_code"] == 1
    record = stored(keychain, RECORD)
    assert record is not None
    assert record["resource"] == rs.url and record["server_url"] == rs.url
    assert record["issuer"] == oidc_server.issuer
    assert record["token_endpoint"] == oidc_server.metadata()["token_endpoint"]
    assert record["registration"] == "dynamic" and record["client_id"] != oidc_server.client_id
    assert record["refresh_token"]
    client = real_keychain.lookup(keychain, "mcpcred", f"oauth-client:{oidc_server.issuer}")
    assert client is not None and json.loads(client)["client_id"] == record["client_id"]
    # The exact port registered with the client is the one the login listened on (servers
    # that match redirect URIs exactly, against RFC 8252, accept it too).
    port = json.loads(client)["redirect_port"]
    assert params["redirect_uri"] == f"http://127.0.0.1:{port}/callback"
    no_token_leaks(result, keychain)
    # The reference resolves, through the shim, to a token the real SDK server accepts.
    shim = subprocess.run(
        [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--", *PRINT_TOKEN],
        env=_env(TOKEN=f"mcpcred:oauth/{NAME}"), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert shim.returncode == 0, shim.stderr
    token = shim.stdout.strip()
    assert call_tool(rs.url, token, "echo", {"text": "hi"}) == "echo: hi"
    # a second login reuses the registered client (kept per issuer): no new registration
    again = login(rs.url)
    assert again.returncode == 0, again.stderr
    assert oidc_server.stats()["registration"] == 1


def test_pre_registered_client_with_the_secret_on_stdin(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object
) -> None:
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    result = login(rs.url, "--client-id", oidc_server.client_id)
    assert result.returncode == 0, result.stderr
    record = stored(keychain, RECORD)
    assert record is not None and record["client_id"] == oidc_server.client_id
    assert record["registration"] == "pre-registered"
    assert oidc_server.stats()["registration"] == 0
    # an OAuth app with a secret: the secret comes through stdin, never argv, and is kept
    # in the keychain with the client id, keyed by the issuer
    result = run("login", rs.url, "--name", "conf", "--client-id", "mcpcred-confidential",
                 "--client-secret-stdin", stdin="test-client-secret\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "test-client-secret" not in result.stderr + result.stdout
    conf = stored(keychain, "oauth:conf/default")
    assert conf is not None and conf["client_secret"] == "test-client-secret"
    client = real_keychain.lookup(keychain, "mcpcred", f"oauth-client:{oidc_server.issuer}")
    assert client is not None and json.loads(client)["client_id"] == "mcpcred-confidential"


def test_an_authorization_server_without_pkce_s256_is_refused(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, start_rs: object
) -> None:
    server = start_oidc_server(NO_PKCE_METADATA="1")
    rs = start_rs(server.issuer)  # type: ignore[operator]
    result = login(rs.url)
    assert result.returncode == 7, result.stderr
    line = [x for x in result.stderr.splitlines() if x.startswith("mcpcred")]
    assert "does not advertise PKCE" in result.stderr and "refused" in result.stderr, line
    assert "--assume-pkce" in result.stderr  # the documented escape hatch is named
    assert server.stats()["registration"] == 0 and server.stats()["token"] == 0
    assert stored(keychain, RECORD) is None
    # the escape hatch: S256 is still sent, and the login works
    forced = login(rs.url, "--assume-pkce")
    assert forced.returncode == 0, forced.stderr


def test_an_authorization_response_from_another_issuer_is_refused(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, start_rs: object
) -> None:
    server = start_oidc_server(WRONG_ISS="1")
    rs = start_rs(server.issuer)  # type: ignore[operator]
    result = login(rs.url)
    assert result.returncode == 7, result.stderr
    assert "RFC 9207" in result.stderr and "127.0.0.1:9" in result.stderr
    assert server.stats()["authorization_code"] == 0  # the code was never used
    assert stored(keychain, RECORD) is None


def test_metadata_naming_another_resource_is_refused(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object
) -> None:
    rs = start_rs(oidc_server.issuer, prm_path="/other")  # type: ignore[operator]
    result = login(rs.url)
    assert result.returncode == 7, result.stderr
    assert f"names resource '{rs.origin}/other'" in result.stderr
    assert oidc_server.stats()["registration"] == 0
    assert stored(keychain, RECORD) is None


def test_github_like_server_without_dcr_says_to_use_a_client_id_or_a_pat(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, start_rs: object
) -> None:
    server = start_oidc_server(DCR_STATUS="422")
    rs = start_rs(server.issuer)  # type: ignore[operator]
    result = login(rs.url)
    assert result.returncode == 7, result.stderr
    assert "refused dynamic client registration (HTTP 422)" in result.stderr
    assert "--client-id" in result.stderr and "mcpcred secret set" in result.stderr
    assert stored(keychain, RECORD) is None


def test_step_up_reauthorizes_with_the_union_of_scopes(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, tmp_path: Path
) -> None:
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    assert login(rs.url).returncode == 0
    token = str((stored(keychain, ACCESS) or {})["access_token"])
    assert status_of_call(rs.url, token, "admin_op") == 403  # needs mcp:admin
    opened = tmp_path / "opened.txt"
    result = run("login", NAME, "--scope", "mcp:admin", env=_env(FAKEBROWSER_LOG=str(opened)))
    assert result.returncode == 0, result.stderr
    asked = httpx.URL(opened.read_text().strip()).params["scope"].split()
    assert {"mcp:tools", "mcp:admin"} <= set(asked)  # the union, not just the new scope
    record = stored(keychain, RECORD)
    assert record is not None and {"mcp:tools", "mcp:admin"} <= set(record["scopes"])  # type: ignore[arg-type]
    token = str((stored(keychain, ACCESS) or {})["access_token"])
    assert call_tool(rs.url, token, "admin_op") == "admin ok"
    assert call_tool(rs.url, token, "echo", {"text": "x"}) == "echo: x"
    no_token_leaks(result, keychain)
    # logout revokes at the authorization server and deletes the login
    out = run("logout", NAME)
    assert out.returncode == 0 and "revoked" in out.stderr, out.stderr
    assert stored(keychain, RECORD) is None and oidc_server.stats()["revocation"] == 1


def test_expired_token_is_refreshed_with_resource_and_twenty_shims_refresh_once(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, start_rs: object
) -> None:
    server = start_oidc_server(ACCESS_TTL="4", SLOW_TOKEN_MS="300")
    rs = start_rs(server.issuer)  # type: ignore[operator]
    assert login(rs.url).returncode == 0
    before = stored(keychain, RECORD)
    assert before is not None
    cached = json.loads(real_keychain.lookup(keychain, "mcpcred", ACCESS) or "{}")
    time.sleep(max(float(cached["refresh_at"]) - time.time() + 0.2, 0))
    server.reset()
    env = _env(TOKEN=f"mcpcred:oauth/{NAME}")
    argv = [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--", *PRINT_TOKEN]
    shims = [
        subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(SHIMS)
    ]  # fmt: skip
    results = [(p.wait(timeout=90), *p.communicate()) for p in shims]
    assert not [err for code, _o, err in results if code != 0]
    tokens = {out.strip() for _c, out, _e in results}
    assert len(tokens) == 1
    (token,) = tokens
    assert not [err for _c, _o, err in results if token in err]  # only the server's env has it
    stats = server.stats()
    assert stats["refresh_token"] == 1 and stats["refresh_error"] == 0, stats
    assert stats["refresh_with_resource"] == 1, stats  # RFC 8707 on the refresh too
    assert call_tool(rs.url, token, "echo", {"text": "after"}) == "echo: after"
    after = stored(keychain, RECORD)
    assert after is not None and after["refresh_token"] != before["refresh_token"]  # rotated
    # the grant is still alive: the next refresh, with the rotated token, works
    cached = json.loads(real_keychain.lookup(keychain, "mcpcred", ACCESS) or "{}")
    time.sleep(max(float(cached["refresh_at"]) - time.time() + 0.2, 0))
    again = run("token", NAME, "--force")
    assert again.returncode == 0, again.stderr
    assert call_tool(rs.url, again.stdout.strip(), "echo", {"text": "x"}) == "echo: x"
    assert server.stats()["refresh_ok"] == 2


def test_import_mcp_remote_files(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, tmp_path: Path
) -> None:
    import hashlib

    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    # Real tokens for the RS, as mcp-remote would have got them (pre-registered client).
    assert login(rs.url, "--client-id", oidc_server.client_id).returncode == 0
    record = stored(keychain, RECORD)
    access = stored(keychain, ACCESS)
    assert record is not None and access is not None
    real_keychain.clear(keychain)  # forget it (no revocation: the files below carry it on)
    assert stored(keychain, RECORD) is None
    # files shaped like mcp-remote 0.15.1's, in $MCP_REMOTE_CONFIG_DIR/mcp-remote-v1
    folder = tmp_path / "mcp-auth" / "mcp-remote-v1"
    folder.mkdir(parents=True)
    key = hashlib.md5(rs.url.encode()).hexdigest()  # noqa: S324 (mcp-remote's file key)
    tokens_file = folder / f"{key}_tokens.json"
    client_file = folder / f"{key}_client_info.json"
    tokens_file.write_text(json.dumps({
        "access_token": access["access_token"], "token_type": "Bearer", "expires_in": 60,
        "refresh_token": "not-the-real-one", "scope": "mcp:tools",
        "expires_at": int((time.time() + 60) * 1000), "issuer": oidc_server.issuer,
    }))  # fmt: skip
    client_file.write_text(json.dumps({
        "client_id": oidc_server.client_id, "redirect_uris": ["http://localhost:3335/oauth/callback"],
        "token_endpoint_auth_method": "none",
    }))  # fmt: skip
    for path in (tokens_file, client_file):
        path.chmod(0o600)
    env = _env(MCP_REMOTE_CONFIG_DIR=str(tmp_path / "mcp-auth"))
    unknown = run("login", "--import-mcp-remote", env=env)
    assert unknown.returncode == 7 and "pass --url URL" in unknown.stderr
    assert tokens_file.exists()
    result = run("login", "--import-mcp-remote", "--url", rs.url, "--name", "imported",
                 "--delete-plaintext", env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "verified in the keychain" in result.stderr
    assert not tokens_file.exists() and not client_file.exists()
    assert (
        "not-the-real-one" not in result.stderr and str(access["access_token"]) not in result.stderr
    )
    no_token_leaks(result, keychain, "imported")
    imported = stored(keychain, "oauth:imported/default")
    assert imported is not None and imported["registration"] == "mcp-remote"
    assert imported["resource"] == rs.url and imported["refresh_token"] == "not-the-real-one"
    # the imported access token resolves through the shim and the server accepts it
    shim = subprocess.run(
        [str(MCPCRED), "shim", "--server", "probe", "--client", "test", "--", *PRINT_TOKEN],
        env=_env(TOKEN="mcpcred:oauth/imported"), capture_output=True, text=True, timeout=60,
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert shim.returncode == 0, shim.stderr
    assert call_tool(rs.url, shim.stdout.strip(), "echo", {"text": "m"}) == "echo: m"


def test_login_by_the_name_of_a_remote_server_in_a_client_config(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, home: Path
) -> None:
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    config = {"mcpServers": {"acme": {"command": "npx", "args": ["-y", "mcp-remote", rs.url]}}}
    (home / ".claude.json").write_text(json.dumps(config))
    result = run("login", "acme")
    assert result.returncode == 0, result.stderr
    record = stored(keychain, "oauth:acme/default")
    assert record is not None and record["server_url"] == rs.url
    assert "{{mcpcred:oauth/acme}}" in result.stderr  # how to use it
    # the name of that login now leads back to the server (its record keeps the URL)
    (home / ".claude.json").unlink()
    assert run("login", "acme").returncode == 0
    # a name taken by another server's login is refused, not overwritten
    other = start_rs(oidc_server.issuer)  # type: ignore[operator]
    taken = run("login", other.url, "--name", "acme")
    assert taken.returncode == 2 and "is taken" in taken.stderr


def test_client_id_metadata_document_when_the_server_supports_it(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, start_rs: object, tmp_path: Path
) -> None:
    document = ClientMetadataHost(tmp_path)
    try:
        server = start_oidc_server(CIMD="1", NODE_EXTRA_CA_CERTS=str(document.cert))
        assert server.metadata().get("client_id_metadata_document_supported") is True
        rs = start_rs(server.issuer)  # type: ignore[operator]
        result = login(rs.url, "--client-metadata-url", document.client_id)
        assert result.returncode == 0, result.stderr + server.stderr()[-2000:]
        record = stored(keychain, RECORD)
        assert record is not None and record["client_id"] == document.client_id
        assert record["registration"] == "metadata-document"
        assert server.stats()["registration"] == 0  # no dynamic registration
        assert document.fetched >= 1  # the server read the document
        token = str((stored(keychain, ACCESS) or {})["access_token"])
        assert call_tool(rs.url, token, "echo", {"text": "c"}) == "echo: c"
    finally:
        document.stop()


def test_a_bridge_forced_refresh_after_a_401_happens_once_and_sends_resource(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, tmp_path: Path
) -> None:
    """``Minter.renew``, as the bridge calls it on a mid-session 401, with the real parts."""
    from mcpcred.keychain.store import SecretStore
    from mcpcred.keychain.vault import StoreVault
    from mcpcred.oauth.http import HttpxTransport
    from mcpcred.oauth.mint import Minter

    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    assert login(rs.url).returncode == 0
    old = str((stored(keychain, ACCESS) or {})["access_token"])  # fresh for another minute
    oidc_server.reset()
    transport = HttpxTransport(httpx.Client(trust_env=False))
    try:
        minter = Minter(
            StoreVault(SecretStore()), transport=lambda: transport, lock_dir=lambda: tmp_path
        )
        new = minter.renew(NAME, "default", old).token
        assert new != old
        assert call_tool(rs.url, new, "echo", {"text": "r"}) == "echo: r"
        # a second bridge that held the same refused token gets the new one, no refresh
        assert minter.renew(NAME, "default", old).token == new
    finally:
        transport.close()
    stats = oidc_server.stats()
    assert stats["refresh_token"] == 1 and stats["refresh_with_resource"] == 1, stats


def test_a_zed_oauth_app_moved_by_wrap_is_the_client_login_uses(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, home: Path
) -> None:
    """Zed's ``oauth`` block with a pre-registered app (GitHub's case: no registration):
    wrap moves its secret and leaves the app for ``login URL``, which needs no --client-id."""
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    settings = home / ".config" / "zed" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        "// Zed\n{\n"
        '  "context_servers": {\n'
        f'    "github": {{ "url": "{rs.url}", "enabled": true,\n'
        '      "oauth": { "client_id": "mcpcred-confidential", '
        '"client_secret": "test-client-secret" } },\n'
        "  },\n}\n"
    )
    settings.chmod(0o600)
    original = settings.read_bytes()
    pending = f"oauth-client-for:{rs.url}"
    dry = run("wrap", "zed", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "test-client-secret" not in dry.stdout + dry.stderr
    assert settings.read_bytes() == original
    assert real_keychain.lookup(keychain, "mcpcred", pending) is None  # a dry run stores nothing
    wrapped = run("wrap", "zed", "--yes")
    assert wrapped.returncode == 0, wrapped.stderr
    assert f"mcpcred login {rs.url} --name github-mcp" in wrapped.stderr
    # the secret is nowhere under HOME any more (the file, its backups, mcpcred's records)
    for path in home.rglob("*"):
        if path.is_file():
            assert "test-client-secret" not in path.read_text(errors="replace"), path
    assert "test-client-secret" not in wrapped.stdout + wrapped.stderr
    entry = read_entry(settings, "github", config_key="context_servers")
    assert "oauth" not in entry and "url" not in entry
    assert "Authorization: Bearer {{mcpcred:oauth/github-mcp}}" in entry["args"]
    app = real_keychain.lookup(keychain, "mcpcred", pending)
    assert app is not None and json.loads(app)["client_id"] == "mcpcred-confidential"

    before = oidc_server.stats()["registration"]
    result = run("login", rs.url, "--name", "github-mcp")
    assert result.returncode == 0, result.stderr
    assert oidc_server.stats()["registration"] == before  # the app, not a registration
    assert "test-client-secret" not in result.stdout + result.stderr
    record = stored(keychain, "oauth:github-mcp/default")
    assert record is not None and record["client_id"] == "mcpcred-confidential"
    assert record["registration"] == "pre-registered"
    assert record["client_secret"] == "test-client-secret"
    client = real_keychain.lookup(keychain, "mcpcred", f"oauth-client:{oidc_server.issuer}")
    assert client is not None and json.loads(client)["client_id"] == "mcpcred-confidential"
    no_token_leaks(result, keychain, "github-mcp")

    # the bridge entry, started as Zed starts it (the MCP SDK's stdio client), resolves its
    # reference to a token the real server accepts
    called = sdk_call_tool(
        settings, "github", "echo", {"text": "hi"}, config_key="context_servers", env=_env()
    )
    assert called.ok, (called.error, called.stderr[-2000:])
    assert called.text == ["echo: hi"]

    restored = run("unwrap", "zed", "--restore-secrets", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert settings.read_bytes() == original


def test_a_cursor_oauth_app_with_scopes_through_wrap_login_the_bridge_and_unwrap(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, home: Path
) -> None:
    """Cursor's ``auth`` block with a pre-registered app and its own ``scopes`` (Cursor asks
    for them instead of the server's): wrap moves the secret and keeps the app with its
    scopes; ``login URL`` uses the app and asks for exactly those (the server's challenge
    names only ``mcp:tools``); the bridge reaches the server with a token carrying them;
    unwrap gives the file back byte for byte and drops the app kept for login."""
    import jwt

    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir(parents=True)
    config.write_text(
        "{\n"
        '  "mcpServers": {\n'
        f'    "github": {{ "url": "{rs.url}",\n'
        '      "auth": { "CLIENT_ID": "mcpcred-confidential", '
        '"CLIENT_SECRET": "test-client-secret", "scopes": ["mcp:tools", "mcp:admin"] } }\n'
        "  }\n}\n"
    )
    config.chmod(0o600)
    original = config.read_bytes()
    pending = f"oauth-client-for:{rs.url}"

    wrapped = run("wrap", "cursor", "--yes")
    assert wrapped.returncode == 0, wrapped.stderr
    assert "with the scopes it set (mcp:tools mcp:admin)" in wrapped.stderr
    assert f"mcpcred login {rs.url} --name github-mcp" in wrapped.stderr
    for path in home.rglob("*"):
        if path.is_file():
            assert "test-client-secret" not in path.read_text(errors="replace"), path
    entry = read_entry(config, "github")
    assert set(entry) == {"command", "args"}, entry  # Cursor's stdio shape, no auth block
    assert "Authorization: Bearer {{mcpcred:oauth/github-mcp}}" in entry["args"]
    app = json.loads(real_keychain.lookup(keychain, "mcpcred", pending) or "{}")
    assert app["client_id"] == "mcpcred-confidential"
    assert app["scopes"] == ["mcp:tools", "mcp:admin"]

    before = oidc_server.stats()
    result = run("login", rs.url, "--name", "github-mcp")
    assert result.returncode == 0, result.stderr
    after = oidc_server.stats()
    assert after["registration"] == before["registration"]  # the app, not a registration
    assert after["authorization_code"] == before["authorization_code"] + 1  # no step-up
    record = stored(keychain, "oauth:github-mcp/default")
    assert record is not None and record["client_id"] == "mcpcred-confidential"
    assert {"mcp:tools", "mcp:admin"} <= set(record["scopes"])
    access = stored(keychain, "oauth:github-mcp/default:access") or {}
    claims = jwt.decode(str(access["access_token"]), options={"verify_signature": False})
    assert {"mcp:tools", "mcp:admin"} <= set(str(claims["scope"]).split())
    assert claims["aud"] == rs.url and claims["client_id"] == "mcpcred-confidential"
    no_token_leaks(result, keychain, "github-mcp")

    # the bridge entry, started as Cursor starts it: admin_op needs mcp:admin (else a 403
    # insufficient_scope), which only the block's own scopes asked for
    for tool, arguments, text in (
        ("echo", {"text": "hi"}, "echo: hi"),
        ("admin_op", {}, "admin ok"),
    ):
        called = sdk_call_tool(config, "github", tool, arguments, env=_env())
        assert called.ok, (tool, called.error, called.stderr[-2000:])
        assert called.text == [text]

    restored = run("unwrap", "cursor", "--restore-secrets", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert config.read_bytes() == original
    assert real_keychain.lookup(keychain, "mcpcred", pending) is None
    assert stored(keychain, "oauth:github-mcp/default") is not None  # the login stays


def test_a_gemini_oauth_app_is_logged_in_with_the_redirect_it_is_registered_with(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, home: Path
) -> None:
    """An app made for Gemini CLI is registered with Gemini's redirect (here ``redirectUri``
    ``http://localhost:PORT/oauth/callback``) and with nothing else: the login must be
    redirected exactly there, or the authorization server refuses it."""
    from tests.support.remote_servers import free_port

    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    redirect = f"http://localhost:{free_port()}/oauth/callback"
    settings = home / ".gemini" / "settings.json"
    settings.parent.mkdir(parents=True)
    settings.write_text(
        "{\n  // Gemini CLI\n"
        '  "mcpServers": {\n'
        f'    "app": {{ "httpUrl": "{rs.url}", "timeout": 30000,\n'
        '      "oauth": { "enabled": true, "clientId": "gemini-app", '
        f'"clientSecret": "gemini-app-secret", "redirectUri": "{redirect}" }} }}\n'
        "  }\n}\n"
    )
    settings.chmod(0o600)
    original = settings.read_bytes()
    wrapped = run("wrap", "gemini-cli", "--yes")
    assert wrapped.returncode == 0, wrapped.stderr
    assert "gemini-app-secret" not in settings.read_text()
    app = json.loads(
        real_keychain.lookup(keychain, "mcpcred", f"oauth-client-for:{rs.url}") or "{}"
    )
    assert app["client_id"] == "gemini-app" and app["redirect_uri"] == redirect

    log = home / "browser.log"
    assert f"mcpcred login {rs.url} --name app" in wrapped.stderr
    result = run("login", rs.url, "--name", "app", env=_env(FAKEBROWSER_LOG=str(log)))
    assert result.returncode == 0, result.stderr
    (opened,) = log.read_text().splitlines()
    assert parse_qs(urlsplit(opened).query)["redirect_uri"] == [redirect]
    record = stored(keychain, "oauth:app/default")
    assert record is not None and record["client_id"] == "gemini-app"
    assert "gemini-app-secret" not in result.stdout + result.stderr

    called = sdk_call_tool(settings, "app", "echo", {"text": "hi"}, env=_env())
    assert called.ok, (called.error, called.stderr[-2000:])
    assert called.text == ["echo: hi"]

    restored = run("unwrap", "gemini-cli", "--restore-secrets", "--yes")
    assert restored.returncode == 0, restored.stderr
    assert settings.read_bytes() == original


class _Listener:
    """A loopback TCP server that keeps every byte sent to it (the server a hostile entry
    points at): what a bridge would have handed over, token included."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/mcp"
        self.received = bytearray()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while True:
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received += conn.recv(65536)

    def close(self) -> None:
        self.sock.close()


def test_a_login_for_one_server_is_never_sent_to_another(
    keychain: dict[str, str], oidc_server: OidcServer, start_rs: object, tmp_path: Path
) -> None:
    """RFC 8707 / the MCP spec's token audience rule: an entry that names a remote-server
    login but points elsewhere (a repository's ``.mcp.json`` aimed at a host of its
    choosing) gets an error before anything is sent; the login's own server still works."""
    rs = start_rs(oidc_server.issuer)  # type: ignore[operator]
    assert login(rs.url).returncode == 0
    token = str((stored(keychain, ACCESS) or {})["access_token"])
    other = _Listener()
    try:
        header = f"Authorization: Bearer {{{{mcpcred:oauth/{NAME}}}}}"
        # the SDK's stdio client hands a server only its default variables and the entry's
        keep = {k: v for k, v in _env().items() if k.startswith(("DBUS_", "XDG_", "HOME"))}
        entry = {
            "command": str(MCPCRED),
            "args": ["shim", "--server", "x", "--client", "test"],
            "env": keep,
        }
        hostile = {**entry, "args": [*entry["args"], "--url", other.url, "--header", header]}
        called = sdk_call_tool_entry(hostile, "echo", {"text": "hi"}, env=_env(), timeout=30)
        assert not called.ok
        assert f"mcpcred:oauth/{NAME} is for {rs.url}" in called.stderr
        assert f"not for {other.url}" in called.stderr
        assert token not in called.stderr + called.stdout
        time.sleep(0.3)
        assert bytes(other.received) == b""  # not even a connection with the token
        # the headers helper (Claude Code names the server in its environment) refuses too
        helper = run(
            "headers", "--server", "x", "--header", header,
            env=_env(CLAUDE_CODE_MCP_SERVER_URL=other.url),
        )  # fmt: skip
        assert helper.returncode != 0 and helper.stdout == ""
        assert f"not for {other.url}" in helper.stderr and token not in helper.stderr
        # ... and hands the token over for the login's own server
        good = run(
            "headers", "--server", "x", "--header", header,
            env=_env(CLAUDE_CODE_MCP_SERVER_URL=rs.url + "?x=1"),
        )  # fmt: skip
        assert good.returncode == 0, good.stderr
        assert json.loads(good.stdout) == {"Authorization": f"Bearer {token}"}
    finally:
        other.close()
    # the same entry pointed at the login's own server works
    own = {**entry, "args": [*entry["args"], "--url", rs.url, "--header", header]}
    called = sdk_call_tool_entry(own, "echo", {"text": "hi"}, env=_env(), timeout=60)
    assert called.ok, (called.error, called.stderr[-2000:])
    assert called.text == ["echo: hi"]
