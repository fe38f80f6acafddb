"""``mcpcred audit-config``: find plaintext secrets and risky settings in MCP configs."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path

import typer

from mcpcred import project_config
from mcpcred.audit import baseline as baselines
from mcpcred.audit.scan import AuditReport, scan
from mcpcred.cli import app
from mcpcred.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from mcpcred.fsutil import atomic_write
from mcpcred.host import Host
from mcpcred.models import Severity


class OutputFormat(enum.StrEnum):
    """Report formats."""

    text = "text"
    json = "json"
    sarif = "sarif"


class FailOn(enum.StrEnum):
    """Thresholds for exit code 1."""

    low = "low"
    medium = "medium"
    high = "high"


def _color(output: Path | None) -> bool:
    if output is not None or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _render(report: AuditReport, fmt: OutputFormat, host: Host, color: bool) -> str:
    if fmt is OutputFormat.json:
        from mcpcred.audit.formats import json as json_format

        return json_format.render(report)
    if fmt is OutputFormat.sarif:
        from mcpcred.audit.formats import sarif

        return sarif.render(report, host.cwd)
    from mcpcred.audit.formats import text

    return text.render(report, color=color)


@app.command("audit-config")
def audit_config(
    paths: list[Path] = typer.Argument(
        None,
        help="Files or directories to scan. Default: every client config on this machine "
        "plus project configs under the current directory.",
        show_default=False,
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write the report to FILE (mode 0600) instead of stdout."
    ),
    fail_on: FailOn | None = typer.Option(
        None,
        "--fail-on",
        help="Exit 1 when a finding is at or above this severity [default: low, or mcpcred.toml].",
        show_default=False,
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Do not report findings accepted in this baseline file."
    ),
    write_baseline: Path | None = typer.Option(
        None, "--write-baseline", help="Accept all current findings: write them to FILE and exit 0."
    ),
    ignore_parse_errors: bool = typer.Option(
        False, "--ignore-parse-errors", help="Report unparseable files but do not exit 2 for them."
    ),
    config: Path | None = typer.Option(
        None, "--config", help="Project settings file [default: nearest mcpcred.toml]."
    ),
) -> int:
    """Find plaintext secrets and risky settings in MCP client configs.

    Nothing is executed and nothing leaves the machine. Exit codes: 0 nothing at or
    above --fail-on, 1 findings, 2 usage error or unparseable config, 3 bad
    mcpcred.toml or baseline.
    """
    host = Host.current()
    if config is not None and not config.is_file():
        raise UsageError(f"no such file: {config}")
    settings = project_config.load(
        str(config) if config is not None else project_config.find(host.cwd)
    )
    accepted = baselines.load(str(baseline)) if baseline is not None else None
    report = scan([str(p) for p in paths or []], host, settings, accepted)
    ignore_errors = ignore_parse_errors or settings.ignore_parse_errors

    if write_baseline is not None:
        keep = [f for f in report.all_findings if f.rule != "error/parse"]
        fresh = accepted or baselines.Baseline.new()
        atomic_write(str(write_baseline), baselines.render(keep, fresh))
        sys.stderr.write(f"wrote {len(keep)} finding(s) to baseline {write_baseline}\n")
        return EXIT_USAGE if report.parse_errors and not ignore_errors else EXIT_OK

    rendered = _render(report, fmt, host, _color(output))
    if output is not None:
        atomic_write(str(output), rendered)
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()

    if report.parse_errors and not ignore_errors:
        return EXIT_USAGE
    threshold = Severity.parse(fail_on.value) if fail_on else (settings.fail_on or Severity.LOW)
    failing = [f for f in report.findings if f.rule != "error/parse" and f.severity >= threshold]
    return EXIT_FINDINGS if failing else EXIT_OK
