"""``mcpcred doctor`` on real files in a temp HOME and the real keychain.

Each test builds one situation a user meets (all well, a secret left in a file, a
credential gone from the keychain, a file that does not parse, Codex without the
settings the shim needs) and checks the line doctor prints for it, its fix and the
exit code: 0 only when every check passes.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from tests.support import tokengen
from tests.support.cli import Result, run

OK, BAD = "✓", "✗"
MCPCRED = Path(sys.executable).parent / "mcpcred"


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(7))


@pytest.fixture
def desktop(home: Path, token: str) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    server = {"command": "npx", "args": ["server-github"], "env": {"GITHUB_TOKEN": token}}
    path.write_text(json.dumps({"mcpServers": {"github": server, "plain": {"command": "x"}}}))
    return path


def _doctor(*args: str) -> Result:
    return run("doctor", *args, env={"PYTHONIOENCODING": "utf-8"})


def _lines(result: Result, mark: str) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith(mark)]


def test_a_healthy_wrapped_client_passes_every_check(
    keychain: dict[str, str], desktop: Path, token: str
) -> None:
    wrapped = run("wrap", "claude-desktop", "--yes")
    assert wrapped.code == 0, wrapped.stderr
    result = _doctor("claude-desktop")
    assert result.code == 0, result.stdout + result.stderr
    assert _lines(result, BAD) == []
    assert f"{OK} claude-desktop/github: starts through mcpcred" in result.stdout
    assert f"{OK} claude-desktop/github: mcpcred:secret/github-pat: ok" in result.stdout
    assert f"{OK} claude-desktop/plain: starts through mcpcred" in result.stdout
    assert (
        f"{OK} claude-desktop: ~/.config/Claude/claude_desktop_config.json parses (2 server(s))"
        in result.stdout
    )
    store = [line for line in result.stdout.splitlines() if " store: " in line]
    assert store and store[0].startswith(OK) and "keychain" in store[0]
    assert token not in result.stdout + result.stderr
    assert result.stderr.startswith("all ") and "checks passed" in result.stderr


def test_a_secret_still_in_the_file_fails_with_the_wrap_command(
    keychain: dict[str, str], desktop: Path, token: str
) -> None:
    result = _doctor()
    assert result.code == 1
    assert _lines(result, BAD) == [
        f"{BAD} claude-desktop/github: 1 credential(s) in plain text in "
        "~/.config/Claude/claude_desktop_config.json "
        "(fix: mcpcred wrap claude-desktop --server github)"
    ]
    assert token not in result.stdout + result.stderr


def test_a_missing_credential_fails_with_how_to_store_it(
    keychain: dict[str, str], desktop: Path
) -> None:
    assert run("wrap", "claude-desktop", "--yes").code == 0
    assert run("secret", "rm", "github-pat", "--yes").code == 0
    result = _doctor("claude-desktop", "--json")
    assert result.code == 1
    document = json.loads(result.stdout)
    assert document["ok"] is False
    failed = [c for c in document["checks"] if not c["ok"]]
    assert failed == [
        {
            "client": "claude-desktop",
            "check": "credential",
            "ok": False,
            "detail": "mcpcred:secret/github-pat: missing",
            "fix": "`mcpcred secret set github-pat`",
            "server": "github",
        }
    ]


def test_an_unparseable_config_fails_and_says_where(home: Path, keychain: dict[str, str]) -> None:
    path = home / ".claude.json"
    path.write_text('{"mcpServers": {"a": {"command": "x",}}')
    result = _doctor("claude-code")
    assert result.code == 1
    bad = _lines(result, BAD)
    assert len(bad) == 1
    assert bad[0].startswith(f"{BAD} claude-code: ~/.claude.json does not parse: line 1")


def test_a_client_without_config_and_no_client_at_all(keychain: dict[str, str]) -> None:
    named = _doctor("cursor")
    assert named.code == 1
    assert f"{BAD} cursor: no config file found" in named.stdout
    anything = _doctor()
    assert anything.code == 1
    assert "mcpcred clients --all" in anything.stdout


def test_codex_without_env_vars_or_timeout_is_told_what_to_add(
    home: Path, keychain: dict[str, str]
) -> None:
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        f'[mcp_servers.docs]\ncommand = "{MCPCRED}"\nargs = ["shim", "--", "docs-mcp"]\n'
    )
    result = _doctor("codex")
    assert result.code == 1
    bad = _lines(result, BAD)
    assert any("env_vars does not pass DBUS_SESSION_BUS_ADDRESS" in line for line in bad), bad
    assert any("startup_timeout_sec = 30 in [mcp_servers.docs]" in line for line in bad), bad
    config.write_text(
        config.read_text()
        + 'env_vars = ["DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR"]\nstartup_timeout_sec = 60\n'
    )
    fixed = _doctor("codex")
    assert fixed.code == 0, fixed.stdout
    assert f"{OK} codex/docs: env_vars and start-up timeout fit the shim" in fixed.stdout


def test_unknown_client_is_a_usage_error() -> None:
    result = _doctor("nope")
    assert result.code == 2
    assert result.stderr.startswith("error: unknown client 'nope'")


def test_without_utf8_the_marks_are_words(keychain: dict[str, str], desktop: Path) -> None:
    result = run("doctor", env={"PYTHONIOENCODING": "ascii"})
    assert result.stdout.splitlines()[0].startswith("ok ")
    assert any(line.startswith("FAIL ") for line in result.stdout.splitlines())


def _store_login(refresh_token: str | None) -> None:
    """A github login as ``mcpcred login`` stores it, with an access token that expired."""
    import time

    from mcpcred.cli.login_cmd import LOGIN_INDEX
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore
    from mcpcred.keychain.vault import StoreVault
    from mcpcred.oauth import records
    from mcpcred.paths import data_dir

    now = time.time()
    record = records.LoginRecord(
        provider="github",
        account="default",
        client_id="Iv23liExample",
        token_endpoint="https://github.com/login/oauth/access_token",
        refresh_token=refresh_token,
        created_at=now - 7200,
    )
    access = records.AccessToken(
        "gho_expired", expires_at=now - 60, refresh_at=now - 120, obtained_at=now - 3600
    )
    vault = StoreVault(SecretStore())
    vault.write(records.record_name("github", "default"), record.dumps())
    vault.write(records.access_name("github", "default"), access.dumps())
    SecretIndex(data_dir() / LOGIN_INDEX).touch("github")


def test_an_expired_login_without_refresh_token_fails_with_the_login_command(
    keychain: dict[str, str], home: Path
) -> None:
    path = home / ".claude.json"
    entry = {
        "command": str(MCPCRED),
        "args": ["shim", "--", "github-mcp"],
        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcred:oauth/github"},
    }
    path.write_text(json.dumps({"mcpServers": {"github": entry}}))
    missing = _doctor("claude-code")
    assert missing.code == 1
    assert (
        f"{BAD} claude-code/github: mcpcred:oauth/github: not logged in "
        "(fix: `mcpcred login github`)" in missing.stdout
    )

    _store_login(refresh_token=None)
    expired = _doctor("claude-code")
    assert expired.code == 1
    assert f"{OK} claude-code/github: mcpcred:oauth/github: ok" in expired.stdout
    assert _lines(expired, BAD) == [
        f"{BAD} oauth:github: access token expired and no refresh token "
        "(fix: `mcpcred login github`)"
    ]

    _store_login(refresh_token="ghr_refresh")
    fine = _doctor("claude-code")
    assert fine.code == 0, fine.stdout
    assert f"{OK} oauth:github: refreshable" in fine.stdout
    assert "ghr_refresh" not in fine.stdout + fine.stderr


def test_no_store_fails_the_store_check_and_says_so_for_each_credential(
    home: Path, tmp_path: Path
) -> None:
    """No keychain answers (no bus), no store file, no passphrase: a new user on a server."""
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    entry = {
        "command": str(MCPCRED),
        "args": ["shim", "--", "npx"],
        "env": {"T": "mcpcred:secret/gh-pat"},
    }
    path.write_text(json.dumps({"mcpServers": {"gh": entry}}))
    result = run(
        "doctor",
        env={
            "PYTHONIOENCODING": "utf-8",
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
            "MCPCRED_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert result.code == 1
    bad = _lines(result, BAD)
    assert bad[0].startswith(f"{BAD} store: no store: no usable OS keychain")
    assert "mcpcred store init --file" in bad[0]
    assert bad[1] == (
        f"{BAD} claude-desktop/gh: mcpcred:secret/gh-pat: unknown "
        "(fix: make the store answer first: see the store line)"
    )
    assert "Traceback" not in result.stderr


def test_a_wrapped_entry_whose_mcpcred_is_gone_fails_with_the_path_to_write(
    keychain: dict[str, str], home: Path
) -> None:
    """mcpcred reinstalled elsewhere (pip to pipx): the entry still names the old path."""
    path = home / ".claude.json"
    entry = {"command": "/opt/old-venv/bin/mcpcred", "args": ["shim", "--", "docs-mcp"]}
    path.write_text(json.dumps({"mcpServers": {"docs": entry}}))
    result = _doctor("claude-code")
    assert result.code == 1
    assert _lines(result, BAD) == [
        f"{BAD} claude-code/docs: starts /opt/old-venv/bin/mcpcred, which is not an executable "
        f'here: the client cannot start it (fix: set "command" to {MCPCRED} in ~/.claude.json)'
    ]


def test_a_passphrase_only_in_the_shell_does_not_reach_claude_desktop(
    home: Path, tmp_path: Path
) -> None:
    """File store unlocked by MCPCRED_PASSPHRASE in the shell, no agent: Claude Desktop
    starts servers without that shell's environment, so the shim would find the store
    locked. Passing the passphrase file in the entry's env settles it."""
    from tests.support.headless import headless, run_cli

    env = headless(
        home,
        MCPCRED_PASSPHRASE="correct horse battery staple",
        MCPCRED_DATA_DIR=str(tmp_path / "data"),
        MCPCRED_RUNTIME_DIR=str(tmp_path / "run"),
        PYTHONIOENCODING="utf-8",
    )
    assert run_cli("store", "init", "--file", env=env).returncode == 0
    assert run_cli("secret", "set", "api-key", "--from-stdin", env=env, stdin="v\n").returncode == 0
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    entry = {
        "command": str(MCPCRED),
        "args": ["shim", "--", "x"],
        "env": {"K": "mcpcred:secret/api-key"},
    }
    path.write_text(json.dumps({"mcpServers": {"api": entry}}))

    result = run_cli("doctor", "claude-desktop", env=env)
    assert result.returncode == 1, result.stdout + result.stderr
    bad = [line for line in result.stdout.splitlines() if line.startswith(BAD)]
    assert len(bad) == 1 and bad[0].startswith(
        f"{BAD} claude-desktop/api: Claude Desktop starts servers without your shell's environment"
    ), result.stdout
    assert "mcpcred agent start" in bad[0]
    assert f"{OK} claude-desktop/api: mcpcred:secret/api-key: ok" in result.stdout

    secret_file = tmp_path / "passphrase"
    secret_file.write_text("correct horse battery staple\n")
    secret_file.chmod(0o600)
    entry["env"]["MCPCRED_PASSPHRASE_FILE"] = str(secret_file)
    path.write_text(json.dumps({"mcpServers": {"api": entry}}))
    settled = run_cli("doctor", "claude-desktop", env=env)
    assert settled.returncode == 0, settled.stdout
