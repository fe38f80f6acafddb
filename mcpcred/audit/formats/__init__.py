"""Renderers for ``audit-config`` reports, written as streams.

A report is a head, one chunk per scanned file and a tail. Chunks are rendered
by the worker that scanned the file (``Renderer.chunk`` runs there), so the
process that writes the report only concatenates strings in plan order and
keeps running totals: memory does not grow with the number of files. Each
format module also has a ``render(report)`` that builds the whole string from
an in-memory ``AuditReport``, for tests and library callers.

The CLI decides where the stream goes (stdout, or ``--output`` through a temp
file renamed at the end, so a failed run never leaves a half-written report
file). No renderer has access to secret values: findings carry only redacted
evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcpcred.discovery import Skipped
from mcpcred.models import Finding, Severity

if TYPE_CHECKING:  # the scan module imports nothing from here
    from mcpcred.audit.scan import AuditReport, FileOutcome, ScannedFile

FORMATS = ("text", "json", "jsonl", "sarif")


def location_fingerprint(finding: Finding) -> str:
    """A fingerprint of where a finding is (rule, file, server, value pointer).

    It is stable across versions and line shifts, and contains nothing derived
    from the secret, so it can be published in SARIF and JSON reports.
    """
    parts = [
        finding.rule,
        finding.path.replace("\\", "/"),
        finding.server or "",
        "/".join(map(str, finding.pointer)),
        finding.evidence if finding.secret_digest is None and finding.evidence else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


# Low, medium, high: the order of ``FileOutcome.severities``. A tuple, since iterating
# the enum class runs Python code, and the writing process adds every file's counts.
_SEVERITIES = tuple(Severity)


@dataclass(slots=True)
class Totals:
    """The running counts behind every format's summary, kept by the writing process."""

    skipped: list[Skipped] = field(default_factory=list)
    files: int = 0
    servers: int = 0
    findings: int = 0
    suppressed: int = 0
    parse_errors: int = 0
    by_severity: dict[Severity, int] = field(default_factory=lambda: dict.fromkeys(Severity, 0))
    # The highest severity among findings that are not parse errors (for --fail-on).
    worst: Severity | None = None

    def add(self, outcome: FileOutcome) -> None:
        """Count one file's outcome."""
        if outcome.scanned is not None:
            self.files += 1
            self.servers += outcome.scanned.servers
        self.suppressed += outcome.suppressed
        self.findings += outcome.count
        self.parse_errors += outcome.parse_errors
        for severity, count in zip(_SEVERITIES, outcome.severities, strict=True):
            self.by_severity[severity] += count
        if outcome.worst is not None and (self.worst is None or outcome.worst > self.worst):
            self.worst = outcome.worst

    def summary(self) -> dict[str, object]:
        """The ``summary`` object of the JSON formats."""
        return {
            "files": self.files,
            "servers": self.servers,
            "findings": self.findings,
            "suppressed": self.suppressed,
            "parse_errors": self.parse_errors,
            "by_severity": {str(s): self.by_severity[s] for s in reversed(Severity)},
        }


class Renderer:
    """One report format as a stream: ``head``, ``chunk`` per file, ``tail``.

    ``chunk`` must depend only on its arguments and on settings fixed at
    construction: it runs in worker processes. ``separator`` is what stands
    between two items of a JSON array; every non-empty chunk starts with it and
    the writer drops it before the first item.
    """

    separator = ""

    def head(self) -> str:
        """What comes before the first file.

        Nothing here may depend on the walk (the skipped folders): a streamed scan
        writes the head before its walk is done. What the walk found goes in ``tail``.
        """
        return ""

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """One file's part of the report ('' for nothing)."""
        raise NotImplementedError

    def seen(self, scanned: ScannedFile) -> None:
        """Note a scanned file in the writing process (for formats that list files)."""

    def tail(self, totals: Totals) -> Iterator[str]:
        """What comes after the last file."""
        return iter(())


def renderer(fmt: str, cwd: str, *, color: bool = False, pretty: bool = False) -> Renderer:
    """The streaming renderer for ``fmt`` (one of ``FORMATS``); imports only that format."""
    if fmt == "sarif":
        from mcpcred.audit.formats import sarif

        return sarif.SarifRenderer(cwd, pretty=pretty)
    if fmt == "json":
        from mcpcred.audit.formats import json as json_format

        return json_format.JsonRenderer(pretty=pretty)
    if fmt == "jsonl":
        from mcpcred.audit.formats import json as json_format

        return json_format.JsonLinesRenderer()
    from mcpcred.audit.formats import text

    return text.TextRenderer(color=color)


def render_report(renderer: Renderer, report: AuditReport) -> str:
    """A whole in-memory report through a streaming renderer, as one string."""
    from mcpcred.audit.scan import outcome_from

    by_path: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_path.setdefault(finding.path, []).append(finding)
    totals = Totals(skipped=report.skipped)
    totals.suppressed = report.suppressed
    pieces = [renderer.head()]
    first = True
    for scanned in report.files:
        findings = by_path.get(scanned.display_path, [])
        totals.add(outcome_from(scanned, findings))
        renderer.seen(scanned)
        piece = renderer.chunk(scanned, findings)
        if first and piece:
            piece = piece.removeprefix(renderer.separator)
            first = False
        pieces.append(piece)
    pieces.extend(renderer.tail(totals))
    return "".join(pieces)
