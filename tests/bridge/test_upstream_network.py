"""Upstream and the network around it: TLS trust, proxies, redirects."""

from __future__ import annotations

import contextlib
import http.client
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.bridge.conftest import INIT_PARAMS, Peer
from tests.support.remote_servers import make_cert, serve


@pytest.fixture(autouse=True)
def _clean_network_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "all_proxy",
        "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
    ):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


def test_https_with_an_untrusted_certificate_is_a_clear_error(
    bridge: Any, cert: tuple[Path, Path]
) -> None:
    with serve("bearer", tls=cert) as server:
        assert server.url.startswith("https://")
        peer: Peer = bridge(server.url, server.headers(), retries=0)
        message = peer.rpc("initialize", INIT_PARAMS)["error"]["message"]
        assert "TLS certificate is not trusted" in message


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_a_private_ca_from_the_environment_is_trusted(
    bridge: Any, cert: tuple[Path, Path], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, str(cert[0]))
    with serve("bearer", tls=cert) as server:
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.text_of(peer.call("auth_seen")) == "valid"


@contextlib.contextmanager
def forward_proxy() -> Iterator[tuple[str, list[str]]]:
    """A plain-HTTP forward proxy that records the requests it carried (bodies read whole)."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def relay(self) -> None:
            target = urlsplit(self.path)  # absolute-form: the client knows it talks to a proxy
            seen.append(f"{self.command} {target.path}")
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() not in ("proxy-connection", "connection")
            }
            conn = http.client.HTTPConnection(target.hostname or "", target.port or 80, timeout=30)
            try:
                path = target.path + (f"?{target.query}" if target.query else "")
                conn.request(self.command, path, body, headers)
                resp = conn.getresponse()
                self.send_response(resp.status)
                for key, value in resp.getheaders():
                    if key.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(key, value)
                self.send_header("transfer-encoding", "chunked")  # relayed as it arrives (SSE)
                self.end_headers()
                while chunk := resp.read1(65536):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                self.wfile.write(b"0\r\n\r\n")
            except OSError:
                self.close_connection = True
            finally:
                conn.close()

        do_GET = do_POST = do_DELETE = relay

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_http_proxy_from_the_environment_carries_the_requests(
    bridge: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with forward_proxy() as (proxy, seen), serve("bearer", json_response=True) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.text_of(peer.call("echo", text="proxied")) == "echo: proxied"
        assert "POST /mcp" in seen


def test_no_proxy_bypasses_the_proxy(bridge: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    with forward_proxy() as (proxy, seen), serve("bearer", json_response=True) as server:
        monkeypatch.setenv("HTTP_PROXY", proxy)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        peer: Peer = bridge(server.url, server.headers())
        peer.handshake()
        assert peer.text_of(peer.call("echo", text="direct")) == "echo: direct"
        assert seen == []


def test_a_same_origin_redirect_is_followed_with_the_credentials(bridge: Any) -> None:
    with serve("query") as server:
        peer: Peer = bridge(server.url.replace("/mcp", "/old"), {})
        peer.handshake()
        assert peer.text_of(peer.call("echo", text="moved")) == "echo: moved"
