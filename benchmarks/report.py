"""Plain-text output shared by the benchmark scripts."""

from __future__ import annotations


def table(rows: list[list[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; ``right`` holds right-aligned column indexes."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
