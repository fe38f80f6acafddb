"""``--format text``: the report for people, grouped by file, readable at a glance.

File names, server names and messages come from the scanned files, so they are
printed through ``terminal.printable``: a config cannot drive the terminal.

Lines are plain string writes, never broken at a width (a pipe, a log or
``grep`` gets whole lines; a terminal wraps them itself), with ANSI colour only
when the CLI says so (a terminal, ``NO_COLOR`` unset, or ``FORCE_COLOR``).
Rendering each line through rich cost more than scanning the file it came from.
"""

from __future__ import annotations

from collections.abc import Iterator

from mcpcred.audit.formats import Renderer, Totals, render_report
from mcpcred.audit.scan import AuditReport, ScannedFile
from mcpcred.discovery import Skipped
from mcpcred.models import Finding, Severity
from mcpcred.terminal import printable

# SGR parameters: what rich's "bold red", "yellow", "cyan", "dim"... were.
_SEVERITY = {Severity.HIGH: "1;31", Severity.MEDIUM: "33", Severity.LOW: "36"}
_PATH, _DIM, _BOLD, _FIX = "1;4", "2", "1", "32"


class TextRenderer(Renderer):
    """Findings grouped by file, then the skipped folders and a one-line summary."""

    def __init__(self, *, color: bool) -> None:
        self.color = color

    def _paint(self, text: str, sgr: str) -> str:
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.color and text else text

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """The file's name and client, then four lines at most per finding."""
        if not findings:
            return ""
        paint = self._paint
        where = f" ({scanned.client}, {scanned.scope})" if scanned.client != "unknown" else ""
        lines = [paint(printable(scanned.display_path), _PATH) + paint(where, _DIM)]
        for finding in findings:
            position = f" {finding.line}:{finding.column}".ljust(9)
            server = f"  [{printable(finding.server)}]" if finding.server else ""
            lines.append(
                "  "
                + paint(f"{str(finding.severity).upper():<6}", _SEVERITY[finding.severity])
                + paint(position, _DIM)
                + paint(f" {finding.rule}", _BOLD)
                + paint(server, _DIM)
            )
            lines.append("         " + printable(finding.message))
            if finding.evidence:
                lines.append(paint("         evidence: ", _DIM) + printable(finding.evidence))
            if finding.fix:
                lines.append(paint("         fix: ", _FIX) + printable(finding.fix))
        lines.append("")
        return "\n".join(lines) + "\n"

    def tail(self, totals: Totals) -> Iterator[str]:
        """Skipped folders (dim) and the summary line."""
        for line in skipped_lines(totals.skipped):
            yield self._paint(line, _DIM) + "\n"
        yield summary(totals) + "\n"


def render(report: AuditReport, *, color: bool, width: int | None = None) -> str:
    """The whole report as text (``width`` is accepted for old callers and ignored)."""
    return render_report(TextRenderer(color=color), report)


def skipped_lines(skipped: list[Skipped], limit: int = 5) -> list[str]:
    """One line per reason the walk skipped folders: the first few paths and a count."""
    by_reason: dict[str, list[str]] = {}
    for item in skipped:
        by_reason.setdefault(item.reason, []).append(item.path)
    lines = []
    for reason, paths in by_reason.items():
        shown = ", ".join(printable(p) for p in paths[:limit])
        more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
        lines.append(f"Skipped ({reason}): {shown}{more}")
    return lines


def summary(totals: Totals) -> str:
    """``N findings (x high, y low) in F files, S servers``, or ``No findings in ...``."""
    files, servers = totals.files, totals.servers
    scanned = (
        f"{files} file{'s' if files != 1 else ''}, {servers} server{'s' if servers != 1 else ''}"
    )
    suppressed = f", {totals.suppressed} suppressed" if totals.suppressed else ""
    if not totals.findings:
        return f"No findings in {scanned}{suppressed}."
    counts = totals.by_severity
    parts = ", ".join(f"{counts[s]} {s}" for s in reversed(Severity) if counts[s])
    total = totals.findings
    return f"{total} finding{'s' if total != 1 else ''} ({parts}) in {scanned}{suppressed}."
