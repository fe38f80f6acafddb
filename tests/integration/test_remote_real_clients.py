"""Remote servers end to end with every part real: Codex, the bridge, the keychain, OAuth.

1. Codex (``codex app-server`` from npm) reads a ``config.toml`` whose remote entries
   ``mcpcred wrap codex`` rewrote: a literal ``http_headers`` credential stays a remote
   entry whose ``http_headers_helper`` runs ``mcpcred headers``, a key in the URL becomes
   a stdio entry running the bridge. Codex connects to both real MCP SDK servers
   (``tests/support/remote_servers.py``) and calls their tools; the servers check the
   credential. ``unwrap --restore-secrets`` gives the file back byte for byte.
2. Twenty bridges (``mcpcred shim --url ... --header "Authorization: Bearer
   {{mcpcred:oauth/NAME}}"``) start at once after the access token expired, against a
   real SDK resource server and oidc-provider with rotating refresh tokens: one refresh
   for all of them, with ``resource``, and the grant survives it. Then the grant is
   revoked at the authorization server while a bridge runs: its next call gets a
   JSON-RPC error that names ``mcpcred login NAME``; after that login the same bridge
   works again, and it ends on EOF.

Found with Codex 0.169.0: it runs ``http_headers_helper`` with its cleared environment
(hence the ``--dbus-address`` wrap writes into the command), merges its output with the
entry's ``http_headers``, and, when the helper fails, keeps only its exit status.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.integration.test_login_e2e import _env, stored
from tests.support import keychain as real_keychain
from tests.support import mcp_parts, remote_servers, tokengen
from tests.support.oauth_resource_server import ResourceServer, call_tool
from tests.support.oauth_server import StartOidcServer

pytestmark = pytest.mark.slow

MCPCRED = Path(sys.executable).parent / "mcpcred"
REFERENCE = re.compile(r"\{\{mcpcred:secret/([a-z0-9][a-z0-9._-]*)\}\}")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """mcpcred's data folder (backups, records) for this test only."""
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def mcpcred(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user runs it."""
    done = subprocess.run(
        [str(MCPCRED), *args], capture_output=True, text=True, timeout=60,
        env=dict(os.environ), stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"mcpcred {' '.join(args)} exited {done.returncode}: {done.stderr}"
    return done


def no_trace(value: str, *places: Path) -> None:
    """``value`` is in none of the files at or under ``places``."""
    for place in places:
        files = [place] if place.is_file() else [p for p in place.rglob("*") if p.is_file()]
        for path in files:
            assert value.encode() not in path.read_bytes(), f"the secret is in {path}"


# -- 1. Codex ----------------------------------------------------------------------------------


def test_codex_calls_tools_on_its_wrapped_remote_entries(
    keychain: dict[str, str], home: Path, data: Path
) -> None:
    rng = random.Random("codex-remote")
    bearer = tokengen.generate("github-pat", rng)
    key = tokengen.random_string(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 32)
    codex_home = home / ".codex"
    codex_home.mkdir()
    config = codex_home / "config.toml"
    with (
        remote_servers.serve("bearer", secret=bearer) as headered,
        remote_servers.serve("query", secret=key) as keyed,
    ):
        config.write_text(
            "# Codex settings, written by hand\n"
            'model = "gpt-5-codex"\n'
            "\n"
            "[mcp_servers.headered]\n"
            f'url = "{headered.url}"\n'
            f'http_headers = {{ Authorization = "Bearer {bearer}" }}\n'
            "tool_timeout_sec = 30\n"
            "\n"
            "[mcp_servers.keyed]   # the key is in the URL\n"
            f'url = "{keyed.url}"\n'
        )
        original = config.read_bytes()

        done = mcpcred("wrap", "codex", "--yes")
        for secret in (bearer, key):
            assert secret not in done.stdout + done.stderr
            no_trace(secret, config, data)
        assert [p for p in (data / "backups").rglob("*") if p.is_file()], "no backup was made"
        text = config.read_text()
        assert text.startswith('# Codex settings, written by hand\nmodel = "gpt-5-codex"\n'), text
        servers = tomllib.loads(text)["mcp_servers"]
        # (a) stays remote; Codex asks `mcpcred headers` for the header when it connects
        helper = servers["headered"]
        assert helper["url"] == headered.url and not helper.get("http_headers"), helper
        assert helper["http_headers_helper"].startswith(f"{MCPCRED} headers --server headered")
        assert helper["tool_timeout_sec"] == 30
        # (b) a stdio entry running the bridge, the key replaced by a reference
        bridge = servers["keyed"]
        assert bridge["command"] == str(MCPCRED) and "url" not in bridge, bridge
        args = bridge["args"]
        assert args[:5] == ["shim", "--server", "keyed", "--client", "codex"]
        url = args[args.index("--url") + 1]
        assert url.startswith(f"{keyed.bare_url}?key={{{{mcpcred:secret/"), url
        (header_ref,) = REFERENCE.findall(helper["http_headers_helper"])
        (url_ref,) = REFERENCE.findall(url)
        assert real_keychain.lookup(keychain, "mcpcred", header_ref) == bearer
        assert real_keychain.lookup(keychain, "mcpcred", url_ref) == key

        with mcp_parts.CodexAppServer(codex_home, timeout=90) as codex:
            status = {item["name"]: item for item in codex.server_status()["data"]}
            for name in ("headered", "keyed"):
                assert "tools" in status[name] and "echo" in status[name]["tools"], status[name]
            thread = codex.start_thread()
            answers = {
                (server, tool): codex.call_tool(server, tool, args, thread_id=thread)
                for server in ("headered", "keyed")
                for tool, args in (
                    ("auth_seen" if server == "headered" else "key_seen", {}),
                    ("echo", {"text": f"via {server}"}),
                )
            }
        for (server, tool), response in answers.items():
            assert "result" in response and not response["result"].get("isError"), (
                server, tool, response, codex.stderr[-1500:],
            )  # fmt: skip
        text_of = {k: mcp_parts.content_text(v) for k, v in answers.items()}
        assert text_of["headered", "auth_seen"] == "valid"
        assert text_of["headered", "echo"] == "echo: via headered"
        assert text_of["keyed", "key_seen"] == "valid"  # the bridge put the key in the URL
        assert text_of["keyed", "echo"] == "echo: via keyed"
        for secret in (bearer, key):
            assert secret not in codex.stderr

        # Both secrets gone from the keychain: the bridge answers Codex's initialize with the
        # fix; Codex keeps only the exit status of a failing http_headers_helper (it drops
        # the helper's stderr), so there the status is all the user gets.
        for name in (header_ref, url_ref):
            mcpcred("secret", "rm", name, "--yes")
        with mcp_parts.CodexAppServer(codex_home, timeout=90) as codex:
            status = {item["name"]: item for item in codex.server_status()["data"]}
        assert f"mcpcred secret set {url_ref}" in str(status["keyed"].get("toolsError")), status
        failed = str(status["headered"].get("toolsError"))
        assert "headers helper exited with status exit status: 5" in failed, failed  # keychain
        for value in (bearer, key):
            assert value not in json.dumps(status) and value not in codex.stderr
        for name, value in ((header_ref, bearer), (url_ref, key)):
            real_keychain.store(keychain, "mcpcred", name, value)

        mcpcred("unwrap", "codex", "--restore-secrets", "--yes")
        assert config.read_bytes() == original


# -- 2. twenty bridges, one refresh; a revoked grant ---------------------------------------------

NAME = "demo"
RECORD = f"oauth:{NAME}/default"
ACCESS = RECORD + ":access"
BRIDGES = 20
# Access tokens live this long (seconds). The bridges must have started before the refreshed
# token is half that old (after that one would rightly refresh again) and have their answers
# before it expires; the burst takes about 3.5 s on 2 cores. The test waits about 2x this.
ACCESS_TTL = 12
INITIALIZE = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "remote-e2e", "version": "0"},
}


class Bridge:
    """``mcpcred shim --url`` as a client runs it: JSON-RPC lines on its stdin and stdout.

    Its own session (so ``session_left`` can tell whether anything outlived it); stderr
    to a file, stdout read by a thread into a queue.
    """

    def __init__(self, url: str, env: dict[str, str]) -> None:
        argv = [
            str(MCPCRED), "shim", "--server", NAME, "--client", "test", "--url", url,
            "--header", f"Authorization: Bearer {{{{mcpcred:oauth/{NAME}}}}}",
        ]  # fmt: skip
        self.stderr_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self.proc = subprocess.Popen(
            argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.stderr_file, start_new_session=True,
        )  # fmt: skip
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()
        self.stderr = ""

    def _read(self, stream: IO[bytes]) -> None:
        for line in stream:
            if line.strip():
                self.lines.put(json.loads(line))
        self.lines.put(None)

    def send(self, message: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"jsonrpc": "2.0", **message}) + "\n").encode())
        self.proc.stdin.flush()

    def answer(self, request_id: int, timeout: float = 30) -> dict[str, Any]:
        """The response to ``request_id`` (notifications in between are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"no answer to {request_id} within {timeout}s") from None
            if message is None:
                self.lines.put(None)
                raise AssertionError(f"the bridge closed stdout: {self.read_stderr()}")
            if message.get("id") == request_id:
                return message

    def start(self) -> None:
        """``initialize`` and ``notifications/initialized``, without waiting."""
        self.send({"id": 1, "method": "initialize", "params": INITIALIZE})

    def handshake(self) -> dict[str, Any]:
        init = self.answer(1)
        self.send({"method": "notifications/initialized"})
        return init

    def echo(self, request_id: int, text: str) -> dict[str, Any]:
        params = {"name": "echo", "arguments": {"text": text}}
        self.send({"id": request_id, "method": "tools/call", "params": params})
        return self.answer(request_id)

    def read_stderr(self) -> str:
        if self.stderr_file.closed:
            return self.stderr
        fd = self.stderr_file.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def end(self, timeout: float = 10) -> int:
        """EOF on stdin; the bridge's exit status (it must end by itself within ``timeout``)."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"the bridge did not end {timeout}s after EOF: {self.read_stderr()}"
            ) from None

    def close(self) -> None:
        """Whatever happened: nothing of its session is left, pipes and files closed."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        mcp_parts._kill_session(self.proc.pid)
        self.proc.wait()
        self.reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.stderr = self.read_stderr()
        self.stderr_file.close()


@pytest.fixture
def bridges() -> Iterator[list[Bridge]]:
    """Bridges a test starts go in this list; all of them are closed at teardown."""
    started: list[Bridge] = []
    yield started
    for bridge in started:
        bridge.close()


def text_of(response: dict[str, Any]) -> str:
    assert "result" in response, response
    return mcp_parts.content_text(response)


def wait_until_expired(keychain: dict[str, str]) -> None:
    """Sleep until the stored access token has expired (its ``expires_at`` has passed)."""
    cached = stored(keychain, ACCESS)
    assert cached is not None and cached.get("expires_at")
    time.sleep(max(float(str(cached["expires_at"])) - time.time() + 0.5, 0))


def test_twenty_bridges_share_one_refresh_and_a_revoked_grant_says_login(
    keychain: dict[str, str], start_oidc_server: StartOidcServer, bridges: list[Bridge]
) -> None:
    server = start_oidc_server(ACCESS_TTL=str(ACCESS_TTL), SLOW_TOKEN_MS="300")
    rs = ResourceServer(server.issuer)
    try:
        env = _env()
        login = subprocess.run(
            [str(MCPCRED), "login", rs.url, "--name", NAME], env=env, capture_output=True,
            text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        assert login.returncode == 0, login.stderr
        before = stored(keychain, RECORD)
        assert before is not None and before["refresh_token"]
        old_access = str((stored(keychain, ACCESS) or {})["access_token"])

        # -- twenty bridges at once, the access token expired
        wait_until_expired(keychain)
        server.reset()
        started = time.monotonic()
        burst = [Bridge(rs.url, env) for _ in range(BRIDGES)]
        bridges.extend(burst)
        for bridge in burst:
            bridge.start()
        for bridge in burst:
            init = bridge.handshake()
            assert init.get("result", {}).get("serverInfo", {}).get("name") == "oauth-rs", (
                init, bridge.read_stderr(),
            )  # fmt: skip
        for i, bridge in enumerate(burst):
            assert text_of(bridge.echo(2, f"bridge {i}")) == f"echo: bridge {i}"
        took = time.monotonic() - started
        # past ACCESS_TTL the refreshed token would expire mid-burst and a 401 would rightly
        # renew it: the count below would mean nothing
        assert took < ACCESS_TTL, f"the burst took {took:.1f}s: too slow to count refreshes"
        assert [b.end() for b in burst] == [0] * BRIDGES, [b.read_stderr() for b in burst]
        stats = server.stats()
        assert stats["refresh_token"] == 1 and stats["refresh_error"] == 0, (stats, took)
        assert stats["refresh_with_resource"] == 1, stats  # RFC 8707 on the refresh too
        after = stored(keychain, RECORD)
        assert after is not None and after["refresh_token"] != before["refresh_token"]  # rotated
        token = str((stored(keychain, ACCESS) or {})["access_token"])
        assert token != old_access
        for bridge in burst:
            bridge.close()
            for value in (token, old_access, str(after["refresh_token"])):
                assert value not in bridge.stderr

        # -- the grant is still alive: the next refresh, with the rotated token, works
        cached = stored(keychain, ACCESS) or {}
        time.sleep(max(float(str(cached["refresh_at"])) - time.time() + 0.2, 0))
        forced = subprocess.run(
            [str(MCPCRED), "token", NAME, "--force"], env=env, capture_output=True, text=True,
            timeout=60, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        assert forced.returncode == 0, forced.stderr
        assert call_tool(rs.url, forced.stdout.strip(), "echo", {"text": "x"}) == "echo: x"
        assert server.stats()["refresh_ok"] == 2

        # -- the grant revoked at the authorization server while a bridge runs
        bridge = Bridge(rs.url, env)
        bridges.append(bridge)
        bridge.start()
        bridge.handshake()
        assert text_of(bridge.echo(2, "before")) == "echo: before"
        record = stored(keychain, RECORD)
        assert record is not None
        revoked = httpx.post(
            str(record["revocation_endpoint"]),
            data={"token": str(record["refresh_token"]), "token_type_hint": "refresh_token",
                  "client_id": str(record["client_id"])},
            trust_env=False,
        )  # fmt: skip
        assert revoked.status_code == 200, revoked.text
        wait_until_expired(keychain)  # the server stops taking the access token it holds
        asked = time.monotonic()
        refused = bridge.echo(3, "after")
        assert time.monotonic() - asked < 15, "the error took too long"
        assert "error" in refused, refused
        message = refused["error"]["message"]
        assert f"mcpcred login {NAME}" in message, message
        assert server.stats()["refresh_error"] == 1  # it tried once; the grant was gone
        # still a working stdio server: the next request gets its own answer
        again = bridge.echo(4, "again")
        assert "error" in again and again["error"]["message"] == message, again
        assert server.stats()["refresh_error"] == 1  # not asked again with the dead token
        # the user does what it says; the running bridge takes the new login, no restart
        again_login = subprocess.run(
            [str(MCPCRED), "login", NAME], env=env, capture_output=True, text=True,
            timeout=60, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        assert again_login.returncode == 0, again_login.stderr
        assert text_of(bridge.echo(5, "logged in")) == "echo: logged in"
        assert server.stats()["refresh_error"] == 1
        assert bridge.end() == 0, bridge.read_stderr()
        pid = bridge.proc.pid
        assert mcp_parts._session_members(pid) == [], "something of the bridge's session is left"
        bridge.close()
        final = stored(keychain, RECORD) or {}
        for value in (str(record["refresh_token"]), str(final.get("refresh_token"))):
            assert value not in bridge.stderr and value not in message
        # said once on stderr too (GUI clients show the server's log, not the error answer)
        assert bridge.stderr.count(f"run: mcpcred login {NAME}") == 1, bridge.stderr
    finally:
        rs.stop()
