"""Baselines: accepting today's findings so CI fails only on new ones.

A baseline file lists fingerprints of accepted findings. A fingerprint must be
stable across mcpcred versions and machines (so it uses the rule id, the path
as shown, the server and the JSON pointer of the value, never a line number)
and must not reveal the secret, even to someone who has the baseline and can
guess candidate values: the secret enters only through PBKDF2 with a random
salt stored in the file. A rotated secret in the same place gets a new
fingerprint and is reported again, which is the point.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

from mcpcred.errors import ConfigError
from mcpcred.models import Finding

FORMAT_VERSION = 1
_ITERATIONS = 20_000


@dataclass(frozen=True, slots=True)
class Baseline:
    """A salt and the fingerprints computed with it."""

    salt: bytes
    fingerprints: frozenset[str]

    @classmethod
    def new(cls) -> Baseline:
        """An empty baseline with a fresh random salt."""
        import secrets  # random and sha512: only when a new baseline is written

        return cls(secrets.token_bytes(16), frozenset())

    def fingerprint(self, finding: Finding) -> str:
        """The salted fingerprint of one finding."""
        if finding.secret_digest is not None:
            secret_part = hashlib.pbkdf2_hmac(
                "sha256", finding.secret_digest, self.salt, _ITERATIONS
            ).hex()
        else:
            secret_part = finding.evidence or ""
        parts = [
            finding.rule,
            finding.path.replace("\\", "/"),
            finding.server or "",
            "/".join(str(p) for p in finding.pointer),
            secret_part,
        ]
        return hmac.new(
            self.salt, "\x1f".join(parts).encode("utf-8", "surrogatepass"), hashlib.sha256
        ).hexdigest()

    def contains(self, finding: Finding) -> bool:
        """Whether the finding was accepted in this baseline."""
        return self.fingerprint(finding) in self.fingerprints


def load(path: str) -> Baseline:
    """Read a baseline file; a missing or malformed one is a config error."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"baseline {path} does not exist",
            hint=f"create it with `mcpcred audit-config --write-baseline {path}`",
        ) from None
    except (OSError, ValueError):
        raise ConfigError(f"baseline {path} is not a readable mcpcred baseline") from None
    if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
        raise ConfigError(f"baseline {path} is not a version {FORMAT_VERSION} mcpcred baseline")
    try:
        salt = bytes.fromhex(str(data["salt"]))
        fingerprints = frozenset(str(entry["fingerprint"]) for entry in data["findings"])
    except (KeyError, TypeError, ValueError):
        raise ConfigError(f"baseline {path} is malformed") from None
    return Baseline(salt, fingerprints)


def render(findings: Iterable[Finding], baseline: Baseline) -> str:
    """A baseline file accepting ``findings``, keyed with ``baseline``'s salt."""
    entries = sorted(
        (
            {
                "fingerprint": baseline.fingerprint(f),
                "rule": f.rule,
                "path": f.path.replace("\\", "/"),
                "server": f.server,
            }
            for f in findings
        ),
        key=lambda e: (e["path"] or "", e["rule"], e["server"] or "", e["fingerprint"]),
    )
    document = {
        "tool": "mcpcred",
        "version": FORMAT_VERSION,
        "salt": baseline.salt.hex(),
        "findings": entries,
    }
    return json.dumps(document, indent=2) + "\n"
