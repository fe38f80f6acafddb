"""audit-config on every client's real file shapes: what is found, and exactly where.

Each fixture is rendered with fresh tokens; every credential in it must be
reported with the line and column where its value starts, every reference and
placeholder must not be, and hygiene rules must fire where expected.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from mcpcred.audit.scan import scan
from mcpcred.host import Host
from mcpcred.models import Finding
from tests.support import fixtures

CASES = [
    # fixture, destination (relative to HOME or project), expected rules (with counts)
    (
        "claude-desktop/claude_desktop_config.json",
        "project:claude_desktop_config.json",
        {"secret/github-pat": 1, "hygiene/unwrapped-server": 1, "hygiene/unpinned-package": 1},
    ),
    (
        "claude-code/.claude.json",
        "project:.claude.json",
        {"secret/sentry-user-token": 1, "secret/url-password": 1, "hygiene/unwrapped-server": 2},
    ),
    (
        "claude-code/.mcp.json",
        "project:.mcp.json",
        {"secret/stripe-secret-key": 1, "hygiene/unwrapped-server": 1},
    ),
    (
        "cursor/mcp.json",
        "project:.cursor/mcp.json",
        {"secret/generic-secret": 1, "hygiene/unwrapped-server": 1},
    ),
    (
        "vscode/mcp.json",
        "project:.vscode/mcp.json",
        {"secret/github-pat": 1, "hygiene/unwrapped-server": 1},
    ),
    (
        "vscode/settings.json",
        "project:.vscode/settings.json",
        {"secret/notion-token": 1, "hygiene/unwrapped-server": 1},
    ),
    (
        "windsurf/mcp_config.json",
        "project:.windsurf/mcp_config.json",
        {
            "secret/url-query-secret": 1,
            "secret/slack-bot-token": 1,
            "hygiene/unwrapped-server": 2,
        },
    ),
    (
        "zed/settings.json",
        "project:.zed/settings.json",
        {
            "secret/generic-secret": 1,
            "secret/authorization-header": 1,
            "secret/gitlab-pat": 1,
            "hygiene/unwrapped-server": 3,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "codex/config.toml",
        "project:.codex/config.toml",
        {
            "secret/github-pat": 1,
            "secret/figma-token": 1,
            "secret/openai-api-key": 1,
            "hygiene/unwrapped-server": 3,
            "hygiene/unpinned-package": 2,
        },
    ),
    (
        "gemini-cli/settings.json",
        "project:.gemini/settings.json",
        {"secret/gitlab-pat": 1, "hygiene/unwrapped-server": 1, "hygiene/shell-wrapper": 1},
    ),
    # the newer clients: each one's own reference syntax ({env:VAR}, ${VAR}, $(cmd),
    # ${env:VAR}, ${{ secrets.X }}, env_keys) next to the credentials is never reported
    (
        "opencode/opencode.jsonc",
        "project:opencode.jsonc",
        {
            "secret/github-pat": 1,
            "secret/stripe-secret-key": 1,
            "secret/authorization-header": 1,
            "secret/sentry-user-token": 1,
            "hygiene/unwrapped-server": 4,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "copilot-cli/mcp-config.json",
        "project:.github/mcp.json",
        {
            "secret/github-pat": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "cline/cline_mcp_settings.json",
        "project:cline-data/cline_mcp_settings.json",
        {
            "secret/notion-token": 1,
            "secret/slack-bot-token": 1,
            "secret/authorization-header": 1,
            "secret/figma-token": 1,
            "hygiene/unwrapped-server": 4,
        },
    ),
    (
        "kiro/mcp.json",
        "project:.kiro/settings/mcp.json",
        {
            "secret/gitlab-pat": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "amp/settings.json",
        "project:.amp/settings.json",
        {
            "secret/figma-token": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "crush/crush.json",
        "project:.crush.json",
        {
            "secret/openai-api-key": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 2,
        },
    ),
    (
        "roo-code/mcp_settings.json",
        "project:.roo/mcp.json",
        {
            "secret/generic-secret": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "amazon-q/mcp.json",
        "project:.amazonq/mcp.json",
        {
            "secret/url-password": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 2,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "lm-studio/mcp.json",
        "project:.lmstudio/mcp.json",
        {
            "secret/url-query-secret": 1,
            "secret/stripe-secret-key": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 3,
        },
    ),
    (
        "jetbrains/mcp.json",
        "project:.junie/mcp/mcp.json",
        {
            "secret/sentry-user-token": 1,
            "hygiene/unwrapped-server": 1,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "goose/config.yaml",
        "project:goose/config.yaml",
        {
            "secret/github-pat": 1,
            "secret/slack-bot-token": 1,
            "secret/authorization-header": 1,
            "hygiene/unwrapped-server": 3,
            "hygiene/unpinned-package": 1,
        },
    ),
    (
        "continue/config.yaml",
        "project:.continue/mcpServers/team.yaml",
        {
            "secret/notion-token": 1,
            "secret/gitlab-pat": 1,
            "secret/figma-token": 1,
            "hygiene/unwrapped-server": 3,
            "hygiene/unpinned-package": 1,
        },
    ),
]


def _destination(spec: str, home: Path, project: Path) -> Path:
    root, _, relative = spec.partition(":")
    return (home if root == "home" else project) / relative


def _value_at(path: Path, finding: Finding) -> str:
    text = path.read_text(encoding="utf-8-sig")
    line = text.splitlines()[finding.line - 1]
    return line[finding.column - 1 :]


@pytest.mark.parametrize(("fixture", "destination", "expected"), CASES, ids=[c[0] for c in CASES])
def test_fixture_findings(
    fixture: str, destination: str, expected: dict[str, int], home: Path, project: Path
) -> None:
    path = _destination(destination, home, project)
    values = fixtures.render(fixture, path)
    report = scan([str(path)], Host.current())
    assert Counter(f.rule for f in report.findings) == Counter(expected)
    secrets = [f for f in report.findings if f.rule.startswith("secret/")]
    # Every credential is reported, at the exact position of its value.
    located = {
        value for value in values.values() for f in secrets if _value_at(path, f).startswith(value)
    }
    assert located == set(values.values())
    for finding in report.findings:
        assert finding.path == str(path.relative_to(project))
        for value in values.values():
            assert value not in finding.message
            assert value not in (finding.evidence or "")
            assert value not in (finding.fix or "")


def test_nothing_but_the_generated_credentials_is_reported(project: Path) -> None:
    # References (${env:X}, ${input:x}, $VAR), ids, URLs and package names in the
    # fixtures sit next to the credentials; only the credentials may be reported.
    values: set[str] = set()
    for fixture, destination, _ in CASES:
        values |= set(
            fixtures.render(fixture, _destination(destination, project, project)).values()
        )
    report = scan([str(project)], Host.current())
    secrets = [f for f in report.findings if f.rule.startswith("secret/")]
    assert secrets
    for finding in secrets:
        at = _value_at(project / finding.path, finding)
        assert any(at.startswith(value) for value in values), (finding.rule, finding.path)


def test_directory_scan_finds_every_fixture_file(project: Path) -> None:
    for fixture, destination, _ in CASES:
        fixtures.render(fixture, _destination(destination, project, project))
    (project / "node_modules" / "pkg").mkdir(parents=True)
    (project / "node_modules" / "pkg" / ".mcp.json").write_text('{"mcpServers": {}}')
    (project / "unrelated.json").write_text('{"mcpServers": {}}')
    (project / "settings.json").write_text('{"editor": 1}')
    report = scan([str(project)], Host.current())
    assert sorted(f.display_path for f in report.files) == sorted(
        d.split(":", 1)[1] for _, d, _ in CASES
    )
    clients = {f.display_path: f.client for f in report.files}
    assert clients[".cursor/mcp.json"] == "cursor"
    assert clients[".gemini/settings.json"] == "gemini-cli"
    assert clients[".codex/config.toml"] == "codex"
    assert clients[".zed/settings.json"] == "zed"
    assert clients["opencode.jsonc"] == "opencode"
    assert clients[".crush.json"] == "crush"
    assert clients["goose/config.yaml"] == "goose"
    assert clients[".continue/mcpServers/team.yaml"] == "continue"
    assert clients["cline-data/cline_mcp_settings.json"] == "cline"
