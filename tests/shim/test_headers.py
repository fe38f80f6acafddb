"""``mcpcred headers``: remote-server headers with references resolved, as a client's helper.

The last test hands the helper that ``wrap`` writes to the real Claude Code,
whose ``claude mcp list`` connects to a loopback HTTP server here that records
the headers it receives.
"""

from __future__ import annotations

import http.server
import json
import os
import random
import string
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support.cli import run

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
_RNG = random.Random(3)
VALUE = "lin_api_" + "".join(_RNG.choice(string.ascii_letters + string.digits) for _ in range(40))


def _headers(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCRED, "headers", *args], capture_output=True, text=True, timeout=30, check=False
    )


def test_prints_the_headers_as_json_with_values_filled_in(keychain: dict[str, str]) -> None:
    real_keychain.store(keychain, "mcpcred", "linear", VALUE)
    result = _headers(
        "--server",
        "linear",
        "--header",
        "Authorization: Bearer {{mcpcred:secret/linear}}",
        "--header",
        "X-Team: core",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"Authorization": f"Bearer {VALUE}", "X-Team": "core"}


def test_a_missing_secret_prints_no_headers(keychain: dict[str, str]) -> None:
    result = _headers("--server", "linear", "--header", "Authorization: mcpcred:secret/absent")
    assert result.returncode == 5
    assert result.stdout == ""
    assert "mcpcred secret set absent" in result.stderr


def test_a_header_without_a_colon_is_a_usage_error() -> None:
    result = _headers("--header", "Authorization")
    assert result.returncode == 6
    assert "Name: value" in result.stderr


def _claude_code_config(home: Path, url: str) -> Path:
    config = home / ".claude.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "linear": {
                        "type": "http",
                        "url": url,
                        "headers": {"Authorization": f"Bearer {VALUE}", "X-Team": "core"},
                    }
                }
            },
            indent=2,
        )
    )
    return config


def test_wrap_moves_a_header_into_a_helper_that_the_shell_can_run(
    keychain: dict[str, str], home: Path
) -> None:
    config = _claude_code_config(home, "https://mcp.linear.app/mcp")
    result = run("wrap", "claude-code", "--yes")
    assert result.code == 0, result.stderr
    entry = json.loads(config.read_text())["mcpServers"]["linear"]
    assert VALUE not in config.read_text()
    assert entry["headers"] == {"X-Team": "core"}
    helper = entry["headersHelper"]
    printed = subprocess.run(
        ["sh", "-c", helper], capture_output=True, text=True, timeout=30, check=False
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == {"Authorization": f"Bearer {VALUE}"}


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []  # noqa: RUF012 (shared with the test on purpose)

    def do_POST(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(401)
        self.end_headers()

    do_GET = do_POST

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def recorder() -> Iterator[str]:
    """A loopback HTTP server that records request headers; yields its MCP URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.seen = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/mcp"
    finally:
        server.shutdown()
        server.server_close()


def _authorizations() -> set[str | None]:
    return {h.get("Authorization") or h.get("authorization") for h in _Recorder.seen}


@pytest.mark.slow
def test_real_claude_code_sends_the_header_from_the_helper(
    keychain: dict[str, str], home: Path, recorder: str
) -> None:
    from tests.integration.test_real_clients import _bin

    config = _claude_code_config(home, recorder)
    assert run("wrap", "claude-code", "--yes").code == 0
    assert VALUE not in config.read_text()
    assert "headersHelper" in config.read_text()
    subprocess.run(
        [_bin("claude"), "mcp", "list"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MCP_TIMEOUT": "10000"},
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert _Recorder.seen, "Claude Code never connected"
    assert f"Bearer {VALUE}" in _authorizations()
    assert any((h.get("X-Team") or h.get("x-team")) == "core" for h in _Recorder.seen)


@pytest.mark.slow
def test_real_codex_sends_the_header_from_its_http_headers_helper(
    keychain: dict[str, str], home: Path, monkeypatch: pytest.MonkeyPatch, recorder: str
) -> None:
    from tests.support.mcp_parts import codex_server_status

    codex_home = home / ".codex"
    codex_home.mkdir()
    monkeypatch.setenv("CODEX_HOME", str(codex_home))
    config = codex_home / "config.toml"
    config.write_text(
        "# remote server with a literal token\n"
        "[mcp_servers.remote]\n"
        f'url = "{recorder}"\n'
        f'http_headers = {{ "Authorization" = "Bearer {VALUE}", "X-Team" = "core" }}\n'
    )
    wrapped = run("wrap", "codex", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    assert VALUE not in config.read_text()
    assert "http_headers_helper" in config.read_text()
    codex_server_status(codex_home, timeout=60)
    assert _Recorder.seen, "Codex never connected"
    assert f"Bearer {VALUE}" in _authorizations()
