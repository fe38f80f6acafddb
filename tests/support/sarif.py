"""Validate a SARIF log against the official SARIF 2.1.0 JSON schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMA = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "schemas"
    / "sarif-schema-2.1.0.json"
)


def validate(log: object) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``log`` is a valid SARIF 2.1.0 log."""
    jsonschema.validate(log, json.loads(SCHEMA.read_text()))
