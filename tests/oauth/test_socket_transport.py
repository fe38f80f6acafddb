"""The shim's socket-level HTTP client against real local servers (plain and TLS)."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred.errors import OAuthError
from mcpcred.oauth.http import SocketTransport, UrllibTransport, for_shim


def _serve(
    answer: bytes, wrap: Callable[[socket.socket], socket.socket] | None = None
) -> tuple[int, list[bytes]]:
    """A one-shot server on 127.0.0.1 that records the request and sends ``answer``."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    seen: list[bytes] = []

    def run() -> None:
        with listener:
            conn, _ = listener.accept()
            try:
                if wrap is not None:
                    try:
                        conn = wrap(conn)
                    except (ssl.SSLError, OSError):
                        return  # the client refused the handshake: nothing was sent
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(4096)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(4096)
                seen.append(head + b"\r\n\r\n" + body)
                conn.sendall(answer)
            finally:
                conn.close()

    threading.Thread(target=run, daemon=True).start()
    return listener.getsockname()[1], seen


def test_form_post_with_content_length() -> None:
    body = b'{"access_token":"at","token_type":"Bearer"}'
    port, seen = _serve(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode() + b"\r\n\r\n" + body + b"garbage-after"
    )  # fmt: skip
    reply = SocketTransport(5).post_form(
        f"http://127.0.0.1:{port}/token?x=1", {"grant_type": "refresh_token", "a": "b c"},
        {"Accept": "application/json"},
    )  # fmt: skip
    assert (reply.status, reply.content_type, reply.body) == (200, "application/json", body)
    request = seen[0]
    assert request.startswith(b"POST /token?x=1 HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in request and b"\r\nAccept: application/json\r\n" in request
    assert request.endswith(b"\r\n\r\ngrant_type=refresh_token&a=b+c")


def test_chunked_body_after_an_interim_100() -> None:
    port, _ = _serve(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        b'9\r\n{"error":\r\n10;ext=1\r\n"invalid_grant"}\r\n0\r\n\r\n'
    )
    reply = SocketTransport(5).post_form(f"http://127.0.0.1:{port}/t", {}, {})
    assert reply.status == 400
    assert reply.body == b'{"error":"invalid_grant"}'


def test_refused_connection_and_garbage_are_oauth_errors() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    with pytest.raises(OAuthError, match=r"cannot reach 127\.0\.0\.1"):
        SocketTransport(2).post_form(f"http://127.0.0.1:{port}/t", {}, {})
    port, _ = _serve(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(OAuthError, match="not an HTTP response"):
        SocketTransport(2).post_form(f"http://127.0.0.1:{port}/t", {}, {})


@pytest.fixture
def certificate(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )  # fmt: skip
    yield cert_path, key_path


def test_tls_is_verified_against_the_trust_store(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert_path, key_path = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)

    def wrap(conn: socket.socket) -> socket.socket:
        return context.wrap_socket(conn, server_side=True)

    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
    # not trusted: refused, and no request was ever sent in clear
    port, seen = _serve(answer, wrap)
    with pytest.raises(OAuthError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        SocketTransport(5).post_form(f"https://127.0.0.1:{port}/t", {"a": "b"}, {})
    assert seen == []
    # trusted (OpenSSL reads SSL_CERT_FILE for the default trust store): it works
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    port, seen = _serve(answer, wrap)
    reply = SocketTransport(5).post_form(f"https://127.0.0.1:{port}/t", {"a": "b"}, {})
    assert (reply.status, reply.body) == (200, b"{}")
    assert seen and seen[0].endswith(b"a=b")


def test_a_configured_proxy_selects_urllib() -> None:
    assert isinstance(for_shim({}), SocketTransport)
    assert isinstance(for_shim({"HTTPS_PROXY": "http://proxy:3128"}), UrllibTransport)
    assert isinstance(for_shim({"all_proxy": "socks5://p"}), UrllibTransport)


# -- the stdlib-only URL and form helpers: byte for byte what urllib.parse gives ----------

URLS = [
    "https://github.com/login/oauth/access_token",
    "https://GitHub.COM:443/login/oauth/access_token?x=1",
    "http://127.0.0.1:8080/token",
    "http://localhost/",
    "http://localhost",
    "http://localhost?only=query",
    "https://user:pw@auth.example.com:8443/oauth2/v2.0/token?a=b&c=d#frag",
    "http://[::1]:9000/token",
    "http://[::1]/token?",
    "https://[2001:db8::1]/t#",
    "https://login.microsoftonline.com/tenant-id/oauth2/v2.0/token",
    "https://example.com/a%20b/c?q=%2F",
    "HTTPS://Example.com:0/x",
]


@pytest.mark.parametrize("url", URLS)
def test_split_url_is_urlsplit(url: str) -> None:
    from urllib.parse import urlsplit

    from mcpcred.oauth.http import split_url

    parts = urlsplit(url)
    query = f"?{parts.query}" if parts.query else ""
    expected = (
        parts.scheme,
        parts.netloc,
        parts.hostname or "",
        parts.port,
        (parts.path or "/") + query,
    )
    assert split_url(url) == expected


@pytest.mark.parametrize("url", ["http://h:99999/x", "http://h:8a/x", "http://[::1]:-1/x"])
def test_split_url_refuses_a_bad_port_like_urlsplit(url: str) -> None:
    from urllib.parse import urlsplit

    from mcpcred.oauth.http import split_url

    with pytest.raises(ValueError):
        _ = urlsplit(url).port
    with pytest.raises(ValueError):
        split_url(url)


@given(st.dictionaries(st.text(max_size=20), st.text(max_size=60), max_size=6))
@settings(max_examples=300, deadline=None)
def test_form_encode_is_urlencode(form: dict[str, str]) -> None:
    from urllib.parse import urlencode

    from mcpcred.oauth.http import form_encode

    assert form_encode(form) == urlencode(form).encode("ascii")


def test_a_refresh_post_does_not_import_urllib_parse() -> None:
    import subprocess
    import sys

    code = (
        "import socket, sys, threading\n"
        "listener = socket.socket(); listener.bind(('127.0.0.1', 0)); listener.listen(1)\n"
        "def serve():\n"
        "    conn, _ = listener.accept()\n"
        "    data = b''\n"
        "    while not data.endswith(b'a=b+c'):\n"
        "        data += conn.recv(4096)\n"
        "    conn.sendall(b'HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\n\\r\\n{}'); conn.close()\n"
        "threading.Thread(target=serve, daemon=True).start()\n"
        "from mcpcred.oauth.http import SocketTransport\n"
        "url = 'http://127.0.0.1:%d/token' % listener.getsockname()[1]\n"
        "reply = SocketTransport(timeout=10).post_form(url, {'a': 'b c'}, {})\n"
        "print(reply.status, reply.body.decode(), *(m in sys.modules for m in ('urllib.parse', 'ipaddress', 'encodings.idna')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["200", "{}", "False", "False", "False"]
