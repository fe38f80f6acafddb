"""``mcpcred:vault/PATH#FIELD`` over Vault's HTTP API, against a loopback HTTP server.

The server is a real HTTP server on 127.0.0.1 that answers with responses recorded
from Vault's documented API (the KV v2 read, the KV v1 read, the preflight
``sys/internal/ui/mounts/PATH`` that ``vault kv`` makes, 403 and 404 bodies); it is
not Vault itself (not in any registry this project may use). It records every
request's path and headers, so the tests see exactly what mcpcred sends.
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mcpcred import external
from mcpcred.errors import ExternalLocked, ExternalNotFound, ExternalSecretError

TOKEN = "hvs.test-token-not-a-secret"

MOUNT_V2 = {
    "request_id": "6a1f0f2e", "lease_id": "", "renewable": False, "lease_duration": 0,
    "data": {"accessor": "kv_5a0d4d1e", "config": {"default_lease_ttl": 0, "force_no_cache": False,
             "max_lease_ttl": 0}, "description": "key/value secret storage", "local": False,
             "options": {"version": "2"}, "path": "secret/", "seal_wrap": False, "type": "kv"},
    "wrap_info": None, "warnings": None, "auth": None,
}  # fmt: skip
MOUNT_V1 = {**MOUNT_V2, "data": {**MOUNT_V2["data"], "options": None, "path": "kv1/"}}
READ_V2 = {
    "request_id": "8b6e8f4c", "lease_id": "", "renewable": False, "lease_duration": 0,
    "data": {"data": {"api_key": "v2-value", "port": 5432},
             "metadata": {"created_time": "2018-03-22T02:24:06.945319214Z", "custom_metadata": None,
                          "deletion_time": "", "destroyed": False, "version": 2}},
    "wrap_info": None, "warnings": None, "auth": None,
}  # fmt: skip
READ_V1 = {
    "request_id": "0c2e1f3a", "lease_id": "", "renewable": False, "lease_duration": 2764800,
    "data": {"password": "v1-value"}, "wrap_info": None, "warnings": None, "auth": None,
}  # fmt: skip
FORBIDDEN = {"errors": ["permission denied"]}
NOT_FOUND = {"errors": []}


class Vault:
    """Recorded answers by path; every request's path and headers."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, object]] = {
            "/v1/sys/internal/ui/mounts/secret/app": (200, MOUNT_V2),
            "/v1/secret/data/app": (200, READ_V2),
            "/v1/sys/internal/ui/mounts/kv1/db": (200, MOUNT_V1),
            "/v1/kv1/db": (200, READ_V1),
            "/v1/sys/internal/ui/mounts/secret/denied": (200, MOUNT_V2),
            "/v1/secret/data/denied": (403, FORBIDDEN),
        }
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.redirect_to: str | None = None


@contextmanager
def _serve(state: Vault, tls: tuple[Path, Path] | None = None) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append((self.path, dict(self.headers.items())))
            if state.redirect_to and self.path.startswith("/v1/secret/data/"):
                self.send_response(307)
                self.send_header("Location", state.redirect_to + self.path)
                self.end_headers()
                return
            code, body = state.routes.get(self.path, (404, NOT_FOUND))
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def vault() -> Iterator[tuple[Vault, str]]:
    state = Vault()
    with _serve(state) as address:
        yield state, address


def _env(address: str, **extra: str) -> dict[str, str]:
    return {"VAULT_ADDR": address, "VAULT_TOKEN": TOKEN, "PATH": "/nonexistent", **extra}


def test_kv_v2_reads_through_the_mount_preflight(vault: tuple[Vault, str]) -> None:
    state, address = vault
    env = _env(address, VAULT_NAMESPACE="team-a")
    assert external.fetch("vault", "secret/app#api_key", env, 5) == "v2-value"
    assert [path for path, _ in state.requests] == [
        "/v1/sys/internal/ui/mounts/secret/app",
        "/v1/secret/data/app",
    ]
    for _, headers in state.requests:
        assert headers["X-Vault-Token"] == TOKEN
        assert headers["X-Vault-Namespace"] == "team-a"
    assert TOKEN not in " ".join(path for path, _ in state.requests)  # a header, never the URL
    assert external.fetch("vault", "secret/app#port", env, 5) == "5432"  # a number as text


def test_kv_v1_reads_the_path_itself(vault: tuple[Vault, str]) -> None:
    state, address = vault
    assert external.fetch("vault", "kv1/db#password", _env(address), 5) == "v1-value"
    assert state.requests[-1][0] == "/v1/kv1/db"


def test_the_token_file_of_vault_login_is_used(vault: tuple[Vault, str], tmp_path: Path) -> None:
    state, address = vault
    (tmp_path / ".vault-token").write_text(TOKEN + "\n")
    env = {"VAULT_ADDR": address, "HOME": str(tmp_path), "PATH": "/nonexistent"}
    assert external.fetch("vault", "secret/app#api_key", env, 5) == "v2-value"
    assert state.requests[-1][1]["X-Vault-Token"] == TOKEN


def test_403_is_locked_and_404_missing(vault: tuple[Vault, str]) -> None:
    _, address = vault
    with pytest.raises(ExternalLocked, match=r"permission denied \(403\)") as caught:
        external.fetch("vault", "secret/denied#api_key", _env(address), 5)
    assert caught.value.hint is not None and "vault login" in caught.value.hint
    with pytest.raises(ExternalNotFound):
        external.fetch("vault", "secret/nothing#api_key", _env(address), 5)
    with pytest.raises(ExternalNotFound, match="no field 'nope'"):
        external.fetch("vault", "secret/app#nope", _env(address), 5)


def test_a_redirect_is_not_followed_with_the_token(vault: tuple[Vault, str]) -> None:
    """Followed, the request would go to port 9 and fail as "cannot reach"."""
    state, address = vault
    state.redirect_to = "http://127.0.0.1:9"
    with pytest.raises(ExternalSecretError, match="redirected"):
        external.fetch("vault", "secret/app#api_key", _env(address), 5)
    assert all(path.startswith("/v1/") for path, _ in state.requests)


def test_an_unreachable_vault_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a free port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ExternalSecretError, match="cannot reach") as caught:
        external.fetch("vault", "secret/app#k", _env(f"http://127.0.0.1:{port}"), 5)
    assert TOKEN not in caught.value.message


def test_vault_cacert_is_the_ca_trusted(tmp_path: Path) -> None:
    """A Vault with its own CA (a self-signed certificate for 127.0.0.1): trusted through
    VAULT_CACERT, refused without it, and then the token is never sent."""
    from tests.support.remote_servers import make_cert

    cert, key = make_cert(tmp_path)
    state = Vault()
    with _serve(state, (cert, key)) as address:
        env = _env(address, VAULT_CACERT=str(cert))
        assert external.fetch("vault", "secret/app#api_key", env, 5) == "v2-value"
        seen = len(state.requests)
        with pytest.raises(ExternalSecretError, match="cannot reach"):
            external.fetch("vault", "secret/app#api_key", _env(address), 5)
        assert len(state.requests) == seen
