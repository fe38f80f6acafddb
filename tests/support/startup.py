"""What a shim start costs in processes and connections, and a Python with ``keyrings.alt``.

``keyrings.alt`` beside ``keyring`` is common in developers' environments, and it changes
what keyring's discovery returns (its ``ChainerBackend``). It is not in the test extra:
installed in .venv it would change the backend every other test sees (a machine without
a keychain would get the plain-text backend instead of "no keychain"), so
``install_keyrings_alt`` puts it in a folder of its own, which only the tests that want
it add to ``PYTHONPATH`` of the processes they start.

``PROBE`` is a ``sitecustomize`` module: with its folder on ``PYTHONPATH`` and
``MCPCRED_TEST_PROBE_LOG`` naming a file, the process records every socket connection,
subprocess and exec through the interpreter's audit hooks (PEP 578), one line each, as it
happens (the shim execs the server, so nothing would run at exit). ``probed`` reads it
back, up to the exec that turns the shim into the server.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LOG_VAR = "MCPCRED_TEST_PROBE_LOG"
PROBE = f'''"""Test probe: log connections, subprocesses and execs of this process (audit hooks)."""
import os
import sys

_LOG = os.environ.get("{LOG_VAR}")
_EVENTS = {{
    "socket.connect": "connect",
    "subprocess.Popen": "spawn",
    "os.posix_spawn": "spawn",
    "os.fork": "spawn",
    "os.system": "spawn",
    "os.exec": "exec",
}}


def _hook(event, args):
    kind = _EVENTS.get(event)
    if kind is None or not _LOG:
        return
    if kind == "connect":
        what = args[1]
    elif kind == "exec" or event == "subprocess.Popen" or event == "os.posix_spawn":
        what = args[0]
    else:
        what = event
    line = "%d %s %r\\n" % (os.getpid(), kind, what)
    if kind == "exec":  # what the shim had imported when it became the server
        line += "%d modules %r\\n" % (os.getpid(), sorted(sys.modules))
    line = line.encode()
    fd = os.open(_LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


sys.addaudithook(_hook)
'''


@dataclass
class Probed:
    """What one shim process did before it became the server."""

    connects: list[str] = field(default_factory=list)
    spawns: list[str] = field(default_factory=list)
    execs: list[str] = field(default_factory=list)
    modules: set[str] = field(default_factory=set)  # sys.modules at the exec

    def connections_to(self, socket_path: str) -> int:
        """How many connections went to the Unix socket ``socket_path``."""
        return sum(1 for address in self.connects if socket_path in address)


def write_probe(folder: Path) -> Path:
    """``folder/sitecustomize.py`` holding ``PROBE``; the folder, for ``PYTHONPATH``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(PROBE)
    return folder


def probed(log: Path) -> Probed:
    """The events of the first process in ``log`` up to (and including) its first exec."""
    found = Probed()
    if not log.exists():
        return found
    lines = log.read_text().splitlines()
    first_pid = lines[0].split(" ", 1)[0] if lines else ""
    for line in lines:
        pid, kind, what = line.split(" ", 2)
        if pid != first_pid:  # a child's own events (its spawn is already counted)
            continue
        if kind == "modules":
            found.modules = set(ast.literal_eval(what))
            break
        if kind == "exec":
            found.execs.append(what)
            continue
        (found.connects if kind == "connect" else found.spawns).append(what)
    return found


def install_keyrings_alt(target: Path) -> Path:
    """``keyrings.alt`` installed into ``target`` (not .venv); the folder, for ``PYTHONPATH``.

    Its dependencies (``jaraco.*``) come with ``keyring`` already. Raises with pip's
    output when the package registry cannot be reached: CI always reaches it.
    """
    result = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
            "--no-deps", "--target", str(target), "keyrings.alt",
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if result.returncode != 0 or not (target / "keyrings" / "alt").is_dir():
        raise RuntimeError(f"pip could not install keyrings.alt: {result.stderr.strip()[-800:]}")
    return target
