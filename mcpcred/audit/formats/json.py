"""``--format json``: the report for scripts, stable keys, one document."""

from __future__ import annotations

import json
from collections import Counter

from mcpcred import __version__
from mcpcred.audit.formats import location_fingerprint
from mcpcred.audit.scan import AuditReport
from mcpcred.models import Severity


def render(report: AuditReport) -> str:
    """The whole report as a JSON document."""
    counts = Counter(str(f.severity) for f in report.findings)
    document: dict[str, object] = {
        "tool": "mcpcred",
        "version": __version__,
        "summary": {
            "files": len(report.files),
            "servers": sum(f.servers for f in report.files),
            "findings": len(report.findings),
            "suppressed": report.suppressed,
            "parse_errors": len(report.parse_errors),
            "by_severity": {str(s): counts.get(str(s), 0) for s in reversed(Severity)},
        },
        "findings": [
            {
                "rule": f.rule,
                "severity": str(f.severity),
                "path": f.path,
                "line": f.line,
                "column": f.column,
                "client": f.client,
                "server": f.server,
                "message": f.message,
                "fix": f.fix,
                "evidence": f.evidence,
                "fingerprint": location_fingerprint(f),
            }
            for f in report.findings
        ],
        "files": [
            {
                "path": f.display_path,
                "client": f.client,
                "scope": f.scope,
                "servers": f.servers,
                "error": f.error,
            }
            for f in report.files
        ],
        "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
    }
    return _dump(document)


def _dump(document: dict[str, object]) -> str:
    """Indented at the top, one compact object per line below it.

    ``json.dumps(indent=...)`` falls back to the pure-Python encoder, which is
    most of the run time for a report of thousands of findings; this layout
    uses the C encoder per item and still diffs and greps line by line.
    """
    lines = ["{"]
    items = list(document.items())
    for index, (key, value) in enumerate(items):
        comma = "," if index < len(items) - 1 else ""
        head = f"  {json.dumps(key)}: "
        if isinstance(value, list) and value:
            rows = [f"    {json.dumps(row, ensure_ascii=False)}" for row in value]
            lines.append(head + "[\n" + ",\n".join(rows) + "\n  ]" + comma)
        else:
            lines.append(head + json.dumps(value, ensure_ascii=False) + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"
