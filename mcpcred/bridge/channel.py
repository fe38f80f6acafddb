"""One HTTP channel to a remote MCP server: credentials, re-authentication, retries, redirects.

Every era module (``streamable``, ``modern``, ``legacy_sse``) sends through a
``Channel``, so the rules that matter for safety live in one place:

* the resolved credential headers go on every request (POST, GET, DELETE);
* a 401 calls ``reauth()`` once per burst (single flight across worker threads:
  requests sent before a re-authentication reuse its outcome instead of calling
  it again) and retries once with the new headers;
* connection failures and 502/503/504 are retried a bounded number of times with
  backoff; a 500 is not (the server may have run the tool already);
* redirects are followed only within the server's origin (``http`` -> ``https``
  on the same host is allowed), keeping the method and body;
* failures become ``Failure`` with a message naming the server's origin and path
  at most -- never the query, the userinfo, a header value or httpx's own text,
  which can quote the URL.

Responses are returned open (streamed), so a 50 MB answer or a long SSE stream
never sits in memory whole. ``abort`` shuts a response's socket down: the only
way to wake a thread blocked reading it (closing a socket from another thread
does not), which is what makes ``close()`` and cancellation bounded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import ssl
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from mcpcred.bridge.messages import Failure
from mcpcred.errors import McpcredError

if TYPE_CHECKING:
    Reauth = Callable[[], Mapping[str, str]]

REDIRECTS = frozenset({301, 302, 303, 307, 308})
RETRY_STATUS = frozenset({502, 503, 504})
MAX_REDIRECTS = 5
USER_AGENT = "mcpcred-bridge"
_NOT_SET: Any = object()


def describe_where(url: str) -> str:
    """``scheme://host[:port]/path`` of ``url``, without userinfo or query.

    A path segment that looks like a token (long, letters and digits mixed) is
    shown as ``...``: some services put the key in the path (``/mcp/sk-.../sse``).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port else "")
    segments = []
    for seg in parts.path.split("/"):
        looks_secret = (
            len(seg) >= 16 and any(c.isdigit() for c in seg) and any(c.isalpha() for c in seg)
        )
        segments.append("..." if looks_secret else seg)
    return origin + "/".join(segments)


def same_origin(base: httpx.URL, target: httpx.URL) -> bool:
    """Whether a redirect from ``base`` to ``target`` stays with the same server."""
    if target.host != base.host:
        return False
    if target.scheme == base.scheme:
        return target.port == base.port
    # http -> https on the same host: an upgrade, allowed (never the other way)
    return base.scheme == "http" and target.scheme == "https"


def _verify() -> ssl.SSLContext | bool:
    """The TLS trust: httpx honours SSL_CERT_FILE/SSL_CERT_DIR; add REQUESTS_CA_BUNDLE.

    Corporate setups often only set ``REQUESTS_CA_BUNDLE`` (requests' variable) or
    ``CURL_CA_BUNDLE``; without this, their TLS-inspecting proxy fails every call.
    """
    if os.environ.get("SSL_CERT_FILE") or os.environ.get("SSL_CERT_DIR"):
        return True
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        bundle = os.environ.get(name)
        if bundle and os.path.isfile(bundle):
            return ssl.create_default_context(cafile=bundle)
    return True


def _auth_param(challenge: str, name: str) -> str | None:
    """One ``name="value"`` parameter of a ``WWW-Authenticate`` header (printable, bounded)."""
    import re

    match = re.search(rf'{name}\s*=\s*(?:"([^"]*)"|([^\s,]+))', challenge)
    if not match:
        return None
    value = match.group(1) if match.group(1) is not None else match.group(2)
    value = "".join(c for c in value if c.isprintable())[:200]
    return value or None


class _Streams:
    """Which network stream each thread last wrote a request on.

    Cancelling a 2026-07-28 request means closing its connection, and an SDK
    server may hold the response headers back for seconds: until they arrive
    there is no response object to abort. Every stream the pool opens is wrapped
    so that writing a request records ``thread -> stream``; a cancellation can
    then shut the right socket down while the request is still waiting.
    """

    def __init__(self) -> None:
        # weak: a closed connection's stream must not be kept alive by this record
        self.by_thread: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        self.lock = threading.Lock()

    def wrap_pools(self, client: httpx.Client) -> None:
        """Wrap the network backend of every connection pool of ``client`` (best effort)."""
        transports = [getattr(client, "_transport", None), *getattr(client, "_mounts", {}).values()]
        for transport in transports:
            pool = getattr(transport, "_pool", None)
            inner = getattr(pool, "_network_backend", None)
            if pool is not None and inner is not None:
                pool._network_backend = _Backend(inner, self)

    def shut(self, ident: int) -> bool:
        with self.lock:
            stream = self.by_thread.get(ident)
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            return True
        return False

    def forget(self, ident: int) -> None:
        with self.lock:
            self.by_thread.pop(ident, None)


@functools.cache
def _tracking_classes() -> tuple[type, type]:
    import httpcore

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: httpcore.NetworkStream, streams: _Streams) -> None:
            self._inner = inner
            self._streams = streams

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, timeout)

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            with self._streams.lock, contextlib.suppress(TypeError):  # (not weak-referenceable)
                self._streams.by_thread[threading.get_ident()] = self._inner
            self._inner.write(buffer, timeout)

        def close(self) -> None:
            self._inner.close()

        def start_tls(
            self,
            ssl_context: ssl.SSLContext,
            server_hostname: str | None = None,
            timeout: float | None = None,
        ) -> httpcore.NetworkStream:
            return Stream(
                self._inner.start_tls(ssl_context, server_hostname, timeout), self._streams
            )

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def __init__(self, inner: httpcore.NetworkBackend, streams: _Streams) -> None:
            self._inner = inner
            self._streams = streams

        def connect_tcp(
            self,
            host: str,
            port: int,
            timeout: float | None = None,
            local_address: str | None = None,
            socket_options: Any = None,
        ) -> httpcore.NetworkStream:
            stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
            return Stream(stream, self._streams)

        def connect_unix_socket(
            self, path: str, timeout: float | None = None, socket_options: Any = None
        ) -> httpcore.NetworkStream:
            return Stream(
                self._inner.connect_unix_socket(path, timeout, socket_options), self._streams
            )

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    return Stream, Backend


def _Backend(inner: Any, streams: _Streams) -> Any:
    return _tracking_classes()[1](inner, streams)


class Channel:
    """Credential-carrying HTTP to one MCP server (thread-safe; one httpx.Client)."""

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        *,
        reauth: Reauth | None,
        connect_timeout: float,
        read_timeout: float,
        retries: int = 3,
        backoff: float = 0.25,
    ) -> None:
        self.url = url
        self.where = describe_where(url)
        self.read_timeout = read_timeout
        self.connect_timeout = connect_timeout
        self._headers = dict(headers)
        self._reauth_fn = reauth
        self._retries = retries
        self._backoff = backoff
        self._auth_lock = threading.Lock()  # the headers and epoch (held briefly)
        self._reauth_lock = threading.Lock()  # one re-authentication at a time
        self._epoch = 0
        self._auth_error: str | None = None
        self._closing = threading.Event()
        self._open: weakref.WeakSet[httpx.Response] = weakref.WeakSet()
        self._open_lock = threading.Lock()
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=connect_timeout, read=read_timeout, write=read_timeout, pool=connect_timeout
            ),
            follow_redirects=False,
            trust_env=True,  # HTTP(S)_PROXY, NO_PROXY, SSL_CERT_FILE, SSL_CERT_DIR
            verify=_verify(),
            headers={"User-Agent": USER_AGENT},
        )
        self._streams = _Streams()
        self._streams.wrap_pools(self._client)

    # -- sending -----------------------------------------------------------------------

    def fail(self, what: str) -> Failure:
        return Failure(f"{what} ({self.where})")

    def silent(self) -> Failure:
        """The failure of a request whose answer stopped coming for the read timeout."""
        return self.fail(
            f"the server sent nothing for {self.read_timeout:g} s; the request was given up"
        )

    def request(
        self,
        method: str,
        *,
        url: str | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = _NOT_SET,
        retry: bool = True,
        reauth: bool = True,
    ) -> httpx.Response:
        """Send one request and return the open response (the caller closes it).

        Statuses other than 401/403/5xx/redirects come back for the caller to
        read (the eras key on 400/404/405); those four end here or are retried.
        """
        target = httpx.URL(url or self.url)
        timeout = httpx.Timeout(
            connect=self.connect_timeout,
            read=self.read_timeout if read_timeout is _NOT_SET else read_timeout,
            write=self.read_timeout,
            pool=self.connect_timeout,
        )
        tries = 0 if retry else self._retries
        hops = 0
        reauthed = False
        while True:
            if self._closing.is_set():
                raise self.fail("the bridge is shutting down")
            with self._auth_lock:
                epoch, creds = self._epoch, dict(self._headers)
            merged = {**creds, **(headers or {})}
            try:
                req = self._client.build_request(
                    method, target, content=body, headers=merged, timeout=timeout
                )
                resp = self._client.send(req, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if tries < self._retries and self._pause(tries, None):
                    tries += 1
                    continue
                raise self.fail(self.describe(exc)) from None
            except httpx.HTTPError as exc:
                raise self.fail(self.describe(exc)) from None
            status = resp.status_code
            if status in REDIRECTS and "location" in resp.headers:
                resp.close()
                try:
                    nxt = target.join(resp.headers["location"])
                except (httpx.InvalidURL, ValueError):
                    raise self.fail("the server redirected to an invalid address") from None
                if not same_origin(target, nxt):
                    raise self.fail("the server redirected to another origin; not followed")
                hops += 1
                if hops > MAX_REDIRECTS:
                    raise self.fail("too many redirects")
                target = nxt
                continue
            if status == 401:
                resp.close()
                if not reauth:
                    raise self.fail("the server refused the credentials (HTTP 401)")
                if reauthed:
                    raise self.fail(
                        "the server refused the credentials again after re-authenticating"
                        " (HTTP 401)"
                    )
                self._reauthenticate(epoch)
                reauthed = True
                continue
            if status == 403:
                challenge = resp.headers.get("www-authenticate", "")
                resp.close()
                if _auth_param(challenge, "error") == "insufficient_scope":
                    scope = _auth_param(challenge, "scope")
                    needs = f"the OAuth scope '{scope}'" if scope else "a wider OAuth scope"
                    raise self.fail(
                        f"the server needs {needs} (HTTP 403 insufficient_scope): "
                        "run `mcpcred login` for this server again to grant it"
                    )
                raise self.fail("the server refused access (HTTP 403)")
            if status in RETRY_STATUS:
                retry_after = resp.headers.get("retry-after")
                resp.close()
                if tries < self._retries and self._pause(tries, retry_after):
                    tries += 1
                    continue
                raise self.fail(f"the server answered HTTP {status} {tries + 1} times; giving up")
            if status >= 500:
                resp.close()
                raise self.fail(f"the server failed (HTTP {status})")
            with self._open_lock:
                self._open.add(resp)
            return resp

    def _pause(self, tries: int, retry_after: str | None) -> bool:
        """Back off before retry ``tries + 1``; False when the bridge is closing."""
        delay = min(self._backoff * (2**tries), 4.0)
        if retry_after and retry_after.strip().isdigit():
            delay = min(max(delay, float(retry_after.strip())), 5.0)
        return not self._closing.wait(delay)

    def _reauthenticate(self, epoch: int) -> None:
        """Single-flight re-authentication for a request sent under ``epoch``.

        The epoch moves on only when a re-authentication *finishes*: every request
        sent before that (the burst) reuses its outcome, success or failure, while
        one sent afterwards that still gets 401 starts a new one (the user may have
        logged in again meanwhile). Sending never waits for a refresh in progress.
        """
        with self._reauth_lock:
            with self._auth_lock:
                if self._epoch != epoch:
                    if self._auth_error is not None:
                        raise Failure(self._auth_error)  # the same text the first one got
                    return  # fresh headers are in place: retry with them
            if self._reauth_fn is None:
                raise self.fail("the server refused the credentials (HTTP 401)")
            error: str | None = None
            fresh: Mapping[str, str] = {}
            try:
                fresh = self._reauth_fn()
            except McpcredError as exc:
                error = exc.message
            except Exception as exc:
                error = self.fail(f"re-authentication failed ({type(exc).__name__})").message
            with self._auth_lock:
                self._epoch += 1
                self._auth_error = error
                if error is None:
                    lowered = {k.lower() for k in fresh}
                    kept = {k: v for k, v in self._headers.items() if k.lower() not in lowered}
                    self._headers = {**kept, **fresh}
            if error is not None:
                raise Failure(error)

    def describe(self, exc: BaseException) -> str:
        """A value-free sentence for an httpx failure (httpx's text can quote the URL)."""
        if isinstance(exc, httpx.ConnectTimeout):
            return f"could not connect to the server within {self.connect_timeout:g} s"
        if isinstance(exc, httpx.ReadTimeout):
            return f"the server sent nothing for {self.read_timeout:g} s"
        if isinstance(exc, httpx.TimeoutException):
            return "the connection to the server timed out"
        if isinstance(exc, httpx.ProxyError):
            return "the HTTP proxy refused the connection"
        if isinstance(exc, httpx.ConnectError):
            if "CERTIFICATE" in str(exc).upper():
                return (
                    "the server's TLS certificate is not trusted (SSL_CERT_FILE names a private CA)"
                )
            return "could not connect to the server"
        if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
            return "the connection to the server broke"
        return f"HTTP failure ({type(exc).__name__})"

    def scrub(self, text: str, limit: int = 300) -> str:
        """Server-provided ``text`` made safe to show: every credential value removed, bounded.

        A server may quote what it was sent (an API key in an error message);
        the client (and the model behind it) must not see it from us.
        """
        from urllib.parse import parse_qsl

        parts = urlsplit(self.url)
        secrets = [v for v in self._headers.values() if len(v) >= 4]
        secrets += [v for _, v in parse_qsl(parts.query) if len(v) >= 4]
        secrets += [v for v in (parts.username, parts.password) if v and len(v) >= 4]
        for value in secrets:
            # the whole value, and its long words ("Bearer <token>" -> the token)
            for piece in sorted(
                {value, *(w for w in value.split() if len(w) >= 8)}, key=len, reverse=True
            ):
                text = text.replace(piece, "[redacted]")
        text = "".join(c if c.isprintable() else " " for c in text)
        return text[:limit]

    # -- streams and shutdown ----------------------------------------------------------

    def abort(self, resp: httpx.Response) -> None:
        """Wake whoever reads ``resp``: shut its socket down (the reader closes it).

        Never ``close`` it from here: that frees the descriptor while the reader
        may be about to poll it, and the next connection can get the same number,
        leaving the reader blocked on someone else's socket.
        """
        stream = resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def abort_thread(self, ident: int) -> bool:
        """Shut down the connection thread ``ident`` last sent a request on (before any answer)."""
        return self._streams.shut(ident)

    def forget_thread(self, ident: int) -> None:
        self._streams.forget(ident)

    def stop(self) -> None:
        """No new requests; every open response aborted (readers wake up at once)."""
        self._closing.set()
        with self._open_lock:
            opened = [r for r in self._open if not r.is_closed]
        for resp in opened:
            self.abort(resp)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def close(self) -> None:
        """Release the connections; call after ``stop`` and after the readers have finished."""
        self.stop()
        with contextlib.suppress(Exception):
            self._client.close()
