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
    document = {
        "tool": "mcpcred",
        "version": __version__,
        "summary": {
            "files": len(report.files),
            "servers": sum(len(f.servers) for f in report.files),
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
                "servers": len(f.servers),
                "error": f.error,
            }
            for f in report.files
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
