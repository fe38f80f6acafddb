"""``mcpcred secret``: values go in through stdin or a hidden prompt and come out only on a TTY."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support import keychain as real_keychain
from tests.support.cli import run

TOKEN = "glpat-AbCdEf0123456789xyzW"


def _mcpcred(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpcred", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_set_from_stdin_stores_the_value_and_never_prints_it(keychain: dict[str, str]) -> None:
    result = _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin=TOKEN + "\n")
    assert result.returncode == 0, result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") == TOKEN
    assert TOKEN not in result.stdout + result.stderr
    assert "stored secret 'gitlab'" in result.stderr
    again = _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin="new-value")
    assert "updated secret 'gitlab'" in again.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") == "new-value"


def test_set_needs_a_terminal_or_stdin(keychain: dict[str, str]) -> None:
    result = run("secret", "set", "gitlab")
    assert result.code == 2
    assert "--from-stdin" in result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") is None


def test_set_rejects_bad_names_and_empty_values(keychain: dict[str, str]) -> None:
    bad = _mcpcred("secret", "set", "Bad Name", "--from-stdin", stdin="x")
    assert bad.returncode == 2
    assert "invalid secret name" in bad.stderr
    empty = _mcpcred("secret", "set", "ok", "--from-stdin", stdin="\n")
    assert empty.returncode == 2
    assert real_keychain.lookup(keychain, "mcpcred", "ok") is None


def test_set_refuses_a_value_with_a_nul(keychain: dict[str, str]) -> None:
    """Issue 12: a NUL was stored, and every server start with it failed later (execve)."""
    result = _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin="glpat-\x00tail")
    assert result.returncode == 2
    assert result.stderr.splitlines()[0] == (
        "error: the value for 'gitlab' contains a NUL character, which no environment "
        "variable or argument can hold; nothing was stored"
    )
    assert "glpat" not in result.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") is None


def test_list_shows_names_usage_and_dates_never_values(
    keychain: dict[str, str], home: Path
) -> None:
    _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin=TOKEN)
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir()
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "gl": {"command": "x", "env": {"GITLAB_TOKEN": "mcpcred:secret/gitlab"}},
                    "other": {"command": "y", "env": {"T": "mcpcred:secret/not-stored"}},
                }
            }
        )
    )
    result = run("secret", "list", "--json")
    assert result.code == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["secrets"]}
    assert rows["gitlab"]["stored"] is True
    assert rows["gitlab"]["changed"]
    assert rows["gitlab"]["used_by"][0]["client"] == "cursor"
    assert rows["gitlab"]["used_by"][0]["server"] == "gl"
    assert rows["not-stored"]["stored"] is False
    text = run("secret", "list")
    assert "MISSING" in text.stdout
    assert TOKEN not in result.stdout + text.stdout


def test_rm_refuses_while_a_server_uses_it(keychain: dict[str, str], home: Path) -> None:
    _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin=TOKEN)
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir()
    config.write_text(
        json.dumps({"mcpServers": {"gl": {"command": "x", "env": {"T": "mcpcred:secret/gitlab"}}}})
    )
    refused = run("secret", "rm", "gitlab")
    assert refused.code == 2
    assert "cursor/gl" in refused.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") == TOKEN
    removed = run("secret", "rm", "gitlab", "--yes")
    assert removed.code == 0
    assert real_keychain.lookup(keychain, "mcpcred", "gitlab") is None
    missing = run("secret", "rm", "gitlab", "--yes")
    assert missing.code == 5
    assert "not in the keychain" in missing.stderr


def test_show_only_to_a_terminal_and_only_with_reveal(keychain: dict[str, str]) -> None:
    _mcpcred("secret", "set", "gitlab", "--from-stdin", stdin=TOKEN)
    piped = run("secret", "show", "gitlab", "--reveal")
    assert piped.code == 2
    assert TOKEN not in piped.stdout + piped.stderr
    assert "not a terminal" in piped.stderr

    def on_tty(*args: str) -> tuple[int, str]:
        leader, follower = pty.openpty()
        process = subprocess.Popen(
            [sys.executable, "-m", "mcpcred", *args],
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=subprocess.DEVNULL,
            env=dict(os.environ),
        )
        os.close(follower)
        chunks = []
        while True:
            try:
                data = os.read(leader, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        process.wait(timeout=60)
        os.close(leader)
        return process.returncode, b"".join(chunks).decode()

    code, out = on_tty("secret", "show", "gitlab")
    assert code == 2
    assert TOKEN not in out
    code, out = on_tty("secret", "show", "gitlab", "--reveal")
    assert code == 0
    assert out.strip() == TOKEN


def test_refuses_an_insecure_backend_unless_opted_in(keychain: dict[str, str]) -> None:
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"}
    refused = run("secret", "list", env=env)
    assert refused.code == 5
    assert "refusing keychain backend keyring.backends.null.Keyring" in refused.stderr
    assert "MCPCRED_ALLOW_INSECURE_KEYRING=1" in refused.stderr
    allowed = run("secret", "list", env={**env, "MCPCRED_ALLOW_INSECURE_KEYRING": "1"})
    assert allowed.code == 0
    assert "warning: using insecure keychain backend" in allowed.stderr


def test_a_backend_that_does_not_load_is_a_keychain_error_naming_the_variable(
    keychain: dict[str, str], home: Path
) -> None:
    """A typo in PYTHON_KEYRING_BACKEND, a package not installed, a backend of another OS:
    the user's setting, reported as one keychain error (exit 5), not as a bug (exit 70)."""
    for backend in (
        "keyrings.nosuch.Keyring",  # module not installed
        "nosuch",  # no dot: keyring raises ValueError
        "keyring.backends.SecretService.Nope",  # no such class
        "keyring.backends.macOS.Keyring",  # not usable on this system
    ):
        result = run("secret", "list", env={"PYTHON_KEYRING_BACKEND": backend})
        assert result.code == 5, result.stderr
        first = result.stderr.splitlines()[0]
        assert first.startswith("error: PYTHON_KEYRING_BACKEND names a keyring backend"), first
        assert backend in first
        assert "unexpected" not in result.stderr
        assert "unset PYTHON_KEYRING_BACKEND" in result.stderr
    # keyring's own config file is the other place a backend is named
    config = home / ".config" / "python_keyring" / "keyringrc.cfg"
    config.parent.mkdir(parents=True)
    config.write_text("[backend]\ndefault-keyring = keyrings.nosuch.Keyring\n")
    result = run("secret", "list")
    assert result.code == 5, result.stderr
    assert "keyringrc.cfg names a backend that cannot be loaded" in result.stderr


def test_rm_counts_every_reference_as_in_use(keychain: dict[str, str], home: Path) -> None:
    """A reference in a headers helper command, a URL or an arg is in use; so is one in a
    file mcpcred cannot parse."""
    for name in ("helper", "in-url", "in-arg", "unparsed"):
        _mcpcred("secret", "set", name, "--from-stdin", stdin=TOKEN)
    helper = (
        "/opt/mcpcred headers --server api --client claude-code "
        "--header 'X-Api-Key: mcpcred:secret/helper'"
    )
    servers = {
        "api": {"type": "http", "url": "https://mcp.example.com/mcp", "headersHelper": helper},
        "db": {"type": "sse", "url": "https://u:{{mcpcred:secret/in-url}}@db.example.com/sse"},
        "cli": {"command": "x", "args": ["--key={{mcpcred:secret/in-arg}}"]},
    }
    (home / ".claude.json").write_text(json.dumps({"mcpServers": servers}))
    broken = home / ".cursor" / "mcp.json"
    broken.parent.mkdir()
    broken.write_text('{"mcpServers": {"x": {"env": {"T": "mcpcred:secret/unparsed"}},,}}')
    for name, where in (
        ("helper", "claude-code/api"),
        ("in-url", "claude-code/db"),
        ("in-arg", "claude-code/cli"),
        ("unparsed", "cannot parse"),
    ):
        refused = run("secret", "rm", name)
        assert refused.code == 2, (name, refused.stderr)
        assert where in refused.stderr.splitlines()[0]
        assert real_keychain.lookup(keychain, "mcpcred", name) == TOKEN
    listed = json.loads(run("secret", "list", "--json").stdout)["secrets"]
    used = {row["name"]: [u["server"] for u in row["used_by"]] for row in listed}
    assert used["helper"] == ["api"]


def test_rm_sees_references_behind_a_repeated_key(keychain: dict[str, str], home: Path) -> None:
    """A reference the client does not read, because a later repeated key hides it, is
    still in the file: removing the repeat (what wrap asks for) brings it back."""
    for name in ("in-env", "in-server", "in-block", "live", "unread"):
        _mcpcred("secret", "set", name, "--from-stdin", stdin=TOKEN)
    desktop = home / ".config" / "Claude" / "claude_desktop_config.json"
    desktop.parent.mkdir(parents=True)
    desktop.write_text(
        '{"mcpServers": {\n'
        '  "gh": {"command": "/opt/mcpcred", "args": ["shim", "--", "npx"],\n'
        '         "env": {"T": "mcpcred:secret/in-env", "T": "mcpcred:secret/live"}},\n'
        '  "db": {"command": "/opt/mcpcred", "args": ["shim", "--", "x", '
        '"--key={{mcpcred:secret/in-server}}"]},\n'
        '  "db": {"command": "x"}\n'
        "}}\n"
    )
    cursor = home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text(
        '{"mcpServers": {"s": {"command": "/opt/mcpcred", "args": ["shim", "--", "x"], '
        '"env": {"K": "mcpcred:secret/in-block"}}}, "mcpServers": {}}\n'
    )
    vscode = home / ".config" / "Code" / "User" / "mcp.json"
    vscode.parent.mkdir(parents=True)
    unread = {"x": {"command": "/opt/mcpcred", "env": {"K": "mcpcred:secret/unread"}}}
    vscode.write_text(json.dumps({"servers": {}, "mcpServers": unread}))  # VS Code reads "servers"
    for name, where in (
        ("in-env", "claude-desktop/gh (behind a repeated key)"),
        ("in-server", "claude-desktop/db (behind a repeated key)"),
        ("in-block", "cursor/mcpServers (hidden)"),
        ("unread", "vscode/(elsewhere in the file)"),
    ):
        refused = run("secret", "rm", name)
        assert refused.code == 2, (name, refused.stderr)
        assert where in refused.stderr.splitlines()[0], refused.stderr
        assert "(hidden) (behind" not in refused.stderr
        assert "file) (behind" not in refused.stderr
        assert real_keychain.lookup(keychain, "mcpcred", name) == TOKEN
    listed = json.loads(run("secret", "list", "--json").stdout)["secrets"]
    used = {row["name"]: [u["server"] for u in row["used_by"]] for row in listed}
    assert used["in-env"] == ["gh"]
    assert used["live"] == ["gh"]
    status = json.loads(run("status", "--json").stdout)
    assert "mcpServers (hidden)" not in json.dumps(status)  # a hidden block starts no server
