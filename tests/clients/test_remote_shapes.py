"""Each client's remote entry shapes: read as remote, with their URL, headers and transport.

``wrap`` turns them into bridge entries with ``--transport`` taken from what the
entry says (``ClientAdapter.remote_transport``); a wrong reading here would send
the bridge the wrong way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.clients import BY_ID
from mcpcred.models import ConfigLocation
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.toml import parse_toml
from mcpcred.parsing.yaml import parse_yaml

CASES = [
    ("cursor", '{"mcpServers": {"s": {"url": "https://a/mcp", "headers": {"A": "b"}}}}', "auto"),
    ("cursor", '{"mcpServers": {"s": {"type": "sse", "url": "https://a/sse"}}}', "sse"),
    ("cursor", '{"mcpServers": {"s": {"type": "streamable-http", "url": "https://a"}}}', "http"),
    ("vscode", '{"servers": {"s": {"type": "http", "url": "https://a", "headers": {}}}}', "auto"),
    ("vscode", '{"servers": {"s": {"type": "sse", "url": "https://a"}}}', "sse"),
    (
        "windsurf",
        '{"mcpServers": {"s": {"serverUrl": "https://a", "headers": {"A": "b"}}}}',
        "auto",
    ),
    (
        "gemini-cli",
        '{"mcpServers": {"s": {"httpUrl": "https://a", "headers": {"A": "b"}}}}',
        "http",
    ),
    ("gemini-cli", '{"mcpServers": {"s": {"url": "https://a/sse"}}}', "sse"),
    ("gemini-cli", '{"mcpServers": {"s": {"url": "https://a", "type": "http"}}}', "http"),
    ("zed", '{"context_servers": {"s": {"url": "https://a", "headers": {"A": "b"}}}}', "auto"),
    ("claude-code", '{"mcpServers": {"s": {"type": "http", "url": "https://a"}}}', "http"),
    ("claude-code", '{"mcpServers": {"s": {"type": "sse", "url": "https://a"}}}', "sse"),
    ("claude-desktop", '{"mcpServers": {"s": {"url": "https://a"}}}', "auto"),
    ("codex", '[mcp_servers.s]\nurl = "https://a"\nhttp_headers = { A = "b" }\n', "http"),
    ("opencode", '{"mcp": {"s": {"type": "remote", "url": "https://a", "headers": {}}}}', "auto"),
    (
        "opencode",
        '{"mcp": {"servers": {"s": {"type": "remote", "url": "https://a", "oauth": false}}}}',
        "auto",
    ),
    ("copilot-cli", '{"mcpServers": {"s": {"type": "http", "url": "https://a"}}}', "http"),
    ("copilot-cli", '{"mcpServers": {"s": {"type": "sse", "url": "https://a"}}}', "sse"),
    (
        "cline",
        '{"mcpServers": {"s": {"transport": {"type": "streamableHttp", "url": "https://a"}}}}',
        "http",
    ),
    ("cline", '{"mcpServers": {"s": {"url": "https://a", "headers": {"A": "b"}}}}', "sse"),
    ("cline", '{"mcpServers": {"s": {"url": "https://a", "transportType": "http"}}}', "http"),
    ("kiro", '{"mcpServers": {"s": {"url": "https://a", "headers": {"A": "b"}}}}', "auto"),
    ("amp", '{"amp.mcpServers": {"s": {"url": "https://a", "headers": {"A": "b"}}}}', "auto"),
    ("crush", '{"mcp": {"s": {"type": "http", "url": "https://a", "headers": {}}}}', "http"),
    ("crush", '{"mcp": {"s": {"type": "sse", "url": "https://a"}}}', "sse"),
    ("roo-code", '{"mcpServers": {"s": {"type": "streamable-http", "url": "https://a"}}}', "http"),
    ("amazon-q", '{"mcpServers": {"s": {"type": "http", "url": "https://a"}}}', "http"),
    ("lm-studio", '{"mcpServers": {"s": {"url": "https://a", "headers": {"A": "b"}}}}', "auto"),
    ("jetbrains", '{"mcpServers": {"s": {"url": "https://a"}}}', "auto"),
    ("goose", "extensions:\n  s:\n    type: streamable_http\n    uri: https://a\n", "http"),
    ("goose", "extensions:\n  s: {type: sse, uri: https://a/sse, headers: {A: b}}\n", "sse"),
    (
        "continue",
        "mcpServers:\n  - name: s\n    type: streamable-http\n    url: https://a\n"
        "    requestOptions:\n      headers: {A: b}\n",
        "http",
    ),
    ("continue", "mcpServers:\n  - {name: s, type: sse, url: https://a}\n", "sse"),
]


@pytest.mark.parametrize(("client", "text", "transport"), CASES)
def test_remote_shapes_are_read_with_their_transport(
    client: str, text: str, transport: str, tmp_path: Path
) -> None:
    adapter = BY_ID[client]
    fmt = {"codex": "toml", "goose": "yaml", "continue": "yaml"}.get(client, "jsonc")
    path = str(tmp_path / {"toml": "config.toml", "yaml": "config.yaml"}.get(fmt, "config.json"))
    if fmt == "yaml":
        document = parse_yaml(text, path)
    else:
        document = parse_toml(text, path) if fmt == "toml" else parse_jsonc(text, path)
    (entry,) = adapter.servers(document, ConfigLocation(client, path, "user", fmt))
    assert entry.transport == "remote"
    assert entry.url is not None and entry.url.to_python().startswith("https://a")
    assert adapter.remote_transport(entry.node) == transport
    assert adapter.bridge
    # a bridge entry drops what only a remote entry means, and keeps no url key
    assert set(adapter.url_keys) <= set(adapter.remote_only_keys)
    assert set(adapter.header_keys) <= set(adapter.remote_only_keys)


def test_a_local_opencode_entry_holds_only_keys_opencode_allows(tmp_path: Path) -> None:
    """opencode's schema forbids unknown keys: a bridge entry keeps none of the remote ones."""
    adapter = BY_ID["opencode"]
    assert {"type", "url", "headers", "oauth"} <= set(adapter.remote_only_keys)
    text = '{"mcp": {"s": {"type": "remote", "url": "https://a", "oauth": false}}}'
    (entry,) = adapter.servers(
        parse_jsonc(text, "o.json"), ConfigLocation("opencode", "o.json", "user", "jsonc")
    )
    assert adapter.blockers(entry.node) == []  # "oauth": false is no sign-in of its own
    text = '{"mcp": {"s": {"type": "remote", "url": "https://a", "oauth": {"clientId": "x"}}}}'
    (entry,) = adapter.servers(
        parse_jsonc(text, "o.json"), ConfigLocation("opencode", "o.json", "user", "jsonc")
    )
    assert adapter.blockers(entry.node) == ["oauth"]


def test_the_generic_adapter_writes_no_bridge() -> None:
    assert not BY_ID["generic"].bridge
