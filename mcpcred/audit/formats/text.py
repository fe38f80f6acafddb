"""``--format text``: the report for people, grouped by file, readable at a glance.

File names, server names and messages come from the scanned files, so they are
printed through ``terminal.printable``: a config cannot drive the terminal.

This is the only audit module that imports rich, and only when called, so the
JSON and SARIF paths (CI) never pay for it.
"""

from __future__ import annotations

import io
from collections import Counter
from itertools import groupby

from mcpcred.audit.scan import AuditReport
from mcpcred.models import Severity
from mcpcred.terminal import printable

_STYLE = {Severity.HIGH: "bold red", Severity.MEDIUM: "yellow", Severity.LOW: "cyan"}


def render(report: AuditReport, *, color: bool, width: int = 100) -> str:
    """Findings grouped by file, then a one-line summary."""
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer,
        force_terminal=color,
        no_color=not color,
        width=width,
        highlight=False,
        soft_wrap=False,
    )
    clients = {f.display_path: f for f in report.files}
    for path, group in groupby(report.findings, key=lambda f: f.path):
        findings = list(group)
        scanned = clients.get(path)
        where = (
            f" ({scanned.client}, {scanned.scope})"
            if scanned and scanned.client != "unknown"
            else ""
        )
        console.print(Text(printable(path), style="bold underline") + Text(where, style="dim"))
        for finding in findings:
            line = Text("  ")
            line.append(f"{str(finding.severity).upper():<6}", style=_STYLE[finding.severity])
            line.append(f" {finding.line}:{finding.column}".ljust(9), style="dim")
            line.append(f" {finding.rule}", style="bold")
            if finding.server:
                line.append(f"  [{printable(finding.server)}]", style="dim")
            console.print(line)
            console.print(Text("         ") + Text(printable(finding.message)))
            if finding.evidence:
                console.print(
                    Text("         evidence: ", style="dim") + Text(printable(finding.evidence))
                )
            if finding.fix:
                console.print(Text("         fix: ", style="green") + Text(printable(finding.fix)))
        console.print()
    for skipped in skipped_lines(report):
        console.print(Text(skipped, style="dim"))
    console.print(_summary(report))
    return buffer.getvalue()


def skipped_lines(report: AuditReport, limit: int = 5) -> list[str]:
    """One line per reason the walk skipped folders: the first few paths and a count."""
    by_reason: dict[str, list[str]] = {}
    for item in report.skipped:
        by_reason.setdefault(item.reason, []).append(item.path)
    lines = []
    for reason, paths in by_reason.items():
        shown = ", ".join(paths[:limit])
        more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
        lines.append(f"Skipped ({reason}): {shown}{more}")
    return lines


def _summary(report: AuditReport) -> str:
    files = len(report.files)
    servers = sum(f.servers for f in report.files)
    scanned = (
        f"{files} file{'s' if files != 1 else ''}, {servers} server{'s' if servers != 1 else ''}"
    )
    suppressed = f", {report.suppressed} suppressed" if report.suppressed else ""
    if not report.findings:
        return f"No findings in {scanned}{suppressed}."
    counts = Counter(f.severity for f in report.findings)
    parts = ", ".join(f"{counts[s]} {s}" for s in reversed(Severity) if counts[s])
    total = len(report.findings)
    return f"{total} finding{'s' if total != 1 else ''} ({parts}) in {scanned}{suppressed}."
