"""The Linux session keyring through raw keyctl system calls, across real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.keychain import kernel

KEY = bytes(range(100, 132))

usable = pytest.mark.skipif(
    not kernel.available(),
    reason="this kernel refuses keyctl to this process (seccomp profile, ENOSYS or not Linux)",
)

# One step in its own process: store / fetch / forget, as `store unlock` and shims would.
STEP = """
import sys
from mcpcred.keychain import kernel
op, key_id = sys.argv[1], sys.argv[2]
if op == "store":
    print(kernel.store_key(key_id, bytes.fromhex(sys.argv[3]), int(sys.argv[4])))
elif op == "fetch":
    key = kernel.fetch_key(key_id)
    print("none" if key is None else key.hex())
else:
    kernel.forget(key_id)
    print("forgotten")
"""

# A process that joins a fresh session keyring of its own (as a new login would), stores a
# key there and asks a child of its own for it: the child shares the session, the test not.
NEW_SESSION = """
import ctypes, subprocess, sys
from mcpcred.keychain import kernel
calls = kernel._bound()
assert calls is not None and calls.keyctl(1, 0) > 0   # KEYCTL_JOIN_SESSION_KEYRING, anonymous
key_id = sys.argv[1]
print(kernel.store_key(key_id, bytes.fromhex(sys.argv[2]), 60))
child = subprocess.run([sys.executable, "-c", sys.argv[3], "fetch", key_id],
                       capture_output=True, text=True, check=True)
print(child.stdout.strip())
sys.stdin.readline()   # hold the session until the test has looked from outside
kernel.forget(key_id)
"""


def step(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", STEP, *args], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def key_id() -> Iterator[str]:
    name = uuid.uuid4().hex
    try:
        yield name
    finally:
        kernel.forget(name)


def proc_keys_line(key_id: str) -> str | None:
    wanted = f"{kernel.PREFIX}{key_id}:"
    return next((ln for ln in Path("/proc/keys").read_text().splitlines() if wanted in ln), None)


@usable
def test_a_key_stored_by_one_process_is_read_by_another_and_forgotten(key_id: str) -> None:
    assert step("fetch", key_id) == "none"
    assert step("store", key_id, KEY.hex(), "300") == "True"
    assert step("fetch", key_id) == KEY.hex()
    assert kernel.fetch_key(key_id) == KEY
    line = proc_keys_line(key_id)
    assert line is not None
    fields = line.split()
    # possessor: everything; user: only see that it exists; group and others: nothing
    assert fields[4] == f"{kernel.PERMISSIONS:08x}" == "3f010000"
    assert fields[7] == "user"
    assert fields[3].endswith(("m", "h"))  # an expiry is set (shown as time left)
    assert step("forget", key_id) == "forgotten"
    assert step("fetch", key_id) == "none"
    assert kernel.fetch_key(key_id) is None


@usable
def test_storing_again_replaces_the_key(key_id: str) -> None:
    assert kernel.store_key(key_id, KEY, 60)
    assert kernel.store_key(key_id, b"\x00" * 16 + b"\xff" * 16, 60)
    assert kernel.fetch_key(key_id) == b"\x00" * 16 + b"\xff" * 16


@usable
def test_the_key_expires_after_its_timeout(key_id: str) -> None:
    assert kernel.store_key(key_id, KEY, 1)
    assert kernel.fetch_key(key_id) == KEY
    deadline = time.monotonic() + 5
    while kernel.fetch_key(key_id) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert kernel.fetch_key(key_id) is None


@usable
def test_a_key_stays_in_its_session(key_id: str) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", NEW_SESSION, key_id, KEY.hex(), STEP],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as holder:
        try:
            assert holder.stdout is not None and holder.stdin is not None
            assert holder.stdout.readline().strip() == "True"
            assert holder.stdout.readline().strip() == KEY.hex()  # its child, same session
            assert kernel.fetch_key(key_id) is None  # this process: another session
            assert step("fetch", key_id) == "none"
            _, err = holder.communicate("\n", timeout=30)
            assert holder.returncode == 0, err
        finally:
            if holder.poll() is None:
                holder.kill()
                holder.wait()


@usable
@pytest.mark.skipif(os.getuid() != 0, reason="needs root to read as another user")
def test_another_user_cannot_read_the_key_even_by_its_serial(key_id: str) -> None:
    """A process of another uid in a session of its own gets nothing, even asking by number.

    (A child that changes uid but keeps its parent's session would still *possess*
    the key: possession follows the session keyring, which is why ``su`` and login
    managers give each login a new one through ``pam_keyinit``.)
    """
    import ctypes

    assert kernel.store_key(key_id, KEY, 60)
    calls = kernel._bound()
    assert calls is not None
    serial = kernel._find(calls, kernel._description(key_id))
    assert serial is not None
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reader)
            os.setgid(65534)
            os.setuid(65534)
            assert calls.keyctl(1, 0) > 0  # a session of its own, as its login would have
            found = kernel.fetch_key(key_id)
            buffer = ctypes.create_string_buffer(64)
            read = calls.keyctl(kernel.KEYCTL_READ, serial, buffer, 64)
            errno = ctypes.get_errno()
            os.write(writer, f"{found!r} {read} {errno}".encode())
        except BaseException as exc:  # report, never raise out of a forked pytest
            os.write(writer, type(exc).__name__.encode())
        finally:
            os._exit(0)
    os.close(writer)
    answer = os.read(reader, 4096)
    os.close(reader)
    os.waitpid(pid, 0)
    assert answer == b"None -1 13"  # not found by search; EACCES by serial


class RefusingCalls:
    """What a seccomp profile that forbids keyctl looks like from here: every call fails."""

    def keyctl(self, *args: object) -> int:
        return -1

    def add_key(self, description: bytes, payload: bytes, keyring: int) -> int:
        return -1


def test_without_a_kernel_keyring_nothing_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernel, "_bound", lambda: None)
    assert not kernel.available()
    assert kernel.store_key("abc", KEY, 60) is False
    assert kernel.fetch_key("abc") is None
    kernel.forget("abc")
    monkeypatch.setattr(kernel, "_bound", RefusingCalls)
    assert not kernel.available()
    assert kernel.store_key("abc", KEY, 60) is False
    assert kernel.fetch_key("abc") is None
    kernel.forget("abc")


def test_bad_arguments_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="invalid key id"):
        kernel.store_key("a b", KEY, 60)
    with pytest.raises(ValueError, match="invalid key id"):
        kernel.fetch_key("")
    with pytest.raises(ValueError, match="a key is 1 to 1024 bytes"):
        kernel.store_key("abc", b"", 60)
    with pytest.raises(ValueError, match="0 for none"):
        kernel.store_key("abc", KEY, -1)


def test_every_architecture_name_maps_to_its_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    cases = {"x86_64": (248, 250), "aarch64": (217, 219), "armv7l": (309, 311)}
    cases |= {"ppc64le": (269, 271), "s390x": (278, 280), "i686": (286, 288)}
    cases |= {"riscv64": (217, 219), "mips64": None}
    for machine, expected in cases.items():
        fake = os.uname_result(("Linux", "host", "6.1", "#1", machine))
        monkeypatch.setattr(os, "uname", lambda fake=fake: fake)
        assert kernel._syscall_numbers() == expected, machine


# A container runtime's seccomp profile, for real: this process forbids itself add_key and
# keyctl (EPERM, as Docker's default profile does) and then uses the keyring as the shim would.
SECCOMP = """
import ctypes, sys
from mcpcred.keychain import kernel
add_key, keyctl = kernel._syscall_numbers()
EPERM, ALLOW, ERRNO = 1, 0x7FFF0000, 0x00050000
LOAD_NR, JEQ, RET = 0x20, 0x15, 0x06
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                ("k", ctypes.c_uint)]
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
rules = (Filter * 5)(
    Filter(LOAD_NR, 0, 0, 0),
    Filter(JEQ, 2, 0, add_key),
    Filter(JEQ, 1, 0, keyctl),
    Filter(RET, 0, 0, ALLOW),
    Filter(RET, 0, 0, ERRNO | EPERM),
)
program = Program(5, rules)
libc = ctypes.CDLL(None, use_errno=True)
assert libc.prctl(38, 1, 0, 0, 0) == 0                      # PR_SET_NO_NEW_PRIVS
assert libc.prctl(22, 2, ctypes.byref(program), 0, 0) == 0  # PR_SET_SECCOMP, FILTER
print(kernel.available(), kernel.store_key(sys.argv[1], b"k" * 32, 60),
      kernel.fetch_key(sys.argv[1]), kernel.forget(sys.argv[1]))
"""


@usable
@pytest.mark.skipif(
    kernel._syscall_numbers() is None, reason="no system call numbers for this architecture"
)
def test_a_seccomp_profile_that_forbids_keyctl_is_no_error(key_id: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SECCOMP, key_id],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "False False None None", "")
    assert proc_keys_line(key_id) is None  # nothing got through
