"""One or more cases per rule id, positive and negative; a guard that none is left untested."""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest

from mcpcred.audit import tokens
from mcpcred.audit.rules import RULES
from mcpcred.audit.scan import scan
from mcpcred.host import Host
from mcpcred.models import Finding
from tests.support import tokengen

TESTED_HERE = {
    "hygiene/unwrapped-server",
    "hygiene/unpinned-package",
    "hygiene/plain-http",
    "hygiene/file-permissions",
    "hygiene/shell-wrapper",
    "hygiene/broad-filesystem",
    "hygiene/duplicate-key",  # tests/audit/test_duplicate_keys.py
    "hygiene/not-strict-json",  # tests/audit/test_strict_json.py
    "error/parse",
    # guard mode's pins: tests/audit/test_pinned_findings.py
    "tools/hidden-instructions",
    "tools/definition-changed",
    # generic secret kinds: tests/audit/test_secrets.py and test_client_fixtures.py
    "secret/generic-secret",
    "secret/password",
    "secret/url-password",
    "secret/url-query-secret",
    "secret/url-path-secret",
    "secret/authorization-header",
    # tests/audit/test_weak_defaults.py
    "secret/weak-default-credential",
    # tests/audit/test_token_files.py
    "secret/mcp-remote-token-file",
}


def test_every_rule_is_tested() -> None:
    token_rules = {f"secret/{f.kind}" for f in tokens.FORMATS}
    assert set(RULES) == TESTED_HERE | token_rules


@pytest.mark.parametrize("kind", sorted(f.kind for f in tokens.FORMATS))
def test_every_token_format_is_reported_under_its_rule(kind: str, project: Path) -> None:
    token = tokengen.generate(kind, random.Random(kind))
    config = {"mcpServers": {"svc": {"command": "node", "args": ["s.js"], "env": {"VALUE": token}}}}
    (project / ".mcp.json").write_text(json.dumps(config))
    rules = {f.rule for f in _scan(project)}
    assert f"secret/{kind}" in rules


def _scan(project: Path, *paths: Path) -> list[Finding]:
    return scan([str(p) for p in paths] or [str(project)], Host.current()).findings


def _server(project: Path, entry: dict[str, object], name: str = "svc") -> list[Finding]:
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {name: entry}}, indent=2))
    return _scan(project)


def _rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule, str(f.severity)) for f in findings]


SECRET = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"


def test_unwrapped_server_only_when_it_carries_credentials(project: Path) -> None:
    found = _server(project, {"command": "node", "args": ["s.js"], "env": {"API_TOKEN": SECRET}})
    assert ("hygiene/unwrapped-server", "medium") in _rules(found)
    unwrapped = next(f for f in found if f.rule == "hygiene/unwrapped-server")
    assert (
        unwrapped.fix
        == "Rotate it, then move it into the OS keychain: mcpcred wrap claude-code --server svc"
    )
    assert (unwrapped.line, unwrapped.column) == (3, 12)  # the server's object
    clean = _server(project, {"command": "node", "args": ["s.js"], "env": {"API_TOKEN": "${T}"}})
    assert _rules(clean) == []


def test_wrapped_server_is_not_unwrapped_but_its_literal_secret_still_counts(project: Path) -> None:
    entry = {
        "command": "/home/u/.local/bin/mcpcred",
        "args": ["shim", "--server", "svc", "--", "node", "s.js"],
        "env": {"API_TOKEN": SECRET},
    }
    rules = {r for r, _ in _rules(_server(project, entry))}
    assert rules == {"secret/generic-secret"}


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ("npx", ["-y", "@modelcontextprotocol/server-github"], "medium"),
        ("npx", ["-y", "@modelcontextprotocol/server-github@latest"], "medium"),
        ("npx", ["-y", "@scope/pkg@^1.2.0"], "medium"),
        ("npx", ["--yes", "plain-pkg"], "medium"),
        ("npx", ["-y", "@modelcontextprotocol/server-github@2025.4.8"], None),
        ("npx", ["-y", "plain-pkg@1.0.0", "--flag"], None),
        ("npx", ["-y", "-p", "pkg@1.0.0", "bin-name"], None),
        ("npx", ["-y", "-p", "pkg", "bin-name"], "medium"),
        ("bunx", ["pkg"], "medium"),
        ("pnpm", ["dlx", "pkg"], "medium"),
        ("uvx", ["mcp-server-fetch"], "medium"),
        ("uvx", ["mcp-server-fetch==2025.4.7"], None),
        ("uvx", ["mcp-server-fetch@2025.4.7"], None),
        ("uvx", ["--from", "pkg==1.0", "cmd"], None),
        ("uv", ["tool", "run", "pkg"], "medium"),
        ("pipx", ["run", "pkg"], "medium"),
        ("docker", ["run", "-i", "--rm", "-e", "X", "ghcr.io/github/github-mcp-server"], "medium"),
        ("docker", ["run", "-i", "--rm", "mcp/fetch:latest"], "medium"),
        ("docker", ["run", "-i", "--rm", "--name", "x", "mcp/fetch:1.2"], "low"),
        ("docker", ["run", "-i", "mcp/fetch@sha256:" + "ab" * 32], None),
        ("cmd", ["/c", "npx", "-y", "pkg"], "medium"),
        ("node", ["server.js"], None),
        (
            "/home/u/.local/bin/mcpcred",
            ["shim", "--server", "s", "--", "npx", "-y", "pkg"],
            "medium",
        ),
    ],
)
def test_unpinned_package(
    command: str, args: list[str], expected: str | None, project: Path
) -> None:
    found = [
        f
        for f in _server(project, {"command": command, "args": args})
        if f.rule == "hygiene/unpinned-package"
    ]
    assert [str(f.severity) for f in found] == ([expected] if expected else [])


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"type": "http", "url": "http://mcp.acme.io/mcp"}, 1),
        ({"type": "http", "url": "http://10.0.4.7:8080/mcp"}, 1),
        ({"type": "http", "url": "http://user:pw@mcp.acme.io/mcp"}, 1),
        # documentation hosts: nothing real travels there (issue 12 §6)
        ({"type": "http", "url": "http://mcp.example.com/mcp"}, 0),
        ({"type": "http", "url": "http://example.org:8080/mcp"}, 0),
        ({"type": "http", "url": "http://your-server:3000/mcp"}, 0),
        ({"type": "http", "url": "http://your-mcp-host.com/mcp"}, 0),
        ({"type": "http", "url": "http://<host>:8000/sse"}, 0),
        ({"type": "http", "url": "http://{host}:8000/sse"}, 0),
        ({"type": "http", "url": "http://${HOST}:8000/sse"}, 0),
        ({"type": "http", "url": "http://mcp.test/sse"}, 0),
        ({"type": "http", "url": "http://my-server:8080/mcp"}, 0),
        ({"type": "http", "url": "http://192.0.2.10:8080/mcp"}, 0),
        ({"type": "http", "url": "http://$MCP_HOST/mcp"}, 0),
        ({"type": "http", "url": "http://mysql-proxy.acme.io/mcp"}, 1),
        ({"type": "http", "url": "http://examples.io/mcp"}, 1),
        ({"type": "sse", "url": "http://host.docker.internal:3000/sse"}, 0),
        ({"type": "sse", "url": "http://app.localhost:3000/sse"}, 0),
        ({"type": "http", "url": "https://mcp.example.com/mcp"}, 0),
        ({"type": "sse", "url": "http://localhost:3000/sse"}, 0),
        ({"type": "sse", "url": "http://127.0.0.1:3000/sse"}, 0),
        ({"type": "sse", "url": "http://[::1]:3000/sse"}, 0),
        ({"command": "npx", "args": ["-y", "mcp-remote@0.1.29", "http://mcp.acme.io/sse"]}, 1),
        ({"command": "npx", "args": ["-y", "mcp-remote@0.1.29", "http://example.com/sse"]}, 0),
    ],
)
def test_plain_http(entry: dict[str, object], expected: int, project: Path) -> None:
    found = [f for f in _server(project, entry) if f.rule == "hygiene/plain-http"]
    assert len(found) == expected
    if found:
        assert found[0].severity.name == "MEDIUM"


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_file_permissions_on_user_files_only(home: Path, project: Path) -> None:
    user_file = home / ".cursor" / "mcp.json"
    user_file.parent.mkdir()
    user_file.write_text(json.dumps({"mcpServers": {"a": {"command": "node"}}}))
    user_file.chmod(0o644)
    assert _rules(_scan(project, user_file)) == [("hygiene/file-permissions", "low")]
    user_file.write_text(
        json.dumps({"mcpServers": {"a": {"command": "node", "env": {"API_TOKEN": SECRET}}}})
    )
    assert ("hygiene/file-permissions", "medium") in _rules(_scan(project, user_file))
    user_file.chmod(0o600)
    assert "hygiene/file-permissions" not in {r for r, _ in _rules(_scan(project, user_file))}
    project_file = project / ".cursor" / "mcp.json"
    project_file.parent.mkdir()
    project_file.write_text(json.dumps({"mcpServers": {"a": {"command": "node"}}}))
    project_file.chmod(0o644)
    assert _rules(_scan(project, project_file)) == []


@pytest.mark.parametrize(
    ("command", "args", "flagged"),
    [
        ("sh", ["-c", "exec node server.js"], True),
        ("bash", ["-lc", "source ~/.env && exec srv"], True),
        ("/bin/zsh", ["-c", "srv"], True),
        ("cmd", ["/c", "npx -y pkg@1.0.0"], True),
        ("cmd", ["/c", "npx", "-y", "pkg@1.0.0"], False),
        ("powershell", ["-Command", "npx -y pkg@1.0.0"], True),
        ("bash", ["server.sh"], False),
        ("node", ["-c", "x"], False),
    ],
)
def test_shell_wrapper(command: str, args: list[str], flagged: bool, project: Path) -> None:
    found = [
        f
        for f in _server(project, {"command": command, "args": args})
        if f.rule == "hygiene/shell-wrapper"
    ]
    assert bool(found) is flagged


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "~"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "${userHome}"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "C:\\"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home/ann"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home/ann/code"], None),
        # issue 12 §6: every home, root's home and Windows homes count like /Users/NAME
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home/"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/home"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/Users"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "C:\\Users"], "high"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/root"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/root/"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/Users/ann"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "C:\\Users\\ann"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/mnt/c/Users/ann"], "medium"),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/root/project"], None),
        (["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "./docs"], None),
        (["-y", "other-server@1.0.0", "/"], None),
    ],
)
def test_broad_filesystem(args: list[str], expected: str | None, project: Path) -> None:
    found = [
        f
        for f in _server(project, {"command": "npx", "args": args})
        if f.rule == "hygiene/broad-filesystem"
    ]
    assert [str(f.severity) for f in found] == ([expected] if expected else [])


def test_broad_filesystem_for_the_real_home(home: Path, project: Path) -> None:
    args = ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", str(home)]
    found = [
        f
        for f in _server(project, {"command": "npx", "args": args})
        if f.rule == "hygiene/broad-filesystem"
    ]
    assert [str(f.severity) for f in found] == ["medium"]


def test_broad_windows_container_mount(project: Path) -> None:
    entry = {
        "command": "docker",
        "args": ["run", "-i", "-v", "C:\\Users\\ann:/data", "img@sha256:" + "ab" * 32],
    }
    found = [f for f in _server(project, entry) if f.rule == "hygiene/broad-filesystem"]
    assert [(str(f.severity), f.evidence) for f in found] == [("medium", "C:\\Users\\ann")]


def test_broad_container_mount(project: Path) -> None:
    entry = {"command": "docker", "args": ["run", "-i", "-v", "/:/host", "img@sha256:" + "ab" * 32]}
    found = [f for f in _server(project, entry) if f.rule == "hygiene/broad-filesystem"]
    assert [str(f.severity) for f in found] == ["high"]


@pytest.mark.parametrize(
    ("name", "text", "line", "column"),
    [
        (".mcp.json", '{"mcpServers": {\n  "a": {"command": "x",}\n', 3, 1),
        (".mcp.json", '{"mcpServers": {"a": {"command": "x" "args": []}}}', 1, 38),
        (".mcp.json", "", 1, 1),
        (".codex/config.toml", '[mcp_servers.a]\ncommand = "x\n', 2, 13),
        (".codex/config.toml", "[mcp_servers.a]\ncommand = 1\ncommand = 2\n", 3, 1),
    ],
)
def test_parse_errors_are_findings_with_positions(
    name: str, text: str, line: int, column: int, project: Path
) -> None:
    path = project / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    [finding] = _scan(project, path)
    assert finding.rule == "error/parse"
    assert (finding.line, finding.column) == (line, column)


def test_parse_error_does_not_stop_other_files(project: Path) -> None:
    (project / ".mcp.json").write_text("{")
    (project / ".cursor").mkdir()
    (project / ".cursor" / "mcp.json").write_text(
        json.dumps({"mcpServers": {"a": {"command": "n", "env": {"API_TOKEN": SECRET}}}})
    )
    rules = {f.rule for f in _scan(project)}
    assert {"error/parse", "secret/generic-secret"} <= rules


def test_non_utf8_file_is_a_parse_error(project: Path) -> None:
    (project / ".mcp.json").write_bytes(b'{"mcpServers": {"a": {"command": "\xff"}}}')
    [finding] = _scan(project)
    assert finding.rule == "error/parse"
    assert "UTF-8" in finding.message


def test_utf16_file_with_bom_is_read(project: Path) -> None:
    text = json.dumps({"mcpServers": {"a": {"command": "n", "env": {"API_TOKEN": SECRET}}}})
    (project / ".mcp.json").write_bytes(text.encode("utf-16"))
    assert "secret/generic-secret" in {f.rule for f in _scan(project)}


def test_fix_hint_names_wrap_for_stdio_and_remote_and_the_client_syntax_when_wrap_cannot(
    project: Path,
) -> None:
    (project / ".cursor").mkdir()
    (project / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "my docs": {"command": "npx", "env": {"API_TOKEN": SECRET}},
                    "remote": {
                        "url": "https://x.example/mcp",
                        "headers": {"Authorization": f"Bearer {SECRET}"},
                    },
                    # Cursor signs in with its own static OAuth client: a bridge cannot
                    "signed": {
                        "url": "https://y.example/mcp",
                        "headers": {"Authorization": f"Bearer {SECRET}"},
                        "auth": {"CLIENT_ID": "abc"},
                    },
                }
            }
        )
    )
    fixes = {f.server: f.fix for f in _scan(project) if f.rule.startswith("secret/")}
    assert (
        fixes["my docs"]
        == "Rotate it, then move it into the OS keychain: mcpcred wrap cursor --server 'my docs'"
    )
    # the bridge takes a remote entry's header (wrap.plan._remote)
    assert fixes["remote"] == (
        "Rotate it, then move it into the OS keychain: mcpcred wrap cursor --server remote"
    )
    assert fixes["signed"] is not None and "${env:" in fixes["signed"]


def test_claude_code_oauth_blocks_nothing_to_move_one_to_wrap_one_to_give_to_claude(
    project: Path,
) -> None:
    """Claude Code's documented ``oauth`` holds no secret (nothing reported); a
    ``clientSecret`` put there is wrap's to move, unless the block has a setting only Claude
    Code's own sign-in honours (``authServerMetadataUrl``): then the fix is Claude Code's
    own store for the secret."""
    servers = {
        "plain": {"type": "http", "url": "https://a.example/mcp",
                  "oauth": {"clientId": "1601.app", "callbackPort": 3118, "scopes": "read"}},
        "moved": {"type": "http", "url": "https://b.example/mcp",
                  "oauth": {"clientId": "Iv23app", "clientSecret": SECRET}},
        "ported": {"type": "http", "url": "https://c.example/mcp",
                   "oauth": {"clientId": "Iv23app", "clientSecret": SECRET,
                             "authServerMetadataUrl": "https://auth.example/.well-known/x"}},
    }  # fmt: skip
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": servers}, indent=2))
    found = _scan(project)
    fixes = {f.server: f.fix for f in found if f.rule.startswith("secret/")}
    assert "plain" not in {f.server for f in found}
    assert fixes["moved"] == (
        "Rotate it, then move it into the OS keychain: mcpcred wrap claude-code --server moved"
    )
    assert fixes["ported"] is not None and "remove clientSecret from the file" in fixes["ported"]
    assert "--client-secret" in fixes["ported"] and SECRET not in fixes["ported"]
