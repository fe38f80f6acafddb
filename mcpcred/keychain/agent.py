"""The key agent: the file store's derived keys, held in memory for one login session.

Why it exists: the file store's key comes from a passphrase through a
memory-hard KDF. Asking for the passphrase on every server start is not
possible (the shim has no terminal) and deriving the key each time costs
100 ms or more, so ``mcpcred store unlock`` derives it once and offers it to
this agent (``offer_key``); every shim then asks for it (``fetch_key``) over
a Unix socket, which costs well under a millisecond.

Who may ask: the same model as ``ssh-agent`` and ``gpg-agent``. Any process
of the same user is trusted (it could read the store's file and watch the
passphrase being typed anyway); nobody else is. That is enforced three
times: the socket lives in a folder only the user can enter (0700, checked,
never created loose), the socket itself is 0600, and the agent asks the
kernel who is on the other end of every connection (``SO_PEERCRED`` on
Linux, ``LOCAL_PEERCRED`` on macOS and the BSDs) and answers only its own
uid. Where the OS offers neither, the agent refuses every peer: it cannot
tell who asks. The client makes the same checks the other way round, so it
never hands a key to, or takes one from, a socket someone else made.

Where: ``agent.sock`` (and ``agent.lock``, held for the agent's life) in
``$MCPCRED_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/mcpcred`` (a per-login tmpfs
emptied at logout), else, where there is no ``XDG_RUNTIME_DIR`` (macOS, most
containers), ``/run/user/UID/mcpcred`` or ``/tmp/mcpcred-agent-UID`` (see
``agent_dirs``, which also says why a shim looks in more than one). The lock makes
"is an agent alive" exact: a socket whose lock is free is stale (its agent
was killed) and the next agent replaces it.

When it ends: after ``DEFAULT_IDLE_TIMEOUT`` (4 hours) without a key being
asked for or given (``--idle-timeout``), on ``mcpcred agent stop``, on
SIGTERM/SIGINT/SIGHUP, and within a minute of its socket being removed (at
logout, with the runtime folder): nobody could reach its keys any more.
Suspend time counts as idle time on Linux (``CLOCK_BOOTTIME``), so a laptop
closed overnight does not wake up unlocked. Four hours covers a working session's
server restarts without keeping a forgotten unlock overnight.

Protocol (one request per connection): frames are a 4-byte big-endian
length and that many bytes. A request is an ASCII header frame
(``PING``, ``GET ID``, ``PUT ID`` followed by a key frame, ``READ`` followed
by a store file frame and a names frame, ``FORGET``, ``STOP``); the reply is a
header frame (``OK ...``, ``KEY`` followed by a key frame, ``VALUES`` followed
by a presence frame and one frame per value present, ``NONE``, ``ERR
reason``). An agent from before ``READ`` answers it ``ERR unknown request``,
and the shim then fetches the key with ``GET`` as it used to (``read_store``).
Headers are at most ``MAX_HEADER`` bytes,
keys at most ``MAX_KEY``, an agent holds at most ``MAX_KEYS`` (the oldest
goes first) and serves at most ``MAX_CONNECTIONS`` at once (more wait for a
slot), each read or write with ``IO_TIMEOUT`` to complete. Nothing about a
key is ever logged, only that a request was served or refused.

Memory: each key lives in its own anonymous page (``mmap``), excluded from
core dumps (``MADV_DONTDUMP``) and locked against swapping (``mlock``, where
the memory-lock limit allows), and is overwritten with zeros when dropped.
The agent process makes itself undumpable (``PR_SET_DUMPABLE`` 0 on Linux:
no core file, no ``ptrace`` or ``/proc/PID/mem`` by other processes of the
user) and sets its core size limit to 0. Copies made by the kernel's
socket buffers and by the clients (``fetch_key`` returns ``bytes``, which
Python cannot wipe) are outside its reach; the client wipes its own receive
buffer. To serve a ``READ`` the key is copied into a bytearray that is wiped
once the items are open; the values decrypted for it are ``str`` objects,
dropped at once but, like the shim's, not wipeable.

The client half (everything above the ``--- server ---`` line) is imported by the shim on
every server start: it is stdlib only, creates nothing, and talks through
``_socket`` directly (``socket`` costs ~3 ms to import for its enum wrappers).
With no socket file it costs one ``lstat``.
"""

from __future__ import annotations

import os
import sys

from mcpcred.errors import AgentUnavailable, AgentUnsafe

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket
    import mmap
    import socket
    from collections.abc import Callable, Mapping, Sequence


RUNTIME_DIR_VAR = "MCPCRED_RUNTIME_DIR"  # the same variable as mcpcred.paths
RUN_USER = "/run/user"  # systemd-logind's per-user runtime folders (as keychain.bus)
TMP_BASE = "/tmp"  # noqa: S108 (a per-uid folder in it, checked like any other)
SOCKET_NAME = "agent.sock"
LOCK_NAME = "agent.lock"
DEFAULT_IDLE_TIMEOUT = 4 * 60 * 60
MAX_IDLE_TIMEOUT = 7 * 24 * 60 * 60
MAX_HEADER = 256
MAX_KEY = 1024
MAX_KEYS = 64
MAX_CONNECTIONS = 32
MAX_STORE = 4 * 1024 * 1024  # a store file sent with READ (and any one value answered)
MAX_NAMES = 64 * 1024  # READ's list of names
IO_TIMEOUT = 2.0
PROTOCOL = "mcpcred-agent/1"
KEY_ID_MAX = 128
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# Only these reach the agent's process: it lives for hours, and whatever else the
# starting command had in its environment (MCPCRED_PASSPHRASE, tokens) must not.
AGENT_ENV = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "SYSTEMROOT",
    "XDG_RUNTIME_DIR", "MCPCRED_RUNTIME_DIR", "PYTHONPATH", "PYTHONHOME",
)  # fmt: skip


class _Broken(Exception):
    """The other end broke the protocol (too large, truncated, unknown); the connection ends."""


def valid_key_id(key_id: str) -> bool:
    """A key id is short and plain (the file store's are hex), so it is safe in a header."""
    return 0 < len(key_id) <= KEY_ID_MAX and all(c in _ID_CHARS for c in key_id)


def _checked(key_id: str) -> bytes:
    if not valid_key_id(key_id):
        raise ValueError("invalid key id: use 1-128 characters of a-z, A-Z, 0-9, '.', '_', '-'")
    return key_id.encode("ascii")


def _own_private(folder: str) -> bool:
    try:
        info = os.stat(folder)
    except OSError:
        return False
    return info.st_uid == _uid() and not info.st_mode & 0o077


def agent_dirs(environ: Mapping[str, str]) -> list[str]:
    """Where an agent's socket may be for ``environ``, the one an agent would use first.

    ``$MCPCRED_RUNTIME_DIR`` alone if set (an explicit choice is not second-guessed).
    Otherwise ``$XDG_RUNTIME_DIR/mcpcred`` when that folder is the user's own and
    private (as ``mcpcred.paths.runtime_path`` decides); then
    ``/run/user/UID/mcpcred``, systemd-logind's runtime folder, because MCP clients
    start servers with a scrubbed environment (HOME, PATH, USER, SHELL, TERM,
    LOGNAME) and a shim must still find the agent that ``store unlock`` started
    from a terminal that had ``XDG_RUNTIME_DIR``; last ``/tmp/mcpcred-agent-UID``
    (as tmux and ssh-agent do) where there is no runtime folder at all (macOS,
    containers). Not ``$TMPDIR``: a scrubbed shim would not see it either. Not
    the data folder ``runtime_path`` falls back to: finding it needs
    ``platformdirs``, ~30 ms on every server start.
    """
    override = environ.get(RUNTIME_DIR_VAR)
    if override:
        return [os.path.abspath(override)]  # the agent runs in "/": the same folder for both
    found = []
    xdg = environ.get("XDG_RUNTIME_DIR")
    if xdg and os.path.isabs(xdg) and _own_private(xdg):
        found.append(os.path.join(xdg, "mcpcred"))
    run_user = os.path.join(RUN_USER, str(_uid()))
    if _own_private(run_user):
        found.append(os.path.join(run_user, "mcpcred"))
    found.append(os.path.join(TMP_BASE, f"mcpcred-agent-{_uid()}"))
    return list(dict.fromkeys(found))


def agent_dir(environ: Mapping[str, str]) -> str:
    """The folder where an agent started with ``environ`` listens (not created)."""
    return agent_dirs(environ)[0]


def socket_path(environ: Mapping[str, str]) -> str:
    """The agent's socket for ``environ``."""
    return os.path.join(agent_dir(environ), SOCKET_NAME)


def _uid() -> int | None:
    getuid = getattr(os, "getuid", None)
    return None if getuid is None else int(getuid())


def check_folder(folder: str) -> None:
    """Refuse a folder that is not the user's own or that others can enter or write."""
    try:
        info = os.stat(folder)
    except OSError as exc:
        raise AgentUnsafe(
            f"cannot check the agent's folder {folder}: {exc.strerror or type(exc).__name__}"
        ) from None
    uid = _uid()
    if uid is not None and info.st_uid != uid:
        raise AgentUnsafe(
            f"the agent's folder {folder} belongs to another user (uid {info.st_uid})",
            hint="set MCPCRED_RUNTIME_DIR to a folder of your own with mode 700",
        )
    if info.st_mode & 0o077:
        raise AgentUnsafe(
            f"the agent's folder {folder} is open to other users (mode {info.st_mode & 0o777:o})",
            hint=f"make it private: chmod 700 {folder}",
        )


def check_socket(path: str, info: os.stat_result) -> None:
    """Refuse a socket file that is not a socket of the user's own with mode 600."""
    import stat

    uid = _uid()
    if not stat.S_ISSOCK(info.st_mode):
        raise AgentUnsafe(
            f"{path} is not a socket", hint="remove it; `mcpcred agent start` makes a new one"
        )
    if uid is not None and info.st_uid != uid:
        raise AgentUnsafe(
            f"the agent's socket {path} belongs to another user (uid {info.st_uid})",
            hint="remove it (it is not yours); `mcpcred agent start` makes a new one",
        )
    if info.st_mode & 0o077:
        raise AgentUnsafe(
            f"the agent's socket {path} is open to other users (mode {info.st_mode & 0o777:o})",
            hint="stop that agent (`mcpcred agent stop`) and start it again",
        )


def peer_uid(sock: _socket.socket) -> int | None:
    """The uid of the process at the other end of a connected Unix socket, or None.

    Linux: ``SO_PEERCRED`` (a ``struct ucred``: pid, uid, gid). macOS and the
    BSDs: ``LOCAL_PEERCRED`` at level ``SOL_LOCAL`` (0), a ``struct xucred``
    whose first fields are a version (0) and the uid; Python exposes neither
    constant there, so their values are written here (untested on those
    systems: this project's CI is Linux). None means "cannot tell", which
    both ends treat as a refusal.
    """
    import _socket

    try:
        so_peercred = getattr(_socket, "SO_PEERCRED", None)
        if so_peercred is not None:
            raw = sock.getsockopt(_socket.SOL_SOCKET, so_peercred, 12)
            return int.from_bytes(raw[4:8], sys.byteorder) if len(raw) >= 12 else None
        if sys.platform == "darwin" or "bsd" in sys.platform:
            raw = sock.getsockopt(0, 0x001, 128)
            if len(raw) >= 8 and int.from_bytes(raw[0:4], sys.byteorder) == 0:
                return int.from_bytes(raw[4:8], sys.byteorder)
    except OSError:
        return None
    return None


def allowed(peer: int | None, own: int | None) -> bool:
    """Whether a peer uid may talk to us: only our own uid, and never an unknown one."""
    return peer is not None and own is not None and peer == own


# --- frames -------------------------------------------------------------------------------


def _wipe(buffer: bytearray) -> None:
    buffer[:] = bytes(len(buffer))


def _recv_into(sock: _socket.socket, buffer: bytearray | memoryview) -> None:
    view = memoryview(buffer)
    try:
        got = 0
        while got < len(view):
            count = sock.recv_into(view[got:])
            if count == 0:
                raise _Broken("closed")
            got += count
    finally:
        view.release()


def _read_frame(sock: _socket.socket, limit: int) -> bytearray:
    prefix = bytearray(4)
    _recv_into(sock, prefix)
    size = int.from_bytes(prefix, "big")
    if size > limit:
        raise _Broken("too large")
    body = bytearray(size)
    try:
        _recv_into(sock, body)
    except BaseException:
        _wipe(body)
        raise
    return body


def _no_sigpipe() -> int:
    """``MSG_NOSIGNAL`` where there is one: a peer gone mid-send is an error, never a signal."""
    import _socket

    return getattr(_socket, "MSG_NOSIGNAL", 0)


def _send_header(sock: _socket.socket, header: bytes) -> None:
    sock.sendall(len(header).to_bytes(4, "big") + header, _no_sigpipe())


def _send_key(sock: _socket.socket, key: bytes | bytearray | memoryview) -> None:
    flags = _no_sigpipe()
    sock.sendall(len(key).to_bytes(4, "big"), flags)  # the key goes on its own: no joined copy
    sock.sendall(key, flags)


# --- client -------------------------------------------------------------------------------


class AgentStatus:
    """What a running agent says about itself (never anything about a key but the count).

    A plain class: ``dataclasses`` would cost the shim an import for nothing.
    """

    __slots__ = ("idle_timeout", "keys", "pid", "reads", "socket")

    def __init__(
        self, pid: int, keys: int, idle_timeout: int, socket: str, reads: bool = False
    ) -> None:
        self.pid = pid
        self.keys = keys
        self.idle_timeout = idle_timeout
        self.socket = socket
        self.reads = reads  # serves READ (an agent from an older mcpcred does not say so)


def _connect(environ: Mapping[str, str], timeout: float) -> tuple[_socket.socket, str] | None:
    """A connection to the user's own agent and its socket's path; None if there is none.

    The folders of ``agent_dirs`` are tried in order. The first is where an
    agent for this environment would be, and anything unsafe there is an
    error; the others are only looked at, and skipped if someone else could
    control them (a squatter in /tmp must not stop every shim).
    """
    import _socket

    if not hasattr(_socket, "AF_UNIX"):
        return None
    for index, folder in enumerate(agent_dirs(environ)):
        try:
            sock = _connect_in(folder, timeout)
        except AgentUnsafe:
            if index == 0:
                raise
            continue
        if sock is not None:
            return sock, os.path.join(folder, SOCKET_NAME)
    return None


def _connect_in(folder: str, timeout: float) -> _socket.socket | None:
    import _socket

    path = os.path.join(folder, SOCKET_NAME)
    try:
        info = os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError:
        raise AgentUnsafe(
            f"cannot look into the agent's folder {folder}: it is not yours",
            hint="set MCPCRED_RUNTIME_DIR to a folder of your own with mode 700",
        ) from None
    except OSError:
        return None
    check_folder(folder)
    check_socket(path, info)
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(path)
    except OSError:  # refused (stale socket of a killed agent), timed out, gone meanwhile
        sock.close()
        return None
    peer = peer_uid(sock)
    if not allowed(peer, _uid()):
        sock.close()
        raise AgentUnsafe(
            f"the process behind {path} is not yours (uid {peer if peer is not None else '?'})",
            hint="stop it or remove the socket; `mcpcred agent start` makes a new one",
        )
    return sock


def fetch_key(key_id: str, environ: Mapping[str, str], timeout: float = 1.0) -> bytes | None:
    """The key the user's agent holds under ``key_id``; None if no agent or no such key.

    Raises ``AgentUnsafe`` only for a socket or folder someone else could
    control, never for an agent that is missing, stale, slow or broken.
    """
    request = b"GET " + _checked(key_id)
    connected = _connect(environ, timeout)
    if connected is None:
        return None
    sock = connected[0]
    try:
        _send_header(sock, request)
        if bytes(_read_frame(sock, MAX_HEADER)) != b"KEY":
            return None
        buffer = _read_frame(sock, MAX_KEY)
        try:
            return bytes(buffer) if buffer else None
        finally:
            _wipe(buffer)
    except (OSError, _Broken):
        return None
    finally:
        sock.close()


def read_store(
    data: bytes,
    names: Sequence[str],
    optional: Sequence[str],
    environ: Mapping[str, str],
    timeout: float = 1.0,
) -> dict[str, str] | None:
    """The values of ``names`` (each required) and of the ``optional`` names present, read
    by the user's agent from ``data``, the store file's bytes; None when it cannot answer
    with values.

    Why the agent opens the file: the shim then needs no AES-GCM, HMAC, SHA-256 or
    JSON (``cryptography`` alone costs a server start ~4 ms of imports); the agent
    has them loaded and holds the key anyway. The shim sends the bytes it read, not
    a path: the agent decrypts exactly what the shim would have (no second read that
    a file swapped in between could change), never opens a file on a client's
    behalf (a sandboxed process that reaches the socket but not the file cannot
    make the agent read it for it), and need not see the same files as the shim
    (containers, mount namespaces). ``READ`` gives a client less than ``GET``
    (values of a file it already has, not the key), so it opens nothing new.

    None means "read the store yourself": no agent, an agent from before ``READ``,
    no key for this file, or anything wrong with the file or a name (the caller's
    own read then says precisely what, with the same errors as always). Raises
    ``AgentUnsafe`` only, like ``fetch_key``, for a socket someone else could control.
    """
    wanted = list(dict.fromkeys(names))
    wanted += [name for name in dict.fromkeys(optional) if name not in wanted]
    if not wanted or len(data) > MAX_STORE or any("\n" in name or not name for name in wanted):
        return None
    required = len(dict.fromkeys(names))  # the first ``required`` of ``wanted``
    listing = b"\n".join(
        (b"+" if index < required else b"?") + name.encode("utf-8")
        for index, name in enumerate(wanted)
    )
    if len(listing) > MAX_NAMES:
        return None
    connected = _connect(environ, timeout)
    if connected is None:
        return None
    sock = connected[0]
    try:
        sock.sendall(  # the file is sealed and the names are not secret: one write
            b"".join(len(part).to_bytes(4, "big") + part for part in (b"READ", data, listing)),
            _no_sigpipe(),
        )
        if bytes(_read_frame(sock, MAX_HEADER)) != b"VALUES":
            return None
        present = bytes(_read_frame(sock, len(wanted)))
        if len(present) != len(wanted) or present.strip(b"01") or b"0" in present[:required]:
            return None
        values: dict[str, str] = {}
        for name, here in zip(wanted, present, strict=True):
            if here == ord("1"):
                buffer = _read_frame(sock, MAX_STORE)
                try:
                    values[name] = buffer.decode("utf-8")
                finally:
                    _wipe(buffer)
        return values
    except (OSError, _Broken, UnicodeDecodeError):
        return None
    finally:
        sock.close()


def _ask(
    environ: Mapping[str, str], request: bytes, timeout: float = IO_TIMEOUT
) -> tuple[bytes, str] | None:
    """One header-only request; the reply header and the socket's path, or None."""
    connected = _connect(environ, timeout)
    if connected is None:
        return None
    sock, path = connected
    try:
        _send_header(sock, request)
        return bytes(_read_frame(sock, MAX_HEADER)), path
    except (OSError, _Broken):
        return None
    finally:
        sock.close()


def status(environ: Mapping[str, str], timeout: float = IO_TIMEOUT) -> AgentStatus | None:
    """The running agent's pid, key count, idle timeout and socket; None if none answers."""
    answered = _ask(environ, b"PING", timeout)
    if answered is None or not answered[0].startswith(b"OK " + PROTOCOL.encode()):
        return None
    reply, path = answered
    fields = dict(
        part.split("=", 1) for part in reply.decode("ascii", "replace").split()[2:] if "=" in part
    )
    try:
        return AgentStatus(
            pid=int(fields["pid"]),
            keys=int(fields["keys"]),
            idle_timeout=int(fields["idle-timeout"]),
            socket=path,
            reads=fields.get("reads") == "1",
        )
    except (KeyError, ValueError):
        return None


def forget(environ: Mapping[str, str]) -> None:
    """Lock: the agent, if one runs, drops (and wipes) every key it holds."""
    _ask(environ, b"FORGET")


def stop(environ: Mapping[str, str]) -> int | None:
    """Ask the agent to wipe its keys and exit; its pid, or None if none was running."""
    running = status(environ)
    if running is None:
        return None
    _ask(environ, b"STOP")
    return running.pid


def offer_key(key_id: str, key: bytes, environ: Mapping[str, str]) -> None:
    """Give ``key`` to the user's agent under ``key_id``, starting the agent if needed."""
    request = b"PUT " + _checked(key_id)
    if not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"a key is 1 to {MAX_KEY} bytes")
    ensure_running(environ)
    connected = _connect(environ, IO_TIMEOUT)
    if connected is None:
        raise AgentUnavailable("the key agent stopped answering", hint="mcpcred agent start")
    sock = connected[0]
    try:
        _send_header(sock, request)
        _send_key(sock, key)
        reply = bytes(_read_frame(sock, MAX_HEADER))
    except (OSError, _Broken):
        raise AgentUnavailable(
            "the key agent did not take the key", hint="mcpcred agent status"
        ) from None
    finally:
        sock.close()
    if reply != b"OK":
        reason = reply.decode("ascii", "replace").removeprefix("ERR ")
        raise AgentUnavailable(f"the key agent refused the key: {reason}")


def agent_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment an agent starts with: where it lives, nothing secret."""
    chosen = {name: environ[name] for name in AGENT_ENV if name in environ}
    if RUNTIME_DIR_VAR in chosen:
        chosen[RUNTIME_DIR_VAR] = agent_dir(environ)
    return chosen


def ensure_running(
    environ: Mapping[str, str], idle_timeout: int | None = None, wait: float = 15.0
) -> AgentStatus:
    """The running agent's status, starting ``mcpcred agent serve --detach`` if none answers.

    The new agent binds and listens before its first process exits, so once
    that exit is seen the agent answers; a start that fails returns the
    agent's own one-line error. A concurrent start is harmless: the agent
    that does not get the lock says so and exits 0.
    """
    running = status(environ)
    if running is not None:
        return running
    folder = agent_dir(environ)
    if os.path.isdir(folder):  # say what is wrong here, not through the new agent's exit
        check_folder(folder)
    import subprocess

    argv = [sys.executable, "-m", "mcpcred", "agent", "serve", "--detach"]
    if idle_timeout is not None:
        argv += ["--idle-timeout", str(idle_timeout)]
    try:
        done = subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=agent_environment(environ),
            cwd="/",
            timeout=wait,
            check=False,
            start_new_session=True,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AgentUnavailable(
            f"cannot start the key agent: {type(exc).__name__}",
            hint="run `mcpcred agent serve` to see why",
        ) from None
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").splitlines()
        said = next((ln for ln in lines if ln.startswith("error: ")), f"exit {done.returncode}")
        from mcpcred.terminal import printable

        raise AgentUnavailable(
            f"the key agent did not start: {printable(said.removeprefix('error: '))}",
            hint="run `mcpcred agent serve` to see why",
        )
    running = status(environ)
    if running is None:
        raise AgentUnavailable(
            "the key agent started but does not answer", hint="run `mcpcred agent serve`"
        )
    return running


# --- server -------------------------------------------------------------------------------


def _libc() -> object | None:
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True)
    except (OSError, ImportError):
        return None


def harden() -> list[str]:
    """Keep this process's memory to itself; the measures that took effect, for the log."""
    done: list[str] = []
    os.umask(0o077)
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        done.append("no core files")
    except (ImportError, OSError, ValueError):
        pass
    if sys.platform.startswith("linux"):
        libc = _libc()
        prctl = getattr(libc, "prctl", None)
        if prctl is not None and prctl(4, 0, 0, 0, 0) == 0:  # PR_SET_DUMPABLE, 0
            done.append("not dumpable or traceable")
    return done


def _warm() -> None:
    """Load what ``READ`` needs while the agent starts (in the background), not during a
    shim's first ``READ``: ``cryptography`` and the file store's modules cost a fresh
    process tens of ms, which a server start must not wait for."""
    try:
        from mcpcred.keychain import filestore

        filestore._aead(bytes(filestore.KEY_LENGTH))
        filestore.table_mac(bytes(filestore.KEY_LENGTH), filestore.Document({}, "", {}))
    except Exception:  # noqa: S110 (only a head start; READ imports it anyway)
        pass


class _Key:
    """One key in its own page: not in core dumps, locked in RAM if allowed, wiped on drop."""

    def __init__(self, size: int) -> None:
        import contextlib  # server only: the client half stays light
        import mmap

        self.size = size
        private = getattr(mmap, "MAP_PRIVATE", None)  # not shared with any child (Windows: none)
        if private is None:
            self.page: mmap.mmap = mmap.mmap(-1, max(size, 1))
        else:
            self.page = mmap.mmap(-1, max(size, 1), flags=private)
        self._address: int | None = None
        dontdump = getattr(mmap, "MADV_DONTDUMP", None)
        if dontdump is not None:
            with contextlib.suppress(OSError):
                self.page.madvise(dontdump)
        self._lock()

    def _lock(self) -> None:
        libc = _libc()
        mlock = getattr(libc, "mlock", None)
        if mlock is None:
            return
        import ctypes

        pointer = ctypes.c_char.from_buffer(self.page)
        address = ctypes.addressof(pointer)
        del pointer  # a live export would keep the page from being unmapped
        if mlock(ctypes.c_void_p(address), ctypes.c_size_t(len(self.page))) == 0:
            self._address = address

    def view(self) -> memoryview:
        """The key's bytes (release the view before ``wipe``)."""
        return memoryview(self.page)[: self.size]

    def wipe(self) -> None:
        """Overwrite with zeros, unlock and unmap."""
        if self.page.closed:
            return
        self.page[:] = bytes(len(self.page))
        if self._address is not None:
            import ctypes

            munlock = getattr(_libc(), "munlock", None)
            if munlock is not None:
                munlock(ctypes.c_void_p(self._address), ctypes.c_size_t(len(self.page)))
            self._address = None
        self.page.close()


def _make_private(path: str) -> None:
    """Create ``path`` and any missing parent with mode 0700; an existing one is checked later."""
    import contextlib  # server only: the client half stays light

    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent and parent != path:
        _make_private(parent)
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, 0o700)


def _now() -> float:
    """Seconds on a clock that keeps counting while the machine sleeps, where there is one."""
    import time

    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(boottime) if boottime is not None else time.monotonic()


class AgentServer:
    """The agent process's state: the listening socket, the lock, the keys.

    ``prepare`` makes and checks the folder, takes the lock and listens;
    ``run`` serves until idle, stopped or signalled; ``close`` wipes every
    key and removes the socket (only if it is still this agent's).
    """

    # what PING adds to say which requests beyond the first protocol this agent serves
    # (``mcpcred agent status`` tells an agent from an older mcpcred by its absence)
    FEATURES = " reads=1"

    def __init__(
        self, folder: str, idle_timeout: float, log: Callable[[str], None] | None = None
    ) -> None:
        import threading

        self.folder = folder
        self.path = os.path.join(folder, SOCKET_NAME)
        self.idle_timeout = idle_timeout
        self.log: Callable[[str], None] = log or (lambda _line: None)
        self.uid = _uid()
        self._keys: dict[str, _Key] = {}
        self._guard = threading.Lock()
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self._stopping = threading.Event()
        self._last_active = _now()
        self._lock_fd: int | None = None
        self._listener: socket.socket | None = None
        self._inode: tuple[int, int] | None = None
        self._wake: tuple[int, int] | None = None
        # how often, at least, the loop wakes to check the clock and that the socket is still
        # there: an agent nobody can reach any more (its folder removed at logout) ends
        self.watch_interval = 60.0

    # setting up

    def prepare(self) -> bool:
        """Check the folder, take the lock, replace a stale socket, listen. False: one runs."""
        import fcntl
        import socket

        if not hasattr(socket, "AF_UNIX"):
            raise AgentUnavailable("the key agent needs Unix sockets, which this OS lacks")
        limit = 104 if sys.platform == "darwin" or "bsd" in sys.platform else 108
        if len(os.fsencode(self.path)) >= limit:
            raise AgentUnavailable(
                f"the agent's socket path is too long for this OS: {self.path}",
                hint="set MCPCRED_RUNTIME_DIR to a shorter private folder",
            )
        _make_private(self.folder)
        check_folder(self.folder)
        lock_path = os.path.join(self.folder, LOCK_NAME)
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(lock_path, flags, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd
        try:
            info = os.lstat(self.path)
        except FileNotFoundError:
            pass
        else:  # the lock was free, so nobody serves this socket: a killed agent's leftover
            check_socket(self.path, info)
            os.unlink(self.path)
            self.log("removed the socket of an agent that is gone")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o177)  # the socket is born 0600: no moment with wider access
        try:
            listener.bind(self.path)
        finally:
            os.umask(old_mask)
        os.chmod(self.path, 0o600)
        listener.listen(64)
        listener.setblocking(False)
        made = os.lstat(self.path)
        self._inode = (made.st_dev, made.st_ino)
        self._listener = listener
        self._wake = os.pipe()
        for end in self._wake:
            os.set_blocking(end, False)
        return True

    # serving

    def stop(self) -> None:
        """End ``run`` soon (from a handler thread or a signal handler)."""
        import contextlib  # server only: the client half stays light

        self._stopping.set()
        if self._wake is not None:
            with contextlib.suppress(OSError):
                os.write(self._wake[1], b"x")

    def run(self) -> str:
        """Serve until idle, stopped or signalled; why it ended."""
        import contextlib  # server only: the client half stays light
        import selectors
        import signal
        import threading

        if self._listener is None or self._wake is None:
            raise RuntimeError("run() before prepare()")
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                previous[signum] = signal.signal(signum, lambda *_: self.stop())
        # not a daemon: an exit (SIGTERM) in the middle of loading a C extension would not
        # be clean; the interpreter waits for it instead (tens of ms, once)
        threading.Thread(target=_warm, name="warm", daemon=False).start()
        selector = selectors.DefaultSelector()
        selector.register(self._listener, selectors.EVENT_READ, "accept")
        selector.register(self._wake[0], selectors.EVENT_READ, "wake")
        why = "stopped"
        try:
            while not self._stopping.is_set():
                remaining = self._last_active + self.idle_timeout - _now()
                if remaining <= 0:
                    why = "idle"
                    break
                if not self._still_reachable():
                    why = "gone"
                    break
                for key, _events in selector.select(timeout=min(remaining, self.watch_interval)):
                    if key.data == "wake":
                        with contextlib.suppress(OSError):
                            os.read(self._wake[0], 64)
                    else:
                        self._accept()
        finally:
            selector.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return why

    def _still_reachable(self) -> bool:
        """Whether our socket is still where clients look (logout empties the runtime folder)."""
        try:
            info = os.lstat(self.path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) == self._inode

    def _accept(self) -> None:
        import threading

        if self._listener is None:
            return
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        # a burst beyond the limit waits for a slot (the loop has nothing else to do meanwhile);
        # only when none frees up in IO_TIMEOUT does a client see a closed connection (no key)
        if not self._slots.acquire(timeout=IO_TIMEOUT):
            conn.close()
            return
        threading.Thread(target=self._serve_one, args=(conn,), daemon=True).start()

    def _serve_one(self, conn: _socket.socket) -> None:
        try:
            conn.settimeout(IO_TIMEOUT)
            peer = peer_uid(conn)
            if not allowed(peer, self.uid):
                self.log(f"refused a connection from uid {peer if peer is not None else '?'}")
                _send_header(conn, b"ERR refused: not the agent's user")
                return
            self._answer(conn)
        except (OSError, _Broken):
            self.log("dropped a connection that broke the protocol or timed out")
        finally:
            conn.close()
            self._slots.release()

    def _answer(self, conn: _socket.socket) -> None:
        header = bytes(_read_frame(conn, MAX_HEADER))
        verb, _, argument = header.partition(b" ")
        key_id = argument.decode("ascii", "replace")
        if verb == b"PING" and not argument:
            with self._guard:
                count = len(self._keys)
            _send_header(
                conn,
                f"OK {PROTOCOL} pid={os.getpid()} keys={count} "
                f"idle-timeout={int(self.idle_timeout)}{self.FEATURES}".encode(),
            )
        elif verb == b"GET" and valid_key_id(key_id):
            self._last_active = _now()
            with self._guard:
                key = self._keys.get(key_id)
                if key is None:
                    _send_header(conn, b"NONE")
                    return
                _send_header(conn, b"KEY")
                with key.view() as view:
                    _send_key(conn, view)
        elif verb == b"PUT" and valid_key_id(key_id):
            self._last_active = _now()
            self._take(conn, key_id)
            _send_header(conn, b"OK")
        elif verb == b"READ" and not argument:
            self._last_active = _now()
            self._read(conn)
        elif verb == b"FORGET" and not argument:
            dropped = self.forget_all()
            _send_header(conn, f"OK {dropped}".encode())
            self.log(f"dropped {dropped} key(s) on request")
        elif verb == b"STOP" and not argument:
            _send_header(conn, b"OK")
            self.stop()
        else:
            _send_header(conn, b"ERR unknown request")

    def _take(self, conn: _socket.socket, key_id: str) -> None:
        prefix = bytearray(4)
        _recv_into(conn, prefix)
        size = int.from_bytes(prefix, "big")
        if not 0 < size <= MAX_KEY:
            raise _Broken("bad key size")
        key = _Key(size)
        try:
            with key.view() as view:
                _recv_into(conn, view)
        except BaseException:
            key.wipe()
            raise
        with self._guard:
            old = self._keys.pop(key_id, None)
            if old is not None:
                old.wipe()
            while len(self._keys) >= MAX_KEYS:
                oldest = next(iter(self._keys))
                self._keys.pop(oldest).wipe()
            self._keys[key_id] = key
            count = len(self._keys)
        self.log(f"holding {count} key(s)")

    def _read(self, conn: _socket.socket) -> None:
        """Open the store file a shim sent with the key held for it; answer the values.

        Any answer but values tells the shim to read the store itself (``read_store``),
        which then reports exactly what is wrong; the ``ERR`` reasons are for tests and
        the log, and never carry a value or anything from the file.
        """
        data = _read_frame(conn, MAX_STORE)
        listing = bytes(_read_frame(conn, MAX_NAMES))
        entries = listing.split(b"\n")
        if not all(len(entry) > 1 and entry[:1] in (b"+", b"?") for entry in entries):
            raise _Broken("bad names")
        try:
            wanted = [entry[1:].decode("utf-8") for entry in entries]
        except UnicodeDecodeError:
            raise _Broken("bad names") from None
        names = [name for entry, name in zip(entries, wanted, strict=True) if entry[:1] == b"+"]
        optional = [name for entry, name in zip(entries, wanted, strict=True) if entry[:1] == b"?"]
        from mcpcred.errors import SecretNotFound, SecretStoreError, StoreFileTampered
        from mcpcred.keychain import filestore  # server only: cryptography, json, hmac

        try:
            doc = filestore.parse(bytes(data), "sent by a shim")
        except SecretStoreError:
            _send_header(conn, b"ERR not a store file this agent can read")
            return
        held = self._copy(doc.key_id())
        if held is None:
            _send_header(conn, b"NONE")
            return
        values: dict[str, str] | None = None
        try:
            values = filestore.read_held(doc, held, names, optional)
            reason = b"NONE"  # the key held under this id does not open the file
        except StoreFileTampered:
            reason = b"ERR tampered"
        except SecretNotFound:
            reason = b"ERR missing"
        except SecretStoreError:
            reason = b"ERR damaged"
        except Exception as exc:  # a bug: the shim's own read will say more; say the type only
            reason = f"ERR failed: {type(exc).__name__}".encode()
        finally:
            _wipe(held)
        if values is None:
            self.log(f"answered a read with {reason.decode()}")
            _send_header(conn, reason)
            return
        _send_header(conn, b"VALUES")
        _send_header(conn, bytes(ord("1") if name in values else ord("0") for name in wanted))
        for name in wanted:
            if name in values:
                _send_key(conn, values.pop(name).encode("utf-8"))
        self.log(f"served a read of {len(wanted)} name(s)")

    def _copy(self, key_id: str) -> bytearray | None:
        """A copy of the key held under ``key_id`` (the caller wipes it), or None."""
        with self._guard:
            key = self._keys.get(key_id)
            if key is None:
                return None
            with key.view() as view:
                return bytearray(view)

    def forget_all(self) -> int:
        """Wipe and drop every key; how many there were."""
        with self._guard:
            keys = list(self._keys.values())
            self._keys.clear()
            for key in keys:
                key.wipe()
        return len(keys)

    def close(self) -> None:
        """Wipe the keys, stop listening, remove our socket, release the lock."""
        self.forget_all()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
            try:
                info = os.lstat(self.path)
                if (info.st_dev, info.st_ino) == self._inode:
                    os.unlink(self.path)
            except OSError:
                pass
        if self._wake is not None:
            for end in self._wake:
                os.close(end)
            self._wake = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def serve(
    environ: Mapping[str, str],
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT,
    *,
    detach: bool = False,
    log: Callable[[str], None] | None = None,
) -> int:
    """Run an agent for ``environ``'s runtime folder; 0 also when one already runs.

    With ``detach`` the process forks once it listens: the parent exits 0
    (the caller's signal that the agent answers) and the child, in a new
    session with stdio on /dev/null, serves.
    """
    say = log or (lambda _line: None)
    server = AgentServer(agent_dir(environ), idle_timeout, say)
    measures = harden()
    if not server.prepare():
        say(f"an agent already serves {server.path}")
        return 0
    if detach:
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() != 0:
            os._exit(0)  # the child owns the socket and the lock now; no clean-up here
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        say = lambda _line: None  # noqa: E731 (stderr is /dev/null now)
        server.log = say
    say(
        f"listening on {server.path} (pid {os.getpid()}, idle timeout {idle_timeout} s; "
        f"{', '.join(measures) or 'no memory protections available'})"
    )
    try:
        why = server.run()
    finally:
        server.close()
    said = {"idle": "idle", "gone": "socket removed"}.get(why, "stopped")
    say(f"{said}: exiting")
    return 0
