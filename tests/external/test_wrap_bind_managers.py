"""``wrap --bind VAR=<password manager>``: what lands in the client's config, and what is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.cli import run


def _config(home: Path, env: dict[str, str] | None = None) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    server: dict[str, object] = {"command": "npx", "args": ["x"]}
    if env is not None:
        server["env"] = env
    path.write_text(json.dumps({"mcpServers": {"s": server}}, indent=2) + "\n")
    return path


def _no_keychain() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DBUS_SESSION_BUS_ADDRESS"}
    env["XDG_RUNTIME_DIR"] = env["HOME"]
    return env


def test_every_kind_writes_its_reference_without_a_keychain(home: Path) -> None:
    config = _config(home)
    original = config.read_text()
    binds = {
        "A": ("pass:Email/github.com", "mcpcred:pass/Email/github.com"),
        "B": ("op://Private/GitHub Token/credential", "mcpcred:op/Private/GitHub Token/credential"),
        "C": ("bw:GitHub/password", "mcpcred:bw/GitHub/password"),
        "D": ("vault:secret/app#api_key", "mcpcred:vault/secret/app#api_key"),
        "E": ('cmd:["secret-tool", "lookup", "s", "x"]', 'mcpcred:cmd/["secret-tool", "lookup", "s", "x"]'),
    }  # fmt: skip
    args = [a for var, (target, _) in binds.items() for a in ("--bind", f"{var}={target}")]
    result = run("wrap", "claude-desktop", "-s", "s", *args, "-y", env=_no_keychain())
    assert result.code == 0, result.stderr
    assert "try the references now with: mcpcred status --check" in result.stderr
    entry = json.loads(config.read_text())["mcpServers"]["s"]
    assert entry["env"] == {var: ref for var, (_, ref) in binds.items()}
    assert entry["args"][-3:] == ["--", "npx", "x"]  # started through the shim
    assert run("unwrap", "claude-desktop", "-y", env=_no_keychain()).code == 0
    assert config.read_text() == original


@pytest.mark.parametrize(
    "bind",
    [
        "T=pass:-rf",
        "T=pass:../x",
        "T=op://Private/item",
        "T=bw:item",
        "T=vault:secret/app",
        "T=cmd:secret-tool lookup s x",
        "T=cmd:[]",
        "T=keepass:x",
    ],
)
def test_a_bad_locator_is_a_usage_error_and_changes_nothing(home: Path, bind: str) -> None:
    config = _config(home)
    before = config.read_bytes()
    result = run("wrap", "claude-desktop", "-s", "s", "--bind", bind, "-y", env=_no_keychain())
    assert result.code == 2, result.stderr
    assert "--bind" in result.stderr
    assert config.read_bytes() == before


def test_a_plaintext_value_still_needs_a_keychain(home: Path) -> None:
    """Binding over a plaintext value moves it: without a store that must fail, file untouched."""
    config = _config(home, {"T": "ghp_" + "a1B2c3D4e5" * 3 + "abcdef", "U": "plain-canary-77"})
    before = config.read_bytes()
    result = run(
        "wrap", "claude-desktop", "-s", "s", "--bind", "U=pass:x", "-y", env=_no_keychain()
    )
    assert result.code == 5, result.stderr
    assert config.read_bytes() == before
    assert "plain-canary-77" not in result.stdout + result.stderr
