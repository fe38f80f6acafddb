"""References: what a config holds instead of a secret, resolved by the shim.

A whole value ``mcpcred:secret/github-pat`` stands for the secret called
``github-pat`` (in an env value, an arg or a header). Inside a longer string
(``--token={{mcpcred:secret/github-pat}}``, a URL's password) the reference
is braced. Double braces were chosen because no supported client expands
them: ``${...}`` and ``$X`` are taken by Claude Code, Gemini CLI, Cursor,
Windsurf and VS Code, which would replace an unknown name with nothing.

``mcpcred:oauth/github`` stands for a fresh access token of the login made
with ``mcpcred login github``; ``mcpcred:oauth/github/work`` for the login of
account ``work``. Only oauth names have the second part. Stdlib only.
"""

from __future__ import annotations

import re
from collections.abc import Callable

PREFIX = "mcpcred:"
SECRET = "secret"  # noqa: S105 (a reference kind)
OAUTH = "oauth"
KINDS = frozenset({SECRET, OAUTH})
DEFAULT_ACCOUNT = "default"

NAME_PATTERN = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
# oauth references may name an account after the provider: github/work.
_REF_NAME = rf"{NAME_PATTERN}(?:/{NAME_PATTERN})?"
_NAME = re.compile(rf"^{NAME_PATTERN}$")
_WHOLE = re.compile(rf"^mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})$")
_EMBEDDED = re.compile(rf"\{{\{{mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})\}}\}}")
_MENTION = re.compile(rf"mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})")
_ANY = re.compile(r"mcpcred:[a-z]+/\S*")


def valid_name(name: str) -> bool:
    """Names are lower-case letters, digits, ``.``, ``_`` and ``-``, 1-64 long."""
    return bool(_NAME.match(name))


def login_name(provider: str, account: str = DEFAULT_ACCOUNT) -> str:
    """The name part of an oauth reference: the provider, then the account unless default."""
    return provider if account == DEFAULT_ACCOUNT else f"{provider}/{account}"


def split_login(name: str) -> tuple[str, str]:
    """(provider, account) of an oauth reference's name."""
    provider, _, account = name.partition("/")
    return provider, account or DEFAULT_ACCOUNT


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
    match = _WHOLE.match(value)
    if match:
        return None if _fits(match) else match.group(0)
    for embedded_match in _EMBEDDED.finditer(value):
        if not _fits(embedded_match):
            return embedded_match.group(0)
    stripped = _EMBEDDED.sub("", value)
    bad = _ANY.search(stripped)
    return bad.group(0) if bad else None


def _fits(match: re.Match[str]) -> bool:
    """Only oauth names may have an account part."""
    return match["kind"] == OAUTH or "/" not in match["name"]
