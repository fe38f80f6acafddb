"""The hint after a keychain error fits the machine: desktop, SSH, container, CI, no session.

The unit tests choose the machine through the environment (and a stand-in for the
container marker files). The real ones simulate each failure with the real parts: no
bus at all, a bus without the Secret Service (dbus-daemon alone, nothing activatable),
a locked collection (locked through the real gnome-keyring), no ``$XDG_RUNTIME_DIR``;
and where a hint gives a command, they run that command and see the failure go away.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpcred.keychain import hints
from tests.support import keychain as real_keychain

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
UID = os.getuid()


def _nothing(path: str) -> bool:
    return False


def _session(path: str) -> bool:
    return path == f"/run/user/{UID}"


def _docker(path: str) -> bool:
    return path == "/.dockerenv"


@pytest.mark.parametrize(
    ("env", "exists", "expected"),
    [
        ({"CI": "true", "DISPLAY": ":0"}, _session, hints.CI),
        ({"GITHUB_ACTIONS": "true"}, _docker, hints.CI),
        ({"CI": "false", "SSH_CONNECTION": "a 1 b 22"}, _session, hints.SSH),
        ({"XDG_RUNTIME_DIR": "/run/user/1"}, _docker, hints.CONTAINER),
        ({"container": "podman"}, _nothing, hints.CONTAINER),
        ({"WSL_DISTRO_NAME": "Ubuntu", "DISPLAY": ":0"}, _session, hints.CONTAINER),
        ({"SSH_CONNECTION": "a 1 b 22"}, _nothing, hints.NO_SESSION),
        ({"XDG_RUNTIME_DIR": "/run/user/1", "SSH_TTY": "/dev/pts/1"}, _nothing, hints.SSH),
        ({"WAYLAND_DISPLAY": "wayland-0"}, _session, hints.DESKTOP),
        ({}, _session, hints.CONSOLE),  # what an MCP client leaves a server
    ],
)
def test_the_machine_is_told_apart_from_the_environment(
    env: dict[str, str], exists: object, expected: str
) -> None:
    assert hints.place(env, exists) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("env", "exists", "wanted", "unwanted"),
    [
        ({"CI": "1"}, _session, ["MCPCRED_PASSPHRASE", "MCPCRED_PASSPHRASE_FILE"], ["dbus-launch"]),
        ({"SSH_CONNECTION": "x"}, _session, ["`mcpcred store init --file`"], ["dbus-launch"]),
        ({}, _docker, ["`mcpcred store init --file`", "MCPCRED_PASSPHRASE"], ["dbus-launch"]),
        ({}, _nothing, ["XDG_RUNTIME_DIR is unset", "mcpcred store init --file"], ["dbus-launch"]),
        (
            {"DISPLAY": ":0"},
            _session,
            [f"`{hints.START_BUS}; {hints.START_KEYRING}`", "mcpcred store init --file"],
            ["CI"],
        ),
    ],
)
def test_no_store_hints(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    exists: object,
    wanted: list[str],
    unwanted: list[str],
) -> None:
    real = hints.place
    monkeypatch.setattr(hints, "place", lambda e=None: real(env, exists))  # type: ignore[arg-type]
    for text in (hints.no_store(env), hints.no_store(env, shim=True)):
        assert "\n" not in text
        if env.get("CI") is None:  # every way into the file store, but CI's
            wanted = [*wanted, "`mcpcred store init --file`", "MCPCRED_PASSPHRASE_FILE"]
        for word in wanted:
            assert word in text, text
        for word in unwanted:
            assert word not in text, text


def test_the_shim_on_a_scrubbed_desktop_env_says_to_wrap_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = hints.place
    monkeypatch.setattr(hints, "place", lambda e=None: real({}, _session))
    assert "run `mcpcred wrap` again from your desktop session" in hints.no_store({}, shim=True)
    assert hints.START_KEYRING in hints.no_store({})


@pytest.mark.parametrize(
    ("env", "exists", "wanted"),
    [
        ({"DISPLAY": ":0"}, _session, "Seahorse"),
        ({"SSH_CONNECTION": "x"}, _session, hints.UNLOCK),
        ({}, _docker, hints.UNLOCK),
        ({"CI": "true"}, _session, hints.UNLOCK),
    ],
)
def test_locked_hints(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], exists: object, wanted: str
) -> None:
    real = hints.place
    monkeypatch.setattr(hints, "place", lambda e=None: real(env, exists))  # type: ignore[arg-type]
    assert wanted in hints.locked(env)
    assert hints.locked(env, shim=True).endswith("the shim never prompts")


def test_no_secret_service_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    real = hints.place
    monkeypatch.setattr(hints, "place", lambda e=None: real({"SSH_TTY": "x"}, _session))
    assert f"`{hints.START_KEYRING}`" in hints.no_secret_service({})
    assert "mcpcred store init --file" in hints.no_secret_service({})
    monkeypatch.setattr(hints, "place", lambda e=None: real({"CI": "true"}, _session))
    assert "MCPCRED_PASSPHRASE" in hints.no_secret_service({})


# -- the real failures ------------------------------------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    """This machine's environment without a bus, a CI marker or a desktop."""
    drop = ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR", "DISPLAY", "WAYLAND_DISPLAY",
            "XDG_CURRENT_DESKTOP", *hints._CI_VARS)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("GNOME_")}
    env.update(extra)
    return env


def _shim(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MCPCRED, "shim", *args, "--", "true"], env=env, capture_output=True, text=True,
        timeout=60, stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip


# A real process of the CLI on a machine that is not a container: the marker files are
# what this test machine has, so the probe is replaced before anything runs.
_NOT_A_CONTAINER = (
    "import sys; from mcpcred.keychain import hints; hints._CONTAINER_FILES = ()\n"
    "from mcpcred._entry import main; sys.exit(main(sys.argv[1:]))\n"
)


def _cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _NOT_A_CONTAINER, *args], env=env, input=stdin,
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def _error_and_hint(stderr: str) -> tuple[str, str]:
    lines = [line for line in stderr.splitlines() if not line.startswith("warning:")]
    assert len(lines) == 2, stderr
    assert lines[0].startswith("error: ") and lines[1].startswith("hint: "), stderr
    return lines[0], lines[1]


def test_no_bus_over_ssh_the_shim_points_to_the_file_store(tmp_path: Path) -> None:
    empty = tmp_path / "run"
    empty.mkdir()
    env = _clean_env(SSH_CONNECTION="10.0.0.1 5000 10.0.0.2 22", XDG_RUNTIME_DIR=str(empty),
                     T="mcpcred:secret/x")  # fmt: skip
    result = _shim(env)
    assert result.returncode == 5
    assert "no D-Bus session bus" in result.stderr  # the first line's meaning, unchanged
    assert "(hint: " in result.stderr and "`mcpcred store init --file`" in result.stderr
    assert "desktop session" not in result.stderr


def test_no_bus_in_ci_the_shim_names_the_passphrase(tmp_path: Path) -> None:
    env = _clean_env(CI="true", T="mcpcred:secret/x")
    result = _shim(env)
    assert result.returncode == 5
    assert "MCPCRED_PASSPHRASE" in result.stderr and "MCPCRED_PASSPHRASE_FILE" in result.stderr


def test_no_runtime_dir_the_cli_says_there_is_no_login_session(tmp_path: Path) -> None:
    if os.path.exists(f"/run/user/{UID}"):
        pytest.skip(f"/run/user/{UID} exists on this machine: there is a login session")
    result = _cli(_clean_env(), "secret", "set", "x", "--from-stdin", stdin="v")
    assert result.returncode == 5, result.stderr
    error, hint = _error_and_hint(result.stderr)
    assert "no OS keychain is available" in error
    assert "XDG_RUNTIME_DIR is unset" in hint and "`mcpcred store init --file`" in hint


def test_no_bus_on_a_desktop_the_cli_gives_the_commands_to_start_one(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    env = _clean_env(DISPLAY=":0", XDG_RUNTIME_DIR=str(run))
    result = _cli(env, "secret", "set", "x", "--from-stdin", stdin="v")
    assert result.returncode == 5, result.stderr
    _, hint = _error_and_hint(result.stderr)
    assert f"`{hints.START_BUS}; {hints.START_KEYRING}`" in hint
    assert "mcpcred store init --file" in hint


def test_a_bus_without_the_secret_service_then_the_hinted_command_fixes_it() -> None:
    with real_keychain.bare_session_bus() as (bus_env, daemon_env):
        env = _clean_env(**bus_env, SSH_TTY="/dev/pts/3", T="mcpcred:secret/x")
        shim = _shim(env)
        assert shim.returncode == 5
        assert "no Secret Service on the session bus" in shim.stderr
        command = re.search(r"start gnome-keyring's Secret Service: `([^`]+)`", shim.stderr)
        assert command is not None, shim.stderr
        cli = _cli(env, "secret", "set", "x", "--from-stdin", stdin="v")
        assert cli.returncode == 5
        _, hint = _error_and_hint(cli.stderr)
        assert f"`{command.group(1)}`" in hint and "mcpcred store init --file" in hint

        # What the user does next: the command from the hint, in their shell.
        started = subprocess.run(
            command.group(1).split(), env=daemon_env, capture_output=True, text=True,
            timeout=30, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 10
        while real_keychain.owner_pid(bus_env) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        after = _shim(env)
        assert after.returncode == 5
        assert "secret 'x' is not in the keychain" in after.stderr  # a keychain answered


def test_a_locked_collection_then_the_hinted_unlock_command_opens_it() -> None:
    password = "hint-pass"
    with real_keychain.real_secret_service(password) as keychain_env:
        real_keychain.store(keychain_env, "mcpcred", "x", "value")
        real_keychain.lock_login(keychain_env)
        env = _clean_env(**keychain_env, SSH_TTY="/dev/pts/3", T="mcpcred:secret/x")
        locked = _shim(env)
        assert locked.returncode == 5
        assert "the keychain is locked" in locked.stderr
        assert f"`{hints.UNLOCK}`" in locked.stderr, locked.stderr
        assert locked.stderr.rstrip().endswith("the shim never prompts)")

        # The user's shell runs the hinted command and types the password.
        shell = real_keychain.daemon_env(keychain_env)
        old = real_keychain.owner_pid(keychain_env)
        unlocked = subprocess.run(
            ["bash", "-c", hints.UNLOCK], env=shell, input=password + "\n",
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert unlocked.returncode == 0, unlocked.stderr
        deadline = time.monotonic() + 10
        result = _shim(env)
        while result.returncode != 0 and time.monotonic() < deadline:
            time.sleep(0.1)
            result = _shim(env)
        new = real_keychain.owner_pid(keychain_env)
        assert result.returncode == 0, result.stderr
    if new is not None and new != old:
        real_keychain._stop_keyring_daemon(new)


@pytest.mark.parametrize("where", ["ci", "container", "no-session", "ssh", "desktop", "console"])
def test_every_hint_is_one_short_line_of_known_commands(
    monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """The hint is the error's second line (or the shim's '(hint: ...)'): one line, and
    every command in it is one this module defines (no stray quoting, nothing made up)."""
    monkeypatch.setattr(hints, "place", lambda e=None: where)
    known = {hints.INIT_FILE_STORE, hints.START_KEYRING, hints.UNLOCK,
             f"{hints.START_BUS}; {hints.START_KEYRING}", "mcpcred wrap"}  # fmt: skip
    texts = [
        hints.no_store({}), hints.no_store({}, shim=True), hints.no_secret_service({}),
        hints.locked({}), hints.locked({}, shim=True),
    ]  # fmt: skip
    for text in texts:
        assert "\n" not in text and len(text) < 260, text
        assert set(re.findall(r"`([^`]*)`", text)) <= known, text
