"""The real test parts work, and can fail: keychain, reference server, three real clients.

These check the harness itself (``tests/support/keychain.py``,
``tests/support/mcp_parts.py``), so a failure here points at the infrastructure
rather than at mcpcred. ``./scripts/test`` installs every part.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import mcp_parts

pytestmark = pytest.mark.slow

SMOKE = "SMOKE_X"


@pytest.fixture
def value() -> str:
    return f"smoke-{secrets.token_hex(8)}"


@pytest.fixture
def config(tmp_path: Path, value: str) -> Path:
    """A Claude-Desktop-style config running server-everything with one env var."""
    path = tmp_path / "claude_desktop_config.json"
    entry = mcp_parts.everything_entry({SMOKE: value})
    path.write_text(json.dumps({"mcpServers": {"everything": entry}}, indent=2))
    return path


def _server_env(text: str) -> dict[str, str]:
    """server-everything's ``get-env`` answers with ``JSON.stringify(process.env)``."""
    env = json.loads(text)
    assert isinstance(env, dict), text
    return env


def test_keyring_round_trip_through_the_real_secret_service(keychain: dict[str, str]) -> None:
    script = (
        "import sys, keyring\n"
        "from keyring.backends import SecretService\n"
        "backend = keyring.get_keyring()\n"
        "assert isinstance(backend, SecretService.Keyring), backend\n"
        "keyring.set_password('mcpcred', 'smoke-user', sys.stdin.read())\n"
        "print(type(backend).__module__)\n"
    )
    secret = f"s3cr3t-{secrets.token_hex(8)}"
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=secret,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "keyring.backends.SecretService"
    assert real_keychain.lookup(keychain, "mcpcred", "smoke-user") == secret
    assert real_keychain.lookup(keychain, "mcpcred", "nobody") is None
    # and the other way round, then the per-test clear
    real_keychain.store(keychain, "mcpcred", "from-tool", "v\nwith newline")
    read = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; print(keyring.get_password('mcpcred', 'from-tool'))",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert read.stdout == "v\nwith newline\n", read.stderr
    real_keychain.store(keychain, "other-service", "kept", "k")
    real_keychain.clear(keychain)
    assert real_keychain.lookup(keychain, "mcpcred", "smoke-user") is None
    assert real_keychain.lookup(keychain, "other-service", "kept") == "k"
    real_keychain.clear(keychain, "other-service")
    # left behind on purpose: the keychain fixture must clear it before the next test
    real_keychain.store(keychain, "mcpcred", "left-behind", "x")


def test_keychain_starts_empty_and_its_bus_is_in_xdg_runtime_dir(
    keychain: dict[str, str],
) -> None:
    # (after the round trip above, this proves the fixture's clear; alone it still passes)
    assert real_keychain.lookup(keychain, "mcpcred", "left-behind") is None
    assert os.environ["DBUS_SESSION_BUS_ADDRESS"] == keychain["DBUS_SESSION_BUS_ADDRESS"]
    socket = Path(keychain["XDG_RUNTIME_DIR"]) / "bus"
    assert socket.is_socket()
    assert keychain["DBUS_SESSION_BUS_ADDRESS"].startswith(f"unix:path={socket}")
    assert not str(socket).startswith(os.environ["HOME"])


def test_sdk_client_calls_a_tool_and_scrubs_the_environment(
    config: Path, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    parent_only = f"parent-{secrets.token_hex(8)}"
    monkeypatch.setenv("SMOKE_PARENT_ONLY", parent_only)
    result = mcp_parts.sdk_call_tool(config, "everything", "get-env")
    assert result.ok, result.error
    assert result.is_error is False
    assert result.server_info is not None
    server_env = _server_env(result.joined)
    assert server_env[SMOKE] == value
    # the client process had it, the server must not (the SDK scrubs the environment)
    assert "SMOKE_PARENT_ONLY" not in server_env
    assert parent_only not in result.joined


def test_sdk_client_reports_tool_errors_and_failed_starts(tmp_path: Path) -> None:
    echoed = mcp_parts.sdk_call_tool_entry(
        mcp_parts.everything_entry(), "echo", {"message": "hi"}, timeout=30
    )
    assert (echoed.ok, echoed.is_error, echoed.text) == (True, False, ["Echo: hi"])
    unknown = mcp_parts.sdk_call_tool_entry(mcp_parts.everything_entry(), "no-such-tool")
    assert unknown.ok and unknown.is_error, unknown
    # a VS Code style file: "servers" map, comments, trailing commas
    vscode = tmp_path / "mcp.json"
    vscode.write_text(
        '{\n  // VS Code\n  "servers": {\n    "broken": {"type": "stdio", '
        '"command": "definitely-not-a-command-xyz", "args": [],},\n  },\n}\n'
    )
    broken = mcp_parts.sdk_call_tool(vscode, "broken", "echo", config_key="servers", timeout=20)
    assert not broken.ok
    assert broken.returncode == 1
    assert "definitely-not-a-command-xyz" in (broken.error or ""), broken


def test_inspector_calls_a_tool(config: Path, value: str) -> None:
    run = mcp_parts.inspector_call_tool(config, "everything", "get-env")
    assert run.returncode == 0, run.stderr[-2000:]
    assert _server_env(run.text)[SMOKE] == value
    failed = mcp_parts.inspector_call_tool(config, "nosuch", "get-env")
    assert failed.returncode == 1
    assert "Server 'nosuch' not found" in failed.stdout + failed.stderr


def test_codex_app_server_calls_a_tool(tmp_path: Path, value: str) -> None:
    codex_home = tmp_path / "codex"
    codex_home.mkdir()
    everything = json.dumps(mcp_parts.everything_js())  # a JSON string is a TOML basic string
    (codex_home / "config.toml").write_text(
        "[mcp_servers.everything]\n"
        'command = "node"\n'
        f'args = [{everything}, "stdio"]\n'
        f'env = {{ {SMOKE} = "{value}" }}\n'
        "\n"
        "[mcp_servers.broken]\n"
        'command = "definitely-not-a-command-xyz"\n'
    )
    with mcp_parts.CodexAppServer(codex_home) as codex:
        status = {item["name"]: item for item in codex.server_status()["data"]}
        assert status["everything"]["serverInfo"] is not None
        assert "get-env" in status["everything"]["tools"]
        assert "No such file" in status["broken"]["toolsError"]
        thread = codex.start_thread()
        response = codex.call_tool("everything", "get-env", thread_id=thread)
        assert _server_env(mcp_parts.content_text(response))[SMOKE] == value
        failed = codex.call_tool("broken", "echo", {"message": "x"}, thread_id=thread)
        assert "MCP startup failed" in failed["error"]["message"]
    # the one-shot helper
    response = mcp_parts.codex_call_tool(codex_home, "everything", "echo", {"message": "hi"})
    assert mcp_parts.content_text(response) == "Echo: hi"
