"""Recorded-fixture stand-ins for password-manager CLIs that do not install here.

1Password's ``op`` and HashiCorp's ``vault`` are not in any package registry this
project may use, and Bitwarden's ``bw get`` needs a Bitwarden server. So each test
puts a small executable of that name first on the server's PATH; it writes the argv
it was given (and whether stdin was empty) to a file, then prints what the real
tool prints in that case (outputs recorded from the tools' documentation and their
error messages) and exits with the real tool's status. What this proves: the exact
command line mcpcred runs, and how it reads each answer. Not proved: that the real
tools still print these texts.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

# the real tools' words for the cases mcpcred tells apart (stderr, exit status)
OP_SIGNED_OUT = (
    "[ERROR] 2026/12/04 10:00:00 could not read secret 'op://Private/GitHub/token': "
    "error initializing client: You are not currently signed in. Please run `op signin --help` "
    "for instructions\n",
    1,
)
OP_NO_ITEM = (
    "[ERROR] 2026/12/04 10:00:00 could not read secret 'op://Private/Nope/token': "
    '"Nope" isn\'t an item in the "Private" vault. Specify the item with its UUID, name, or '
    "domain.\n",
    1,
)
BW_LOCKED = ("Vault is locked.\n", 1)
BW_LOGGED_OUT = ("You are not logged in.\n", 1)
BW_NOT_FOUND = ("Not found.\n", 1)
VAULT_403 = (
    "Error reading secret/data/app: Error making API request.\n\n"
    "URL: GET http://127.0.0.1:8200/v1/secret/data/app\nCode: 403. Errors:\n\n"
    "* permission denied\n",
    2,
)
VAULT_NO_FIELD = ('Field "nope" not present in secret\n', 1)

_SCRIPT = """#!{python}
import json, os, sys, time
spec = json.load(open({spec!r}))
record = {{"argv": sys.argv[1:], "stdin": sys.stdin.read(), "bw_session": os.environ.get("BW_SESSION")}}
with open({log!r}, "a") as log:
    log.write(json.dumps(record) + "\\n")
time.sleep(spec.get("sleep", 0))
sys.stdout.write(spec.get("stdout", ""))
sys.stderr.write(spec.get("stderr", ""))
sys.exit(spec.get("code", 0))
"""


class FakeTool:
    """One fake executable in ``folder``; ``answer`` sets what its next runs print."""

    def __init__(self, folder: Path, name: str) -> None:
        self.spec = folder / f"{name}.spec.json"
        self.log = folder / f"{name}.log"
        path = folder / name
        path.write_text(
            _SCRIPT.format(python=sys.executable, spec=str(self.spec), log=str(self.log))
        )
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        self.answer()

    def answer(self, stdout: str = "", stderr: str = "", code: int = 0, sleep: float = 0) -> None:
        self.spec.write_text(
            json.dumps({"stdout": stdout, "stderr": stderr, "code": code, "sleep": sleep})
        )

    def calls(self) -> list[dict[str, object]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


def path_with(folder: Path) -> str:
    """PATH with ``folder`` first (the fakes), then the system's."""
    return str(folder) + os.pathsep + os.environ.get("PATH", os.defpath)
