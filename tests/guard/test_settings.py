"""Which servers are guarded: the user's config and a project's mcpcred.toml."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mcpcred.errors import ConfigError
from mcpcred.guard import settings
from mcpcred.paths import config_file, project_file


def env_for(config: Path) -> dict[str, str]:
    return {"MCPCRED_CONFIG": str(config)}


def test_no_table_means_no_guard(tmp_path: Path, project: Path) -> None:
    config = tmp_path / "config.toml"
    assert settings.load("gh", env_for(config), str(project)) is None  # no file
    config.write_text("[oauth]\nrefresh-skew = 60\n")
    assert settings.load("gh", env_for(config), str(project)) is None
    config.write_text("[servers.other]\n")
    assert settings.load("gh", env_for(config), str(project)) is None
    assert settings.load(None, env_for(config), str(project)) is None


def test_a_table_turns_guard_on_with_its_policy(tmp_path: Path, project: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[servers.gh]\npreset = "github-read-only"\ndeny = ["get_secret*"]\n'
        'on-change = "block"\nrestart_on_expiry = true\n'
    )
    guard = settings.load("gh", env_for(config), str(project))
    assert guard is not None
    assert guard.on_change == "block" and guard.restart_on_expiry and guard.pin
    assert guard.refusal("get_issue") is None
    assert guard.refusal("search_code") is None
    assert "deny 'get_secret*'" in str(guard.refusal("get_secret_scanning_alert"))
    assert "allow list" in str(guard.refusal("create_issue"))
    config.write_text("[servers.gh]\nguard = false\n")
    assert settings.load("gh", env_for(config), str(project)) is None


def test_a_project_file_only_tightens(tmp_path: Path, project: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[servers.gh]\nallow = ["*"]\npin = false\n')
    (project / ".git").mkdir()
    nested = project / "src" / "pkg"
    nested.mkdir(parents=True)
    (project / "mcpcred.toml").write_text(
        '[audit]\nfail-on = "high"\n[servers.gh]\ndeny = ["delete_*"]\npin = false\n'
        'on_change = "block"\n'
    )
    guard = settings.load("gh", env_for(config), str(nested))
    assert guard is not None
    assert guard.refusal("delete_repo") is not None  # the project's deny applies
    assert guard.refusal("get_issue") is None
    assert guard.on_change == "block"
    assert guard.pin is False  # from the user's file; the project's `pin = false` alone would not
    config.write_text("[servers.gh]\nguard = false\n")
    still = settings.load("gh", env_for(config), str(nested))
    assert still is not None and still.refusal("delete_repo") is not None
    config.unlink()
    (project / "mcpcred.toml").write_text("[servers.gh]\npin = false\n")
    only_project = settings.load("gh", env_for(config), str(nested))
    assert only_project is not None and only_project.pin is True


def test_project_search_stops_at_the_repository_root(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    repo = outer / "repo"
    (repo / ".git").mkdir(parents=True)
    (outer / "mcpcred.toml").write_text("[servers.gh]\n")
    assert project_file(str(repo)) is None
    assert settings.load("gh", env_for(tmp_path / "none.toml"), str(repo)) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[servers.gh]\ndenny = []\n", "unknown key(s): denny"),
        ('[servers.gh]\ndeny = "x"\n', "deny must be a list"),
        ('[servers.gh]\npreset = "writeable"\n', "unknown preset 'writeable'"),
        ('[servers.gh]\non_change = "ignore"\n', "on_change must be"),
        ('[servers.gh]\nguard = "yes"\n', "guard must be true or false"),
        ('[servers.gh]\non_log_failure = "ignore"\n', "on_log_failure must be"),
        ('[servers.gh]\nclients = "cursor"\n', "clients must be a list of client ids"),
        ("servers = 3\n", "servers must be a table"),
        ("[servers.gh\n", "not valid TOML"),
    ],
)
def test_bad_tables_are_config_errors(
    tmp_path: Path, project: Path, text: str, message: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=r"config\.toml") as caught:
        settings.load("gh", env_for(config), str(project))
    assert message in caught.value.message


BAD_OTHER = '[servers.gh]\ndeny = ["delete_*"]\n[servers.other]\ndeny = "delete_*"\n'


@pytest.mark.parametrize("where", ["user", "project"])
def test_a_bad_table_stops_only_its_own_server(tmp_path: Path, project: Path, where: str) -> None:
    """Issue 12: one invalid table was a ConfigError for every server that started."""
    config = tmp_path / "config.toml"
    (config if where == "user" else project / "mcpcred.toml").write_text(BAD_OTHER)
    guard = settings.load("gh", env_for(config), str(project))
    assert guard is not None and guard.refusal("delete_repo") is not None
    assert settings.load("third", env_for(config), str(project)) is None
    with pytest.raises(ConfigError) as caught:  # its restriction is never dropped
        settings.load("other", env_for(config), str(project))
    name = "config.toml" if where == "user" else "mcpcred.toml"
    assert name in caught.value.message
    assert "[servers.other]: deny must be a list of tool-name globs" in caught.value.message


@pytest.mark.parametrize(
    "text",
    [
        '["\\u0073ervers".gh]\ndeny = ["delete_*"]\n',
        '["\\U00000073ervers".gh]\ndeny = ["delete_*"]\n',
        '[servers."\\u0067h"]\ndeny = ["delete_*"]\n',
        '"\\u0073ervers" = { gh = { deny = ["delete_*"] } }\n',
    ],
)
@pytest.mark.parametrize("where", ["user", "project"])
def test_an_escaped_key_means_what_toml_says(
    tmp_path: Path, project: Path, text: str, where: str
) -> None:
    """Issue 12: ``"\\u0073ervers"`` is ``servers``, but a text search for it missed it."""
    config = tmp_path / "config.toml"
    (config if where == "user" else project / "mcpcred.toml").write_text(text)
    guard = settings.load("gh", env_for(config), str(project))
    assert guard is not None, text
    assert "deny 'delete_*'" in str(guard.refusal("delete_repo"))


def test_guard_false_in_a_project_file_is_refused(tmp_path: Path, project: Path) -> None:
    (project / "mcpcred.toml").write_text("[servers.gh]\nguard = false\n")
    with pytest.raises(ConfigError, match="not allowed in a project file"):
        settings.load("gh", env_for(tmp_path / "none.toml"), str(project))


def test_on_log_failure_defaults_to_refuse_and_only_the_user_may_allow(
    tmp_path: Path, project: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[servers.gh]\n")
    guard = settings.load("gh", env_for(config), str(project))
    assert guard is not None and guard.on_log_failure == "refuse"
    config.write_text('[servers.gh]\non-log-failure = "allow"\n')
    guard = settings.load("gh", env_for(config), str(project))
    assert guard is not None and guard.on_log_failure == "allow"
    (project / "mcpcred.toml").write_text('[servers.gh]\non_log_failure = "refuse"\n')
    tightened = settings.load("gh", env_for(config), str(project))
    assert tightened is not None and tightened.on_log_failure == "refuse"
    (project / "mcpcred.toml").write_text('[servers.gh]\non_log_failure = "allow"\n')
    with pytest.raises(ConfigError, match="not allowed in a project file"):
        settings.load("gh", env_for(tmp_path / "none.toml"), str(project))


@pytest.mark.skipif(sys.platform == "win32", reason="Windows asks platformdirs")
@pytest.mark.parametrize("xdg", [None, "relative/dir", "/abs/xdg"])
def test_user_config_path_matches_platformdirs(
    xdg: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    import os

    assert settings.user_config_path(os.environ) == str(config_file())


def test_mask_injected_is_on_and_only_the_users_file_turns_it_off(
    tmp_path: Path, project: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[servers.gh]\n")
    on = settings.load("gh", env_for(config), str(project))
    assert on is not None and on.mask_injected is True
    (project / "mcpcred.toml").write_text("[servers.gh]\nmask-injected = false\n")
    from_project = settings.load("gh", env_for(config), str(project))
    assert from_project is not None and from_project.mask_injected is True
    config.write_text("[servers.gh]\nmask_injected = false\n")
    off = settings.load("gh", env_for(config), str(project))
    assert off is not None and off.mask_injected is False
    (project / "mcpcred.toml").write_text("[servers.gh]\nmask_injected = true\n")
    tightened = settings.load("gh", env_for(config), str(project))
    assert tightened is not None and tightened.mask_injected is True
    config.write_text('[servers.gh]\nmask_injected = "no"\n')
    with pytest.raises(ConfigError, match="mask_injected must be true or false"):
        settings.load("gh", env_for(config), str(project))


def test_clients_scope_a_table_and_a_project_file_keeps_its_own_scope(
    tmp_path: Path, project: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[servers.gh]\nclients = ["cursor"]\ndeny = ["x"]\n')
    assert settings.load("gh", env_for(config), str(project), "cursor") is not None
    assert settings.load("gh", env_for(config), str(project), "claude-code") is None
    assert settings.load("gh", env_for(config), str(project)) is None  # no client: no scope
    (project / "mcpcred.toml").write_text('[servers.gh]\nclients = ["claude-code"]\n')
    guard = settings.load("gh", env_for(config), str(project), "claude-code")
    assert guard is not None and guard.refusal("x") is None  # only the project's table


def test_a_policy_remembers_its_answers_within_a_bound() -> None:
    """Answers are remembered per tool name (judged before every call is forwarded), the
    same as judged afresh, and a client naming endless tools cannot grow the memory."""
    from mcpcred.guard import settings as settings_module

    policy = settings_module.Policy(("read_*",), ("read_secret*", "delete_*"), "config.toml")
    names = ["read_file", "READ_SECRET", "read_secret_x", "delete_all", "write", "r\u200bead_x"]
    first = [policy.refusal(name) for name in names]
    assert first == [policy._judge(name) for name in names]
    assert first[0] is None and all(reason is not None for reason in first[1:])
    assert [policy.refusal(name) for name in names] == first  # remembered, unchanged
    for index in range(settings_module.JUDGED * 3):
        policy.refusal(f"tool_{index}")
    assert len(policy.judged) <= settings_module.JUDGED
    assert policy.refusal("delete_all") == first[3]
