"""The documentation stays true to the code: rules, clients, exit codes, README commands."""

from __future__ import annotations

import re
from pathlib import Path

from mcpcred import errors
from mcpcred.audit.rules import RULES
from mcpcred.clients import ADAPTERS

ROOT = Path(__file__).resolve().parent.parent


def test_every_rule_has_a_section_in_audit_config_docs() -> None:
    text = (ROOT / "docs" / "audit-config.md").read_text()
    headings = set(re.findall(r"^### `?([a-z0-9/-]+)`?\s*$", text, re.MULTILINE))
    assert set(RULES) <= headings, sorted(set(RULES) - headings)
    assert headings - set(RULES) == set(), "docs describe rules that no longer exist"


def test_every_client_is_documented() -> None:
    text = (ROOT / "docs" / "clients.md").read_text()
    for adapter in ADAPTERS:
        assert adapter.id in text, adapter.id
        for location in adapter.project_locations(Path("P")):
            relative = "/".join(Path(location.path).parts[1:])
            assert relative in text, relative


def test_the_exit_code_table_matches_the_code() -> None:
    """One table, in docs/cli.md; the README points at it and holds no other."""
    readme = (ROOT / "README.md").read_text()
    assert "docs/cli.md#exit-codes" in readme
    assert not re.findall(r"^\| (\d+) \| (.+?) \|$", readme, re.MULTILINE)
    text = (ROOT / "docs" / "cli.md").read_text()
    table = dict(re.findall(r"^\| (\d+) \| (.+?) \|$", text, re.MULTILINE))
    expected = {
        errors.EXIT_OK, errors.EXIT_FINDINGS, errors.EXIT_USAGE, errors.EXIT_CONFIG,
        errors.EXIT_SECRET_STORE, errors.EXIT_SHIM, errors.EXIT_OAUTH, errors.EXIT_SOFTWARE, errors.EXIT_INTERRUPTED,
    }  # fmt: skip
    assert {int(code) for code in table} == expected


def test_readme_starts_with_the_install_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    assert "pip install . && mcpcred wrap claude-desktop" in block
    assert "./scripts/test" in block
    ci = (ROOT / ".ci" / "run").read_text()
    assert "./scripts/test" in ci


def test_pre_commit_hook_matches_every_known_config_name() -> None:
    from mcpcred.discovery import CANDIDATE_NAMES

    manifest = (ROOT / ".pre-commit-hooks.yaml").read_text()
    pattern = re.search(r"^\s*files: '(.+)'\s*$", manifest, re.MULTILINE)
    assert pattern is not None
    files = re.compile(pattern.group(1))
    for name in sorted(CANDIDATE_NAMES - {"config.toml"}):
        assert files.search(f"some/dir/{name}"), name
    assert files.search(".codex/config.toml")
    assert not files.search("pyproject.toml")
    assert not files.search("package.json")
    assert "entry: mcpcred audit-config" in manifest
