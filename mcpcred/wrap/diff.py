"""A unified diff of a planned rewrite, with every secret value redacted.

``--dry-run`` and the confirmation prompt show exactly what will change, but a
terminal, a screen share or a CI log must never see a value: each secret (as
written in the file, JSON-escaped or not) is replaced by the same short
prefix-and-length form ``audit-config`` prints.
"""

from __future__ import annotations

import difflib
import json

from mcpcred.audit.secrets import redact


def redacted_diff(old: str, new: str, path: str, secrets: list[str]) -> list[str]:
    """Unified diff lines (without line endings) of ``old`` -> ``new``, secrets hidden."""
    forms: list[tuple[str, str]] = []
    for secret in sorted(set(secrets), key=len, reverse=True):
        shown = redact(secret)
        forms.append((secret, shown))
        escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
        if escaped != secret:
            forms.append((escaped, shown))

    def clean(text: str) -> list[str]:
        for secret, shown in forms:
            text = text.replace(secret, shown)
        return [line.rstrip("\r") for line in text.splitlines()]

    return list(
        difflib.unified_diff(
            clean(old), clean(new), fromfile=f"{path} (now)", tofile=f"{path} (after)", lineterm=""
        )
    )
