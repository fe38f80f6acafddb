"""References: what a config holds instead of a secret, resolved by the shim.

A whole value ``mcpcred:secret/github-pat`` stands for the secret called
``github-pat`` (in an env value, an arg or a header). Inside a longer string
(``--token={{mcpcred:secret/github-pat}}``, a URL's password) the reference
is braced. Double braces were chosen because no supported client expands
them: ``${...}`` and ``$X`` are taken by Claude Code, Gemini CLI, Cursor,
Windsurf and VS Code, which would replace an unknown name with nothing.

``mcpcred:oauth/<provider>`` is reserved for logins (issue 4). Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PREFIX = "mcpcred:"
SECRET = "secret"  # noqa: S105 (a reference kind)
KINDS = frozenset({SECRET, "oauth"})

NAME_PATTERN = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_WHOLE = re.compile(rf"^mcpcred:(?P<kind>[a-z]+)/(?P<name>{NAME_PATTERN})$")
_EMBEDDED = re.compile(rf"\{{\{{mcpcred:(?P<kind>[a-z]+)/(?P<name>{NAME_PATTERN})\}}\}}")
_MENTION = re.compile(rf"mcpcred:(?P<kind>[a-z]+)/(?P<name>{NAME_PATTERN})")
_ANY = re.compile(r"mcpcred:[a-z]+/\S*")


def valid_name(name: str) -> bool:
    """Names are lower-case letters, digits, ``.``, ``_`` and ``-``, 1-64 long."""
    return bool(_NAME.match(name))


def whole(name: str, kind: str = SECRET) -> str:
    """The reference that replaces a whole value."""
    return f"{PREFIX}{kind}/{name}"


def embedded(name: str, kind: str = SECRET) -> str:
    """The reference that replaces part of a value."""
    return "{{" + whole(name, kind) + "}}"


def find(value: str) -> list[tuple[str, str]]:
    """Every (kind, name) referenced in a value, in order, without duplicates."""
    out: list[tuple[str, str]] = []
    match = _WHOLE.match(value)
    if match:
        out.append((match["kind"], match["name"]))
    else:
        out.extend((m["kind"], m["name"]) for m in _EMBEDDED.finditer(value))
    return list(dict.fromkeys(out))


def find_all(text: str) -> list[tuple[str, str]]:
    """Every (kind, name) mentioned anywhere in a text (a whole file, say)."""
    return list(dict.fromkeys((m["kind"], m["name"]) for m in _MENTION.finditer(text)))


def looks_like_reference(value: str) -> bool:
    """True when a value mentions ``mcpcred:`` at all (well-formed or not)."""
    return PREFIX in value and bool(_ANY.search(value))


def substitute(value: str, lookup: Callable[[str, str], str]) -> str:
    """Replace every reference in ``value`` by ``lookup(kind, name)``."""
    match = _WHOLE.match(value)
    if match:
        return lookup(match["kind"], match["name"])
    if "{{mcpcred:" not in value:
        return value
    return _EMBEDDED.sub(lambda m: lookup(m["kind"], m["name"]), value)


def malformed(value: str) -> str | None:
    """The first ``mcpcred:`` mention that is not a valid reference, if any."""
    if _WHOLE.match(value):
        return None
    stripped = _EMBEDDED.sub("", value)
    bad = _ANY.search(stripped)
    return bad.group(0) if bad else None
