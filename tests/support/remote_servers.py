"""Real remote MCP servers for the bridge tests: the MCP Python SDK's own HTTP apps under uvicorn.

``serve(mode, **opts)`` starts ``python remote_servers.py`` in a subprocess on a
free loopback port and yields a :class:`Server` (``url``, ``stop()``,
``restart()``). The server is the SDK's ``MCPServer`` (mcp 2.x), so what the
bridge meets is what users meet, not a fake:

========== ==================================================================
mode       what the server speaks
========== ==================================================================
``http``   Streamable HTTP at ``/mcp``; the SDK 2.x app is dual-era: it
           answers the ``initialize`` handshake (2025-xx) *and* stateless
           2026-07-28 requests (``server/discover``)
``legacy`` the same app behind a gate that answers every modern request the
           way a legacy-only server (mcp 1.x) does: ``400 Missing session
           ID`` -- detection must fall back to the handshake
``sse``    legacy HTTP+SSE (2024-11-05): ``GET /sse`` + ``POST /messages/``
``bearer`` / ``apikey`` / ``query``: shorthands for ``http`` with that auth
========== ==================================================================

Options: ``auth`` (``None``, ``"bearer"`` = ``Authorization: Bearer S``,
``"apikey"`` = ``X-Api-Key: S``, ``"query"`` = ``?key=S``), ``secret`` (S;
handed to the child in its environment, never in argv), ``admin_secret`` (a
bearer token that also carries the ``mcp:admin`` scope; ``admin_op`` answers
every other one ``403 insufficient_scope``), ``json_response`` and ``stateless``
(the SDK's switches), ``tls`` (``(cert, key)`` from ``make_cert``: HTTPS),
``resumable`` (an in-memory event store with ``retry_interval`` ms, so SSE
streams carry event ids and ``drop_stream`` can cut its own stream and have the
client resume with ``Last-Event-ID``). ``/old`` redirects (307) to ``/mcp``.

Tools: ``echo(text)``, ``big(size)`` (a text of ``size`` bytes), ``slow(seconds)``,
``auth_seen()`` (``"valid"``/``"invalid"``/``"absent"``: whether the credential
header that reached the tool was the right one -- never the value), ``key_seen()``
(the same for the ``?key=`` in the URL), ``admin_op()``,
``chatty(count, size)`` (``count`` log notifications of ``size`` bytes before
the answer), ``drop_stream(text)`` (closes its own SSE stream, then answers),
``ask(question)`` (an elicitation: a server->client request up to 2025-11-25, an
``InputRequiredResult`` in 2026-07-28), ``regional(region)`` (its argument must
come as ``Mcp-Param-Region``), ``touch_tools()`` (a tools list_changed
notification) and ``requests_seen()`` (HTTP requests the gate counted, by method).

Readiness is a poll of the port; ``stop()`` terminates and reaps the child (kill
after a bounded wait); the context manager always stops it.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations at run time,
# and they name classes imported inside _run.
import contextlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

SECRET_ENV = "MCPCRED_TEST_REMOTE_SECRET"
ADMIN_ENV = "MCPCRED_TEST_REMOTE_ADMIN_SECRET"
DEFAULT_SECRET = "remote-s3cret-0123456789"
SHORTHANDS = {
    "bearer": ("http", "bearer"),
    "apikey": ("http", "apikey"),
    "query": ("http", "query"),
}


def make_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA): ``(cert.pem, key.pem)``."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpcred test CA")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def free_port() -> int:
    """A loopback port that was free a moment ago (the child binds it with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Server:
    """A running test server. ``url`` is the MCP endpoint (with ``?key=`` in query mode)."""

    mode: str
    auth: str | None
    port: int
    secret: str
    config: dict[str, Any]
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def origin(self) -> str:
        scheme = "https" if self.config.get("tls") else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        path = "/sse" if self.mode == "sse" else "/mcp"
        query = f"?key={self.secret}" if self.auth == "query" else ""
        return f"{self.origin}{path}{query}"

    @property
    def bare_url(self) -> str:
        """The endpoint without credentials (for errors that must not name the secret)."""
        return f"{self.origin}{'/sse' if self.mode == 'sse' else '/mcp'}"

    def headers(self) -> dict[str, str]:
        """The request headers that carry the credential in this server's auth mode."""
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {self.secret}"}
        if self.auth == "apikey":
            return {"X-Api-Key": self.secret}
        return {}

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), json.dumps(self.config)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        deadline = time.monotonic() + 20
        while not _port_open(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"test MCP server ({self.mode}) did not start:\n{tail}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Terminate the server process (SIGKILL after 5 s) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)

    def restart(self) -> None:
        """Stop and start again on the same port: every session the server held is gone."""
        self.stop()
        deadline = time.monotonic() + 5
        while _port_open(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.start()


@contextlib.contextmanager
def serve(
    mode: str = "http",
    *,
    auth: str | None = None,
    secret: str = DEFAULT_SECRET,
    admin_secret: str | None = None,
    json_response: bool = False,
    stateless: bool = False,
    resumable: bool = False,
    retry_interval: int = 100,
    tls: tuple[Path, Path] | None = None,
) -> Iterator[Server]:
    """Run a real SDK server in ``mode`` (see the module doc) until the block ends."""
    if mode in SHORTHANDS:
        mode, auth = SHORTHANDS[mode]
    if mode not in ("http", "legacy", "sse"):
        raise ValueError(f"unknown test server mode {mode!r}")
    if auth not in (None, "bearer", "apikey", "query"):
        raise ValueError(f"unknown auth {auth!r}")
    port = free_port()
    config = {
        "mode": mode,
        "auth": auth,
        "port": port,
        "json_response": json_response,
        "stateless": stateless,
        "resumable": resumable,
        "retry_interval": retry_interval,
        "tls": [str(tls[0]), str(tls[1])] if tls else None,
    }
    env = {
        k: v for k, v in os.environ.items() if not k.endswith("_PROXY") and not k.endswith("_proxy")
    }
    env[SECRET_ENV] = secret
    if admin_secret:
        env[ADMIN_ENV] = admin_secret
    with tempfile.NamedTemporaryFile(prefix="mcpcred-remote-", suffix=".log", delete=False) as tmp:
        log = Path(tmp.name)
    server = Server(mode, auth, port, secret, config, env, log)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        with contextlib.suppress(OSError):
            log.unlink()


# -- the server process --------------------------------------------------------------------

MODERN_ERROR = {"jsonrpc": "2.0", "id": "server-error", "error": {"code": -32600}}


async def _reply(
    send: Any, status: int, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI wrapper: credential check, request counting, the legacy-only behaviour, step-up 403."""

    def __init__(self, app: Any, config: dict[str, Any], counts: dict[str, int]) -> None:
        self.app = app
        self.auth = config["auth"]
        self.legacy = config["mode"] == "legacy"
        self.secret = os.environ[SECRET_ENV].encode()
        self.admin = os.environ.get(ADMIN_ENV, "").encode()
        self.counts = counts

    def credential_ok(self, scope: dict[str, Any]) -> bool:
        headers = dict(scope["headers"])
        if self.auth == "bearer":
            got = headers.get(b"authorization", b"")
            return any(
                tok and hmac.compare_digest(got, b"Bearer " + tok)
                for tok in (self.secret, self.admin)
            )
        if self.auth == "apikey":
            return hmac.compare_digest(headers.get(b"x-api-key", b""), self.secret)
        if self.auth == "query":
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            return hmac.compare_digest(query.get("key", [""])[0].encode(), self.secret)
        return True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        method = scope["method"]
        self.counts[method] = self.counts.get(method, 0) + 1
        if scope["path"] == "/old":  # a moved endpoint: a same-origin redirect to /mcp
            query = scope.get("query_string", b"")
            location = b"/mcp" + (b"?" + query if query else b"")
            return await _reply(send, 307, [(b"location", location)])
        if not self.credential_ok(scope):
            challenge = b'Bearer realm="test", error="invalid_token"'
            return await _reply(send, 401, [(b"www-authenticate", challenge)])
        msgs: list[dict[str, Any]] = []
        more = method == "POST"
        while more:
            msgs.append(await receive())
            more = bool(msgs[-1].get("more_body", False))
        body = b"".join(m.get("body", b"") for m in msgs)
        try:
            msg = json.loads(body) if body else {}
        except ValueError:
            msg = {}
        if not isinstance(msg, dict):
            msg = {}
        headers = dict(scope["headers"])
        version = headers.get(b"mcp-protocol-version", b"").decode()
        if (
            self.legacy
            and method == "POST"
            and (version.startswith("2026") or msg.get("method") == "server/discover")
        ):
            # what mcp 1.x answers a request that is not initialize and carries no session
            err = {
                "jsonrpc": "2.0",
                "id": "server-error",
                "error": {"code": -32600, "message": "Bad Request: Missing session ID"},
            }
            return await _reply(
                send, 400, [(b"content-type", b"application/json")], json.dumps(err).encode()
            )
        params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
        if msg.get("method") == "tools/call" and params.get("name") == "admin_op":
            got = headers.get(b"authorization", b"")
            if not (self.admin and hmac.compare_digest(got, b"Bearer " + self.admin)):
                challenge = b'Bearer error="insufficient_scope", scope="mcp:admin"'
                return await _reply(send, 403, [(b"www-authenticate", challenge)])

        async def replay() -> Any:
            return msgs.pop(0) if msgs else await receive()

        await self.app(scope, replay, send)


def _event_store() -> Any:
    from mcp.server.streamable_http import EventMessage, EventStore

    class MemoryEventStore(EventStore):
        """Every event kept in memory, so a dropped stream can be replayed after Last-Event-ID."""

        def __init__(self) -> None:
            self.events: list[tuple[str, str, Any]] = []

        async def store_event(self, stream_id: Any, message: Any) -> Any:
            event_id = f"{stream_id}-{len(self.events)}"
            self.events.append((event_id, stream_id, message))
            return event_id

        async def replay_events_after(self, last_event_id: Any, send_callback: Any) -> Any:
            ids = [e[0] for e in self.events]
            if last_event_id not in ids:
                return None
            start = ids.index(last_event_id)
            stream_id = self.events[start][1]
            for event_id, sid, message in self.events[start + 1 :]:
                if sid == stream_id and message is not None:
                    await send_callback(EventMessage(message, event_id))
            return stream_id

    return MemoryEventStore()


def _exit_with_parent() -> None:
    """End this server when the test process that started it is gone (killed, not torn down).

    The server runs in its own session (so ``stop()`` can signal its group), which
    also means nobody kills it if pytest itself is killed: it would hold its port
    and run on forever.
    """
    import threading

    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _run(config: dict[str, Any]) -> None:
    import anyio
    import uvicorn
    from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
    from pydantic import BaseModel, Field

    counts: dict[str, int] = {}
    secret = os.environ[SECRET_ENV]
    mcp: MCPServer[Any] = MCPServer(f"remote-{config['mode']}-{config['auth'] or 'open'}")

    @mcp.tool()
    def echo(text: str) -> str:
        """Echo the text back."""
        return f"echo: {text}"

    @mcp.tool(structured_output=False)  # else the text is sent twice (content + structuredContent)
    def big(size: int) -> str:
        """A text of exactly ``size`` bytes."""
        return ("0123456789abcdef" * (size // 16 + 1))[:size]

    @mcp.tool()
    async def chatty(count: int, size: int, ctx: Context) -> str:
        """Send ``count`` log notifications of ``size`` bytes on this request's stream, then answer."""
        for i in range(count):
            await ctx.info(f"{i:08d}" + "n" * max(0, size - 8))
        return f"sent {count}"

    @mcp.tool()
    async def slow(seconds: float) -> str:
        """Answer after ``seconds``."""
        await anyio.sleep(seconds)
        return f"slept {seconds}"

    @mcp.tool()
    def auth_seen(ctx: Context) -> str:
        """Whether the credential that reached the server was the right one (never its value)."""
        headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
        got = headers.get("authorization") or headers.get("x-api-key")
        if got is None:
            return "absent"
        want = f"Bearer {secret}" if got.startswith("Bearer ") else secret
        return "valid" if hmac.compare_digest(got, want) else "invalid"

    @mcp.tool()
    def key_seen(ctx: Context) -> str:
        """``auth_seen`` for the key in the URL (``?key=``): ``"valid"``/``"invalid"``/``"absent"``."""
        params = getattr(ctx.request_context.request, "query_params", None) or {}
        got = params.get("key")
        if got is None:
            return "absent"
        return "valid" if hmac.compare_digest(got.encode(), secret.encode()) else "invalid"

    @mcp.tool()
    def admin_op() -> str:
        """Needs the mcp:admin scope (the gate answers 403 insufficient_scope otherwise)."""
        return "admin ok"

    @mcp.tool()
    async def drop_stream(text: str, ctx: Context) -> str:
        """Cut this request's SSE stream, then answer (the client must resume with Last-Event-ID)."""
        await ctx.report_progress(0.5, 1.0, "before the drop")
        await ctx.close_sse_stream()
        await anyio.sleep(0.3)
        return f"after drop: {text}"

    class Answer(BaseModel):
        answer: str

    def ask_user(question: str) -> Elicit[Answer]:
        return Elicit(question, Answer)

    @mcp.tool()
    async def ask(question: str, answer: Annotated[Answer, Resolve(ask_user)]) -> str:
        """Ask the client (an elicitation: a server->client request up to 2025-11-25, an
        InputRequiredResult the client answers on a retry in 2026-07-28) and report its answer."""
        return f"answered: {answer.answer}"

    @mcp.tool()
    def regional(
        region: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Region"})], ctx: Context
    ) -> str:
        """A tool whose ``region`` must be mirrored as ``Mcp-Param-Region`` (2026-07-28)."""
        headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
        return f"region {region}, header {headers.get('mcp-param-region', 'absent')}"

    @mcp.tool()
    async def touch_tools(ctx: Context) -> str:
        """Tell listening clients that the tool list changed."""
        await ctx.notify_tools_changed()
        return "touched"

    @mcp.tool()
    def requests_seen() -> str:
        """HTTP requests counted by the gate, by method, as JSON."""
        return json.dumps(counts, sort_keys=True)

    if config["mode"] == "sse":
        app: Any = mcp.sse_app()
    else:
        app = mcp.streamable_http_app(
            json_response=config["json_response"],
            stateless_http=config["stateless"],
            event_store=_event_store() if config["resumable"] else None,
            retry_interval=config["retry_interval"] if config["resumable"] else None,
        )
    tls = config.get("tls") or [None, None]
    uvicorn.run(
        Gate(app, config, counts),
        host="127.0.0.1",
        port=config["port"],
        log_level="warning",
        ssl_certfile=tls[0],
        ssl_keyfile=tls[1],
        timeout_graceful_shutdown=1,  # open streams (GET, subscriptions/listen) must not hold stop()
    )


if __name__ == "__main__":
    _exit_with_parent()
    _run(json.loads(sys.argv[1]))
