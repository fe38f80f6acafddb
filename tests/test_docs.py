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
    # Every EXIT_* constant, so a new code cannot be added without its row.
    expected = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert errors.EXIT_EXPORT in expected
    assert {int(code) for code in table} == expected


def test_readme_starts_with_the_install_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    block = text.split("```", 2)[1]
    first, second = [line for line in block.splitlines() if line and not line.startswith("sh")][:2]
    # plain `pip install .` fails on a system Python (PEP 668); pipx gives mcpcred its own venv
    assert first.startswith("pipx install . && mcpcred wrap claude-desktop")
    assert second.startswith("./scripts/test")
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


def test_readme_names_every_apt_package_the_test_command_installs() -> None:
    script = (ROOT / "scripts" / "test").read_text()
    found = re.search(r"apt-get install -y -q --no-install-recommends ([^)]*)\)", script)
    assert found is not None
    packages = found.group(1).split()
    assert {"gnome-keyring", "fish", "zsh"} <= set(packages)
    readme = (ROOT / "README.md").read_text()
    for package in packages:
        assert package in readme, package


def test_ci_docs_install_from_the_repository_and_pin_a_real_revision() -> None:
    """mcpcred is not published as a package and has no release tags: the recipes must not pretend otherwise."""
    import subprocess

    text = (ROOT / "docs" / "ci.md").read_text()
    assert "pip install mcpcred" not in text
    assert "git+https://github.com/mcpcred/mcpcred@" in text
    revs = re.findall(r"^\s*rev: (\S+)", text, re.MULTILINE)
    assert revs
    tags = subprocess.run(
        ["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.split()
    for rev in revs:
        assert re.fullmatch(r"[0-9a-f]{40}", rev) or rev in tags, rev


def test_architecture_lists_where_rich_is_imported() -> None:
    """The doc names the modules that import rich; a module added or dropped must show there."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    importers = sorted(
        path.relative_to(ROOT / "mcpcred").as_posix()
        for path in (ROOT / "mcpcred").rglob("*.py")
        if re.search(r"^\s*(from|import) rich\b", path.read_text(), re.MULTILINE)
    )
    assert importers, "no module imports rich: drop it from the dependencies and this doc"
    section = text.split("rich is", 1)[1].split("Ruff's", 1)[0]
    for module in importers:
        if module.startswith("cli/") and module.endswith("_cmd.py"):
            command = module.removeprefix("cli/").removesuffix("_cmd.py")
            assert f"`{command}" in section, module
        else:
            assert module in section, module
