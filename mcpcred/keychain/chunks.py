"""How one secret is laid out in the keychain: one item, or a header and parts.

Windows Credential Manager caps a credential blob at 2,560 bytes (1,280 UTF-16
characters), and a PEM key or a service-account JSON is longer. Every backend
gets the same layout, so the shim and the CLI read the same thing on every OS
and the chunked path is exercised by the Linux tests too:

- a value of at most ``CHUNK_CHARS`` characters is stored as is, under its name;
- a longer one is stored as parts under ``NAME#1`` .. ``NAME#n`` and a header
  under ``NAME``: ``mcpcred-chunked:v1:<n>:<sha256 of the value>``. The digest
  lets a reader tell a torn write (parts from two different values) from a
  good one; a SHA-256 of a credential reveals nothing usable about it.

``#`` cannot occur in a secret name, so parts never collide with names.
Stdlib only: the shim imports this.
"""

from __future__ import annotations

CHUNK_CHARS = 1000
_HEADER = "mcpcred-chunked:v1:"


def part_name(name: str, index: int) -> str:
    """The keychain user name of part ``index`` (1-based) of secret ``name``."""
    return f"{name}#{index}"


def split(value: str) -> tuple[str, list[str]]:
    """(what to store under the name, the parts to store under ``part_name``)."""
    if len(value) <= CHUNK_CHARS:
        return value, []
    parts = [value[i : i + CHUNK_CHARS] for i in range(0, len(value), CHUNK_CHARS)]
    return f"{_HEADER}{len(parts)}:{_digest(value)}", parts


def parts_needed(stored: str) -> int:
    """How many parts a stored value announces (0 when it is the whole value)."""
    if not stored.startswith(_HEADER):
        return 0
    count, _, _ = stored[len(_HEADER) :].partition(":")
    return int(count) if count.isdigit() else 0


def join(header: str, parts: list[str]) -> str | None:
    """The value from its header and parts; None when they do not belong together."""
    digest = header[len(_HEADER) :].partition(":")[2]
    value = "".join(parts)
    return value if _digest(value) == digest else None


def _digest(value: str) -> str:
    import hashlib  # only long values need it; loading OpenSSL costs ~4 ms per start

    return hashlib.sha256(value.encode("utf-8")).hexdigest()
