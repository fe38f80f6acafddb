"""The one implementation of ``audit-config`` behind both of its front ends.

The typer command (``audit_cmd``) and the stdlib-only fast path (``fast``)
each turn their arguments into ``AuditOptions`` and call ``run``. Nothing here
imports typer; rich is imported only by the text renderer, and only when the
text format is asked for.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from mcpcred import project_config
from mcpcred.audit import baseline as baselines
from mcpcred.audit.formats import FORMATS
from mcpcred.audit.scan import AuditReport, scan
from mcpcred.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from mcpcred.fsutil import atomic_write
from mcpcred.host import Host
from mcpcred.models import Severity
from mcpcred.terminal import json_text

SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Everything ``audit-config`` accepts, already parsed."""

    paths: list[str] = field(default_factory=list)
    format: str = "text"
    output: str | None = None
    fail_on: str | None = None
    baseline: str | None = None
    write_baseline: str | None = None
    ignore_parse_errors: bool = False
    config: str | None = None


def _color(output: str | None) -> bool:
    if output is not None or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def render(report: AuditReport, fmt: str, host: Host, *, color: bool) -> str:
    """The report in one of ``FORMATS``."""
    if fmt == "json":
        from mcpcred.audit.formats import json as json_format

        return json_format.render(report)
    if fmt == "sarif":
        from mcpcred.audit.formats import sarif

        return sarif.render(report, host.cwd)
    from mcpcred.audit.formats import text

    return text.render(report, color=color)


def _check_writable(option: str, path: str) -> None:
    """Refuse an output path whose folder is missing before scanning, not after.

    Like gitleaks' ``--report-path``, mcpcred does not create folders: a typo in a CI
    step should fail that step with one line, not leave a report somewhere unexpected.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option}: no such folder: {folder}", hint="create it first")
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path} is a folder; name a file")


def _write(path: str, text: str) -> None:
    """Write a report or baseline; a failure is one line (exit 2), not a traceback."""
    try:
        atomic_write(path, text)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot write {path}: {reason}") from None


def run(options: AuditOptions, host: Host | None = None) -> int:
    """Scan, render, write, and return the exit code (0, 1 or 2)."""
    host = host or Host.current()
    if options.format not in FORMATS:
        raise UsageError(f"unknown format {options.format!r}; choose text, json or sarif")
    if options.fail_on is not None and options.fail_on not in SEVERITIES:
        raise UsageError(f"unknown severity {options.fail_on!r}; choose low, medium or high")
    if options.config is not None and not os.path.isfile(options.config):
        raise UsageError(f"no such file: {options.config}")
    if options.baseline and options.write_baseline:
        same = os.path.abspath(options.baseline) == os.path.abspath(options.write_baseline)
        if not same:
            raise UsageError("--baseline and --write-baseline name different files")
    for option, target in (
        ("--output", options.output),
        ("--write-baseline", options.write_baseline),
    ):
        if target is not None:
            _check_writable(option, target)
    settings = project_config.load(options.config or project_config.find(host.cwd))
    accepted = None
    if options.baseline is not None and not (
        options.write_baseline and not os.path.exists(options.baseline)
    ):
        accepted = baselines.load(options.baseline)
    report = scan(options.paths, host, settings, None if options.write_baseline else accepted)
    ignore_errors = options.ignore_parse_errors or settings.ignore_parse_errors

    if options.write_baseline is not None:
        keep = [f for f in report.all_findings if f.rule != "error/parse"]
        fresh = accepted or baselines.Baseline.new()
        _write(options.write_baseline, baselines.render(keep, fresh))
        sys.stderr.write(f"wrote {len(keep)} finding(s) to baseline {options.write_baseline}\n")
        return EXIT_USAGE if report.parse_errors and not ignore_errors else EXIT_OK

    rendered = render(report, options.format, host, color=_color(options.output))
    if options.format != "text":  # names from the scanned files, in JSON strings
        rendered = json_text(rendered)
    if options.output is not None:
        _write(options.output, rendered)
    else:
        sys.stdout.write(rendered)
        sys.stdout.flush()

    if report.parse_errors and not ignore_errors:
        return EXIT_USAGE
    if options.fail_on is not None:
        threshold = Severity.parse(options.fail_on)
    else:
        threshold = settings.fail_on or Severity.LOW
    failing = [f for f in report.findings if f.rule != "error/parse" and f.severity >= threshold]
    return EXIT_FINDINGS if failing else EXIT_OK
