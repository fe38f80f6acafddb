"""Validate a SARIF log against the official SARIF 2.1.0 JSON schema.

The schema is vendored in ``schemas/`` (see its README for the source and licence), so the
tests need nothing outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = Path(__file__).resolve().parent / "schemas" / "sarif-schema-2.1.0.json"


def validate(log: object) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``log`` is a valid SARIF 2.1.0 log."""
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
