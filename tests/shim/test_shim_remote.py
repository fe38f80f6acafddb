"""``mcpcred shim --url``: what a bridge entry does before any HTTP (a real process).

Refusals happen before the first byte goes to the network, and like every shim
failure they are one line on stderr plus an error answer to the client's
``initialize``, with a documented exit code and no value of any secret. What the
bridge does with a real server is in ``tests/integration/test_bridge_e2e.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import keychain as real_keychain

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
VALUE = "qk-Sup3rSecretQueryValue-0123456789"


def _initialize(request_id: int | str = 1) -> str:
    message = {"jsonrpc": "2.0", "id": request_id, "method": "initialize", "params": {}}
    return json.dumps(message) + "\n"


def _bridge(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCRED, "shim", "--server", "remote", "--client", "test", *args],
        env=env, input=_initialize(9), capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def _one_error_line(result: subprocess.CompletedProcess[str], code: int, text: str) -> str:
    assert result.returncode == code, result
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: mcpcred shim: "), lines
    assert text in lines[0], lines[0]
    answer = json.loads(result.stdout)
    assert answer["id"] == 9 and text in answer["error"]["message"]
    return lines[0]


def test_plain_http_to_another_host_is_refused_without_the_query_secret(
    keychain: dict[str, str],
) -> None:
    real_keychain.store(keychain, "mcpcred", "qk", VALUE)
    result = _bridge(
        "--url", "http://mcp.example.invalid/v1/mcp?key={{mcpcred:secret/qk}}",
        env=dict(os.environ),
    )  # fmt: skip
    line = _one_error_line(result, 6, "refusing plain http:// to mcp.example.invalid")
    assert "--allow-http" in line and "server 'remote' (test)" in line
    assert VALUE not in result.stderr + result.stdout
    assert "key=" not in result.stderr


def test_a_missing_header_secret_names_it_and_nothing_is_contacted(
    keychain: dict[str, str],
) -> None:
    result = _bridge(
        "--url", "https://mcp.example.invalid/mcp",
        "--header", "X-Api-Key: mcpcred:secret/absent-key",
        env=dict(os.environ),
    )  # fmt: skip
    _one_error_line(result, 5, "mcpcred secret set absent-key")


def test_a_header_secret_with_a_line_break_is_refused_without_its_value(
    keychain: dict[str, str],
) -> None:
    real_keychain.store(keychain, "mcpcred", "two-lines", VALUE + "\nX-Evil: 1")
    result = _bridge(
        "--url", "https://mcp.example.invalid/mcp",
        "--header", "Authorization: Bearer {{mcpcred:secret/two-lines}}",
        env=dict(os.environ),
    )  # fmt: skip
    _one_error_line(result, 6, "--header 'Authorization' holds a line break")
    assert VALUE not in result.stderr + result.stdout


def test_url_and_command_together_is_an_error() -> None:
    result = _bridge("--url", "https://x.invalid/mcp", "--", "true", env=dict(os.environ))
    _one_error_line(result, 6, "either --url (a remote server) or a command")


def test_a_malformed_reference_in_a_header_is_named() -> None:
    result = _bridge(
        "--url", "https://x.invalid/mcp", "--header", "A: mcpcred:secret/Bad_Name",
        env=dict(os.environ),
    )  # fmt: skip
    _one_error_line(result, 6, "malformed mcpcred reference in --header 'A'")


def test_usage_mentions_the_bridge() -> None:
    result = subprocess.run(
        [MCPCRED, "shim", "--help"], capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode == 0
    assert "--url URL" in result.stdout and "--allow-http" in result.stdout


def test_a_header_secret_with_a_control_character_is_refused_without_its_value(
    keychain: dict[str, str],
) -> None:
    real_keychain.store(keychain, "mcpcred", "odd", VALUE + "\x01")
    result = _bridge(
        "--url", "https://mcp.example.invalid/mcp", "--header", "X-Api-Key: mcpcred:secret/odd",
        env=dict(os.environ),
    )  # fmt: skip
    _one_error_line(result, 6, "--header 'X-Api-Key' holds a control or non-ASCII character")
    assert VALUE not in result.stderr + result.stdout
