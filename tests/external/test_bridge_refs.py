"""Password-manager references in a remote entry (``shim --url``): resolved before any HTTP,
without a keychain, and never quoted in a refusal. ``cmd:`` runs the real Python interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
VALUE = "qk-FromAManager-0123456789abcdef"


def _cmd(output: str) -> str:
    argv = [sys.executable, "-c", f"import sys; sys.stdout.write({output!r})"]
    return "mcpcred:cmd/" + json.dumps(argv)


def _bridge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    request = json.dumps({"jsonrpc": "2.0", "id": 9, "method": "initialize", "params": {}})
    return subprocess.run(
        [MCPCRED, "shim", "--server", "remote", *args],
        env=env, input=request + "\n", capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_a_url_reference_resolves_and_a_refusal_does_not_quote_it() -> None:
    url = "http://mcp.example.invalid/v1/mcp?key={{" + _cmd(VALUE) + "}}"
    result = _bridge("--url", url)
    assert result.returncode == 6, result.stderr
    assert "refusing plain http:// to mcp.example.invalid" in result.stderr
    assert VALUE not in result.stderr + result.stdout


def test_a_header_value_with_a_line_break_is_refused_without_it() -> None:
    result = _bridge(
        "--url", "https://mcp.example.invalid/mcp",
        "--header", "Authorization: " + _cmd(VALUE + "\r\nX-Evil: 1"),
    )  # fmt: skip
    assert result.returncode == 6, result.stderr
    assert "--header 'Authorization' holds a line break" in result.stderr
    assert VALUE not in result.stderr + result.stdout
