"""A real OAuth 2.0 / OIDC authorization server for tests: panva's ``oidc-provider`` on loopback.

``OidcServer(env)`` runs ``node tests/oauth_server/oidc_server.mjs`` (see that file for the
configuration and the test glue), waits for the one JSON line it prints when it is ready and
then exposes its issuer. The server is an independent, OpenID Certified implementation, so
tests of mcpcred's login and refresh code meet real protocol behaviour: device flow without
``interval``, PKCE S256 only, refresh tokens rotated on every use and a whole grant revoked
when an old refresh token comes back.

Env overrides (all strings, all optional): ``ACCESS_TTL`` (60), ``REFRESH_TTL`` (86400),
``DEVICE_TTL`` (600), ``ROTATE="0"`` (no refresh-token rotation), ``SLOW_TOKEN_MS`` (hold
every token response back that long after the server handled the request, so a rotated
refresh token is already dead while its client still waits: widens race windows), ``PORT``
(default: random). For MCP authorization: ``NO_PKCE_METADATA="1"`` (metadata without
``code_challenge_methods_supported``), ``WRONG_ISS="1"`` (every authorization response names
another issuer), ``DCR_STATUS="422"`` (registration refused, like GitHub's), ``CIMD="1"``
(Client ID Metadata Documents; with ``NODE_EXTRA_CA_CERTS`` for the loopback HTTPS host).
Besides ``mcpcred-test`` (public) the server knows ``mcpcred-confidential`` (secret
``test-client-secret``, ``client_secret_post``).

``stats()`` returns the server's request counters: ``token`` (every POST to the token
endpoint), one key per ``grant_type`` sent (``authorization_code``, ``refresh_token``,
``urn:ietf:params:oauth:grant-type:device_code``, ...), ``refresh_ok`` / ``refresh_error``
(refresh requests answered 200 / otherwise), ``refresh_with_resource`` (refresh requests
that carried an RFC 8707 ``resource``), ``registration`` (RFC 7591 requests), ``revocation``
and ``device_authorization``.

``./scripts/test`` installs the npm package into ``tests/oauth_server/node_modules``; when
``node`` or the package is missing this raises instead of skipping: CI always has them.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn, Protocol

import httpx

REPO = Path(__file__).resolve().parents[2]
SERVER_DIR = REPO / "tests" / "oauth_server"
SERVER_SCRIPT = SERVER_DIR / "oidc_server.mjs"
CLIENT_ID = "mcpcred-test"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class StartOidcServer(Protocol):
    """Type of the ``start_oidc_server`` fixture: ``start_oidc_server(ACCESS_TTL="2")``."""

    def __call__(self, **env: str | int) -> OidcServer: ...


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it (error messages)."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def require_node(server_dir: Path = SERVER_DIR) -> str:
    """Path of ``node``; raise ``RuntimeError`` when it or ``oidc-provider`` is missing."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError(
            "node is not on PATH (needed by the OAuth test server); run ./scripts/test, "
            "which installs the OAuth test server's npm package into tests/oauth_server"
        )
    modules = server_dir / "node_modules"
    if not (modules / "oidc-provider" / "package.json").is_file():
        raise RuntimeError(
            f"the npm package oidc-provider is not installed in {_shown(modules)}; "
            "run ./scripts/test, which runs npm ci there"
        )
    return node


class OidcServer:
    """One running ``oidc_server.mjs``; stop it with ``stop()`` or use it as a context manager.

    Args:
        env: variables added to this process's environment for the server (values are
            turned into strings), e.g. ``{"ACCESS_TTL": "2", "ROTATE": "0"}``.
        timeout: seconds to wait for the ready line.
    """

    client_id = CLIENT_ID

    def __init__(
        self, env: Mapping[str, str | int] | None = None, *, timeout: float = START_TIMEOUT
    ) -> None:
        node = require_node()
        self.env = {name: str(value) for name, value in (env or {}).items()}
        # stderr goes to a file: nothing can block on a full pipe, and a failed start can
        # show what node said. stdout carries only the ready line; a thread drains it.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        try:
            self._proc = subprocess.Popen(
                [node, str(SERVER_SCRIPT)],
                cwd=SERVER_DIR,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
            )
        except BaseException:
            self._stderr.close()
            raise
        self._lines: queue.Queue[str | None] = queue.Queue()
        assert self._proc.stdout is not None
        self._reader = threading.Thread(
            target=self._drain, args=(self._proc.stdout,), name="oidc-server-stdout", daemon=True
        )
        self._reader.start()
        self._http = httpx.Client(timeout=10.0, trust_env=False)
        try:
            ready = self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        self.issuer: str = ready["issuer"]
        self.port: int = ready["port"]
        self.resource: str = ready["resource"]

    def _drain(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put(None)

    def _wait_ready(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"did not print its ready line within {timeout:g} s")
            try:
                line = self._lines.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if line is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(STOP_TIMEOUT)
                self._fail(f"exited with status {self._proc.returncode} before it was ready")
            with contextlib.suppress(ValueError):
                ready = json.loads(line)
                if isinstance(ready, dict) and {"issuer", "port", "resource"} <= ready.keys():
                    return ready
            self._fail(f"printed an unexpected line instead of its ready line: {line!r}")

    def _fail(self, what: str) -> NoReturn:
        raise RuntimeError(
            f"OAuth test server ({_shown(SERVER_SCRIPT)}, env {self.env}) {what}; "
            f"its stderr:\n{self.stderr()}"
        )

    def stderr(self) -> str:
        """Everything the server wrote to stderr so far (oidc-provider's dev warnings etc.)."""
        if self._stderr.closed:
            return ""
        fd = self._stderr.fileno()
        # pread: leave the file offset, which node shares, alone.
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (``"/token"``) on this server."""
        return self.issuer + path

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 document at ``/.well-known/oauth-authorization-server``."""
        document: dict[str, Any] = self._json("GET", "/.well-known/oauth-authorization-server")
        return document

    def stats(self) -> dict[str, int]:
        """The request counters (see the module docstring); unknown keys are absent, not 0."""
        counters: dict[str, int] = self._json("GET", "/test/stats")
        return counters

    def reset(self) -> None:
        """Zero the request counters."""
        self._json("POST", "/test/reset")

    def _json(self, method: str, path: str) -> Any:
        response = self._http.request(method, self.url(path))
        response.raise_for_status()
        return response.json()

    def is_running(self) -> bool:
        """Whether the node process is still alive."""
        return self._proc.poll() is None

    def stop(self) -> None:
        """SIGTERM, wait, then SIGKILL if needed. Safe to call more than once."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._reader.join(STOP_TIMEOUT)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()
        self._http.close()

    def __enter__(self) -> OidcServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = getattr(self, "issuer", "starting")
        return f"OidcServer({where}, env={self.env})"
