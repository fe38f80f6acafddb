"""The Linux kernel keyring: the file store's key kept by the kernel for the login session.

Why: where no agent runs (it was never started, or the machine forbids
background processes), a key the kernel holds still spares the next server
start the passphrase and the KDF. The kernel keeps it in unswappable kernel
memory, never on disk, drops it after a timeout, and a process must possess
the keyring to read it.

How: the ``add_key`` and ``keyctl`` system calls through ``ctypes`` (stdlib
only; neither ``keyutils``' library nor its ``keyctl`` program is needed). A
key is a ``user`` key described ``mcpcred:KEY_ID`` in the *session* keyring,
with a timeout (``KEYCTL_SET_TIMEOUT``) and permissions for its possessor only
(all) plus "view" for the user (so ``keyctl show`` lists its name; the name
is not secret). ``forget`` revokes it (the kernel frees the payload at once)
and unlinks it.

Which session: a login through PAM with ``pam_keyinit`` (most desktop and SSH
logins) has its own session keyring, inherited by every process started in
that login, and the key is visible to exactly those processes. A process with
no session keyring of its own (cron, many containers, logins without
``pam_keyinit``) uses the user's *default session keyring* (``@us``) instead,
which is shared by every process of that user that has no session keyring:
there the key reaches any such process of the same uid, the same trust
boundary as the agent's socket. Asking the kernel for ``@s`` by number first
matters: ``add_key`` on ``@s`` in a process without a session keyring would
create a fresh anonymous one that dies with the process.

Where it is not available (not Linux, seccomp profiles of Docker and other
container runtimes that forbid ``keyctl``, ``ENOSYS``, quota exhausted)
every function answers False/None and never raises for that.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ctypes

PREFIX = "mcpcred:"
KEY_SPEC_SESSION_KEYRING = -3
KEYCTL_GET_KEYRING_ID = 0
KEYCTL_REVOKE = 3
KEYCTL_SETPERM = 5
KEYCTL_UNLINK = 9
KEYCTL_SEARCH = 10
KEYCTL_READ = 11
KEYCTL_SET_TIMEOUT = 15
KEY_POS_ALL = 0x3F000000
KEY_USR_VIEW = 0x00010000
PERMISSIONS = KEY_POS_ALL | KEY_USR_VIEW
MAX_KEY = 1024

# (add_key, keyctl) per architecture, from each one's system call table.
_SYSCALLS = {
    "x86_64": (248, 250),
    "i386": (286, 288),
    "aarch64": (217, 219),
    "riscv64": (217, 219),
    "loongarch64": (217, 219),
    "arm": (309, 311),
    "ppc": (269, 271),
    "s390x": (278, 280),
}


def _syscall_numbers() -> tuple[int, int] | None:
    import ctypes

    machine = os.uname().machine
    if machine in ("x86_64", "amd64") and ctypes.sizeof(ctypes.c_void_p) == 4:
        machine = "i386"  # a 32-bit Python on a 64-bit kernel makes 32-bit calls
    elif machine in ("i486", "i586", "i686"):
        machine = "i386"
    elif machine.startswith("arm") and machine != "arm64":
        machine = "arm"
    elif machine in ("arm64",):
        machine = "aarch64"
    elif machine.startswith("ppc64") or machine == "ppc":
        machine = "ppc"
    return _SYSCALLS.get(machine)


class _Calls:
    """The two system calls, bound once per process."""

    def __init__(self, add_key: int, keyctl: int) -> None:
        import ctypes

        self.libc = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        self.add_key_nr = add_key
        self.keyctl_nr = keyctl

    def keyctl(self, *args: int | bytes | ctypes.Array[ctypes.c_char]) -> int:
        import ctypes

        packed = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
        return int(self.libc.syscall(ctypes.c_long(self.keyctl_nr), *packed))

    def add_key(self, description: bytes, payload: bytes, keyring: int) -> int:
        import ctypes

        return int(
            self.libc.syscall(
                ctypes.c_long(self.add_key_nr),
                b"user",
                description,
                payload,
                ctypes.c_size_t(len(payload)),
                ctypes.c_long(keyring),
            )
        )


_calls: _Calls | None = None
_probed = False


def _bound() -> _Calls | None:
    global _calls, _probed
    if not _probed:
        _probed = True
        if sys.platform.startswith("linux"):
            numbers = _syscall_numbers()
            if numbers is not None:
                try:
                    _calls = _Calls(*numbers)
                except (OSError, AttributeError):
                    _calls = None
    return _calls


def _description(key_id: str) -> bytes:
    from mcpcred.keychain.agent import valid_key_id

    if not valid_key_id(key_id):
        raise ValueError("invalid key id: use 1-128 characters of a-z, A-Z, 0-9, '.', '_', '-'")
    return (PREFIX + key_id).encode("ascii")


def _session(calls: _Calls) -> int | None:
    """The session keyring's serial, without creating one (``@us`` if the process has none)."""
    serial = calls.keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)
    return serial if serial > 0 else None


def _find(calls: _Calls, description: bytes) -> int | None:
    serial = calls.keyctl(KEYCTL_SEARCH, KEY_SPEC_SESSION_KEYRING, b"user", description, 0)
    return serial if serial > 0 else None


def available() -> bool:
    """Whether this process may use a session keyring (for ``status`` and tests)."""
    calls = _bound()
    return calls is not None and _session(calls) is not None


def store_key(key_id: str, key: bytes, timeout_seconds: int) -> bool:
    """Keep ``key`` in the session keyring for ``timeout_seconds`` (0: until ``forget``).

    False where the kernel keyring is unavailable or refuses (never raises for
    that). A key stored again replaces the old one and gets the new timeout.
    """
    description = _description(key_id)
    if not 0 < len(key) <= MAX_KEY:
        raise ValueError(f"a key is 1 to {MAX_KEY} bytes")
    if timeout_seconds < 0:
        raise ValueError("the timeout is a number of seconds, 0 for none")
    calls = _bound()
    if calls is None:
        return False
    session = _session(calls)
    if session is None:
        return False
    serial = calls.add_key(description, bytes(key), session)
    if serial <= 0:
        return False
    # add_key made it possessor-only already (plus "view" for the user); saying so
    # explicitly keeps it so on kernels whose defaults differ, and sets the timeout.
    if calls.keyctl(KEYCTL_SETPERM, serial, PERMISSIONS) != 0 or (
        calls.keyctl(KEYCTL_SET_TIMEOUT, serial, timeout_seconds) != 0
    ):
        calls.keyctl(KEYCTL_REVOKE, serial)
        calls.keyctl(KEYCTL_UNLINK, serial, session)
        return False
    return True


def fetch_key(key_id: str) -> bytes | None:
    """The key kept under ``key_id`` in the session keyring; None if none (or no keyring)."""
    import ctypes

    description = _description(key_id)
    calls = _bound()
    if calls is None:
        return None
    serial = _find(calls, description)
    if serial is None:
        return None
    buffer = ctypes.create_string_buffer(MAX_KEY)
    try:
        size = calls.keyctl(KEYCTL_READ, serial, buffer, MAX_KEY)
        if not 0 < size <= MAX_KEY:
            return None
        return buffer.raw[:size]
    finally:
        ctypes.memset(buffer, 0, MAX_KEY)


def forget(key_id: str) -> None:
    """Revoke and unlink the key kept under ``key_id``, if any; silent where there is none."""
    description = _description(key_id)
    calls = _bound()
    if calls is None:
        return
    serial = _find(calls, description)
    if serial is None:
        return
    calls.keyctl(KEYCTL_REVOKE, serial)
    session = _session(calls)
    if session is not None:
        calls.keyctl(KEYCTL_UNLINK, serial, session)
