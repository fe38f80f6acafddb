"""``--format sarif``: SARIF 2.1.0 for GitHub code scanning and other SARIF consumers.

Every rule is described in ``tool.driver.rules`` (with ``security-severity``
so GitHub ranks them), each result points at the secret value with 1-based
line and column (code points), and ``partialFingerprints`` come from
``location_fingerprint`` so alerts survive line shifts and never embed a secret.
Paths inside the working directory are relative to ``%SRCROOT%``, which is
what code scanning expects for files in the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mcpcred import __version__
from mcpcred.audit.formats import location_fingerprint
from mcpcred.audit.rules import RULES
from mcpcred.audit.scan import AuditReport
from mcpcred.models import Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mcpcred/mcpcred"
_LEVEL = {Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
_SECURITY_SEVERITY = {Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}


def _rule_entry(rule_id: str) -> dict[str, object]:
    rule = RULES[rule_id]
    family = rule_id.split("/", 1)[0]
    return {
        "id": rule.id,
        "name": "".join(part.capitalize() for part in rule.id.replace("/", "-").split("-")),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "help": {
            "text": f"{rule.description} Fix: {rule.fix}",
            "markdown": f"{rule.description}\n\n**Fix:** {rule.fix}",
        },
        "helpUri": f"{INFORMATION_URI}/blob/main/docs/audit-config.md",
        "defaultConfiguration": {"level": _LEVEL[rule.severity]},
        "properties": {
            "tags": ["security", family],
            "security-severity": _SECURITY_SEVERITY[rule.severity],
            "precision": "high" if family != "hygiene" else "very-high",
        },
    }


def _artifact(path: str) -> dict[str, object]:
    """An artifactLocation: relative to %SRCROOT% under the working directory, else a file URI."""
    if os.path.isabs(path) or path.startswith("~"):
        return {"uri": Path(os.path.expanduser(path)).as_uri()}
    return {"uri": path.replace(os.sep, "/"), "uriBaseId": "%SRCROOT%"}


def _skipped_notifications(report: AuditReport) -> list[dict[str, object]]:
    """One note per reason the directory walk skipped folders, locating each folder."""
    by_reason: dict[str, list[str]] = {}
    for item in report.skipped:
        by_reason.setdefault(item.reason, []).append(item.path)
    return [
        {
            "level": "note",
            "descriptor": {"id": "walk/skipped-folder"},
            "message": {"text": f"Skipped {len(paths)} folder(s), not scanned: {reason}"},
            "locations": [
                {"physicalLocation": {"artifactLocation": _artifact(path)}} for path in paths
            ],
        }
        for reason, paths in by_reason.items()
    ]


def render(report: AuditReport, cwd: str) -> str:
    """The report as one SARIF 2.1.0 log with a single run."""
    rule_ids = sorted(RULES)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for finding in report.findings:
        location = _artifact(finding.path)
        result: dict[str, object] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message + (f". Fix: {finding.fix}" if finding.fix else "")},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": location,
                        "region": {"startLine": finding.line, "startColumn": finding.column},
                    }
                }
            ],
            "partialFingerprints": {"mcpcredFindingHash/v1": location_fingerprint(finding)},
            "properties": {
                "severity": str(finding.severity),
                "client": finding.client,
                "server": finding.server,
                "evidence": finding.evidence,
                "security-severity": _SECURITY_SEVERITY[finding.severity],
            },
        }
        results.append(result)
    log = {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "mcpcred",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": INFORMATION_URI,
                        "rules": [_rule_entry(rule_id) for rule_id in rule_ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(cwd).as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": _skipped_notifications(report),
                    }
                ],
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
