"""Issue 12 §6: demo passwords are a lower-graded "weak default credential", not a leak."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpcred.audit.rules import RULES
from mcpcred.audit.scan import scan
from mcpcred.audit.secrets import Detector
from mcpcred.host import Host
from mcpcred.models import Finding, Severity

detector = Detector()
WEAK = "secret/weak-default-credential"


def _scan(project: Path, entry: dict[str, object]) -> list[Finding]:
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": entry}}, indent=2))
    return scan([str(project)], Host.current()).findings


def test_the_rule_is_low_by_default() -> None:
    assert RULES[WEAK].severity is Severity.LOW


@pytest.mark.parametrize(
    ("url", "severity"),
    [
        ("postgresql://postgres:postgres@localhost:5432/app", Severity.LOW),
        ("mysql://root:mypass@127.0.0.1:3306/app", Severity.LOW),
        ("postgresql://app:changeme@db.example.com/app", Severity.LOW),
        ("bolt://neo4j:neo4j@localhost:7687", Severity.LOW),
        ("postgresql://postgres:postgres@prod-db.acme.io/app", Severity.MEDIUM),
    ],
)
def test_weak_url_passwords(url: str, severity: Severity, project: Path) -> None:
    entry = {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-postgres@0.6.2", url]}
    secrets = [(f.rule, f.severity) for f in _scan(project, entry) if f.rule.startswith("secret/")]
    assert secrets == [(WEAK, severity)]


@pytest.mark.parametrize("value", ["mypass", "postgres", "admin123", "password", "changeme"])
def test_weak_env_passwords(value: str, project: Path) -> None:
    entry = {"command": "node", "args": ["s.js"], "env": {"DB_PASSWORD": value}}
    found = _scan(project, entry)
    assert [(f.rule, f.severity) for f in found] == [(WEAK, Severity.LOW)]
    assert "hygiene/unwrapped-server" not in {f.rule for f in found}


def test_a_real_password_is_still_a_high_leak(project: Path) -> None:
    entry = {"command": "node", "args": ["s.js"], "env": {"DB_PASSWORD": "mypass-Xq71zLw"}}
    rules = {(f.rule, f.severity) for f in _scan(project, entry)}
    assert ("secret/password", Severity.HIGH) in rules


def test_weak_default_is_a_sarif_note(project: Path) -> None:
    from mcpcred.audit.formats import sarif

    entry = {"command": "node", "args": ["s.js"], "env": {"DB_PASSWORD": "mypass"}}
    (project / ".mcp.json").write_text(json.dumps({"mcpServers": {"db": entry}}))
    log = json.loads(sarif.render(scan([str(project)], Host.current()), str(project)))
    [result] = log["runs"][0]["results"]
    assert (result["ruleId"], result["level"]) == (WEAK, "note")
    assert result["properties"]["evidence"] == "m\u2026(6 chars)"
