"""``mcpcred guard``: wraps the server if needed and writes its ``[servers.NAME]`` table."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mcpcred.guard import settings
from tests.support.cli import run


@pytest.fixture
def config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"]}
    path.write_text(json.dumps({"mcpServers": {"github": entry, "other": entry}}, indent=2))
    return path


def user_config(home: Path) -> Path:
    return home / ".config" / "mcpcred" / "config.toml"


def test_guard_wraps_the_server_and_writes_its_table(
    keychain: dict[str, str], config: Path, home: Path
) -> None:
    mine = user_config(home)
    mine.parent.mkdir(parents=True)
    mine.write_text("# my settings\n[oauth]\nrefresh-skew = 120  # two minutes\n")
    result = run(
        "guard", "claude-desktop", "--server", "github", "--preset", "github-read-only",
        "--deny", "get_secret*", "--on-change", "block", "--yes",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    entry = json.loads(config.read_text())["mcpServers"]["github"]
    assert entry["args"][0] == "shim" and "--server" in entry["args"]  # now through the shim
    other = json.loads(config.read_text())["mcpServers"]["other"]
    assert other["command"] == "npx"  # only the named server
    text = mine.read_text()
    assert text.startswith("# my settings\n[oauth]\nrefresh-skew = 120  # two minutes\n")
    assert stat.S_IMODE(os.stat(mine).st_mode) == 0o600
    guard = settings.load("github", {"MCPCRED_CONFIG": str(mine)}, str(home), "claude-desktop")
    assert guard is not None and guard.on_change == "block"
    assert guard.refusal("get_issue") is None
    assert guard.refusal("create_issue") is not None
    assert guard.refusal("get_secret_scanning_alert") is not None

    assert guard.on_log_failure == "refuse"

    again = run(
        "guard", "claude-desktop", "--server", "github", "--deny", "list_*",
        "--on-log-failure", "allow", "--yes",
    )  # fmt: skip
    assert again.code == 0, again.stderr
    merged = settings.load("github", {"MCPCRED_CONFIG": str(mine)}, str(home), "claude-desktop")
    assert merged is not None and merged.refusal("list_issues") is not None
    assert merged.on_log_failure == "allow"
    assert merged.refusal("get_secret_x") is not None  # earlier denies are kept

    status = json.loads(run("status", "--json").stdout)
    rows = {r["server"]: r["guarded"] for r in status["servers"]}
    assert rows == {"github": True, "other": False}
    table = run("status").stdout
    assert "guarded" in next(line for line in table.splitlines() if "github" in line)

    off = run("guard", "claude-desktop", "--server", "github", "--off")
    assert off.code == 0, off.stderr
    assert (
        settings.load("github", {"MCPCRED_CONFIG": str(mine)}, str(home), "claude-desktop") is None
    )


def test_bad_options_and_unparsable_files_change_nothing(
    keychain: dict[str, str], config: Path, home: Path
) -> None:
    before = config.read_bytes()
    bad = run("guard", "claude-desktop", "--server", "github", "--on-change", "ignore", "--yes")
    assert bad.code == 2 and "--on-change" in bad.stderr
    unknown = run("guard", "claude-desktop", "--server", "github", "--preset", "rw", "--yes")
    assert unknown.code == 2 and "unknown preset" in unknown.stderr
    odd = run("guard", "claude-desktop", "--server", "github", "--on-log-failure", "skip")
    assert odd.code == 2 and "--on-log-failure" in odd.stderr
    mine = user_config(home)
    mine.parent.mkdir(parents=True)
    mine.write_text("[servers.github\nbroken")
    broken = run("guard", "claude-desktop", "--server", "github", "--yes")
    assert broken.code == 3 and "not valid TOML" in broken.stderr
    assert mine.read_text() == "[servers.github\nbroken"
    assert config.read_bytes() == before
    mine.unlink()
    missing = run("guard", "claude-desktop", "--server", "nosuch", "--yes")
    assert missing.code == 2 and "nosuch" in missing.stderr
    assert config.read_bytes() == before
    assert not mine.exists()


def _guarded(home: Path) -> dict[tuple[str, str], bool]:
    status = json.loads(run("status", "--json").stdout)
    return {(r["client"], r["server"]): r["guarded"] for r in status["servers"]}


def test_guard_is_scoped_to_its_client(keychain: dict[str, str], config: Path, home: Path) -> None:
    """`guard CLIENT --server NAME` guards NAME in CLIENT only; --all-clients in every client."""
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(json.dumps({"mcpServers": {"github": {"command": "npx"}}}))
    mine = user_config(home)
    environ = {"MCPCRED_CONFIG": str(mine)}

    result = run("guard", "claude-desktop", "--server", "github", "--deny", "delete_*", "--yes")
    assert result.code == 0, result.stderr
    assert "github: guarded in claude-desktop" in result.stderr
    assert 'clients = ["claude-desktop"]' in mine.read_text()
    assert settings.load("github", environ, str(home), "claude-desktop") is not None
    assert settings.load("github", environ, str(home), "cursor") is None
    assert json.loads(cursor.read_text())["mcpServers"]["github"]["command"] == "npx"
    guarded = _guarded(home)
    assert guarded[("claude-desktop", "github")] is True
    assert guarded[("cursor", "github")] is False

    # a second client joins the table; turning one off leaves the other guarded
    assert run("guard", "cursor", "--server", "github", "--yes").code == 0
    assert settings.load("github", environ, str(home), "cursor") is not None
    assert run("guard", "claude-desktop", "--server", "github", "--off").code == 0
    assert settings.load("github", environ, str(home), "claude-desktop") is None
    still = settings.load("github", environ, str(home), "cursor")
    assert still is not None and still.refusal("delete_repo") is not None

    # --all-clients: the old meaning, every client
    every = run("guard", "cursor", "--server", "github", "--all-clients", "--yes")
    assert every.code == 0, every.stderr
    assert "github: guarded in every client" in every.stderr
    assert "clients" not in mine.read_text()
    assert settings.load("github", environ, str(home), "claude-desktop") is not None


def test_a_table_for_every_client_is_changed_only_with_all_clients(
    keychain: dict[str, str], config: Path, home: Path
) -> None:
    mine = user_config(home)
    mine.parent.mkdir(parents=True)
    mine.write_text('[servers.github]\ndeny = ["delete_*"]\n')  # written before `clients`
    before = config.read_bytes()
    environ = {"MCPCRED_CONFIG": str(mine)}
    assert settings.load("github", environ, str(home), "cursor") is not None  # still works

    refused = run("guard", "claude-desktop", "--server", "github", "--deny", "x", "--yes")
    assert refused.code == 2, refused.stderr
    assert "applies to the server 'github' of every client" in refused.stderr.splitlines()[0]
    assert "--all-clients" in refused.stderr
    assert mine.read_text() == '[servers.github]\ndeny = ["delete_*"]\n'
    assert config.read_bytes() == before
    plain = run("guard", "claude-desktop", "--server", "github", "--yes")  # changes no policy
    assert plain.code == 0, plain.stderr
    assert "github: guarded in every client" in plain.stderr
    assert mine.read_text() == '[servers.github]\ndeny = ["delete_*"]\n'
    off = run("guard", "claude-desktop", "--server", "github", "--off")
    assert off.code == 2
    assert mine.read_text() == '[servers.github]\ndeny = ["delete_*"]\n'
