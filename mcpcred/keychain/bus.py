"""Where the user's D-Bus session bus is, when the environment does not say.

The Secret Service lives on the session bus, and a client finds that bus
through ``DBUS_SESSION_BUS_ADDRESS``. MCP clients (the MCP Inspector, the MCP
Python SDK, Codex) start servers with a scrubbed environment: HOME, PATH, USER,
SHELL, TERM and LOGNAME only. Without a fallback the shim would report "no
keychain" on a desktop where the keychain is running and unlocked.

So the shim looks where libdbus and sd-bus look when the variable is unset:
``$XDG_RUNTIME_DIR/bus`` and then ``/run/user/<uid>/bus`` (the per-user bus of
systemd's ``dbus.socket``/``dbus-broker``), accepting a path only if it is a
socket owned by this user, so a stale or foreign file is never talked to.
Last comes the address ``mcpcred wrap`` saw when it rewrote the config, which
covers sessions started by ``dbus-launch`` (no well-known path). Stdlib only:
the shim imports this on every server start.
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:  # (collections.abc costs a server start ~1 ms: annotations only)
    from collections.abc import Mapping

ENV_VAR = "DBUS_SESSION_BUS_ADDRESS"
RUN_USER = "/run/user"  # systemd-logind's per-user runtime directories

# D-Bus address values may hold these bytes as is; everything else is %XX-escaped
# (D-Bus specification, "Server Addresses").
_PLAIN = frozenset(b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_/.\\*")


def session_bus_address(env: Mapping[str, str], fallback: str | None = None) -> str | None:
    """The session bus address to use, or None when there is none to try.

    The order matters: an explicit variable always wins (the user or the client
    chose it), then a live socket in the runtime directory the environment names;
    then the address ``wrap`` recorded if it is a socket that is still alive (it
    was recorded because it is not the standard one, so it was chosen on
    purpose); then the standard per-user bus; last the recorded address even if
    it cannot be checked (an abstract socket), which may belong to an ended session.
    """
    explicit = env.get(ENV_VAR, "").strip()
    if explicit:
        return explicit
    getuid = getattr(os, "getuid", None)
    uid = getuid() if getuid is not None else None
    candidates = []
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    if runtime_dir:
        candidates.append(os.path.join(runtime_dir, "bus"))
    recorded = _socket_path(fallback)
    runtime_live = bool(candidates) and _is_own_socket(candidates[0], uid)
    if recorded is not None and not runtime_live and _is_own_socket(recorded, uid):
        return fallback
    if uid is not None:
        candidates.append(os.path.join(RUN_USER, str(uid), "bus"))
    for path in candidates:
        if _is_own_socket(path, uid):
            return unix_path_address(path)
    return fallback or None


def _socket_path(address: str | None) -> str | None:
    """The file of a plain ``unix:path=...`` address (None for anything else)."""
    if not address or ";" in address or not address.startswith("unix:path="):
        return None
    value = address[len("unix:path=") :].split(",", 1)[0]
    if "%" in value:
        return None
    return value


def unix_path_address(path: str) -> str:
    """The D-Bus address of a Unix socket path, escaped as the specification asks."""
    raw = os.fsencode(path)
    return "unix:path=" + "".join(chr(b) if b in _PLAIN else f"%{b:02x}" for b in raw)


def _is_own_socket(path: str, uid: int | None) -> bool:
    # A relative XDG_RUNTIME_DIR is invalid per the basedir spec; libdbus ignores it too.
    if not os.path.isabs(path):
        return False
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return False
    return stat.S_ISSOCK(info.st_mode) and (uid is None or info.st_uid == uid)
