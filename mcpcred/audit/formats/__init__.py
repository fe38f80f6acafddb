"""Renderers for ``audit-config`` reports: each returns a string and never prints.

The CLI decides where the string goes (stdout or ``--output``), so a failed
run never leaves a half-written report. No renderer has access to secret
values: findings carry only redacted evidence.
"""

from __future__ import annotations

import hashlib

from mcpcred.models import Finding

FORMATS = ("text", "json", "sarif")


def location_fingerprint(finding: Finding) -> str:
    """A fingerprint of where a finding is (rule, file, server, value pointer).

    It is stable across versions and line shifts, and contains nothing derived
    from the secret, so it can be published in SARIF and JSON reports.
    """
    parts = [
        finding.rule,
        finding.path.replace("\\", "/"),
        finding.server or "",
        "/".join(str(p) for p in finding.pointer),
        finding.evidence if finding.secret_digest is None and finding.evidence else "",
    ]
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
