"""Regressions: keys the adapters do not model are still scanned, and pointers are the real paths.

Fingerprints (baselines, SARIF) are built from the pointer of the value, so a
pointer that says ``headers`` for Codex ``http_headers`` would silently change
every fingerprint the day it is fixed.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcpcred.audit.scan import scan
from mcpcred.host import Host

SECRET = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"


def _secrets(project: Path, relative: str, text: str) -> list[tuple[str, tuple[str | int, ...]]]:
    path = project / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    findings = scan([str(path)], Host.current()).findings
    return [(f.rule, f.pointer) for f in findings if f.rule.startswith("secret/")]


def test_codex_headers_table_that_codex_ignores_is_still_scanned(project: Path) -> None:
    text = f'[mcp_servers.x]\nurl = "https://x.example.com/mcp"\nheaders = {{ "X-Api-Key" = "{SECRET}" }}\n'
    assert _secrets(project, ".codex/config.toml", text) == [
        ("secret/authorization-header", ("mcp_servers", "x", "headers", "X-Api-Key"))
    ]


def test_codex_http_headers_pointer(project: Path) -> None:
    text = f'[mcp_servers.x]\nurl = "https://x.example.com/mcp"\nhttp_headers = {{ "Authorization" = "Bearer {SECRET}" }}\n'
    assert _secrets(project, ".codex/config.toml", text) == [
        ("secret/authorization-header", ("mcp_servers", "x", "http_headers", "Authorization"))
    ]


def test_windsurf_server_url_pointer(project: Path) -> None:
    text = json.dumps(
        {"mcpServers": {"exa": {"serverUrl": f"https://mcp.exa.ai/mcp?exaApiKey={SECRET}"}}}
    )
    assert _secrets(project, ".windsurf/mcp_config.json", text) == [
        ("secret/url-query-secret", ("mcpServers", "exa", "serverUrl"))
    ]


def test_zed_legacy_nested_env_pointer(project: Path) -> None:
    text = json.dumps(
        {
            "context_servers": {
                "z": {"command": {"path": "srv", "args": [], "env": {"API_TOKEN": SECRET}}}
            }
        }
    )
    assert _secrets(project, ".zed/settings.json", text) == [
        ("secret/generic-secret", ("context_servers", "z", "command", "env", "API_TOKEN"))
    ]


def test_unknown_keys_and_nested_oauth_secrets_are_scanned(project: Path) -> None:
    text = json.dumps(
        {
            "mcpServers": {
                "r": {
                    "url": "https://x.example.com/mcp",
                    "oauth": {"clientId": "abc", "clientSecret": SECRET},
                    "auth": {"CLIENT_SECRET": SECRET + "X"},
                }
            }
        }
    )
    assert sorted(_secrets(project, ".gemini/settings.json", text)) == [
        ("secret/generic-secret", ("mcpServers", "r", "auth", "CLIENT_SECRET")),
        ("secret/generic-secret", ("mcpServers", "r", "oauth", "clientSecret")),
    ]


def test_claude_mcp_json_with_vscode_servers_key_is_scanned(project: Path) -> None:
    text = json.dumps({"servers": {"s": {"command": "n", "env": {"API_TOKEN": SECRET}}}})
    assert _secrets(project, ".mcp.json", text) == [
        ("secret/generic-secret", ("servers", "s", "env", "API_TOKEN"))
    ]


def test_args_pointer_is_the_array_index(project: Path) -> None:
    text = json.dumps(
        {"mcpServers": {"s": {"command": "n", "args": ["-y", "p@1.0.0", f"--api-key={SECRET}"]}}}
    )
    assert _secrets(project, ".mcp.json", text) == [
        ("secret/generic-secret", ("mcpServers", "s", "args", 2))
    ]
