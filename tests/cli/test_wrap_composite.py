"""Composite credentials (``SID:secret``, ``user:token``) move as one secret.

The detector recognises one half (a Twilio key SID, a GitHub token); the other
half is the rest of the same credential and must not stay in the file.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run


def test_pairs_move_whole_and_come_back_byte_for_byte(keychain: dict[str, str], home: Path) -> None:
    rng = random.Random(8)
    sid = tokengen.generate("twilio-api-key", rng)
    secret = "".join(rng.choice("0123456789abcdef") for _ in range(32))
    github = tokengen.generate("github-pat", rng)
    atlassian = tokengen.generate("atlassian-api-token", rng)
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    servers = {
        "twilio": {"command": "npx", "env": {"TWILIO_CREDENTIALS": f"{sid}:{secret}"}},
        "github": {"command": "npx", "env": {"GITHUB_AUTH": f"octo-cat:{github}"}},
        "jira": {"command": "npx", "args": ["-y", "jira", f"--auth=ann@example.com:{atlassian}"]},
    }
    original = json.dumps({"mcpServers": servers}, indent=2) + "\n"
    path.write_text(original)

    result = run("wrap", "claude-desktop", "--yes")
    assert result.code == 0, result.stderr
    text = path.read_text()
    for part in (secret, "octo-cat", "ann@example.com", sid, github, atlassian):
        assert part not in text
        assert part not in result.stderr
    wrapped = json.loads(text)["mcpServers"]
    assert wrapped["twilio"]["env"]["TWILIO_CREDENTIALS"] == "mcpcred:secret/twilio-api-key"
    assert wrapped["github"]["env"]["GITHUB_AUTH"] == "mcpcred:secret/github-pat"
    assert "--auth={{mcpcred:secret/atlassian-api-token}}" in wrapped["jira"]["args"]
    stored = real_keychain.lookup(keychain, "mcpcred", "twilio-api-key")
    assert stored == f"{sid}:{secret}"
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") == f"octo-cat:{github}"

    back = run("unwrap", "claude-desktop", "--restore-secrets", "--yes")
    assert back.code == 0, back.stderr
    assert path.read_text() == original
