"""Issue 12 §4: a repeated JSON key hides the earlier value from the parser, not from the file.

``{"TOKEN": "ghp_...", "TOKEN": "changeme"}`` is read as ``changeme`` by the
client and by anything that parses the file, yet the token is committed all the
same. audit-config reports the duplicate and the secrets in the hidden value;
the parser keeps the hidden members (``ObjectNode.shadowed``) for wrap.
"""

from __future__ import annotations

import random
from pathlib import Path

from mcpcred.audit.formats import location_fingerprint
from mcpcred.audit.rules import Auditor
from mcpcred.audit.scan import scan
from mcpcred.clients import BY_ID
from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Finding
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.nodes import ScalarNode, shadowed_members
from mcpcred.parsing.toml import parse_toml
from tests.support import tokengen

GH = tokengen.generate("github-pat", random.Random(12))
OPAQUE = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"
OTHER = "Zr4Kp8Wq2Lm6Xn0Tv3Bc7Hd1Jf5Gs9Ya"


def _scan(project: Path, text: str) -> list[Finding]:
    (project / ".mcp.json").write_text(text)
    return scan([str(project)], Host.current()).findings


def _rules(found: list[Finding]) -> list[tuple[str, str | None]]:
    return sorted((f.rule, f.server) for f in found)


def test_a_secret_hidden_by_a_duplicate_env_key_is_reported(project: Path) -> None:
    text = (
        '{"mcpServers": {"gh": {"command": "node", "args": ["s.js"],\n'
        f'  "env": {{"GITHUB_TOKEN": "{GH}",\n'
        '           "GITHUB_TOKEN": "changeme"}}}}'
    )
    found = _scan(project, text)
    assert _rules(found) == [
        ("hygiene/duplicate-key", "gh"),
        ("secret/github-pat", "gh"),
    ]
    secret = next(f for f in found if f.rule == "secret/github-pat")
    assert (secret.line, secret.column) == (2, 28)
    assert "hidden by a later duplicate key" in secret.message
    duplicate = next(f for f in found if f.rule == "hygiene/duplicate-key")
    assert (duplicate.line, duplicate.evidence) == (2, "GITHUB_TOKEN")
    assert GH not in " ".join(f"{f.message} {f.evidence}" for f in found)


def test_a_hidden_args_array_keeps_its_flag_pairing(project: Path) -> None:
    text = (
        '{"mcpServers": {"s": {"command": "node",'
        f' "args": ["s.js", "--api-key", "{OPAQUE}"], "args": ["s.js"]}}}}}}'
    )
    assert ("secret/generic-secret", "s") in _rules(_scan(project, text))


def test_a_server_given_twice_is_audited_twice(project: Path) -> None:
    text = (
        '{"mcpServers": {\n'
        '  "db": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres@0.6.2",'
        ' "postgresql://app:Vb7kLq2mZx9@db.acme.io/app"]},\n'
        '  "db": {"command": "node", "args": ["db.js"]}}}'
    )
    found = _scan(project, text)
    assert ("secret/url-password", "db") in _rules(found)
    assert ("hygiene/duplicate-key", "db") in _rules(found)


def test_a_block_given_twice_is_audited(project: Path) -> None:
    text = (
        f'{{"mcpServers": {{"a": {{"command": "node", "env": {{"API_KEY": "{OPAQUE}"}}}}}},\n'
        ' "mcpServers": {"b": {"command": "node"}}}'
    )
    found = _scan(project, text)
    assert ("secret/generic-secret", "a") in _rules(found)
    assert ("hygiene/duplicate-key", None) in _rules(found)


def test_hidden_and_live_secrets_have_distinct_fingerprints(project: Path) -> None:
    text = (
        '{"mcpServers": {"s": {"command": "node",'
        f' "env": {{"API_KEY": "{OPAQUE}", "API_KEY": "{OTHER}"}}}}}}}}'
    )
    secrets = [f for f in _scan(project, text) if f.rule == "secret/generic-secret"]
    assert len(secrets) == 2
    assert len({location_fingerprint(f) for f in secrets}) == 2


def test_a_duplicate_without_secrets_is_only_a_duplicate(project: Path) -> None:
    text = '{"mcpServers": {"s": {"command": "node", "args": ["a.js"], "args": ["b.js"]}}}'
    assert _rules(_scan(project, text)) == [("hygiene/duplicate-key", "s")]


def test_no_duplicates_no_finding(project: Path) -> None:
    text = '{"mcpServers": {"s": {"command": "node", "args": ["a.js"], "env": {"A": "1"}}}}'
    assert _rules(_scan(project, text)) == []


def test_the_parser_keeps_hidden_members() -> None:
    document = parse_jsonc('{"a": {"T": "first", "T": "second", "T": "third"}, "b": 1}')
    assert document.duplicates
    inner = document.root.get("a")
    assert inner is not None
    assert inner.to_python() == {"T": "third"}
    hidden = [(p, k.name, n.to_python()) for p, k, n in shadowed_members(document.root)]
    assert hidden == [(("a", "T"), "T", "first"), (("a", "T"), "T", "second")]
    assert not parse_jsonc('{"a": {"T": 1}}').duplicates


def test_toml_tables_are_not_duplicates() -> None:
    document = parse_toml('[mcp_servers.a.env]\nX = "1"\n[mcp_servers.a]\ncommand = "node"\n')
    assert not document.duplicates
    assert shadowed_members(document.root) == []


def test_wrap_api_hidden_secret_hits(project: Path) -> None:
    """What wrap can use: the hidden node, its true span and the live value's pointer."""
    text = (
        '{"mcpServers": {"gh": {"command": "node",'
        f' "env": {{"GITHUB_TOKEN": "{GH}", "GITHUB_TOKEN": "changeme"}}}}}}}}'
    )
    path = str(project / ".mcp.json")
    document = parse_jsonc(text, path)
    location = ConfigLocation("claude-code", path, "project", "json")
    [entry] = BY_ID["claude-code"].servers(document, location)
    auditor = Auditor(Host.current())
    assert [hit.secret for _, hit in auditor.secret_hits(entry)] == []
    [(pointer, key, value)] = shadowed_members(entry.node, entry.pointer)
    assert pointer == ("mcpServers", "gh", "env", "GITHUB_TOKEN")
    [(item, hit)] = auditor.hidden_secret_hits(entry, pointer, key, value)
    assert hit.kind == "github-pat" and hit.secret == GH
    assert item.node is value and isinstance(item.node, ScalarNode)
    assert text[item.node.start + 1 : item.node.end - 1] == GH
    assert item.pointer == pointer
