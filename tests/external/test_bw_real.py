"""``mcpcred:bw/ITEM/FIELD`` with Bitwarden's real CLI (npm ``@bitwarden/cli``, installed by
scripts/test into .cache/bitwarden-cli and named by ``MCPCRED_BW``).

There is no Bitwarden server here, so the real ``bw`` can only be logged out: these tests
prove that it accepts exactly the command line mcpcred runs (``--nointeraction get FIELD
ITEM``, ``get item ITEM``), never waits for a password, and that its real message becomes
the "locked" error. Reading a value is covered with a recorded fixture
(test_managers_fixture.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcpcred import external
from mcpcred.errors import ExternalLocked

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bw_env(tmp_path: Path) -> dict[str, str]:
    bw = os.environ.get("MCPCRED_BW") or str(ROOT / ".cache/bitwarden-cli/node_modules/.bin/bw")
    if not os.access(bw, os.X_OK):
        pytest.fail("the Bitwarden CLI is needed: scripts/test installs it (MCPCRED_BW)")
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "bw").symlink_to(bw)
    env = {k: v for k, v in os.environ.items() if k != "BW_SESSION"}
    env["PATH"] = str(folder) + os.pathsep + env.get("PATH", os.defpath)
    env["BITWARDENCLI_APPDATA_DIR"] = str(tmp_path / "bw-data")  # a fresh, logged-out CLI
    return env


@pytest.mark.parametrize("locator", ["GitHub/password", "GitHub/api key"])
def test_a_logged_out_bw_is_locked_at_once(bw_env: dict[str, str], locator: str) -> None:
    start = time.monotonic()
    with pytest.raises(ExternalLocked) as caught:
        external.fetch("bw", locator, bw_env, 30)
    assert time.monotonic() - start < 20  # --nointeraction: no password prompt to wait on
    assert "You are not logged in." in caught.value.message
    assert caught.value.hint is not None and "BW_SESSION" in caught.value.hint


def test_the_shim_reports_it_in_the_clients_log(bw_env: dict[str, str]) -> None:
    mcpcred = str(Path(sys.executable).parent / "mcpcred")
    env = {**bw_env, "TOKEN": "mcpcred:bw/GitHub/password"}
    request = json.dumps({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}})
    result = subprocess.run(
        [mcpcred, "shim", "--server", "gh", "--", sys.executable, "-c", "print('STARTED')"],
        env=env, input=request + "\n", capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 5
    assert "STARTED" not in result.stdout
    assert "bw is locked or logged out (You are not logged in.)" in result.stderr
    assert json.loads(result.stdout)["id"] == 7
