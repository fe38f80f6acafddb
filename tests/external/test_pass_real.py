"""``mcpcred:pass/PATH`` with the real ``pass`` and a real gpg key (issue 14 §2).

Nothing is faked: the store is made with ``pass init``/``pass insert``, the shim
is the installed ``mcpcred`` executable, and the "server" reports what it got.
No test here has a keychain: a server whose references are all password
managers must start where there is none (SSH, a container, CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.support.cli import run
from tests.support.passstore import PassStore

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
REPORT = (
    "import json, os, sys; "
    "print(json.dumps({'argv': sys.argv[1:], 'env': dict(os.environ), 'stdin': sys.stdin.read()}))"
)
INITIALIZE = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}) + "\n"


def _no_keychain(env: dict[str, str]) -> dict[str, str]:
    """No D-Bus session: the Secret Service cannot be reached."""
    env = dict(env)
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env["XDG_RUNTIME_DIR"] = env.get("HOME", "/nonexistent")
    return env


def _shim(env: dict[str, str], *server: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCRED, "shim", "--server", "gh", "--", *(server or (sys.executable, "-c", REPORT))],
        env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_the_server_gets_the_first_line_of_a_pass_entry(unlocked_pass: PassStore) -> None:
    unlocked_pass.insert("Email/github.com", "pässword-1 with spaces\nuser: octocat\n")
    unlocked_pass.insert("work/second", "second-value\n")
    env = _no_keychain(unlocked_pass.environ())
    env["GITHUB_TOKEN"] = "mcpcred:pass/Email/github.com"
    env["URL"] = "https://u:{{mcpcred:pass/work/second}}@h/x"
    result = _shim(env, stdin="hello")
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["env"]["GITHUB_TOKEN"] == "pässword-1 with spaces"
    assert seen["env"]["URL"] == "https://u:second-value@h/x"
    assert seen["stdin"] == "hello"  # pass did not read the client's stream
    assert result.stderr == ""


def test_a_missing_entry_stops_the_server_with_one_line(unlocked_pass: PassStore) -> None:
    env = _no_keychain(unlocked_pass.environ())
    env["TOKEN"] = "mcpcred:pass/nowhere/entry"
    result = _shim(env, sys.executable, "-c", "print('STARTED')", stdin=INITIALIZE)
    assert result.returncode == 5
    assert "STARTED" not in result.stdout
    assert "pass 'nowhere/entry' is not in the password store" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    answer = json.loads(result.stdout)  # the client shows the reason, not "disconnected"
    assert "not in the password store" in answer["error"]["message"]


def test_a_locked_gpg_key_is_a_clear_error_in_bounded_time(locked_pass: PassStore) -> None:
    """The key needs a passphrase, no agent has it and no pinentry can ask (no display,
    no terminal in the shim's new session): gpg fails, the shim says the store is locked."""
    env = _no_keychain(locked_pass.environ())
    env["TOKEN"] = "mcpcred:pass/work/api"
    start = time.monotonic()
    result = _shim(env, sys.executable, "-c", "print('STARTED')", stdin=INITIALIZE)
    elapsed = time.monotonic() - start
    assert result.returncode == 5, result.stderr
    assert "STARTED" not in result.stdout
    assert "gpg could not decrypt it" in result.stderr
    assert "hint: unlock it once in a terminal" in result.stderr
    assert "locked-value" not in result.stdout + result.stderr
    assert elapsed < 15


def test_the_value_is_never_in_an_argv_or_a_file(unlocked_pass: PassStore, tmp_path: Path) -> None:
    """pass gets the path as its argument, never the value; nothing else is written."""
    unlocked_pass.insert("svc/key", "argv-canary-9137\n")
    before = set(tmp_path.rglob("*"))
    env = _no_keychain(unlocked_pass.environ())
    env["TOKEN"] = "mcpcred:pass/svc/key"
    env["TMPDIR"] = str(tmp_path)
    script = "import os; print(os.environ['TOKEN'] == 'argv-canary-9137')"
    result = _shim(env, sys.executable, "-c", script)
    assert result.stdout.strip() == "True", result.stderr
    assert set(tmp_path.rglob("*")) == before


def test_wrap_bind_pass_then_the_client_command_starts_the_server(
    unlocked_pass: PassStore, home: Path
) -> None:
    """A real wrap without a keychain writes the locator; running the entry as the client
    would (its command, args and env) gives the server the value from pass."""
    unlocked_pass.insert("Email/github.com", "from-pass-42\n")
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    server = {"command": sys.executable, "args": ["-c", REPORT]}
    config.write_text(json.dumps({"mcpServers": {"gh": server}}))
    env = _no_keychain(unlocked_pass.environ())
    result = run(
        "wrap", "claude-desktop", "-s", "gh", "--bind", "GITHUB_TOKEN=pass:Email/github.com", "-y",
        env=env,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    entry = json.loads(config.read_text())["mcpServers"]["gh"]
    assert entry["env"] == {"GITHUB_TOKEN": "mcpcred:pass/Email/github.com"}
    assert "from-pass-42" not in config.read_text()
    started = subprocess.run(
        [entry["command"], *entry["args"]],
        env={**env, **entry["env"]}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["env"]["GITHUB_TOKEN"] == "from-pass-42"
    status = run("status", "--check", "--json", env=env)
    assert status.code == 0, status.stderr
    creds = json.loads(status.stdout)["servers"][0]["credentials"]
    assert creds == [{"reference": "mcpcred:pass/Email/github.com", "state": "ok"}]
    assert "from-pass-42" not in status.stdout + status.stderr


def test_status_check_says_missing_and_locked(
    unlocked_pass: PassStore, locked_pass: PassStore, home: Path
) -> None:
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    shim = [MCPCRED, "shim", "--server", "a", "--", "x"]
    servers = {
        "a": {"command": shim[0], "args": shim[1:], "env": {"T": "mcpcred:pass/no/such"}},
        "b": {"command": shim[0], "args": shim[1:], "env": {"T": "mcpcred:op/V/I/f"}},
    }
    config.write_text(json.dumps({"mcpServers": servers}))
    env = _no_keychain(unlocked_pass.environ())
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin"
    unchecked = run("status", "--json", env=env)
    states = [s["credentials"][0]["state"] for s in json.loads(unchecked.stdout)["servers"]]
    assert states == ["not checked", "not checked"]  # status alone asks no manager
    assert unchecked.code == 0, unchecked.stderr  # not asked is not "does not resolve"
    checked = run("status", "--check", "--json", env=env)
    states = [s["credentials"][0]["state"] for s in json.loads(checked.stdout)["servers"]]
    assert states == ["missing", "unavailable"]  # op is not installed here
    assert checked.code == 1, checked.stderr  # neither server could start (docs/cli.md)
    env.update(locked_pass.env)
    config.write_text(
        json.dumps({"mcpServers": {"a": {**servers["a"], "env": {"T": "mcpcred:pass/work/api"}}}})
    )
    checked = run("status", "--check", "--json", env=env)
    assert json.loads(checked.stdout)["servers"][0]["credentials"][0]["state"] == "locked"


def test_five_pass_references_resolve_together(unlocked_pass: PassStore) -> None:
    """Fetched at once (one gpg per reference, one agent): every value reaches its variable."""
    env = _no_keychain(unlocked_pass.environ())
    for index in range(5):
        unlocked_pass.insert(f"many/k{index}", f"value-{index}\n")
        env[f"K{index}"] = f"mcpcred:pass/many/k{index}"
    result = _shim(env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)["env"]
    assert [seen[f"K{index}"] for index in range(5)] == [f"value-{index}" for index in range(5)]


def test_a_store_that_is_not_set_up_says_so(unlocked_pass: PassStore, tmp_path: Path) -> None:
    """The client did not pass PASSWORD_STORE_DIR: pass looks in ~/.password-store, empty."""
    env = _no_keychain(unlocked_pass.environ())
    env.pop("PASSWORD_STORE_DIR")
    env["HOME"] = str(tmp_path)
    env["TOKEN"] = "mcpcred:pass/Email/github.com"
    result = _shim(env, sys.executable, "-c", "print('STARTED')")
    assert result.returncode == 5
    assert f"there is no password store at {tmp_path}/.password-store" in result.stderr
    assert "STARTED" not in result.stdout
