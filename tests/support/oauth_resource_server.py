"""A real MCP server that is an OAuth resource server, for tests of ``mcpcred login URL``.

The MCP Python SDK (mcp 2.x, ``MCPServer`` with ``AuthSettings`` and a token verifier)
does everything an MCP server does for authorization: it serves RFC 9728 protected
resource metadata at the path-inserted well-known URL, answers a request without a valid
token with ``401`` and ``WWW-Authenticate: Bearer ... resource_metadata="..."``, and
refuses a token whose audience is not this server. Tokens are RFC 9068 JWTs from the
oidc-provider test server (``tests/support/oauth_server.py``), checked against its JWKS:
signature, ``typ``, ``iss``, ``aud`` (this server's URL) and ``exp``.

Tools: ``echo(text)`` (needs ``mcp:tools``) and ``admin_op()``, for which a small gate in
front of the SDK answers ``403`` with ``error="insufficient_scope", scope="mcp:admin"``
unless the token carries ``mcp:admin`` (step-up, RFC 6750 §3.1).

Run as a script (``python -m tests.support.oauth_resource_server ISSUER``) it binds a random
loopback port and prints one JSON line ``{"url": ...}`` when it listens. Options:
``--prm-path /other`` makes its metadata (and its challenge's ``resource_metadata``) name
another resource on the same server, ``/other``, which a client must refuse for ``/mcp``.
``ResourceServer(issuer)`` starts and stops it from a test; ``call_tool`` calls a tool with
a bearer token through the SDK's own client.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0


def _serve(issuer: str, prm_path: str | None) -> None:  # pragma: no cover - subprocess
    import anyio
    import jwt
    import uvicorn
    from mcp.server.auth.provider import AccessToken, TokenVerifier
    from mcp.server.auth.settings import AuthSettings
    from mcp.server.mcpserver import MCPServer

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    resource = f"http://127.0.0.1:{port}/mcp"
    prm_resource = f"http://127.0.0.1:{port}{prm_path}" if prm_path else None

    class JWTVerifier(TokenVerifier):  # type: ignore[misc]
        def __init__(self) -> None:
            self.jwks = jwt.PyJWKClient(f"{issuer}/jwks")

        async def verify_token(self, token: str) -> AccessToken | None:
            try:
                header = jwt.get_unverified_header(token)
                if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
                    return None
                key = await anyio.to_thread.run_sync(self.jwks.get_signing_key_from_jwt, token)
                claims = jwt.decode(
                    token,
                    key.key,
                    algorithms=["RS256", "PS256", "ES256", "EdDSA"],
                    audience=resource,
                    issuer=issuer,
                    options={"require": ["exp", "iss", "aud"]},
                )
            except jwt.PyJWTError:
                return None
            return AccessToken(
                token=token,
                client_id=str(claims.get("client_id", "")),
                scopes=str(claims.get("scope", "")).split(),
                expires_at=int(claims["exp"]),
                resource=resource,
            )

    server = MCPServer(
        "oauth-rs",
        token_verifier=JWTVerifier(),
        auth=AuthSettings(
            issuer_url=issuer,  # type: ignore[arg-type]
            resource_server_url=prm_resource or resource,  # type: ignore[arg-type]
            required_scopes=["mcp:tools"],
            validate_token_resource=prm_resource is None,
        ),
    )

    @server.tool()
    def echo(text: str) -> str:
        return f"echo: {text}"

    @server.tool()
    def admin_op() -> str:
        return "admin ok"

    prm = f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp"

    class StepUpGate:
        """Inside the SDK's auth middleware (``scope["user"]`` is the verified token)."""

        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            messages: list[Any] = []
            more = scope["type"] == "http" and scope["method"] == "POST"
            while more:
                messages.append(await receive())
                more = messages[-1].get("more_body", False)
            try:
                body = json.loads(b"".join(m.get("body", b"") for m in messages) or b"{}")
            except ValueError:
                body = {}
            user_scopes = getattr(scope.get("user"), "scopes", []) or []
            if (
                isinstance(body, dict)
                and body.get("method") == "tools/call"
                and (body.get("params") or {}).get("name") == "admin_op"
                and "mcp:admin" not in user_scopes
            ):
                challenge = (
                    f'Bearer error="insufficient_scope", scope="mcp:admin", '
                    f'resource_metadata="{prm}"'
                )
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [(b"www-authenticate", challenge.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return

            async def replay() -> Any:
                return messages.pop(0) if messages else await receive()

            await self.app(scope, replay, send)

    app = server.streamable_http_app()
    for route in app.routes:
        if getattr(route, "path", None) == "/mcp":
            route.app = StepUpGate(route.app)
    sys.stdout.write(json.dumps({"url": resource, "port": port}) + "\n")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


class ResourceServer:
    """One running resource server subprocess; ``url`` is its MCP endpoint."""

    def __init__(self, issuer: str, *, prm_path: str | None = None) -> None:
        argv = [sys.executable, "-m", "tests.support.oauth_resource_server", issuer]
        if prm_path:
            argv += ["--prm-path", prm_path]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self._proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._err: list[str] = []
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._threads = [
            threading.Thread(target=self._drain, args=(self._proc.stdout,), daemon=True),
            threading.Thread(target=self._keep, args=(self._proc.stderr,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        try:
            line = self._lines.get(timeout=START_TIMEOUT)
            if not line:
                raise RuntimeError(f"resource server did not start: {''.join(self._err)}")
            ready = json.loads(line)
        except BaseException:
            self.stop()
            raise
        self.url: str = ready["url"]
        self.port: int = ready["port"]
        self.origin = f"http://127.0.0.1:{self.port}"

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _keep(self, stream: IO[str]) -> None:
        for line in stream:
            self._err.append(line)

    def stderr(self) -> str:
        """What the server said on stderr so far."""
        return "".join(self._err)

    def stop(self) -> None:
        """Terminate and reap (idempotent)."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for thread in self._threads:
            thread.join(5)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> ResourceServer:
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def call_tool(url: str, token: str, name: str, arguments: dict[str, Any] | None = None) -> str:
    """The text of a tool call's result, through the MCP SDK's client with a bearer token.

    Raises whatever the SDK raises when the server refuses (401, 403).
    """
    import anyio

    async def run() -> str:
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client
        from mcp.shared._httpx_utils import create_mcp_http_client

        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        try:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                result = await client.call_tool(name, arguments or {})
                block = result.content[0]
                return str(getattr(block, "text", block))
        finally:
            await http.aclose()

    return anyio.run(run)


def status_of_call(url: str, token: str | None, name: str = "echo") -> int:
    """HTTP status of a bare ``tools/call`` POST (401/403 come before any session check)."""
    import httpx

    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name}}
    response = httpx.post(url, json=body, headers=headers, trust_env=False, timeout=10)
    return response.status_code


def main(argv: list[str]) -> int:  # pragma: no cover - subprocess
    parser = argparse.ArgumentParser()
    parser.add_argument("issuer")
    parser.add_argument("--prm-path")
    args = parser.parse_args(argv)
    _serve(args.issuer, args.prm_path)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))


class ClientMetadataHost:
    """A Client ID Metadata Document served over HTTPS on loopback, for CIMD logins.

    A self-signed certificate for 127.0.0.1 is made in ``folder``; the authorization server
    must trust it (``NODE_EXTRA_CA_CERTS=host.cert``). ``client_id`` is the document's URL,
    which is also its ``client_id`` field, as CIMD requires. ``fetched`` counts requests.
    """

    def __init__(self, folder: Path) -> None:
        import http.server
        import ssl

        from tests.support.remote_servers import make_cert

        own = folder / "cimd"  # the certificate files are named alike for every server
        own.mkdir()
        self.cert, key_file = make_cert(own)
        self.fetched = 0
        host = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.fetched += 1
                body = json.dumps(host.document).encode()
                self.send_response(200 if self.path == "/client.json" else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, key_file)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.client_id = f"https://127.0.0.1:{self._server.server_address[1]}/client.json"
        self.document: dict[str, Any] = {
            "client_id": self.client_id,
            "client_name": "mcpcred (CIMD test)",
            "redirect_uris": ["http://127.0.0.1/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
        }
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
