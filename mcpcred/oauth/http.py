"""The HTTP port of the OAuth code, and its adapters (socket, urllib, httpx).

Token requests are tiny form POSTs. The shim makes at most one (a refresh)
and must stay within a few tens of milliseconds, so it sends it over a plain
socket (``SocketTransport``), or through ``urllib`` (about 20 ms to import,
but it knows ``HTTPS_PROXY``/``NO_PROXY``) when a proxy is configured, while
the CLI uses httpx (``HttpxTransport``), which tests can
drive with ``httpx.MockTransport``. Both return a ``Reply``; everything that
reads a reply (``tokens``) is shared, so provider quirks are handled once.
"""

from __future__ import annotations

from mcpcred.errors import OAuthError

# ``typing`` and ``dataclasses`` cost the shim ~10 ms at import; type checkers
# treat this constant like typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Protocol

    class Transport(Protocol):
        """Sends one request and returns the reply, or raises ``OAuthError`` (never hangs)."""

        def post_form(
            self, url: str, form: Mapping[str, str], headers: Mapping[str, str]
        ) -> Reply: ...

        def get(self, url: str, headers: Mapping[str, str]) -> Reply: ...


USER_AGENT = "mcpcred"
DEFAULT_TIMEOUT = 15.0
# A token response is a few KB; anything much larger is not one.
MAX_BODY = 1 << 20


class Reply:
    """One HTTP response, reduced to what OAuth needs."""

    __slots__ = ("body", "content_type", "status", "url")

    def __init__(self, status: int, content_type: str, body: bytes, url: str = "") -> None:
        self.status = status
        self.content_type = content_type
        self.body = body
        self.url = url


class _StdlibTransport:
    """What the two standard-library transports share: form encoding, a time limit."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        body = form_encode(form)
        sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self._send("POST", url, body, sent)

    def get(self, url: str, headers: Mapping[str, str]) -> Reply:
        return self._send("GET", url, b"", dict(headers))

    def _send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        raise NotImplementedError


class UrllibTransport(_StdlibTransport):
    """The shim's transport behind a proxy: urllib, no redirects, a time limit."""

    def _send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=body or None, method=method)  # noqa: S310 (https or loopback, checked by urls)
        request.add_header("User-Agent", USER_AGENT)
        for key, value in headers.items():
            request.add_header(key, value)
        opener = urllib.request.build_opener(_redirect_class())
        try:
            with opener.open(request, timeout=self.timeout) as response:
                return Reply(
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.read(MAX_BODY),
                    url,
                )
        except urllib.error.HTTPError as exc:
            with exc:
                return Reply(exc.code, exc.headers.get("Content-Type", ""), exc.read(MAX_BODY), url)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise network_error(url, exc) from None


class SocketTransport(_StdlibTransport):
    """The shim's fast transport: one HTTP/1.1 request over a socket, ``Connection: close``.

    ``urllib.request`` costs the shim about 20 ms to import (``http.client``,
    ``email``, ``tempfile``), which is most of what a refresh may add to a
    server start. A token request needs none of it: one POST, no redirects,
    no cookies, no compression, a body of a few KB read to the end. TLS goes
    through ``ssl.create_default_context()`` (system trust store, hostname
    checked). When a proxy is configured, ``for_shim`` picks ``UrllibTransport``
    instead, which knows proxies.
    """

    def _send(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> Reply:
        import socket
        import time

        try:
            scheme, netloc, host, port, target = split_url(url)
        except ValueError as exc:
            raise network_error(url, exc) from None
        secure = scheme == "https"
        deadline = time.monotonic() + self.timeout
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {netloc}",
            f"User-Agent: {USER_AGENT}",
            "Accept-Encoding: identity",
            "Connection: close",
            f"Content-Length: {len(body)}",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        try:
            # bytes: an ASCII host name needs no IDNA encoding (``encodings.idna`` and
            # ``stringprep``, about 1 ms the shim would import for a plain-HTTP endpoint)
            address = host.encode("ascii") if host.isascii() else host
            target_address = (address, port or (443 if secure else 80))
            sock = socket.create_connection(target_address, self.timeout)  # type: ignore[arg-type]
            try:
                if secure:
                    import ssl

                    sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
                sock.sendall(request)
                raw = bytearray()
                while len(raw) <= MAX_BODY + 65536:
                    sock.settimeout(max(deadline - time.monotonic(), 0.001))
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    raw += chunk
            finally:
                sock.close()
        except (OSError, ValueError) as exc:
            raise network_error(url, exc) from None
        return _parse_response(bytes(raw), url)


# What ``urllib.parse.quote_plus`` leaves as is (RFC 3986's unreserved characters).
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")


def form_encode(form: Mapping[str, str]) -> bytes:
    """``urllib.parse.urlencode(form)``, byte for byte, without importing ``urllib.parse``.

    In Python 3.11+ ``urllib.parse`` imports ``ipaddress``: together about 5 ms of the
    shim's start when it refreshes a token, for one small form (a test compares the two).
    """
    return "&".join(f"{_plus(key)}={_plus(value)}" for key, value in form.items()).encode("ascii")


def _plus(text: str) -> str:
    return "".join(
        chr(byte) if byte in _UNRESERVED else "+" if byte == 0x20 else f"%{byte:02X}"
        for byte in text.encode("utf-8")
    )


def split_url(url: str) -> tuple[str, str, str, int | None, str]:
    """``(scheme, netloc, hostname, port, path?query)`` as ``urllib.parse.urlsplit`` gives them.

    For the token endpoint, which login checked (https, or http to this machine). A URL
    with anything unusual (non-ASCII, spaces or control characters, no ``//``) goes to
    ``urlsplit`` itself; a bad port is a ``ValueError``, as there.
    """
    scheme, slashes, rest = url.partition("://")
    if not slashes or not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        query = f"?{parts.query}" if parts.query else ""
        return (
            parts.scheme,
            parts.netloc,
            parts.hostname or "",
            parts.port,
            (parts.path or "/") + query,
        )
    end = min([i for i in (rest.find(c) for c in "/?#") if i >= 0], default=len(rest))
    netloc, tail = rest[:end], rest[end:].partition("#")[0]
    path, _, query = tail.partition("?")
    hostinfo = netloc.rpartition("@")[2]
    if hostinfo.startswith("["):
        host, _, after = hostinfo[1:].partition("]")
        port_text = after.partition(":")[2]
    else:
        host, _, port_text = hostinfo.partition(":")
    port: int | None = None
    if port_text:
        if not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
            raise ValueError(f"Port out of range 0-65535 or not a number: {port_text[:10]!r}")
        port = int(port_text)
    return (
        scheme.lower(),
        netloc,
        host.lower(),
        port,
        (path or "/") + (f"?{query}" if query else ""),
    )


def _parse_response(raw: bytes, url: str) -> Reply:
    """A complete HTTP/1.1 response (read to EOF) as a ``Reply``."""
    while True:
        head, separator, body = raw.partition(b"\r\n\r\n")
        status_line, _, header_text = head.partition(b"\r\n")
        fields = status_line.split(b" ", 2)
        if not separator or len(fields) < 2 or not fields[0].startswith(b"HTTP/"):
            raise OAuthError(f"{_host(url)} sent something that is not an HTTP response")
        try:
            status = int(fields[1])
        except ValueError:
            raise OAuthError(f"{_host(url)} sent a malformed HTTP status line") from None
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            raw = body
            continue
        break
    headers: dict[str, str] = {}
    for line in header_text.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = _unchunk(body, url)
    elif headers.get("content-length", "").isdigit():
        body = body[: int(headers["content-length"])]
    return Reply(status, headers.get("content-type", ""), body[:MAX_BODY], url)


def _unchunk(data: bytes, url: str) -> bytes:
    out = bytearray()
    while True:
        size_line, separator, rest = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0].strip() or b"x", 16)
        except ValueError:
            raise OAuthError(f"{_host(url)} sent a malformed chunked body") from None
        if not separator or size == 0:
            return bytes(out)
        out += rest[:size]
        data = rest[size + 2 :]


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


_PROXY_VARS = ("https_proxy", "http_proxy", "all_proxy")


def for_shim(environ: Mapping[str, str]) -> Transport:
    """The shim's transport: sockets, unless a proxy is configured (then urllib)."""
    proxied = any(environ.get(n) or environ.get(n.upper()) for n in _PROXY_VARS)
    return UrllibTransport() if proxied else SocketTransport()


def network_error(url: str, exc: BaseException) -> OAuthError:
    """A one-line error for a request that got no HTTP answer at all."""
    from urllib.parse import urlsplit

    reason = getattr(exc, "reason", exc)
    text = str(reason).strip().splitlines()
    why = text[0][:160] if text else type(exc).__name__
    host = urlsplit(url).netloc or url
    return OAuthError(
        f"cannot reach {host}: {why}",
        hint="check the network (and HTTPS_PROXY), then try again",
        error="network",
    )


_no_redirect: list[type] = []


def _redirect_class() -> type:
    """The handler class, built on first use so importing this module stays free."""
    if not _no_redirect:
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            """Token endpoints never redirect; following one could send a grant elsewhere."""

            def redirect_request(self, *args: object, **kwargs: object) -> None:
                return None

        _no_redirect.append(NoRedirect)
    return _no_redirect[0]


class HttpxTransport:
    """The CLI's transport: httpx, no redirects, a time limit; tests use MockTransport."""

    def __init__(self, client: object | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        import httpx

        self.client: httpx.Client = (
            client  # type: ignore[assignment]
            if client is not None
            else httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT})
        )

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        return self._send("POST", url, dict(headers), dict(form))

    def get(self, url: str, headers: Mapping[str, str]) -> Reply:
        return self._send("GET", url, dict(headers), None)

    def _send(
        self, method: str, url: str, headers: dict[str, str], form: dict[str, str] | None
    ) -> Reply:
        import httpx

        try:
            response = self.client.request(
                method, url, headers=headers, data=form, follow_redirects=False
            )
        except httpx.HTTPError as exc:
            raise network_error(url, exc) from None
        return Reply(
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content[:MAX_BODY],
            url,
        )

    def close(self) -> None:
        """Release the connection pool."""
        self.client.close()
