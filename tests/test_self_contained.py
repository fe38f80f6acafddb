"""The suite runs from a clone of the project alone (issue 12 §7).

Two SARIF tests once read the schema from a folder beside the repository, so a
fresh clone failed them. Files the tests need live under ``tests/``.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.support import sarif

REPO = Path(__file__).resolve().parents[1]


def test_the_sarif_schema_is_vendored_with_its_licence_note() -> None:
    assert sarif.SCHEMA.is_relative_to(REPO / "tests")
    assert sarif.SCHEMA.is_file()
    note = (sarif.SCHEMA.parent / "README.md").read_text()
    assert "OASIS" in note and "Licence" in note


def test_no_test_reaches_for_a_folder_outside_the_repository() -> None:
    outside = re.compile(r"""parents\[(\d+)\]|/ ["']shared["']""")  # above the root, or beside it
    found = []
    for path in sorted((REPO / "tests").rglob("*.py")):
        depth = len(path.relative_to(REPO).parts) - 1  # parents[depth] is the repo root
        found.extend(
            f"{path.relative_to(REPO)}: {match.group(0)}"
            for match in outside.finditer(path.read_text())
            if match.group(1) is None or int(match.group(1)) > depth
        )
    assert found == []
