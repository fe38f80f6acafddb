"""``mcpcred status --check``: every reference resolved now (keychain and password managers),
its state shown, its value never. With the real keychain and a real ``cmd:`` program."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tests.support import keychain as real_keychain
from tests.support.cli import run


def test_keychain_and_manager_references_get_their_states(
    keychain: dict[str, str], home: Path
) -> None:
    real_keychain.store(keychain, "mcpcred", "present", "status-canary-value-1")
    ok_cmd = json.dumps([sys.executable, "-c", "print('status-canary' + '-value-2')"])
    bad_cmd = json.dumps([sys.executable, "-c", "import sys; sys.exit(4)"])
    env = {
        "A": "mcpcred:secret/present",
        "B": "mcpcred:secret/absent",
        "C": "mcpcred:cmd/" + ok_cmd,
        "D": "mcpcred:cmd/" + bad_cmd,
    }
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    shim = [str(Path(sys.executable).parent / "mcpcred"), "shim", "--server", "s", "--", "x"]
    entry = {"command": shim[0], "args": shim[1:], "env": env}
    config.write_text(json.dumps({"mcpServers": {"s": entry}}))
    result = run("status", "--check", "--json")
    assert result.code == 1, result.stderr  # "absent" and the failing program do not resolve
    states = {
        c["reference"]: c["state"] for c in json.loads(result.stdout)["servers"][0]["credentials"]
    }
    assert states == {
        "mcpcred:secret/present": "ok",
        "mcpcred:secret/absent": "missing",
        "mcpcred:cmd/" + ok_cmd: "ok",
        "mcpcred:cmd/" + bad_cmd: states["mcpcred:cmd/" + bad_cmd],
    }
    assert states["mcpcred:cmd/" + bad_cmd].startswith("error: cmd ")
    assert "exited with status 4" in states["mcpcred:cmd/" + bad_cmd]
    text = run("status", "--check")
    assert text.code == 1, text.stderr
    assert "claude-desktop/s mcpcred:secret/absent (missing)" in text.stderr
    for output in (result.stdout + result.stderr, text.stdout + text.stderr):
        assert "status-canary-value" not in output
