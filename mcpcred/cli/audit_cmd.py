"""``mcpcred audit-config`` as a typer command (help, completion, the full CLI)."""

from __future__ import annotations

import enum
from pathlib import Path

import typer

from mcpcred.cli import audit_run
from mcpcred.cli.app import app


class OutputFormat(enum.StrEnum):
    """Report formats."""

    text = "text"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"


class FailOn(enum.StrEnum):
    """Thresholds for exit code 1."""

    low = "low"
    medium = "medium"
    high = "high"


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
    pretty: bool = typer.Option(
        False, "--pretty", help="Indent SARIF and JSON for people (default: compact)."
    ),
) -> int:
    """Find plaintext secrets and risky settings in MCP client configs.

    Nothing is executed and nothing leaves the machine. Exit codes: 0 nothing at or
    above --fail-on, 1 findings, 2 usage error or unparseable config, 3 bad
    mcpcred.toml or baseline.

    Example: mcpcred audit-config . --format sarif -o report.sarif --fail-on high
    """
    return audit_run.run(
        audit_run.AuditOptions(
            paths=[str(p) for p in paths or []],
            format=fmt.value,
            output=str(output) if output is not None else None,
            fail_on=fail_on.value if fail_on is not None else None,
            baseline=str(baseline) if baseline is not None else None,
            write_baseline=str(write_baseline) if write_baseline is not None else None,
            ignore_parse_errors=ignore_parse_errors,
            config=str(config) if config is not None else None,
            pretty=pretty,
        )
    )
