"""``[credentials.NAME]`` in ``mcpcred.toml``: what each table means, and every mistake refused.

The file comes from a repository, so it is untrusted: each refusal is one ``ConfigError``
line (exit 3) that names the table and the key, and never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred import project_credentials
from mcpcred.errors import EXIT_CONFIG, ConfigError
from mcpcred.project_credentials import load


def _load(tmp_path: Path, text: str) -> project_credentials.ProjectCredentials:
    path = tmp_path / "mcpcred.toml"
    path.write_text(text, encoding="utf-8")
    return load(str(path))


def _refused(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert caught.value.exit_code == EXIT_CONFIG
    message = caught.value.message
    assert "\n" not in message
    return message


def test_the_three_kinds_name_the_references_the_servers_hold(tmp_path: Path) -> None:
    declared = _load(
        tmp_path,
        """
[audit]
fail-on = "medium"

[credentials.github]
kind = "oauth"
provider = "github"
[credentials.linear-key]
kind = "secret"
prompt = "Linear API key (Settings → API)"
url = "https://linear.app/settings/api"
[credentials.db]
kind = "secret"
store = "op://vault/item/field"
""",
    )
    github, linear, db = declared.credentials
    assert [c.name for c in declared.credentials] == ["github", "linear-key", "db"]  # file order
    assert github.reference == "mcpcred:oauth/github"
    assert github.fix() == "mcpcred login github"
    assert linear.reference == "mcpcred:secret/linear-key"
    assert linear.prompt == "Linear API key (Settings → API)"
    assert linear.url == "https://linear.app/settings/api"
    assert linear.fix() == "mcpcred secret set linear-key"
    assert not linear.external
    assert db.reference == "mcpcred:op/vault/item/field"
    assert db.external


def test_oauth_options_and_defaults(tmp_path: Path) -> None:
    declared = _load(
        tmp_path,
        """
[credentials.gitlab]
kind = "oauth"
[credentials.work-gh]
kind = "oauth"
provider = "github"
account = "work"
scopes = "repo read:org"
client-id = "Iv23liExample"
flow = "pkce"
[credentials.ms]
kind = "oauth"
provider = "microsoft"
scopes = ["openid", "offline_access"]
""",
    )
    gitlab, work, ms = declared.credentials
    assert gitlab.provider == "gitlab" and gitlab.reference == "mcpcred:oauth/gitlab"
    assert work.reference == "mcpcred:oauth/github/work"
    assert work.fix() == "mcpcred login github --account work"
    assert work.scopes == ("repo", "read:org")
    assert work.client_id == "Iv23liExample" and work.flow == "pkce"
    # an alias is stored under the provider's own name, as `mcpcred login microsoft` does
    assert ms.reference == "mcpcred:oauth/entra" and ms.scopes == ("openid", "offline_access")


def test_a_remote_servers_own_login(tmp_path: Path) -> None:
    (sentry,) = _load(
        tmp_path,
        """
[credentials.sentry]
kind = "oauth"
server = "https://mcp.sentry.dev/mcp"
scopes = ["org:read"]
""",
    ).credentials
    assert sentry.reference == "mcpcred:oauth/sentry"
    assert sentry.server == "https://mcp.sentry.dev/mcp" and sentry.scopes == ("org:read",)
    assert sentry.provider is None
    assert sentry.fix() == "mcpcred login https://mcp.sentry.dev/mcp --name sentry"
    local = _load(
        tmp_path, '[credentials.local]\nkind = "oauth"\nserver = "http://127.0.0.1:8080/mcp"\n'
    )
    assert local.credentials[0].server == "http://127.0.0.1:8080/mcp"
    (query,) = _load(
        tmp_path, '[credentials.q]\nkind = "oauth"\nserver = "https://a.example/mcp?x=1&y=2"\n'
    ).credentials
    assert query.fix() == "mcpcred login 'https://a.example/mcp?x=1&y=2' --name q"  # copy-paste


def test_password_manager_stores(tmp_path: Path) -> None:
    declared = _load(
        tmp_path,
        """
[credentials.a]
kind = "secret"
store = "pass:Team/db"
[credentials.b]
kind = "secret"
store = "bw:db-item/password"
url = "https://vault.example.com/#/vault"
[credentials.c]
kind = "secret"
store = "vault:secret/team/db#password"
""",
    )
    assert [c.reference for c in declared.credentials] == [
        "mcpcred:pass/Team/db",
        "mcpcred:bw/db-item/password",
        "mcpcred:vault/secret/team/db#password",
    ]


def test_no_credentials_section_is_empty(tmp_path: Path) -> None:
    assert _load(tmp_path, '[audit]\nfail-on = "high"\n').credentials == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # kinds
        ('[credentials.x]\nprompt = "p"\n', "kind is missing"),
        ('[credentials.x]\nkind = "password"\n', "kind is 'password'; it must be \"oauth\""),
        ("[credentials.x]\nkind = 3\n", "kind is '3'"),
        ('[credentials.x]\nkind = "OAUTH"\n', "kind is 'OAUTH'"),
        # unknown keys, per kind
        (
            '[credentials.x]\nkind = "secret"\npromt = "typo"\n',
            'unknown key(s) for kind = "secret": promt',
        ),
        (
            '[credentials.x]\nkind = "oauth"\nprompt = "p"\nissuer = "https://evil.example"\n',
            'unknown key(s) for kind = "oauth": issuer, prompt',
        ),
        ('[credentials.x]\nkind = "secret"\nprovider = "github"\n', "unknown key(s)"),
        # names
        ('[credentials.Bad]\nkind = "secret"\n', "invalid credential name 'Bad'"),
        ('[credentials."a b"]\nkind = "secret"\n', "invalid credential name 'a b'"),
        ('[credentials."-x"]\nkind = "secret"\n', "invalid credential name '-x'"),
        (f'[credentials.{"a" * 65}]\nkind = "secret"\n', "invalid credential name"),
        ('[credentials."a\\u001b[31m"]\nkind = "secret"\n', "invalid credential name 'a\\x1b[31m'"),
        # providers
        ('[credentials.x]\nkind = "oauth"\nprovider = "Git Hub"\n', "invalid provider name"),
        ('[credentials.x]\nkind = "oauth"\nprovider = "git.hub"\n', "invalid provider name"),
        ('[credentials.x]\nkind = "oauth"\nprovider = "a/b"\n', "invalid provider name"),
        ('[credentials.x]\nkind = "oauth"\nprovider = ""\n', "provider must be a non-empty"),
        ('[credentials.x]\nkind = "oauth"\nprovider = 1\n', "provider must be a non-empty"),
        ('[credentials.x]\nkind = "oauth"\naccount = "Work"\n', "invalid account name"),
        ('[credentials.x]\nkind = "oauth"\nflow = "implicit"\n', 'flow must be "device"'),
        ('[credentials.x]\nkind = "oauth"\nscopes = [1]\n', "scopes must be a list"),
        ('[credentials.x]\nkind = "oauth"\nscopes = ["a b"]\n', "scopes must be a list"),
        ('[credentials.x]\nkind = "oauth"\nclient-id = "a b"\n', "client-id must be one word"),
        # a remote server's login
        (
            '[credentials.x]\nkind = "oauth"\nserver = "https://a.example/mcp"\nprovider = "github"\n',
            "provider: for a provider's login",
        ),
        (
            '[credentials.x]\nkind = "oauth"\nserver = "https://a.example/mcp"\naccount = "w"\nflow = "device"\n',
            "account, flow: for a provider's login",
        ),
        (
            '[credentials.github]\nkind = "oauth"\nserver = "https://a.example/mcp"\n',
            "'github' names a built-in provider",
        ),
        ('[credentials.x]\nkind = "oauth"\nserver = "http://evil.example/mcp"\n', "server"),
        ('[credentials.x]\nkind = "oauth"\nserver = "https://u:p@a.example/"\n', "user info"),
        ('[credentials.x]\nkind = "oauth"\nserver = "file:///etc/passwd"\n', "server"),
        ('[credentials.x]\nkind = "secret"\nserver = "https://a.example/mcp"\n', "unknown key"),
        # secret texts
        ('[credentials.x]\nkind = "secret"\nprompt = "a\\nb"\n', "prompt must be a non-empty line"),
        (f'[credentials.x]\nkind = "secret"\nprompt = "{"p" * 201}"\n', "at most 200"),
        # a repository's text must not drive the terminal it is shown on
        (
            '[credentials.x]\nkind = "secret"\nprompt = "\\u001b]8;;http://evil\\u0007"\n',
            "prompt must be",
        ),
        ('[credentials.x]\nkind = "secret"\nprompt = "key \\u202e"\n', "prompt must be"),
        ('[credentials.x]\nkind = "secret"\nurl = "https://a\\u0008b"\n', "url must be"),
        ('[credentials.x]\nkind = "secret"\nurl = "javascript:alert(1)"\n', "url must start"),
        # stores
        (
            '[credentials.x]\nkind = "secret"\nstore = "cmd:[\\"sh\\"]"\n',
            'store = "cmd:..." is not allowed',
        ),
        ('[credentials.x]\nkind = "secret"\nstore = "keepass:db"\n', "store must be a password"),
        (
            '[credentials.x]\nkind = "secret"\nstore = "op://only/two"\n',
            "cannot be used: 1Password",
        ),
        ('[credentials.x]\nkind = "secret"\nstore = "pass:-rf"\n', "starts with '-'"),
        ('[credentials.x]\nkind = "secret"\nstore = "pass:a/../b"\n', "'..' path part"),
        (
            '[credentials.x]\nkind = "secret"\nstore = "pass:a"\nprompt = "p"\n',
            "prompt is for a secret you paste",
        ),
        # shapes
        ('credentials = "github"\n', "credentials must be tables"),
        ("[credentials]\nx = 1\n", "[credentials.x] must be a table"),
        (
            '[credentials.gh]\nkind = "oauth"\nprovider = "github"\n'
            '[credentials.github]\nkind = "oauth"\n',
            "[credentials.github] and [credentials.gh] both declare mcpcred:oauth/github",
        ),
        ("[credentials.x\n", "not valid TOML"),
    ],
)
def test_mistakes_are_one_line_naming_them(tmp_path: Path, text: str, expected: str) -> None:
    message = _refused(tmp_path, text)
    assert expected in message, message
    assert str(tmp_path / "mcpcred.toml") in message  # which file


def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load(str(tmp_path / "missing" / "mcpcred.toml"))


@pytest.mark.parametrize("doc", ["README.md", "docs/setup.md"])
def test_the_documented_examples_parse(tmp_path: Path, doc: str) -> None:
    import re

    text = (Path(__file__).resolve().parents[1] / doc).read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```toml\n(.*?)```", text, re.DOTALL) if "[credentials." in b]
    assert blocks
    for block in blocks:
        declared = _load(tmp_path, block)
        assert declared.credentials
        assert all(c.reference.startswith("mcpcred:") for c in declared.credentials)
