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
from collections.abc import Iterator
from json.encoder import encode_basestring
from pathlib import Path

from mcpcred import __version__
from mcpcred.audit.formats import Renderer, Totals, location_fingerprint, render_report
from mcpcred.audit.rules import RULES
from mcpcred.audit.scan import AuditReport, ScannedFile
from mcpcred.discovery import Skipped
from mcpcred.models import Finding, Severity
from mcpcred.terminal import json_text

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


def _skipped_notifications(skipped: list[Skipped]) -> list[dict[str, object]]:
    """One note per reason the directory walk skipped folders, locating each folder."""
    by_reason: dict[str, list[str]] = {}
    for item in skipped:
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


def result_object(finding: Finding, index: dict[str, int]) -> dict[str, object]:
    """One SARIF result: where the value is, what to do, and a fingerprint that survives edits."""
    return {
        "ruleId": finding.rule,
        "ruleIndex": index[finding.rule],
        "level": _LEVEL[finding.severity],
        "message": {"text": finding.message + (f". Fix: {finding.fix}" if finding.fix else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": _artifact(finding.path),
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


def _json_value(value: object) -> str:
    """A scalar as ``json.dumps(value, ensure_ascii=False)`` writes it, without its set-up."""
    if type(value) is str:
        return encode_basestring(value)
    if value is None:
        return "null"
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)


def _artifact_json(path: str) -> str:
    """``_artifact(path)`` as compact JSON: the one location every result of a file shares."""
    artifact = _artifact(path)
    uri = encode_basestring(str(artifact["uri"]))
    if "uriBaseId" in artifact:
        return f'{{"uri":{uri},"uriBaseId":"%SRCROOT%"}}'
    return f'{{"uri":{uri}}}'


def _visible_string(value: str) -> str:
    """``json_text`` of a string's JSON encoding."""
    return json_text(encode_basestring(value))


def _visible_value(value: object) -> str:
    """``json_text`` of ``_json_value``."""
    return json_text(_json_value(value))


# What a result says of its severity, written once: its level, and after the evidence,
# the security-severity property.
_LEVEL_TEXT = {severity: f'"level":"{level}"' for severity, level in _LEVEL.items()}
_SEVERITY_PROPS = {
    severity: (f'"severity":"{severity}"', f'"security-severity":"{_SECURITY_SEVERITY[severity]}"')
    for severity in Severity
}


def compact_results(
    findings: list[Finding], index: dict[str, int], *, visible: bool = False
) -> str:
    """``json.dumps([result_object(f, index) for f in findings], ensure_ascii=False,
    separators=(",", ":"))`` without the brackets, written directly; with ``visible``,
    passed through ``terminal.json_text`` too.

    The same bytes (tests hold them equal): building a dict per result and then
    encoding it was most of rendering SARIF, itself a fifth of a scan's CPU. A file's
    location is encoded once, and strings (what most fields are) go straight to the
    encoder; anything else takes ``_json_value``. ``json_text`` maps each character on
    its own and everything but the values is ASCII, so it runs on each value rather
    than on the whole text: redacted evidence ends in a non-ASCII ellipsis, and
    checking every character of every file's results cost a quarter of rendering them.
    """
    out: list[str] = []
    shown_path: str | None = None
    artifact = ""
    encode = _visible_string if visible else encode_basestring
    other = _visible_value if visible else _json_value
    for finding in findings:
        if finding.path != shown_path:  # one file per chunk: computed once
            shown_path = finding.path
            artifact = _artifact_json(shown_path)
            if visible:
                artifact = json_text(artifact)
        severity = finding.severity
        fix = finding.fix
        message = finding.message + f". Fix: {fix}" if fix else finding.message
        line, column = finding.line, finding.column
        client, server, evidence = finding.client, finding.server, finding.evidence
        severity_prop, security_prop = _SEVERITY_PROPS[severity]
        rule = finding.rule
        out.append(
            f'{{"ruleId":{encode(rule) if type(rule) is str else other(rule)},'
            f'"ruleIndex":{index[rule]},'
            f'{_LEVEL_TEXT[severity]},"message":{{"text":{encode(message)}}},'
            f'"locations":[{{"physicalLocation":{{"artifactLocation":{artifact},'
            f'"region":{{"startLine":{line if type(line) is int else other(line)},'
            f'"startColumn":{column if type(column) is int else other(column)}}}}}}}],'
            f'"partialFingerprints":{{"mcpcredFindingHash/v1":"{location_fingerprint(finding)}"}},'
            f'"properties":{{{severity_prop},'
            f'"client":{encode(client) if type(client) is str else other(client)},'
            f'"server":{encode(server) if type(server) is str else other(server)},'
            f'"evidence":{encode(evidence) if type(evidence) is str else other(evidence)},'
            f"{security_prop}}}}}"
        )
    return ",".join(out)


def log_object(cwd: str, skipped: list[Skipped]) -> dict[str, object]:
    """The SARIF log around the results (``results`` empty, before the invocation)."""
    return {
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
                        "rules": [_rule_entry(rule_id) for rule_id in sorted(RULES)],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": Path(cwd).as_uri() + "/"}},
                "columnKind": "unicodeCodePoints",
                "results": [],
                # After the results: the skipped folders are known only once the
                # walk is done, and a streamed scan has written its results by then.
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "toolExecutionNotifications": _skipped_notifications(skipped),
                    }
                ],
            }
        ],
    }


# Results sit at this depth under --pretty: log > runs > run > results > result.
_RESULT_INDENT = " " * 8


class SarifRenderer(Renderer):
    """SARIF 2.1.0 written as a stream: the log up to ``"results": [``, the results as
    files finish, then the closing brackets.

    Compact by default (a CI artifact is read by programs, and indentation made
    the file four times larger); ``pretty`` indents it for people.
    """

    separator = ","

    def __init__(self, cwd: str, *, pretty: bool = False) -> None:
        self.cwd = cwd
        self.pretty = pretty
        self._index = {rule_id: i for i, rule_id in enumerate(sorted(RULES))}

    def _dumps(self, value: object) -> str:
        if self.pretty:
            return json.dumps(value, ensure_ascii=False, indent=2)
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def _split(self, skipped: list[Skipped]) -> tuple[str, str]:
        text = self._dumps(log_object(self.cwd, skipped))
        marker = '"results": []' if self.pretty else '"results":[]'
        at = text.rindex(marker) + len(marker) - 1
        return text[:at], text[at:]

    def head(self) -> str:
        """Everything before the first result."""
        return json_text(self._split([])[0])

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """The file's results, each preceded by the separator."""
        if not findings:
            return ""
        if not self.pretty:
            return "," + compact_results(findings, self._index, visible=True)
        return json_text(
            "".join(
                ",\n"
                + _RESULT_INDENT
                + self._dumps(result_object(f, self._index)).replace("\n", "\n" + _RESULT_INDENT)
                for f in findings
            )
        )

    def tail(self, totals: Totals) -> Iterator[str]:
        """The closing brackets, then the invocation with the skipped folders."""
        closing = self._split(totals.skipped)[1]
        if self.pretty and totals.findings:
            closing = "\n      " + closing
        yield json_text(closing) + "\n"


def render(report: AuditReport, cwd: str, *, pretty: bool = False) -> str:
    """The report as one SARIF 2.1.0 log with a single run."""
    return render_report(SarifRenderer(cwd, pretty=pretty), report)
