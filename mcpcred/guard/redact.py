"""Arguments as the audit log keeps them: secret-looking values redacted, long ones cut.

The detector is ``audit-config``'s own (token formats with checksums, URL
passwords, secret-named keys with random-looking values), so what counts as a
secret in a config file counts as one in a tool call. A value is redacted to
what ``audit-config`` shows of a secret: a short prefix and its length.
Strings are scanned whole before they are cut, so a secret straddling the cut
is still found; very long ones are not kept at all.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

KEEP_CHARS = 512  # a longer string is kept as its start and its length
SCAN_LIMIT = 64 * 1024  # a longer string is kept as its length only
MAX_DEPTH = 32
# Strings up to this long are remembered with what they became (the detector keeps no
# state, so the answer is the same every time): a session's records repeat their tool
# names, argument names and many values, and the request record is redacted on the relay's
# thread before the request may be forwarded (benchmarks/bench_guard.py).
CACHED_CHARS = 256
CACHE_SIZE = 4096  # entries; the cache is emptied when it is full


def redactor() -> Callable[[object], object]:
    """A function that returns a redacted copy of a JSON value (imports the detector)."""
    from mcpcred.audit.secrets import Detector, redact

    detector = Detector()
    cache: dict[tuple[str, str | None], str] = {}

    def text(value: str, name: str | None) -> str:
        if len(value) > CACHED_CHARS:
            return scan(value, name)
        key = (value, name)
        found = cache.get(key)
        if found is None:
            found = scan(value, name)
            if len(cache) >= CACHE_SIZE:
                cache.clear()
            cache[key] = found
        return found

    def scan(value: str, name: str | None) -> str:
        if len(value) > SCAN_LIMIT:
            return f"\u2026({len(value)} chars, not kept)"
        hits = sorted(detector.scan(value, name, "field"), key=lambda hit: hit.start)
        if hits:
            parts: list[str] = []
            at = 0
            for hit in hits:
                if hit.start < at:
                    continue
                parts.append(value[at : hit.start])
                parts.append(f"[redacted {redact(hit.secret)}]")
                at = hit.end
            parts.append(value[at:])
            value = "".join(parts)
        if len(value) > KEEP_CHARS:
            return f"{value[:KEEP_CHARS]}\u2026({len(value)} chars)"
        return value

    def walk(value: object, name: str | None, depth: int) -> object:
        if isinstance(value, str):
            return text(value, name)
        if depth >= MAX_DEPTH:
            return "\u2026(nested too deep)"
        if isinstance(value, dict):
            return {str(k): walk(v, str(k), depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, name, depth + 1) for v in value]
        return value

    return lambda value: walk(value, None, 0)


class Lazy:
    """``redactor()`` built on first use: the detector's import (~40 ms) stays off start-up."""

    __slots__ = ("_redact",)

    def __init__(self) -> None:
        self._redact: Callable[[object], object] | None = None

    def __call__(self, value: object) -> object:
        if self._redact is None:
            self._redact = redactor()
        return self._redact(value)

    def warm(self) -> None:
        """Import the detector now (from a background thread while the server boots)."""
        if self._redact is None:
            self._redact = redactor()
