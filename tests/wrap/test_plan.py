"""Planning details that the per-client contract does not pin down."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path

from mcpcred.clients import BY_ID
from mcpcred.clients.running import running
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.wrap import service
from mcpcred.wrap.plan import ShimSettings
from tests.support import tokengen
from tests.support.memkeyring import MemoryKeyring


def _plan(path: Path, tmp_path: Path, client: str = "cursor") -> list[service.FilePlan]:
    store = SecretStore(MemoryKeyring())
    return service.plan_wrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings("/opt/mcpcred", None, None, linux=True),
        namer=service.SecretNamer(store, SecretIndex(tmp_path / "i.json")),
    )


def test_json_inside_a_string_gets_an_embedded_reference(tmp_path: Path) -> None:
    token = tokengen.generate("slack-bot-token", random.Random(1))
    config = tmp_path / "mcp.json"
    blob = json.dumps({"team": "T1", "token": token})
    config.write_text(
        json.dumps({"mcpServers": {"slack": {"command": "x", "env": {"SLACK_CONFIG": blob}}}})
    )
    (plan,) = _plan(config, tmp_path)
    env = json.loads(plan.new_text)["mcpServers"]["slack"]["env"]["SLACK_CONFIG"]
    assert token not in plan.new_text
    assert json.loads(env) == {"team": "T1", "token": "{{mcpcred:secret/slack-bot-token}}"}


def test_a_url_password_in_an_arg_is_replaced_in_place(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    url = "postgresql://app:Zq8rT2vLx9PwK4mN@db.internal:5432/app"
    config.write_text(
        json.dumps(
            {"mcpServers": {"pg": {"command": "npx", "args": ["-y", "server-postgres@1.0.0", url]}}}
        )
    )
    (plan,) = _plan(config, tmp_path)
    args = json.loads(plan.new_text)["mcpServers"]["pg"]["args"]
    assert args[-1] == "postgresql://app:{{mcpcred:secret/pg-secret}}@db.internal:5432/app"
    (server,) = plan.servers
    assert any("process list" in note for note in server.notes)


def test_docker_env_flags_move_the_value_into_env(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(2))
    config = tmp_path / "mcp.json"
    args = [
        "run",
        "-i",
        "--rm",
        "-e",
        f"GITHUB_PERSONAL_ACCESS_TOKEN={token}",
        "ghcr.io/github/github-mcp-server",
    ]
    config.write_text(json.dumps({"mcpServers": {"gh": {"command": "docker", "args": args}}}))
    (plan,) = _plan(config, tmp_path)
    entry = json.loads(plan.new_text)["mcpServers"]["gh"]
    assert entry["args"][-3:] == [
        "-e",
        "GITHUB_PERSONAL_ACCESS_TOKEN",
        "ghcr.io/github/github-mcp-server",
    ]
    assert entry["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcred:secret/github-pat"}
    assert token not in plan.new_text


def test_windows_cmd_c_entries_keep_cmd_inside_the_shim(tmp_path: Path) -> None:
    config = tmp_path / "mcp.json"
    config.write_text(
        json.dumps(
            {"mcpServers": {"w": {"command": "cmd", "args": ["/c", "npx", "-y", "pkg@1.0.0"]}}}
        )
    )
    (plan,) = _plan(config, tmp_path)
    args = json.loads(plan.new_text)["mcpServers"]["w"]["args"]
    assert args[args.index("--") + 1 :] == ["cmd", "/c", "npx", "-y", "pkg@1.0.0"]


def test_a_running_client_is_noticed(tmp_path: Path) -> None:
    fake = tmp_path / "codex"
    shutil.copy("/bin/sleep", fake)
    os.chmod(fake, 0o700)
    process = subprocess.Popen([str(fake), "30"])
    try:
        time.sleep(0.1)
        assert running("codex")
    finally:
        process.kill()
        process.wait()


def test_a_secret_added_to_a_wrapped_server_still_moves(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(4))
    config = tmp_path / "mcp.json"
    entry = {
        "command": "/opt/mcpcred",
        "args": ["shim", "--server", "gh", "--", "npx", "server-github@1.0.0"],
        "env": {"GITHUB_TOKEN": "mcpcred:secret/github-pat", "NEW_TOKEN": token},
    }
    config.write_text(json.dumps({"mcpServers": {"gh": entry}}))
    (plan,) = _plan(config, tmp_path)
    after = json.loads(plan.new_text)["mcpServers"]["gh"]
    assert after["args"] == entry["args"]  # never wrapped twice
    assert after["env"]["NEW_TOKEN"].startswith("mcpcred:secret/")
    assert token not in plan.new_text
