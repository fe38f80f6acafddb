"""``mcpcred wrap``/``unwrap``/``status`` as users run them: bad input loses nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mcpcred.clients import BY_ID
from mcpcred.errors import ConfigError
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.wrap import service
from mcpcred.wrap.plan import ShimSettings
from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run
from tests.support.memkeyring import MemoryKeyring


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(5))


@pytest.fixture
def config(home: Path, token: str) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    path.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "github": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
                        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": token},
                    }
                },
                "preferences": {"sidebarMode": "chat"},
            },
            indent=2,
        )
        + "\n"
    )
    return path


def test_dry_run_shows_a_redacted_diff_and_changes_nothing(
    keychain: dict[str, str], config: Path, token: str
) -> None:
    before = config.read_bytes()
    result = run("wrap", "claude-desktop", "--dry-run", env={"FORCE_COLOR": "1"})
    assert result.code == 0, result.stderr
    assert config.read_bytes() == before
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None
    assert token not in result.stdout + result.stderr
    assert "ghp_…(40 chars)" in result.stdout  # the old line, redacted
    assert "mcpcred:secret/github-pat" in result.stdout
    assert "\x1b[" in result.stdout  # coloured on request
    assert "env GITHUB_PERSONAL_ACCESS_TOKEN -> keychain as 'github-pat'" in result.stderr
    assert "dry run: nothing was stored or written" in result.stderr


def test_without_yes_and_without_a_terminal_nothing_happens(
    keychain: dict[str, str], config: Path
) -> None:
    before = config.read_bytes()
    result = run("wrap", "claude-desktop")
    assert result.code == 2
    assert "pass --yes" in result.stderr
    assert config.read_bytes() == before
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None


def test_wrap_status_and_idempotence(keychain: dict[str, str], config: Path, token: str) -> None:
    first = run("wrap", "claude-desktop", "--yes")
    assert first.code == 0, first.stderr
    assert token not in config.read_text()
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") == token
    assert oct(config.stat().st_mode & 0o777)  # permissions kept (checked in files tests)
    wrapped = config.read_bytes()
    second = run("wrap", "claude-desktop", "--yes")
    assert second.code == 0
    assert "nothing to change" in second.stderr
    assert config.read_bytes() == wrapped

    status = run("status", "--json")
    assert status.code == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["keychain"] == "keyring.backends.SecretService.Keyring"
    (server,) = [s for s in document["servers"] if s["server"] == "github"]
    assert server["wrapped"] is True
    assert server["plaintext_secrets"] == 0
    assert server["credentials"] == [{"reference": "mcpcred:secret/github-pat", "state": "ok"}]
    assert token not in status.stdout

    real_keychain.clear(keychain, "mcpcred")
    missing = json.loads(run("status", "--json").stdout)
    (server,) = [s for s in missing["servers"] if s["server"] == "github"]
    assert server["credentials"][0]["state"] == "missing"


def test_a_value_with_a_nul_is_refused_before_anything_is_stored(
    keychain: dict[str, str], config: Path, token: str
) -> None:
    """Issue 12: wrap moved a NUL into the keychain; the server could then never start."""
    data = json.loads(config.read_text())
    data["mcpServers"]["github"]["env"]["API_KEY"] = "Zq8rT2vLx9\x00Wq8rT2vLx9Kp"
    config.write_text(json.dumps(data, indent=2) + "\n")
    before = config.read_bytes()
    planned = run("wrap", "claude-desktop", "--dry-run")
    assert "env API_KEY -> keychain as 'github-api-key'" in planned.stderr
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 2, result.stderr
    assert result.stderr.splitlines()[-2].startswith(
        "error: the value for 'github-api-key' contains a NUL character"
    )
    assert token not in result.stdout + result.stderr
    assert "Zq8rT2vLx9" not in result.stdout + result.stderr
    assert config.read_bytes() == before
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None  # nor the other one
    assert real_keychain.lookup(keychain, "mcpcred", "github-api-key") is None


def test_a_config_that_does_not_parse_is_left_alone(keychain: dict[str, str], config: Path) -> None:
    broken = config.read_text().replace('"preferences"', '"preferences",,', 1)
    config.write_text(broken)
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 3
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {config}:")  # file:line:column
    assert config.read_text() == broken
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None


def test_unknown_client_and_unknown_server(keychain: dict[str, str], config: Path) -> None:
    unknown = run("wrap", "notepad", "--yes")
    assert unknown.code == 2
    assert "choose one of" in unknown.stderr
    no_server = run("wrap", "claude-desktop", "--server", "nope", "--yes")
    assert no_server.code == 2
    assert "no server named 'nope'" in no_server.stderr


def test_only_the_named_server_is_wrapped(keychain: dict[str, str], config: Path) -> None:
    data = json.loads(config.read_text())
    data["mcpServers"]["memory"] = {"command": "npx", "args": ["-y", "server-memory"]}
    config.write_text(json.dumps(data, indent=2))
    result = run("wrap", "claude-desktop", "--server", "memory", "--yes")
    assert result.code == 0, result.stderr
    servers = json.loads(config.read_text())["mcpServers"]
    assert servers["memory"]["args"][0] == "shim"
    assert servers["github"]["command"] == "npx"


def test_a_file_changed_during_wrap_is_not_overwritten(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    store = SecretStore(MemoryKeyring())
    index = SecretIndex(tmp_path / "index.json")
    plans = service.plan_wrap(
        BY_ID["claude-desktop"],
        Host.current(),
        config=None,
        servers=[],
        settings=ShimSettings("/opt/mcpcred", None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )
    # the client rewrites its file between planning and writing
    changed = config.read_text().replace("chat", "code")
    config.write_text(changed)
    with pytest.raises(ConfigError, match="changed while mcpcred was working on it"):
        service.execute_wrap(plans, store, index)
    assert config.read_text() == changed


def test_unwrap_with_restore_secrets_warns_and_restores(
    keychain: dict[str, str], config: Path, token: str
) -> None:
    original = config.read_bytes()
    assert run("wrap", "claude-desktop", "--yes").code == 0
    wrapped = config.read_bytes()
    plain = run("unwrap", "claude-desktop", "--yes")
    assert plain.code == 0, plain.stderr
    # started directly, the server would get the text "mcpcred:secret/github-pat"
    assert "github: STAYS WRAPPED" in plain.stderr
    assert "kept on mcpcred: it still needs mcpcred:secret/github-pat" in plain.stderr
    assert config.read_bytes() == wrapped
    restored = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert restored.code == 0, restored.stderr
    assert "writes secret values back into plain-text" in restored.stderr
    assert token not in restored.stdout + restored.stderr
    assert config.read_bytes() == original
