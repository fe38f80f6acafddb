"""``mcpcred wrap claude-desktop --remote URL --name NAME``: a remote server as a bridge entry.

The secret header value comes from stdin (or a prompt), never from argv: a value
that looks like a credential on the command line is refused without being
echoed. The rest of the file stays byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support import tokengen

MCPCRED = Path(sys.executable).parent / "mcpcred"
URL = "https://mcp.linear.example.com/mcp"


@pytest.fixture
def config(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    path.write_text('{\n  "mcpServers": {},\n  "preferences": {"sidebarMode": "chat"}\n}\n')
    path.chmod(0o600)
    return path


def mcpcred(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MCPCRED), *args],
        input=stdin,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_secret_header_from_stdin_goes_to_the_keychain(
    keychain: dict[str, str], config: Path, tmp_path: Path
) -> None:
    token = tokengen.generate("linear-api-key", random.Random(5))
    done = mcpcred(
        "wrap", "claude-desktop", "--remote", URL, "--name", "linear", "--header",
        "X-Team: core", "--header-from-stdin", "Authorization", "--yes",
        stdin=f"Bearer {token}\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert token not in done.stdout + done.stderr
    data = json.loads(config.read_text())
    assert data["preferences"] == {"sidebarMode": "chat"}
    entry = data["mcpServers"]["linear"]
    assert set(entry) == {"command", "args"}
    assert entry["command"] == str(MCPCRED)
    args = entry["args"]
    assert args[:5] == ["shim", "--server", "linear", "--client", "claude-desktop"]
    assert args[args.index("--url") + 1] == URL
    headers = [args[i + 1] for i, a in enumerate(args) if a == "--header"]
    assert headers[0] == "X-Team: core"
    assert headers[1].startswith("Authorization: Bearer {{mcpcred:secret/")
    name = headers[1].split("secret/", 1)[1].rstrip("}")
    assert real_keychain.lookup(keychain, "mcpcred", name) == token
    for path in (tmp_path / "data").rglob("*"):
        if path.is_file():
            assert token not in path.read_text()
    assert token not in config.read_text()

    again = mcpcred("wrap", "claude-desktop", "--remote", URL, "--name", "linear", "--yes")
    assert again.returncode == 2
    assert "already has a server named 'linear'" in again.stderr

    # nothing recorded to restore: unwrap says so and leaves it
    before = config.read_bytes()
    unwrap = mcpcred("unwrap", "claude-desktop", "--yes")
    assert unwrap.returncode == 0, unwrap.stderr
    assert "no record of the entry it replaced" in unwrap.stderr
    assert config.read_bytes() == before


def test_a_credential_on_the_command_line_is_refused_and_not_echoed(
    keychain: dict[str, str], config: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random(6))
    before = config.read_bytes()
    header = mcpcred(
        "wrap", "claude-desktop", "--remote", URL, "--name", "gh", "--header",
        f"Authorization: Bearer {token}", "--yes",
    )  # fmt: skip
    assert header.returncode == 2
    assert "--header-from-stdin Authorization" in header.stderr
    query = mcpcred(
        "wrap", "claude-desktop", "--remote", f"{URL}?api_key={token}", "--name", "gh", "--yes"
    )
    assert query.returncode == 2
    assert "the URL holds a credential" in query.stderr
    for result in (header, query):
        assert token not in result.stdout + result.stderr
    plain = mcpcred("wrap", "claude-desktop", "--remote", "http://mcp.example.com/mcp",
                    "--name", "gh", "--yes")  # fmt: skip
    assert plain.returncode == 2 and "--allow-http" in plain.stderr
    assert config.read_bytes() == before
    empty = mcpcred("wrap", "claude-desktop", "--remote", URL, "--name", "gh",
                    "--header-from-stdin", "Authorization", "--yes", stdin="")  # fmt: skip
    assert empty.returncode == 2 and "no value for header Authorization" in empty.stderr
    bad_name = mcpcred("wrap", "claude-desktop", "--remote", URL, "--name", "My Server", "--yes")
    assert bad_name.returncode == 2
    other = mcpcred("wrap", "cursor", "--remote", URL, "--name", "x", "--yes")
    assert other.returncode == 2 and "Claude Desktop only" in other.stderr


def test_oauth_uses_the_login_of_the_same_name(keychain: dict[str, str], config: Path) -> None:
    done = mcpcred(
        "wrap", "claude-desktop", "--remote", URL, "--name", "linear", "--oauth",
        "--transport", "http", "--yes",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"mcpcred login {URL} --name linear" in done.stderr
    args = json.loads(config.read_text())["mcpServers"]["linear"]["args"]
    assert args[args.index("--header") + 1] == "Authorization: Bearer {{mcpcred:oauth/linear}}"
    assert args[args.index("--transport") + 1] == "http"


def test_oauth_for_a_provider_name_uses_the_server_login_name(
    keychain: dict[str, str], config: Path
) -> None:
    """`github` is the GitHub provider's own login; a server's login is `github-mcp`."""
    url = "https://api.example.com/mcp/"
    done = mcpcred(
        "wrap", "claude-desktop", "--remote", url, "--name", "github", "--oauth", "--yes"
    )
    assert done.returncode == 0, done.stderr
    assert f"mcpcred login {url} --name github-mcp" in done.stderr
    args = json.loads(config.read_text())["mcpServers"]["github"]["args"]
    assert "Authorization: Bearer {{mcpcred:oauth/github-mcp}}" in args
