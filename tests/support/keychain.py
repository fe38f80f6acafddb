"""A real OS keychain for tests: gnome-keyring's Secret Service on a private D-Bus bus.

``real_secret_service()`` starts a private session bus (``dbus-daemon``) and an
unlocked gnome-keyring (``login`` collection) in a short temporary directory,
waits until the keyring owns ``org.freedesktop.secrets`` and yields the
environment a client needs to reach it. Nothing is written under ``$HOME``.

The bus listens on ``$XDG_RUNTIME_DIR/bus``, where a systemd user session puts
it, so tests can also exercise the "no ``DBUS_SESSION_BUS_ADDRESS``" fallback.

The yielded variables are only those a *client* of the keychain needs. The
keyring's own files live in the temporary directory through the daemon's own
``XDG_DATA_HOME``; that variable is deliberately not handed to tests, because
mcpcred keeps its data folder under ``XDG_DATA_HOME`` and tests must not share it.

``clear``, ``lookup`` and ``store`` use libsecret's ``secret-tool``, an
independent client, to check what mcpcred (through ``keyring``) really wrote.
``./scripts/test`` installs the tools (``dbus-x11 gnome-keyring libsecret-tools``);
when they are missing this raises instead of skipping: CI always has them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

TOOLS = ("dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool")
BUS_NAME = "org.freedesktop.secrets"
START_TIMEOUT = 10.0


def require_tools() -> None:
    """Raise ``RuntimeError`` naming every missing keychain tool."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        raise RuntimeError(
            f"real keychain tools missing from PATH: {', '.join(missing)}; run ./scripts/test, "
            "which installs dbus-x11, gnome-keyring and libsecret-tools"
        )


@contextlib.contextmanager
def real_secret_service(password: str = "ci-pass") -> Iterator[dict[str, str]]:  # noqa: S107
    """A running, unlocked Secret Service; yields the env vars that lead a client to it.

    The dict holds ``DBUS_SESSION_BUS_ADDRESS``, ``XDG_RUNTIME_DIR`` (whose ``bus``
    is the bus socket) and ``GNOME_KEYRING_CONTROL`` when the daemon reports it.
    """
    require_tools()
    # Short path: Unix socket paths are limited to ~107 bytes.
    tmp = Path(tempfile.mkdtemp(prefix="gk", dir="/tmp"))
    dirs = {name: tmp / name for name in ("data", "cache", "run", "config", "home")}
    for path in dirs.values():
        path.mkdir(mode=0o700)
    socket = dirs["run"] / "bus"
    daemon_env = {
        **os.environ,
        "HOME": str(dirs["home"]),
        "XDG_DATA_HOME": str(dirs["data"]),  # keyrings/login.keyring lives here
        "XDG_CACHE_HOME": str(dirs["cache"]),
        "XDG_CONFIG_HOME": str(dirs["config"]),
        "XDG_RUNTIME_DIR": str(dirs["run"]),  # bus socket and keyring/control live here
    }
    bus_log = (tmp / "dbus.log").open("w")
    bus = subprocess.Popen(
        [
            "dbus-daemon",
            "--session",
            "--nofork",
            "--nopidfile",
            f"--address=unix:path={socket}",
            "--print-address=1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=bus_log,  # a file, not a pipe: the bus logs every activation and must never block
        text=True,
        env=daemon_env,
    )
    keyring_pid: int | None = None
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            bus.wait(timeout=5)
            raise RuntimeError(
                f"dbus-daemon exited ({bus.returncode}) without an address: "
                f"{(tmp / 'dbus.log').read_text()[-500:]}"
            )
        daemon_env["DBUS_SESSION_BUS_ADDRESS"] = address
        unlocked = _start_unlocked(daemon_env, password)
        client_env = {
            "DBUS_SESSION_BUS_ADDRESS": address,
            "XDG_RUNTIME_DIR": str(dirs["run"]),
        }
        for line in unlocked.stdout.splitlines():  # GNOME_KEYRING_CONTROL=...
            key, sep, value = line.partition("=")
            if sep and key.startswith("GNOME_KEYRING_"):
                client_env[key] = value
        # --unlock returns before the forked daemon owns the name; a client arriving early
        # D-Bus-activates a second daemon that races on login.keyring. So wait for the owner.
        keyring_pid = _wait_for_owner(daemon_env)
        _SERVED[address] = (daemon_env, password, keyring_pid)
        yield client_env
    finally:
        bus.send_signal(signal.SIGTERM)  # gnome-keyring-daemon exits when its bus goes away
        try:
            bus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bus.kill()
            bus.wait(timeout=10)
        if bus.stdout is not None:
            bus.stdout.close()
        bus_log.close()
        if keyring_pid is not None:
            _stop_keyring_daemon(keyring_pid)
        shutil.rmtree(tmp, ignore_errors=True)


def _bus_call(env: Mapping[str, str], method: str) -> str:
    return subprocess.run(
        [
            "dbus-send",
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            f"org.freedesktop.DBus.{method}",
            f"string:{BUS_NAME}",
        ],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=10,
        check=False,
    ).stdout


# Bus address -> (the daemon's env, its password, the pid serving it): what ``heal`` needs.
_SERVED: dict[str, tuple[dict[str, str], str, int | None]] = {}


class KeyringDaemonDied(RuntimeError):
    """The shared test keyring's daemon died while a test ran.

    What the test then saw (a secret "missing", a "locked" keychain) is not about
    the code under test: a new daemon, D-Bus-activated, starts with the collection
    locked. ``tests/support/keychain_fixtures.py`` raises this in place of the test's
    own error, and the suite's rerun setting (``only_rerun`` in pyproject.toml) runs
    such a test once more, after ``heal``; any other failure is never rerun.
    """


def serving(env: Mapping[str, str]) -> int | None:
    """The pid of the daemon this module started (or last healed) for ``env``'s bus."""
    served = _SERVED.get(env.get("DBUS_SESSION_BUS_ADDRESS", ""))
    return served[2] if served is not None else None


def heal(env: Mapping[str, str]) -> int | None:
    """Start the shared keyring again, unlocked, if its daemon is gone; the old pid, or None.

    When gnome-keyring-daemon dies, the next client D-Bus-activates a new one, which
    starts with the login collection *locked* ("Cannot create an item in a locked
    collection"): every later test that needs the keychain would fail for a reason that
    is not its own. Whatever took the daemon down is reported by the caller instead.
    """
    address = env.get("DBUS_SESSION_BUS_ADDRESS", "")
    served = _SERVED.get(address)
    if served is None:
        return None
    daemon_env, password, pid = served
    owner = owner_pid(daemon_env)
    if pid is None or owner == pid:
        return None
    if owner is not None:  # an activated daemon, locked: replace it with an unlocked one
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(owner, signal.SIGTERM)
        deadline = time.monotonic() + 5
        while _is_keyring_daemon(owner) and time.monotonic() < deadline:
            time.sleep(0.05)
    _start_unlocked(daemon_env, password)
    _SERVED[address] = (daemon_env, password, _wait_for_owner(daemon_env))
    return pid


def _start_unlocked(
    daemon_env: Mapping[str, str], password: str
) -> subprocess.CompletedProcess[str]:
    """``gnome-keyring-daemon --unlock``: a daemon on the bus with the login keyring open."""
    unlocked = subprocess.run(
        ["gnome-keyring-daemon", "--unlock", "--components=secrets"],
        input=password,
        capture_output=True,
        text=True,
        env=dict(daemon_env),
        timeout=30,
        check=False,
        # its own session: the forked daemon must not get a signal meant for the test run's
        # process group or terminal (a client killing "its" group, ^C on one test)
        start_new_session=True,
    )
    if unlocked.returncode != 0:
        raise RuntimeError(
            f"gnome-keyring-daemon --unlock failed ({unlocked.returncode}): "
            f"{unlocked.stderr[-500:]}"
        )
    return unlocked


def _wait_for_owner(env: Mapping[str, str]) -> int | None:
    """Poll until the keyring owns the Secret Service name; return the daemon's pid."""
    deadline = time.monotonic() + START_TIMEOUT
    while "boolean true" not in _bus_call(env, "NameHasOwner"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"gnome-keyring did not register {BUS_NAME} within {START_TIMEOUT}s")
        time.sleep(0.05)
    return owner_pid(env)


def _stop_keyring_daemon(pid: int) -> None:
    """Make sure the daemon this context started is gone (it normally leaves with its bus)."""
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if not _is_keyring_daemon(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _is_keyring_daemon(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # "pid (comm) state ...": a zombie (Z) is already gone, whoever reaps it.
    comm_end = status.rfind(")")
    return "gnome-keyring" in status[:comm_end] and status[comm_end + 2 : comm_end + 3] != "Z"


def _secret_tool(
    env: Mapping[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    require_tools()
    return subprocess.run(
        ["secret-tool", *args],
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=30,
        check=False,
    )


def clear(env: Mapping[str, str], service: str = "mcpcred") -> None:
    """Delete every item whose ``service`` attribute is ``service``."""
    result = _secret_tool(env, "clear", "service", service)
    # secret-tool clear exits 1 (without a message) when nothing matched.
    if result.returncode != 0 and result.stderr.strip():
        raise RuntimeError(f"secret-tool clear service {service} failed: {result.stderr.strip()}")


def lookup(env: Mapping[str, str], service: str, username: str) -> str | None:
    """The secret stored for (service, username), as ``keyring`` writes it; None if absent."""
    result = _secret_tool(env, "lookup", "service", service, "username", username)
    if result.returncode != 0:
        if result.stderr.strip():
            raise RuntimeError(f"secret-tool lookup failed: {result.stderr.strip()}")
        return None
    return result.stdout


def store(env: Mapping[str, str], service: str, username: str, value: str) -> None:
    """Store ``value`` for (service, username) the way ``keyring`` would find it.

    The value goes through stdin, never argv (argv is visible to every user).
    """
    result = _secret_tool(
        env,
        "store",
        f"--label=Password for '{username}' on '{service}'",
        "service",
        service,
        "username",
        username,
        input=value,
    )
    if result.returncode != 0:
        raise RuntimeError(f"secret-tool store failed: {result.stderr.strip()}")


# A session bus with no service files: nothing can be D-Bus-activated on it, so it stays
# without a Secret Service (the system's gnome-keyring service file would start one).
_BARE_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


@contextlib.contextmanager
def bare_session_bus() -> Iterator[tuple[dict[str, str], dict[str, str]]]:
    """A private session bus without a Secret Service: (client env, a daemon's env).

    The daemon's env also holds the XDG folders a gnome-keyring started on this bus
    would keep its files in (a test that starts one, as a hint tells users to, passes
    it). Whatever owns ``org.freedesktop.secrets`` at the end is stopped too.
    """
    require_tools()
    tmp = Path(tempfile.mkdtemp(prefix="gb", dir="/tmp"))
    dirs = {name: tmp / name for name in ("data", "cache", "run", "config", "home")}
    for path in dirs.values():
        path.mkdir(mode=0o700)
    socket = dirs["run"] / "bus"
    config = tmp / "bus.conf"
    config.write_text(_BARE_CONFIG.format(socket=socket))
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
         "--print-address=1"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    daemon_env: dict[str, str] = {}
    try:
        assert bus.stdout is not None
        address = bus.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon (bare session bus) exited without an address")
        client_env = {"DBUS_SESSION_BUS_ADDRESS": address, "XDG_RUNTIME_DIR": str(dirs["run"])}
        daemon_env = {
            **os.environ,
            **client_env,
            "HOME": str(dirs["home"]),
            "XDG_DATA_HOME": str(dirs["data"]),
            "XDG_CACHE_HOME": str(dirs["cache"]),
            "XDG_CONFIG_HOME": str(dirs["config"]),
        }
        yield client_env, daemon_env
    finally:
        owner = owner_pid(daemon_env) if daemon_env else None
        bus.terminate()
        try:
            bus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            bus.kill()
            bus.wait(timeout=10)
        if bus.stdout is not None:
            bus.stdout.close()
        if owner is not None:
            _stop_keyring_daemon(owner)
        shutil.rmtree(tmp, ignore_errors=True)


def owner_pid(env: Mapping[str, str]) -> int | None:
    """The pid owning ``org.freedesktop.secrets`` on the bus of ``env``, if any."""
    words = _bus_call({**os.environ, **env}, "GetConnectionUnixProcessID").split()
    if len(words) >= 2 and words[-2] == "uint32" and words[-1].isdigit():
        return int(words[-1])
    return None


def daemon_env(env: Mapping[str, str]) -> dict[str, str]:
    """The environment the keyring serving ``env``'s bus runs in (its user's shell's)."""
    return dict(_SERVED[env["DBUS_SESSION_BUS_ADDRESS"]][0])


def lock_login(env: Mapping[str, str]) -> None:
    """Lock the ``login`` collection through the daemon's own Secret Service ``Lock``."""
    result = subprocess.run(
        ["dbus-send", "--session", "--print-reply", f"--dest={BUS_NAME}",
         "/org/freedesktop/secrets", "org.freedesktop.Secret.Service.Lock",
         "array:objpath:/org/freedesktop/secrets/collection/login"],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=10, check=False,
    )  # fmt: skip
    if result.returncode != 0 or "collection/login" not in result.stdout:
        raise RuntimeError(f"could not lock the login collection: {result.stderr.strip()}")
