"""``wrap`` on configs that are symbolic links (stow, chezmoi, home-manager, dotfiles repos).

The link must stay a link and its real file must lose the token; where writing
through is unsafe, the run refuses with one line and exit 3 before anything is
stored or written.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(11))


def _config(token: str) -> str:
    server = {"command": "npx", "args": ["-y", "server-github"], "env": {"GITHUB_TOKEN": token}}
    return json.dumps({"mcpServers": {"github": server}}, indent=2) + "\n"


@pytest.fixture
def link(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    return path


def test_a_linked_config_is_written_through_and_stays_a_link(
    keychain: dict[str, str], home: Path, link: Path, token: str
) -> None:
    repository = home / "dotfiles"
    (repository / ".git").mkdir(parents=True)
    target = repository / "claude" / "claude_desktop_config.json"
    target.parent.mkdir()
    target.write_text(_config(token))
    link.symlink_to(target)

    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 0, result.stderr
    assert link.is_symlink()
    assert os.readlink(link) == str(target)
    text = target.read_text()
    assert token not in text
    assert json.loads(text)["mcpServers"]["github"]["env"]["GITHUB_TOKEN"].startswith("mcpcred:")
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") == token
    assert "-> ~/dotfiles/claude/claude_desktop_config.json" in result.stderr
    assert "in the git repository" in result.stderr
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temp file left

    # and unwrap finds the record under the same (real) file
    back = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert link.is_symlink()
    assert target.read_text() == _config(token)


@pytest.mark.parametrize("shape", ["dangling", "loop"])
def test_a_broken_link_is_refused_in_one_line(
    keychain: dict[str, str], home: Path, link: Path, shape: str
) -> None:
    if shape == "dangling":
        link.symlink_to(home / "dotfiles" / "gone.json")
    else:
        other = link.parent / "other.json"
        other.symlink_to(link)
        link.symlink_to(other)
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 3, result.stderr
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"error: {link}")
    assert ("does not exist" if shape == "dangling" else "loop of symbolic links") in first
    assert link.is_symlink()


def test_a_hard_linked_config_is_refused(
    keychain: dict[str, str], home: Path, link: Path, token: str
) -> None:
    other = home / "dotfiles.json"
    other.write_text(_config(token))
    os.link(other, link)
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 3, result.stderr
    assert "hard links" in result.stderr.splitlines()[0]
    assert other.read_text() == _config(token) == link.read_text()
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None


def test_a_link_to_another_users_file_is_refused(
    keychain: dict[str, str], home: Path, link: Path, token: str
) -> None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("making a file of another user needs root")
    target = home / "dotfiles-store" / "claude.json"
    target.parent.mkdir()
    target.write_text(_config(token))
    os.chown(target, 65534, 65534)
    link.symlink_to(target)
    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 3, result.stderr
    assert "belongs to another user" in result.stderr.splitlines()[0]
    assert target.read_text() == _config(token)
    assert os.stat(target).st_uid == 65534
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None


def test_run_from_home_wraps_each_file_once(
    keychain: dict[str, str], home: Path, token: str
) -> None:
    """From HOME, Codex's project file *is* the user file: one file, written once, exit 0."""
    config = home / ".codex" / "config.toml"
    config.parent.mkdir()
    config.write_text(
        f'[mcp_servers.github]\ncommand = "npx"\nargs = ["-y", "server-github"]\n'
        f'env = {{ GITHUB_TOKEN = "{token}" }}\n'
    )
    result = run("wrap", "codex", "--yes", cwd=home)
    assert result.code == 0, result.stderr
    assert token not in config.read_text()
    assert result.stderr.count(".codex/config.toml (codex, user)") == 1
    assert result.stderr.count("wrote .codex/config.toml") == 1
    assert "project" not in result.stderr
    status = run("status", "--json", cwd=home)
    rows = [r for r in json.loads(status.stdout)["servers"] if r["client"] == "codex"]
    assert [(r["server"], r["scope"]) for r in rows] == [("github", "user")]


def test_a_refusal_comes_before_the_first_write(
    home: Path, project: Path, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the second file changed during the run, the first is not written either."""
    from mcpcred.errors import ConfigError
    from mcpcred.wrap import service

    user, mine, plans, store, index = _two_cursor_plans(home, project, tmp_path, token, monkeypatch)
    assert [p.location.path for p in plans] == [str(user), str(mine)]
    mine.write_text(_config(token) + "\n")  # the client rewrites the second file meanwhile
    with pytest.raises(ConfigError, match="changed while mcpcred was working on it"):
        service.execute_wrap(plans, store, index)
    assert user.read_text() == _config(token)
    assert not (tmp_path / "data" / "backups").exists()


def test_a_failed_write_names_the_files_already_written(
    home: Path, project: Path, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that stops half way says what it did; an OS error is one clear line, not a bug."""
    from mcpcred.errors import ConfigError
    from mcpcred.wrap import files, service

    user, mine, plans, store, index = _two_cursor_plans(home, project, tmp_path, token, monkeypatch)
    real_write = files.write

    def full_disk(snapshot: files.Snapshot, text: str) -> None:
        if snapshot.path == str(mine):
            raise OSError(28, "No space left on device")
        real_write(snapshot, text)

    monkeypatch.setattr(files, "write", full_disk)
    with pytest.raises(ConfigError) as caught:
        service.execute_wrap(plans, store, index)
    message = caught.value.message
    assert message.startswith("cannot write .cursor/mcp.json: No space left on device")
    assert "already written: ~/.cursor/mcp.json" in message
    assert token not in user.read_text()
    assert mine.read_text() == _config(token)


def _two_cursor_plans(
    home: Path, project: Path, tmp_path: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path, Any, Any, Any]:
    """Cursor's user and project files with ``token``, planned: ``(user, mine, plans, store, index)``."""
    from mcpcred.clients import BY_ID
    from mcpcred.host import Host
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.keychain.store import SecretStore
    from mcpcred.wrap import service
    from mcpcred.wrap.plan import ShimSettings
    from tests.support.memkeyring import MemoryKeyring

    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    user, mine = home / ".cursor" / "mcp.json", project / ".cursor" / "mcp.json"
    for path in (user, mine):
        path.parent.mkdir()
        path.write_text(_config(token))
    store = SecretStore(MemoryKeyring())
    index = SecretIndex(tmp_path / "index.json")
    plans = service.plan_wrap(
        BY_ID["cursor"],
        Host.current(),
        config=None,
        servers=[],
        settings=ShimSettings("/opt/mcpcred", None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )
    return user, mine, plans, store, index
