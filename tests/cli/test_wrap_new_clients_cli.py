"""A config of a newer client that does not parse is left alone, with one line naming where.

The same refusal as for the first eight clients, in each client's own file and
format: the file keeps its bytes, nothing reaches the keychain, exit code 3,
and the message starts with ``file:line:column``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen
from tests.support.cli import run

TOKEN = tokengen.generate("github-pat", random.Random(77))
JSON_BROKEN = '{\n  "%s": {\n    "gh": {"command": "npx", "env": {"T": "%s"}},,\n  }\n}\n'
CASES = [
    ("opencode", ".config/opencode/opencode.json", JSON_BROKEN % ("mcp", TOKEN), 3),
    ("copilot-cli", ".copilot/mcp-config.json", JSON_BROKEN % ("mcpServers", TOKEN), 3),
    (
        "cline",
        ".cline/data/settings/cline_mcp_settings.json",
        JSON_BROKEN % ("mcpServers", TOKEN),
        3,
    ),
    ("kiro", ".kiro/settings/mcp.json", JSON_BROKEN % ("mcpServers", TOKEN), 3),
    ("amp", ".config/amp/settings.json", JSON_BROKEN % ("amp.mcpServers", TOKEN), 3),
    ("crush", ".config/crush/crush.json", JSON_BROKEN % ("mcp", TOKEN), 3),
    ("amazon-q", ".aws/amazonq/mcp.json", JSON_BROKEN % ("mcpServers", TOKEN), 3),
    ("lm-studio", ".lmstudio/mcp.json", JSON_BROKEN % ("mcpServers", TOKEN), 3),
    ("jetbrains", ".junie/mcp/mcp.json", JSON_BROKEN % ("mcpServers", TOKEN), 3),
    (
        "goose",
        ".config/goose/config.yaml",
        f"extensions:\n  gh:\n    cmd: npx\n    envs: {{T: {TOKEN}}}\n    args: [a,\n",
        6,
    ),
    (
        "continue",
        ".continue/config.yaml",
        f"mcpServers:\n  - name: gh\n    command: npx\n    env:\n      T: {TOKEN}\n     bad: x\n",
        6,
    ),
]


@pytest.mark.parametrize(("client", "relative", "text", "line"), CASES, ids=[c[0] for c in CASES])
def test_a_config_that_does_not_parse_is_left_alone(
    keychain: dict[str, str], home: Path, client: str, relative: str, text: str, line: int
) -> None:
    path = home / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    result = run("wrap", client, "--yes")
    assert result.code == 3, result.stderr
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith(f"error: {path}:{line}:"), first  # file:line:column
    assert TOKEN not in result.stderr + result.stdout
    assert path.read_text(encoding="utf-8") == text
    assert real_keychain.lookup(keychain, "mcpcred", "github-pat") is None
