"""``--format json`` and ``--format jsonl``: the report for scripts, stable keys.

``json`` is one document: ``tool``, ``version``, ``findings`` (one compact object
per line, so it still diffs and greps line by line), ``files``, ``skipped`` and
``summary``. It is written as it is produced, so ``summary`` comes last; the
``files`` list waits in a spooled temporary file (paths and client names only,
never a finding) until the findings are written.

``jsonl`` is JSON Lines: one object per line, each with a ``type``: ``file``
(a scanned file, before its findings), ``finding``, ``skipped`` (a folder the
walk did not enter) and, last, ``summary``. Nothing is held back, so a consumer
can act on the first finding while the scan goes on.

Both encode with ``ensure_ascii=False`` and then pass through
``terminal.json_text``, which escapes the hidden characters a config may carry.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator

from mcpcred import __version__
from mcpcred.audit.formats import Renderer, Totals, location_fingerprint, render_report
from mcpcred.audit.scan import AuditReport, ScannedFile
from mcpcred.models import Finding
from mcpcred.terminal import json_text

_COMPACT = (",", ":")


def finding_object(finding: Finding) -> dict[str, object]:
    """A finding as both JSON formats write it."""
    return {
        "rule": finding.rule,
        "severity": str(finding.severity),
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "client": finding.client,
        "server": finding.server,
        "message": finding.message,
        "fix": finding.fix,
        "evidence": finding.evidence,
        "fingerprint": location_fingerprint(finding),
    }


def file_object(scanned: ScannedFile) -> dict[str, object]:
    """A scanned file as both JSON formats write it."""
    return {
        "path": scanned.display_path,
        "client": scanned.client,
        "scope": scanned.scope,
        "servers": scanned.servers,
        "error": scanned.error,
    }


def _dumps(value: object, indent: int | None = None) -> str:
    return json.dumps(value, ensure_ascii=False, indent=indent)


def _row(value: object, pretty: bool) -> str:
    """An item of a top-level list: 4 spaces in, compact (or indented under ``--pretty``)."""
    if not pretty:
        return "    " + _dumps(value)
    return "    " + _dumps(value, indent=2).replace("\n", "\n    ")


class JsonRenderer(Renderer):
    """One JSON document, streamed: findings as they come, the file list after them."""

    separator = ","

    def __init__(self, *, pretty: bool = False) -> None:
        self.pretty = pretty
        self._files: tempfile.SpooledTemporaryFile[str] | None = None
        self._file_count = 0

    def head(self) -> str:
        """The tool's name and version, and the opening of ``findings``."""
        return json_text(
            f'{{\n  "tool": "mcpcred",\n  "version": {_dumps(__version__)},\n  "findings": ['
        )

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """The file's findings, each on its own line (indented under ``--pretty``)."""
        if not findings:
            return ""
        return json_text("".join(",\n" + _row(finding_object(f), self.pretty) for f in findings))

    def seen(self, scanned: ScannedFile) -> None:
        """Spool the file's entry for the ``files`` list."""
        if self._files is None:
            self._files = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in tail
                max_size=1 << 20, mode="w+", encoding="utf-8"
            )
        self._files.write(
            ("," if self._file_count else "") + "\n" + _row(file_object(scanned), self.pretty)
        )
        self._file_count += 1

    def tail(self, totals: Totals) -> Iterator[str]:
        """Close ``findings``; then ``files``, ``skipped`` and ``summary``."""
        yield "\n  ],\n" if totals.findings else "],\n"
        yield '  "files": ['
        if self._files is not None:
            self._files.seek(0)
            while piece := self._files.read(1 << 16):
                yield json_text(piece)
            self._files.close()
            self._files = None
        yield "\n  ],\n" if self._file_count else "],\n"
        skipped = [{"path": s.path, "reason": s.reason} for s in totals.skipped]
        rows = ",\n".join(_row(s, self.pretty) for s in skipped)
        yield json_text(f'  "skipped": [\n{rows}\n  ],\n' if skipped else '  "skipped": [],\n')
        yield f'  "summary": {_dumps(totals.summary())}\n}}\n'


class JsonLinesRenderer(Renderer):
    """JSON Lines: ``file`` and ``finding`` objects as files finish, then ``skipped`` and
    ``summary``."""

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """A ``file`` line, then one ``finding`` line per finding."""
        lines = [
            json.dumps(
                {"type": "file", **file_object(scanned)}, ensure_ascii=False, separators=_COMPACT
            )
        ]
        lines.extend(
            json.dumps(
                {"type": "finding", **finding_object(f)}, ensure_ascii=False, separators=_COMPACT
            )
            for f in findings
        )
        return json_text("\n".join(lines) + "\n")

    def tail(self, totals: Totals) -> Iterator[str]:
        """One ``skipped`` line per folder, then the ``summary`` line."""
        for item in totals.skipped:
            skipped = {"type": "skipped", "path": item.path, "reason": item.reason}
            yield json_text(json.dumps(skipped, ensure_ascii=False, separators=_COMPACT) + "\n")
        summary: dict[str, object] = {"type": "summary", "tool": "mcpcred"}
        summary |= {"version": __version__, **totals.summary()}
        yield json.dumps(summary, ensure_ascii=False, separators=_COMPACT) + "\n"


def render(report: AuditReport, *, pretty: bool = False) -> str:
    """The whole report as one JSON document."""
    return render_report(JsonRenderer(pretty=pretty), report)


def render_lines(report: AuditReport) -> str:
    """The whole report as JSON Lines."""
    return render_report(JsonLinesRenderer(), report)
