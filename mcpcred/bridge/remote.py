"""A remote MCP server behind the shim: its references resolved, its HTTP side relayed.

``mcpcred shim --url URL [--header 'Name: value']...`` ends here (``shim.main``
for an unguarded server, ``guard.run`` for a guarded one). Both use the same
pieces, in this order:

1. ``target``: find the references in the URL and the header values, fetch
   them in one keychain round trip (``shim.resolve``, the same code as for a
   local server's env and args), substitute them, and check the result: only
   ``https://``, or ``http://`` to this machine unless ``--allow-http``; no
   line break smuggled in by a value. Errors name the reference or the
   header, never a value, and show the URL as origin and path only.
2. ``Reauth``: what ``Upstream`` calls when the server answers 401. It asks
   ``oauth.mint`` for a token other than the one refused, under the login's
   cross-process lock (another shim may have refreshed already), and returns
   the header values with it. A login that cannot be refreshed is a
   ``LoginRequired`` whose message ends in ``run: mcpcred login NAME``.
3. ``RemoteServer``: the relay's server side (``guard.relay.ServerSide``)
   around ``Upstream``, so that the ``Relay`` (framing, signals, one writer
   for stdout) and, when guarded, the ``Session`` (policy, pins, masking,
   audit records) are the very ones local servers go through.

The values resolved here are secrets: they go to ``Upstream`` and nowhere
else (no argv, no message, no record; the guard masks them in what the
server sends back).
"""

from __future__ import annotations

import sys
import threading

from mcpcred import references
from mcpcred.errors import LoginRequired, McpcredError, ShimError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from mcpcred.shim.options import ShimOptions
    from mcpcred.shim.resolve import Keychain, Resolved

    Deliver = Callable[[bytes], None]
    Factory = Callable[..., "UpstreamLike"]

    from typing import Protocol

    class UpstreamLike(Protocol):
        """The part of ``mcpcred.bridge.upstream.Upstream`` the bridge uses."""

        def start(self) -> None: ...
        def send(self, line: bytes) -> None: ...
        def close(self) -> None: ...


# A 401 this soon after a renewal is not an expired token: renewing again would rotate the
# refresh token once per request the client sends (a storm the provider may punish).
RENEW_QUIET = 30.0
# How long the end of a session waits for the remote side to close (in-flight requests,
# the session's DELETE) after a signal, before the shim exits anyway: clients send SIGKILL
# about 2 s after SIGTERM.
CLOSE_GRACE = 1.5


class Target:
    """One remote server as the entry names it (references) and as resolved (secrets)."""

    __slots__ = ("found", "headers", "shown", "templates", "url")

    def __init__(
        self,
        url: str,
        headers: dict[str, str],
        templates: list[tuple[str, str]],
        shown: str,
        found: Resolved,
    ) -> None:
        self.url = url  # resolved: may hold a secret
        self.headers = headers  # resolved: hold secrets
        self.templates = templates  # (name, value with references): the entry's own text
        self.shown = shown  # origin and path, for messages and records
        self.found = found

    def oauth_in_headers(self) -> list[str]:
        """The logins (``mcpcred:oauth/NAME``) the headers use: what a 401 can renew."""
        names = [
            name
            for _, value in self.templates
            for kind, name in references.find(value)
            if kind == references.OAUTH
        ]
        return list(dict.fromkeys(names))


def templates(options: ShimOptions) -> list[tuple[str, str]]:
    """``(name, value)`` of every ``--header``, references still in place."""
    from mcpcred.shim.options import header_pairs

    return [header_pairs(header) for header in options.headers]


def wanted(options: ShimOptions, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Every reference in the URL and the header values; a malformed one is an error."""
    from mcpcred.shim.resolve import wanted as known

    assert options.url is not None  # noqa: S101
    for where, value in [("--url", options.url), *((f"--header {n!r}", v) for n, v in pairs)]:
        bad = references.malformed(value)
        if bad is not None:
            raise ShimError(
                f"malformed mcpcred reference in {where}: {bad[:32]!r}",
                hint="references look like mcpcred:secret/NAME or {{mcpcred:oauth/NAME}}",
            )
    return known([options.url, *(v for _, v in pairs)], {}, options.label())


def target(
    options: ShimOptions,
    environ: Mapping[str, str],
    key: tuple[str, Callable[[], str]] | None = None,
) -> tuple[Target, str | None]:
    """The remote server with every reference resolved; with ``key``, the audit log's key too.

    One keychain round trip for all of it, as for a local server.
    """
    from mcpcred.shim import resolve

    assert options.url is not None  # noqa: S101
    pairs = templates(options)
    refs = wanted(options, pairs)
    secret: str | None = None
    if key is not None:
        found, secret = resolve.fetch(options, environ, refs, key, audiences=True)
    elif refs:
        found = resolve.resolve(refs, options, environ, audiences=True)
    else:  # a server that needs no credential: the keychain is not even opened
        found = resolve.Resolved()
    url = references.substitute(options.url, found.lookup)
    shown = shown_url(options.url, url, found.lookup)
    check_url(url, shown, allow_http=options.allow_http)
    found.check_audiences(url, shown)
    headers: dict[str, str] = {}
    for name, value in pairs:
        resolved = references.substitute(value, found.lookup)
        if any(c in resolved for c in "\r\n\0"):
            raise ShimError(
                f"the value of --header {name!r} holds a line break once its references are "
                "resolved",
                hint="check the stored value with `mcpcred secret` (it must be a single line)",
            )
        if not _header_text(resolved):  # an HTTP library would refuse it, quoting it maybe
            raise ShimError(
                f"the value of --header {name!r} holds a control or non-ASCII character once "
                "its references are resolved",
                hint="check the stored value with `mcpcred secret`",
            )
        headers[name] = resolved
    return Target(url, headers, pairs, shown, found), secret


def _header_text(value: str) -> bool:
    """Printable ASCII, spaces and tabs only: what every HTTP stack sends unchanged."""
    return all(c == "\t" or " " <= c <= "~" for c in value)


def shown_url(template: str, resolved: str, lookup: Callable[[str, str], str]) -> str:
    """The URL as messages and audit records show it: origin and path, never a secret.

    Query, fragment and user info are left out; a value that a reference put in
    the host or the path (``https://host/mcp/{{mcpcred:secret/key}}``) is shown
    as that reference again. A URL that is a reference as a whole shows the
    origin it resolved to and the reference, since its path may be a key.
    """
    from urllib.parse import urlsplit

    refs = references.find(template)
    whole = template.startswith(references.PREFIX) and bool(refs)
    try:
        parts = urlsplit(resolved)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        host, port = "", None
    if not host:
        return references.whole(refs[0][1], refs[0][0]) if whole else "the server's URL"
    if ":" in host:
        host = f"[{host}]"
    origin = f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")
    if whole:
        return f"{origin} (from {references.whole(refs[0][1], refs[0][0])})"
    shown = origin + parts.path
    for kind, name in sorted(refs, key=lambda ref: -len(lookup(*ref))):
        value = lookup(kind, name)
        if value:
            shown = shown.replace(value, references.embedded(name, kind))
    return shown


def check_url(url: str, shown: str, *, allow_http: bool) -> None:
    """Refuse a resolved URL before anything goes on the network.

    The scheme and plain-HTTP rules are ``Upstream``'s own (``upstream.check_url``:
    one place decides what the bridge may connect to); this adds what only
    resolving can bring in: a stored value with a space or a line break.
    """
    from mcpcred.bridge.upstream import check_url as allowed

    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise ShimError(f"the URL {shown} holds a space or a control character")
    allowed(url, allow_http)


class Reauth:
    """``reauth`` for ``Upstream``: the header values with a token the server has not refused.

    ``Upstream`` calls it once per burst of 401 answers. Each login in the
    headers is renewed through ``oauth.mint`` (``Minter.renew``) with the refused token named,
    under the login's lock: if another process has stored a different token
    meanwhile, that one is used without a second refresh. ``renewed`` hears of
    every new token (the guard masks it and records the refresh). A 401 for a
    token renewed less than ``RENEW_QUIET`` seconds ago is not renewed again:
    the server refuses the login itself, and only a new login can help. Nor is
    a login the provider refused for good (``LoginRequired``: revoked, expired),
    until the keychain caches another token for it (the user logged in again).
    """

    def __init__(
        self,
        options: ShimOptions,
        environ: Mapping[str, str],
        target: Target,
        *,
        renewed: Callable[[str, str, bool], None] | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.options = options
        # A refused login is also said once on stderr: GUI clients often show only the
        # server's log, not the JSON-RPC error the request got.
        self.warn = warn
        self.environ = environ
        self.target = target
        self.renewed = renewed  # (login name, new token, refreshed by this process)
        self.logins = target.oauth_in_headers()
        self.tokens = {name: target.found.tokens[name] for name in self.logins}
        self.lock = threading.Lock()
        self.renewed_at: float | None = None  # time.monotonic() of the last renewal
        # login -> (its token then, the message): a login the provider refused for good
        # (revoked, expired). Until the keychain holds another token for it (a new login),
        # asking again could only fail the same way, once per request the client sends.
        self.refused: dict[str, tuple[str, str]] = {}

    def __call__(self) -> Mapping[str, str]:
        """Fresh header values; ``LoginRequired`` (saying what to run) if there are none."""
        import time

        from mcpcred.oauth.records import login_command
        from mcpcred.shim.resolve import Keychain

        refused = dict(self.tokens)  # what the server saw when it said 401
        with self.lock:
            if self.tokens != refused:  # another thread renewed while this one waited
                return self.headers()
            if self.renewed_at is not None and time.monotonic() - self.renewed_at < RENEW_QUIET:
                # The token it refuses was renewed moments ago: another renewal would only
                # rotate the refresh token again, once for every request the client sends.
                names = ", ".join(self.logins)
                command = " / ".join(
                    login_command(*references.split_login(name)) for name in self.logins
                )
                raise LoginRequired(
                    f"the server refused the {names} access token right after it was renewed "
                    f"(wrong scopes or audience, or the login lost access); run: {command}",
                    hint=f"run: {command}",
                )
            keychain = Keychain(self.options, self.environ)
            try:
                minter = keychain.minter()
                for name in self.logins:
                    provider, account = references.split_login(name)
                    command = login_command(provider, account)
                    gone = self.refused.get(name)
                    if gone is not None and self._unchanged(keychain, provider, account, gone[0]):
                        raise LoginRequired(gone[1], hint=f"run: {command}")
                    before = minter.refreshed
                    try:
                        token = minter.renew(provider, account, self.tokens[name])
                    except McpcredError as exc:
                        from mcpcred.errors import describe

                        message = (
                            f"the server refused the {name} login's access token (HTTP 401) and "
                            f"it could not be renewed ({describe(exc)}); run: {command}"
                        )
                        if isinstance(exc, LoginRequired):  # not a passing failure
                            self.refused[name] = (self.tokens[name], message)
                            if self.warn is not None:
                                self.warn(message)
                        raise LoginRequired(message, hint=f"run: {command}") from None
                    self.tokens[name] = token.token
                    self.renewed_at = time.monotonic()
                    if self.renewed is not None:
                        self.renewed(name, token.token, minter.refreshed > before)
            finally:
                keychain.close()
            return self.headers()

    @staticmethod
    def _unchanged(keychain: Keychain, provider: str, account: str, token: str) -> bool:
        """Whether the keychain still caches ``token`` for the login (nobody logged in since)."""
        from mcpcred.oauth.records import AccessToken, access_name

        name = access_name(provider, account)
        cached = AccessToken.loads(keychain.read([], optional=[name]).get(name))
        return cached is not None and cached.token == token

    def headers(self) -> dict[str, str]:
        """The header values with the current tokens."""
        found = self.target.found

        def lookup(kind: str, name: str) -> str:
            if kind == references.OAUTH and name in self.tokens:
                return self.tokens[name]
            return found.lookup(kind, name)

        return {name: references.substitute(value, lookup) for name, value in self.target.templates}


def reauth_for(
    options: ShimOptions,
    environ: Mapping[str, str],
    target: Target,
    renewed: Callable[[str, str, bool], None] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Reauth | None:
    """A ``Reauth`` when the headers carry an OAuth login; None when a 401 cannot be helped."""
    if not target.oauth_in_headers():
        return None
    return Reauth(options, environ, target, renewed=renewed, warn=warn)


def _upstream(
    url: str,
    headers: Mapping[str, str],
    deliver: Deliver,
    *,
    warn: Callable[[str], None],
    reauth: Callable[[], Mapping[str, str]] | None,
    transport: str,
    allow_http: bool,
    connect_timeout: float,
) -> UpstreamLike:
    """The real HTTP side, imported only when a remote server starts."""
    from mcpcred.bridge.upstream import Upstream

    return Upstream(
        url,
        headers,
        deliver,
        warn=warn,
        reauth=reauth,
        transport=transport,
        allow_http=allow_http,
        connect_timeout=connect_timeout,
    )


class RemoteServer:
    """The relay's server side for a remote server (``guard.relay.ServerSide``).

    ``Upstream`` delivers from several threads (one per request, its GET
    stream); the relay's ``Session`` expects one server-side thread at a time,
    as a child's stdout gives it. So deliveries are serialised here, which
    also serialises the writes to the client.

    The server "ends" when the client closed stdin and ``Upstream.close()``
    returned (return code 0), or after a signal (``-N``): an ending signal
    starts the close in the background, SIGKILL (the relay's escalation)
    stops waiting for it.
    """

    def __init__(
        self,
        target: Target,
        *,
        warn: Callable[[str], None],
        reauth: Callable[[], Mapping[str, str]] | None = None,
        transport: str = "auto",
        allow_http: bool = False,
        connect_timeout: float = 10.0,
        factory: Factory | None = None,
    ) -> None:
        self.target = target
        self.warn = warn
        self.reauth = reauth
        self.transport = transport
        self.allow_http = allow_http
        self.connect_timeout = connect_timeout
        self.factory = factory or _upstream  # tests hand in a fake with the same shape
        self.upstream: UpstreamLike | None = None
        self.deliver: Deliver | None = None
        self.delivering = threading.Lock()
        self.closing = threading.Lock()
        self.closer: threading.Thread | None = None
        self.ended = threading.Event()
        self.returncode = 0

    def start(self, deliver: Deliver, overflow: Callable[[bytes], None]) -> None:
        """Connect (lazily, as ``Upstream`` chooses); answers come back through ``deliver``."""
        self.deliver = deliver
        upstream = self.factory(
            self.target.url,
            dict(self.target.headers),
            self._deliver,
            warn=self.warn,
            reauth=self.reauth,
            transport=self.transport,
            allow_http=self.allow_http,
            connect_timeout=self.connect_timeout,
        )
        upstream.start()
        self.upstream = upstream

    def _deliver(self, line: bytes) -> None:
        deliver = self.deliver
        if deliver is None:
            return
        with self.delivering:
            deliver(line)

    def send(self, data: bytes) -> None:
        """Hand one client message to ``Upstream`` (it returns at once: requests run on threads).

        A JSON-RPC batch (a 2025-03-26 client may send one; the guard forwards
        what it checked as one line) goes up as its messages one by one:
        ``Upstream`` takes one object per call, and each answer comes back on
        its own with its id, which is all a JSON-RPC client matches on.
        """
        upstream = self.upstream
        if upstream is None or self.ended.is_set():
            return
        try:
            for message in _messages(data):
                upstream.send(message)
        except Exception as exc:  # the client's reader must go on; no content in the notice
            from mcpcred.errors import describe

            self.warn(f"a message could not be sent to the remote server: {describe(exc)}")

    def close_input(self) -> None:
        """The client has gone: close the remote session (bounded by ``Upstream``), then end."""
        self._close(0, wait=True)

    def _close(self, returncode: int, *, wait: bool) -> None:
        if not self.closing.acquire(blocking=False):  # already closing: keep the first reason
            return
        self.returncode = returncode
        if wait:
            self._closed()
            return
        self.closer = threading.Thread(target=self._closed, name="remote-close", daemon=True)
        self.closer.start()

    def _closed(self) -> None:
        try:
            if self.upstream is not None:
                self.upstream.close()
        except Exception as exc:
            from mcpcred.errors import describe

            self.warn(f"closing the connection to the remote server failed: {describe(exc)}")
        finally:
            self.ended.set()

    def exited_within(self, seconds: float) -> bool:
        """True once the connection is closed, waiting up to ``seconds``."""
        return self.ended.wait(seconds)

    def signal(self, signum: int) -> None:
        """TERM, INT, HUP: close in the background; KILL: stop waiting; others: nothing."""
        import signal

        if signum == getattr(signal, "SIGKILL", None):
            if not self.ended.is_set():
                if self.closing.acquire(blocking=False):
                    self.returncode = -signum
                self.ended.set()
            return
        ending = {getattr(signal, n, None) for n in ("SIGTERM", "SIGINT", "SIGHUP")}
        if signum in ending:
            self._close(-signum, wait=False)

    def wait(self, timeout: float | None) -> int | None:
        """The return code once ended (0 after the client's EOF, -N after signal N)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.ended.is_set():
            left = 0.25 if deadline is None else min(0.25, deadline - time.monotonic())
            if left <= 0:
                return None
            self.ended.wait(left)
        return self.returncode

    def stop(self) -> None:
        """End the connection now (bounded), as a restart would."""
        self._close(0, wait=False)
        self.ended.wait(CLOSE_GRACE)
        self.ended.set()

    def finish(self) -> None:
        """Give a close started by a signal its short chance to say goodbye to the server."""
        closer = self.closer
        if closer is not None:
            closer.join(CLOSE_GRACE)

    def gone(self, code: int) -> str:
        """Why requests still pending at the end get no answer from the server."""
        return "closed the connection before the remote server answered"


def _messages(data: bytes) -> list[bytes]:
    """The messages of one line: itself, or each member of a non-empty batch."""
    start = 0
    while start < len(data) and data[start] in b" \t\r\n":  # no copy of a large line
        start += 1
    if data[start : start + 1] != b"[":
        return [data]
    import json

    from mcpcred.guard import wire

    try:
        batch = json.loads(data)
        if isinstance(batch, list) and batch:
            return [wire.canonical(item) for item in batch]
    except (ValueError, RecursionError, wire.Unreadable):
        pass
    return [data]  # not a batch that can be split: Upstream answers it with an error


def plain_warn(label: str, values: Mapping[str, str]) -> Callable[[str], None]:
    """One-line notices on stderr for an unguarded bridge, resolved values replaced.

    ``Upstream`` promises never to say a secret; this makes sure anyway, with
    a plain search for each exact value in ``values`` (read at each notice, so
    a token renewed later is covered; the guard's ``Masker`` is not loaded for
    an unguarded server).
    """
    from mcpcred.terminal import printable

    def warn(text: str) -> None:
        for reference, value in sorted(values.items(), key=lambda pair: -len(pair[1])):
            if len(value) >= 4 and value in text:
                text = text.replace(value, f"[redacted mcpcred:{reference}]")
        try:
            sys.stderr.write(printable(f"mcpcred shim: {label}: {text}") + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):
            pass

    return warn


def injected(found: Resolved) -> dict[str, str]:
    """``{"KIND/NAME": value}`` for every reference resolved."""
    return {f"{kind}/{name}": found.lookup(kind, name) for kind, name in found.refs}


def run(options: ShimOptions, environ: Mapping[str, str], *, factory: Factory = _upstream) -> int:
    """Bridge stdio to an unguarded remote server until the client leaves; the exit code.

    The same ``Relay`` as a guarded server, with ``PassThrough`` for checks:
    every line goes on as it came, nothing is parsed or recorded.
    """
    from mcpcred.guard.relay import PassThrough, Relay

    remote, _ = target(options, environ)
    values = injected(remote.found)
    warn = plain_warn(options.label(), values)

    def renewed(name: str, token: str, _refreshed: bool) -> None:
        values[f"{references.OAUTH}/{name}"] = token  # masked in notices from now on

    server = RemoteServer(
        remote,
        warn=warn,
        reauth=reauth_for(options, environ, remote, renewed, warn),
        transport=options.transport,
        allow_http=options.allow_http,
        factory=factory,
    )
    return Relay(server, PassThrough(), warn=warn).run()
