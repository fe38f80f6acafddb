"""The one-line hint after a keychain error, chosen for the machine it happened on.

The same failure needs a different fix in different places. "No D-Bus session bus" on
a Linux desktop means a session bus and gnome-keyring should be started; over SSH, in a
container or in WSL there is no desktop keychain to start, and the encrypted file store
(``mcpcred store init --file``) is the fix; in CI nobody can type a passphrase, so
``MCPCRED_PASSPHRASE`` / ``MCPCRED_PASSPHRASE_FILE`` from the CI's secrets is. A locked
collection is unlocked from the desktop's prompt there, and over SSH with
``gnome-keyring-daemon --unlock`` reading the password from stdin (which, being a
daemon flag, only takes effect on a daemon started by that command: hence ``--replace``).

The machine is told apart cheaply, from the environment and two marker files, never
by starting anything. This module is imported only when an error is being reported
(the shim's success path never loads it); standard library only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

INIT_FILE_STORE = "mcpcred store init --file"
PASSPHRASE = "MCPCRED_PASSPHRASE"  # noqa: S105 (a variable's name)
PASSPHRASE_FILE = "MCPCRED_PASSPHRASE_FILE"  # noqa: S105
START_BUS = 'eval "$(dbus-launch --sh-syntax)"'
START_KEYRING = "gnome-keyring-daemon --start --components=secrets"
# The password goes through stdin without a trailing newline (gnome-keyring keeps one as
# part of the password), and never through argv or the shell's history.
UNLOCK = (
    'read -rs P && printf %s "$P" | gnome-keyring-daemon --replace --unlock '
    "--components=secrets; unset P"
)

# Set by every CI service we know of; ``CI`` alone covers GitHub, GitLab, CircleCI,
# Travis, Buildkite, Woodpecker, Drone and more.
_CI_VARS = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "BUILDKITE", "JENKINS_URL", "TF_BUILD")
_CONTAINER_FILES = ("/.dockerenv", "/run/.containerenv")  # Docker, Podman
_CONTAINER_VARS = ("container", "REMOTE_CONTAINERS", "CODESPACES", "DEVCONTAINER")
_SSH_VARS = ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")
_DESKTOP_VARS = ("DISPLAY", "WAYLAND_DISPLAY", "XDG_CURRENT_DESKTOP")

CI, CONTAINER, NO_SESSION, SSH, DESKTOP, CONSOLE = (
    "ci", "container", "no-session", "ssh", "desktop", "console",
)  # fmt: skip


def place(
    env: Mapping[str, str] | None = None, exists: Callable[[str], bool] = os.path.exists
) -> str:
    """Where this process runs, as far as the keychain is concerned.

    In order: CI (no one to type anything), a container or WSL (no desktop keychain at
    all), no login session (no ``$XDG_RUNTIME_DIR`` and no ``/run/user/UID``: ``su``,
    ``sudo``, cron), SSH, a desktop, else a console or a server started by a client that
    scrubbed the environment (MCP clients pass on HOME, PATH and little else).
    """
    env = os.environ if env is None else env
    if any(_truthy(env.get(name)) for name in _CI_VARS):
        return CI
    if env.get("WSL_DISTRO_NAME") or env.get("WSL_INTEROP"):
        return CONTAINER
    if any(env.get(name) for name in _CONTAINER_VARS) or any(map(exists, _CONTAINER_FILES)):
        return CONTAINER
    if not env.get("XDG_RUNTIME_DIR") and not _user_runtime_dir(exists):
        return NO_SESSION
    if any(env.get(name) for name in _SSH_VARS):
        return SSH
    if any(env.get(name) for name in _DESKTOP_VARS):
        return DESKTOP
    return CONSOLE


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in ("0", "false", "no", "")


def _user_runtime_dir(exists: Callable[[str], bool]) -> bool:
    getuid = getattr(os, "getuid", None)
    return getuid is not None and exists(f"/run/user/{getuid()}")


_FILE_STORE = (
    f"use the encrypted file store: `{INIT_FILE_STORE}` (or set {PASSPHRASE} or {PASSPHRASE_FILE})"
)


def _ci() -> str:
    return (
        f"in CI there is no keychain: set {PASSPHRASE} (or {PASSPHRASE_FILE}) from the CI's "
        "secrets to use the encrypted file store"
    )


def no_store(env: Mapping[str, str] | None = None, *, shim: bool = False) -> str:
    """No keychain can be reached at all (no session bus, or keyring found no backend).

    Every variant names the file store's three ways in (``store init --file``, the
    passphrase variables) but CI's, where nobody can type a passphrase.
    """
    where = place(env)
    if where == CI:
        return _ci()
    if sys.platform == "darwin" or sys.platform == "win32":
        return f"check that the OS keychain is reachable from this session, or {_FILE_STORE}"
    if where == CONTAINER:
        return f"a container (or WSL) has no keychain: {_FILE_STORE}"
    if where == NO_SESSION:
        return (
            "this shell has no login session (XDG_RUNTIME_DIR is unset, as after su or sudo, "
            f"or in cron): log in with ssh, or {_FILE_STORE}"
        )
    if where == SSH:
        return f"over SSH there is no desktop keychain: {_FILE_STORE}"
    if shim and where == CONSOLE:
        # The client scrubbed the environment: a bus started by dbus-launch has no
        # well-known path, and only wrap, run from the session, can record it.
        return (
            "run `mcpcred wrap` again from your desktop session so it records the bus, "
            f"or {_FILE_STORE}"
        )
    return (
        f"start a session bus and gnome-keyring: `{START_BUS}; {START_KEYRING}`, or {_FILE_STORE}"
    )


def no_secret_service(env: Mapping[str, str] | None = None) -> str:
    """A session bus is there, but nothing on it serves ``org.freedesktop.secrets``."""
    if place(env) == CI:
        return _ci()
    service = f"start gnome-keyring's Secret Service: `{START_KEYRING}` (or KeePassXC's)"
    return f"{service}, or {_FILE_STORE}"


def locked(env: Mapping[str, str] | None = None, *, shim: bool = False) -> str:
    """The collection holding the secrets is locked; unlocking needs the user."""
    never = "; the shim never prompts" if shim else ""
    where = place(env)
    if sys.platform == "darwin" or sys.platform == "win32":
        return f"unlock your login keychain (Keychain Access), then try again{never}"
    if where == DESKTOP or (where == CONSOLE and shim):
        return (
            "unlock the login keyring: log in to the desktop, or open Passwords and Keys "
            f"(Seahorse) and unlock it{never}"
        )
    return f"unlock it from this shell (the password is read from stdin): `{UNLOCK}`{never}"


def unavailable(env: Mapping[str, str] | None = None) -> str:
    """keyring found no usable backend: no bus, or a bus without the Secret Service."""
    env = os.environ if env is None else env
    if sys.platform.startswith("linux"):
        from mcpcred.keychain.bus import session_bus_address

        if session_bus_address(env) is not None:
            return no_secret_service(env)
    return no_store(env)
