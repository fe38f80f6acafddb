"""``mcpcred setup``: a new team member's first run in a repository, end to end.

Real parts only: the CLI as a process, gnome-keyring on a private D-Bus (``keychain``),
panva's oidc-provider on loopback with ``tests/support/browser_cli.py`` approving the
device code in the "browser" ``webbrowser`` starts, a repository in a temp folder whose
``.mcp.json`` holds references, and the wrapped server started exactly as the client
would start it (the shim puts the values back).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import passstore
from tests.support.oauth_server import DEVICE_CODE_GRANT as DEVICE_GRANT
from tests.support.oauth_server import OidcServer

REPO = Path(__file__).resolve().parents[2]
LINEAR = "lin_api_Zx9QwErTyUiOp0123456789abcdefGHIJ"
SENTRY = "sntrys_eyJpYXQiOjE3MDAwMDAwMDB9_Qm9vVGVzdFNlY3JldA"

SECRETS_TOML = """\
[credentials.linear-key]
kind = "secret"
prompt = "Linear API key (Settings → API)"
url = "https://linear.app/settings/api"

[credentials.sentry]
kind = "secret"
"""

OAUTH_TOML = """\
[credentials.testidp]
kind = "oauth"
flow = "device"
"""

# prints what the server got, so the test sees the keychain's values arrive
PRINT_ENV = "import os, json; print(json.dumps({k: os.environ.get(k) for k in ('LINEAR', 'SENTRY', 'TOKEN')}))"


@pytest.fixture(scope="module")
def pass_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[passstore.PassStore]:
    """A real ``pass`` store whose gpg key has no passphrase (as once its agent is unlocked)."""
    if not passstore.available():
        pytest.fail("pass and gpg are needed: scripts/test installs them (apt: pass, gnupg)")
    with passstore.pass_store(tmp_path_factory.mktemp("pass")) as store:
        yield store


def _env(**extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("BROWSER", "DISPLAY", "WAYLAND_DISPLAY")
    }
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def _setup(
    cwd: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpcred", "setup", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
        env=env or _env(),
        check=False,
    )


def _repo(root: Path, toml: str, env: dict[str, str]) -> Path:
    (root / ".git").mkdir(exist_ok=True)
    (root / "mcpcred.toml").write_text(toml, encoding="utf-8")
    server = {"command": sys.executable, "args": ["-c", PRINT_ENV], "env": env}
    (root / ".mcp.json").write_text(
        json.dumps({"mcpServers": {"team": server}}, indent=2) + "\n", encoding="utf-8"
    )
    return root


def _start_server(root: Path, env: dict[str, str]) -> dict[str, str | None]:
    """Start the (wrapped) server as Claude Code would: the entry's command and args."""
    entry = json.loads((root / ".mcp.json").read_text())["mcpServers"]["team"]
    done = subprocess.run(
        [entry["command"], *entry["args"]],
        env={**env, **entry.get("env", {})},
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@contextmanager
def _argv_watch() -> Iterator[set[str]]:
    """Every command line on the machine, sampled until the block ends (setup's children,
    a keyring helper, anything a regression might start with a value in its argv)."""
    seen: set[str] = set()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
                try:
                    seen.add(cmdline.read_bytes().decode(errors="replace"))
                except OSError:
                    continue
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        stop.set()
        sampler.join(5)


def _files_hold(roots: list[Path], secret: str) -> list[Path]:
    return [
        path
        for root in roots
        for path in root.rglob("*")
        if path.is_file() and secret in path.read_text(errors="replace")
    ]


def test_secrets_from_stdin_wrap_and_status(
    keychain: dict[str, str], project: Path, home: Path
) -> None:
    _repo(
        project,
        SECRETS_TOML,
        {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/sentry"},
    )
    with _argv_watch() as seen:
        result = _setup(project, "--yes", stdin=f"sentry={SENTRY}\n\nlinear-key={LINEAR}\n")
    assert seen and not [argv for argv in seen if LINEAR in argv or SENTRY in argv]
    assert result.returncode == 0, result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") == LINEAR
    assert real_keychain.lookup(keychain, "mcpcred", "sentry") == SENTRY
    assert "linear-key: stored in the keychain" in result.stderr
    assert "wrote .mcp.json" in result.stderr
    # the status table closes the run: the repository's server, wrapped, both resolving
    assert "mcpcred:secret/linear-key (ok)" in result.stdout
    assert "mcpcred:secret/sentry (ok)" in result.stdout
    entry = json.loads((project / ".mcp.json").read_text())["mcpServers"]["team"]
    assert "shim" in entry["args"] and entry["env"]["LINEAR"] == "mcpcred:secret/linear-key"
    got = _start_server(project, _env())
    assert got["LINEAR"] == LINEAR and got["SENTRY"] == SENTRY
    for secret in (LINEAR, SENTRY):
        assert secret not in result.stdout + result.stderr
        assert not _files_hold([home, project], secret)


def test_a_second_run_changes_nothing(keychain: dict[str, str], project: Path, home: Path) -> None:
    _repo(
        project,
        SECRETS_TOML,
        {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/sentry"},
    )
    first = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n")
    assert first.returncode == 0, first.stderr
    config = (project / ".mcp.json").read_bytes()
    files = sorted(p for p in home.rglob("*") if p.is_file())
    again = _setup(project, "--yes", stdin="linear-key=something-else\n")  # never overwrites
    assert again.returncode == 0, again.stderr
    assert "linear-key (mcpcred:secret/linear-key): already set up, skipped" in again.stderr
    assert "sentry (mcpcred:secret/sentry): already set up, skipped" in again.stderr
    assert "claude-code .mcp.json: already wrapped" in again.stderr
    assert (project / ".mcp.json").read_bytes() == config
    assert sorted(p for p in home.rglob("*") if p.is_file()) == files  # no new backup
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") == LINEAR


def test_without_a_person_it_fails_at_once_naming_what_is_missing(
    keychain: dict[str, str], project: Path, tmp_path: Path
) -> None:
    _repo(project, SECRETS_TOML + OAUTH_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    config = tmp_path / "config.toml"
    config.write_text('[providers.testidp]\nissuer = "http://127.0.0.1:9/"\nclient-id = "x"\n')
    started = time.monotonic()
    result = _setup(project, stdin="", env=_env(MCPCRED_CONFIG=str(config)))  # no --yes, no tty
    assert time.monotonic() - started < 30
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: not set up: linear-key (mcpcred secret set linear-key); sentry (mcpcred secret "
        "set sentry); testidp (mcpcred login testidp); claude-code .mcp.json not wrapped "
        "(mcpcred wrap claude-code --config .mcp.json)"
    ]
    assert "no browser to log in with" in result.stderr
    assert "not wrapping without confirmation" in result.stderr
    assert "shim" not in (project / ".mcp.json").read_text()  # nothing written unasked
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") is None


def _provider_config(path: Path, server: OidcServer) -> Path:
    """The user's own config file describing the test server as provider ``testidp``."""
    path.write_text(
        "[providers.testidp]\n"
        f'issuer = "{server.issuer}"\n'
        f'client-id = "{server.client_id}"\n'
        f'resource = "{server.resource}"\n'
    )
    return path


@pytest.mark.slow
@pytest.mark.parametrize("flow", ["device", "pkce"])
def test_oauth_login_and_secret_then_the_wrapped_server_gets_both(
    keychain: dict[str, str],
    oidc_server: OidcServer,
    project: Path,
    home: Path,
    tmp_path: Path,
    flow: str,
) -> None:
    config = _provider_config(tmp_path / "config.toml", oidc_server)
    toml = SECRETS_TOML.split("\n\n")[0] + "\n\n" + OAUTH_TOML.replace("device", flow)
    _repo(project, toml, {"LINEAR": "mcpcred:secret/linear-key", "TOKEN": "mcpcred:oauth/testidp"})
    env = _env(
        MCPCRED_CONFIG=str(config), BROWSER=f"{sys.executable} -m tests.support.browser_cli %s"
    )
    result = _setup(project, "--yes", "--json", stdin=f"linear-key={LINEAR}\n", env=env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert next(iter(document)) == "version" and document["version"] == 1  # docs/cli.md
    assert document["ok"] is True
    assert [(c["name"], c["action"], c["state"]) for c in document["credentials"]] == [
        ("linear-key", "set", "ok"),
        ("testidp", "set", "ok"),
    ]
    assert document["files"] == [
        {"client": "claude-code", "path": ".mcp.json", "result": "wrapped"}
    ]
    assert document["status"]["unresolved"] == []
    assert "testidp: logged in to" in result.stderr and "alice" in result.stderr
    grant = "authorization_code" if flow == "pkce" else DEVICE_GRANT
    assert oidc_server.stats()[grant] >= 1
    record = json.loads(real_keychain.lookup(keychain, "mcpcred", "oauth:testidp/default") or "{}")
    got = _start_server(project, env)
    assert got["LINEAR"] == LINEAR
    assert got["TOKEN"] and got["TOKEN"].count(".") == 2  # a JWT access token, minted at start
    for secret in (LINEAR, str(record["refresh_token"]), str(got["TOKEN"])):
        assert secret not in result.stdout + result.stderr
        assert not _files_hold([home, project], secret)
    stats = oidc_server.stats()
    again = _setup(project, "--yes", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert [c["action"] for c in json.loads(again.stdout)["credentials"]] == ["skipped", "skipped"]
    assert oidc_server.stats()[grant] == stats[grant]  # no second login


def test_on_a_terminal_it_asks_without_echo_and_confirms_the_wrap(
    keychain: dict[str, str], project: Path, home: Path
) -> None:
    from tests.support.headless import converse

    _repo(
        project,
        SECRETS_TOML,
        {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/sentry"},
    )
    code, output = converse(
        ["setup"],
        [
            ("linear-key (not shown; empty to skip): ", LINEAR),
            ("sentry (not shown; empty to skip): ", ""),  # skipped: reported, not stored
            ("Wrap 1 config file(s) of this repository?", "y"),
        ],
        _env(),
    )
    assert code == 1, output
    assert LINEAR not in output  # typed, never echoed
    assert "Linear API key (Settings → API)" in output
    assert "get it at https://linear.app/settings/api" in output
    assert "error: not set up: sentry (mcpcred secret set sentry)" in output
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") == LINEAR
    assert real_keychain.lookup(keychain, "mcpcred", "sentry") is None
    assert "shim" in (project / ".mcp.json").read_text()
    assert "mcpcred:secret/sentry (missing)" in output  # the status table says what is left


def test_a_password_manager_credential_is_checked_never_copied(
    keychain: dict[str, str], project: Path, pass_store: passstore.PassStore, home: Path
) -> None:
    toml = '[credentials.db]\nkind = "secret"\nstore = "pass:team/db"\n'
    _repo(project, toml, {"LINEAR": "mcpcred:pass/team/db"})
    env = _env(**pass_store.env)
    missing = _setup(project, "--yes", env=env)
    assert missing.returncode == 1, missing.stderr
    assert (
        "error: not set up: db (sign in to the password manager so that it answers "
        "mcpcred:pass/team/db)" in missing.stderr
    )
    pass_store.insert("team/db", "db-password-0123456789\n")
    done = _setup(project, "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "db (mcpcred:pass/team/db): already set up, skipped" in done.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "db") is None  # stays in pass
    assert _start_server(project, env)["LINEAR"] == "db-password-0123456789"
    assert "db-password-0123456789" not in done.stdout + done.stderr
    assert not _files_hold([home, project], "db-password-0123456789")


def test_a_reference_nobody_declared_is_named_too(keychain: dict[str, str], project: Path) -> None:
    _repo(
        project,
        SECRETS_TOML,
        {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/other"},
    )
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n")
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: not set up: mcpcred:secret/other (missing; used by claude-code/team, "
        "copilot-cli/team; not declared in mcpcred.toml)"
    )


def test_from_a_subfolder_and_only_the_clients_asked_for(
    keychain: dict[str, str], project: Path
) -> None:
    _repo(project, SECRETS_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    cursor = project / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text((project / ".mcp.json").read_text())
    sub = project / "src" / "deep"
    sub.mkdir(parents=True)
    result = _setup(
        sub,
        "--yes",
        "--client",
        "cursor",
        "--json",
        stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"] == [
        {"client": "cursor", "path": ".cursor/mcp.json", "result": "wrapped"}
    ]
    assert "shim" in cursor.read_text()
    assert "shim" not in (project / ".mcp.json").read_text()


def test_bad_input_is_one_line_and_its_exit_code(keychain: dict[str, str], project: Path) -> None:
    (project / ".git").mkdir()
    none = _setup(project)
    assert none.returncode == 3
    assert none.stderr.splitlines()[0] == (
        "error: no mcpcred.toml in this folder or above it (up to the repository root)"
    )
    (project / "mcpcred.toml").write_text('[credentials.x]\nkind = "secret"\npromt = "typo"\n')
    typo = _setup(project)
    assert typo.returncode == 3
    assert typo.stderr.splitlines()[0].endswith('unknown key(s) for kind = "secret": promt')
    (project / "mcpcred.toml").write_text(SECRETS_TOML)
    client = _setup(project, "--client", "nope", stdin=f"linear-key={LINEAR}\n")
    assert client.returncode == 2
    assert client.stderr.splitlines()[0] == "error: unknown client 'nope'"
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") is None  # refused first


def test_a_login_that_cannot_start_says_why_and_the_rest_goes_on(
    keychain: dict[str, str], project: Path, tmp_path: Path
) -> None:
    toml = (
        '[credentials.github]\nkind = "oauth"\n'  # built in, but nobody registered a client id
        '[credentials.acme]\nkind = "oauth"\n'  # neither built in nor in the user's config
        + SECRETS_TOML
    )
    _repo(project, toml, {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/sentry"})
    env = _env(BROWSER="true %s", MCPCRED_CONFIG=str(tmp_path / "none.toml"))
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n", env=env)
    assert result.returncode == 1, result.stderr
    assert "github (mcpcred:oauth/github): GitHub needs a client id registered for mcpcred" in (
        result.stderr
    )
    assert "  hint: create a GitHub App" in result.stderr
    assert "acme (mcpcred:oauth/acme): unknown provider 'acme'" in result.stderr
    assert "[providers.acme]" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "error: not set up: github (mcpcred login github); acme (mcpcred login acme)"
    )
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") == LINEAR  # went on
    assert "shim" in (project / ".mcp.json").read_text()


def test_no_store_is_exit_5_before_anything_is_asked(project: Path, home: Path) -> None:
    from tests.support.headless import headless

    _repo(project, SECRETS_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    before = (project / ".mcp.json").read_text()
    env = headless(home, PYTHONPATH=str(REPO))
    env.pop("MCPCRED_PASSPHRASE", None)
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\n", env=env)
    assert result.returncode == 5, result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("error:")]) == 1
    assert LINEAR not in result.stdout + result.stderr
    assert (project / ".mcp.json").read_text() == before


@pytest.mark.parametrize(
    "stdin",
    [
        f"{LINEAR}\n",  # a raw value, as `secret set --from-stdin` takes it
        f"{LINEAR[:8]}={LINEAR[8:]}\n",  # a raw value with '=' in it: no declared name
        f"linear-key-typo={LINEAR}\n",
    ],
)
def test_stdin_lines_must_name_a_declared_secret_and_are_never_shown(
    keychain: dict[str, str], project: Path, stdin: str
) -> None:
    _repo(project, SECRETS_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    result = _setup(project, "--yes", stdin=stdin)
    assert result.returncode == 1, result.stderr
    assert "line 1 of stdin is not NAME=VALUE with a NAME of mcpcred.toml (linear-key, sentry)" in (
        result.stderr
    )
    assert LINEAR[:8] not in result.stdout + result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") is None


def test_a_config_that_does_not_parse_is_left_alone_and_named(
    keychain: dict[str, str], project: Path
) -> None:
    _repo(project, SECRETS_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    broken = '{"mcpServers": {"team": {"command": "x",}'
    (project / ".mcp.json").write_text(broken)
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n")
    assert result.returncode == 1, result.stderr
    assert (project / ".mcp.json").read_text() == broken
    assert result.stderr.splitlines()[-1] == (
        "error: not set up: claude-code .mcp.json not wrapped "
        "(mcpcred wrap claude-code --config .mcp.json)"
    )
    assert "claude-code .mcp.json: " in result.stderr  # the parse error, before it
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") == LINEAR


def test_doctor_points_at_setup_for_what_the_repository_declares(
    keychain: dict[str, str], project: Path
) -> None:
    _repo(
        project,
        SECRETS_TOML,
        {"LINEAR": "mcpcred:secret/linear-key", "SENTRY": "mcpcred:secret/undeclared"},
    )
    assert _setup(project, "--yes", stdin=f"sentry={SENTRY}\n").returncode == 1
    result = subprocess.run(
        [sys.executable, "-m", "mcpcred", "doctor", "claude-code", "--json"],
        capture_output=True, text=True, timeout=60, cwd=project, env=_env(), check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    fixes = {c["detail"]: c["fix"] for c in json.loads(result.stdout)["checks"] if not c["ok"]}
    assert fixes["mcpcred:secret/linear-key: missing"] == (
        "`mcpcred setup` (this repository's mcpcred.toml declares it), or "
        "`mcpcred secret set linear-key`"
    )
    assert fixes["mcpcred:secret/undeclared: missing"] == "`mcpcred secret set undeclared`"


@pytest.mark.slow
def test_a_denied_login_is_left_missing_and_the_rest_is_done(
    keychain: dict[str, str], oidc_server: OidcServer, project: Path, tmp_path: Path
) -> None:
    config = _provider_config(tmp_path / "config.toml", oidc_server)
    _repo(project, OAUTH_TOML + "\n" + SECRETS_TOML, {"TOKEN": "mcpcred:oauth/testidp"})
    env = _env(
        MCPCRED_CONFIG=str(config),
        BROWSER=f"{sys.executable} -m tests.support.browser_cli %s",
        FAKEBROWSER_DENY="1",
    )
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\nsentry={SENTRY}\n", env=env)
    assert result.returncode == 1, result.stderr
    assert "testidp (mcpcred:oauth/testidp): " in result.stderr and "denied" in result.stderr
    assert result.stderr.splitlines()[-1] == "error: not set up: testidp (mcpcred login testidp)"
    assert real_keychain.lookup(keychain, "mcpcred", "oauth:testidp/default") is None
    assert real_keychain.lookup(keychain, "mcpcred", "sentry") == SENTRY
    assert "mcpcred:oauth/testidp (not logged in)" in result.stdout


@pytest.mark.slow
def test_a_remote_servers_login_by_mcp_authorization(
    keychain: dict[str, str], oidc_server: OidcServer, project: Path, home: Path
) -> None:
    from tests.support.oauth_resource_server import ResourceServer, status_of_call

    resource = ResourceServer(oidc_server.issuer)
    try:
        toml = f'[credentials.demo]\nkind = "oauth"\nserver = "{resource.url}"\n'
        _repo(project, toml, {"TOKEN": "mcpcred:oauth/demo"})
        env = _env(BROWSER=f"{sys.executable} -m tests.support.browser_cli %s")
        result = _setup(project, "--yes", env=env)
        assert result.returncode == 0, result.stderr
        assert f"demo: logged in to {resource.url}" in result.stderr
        stats = oidc_server.stats()
        assert stats["registration"] == 1 and stats["authorization_code"] == 1  # DCR + PKCE
        token = _start_server(project, env)["TOKEN"]
        assert status_of_call(resource.url, "not-a-token") == 401  # the check can fail
        assert token and status_of_call(resource.url, token) not in (401, 403)  # it takes it
        assert token not in result.stdout + result.stderr
        assert not _files_hold([home, project], token)
        again = _setup(project, "--yes", env=env)
        assert again.returncode == 0, again.stderr
        assert "demo (mcpcred:oauth/demo): already set up, skipped" in again.stderr
        assert oidc_server.stats()["authorization_code"] == 1
        # Regression: a repository naming another host under the same name was told the
        # login was "already set up" (and its server's config would get that token).
        (project / "mcpcred.toml").write_text(
            '[credentials.demo]\nkind = "oauth"\nserver = "https://mcp.evil.example/mcp"\n'
        )
        other = _setup(project, "--yes", env=env)
        assert other.returncode == 1, other.stderr
        assert (
            f"demo (mcpcred:oauth/demo): the login name is taken by {resource.url}, not this server"
        ) in other.stderr
        assert "already set up" not in other.stderr
        assert "rename [credentials.demo] in mcpcred.toml" in other.stderr
        assert oidc_server.stats()["authorization_code"] == 1  # no login was started
    finally:
        resource.stop()


def test_a_locked_store_is_reported_and_its_secret_never_asked_for_again(
    project: Path, home: Path
) -> None:
    from tests.support.headless import headless

    (project / ".git").mkdir()
    (project / "mcpcred.toml").write_text('[credentials.k]\nkind = "secret"\n')
    unlocked = headless(home, PYTHONPATH=str(REPO), MCPCRED_PASSPHRASE="correct horse battery")
    first = _setup(project, "--yes", stdin="k=first-value\n", env=unlocked)
    assert first.returncode == 0, first.stderr
    assert "k: stored in the file store" in first.stderr
    store = next(home.rglob("store.enc"))
    before = store.read_bytes()
    locked = headless(home, PYTHONPATH=str(REPO))  # no passphrase, no agent: locked
    again = _setup(project, "--yes", stdin="k=second-value\n", env=locked)
    assert again.returncode == 1, again.stderr
    assert "k (mcpcred:secret/k): cannot be checked: locked" in again.stderr
    assert again.stderr.splitlines()[-1] == (
        "error: not set up: k (unlock the keychain, or `mcpcred store unlock` for the file store)"
    )
    assert store.read_bytes() == before  # nothing overwritten
    assert "second-value" not in again.stdout + again.stderr


def test_a_line_longer_than_64_kib_is_refused_and_nothing_stored(
    keychain: dict[str, str], project: Path
) -> None:
    _repo(project, SECRETS_TOML, {"LINEAR": "mcpcred:secret/linear-key"})
    result = _setup(project, "--yes", stdin="linear-key=" + "x" * (64 * 1024) + "\n")
    assert result.returncode == 1, result.stderr
    assert "line 1 of stdin is longer than 64 KiB" in result.stderr
    assert "x" * 64 not in result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "linear-key") is None


@pytest.mark.slow
@pytest.mark.parametrize("flow", ["device", "pkce"])
def test_a_browser_that_fails_to_open_ends_the_login_at_once(
    keychain: dict[str, str], oidc_server: OidcServer, project: Path, tmp_path: Path, flow: str
) -> None:
    config = _provider_config(tmp_path / "config.toml", oidc_server)
    _repo(project, OAUTH_TOML.replace("device", flow), {"TOKEN": "mcpcred:oauth/testidp"})
    env = _env(MCPCRED_CONFIG=str(config), BROWSER="false %s")  # found, but exits 1
    started = time.monotonic()
    result = _setup(project, "--yes", env=env)
    assert time.monotonic() - started < 30  # not the 300 s login timeout
    assert result.returncode == 1, result.stderr
    assert "testidp (mcpcred:oauth/testidp): no browser could be opened to log in" in (
        result.stderr
    )
    assert "  hint: run on a terminal: mcpcred login testidp" in result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "oauth:testidp/default") is None


def test_a_hostile_repository_cannot_make_setup_run_a_program_or_print_escapes(
    keychain: dict[str, str], project: Path, home: Path
) -> None:
    """Checked safe (kept as a guard): a repository's .mcp.json whose servers reference
    cmd: programs, start programs themselves, or name things with terminal escapes, and a
    mcpcred.toml with escapes in its texts: setup runs none of them (status is not asked
    to check references; cmd: cannot be declared) and prints no escape."""
    ran = project / "ran"
    command_ref = f'mcpcred:cmd/["touch", "{ran}-cmd"]'
    (project / ".git").mkdir(exist_ok=True)
    (project / "mcpcred.toml").write_text(
        '[credentials.linear-key]\nkind = "secret"\nprompt = "paste \\u001b]0;owned\\u0007 here"\n',
        encoding="utf-8",
    )
    servers = {
        "evil\u001b[2Jname": {
            "command": "touch", "args": [f"{ran}-server"],
            "env": {"TOKEN": command_ref, "LINEAR": "mcpcred:secret/linear-key"},
        },
    }  # fmt: skip
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": servers}), encoding="utf-8")
    refused = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\n")
    assert refused.returncode == 3 and "prompt must be a non-empty line" in refused.stderr
    assert "\u001b" not in refused.stdout + refused.stderr
    (project / "mcpcred.toml").write_text('[credentials.linear-key]\nkind = "secret"\n')
    result = _setup(project, "--yes", stdin=f"linear-key={LINEAR}\n")
    assert "linear-key: stored in the keychain" in result.stderr  # it ran to the end
    assert "evil" in result.stdout + result.stderr  # the server is named, escaped
    assert "\u001b" not in result.stdout + result.stderr
    assert "\u0007" not in result.stdout + result.stderr
    assert not list(project.glob("ran*")), "setup ran a program the repository chose"
    assert LINEAR not in result.stdout + result.stderr


@pytest.mark.slow
def test_a_login_without_the_scopes_the_repository_asks_for_is_logged_in_again(
    keychain: dict[str, str], oidc_server: OidcServer, project: Path, home: Path, tmp_path: Path
) -> None:
    """A login that resolves but never asked for a scope the repository declares would fail
    at the server's first call: setup says so and logs in again, keeping the old scopes."""
    config = _provider_config(tmp_path / "config.toml", oidc_server)
    toml = OAUTH_TOML.replace("device", "pkce") + 'scopes = ["openid", "offline_access"]\n'
    _repo(project, toml, {"TOKEN": "mcpcred:oauth/testidp"})
    env = _env(
        MCPCRED_CONFIG=str(config), BROWSER=f"{sys.executable} -m tests.support.browser_cli %s"
    )
    first = _setup(project, "--yes", "--json", env=env)
    assert first.returncode == 0, first.stderr

    def asked() -> list[str]:
        found = real_keychain.lookup(keychain, "mcpcred", "oauth:testidp/default") or "{}"
        return list(json.loads(found)["asked_scopes"])

    assert "email" not in asked()
    (project / "mcpcred.toml").write_text(
        toml.replace('"offline_access"]', '"offline_access", "email"]'), encoding="utf-8"
    )
    logins = oidc_server.stats()["authorization_code"]
    # nobody to log in with: reported, not "already set up", and the fix asks for both sets
    alone = _setup(project, "--yes", "--json", env=_env(MCPCRED_CONFIG=str(config)))
    assert alone.returncode == 1, alone.stderr
    assert "without the scope(s) this repository asks for: email" in alone.stderr
    row = json.loads(alone.stdout)["credentials"][0]
    assert row["state"] != "ok" and row["action"] == "missing"
    assert row["fix"].endswith("--scope openid --scope offline_access --scope email")
    # with a browser: logged in again, for the union
    again = _setup(project, "--yes", "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["credentials"][0]["action"] == "set"
    assert oidc_server.stats()["authorization_code"] == logins + 1
    assert {"openid", "offline_access", "email"} <= set(asked())
    # and now it is set up
    last = _setup(project, "--yes", "--json", env=env)
    assert json.loads(last.stdout)["credentials"][0]["action"] == "skipped"
