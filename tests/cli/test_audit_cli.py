"""``mcpcred audit-config`` as users and CI run it: a real process, real files, a temp HOME."""

from __future__ import annotations

import json
import os
import random
import stat
from pathlib import Path

import pytest

from tests.support import sarif, tokengen
from tests.support.cli import run

TOKEN = tokengen.generate("github-pat", random.Random(99))
PASSWORD = "Zq8rT2vLx9"


def _write_project(project: Path) -> None:
    (project / ".mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "github": {
                        "command": "npx",
                        "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
                        "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN},
                    },
                    "pg": {
                        "command": "npx",
                        "args": ["-y", "pkg@1.0.0", f"postgresql://u:{PASSWORD}@db/app"],
                    },
                }
            },
            indent=2,
        )
    )


def _no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert TOKEN[4:12] not in text
        assert PASSWORD not in text


@pytest.fixture
def findings_project(project: Path) -> Path:
    _write_project(project)
    return project


def test_text_report_exit_1_and_no_secret(findings_project: Path) -> None:
    result = run("audit-config", ".")
    assert result.code == 1
    assert "secret/github-pat" in result.stdout
    assert "secret/url-password" in result.stdout
    assert ".mcp.json" in result.stdout
    assert (
        "fix: Rotate it, then move it into the OS keychain: mcpcred wrap claude-code"
        in result.stdout
    )
    assert result.stderr == ""
    _no_secret(result.stdout, result.stderr)


def test_clean_project_exits_0(project: Path) -> None:
    (project / ".mcp.json").write_text(
        '{"mcpServers": {"a": {"command": "node", "args": ["s.js"]}}}'
    )
    result = run("audit-config", ".")
    assert result.code == 0, result.stdout
    assert "No findings in 1 file, 1 server." in result.stdout


@pytest.mark.parametrize(("threshold", "code"), [("low", 1), ("medium", 1), ("high", 1)])
def test_fail_on_threshold_with_high_findings(
    findings_project: Path, threshold: str, code: int
) -> None:
    assert run("audit-config", ".", "--fail-on", threshold).code == code


def test_fail_on_high_passes_when_only_medium(project: Path) -> None:
    (project / ".mcp.json").write_text(
        '{"mcpServers": {"a": {"command": "npx", "args": ["-y", "pkg"]}}}'
    )
    assert run("audit-config", ".", "--fail-on", "high").code == 0
    assert run("audit-config", ".", "--fail-on", "medium").code == 1
    assert run("audit-config", ".").code == 1


def test_json_report(findings_project: Path) -> None:
    result = run("audit-config", ".", "--format", "json")
    assert result.code == 1
    report = json.loads(result.stdout)
    rules = {f["rule"] for f in report["findings"]}
    assert {"secret/github-pat", "secret/url-password", "hygiene/unwrapped-server"} <= rules
    github = next(f for f in report["findings"] if f["rule"] == "secret/github-pat")
    assert github["path"] == ".mcp.json"
    assert github["server"] == "github"
    assert github["client"] == "claude-code"
    assert github["evidence"] == f"ghp_\u2026({len(TOKEN)} chars)"
    line = (findings_project / ".mcp.json").read_text().splitlines()[github["line"] - 1]
    assert line[github["column"] - 1 :].startswith(TOKEN)
    assert report["summary"]["by_severity"]["high"] >= 2
    _no_secret(result.stdout)


def test_sarif_report_is_valid_and_points_at_the_secret(findings_project: Path) -> None:
    result = run("audit-config", ".", "--format", "sarif", "--output", "out.sarif")
    assert result.code == 1
    assert result.stdout == ""
    log = json.loads((findings_project / "out.sarif").read_text())
    sarif.validate(log)
    run_ = log["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    results = run_["results"]
    github = next(r for r in results if r["ruleId"] == "secret/github-pat")
    assert rules[github["ruleIndex"]]["id"] == "secret/github-pat"
    assert rules[github["ruleIndex"]]["properties"]["security-severity"] == "8.0"
    location = github["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": ".mcp.json", "uriBaseId": "%SRCROOT%"}
    region = location["region"]
    line = (findings_project / ".mcp.json").read_text().splitlines()[region["startLine"] - 1]
    assert line[region["startColumn"] - 1 :].startswith(TOKEN)
    assert github["level"] == "error"
    assert len(github["partialFingerprints"]["mcpcredFindingHash/v1"]) == 32
    _no_secret(json.dumps(log))


def test_sarif_fingerprints_are_stable_across_line_shifts(findings_project: Path) -> None:
    first = json.loads(run("audit-config", ".", "-f", "sarif").stdout)
    path = findings_project / ".mcp.json"
    path.write_text("\n\n\n" + path.read_text())
    second = json.loads(run("audit-config", ".", "-f", "sarif").stdout)

    def prints(log: dict[str, list[dict[str, list[dict[str, dict[str, str]]]]]]) -> list[str]:
        return sorted(
            r["partialFingerprints"]["mcpcredFindingHash/v1"] for r in log["runs"][0]["results"]
        )

    assert prints(first) == prints(second)
    lines = sorted(
        r["locations"][0]["physicalLocation"]["region"]["startLine"]
        for r in second["runs"][0]["results"]
    )
    assert lines[0] > 3


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_output_file_is_private_and_written_only_on_success(findings_project: Path) -> None:
    result = run("audit-config", ".", "-f", "json", "-o", "report.json")
    assert result.code == 1
    assert stat.S_IMODE((findings_project / "report.json").stat().st_mode) == 0o600
    failed = run("audit-config", "missing-dir", "-o", "never.json")
    assert failed.code == 2
    assert not (findings_project / "never.json").exists()


@pytest.mark.parametrize("option", ["-o", "--output", "--write-baseline"])
def test_an_output_into_a_missing_folder_is_one_line_exit_2(
    findings_project: Path, option: str
) -> None:
    """Issue 12: ``-o missing/report.json`` ended in a traceback and exit 70."""
    result = run("audit-config", ".", option, "missing/report.json")
    assert result.code == 2, result.stderr
    missing = findings_project / "missing"
    named = "--output" if option == "-o" else option
    assert result.stderr.splitlines()[0] == f"error: {named}: no such folder: {missing}"
    assert "Traceback" not in result.stderr
    assert not missing.exists()


def test_an_output_that_is_a_folder_is_one_line_exit_2(findings_project: Path) -> None:
    (findings_project / "reports").mkdir()
    result = run("audit-config", ".", "-o", "reports")
    assert result.code == 2
    assert result.stderr.splitlines()[0] == "error: --output: reports is a folder; name a file"


def test_usage_errors_exit_2_with_one_line(project: Path) -> None:
    for args in (["--format", "xml"], ["--fail-on", "critical"], ["no/such/path"], ["--nope"]):
        result = run("audit-config", *args)
        assert result.code == 2, args
        assert result.stderr.startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2


def test_parse_error_exits_2_unless_ignored(project: Path) -> None:
    (project / ".mcp.json").write_text('{"mcpServers": {"a": ')
    (project / ".cursor").mkdir()
    (project / ".cursor" / "mcp.json").write_text('{"mcpServers": {"a": {"command": "node"}}}')
    result = run("audit-config", ".", "-f", "json")
    assert result.code == 2
    report = json.loads(result.stdout)
    [error] = [f for f in report["findings"] if f["rule"] == "error/parse"]
    assert (error["line"], error["column"]) == (1, 22)
    assert report["summary"]["files"] == 2
    assert "Traceback" not in result.stderr
    ignored = run("audit-config", ".", "--ignore-parse-errors")
    assert ignored.code == 0
    assert "error/parse" in ignored.stdout


def test_baseline_accepts_current_findings_and_catches_new_ones(findings_project: Path) -> None:
    written = run("audit-config", ".", "--write-baseline", "baseline.json")
    assert written.code == 0
    baseline_text = (findings_project / "baseline.json").read_text()
    _no_secret(baseline_text)
    baseline = json.loads(baseline_text)
    assert baseline["version"] == 1 and len(baseline["salt"]) == 32
    assert run("audit-config", ".", "--baseline", "baseline.json").code == 0
    # A rotated secret in the same place is a new finding.
    path = findings_project / ".mcp.json"
    rotated = tokengen.generate("github-pat", random.Random(5))
    path.write_text(path.read_text().replace(TOKEN, rotated))
    again = run("audit-config", ".", "--baseline", "baseline.json", "-f", "json")
    assert again.code == 1
    assert [f["rule"] for f in json.loads(again.stdout)["findings"]] == ["secret/github-pat"]


def test_baseline_survives_line_shifts_and_new_keys(findings_project: Path) -> None:
    assert run("audit-config", ".", "--write-baseline", "b.json").code == 0
    path = findings_project / ".mcp.json"
    data = json.loads(path.read_text())
    data["mcpServers"] = {"zzz-new-first": {"command": "node"}, **data["mcpServers"]}
    path.write_text(json.dumps(data, indent=4))
    assert run("audit-config", ".", "--baseline", "b.json").code == 0


def test_missing_or_corrupt_baseline_is_a_config_error(findings_project: Path) -> None:
    missing = run("audit-config", ".", "--baseline", "nope.json")
    assert missing.code == 3
    assert "hint: create it with" in missing.stderr
    (findings_project / "bad.json").write_text("{")
    assert run("audit-config", ".", "--baseline", "bad.json").code == 3


def test_project_config_ignores_and_threshold(findings_project: Path) -> None:
    (findings_project / "mcpcred.toml").write_text(
        '[audit]\nfail-on = "high"\n\n[[audit.ignore]]\nrule = "secret/*"\npath = ".mcp.json"\n'
        'reason = "test credentials"\n'
    )
    result = run("audit-config", ".", "-f", "json")
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["rule"].startswith("secret/")]
    assert report["summary"]["suppressed"] == 2
    assert result.code == 0  # only medium findings left, threshold high


def test_project_config_is_found_from_a_subdirectory(findings_project: Path) -> None:
    (findings_project / ".git").mkdir()
    (findings_project / "mcpcred.toml").write_text('[[audit.ignore]]\nserver = "github"\n')
    sub = findings_project / "sub"
    sub.mkdir()
    result = run("audit-config", "..", "-f", "json", cwd=sub)
    servers = {f["server"] for f in json.loads(result.stdout)["findings"]}
    assert "github" not in servers and "pg" in servers


def test_bad_project_config_exits_3(findings_project: Path) -> None:
    (findings_project / "mcpcred.toml").write_text('[audit]\nfail_on = "high"\n')
    result = run("audit-config", ".")
    assert result.code == 3
    assert "[audit]: unknown key(s): fail_on" in result.stderr
    (findings_project / "mcpcred.toml").write_text("[audit\n")
    assert run("audit-config", ".").code == 3


def test_no_path_scans_the_machine_and_the_working_directory(home: Path, project: Path) -> None:
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_text(
        json.dumps({"mcpServers": {"gh": {"command": "n", "env": {"GITHUB_TOKEN": TOKEN}}}})
    )
    _write_project(project)
    result = run("audit-config", "-f", "json")
    paths = {f["path"] for f in json.loads(result.stdout)["findings"]}
    assert paths >= {os.path.join("~", ".cursor", "mcp.json"), ".mcp.json"}
    files = {f["path"]: (f["client"], f["scope"]) for f in json.loads(result.stdout)["files"]}
    assert files[os.path.join("~", ".cursor", "mcp.json")] == ("cursor", "user")


def test_color_follows_tty_and_no_color(findings_project: Path) -> None:
    plain = run("audit-config", ".")
    assert "\x1b[" not in plain.stdout
    forced = run("audit-config", ".", env={"FORCE_COLOR": "1"})
    assert "\x1b[" in forced.stdout
    assert "\x1b[" not in run("audit-config", ".", env={"FORCE_COLOR": "1", "NO_COLOR": "1"}).stdout


def test_help_goes_through_the_full_cli(project: Path) -> None:
    result = run("audit-config", "--help")
    assert result.code == 0
    for option in (
        "--format",
        "--output",
        "--fail-on",
        "--baseline",
        "--write-baseline",
        "--ignore-parse-errors",
        "--config",
    ):
        assert option in result.stdout


def test_fast_path_and_typer_accept_the_same_options() -> None:
    import typer.main

    from mcpcred.cli import fast
    from mcpcred.cli.app import app, load_all

    load_all()
    command = typer.main.get_command(app).commands["audit-config"]  # type: ignore[attr-defined]
    typer_options = {opt for p in command.params for opt in p.opts if opt.startswith("-")}
    fast_options = {opt for action in fast.audit_parser()._actions for opt in action.option_strings}
    assert typer_options == fast_options - {"--debug"}


def test_audit_config_does_not_import_typer_or_rich_for_machine_formats(
    findings_project: Path,
) -> None:
    import subprocess
    import sys

    code = (
        "import sys; from mcpcred._entry import main; rc = main(['audit-config', '.', '-f', 'json', '-o', 'r.json']);"
        "print(sorted(m for m in ('typer', 'rich', 'click', 'pydantic', 'httpx', 'authlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_ruamel_yaml_is_imported_only_when_a_yaml_file_is_read(findings_project: Path) -> None:
    """Goose's and Continue's YAML need ruamel.yaml (~0.1 s to import): no other run pays."""
    import subprocess
    import sys

    code = (
        "import sys; from mcpcred._entry import main; "
        "rc = main(['audit-config', '.', '-f', 'json', '-o', 'r.json']); "
        "print('ruamel.yaml' in sys.modules)"
    )
    run = [sys.executable, "-c", code]
    out = subprocess.run(run, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    goose = findings_project / "goose" / "config.yaml"
    goose.parent.mkdir()
    goose.write_text("extensions:\n  a: {type: stdio, cmd: x, envs: {T: y}}\n")
    out = subprocess.run(run, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
    report = (findings_project / "r.json").read_text()
    assert "goose/config.yaml" in report


def _planted(adapter_id: str, fmt: str, container: str, env_key: str, token: str) -> str:
    """One stdio server holding ``token`` in ``env_key``, in the file's own format."""
    if fmt == "toml":
        return f'[{container}.gh]\ncommand = "n"\n[{container}.gh.{env_key}]\nGITHUB_TOKEN = "{token}"\n'
    if fmt == "shell":
        return f"mcp add gh --command n --env GITHUB_TOKEN {token}\n"
    if adapter_id == "continue":
        return f"mcpServers:\n  - name: gh\n    command: n\n    env: {{GITHUB_TOKEN: {token}}}\n"
    if adapter_id == "goose":
        return f"extensions:\n  gh: {{type: stdio, cmd: n, envs: {{GITHUB_TOKEN: {token}}}}}\n"
    command: object = ["n"] if adapter_id == "opencode" else "n"
    entry = {"command": command, env_key: {"GITHUB_TOKEN": token}}
    return json.dumps({container: {"gh": entry}})


def test_no_path_covers_the_user_file_of_every_client(home: Path, project: Path) -> None:
    """Issue 16: audit-config without a PATH reads every one of the twenty clients' files."""
    from mcpcred.clients import ADAPTERS
    from mcpcred.host import Host

    host = Host.current()
    expected = {}
    for adapter in ADAPTERS:
        location = next(loc for loc in adapter.user_locations(host) if "*" not in loc.path)
        path = Path(location.path)
        assert path.is_relative_to(home), path  # only ever the temporary HOME
        path.parent.mkdir(parents=True, exist_ok=True)
        container = str(adapter.containers[0][0])
        text = _planted(adapter.id, location.format, container, adapter.env_key, TOKEN)
        path.write_text(text, encoding="utf-8")
        expected[adapter.id] = str(path)
    result = run("audit-config", "-f", "json")
    report = json.loads(result.stdout)
    assert TOKEN not in result.stdout + result.stderr
    found = {
        f["client"]
        for f in report["findings"]
        if f["rule"].startswith("secret/") and f.get("server") == "gh"
    }
    assert found == set(expected), set(expected) - found
    assert len(found) == 20
