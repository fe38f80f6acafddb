"""The HTTP port of the OAuth code, and its standard-library adapter.

Token requests are tiny form POSTs. The shim makes at most one (a refresh)
and must stay within a few tens of milliseconds, so it uses ``urllib`` (about
25 ms to import, and it honours ``HTTPS_PROXY``/``NO_PROXY`` like httpx),
while the CLI uses httpx (``mcpcred.cli.httpx_transport``), which tests can
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


class UrllibTransport:
    """The shim's transport: the standard library, no redirects, a time limit."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout

    def post_form(self, url: str, form: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        from urllib.parse import urlencode

        body = urlencode(dict(form)).encode("ascii")
        sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
        return self._send("POST", url, body, sent)

    def get(self, url: str, headers: Mapping[str, str]) -> Reply:
        return self._send("GET", url, None, dict(headers))

    def _send(self, method: str, url: str, body: bytes | None, headers: dict[str, str]) -> Reply:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (https or loopback, checked by urls)
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
