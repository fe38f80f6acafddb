"""Issue 14 §5: a container-like run. No D-Bus, no ``XDG_RUNTIME_DIR``, a private ``/tmp``,
and a home that cannot be written to except the data folder (the volume a dev container
mounts), with the whole user path: ``store init --file``, ``secret set``, a shim with
``MCPCRED_PASSPHRASE``, ``store unlock`` and shims served by the agent, ``store lock``.

The run is real: one mount namespace of its own (``unshare --mount``) in which the home is
bound read-only and the data folder read-write over it (root ignores permission bits, not
a read-only mount), and ``/tmp`` is a fresh tmpfs, as in a container. With no runtime
folder (no ``XDG_RUNTIME_DIR``, no ``/run/user/UID``) the agent lives in
``/tmp/mcpcred-agent-UID`` (docs/stores.md, "Where the socket is"), here inside that
namespace's ``/tmp``, so it can meet no other test's agent. Each command gets a session
keyring of its own (a container's processes share none with the host), so what the
shims get after ``store unlock`` comes from the agent.

An unprivileged uid (``os.setuid`` in a forked child) would be the other way to a
read-only home; it is not used because on the machines this suite runs on the Python
interpreter lives under root's home (mode 700), which another uid cannot execute.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.keychain import FILE_STORE
from tests.support.headless import REPORT

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
PASSPHRASE = "container passphrase, from a secret file in real life"
VALUE = "sk-container-4f9Qz7Lr2Xw8Vb3Nc6Md1Ka5"
# A fresh session keyring for this process (KEYCTL_JOIN_SESSION_KEYRING with no name),
# then the command: a container's processes share no session keyring with the host.
LAUNCH = (
    "import os, sys\n"
    "from mcpcred.keychain import kernel\n"
    "calls = kernel._bound()\n"
    "if calls is not None:\n"
    "    calls.keyctl(1, 0)\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n"
)


def _unshare_refused() -> str | None:
    """Why a mount namespace with a read-only bind and a tmpfs cannot be had here, or None."""
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return "needs Linux with unshare(1)"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c",
         "mount -t tmpfs tmpfs /tmp && mount --bind /tmp /tmp && mount -o remount,ro,bind /tmp"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if probe.returncode != 0:
        return (
            "the kernel refuses a private mount namespace with a read-only bind mount here "
            f"(unshare --mount as uid {os.geteuid()}: {probe.stderr.strip()[:160]}); "
            "an unprivileged uid cannot run the interpreter under root's home either"
        )
    return None


pytestmark = pytest.mark.skipif(_unshare_refused() is not None, reason=str(_unshare_refused()))


@pytest.fixture
def places() -> Iterator[tuple[Path, Path]]:
    """A home and a folder for the results, outside ``/tmp`` (a tmpfs hides it inside)."""
    base = Path(tempfile.mkdtemp(prefix="mcc-", dir="/var/tmp"))
    try:
        (base / "home").mkdir()
        (base / "out").mkdir()
        yield base / "home", base / "out"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _snapshot(root: Path, skip: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` but ``skip`` (the data folder), with its size and mtime."""
    return {
        str(path): (path.lstat().st_size, path.lstat().st_mtime_ns)
        for path in root.rglob("*")
        if path != skip and skip not in path.parents
    }


def test_a_read_only_home_no_runtime_folder_and_the_agent_in_a_private_tmp(
    places: tuple[Path, Path],
) -> None:
    home, out = places
    data = home / ".local" / "share" / "mcpcred"
    data.mkdir(parents=True, mode=0o700)
    config = home / ".config"
    config.mkdir()  # exists, as in a real home, and read-only like the rest
    launch = [sys.executable, "-c", LAUNCH]
    mcpcred = shlex.join([*launch, MCPCRED])
    shim = shlex.join(
        [*launch, MCPCRED, "shim", "--backend", FILE_STORE, "--", sys.executable, "-c", REPORT]
    )
    steps = [
        ("init", f"{mcpcred} store init --file"),
        ("set", f'printf %s "$VALUE" | {mcpcred} secret set api --from-stdin'),
        ("shim_variable", shim),
        ("unlock", f"{mcpcred} store unlock"),
        ("agent_folder", "stat -c '%u %a' /tmp/mcpcred-agent-$(id -u) && "
         "test -S /tmp/mcpcred-agent-$(id -u)/agent.sock && ls /run/user"),
        *[(f"shim_agent_{i}", f"env -u MCPCRED_PASSPHRASE {shim}") for i in range(3)],
        ("lock", f"env -u MCPCRED_PASSPHRASE {mcpcred} store lock"),
        ("shim_locked", f"env -u MCPCRED_PASSPHRASE {shim}"),
        # a data folder that is read-only too (a volume mounted ro by mistake)
        ("read_only_data", f"mount -o remount,ro,bind {shlex.quote(str(data))} && "
         f'printf x | {mcpcred} secret set other --from-stdin'),
    ]  # fmt: skip
    script = [
        "set -u",
        "mount -t tmpfs -o mode=1777 tmpfs /tmp",  # the container's own /tmp
        'mount --bind "$HOME" "$HOME" && mount -o remount,ro,bind "$HOME"',
        # the data folder: a volume, writable (a bind inside a read-only mount starts
        # read-only, hence the remount)
        f"mount --bind {shlex.quote(str(data))} {shlex.quote(str(data))}",
        f"mount -o remount,rw,bind {shlex.quote(str(data))}",
        f"stop_agent() {{ {mcpcred} agent stop >/dev/null 2>&1; }}",
        "trap stop_agent EXIT",  # the agent ends with the run, whatever happens
        'if touch "$HOME/probe" 2>/dev/null; then echo writable > "$OUT/premise"; fi',
    ]
    for name, command in steps:
        script.append(f'{{ {command}; }} >"$OUT/{name}.out" 2>"$OUT/{name}.err"')
        script.append(f'echo $? >"$OUT/{name}.rc"')
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MCPCRED_PASSPHRASE": PASSPHRASE,
        "API_TOKEN": "mcpcred:secret/api",  # the wrapped server's env: a reference
        "VALUE": VALUE,
        "OUT": str(out),
    }  # no DBUS_SESSION_BUS_ADDRESS, no XDG_RUNTIME_DIR, no MCPCRED_RUNTIME_DIR
    before = _snapshot(home, data)
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", "\n".join(script)],
        env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    def result(name: str) -> tuple[int, str, str]:
        rc = (out / f"{name}.rc").read_text().strip()
        return int(rc), (out / f"{name}.out").read_text(), (out / f"{name}.err").read_text()

    assert not (out / "premise").exists()  # the home really was read-only
    for name in ("init", "set", "unlock", "lock"):
        code, _, err = result(name)
        assert code == 0, (name, err)
    store = data / "store.enc"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600 and VALUE.encode() not in store.read_bytes()

    code, stdout, err = result("shim_variable")
    assert code == 0, err
    seen = json.loads(stdout)["env"]
    assert seen["API_TOKEN"] == VALUE and "MCPCRED_PASSPHRASE" not in seen

    code, stdout, err = result("agent_folder")
    assert code == 0, err
    print(repr(stdout), repr(err), result("unlock"))
    owner, mode = stdout.splitlines()[0].split()
    assert owner == str(os.geteuid()) and mode == "700"
    assert "the mcpcred agent" in result("unlock")[2]

    for index in range(3):
        code, stdout, err = result(f"shim_agent_{index}")
        assert code == 0, err
        assert json.loads(stdout)["env"]["API_TOKEN"] == VALUE and err == ""

    code, stdout, err = result("shim_locked")
    assert code == 5 and stdout == "" and VALUE not in err
    assert "mcpcred store unlock" in err and "MCPCRED_PASSPHRASE_FILE" in err
    assert _snapshot(home, data) == before  # nothing written outside the data folder

    code, _, err = result("read_only_data")  # one line and exit 5, not "a bug in mcpcred"
    assert code == 5, err
    assert err.startswith("error: cannot write the file store ") and "Read-only file system" in err
