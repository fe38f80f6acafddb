"""The README's first command, as a new user runs it: ``pipx install . && mcpcred wrap ...``.

pipx builds mcpcred from this checkout into a virtual environment of its own (the
reason the README leads with it: ``pip install .`` fails on a system Python), then the
installed ``mcpcred`` wraps a real Claude Desktop config against the real keychain, a
real MCP client (the Python SDK, with its scrubbed environment) starts the wrapped
server and gets the token, and ``mcpcred doctor`` from the same install passes.

pip's download cache lives in ``.cache/pip-readme`` next to the npm parts, so only the
first run downloads; a run takes ~10 s warm, ~30 s cold. Without pipx on PATH (it comes
from apt with ``./scripts/test``) the test is skipped.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import mcp_parts, tokengen

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.mark.skipif(shutil.which("pipx") is None, reason="pipx is not installed")
def test_pipx_install_then_wrap_works_end_to_end(
    keychain: dict[str, str], home: Path, tmp_path: Path
) -> None:
    env = dict(os.environ)
    env.update(
        PIPX_HOME=str(tmp_path / "pipx"),
        PIPX_BIN_DIR=str(tmp_path / "bin"),
        PIP_CACHE_DIR=str(ROOT / ".cache" / "pip-readme"),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    installed = _run(["pipx", "install", str(ROOT)], env, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    mcpcred = tmp_path / "bin" / "mcpcred"
    assert mcpcred.is_file()

    token = tokengen.generate("github-pat", random.Random(15))
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    everything = mcp_parts.everything_entry({"GITHUB_PERSONAL_ACCESS_TOKEN": token})
    config.write_text(json.dumps({"mcpServers": {"everything": everything}}))

    # the README's command, with --yes because a test has no terminal to answer on
    wrapped = _run([str(mcpcred), "wrap", "claude-desktop", "--yes"], env, timeout=120)
    assert wrapped.returncode == 0, wrapped.stderr
    assert token not in wrapped.stdout + wrapped.stderr
    entry = json.loads(config.read_text())["mcpServers"]["everything"]
    assert token not in config.read_text()
    assert entry["command"] == str(mcpcred)  # the pipx install, by absolute path
    assert entry["args"][0] == "shim"

    result = mcp_parts.sdk_call_tool(config, "everything", "get-env", timeout=30)
    assert result.ok, f"{result.error}\n{result.stderr[-2000:]}"
    assert json.loads(result.joined)["GITHUB_PERSONAL_ACCESS_TOKEN"] == token

    doctor = _run([str(mcpcred), "doctor", "claude-desktop"], env, timeout=120)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert token not in doctor.stdout + doctor.stderr
