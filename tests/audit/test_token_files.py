"""audit-config reports mcp-remote's plain-text OAuth token files, with the way out."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.support import sarif, tokengen
from tests.support.cli import run

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _tokens(folder: Path, name: str, *, refresh: bool = True, mode: int = 0o600) -> str:
    rng = random.Random(name)
    access = tokengen.random_string(rng, ALNUM, 48)
    data: dict[str, object] = {"access_token": access, "token_type": "Bearer", "expires_in": 3600}
    secret = access
    if refresh:
        secret = tokengen.random_string(rng, ALNUM, 40)
        data["refresh_token"] = secret
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_tokens.json"
    path.write_text(json.dumps(data, indent=2))
    path.chmod(mode)
    return secret


def test_token_files_are_findings_with_the_migration_command(home: Path) -> None:
    base = home / ".mcp-auth" / "mcp-remote-0.1.29"
    refresh = _tokens(base, "a1b2c3", mode=0o644)
    access = _tokens(base, "d4e5f6", refresh=False)
    (base / "a1b2c3_client_info.json").write_text(json.dumps({"client_id": "x"}))
    (base / "e7f8_tokens.json").write_text("{}")  # no token: nothing to report

    result = run("audit-config", "--format", "json")
    assert result.code == 1, result.stderr
    report = json.loads(result.stdout)
    found = {f["path"]: f for f in report["findings"] if f["rule"].endswith("token-file")}
    shared = found["~/.mcp-auth/mcp-remote-0.1.29/a1b2c3_tokens.json"]
    alone = found["~/.mcp-auth/mcp-remote-0.1.29/d4e5f6_tokens.json"]
    assert len(found) == 2
    assert shared["rule"] == "secret/mcp-remote-token-file"
    assert shared["severity"] == "high" and "readable by other users" in shared["message"]
    assert alone["severity"] == "medium" and "an access token" in alone["message"]
    for finding, token in ((shared, refresh), (alone, access)):
        assert "mcpcred login --import-mcp-remote" in finding["fix"]
        assert finding["client"] == "mcp-remote"
        line = (home / finding["path"][2:]).read_text().splitlines()[finding["line"] - 1]
        assert line[finding["column"] - 1 :].startswith(token)
        assert token not in result.stdout + result.stderr
    files = {f["path"]: f["client"] for f in report["files"]}
    assert files["~/.mcp-auth/mcp-remote-0.1.29/a1b2c3_tokens.json"] == "mcp-remote"

    log = json.loads(run("audit-config", "--format", "sarif").stdout)
    sarif.validate(log)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert "secret/mcp-remote-token-file" in {r["id"] for r in rules}
    assert refresh not in json.dumps(log)

    text = run("audit-config")
    assert "secret/mcp-remote-token-file" in text.stdout
    assert refresh not in text.stdout


def test_mcp_remote_config_dir_moves_the_folder_and_links_are_not_followed(
    home: Path, tmp_path: Path
) -> None:
    moved = tmp_path / "elsewhere"
    token = _tokens(moved / "mcp-remote-0.1.30", "abc")
    (home / ".mcp-auth").mkdir()
    (home / ".mcp-auth" / "linked").symlink_to(moved)  # not the folder: not followed
    result = run("audit-config", "--format", "json", env={"MCP_REMOTE_CONFIG_DIR": str(moved)})
    report = json.loads(result.stdout)
    paths = [f["path"] for f in report["findings"] if f["rule"].endswith("token-file")]
    assert paths == [str(moved / "mcp-remote-0.1.30" / "abc_tokens.json")]
    assert token not in result.stdout

    unmoved = json.loads(run("audit-config", "--format", "json").stdout)
    assert not [f for f in unmoved["findings"] if f["rule"].endswith("token-file")]


def test_a_named_path_scan_does_not_look_at_token_files(home: Path, project: Path) -> None:
    _tokens(home / ".mcp-auth" / "mcp-remote-0.1.29", "abc")
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {}}))
    result = run("audit-config", "--format", "json", ".")
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["rule"].endswith("token-file")]
