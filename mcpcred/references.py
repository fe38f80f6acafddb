"""References: what a config holds instead of a secret, resolved by the shim.

A whole value ``mcpcred:secret/github-pat`` stands for the secret called
``github-pat`` (in an env value, an arg or a header). Inside a longer string
(``--token={{mcpcred:secret/github-pat}}``, a URL's password) the reference
is braced. Double braces were chosen because no supported client expands
them: ``${...}`` and ``$X`` are taken by Claude Code, Gemini CLI, Cursor,
Windsurf and VS Code, which would replace an unknown name with nothing.

``mcpcred:oauth/github`` stands for a fresh access token of the login made
with ``mcpcred login github``; ``mcpcred:oauth/github/work`` for the login of
account ``work``. Only oauth names have the second part.

References to password managers (see docs/stores.md, "Password managers")
name where a value lives, never the value: ``mcpcred:pass/PATH``,
``mcpcred:op/VAULT/ITEM/FIELD``, ``mcpcred:bw/ITEM/FIELD``,
``mcpcred:vault/PATH#FIELD`` and ``mcpcred:cmd/["PROGRAM", "ARG", ...]``. The
shim asks the manager at every start (``mcpcred.external``). Their locators
are free text (1Password names have spaces, ``pass`` paths capitals), so they
have patterns of their own; but each starts ``mcpcred:KIND/`` like the others,
so an older shim that does not know a kind refuses it ("cannot resolve" or
"malformed") instead of handing the text to the server. Stdlib only.

The shim runs this on every server start, and most values there are either no
reference at all or one whole ``mcpcred:secret/NAME``: those are told with plain
string checks (``_plain``). The regular expressions, for everything else, are
compiled on first use (``_pattern``): a start that needs none neither compiles
them nor, under a launcher that does not import it already (pip's console script
does), imports ``re`` with ``enum``, ``functools`` and ``collections``. Measured
as CPU time of a whole shim start: ~0.3 ms less with pip's launcher, ~0.6 ms
less with one that does not import ``re``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable

PREFIX = "mcpcred:"
SECRET = "secret"  # noqa: S105 (a reference kind)
OAUTH = "oauth"
KINDS = frozenset({SECRET, OAUTH})  # mcpcred's own store
PASS = "pass"  # noqa: S105 (a reference kind)
OP = "op"
BW = "bw"
VAULT = "vault"
CMD = "cmd"
EXTERNAL = frozenset({PASS, OP, BW, VAULT, CMD})  # resolved through another tool
DEFAULT_ACCOUNT = "default"

NAME_PATTERN = r"[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?"
# oauth references may name an account after the provider: github/work.
_REF_NAME = rf"{NAME_PATTERN}(?:/{NAME_PATTERN})?"
_SOURCES = {
    "whole-own": rf"^mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})$",
    "embedded-own": rf"\{{\{{mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})\}}\}}",
    "mention": rf"mcpcred:(?P<kind>[a-z]+)/(?P<name>{_REF_NAME})",
    "any": r"mcpcred:[a-z]+/\S*",
}
_LOWER = frozenset("abcdefghijklmnopqrstuvwxyz")
_EDGE = _LOWER | frozenset("0123456789")  # a name's first and last character
_INNER = _EDGE | frozenset("._-")
_EXT_KIND = r"(?:pass|op|bw|vault|cmd)"
_EXT_MARKS = tuple(f"mcpcred:{kind}/" for kind in sorted(EXTERNAL))
# a locator: printable, no line breaks; embedded ones cannot hold braces
_EXT_WHOLE = rf"^mcpcred:(?P<kind>{_EXT_KIND})/(?P<name>[^\x00-\x1f\x7f]+)$"
_EXT_EMBEDDED = rf"\{{\{{mcpcred:(?P<xkind>{_EXT_KIND})/(?P<xname>[^{{}}\x00-\x1f\x7f]+)\}}\}}"
# Compiled on first use (``_ext``): a server start with keychain references only never pays
# for them. The embedded one covers both families in one pass, so a value substituted for
# one reference is never scanned again (a secret whose text looks like a reference stays text).
_COMPILED: dict[str, re.Pattern[str]] = {}
_BW_FIELDS = frozenset({"password", "username", "totp", "notes", "uri"})


def _pattern(which: str) -> re.Pattern[str]:
    """One of ``_SOURCES`` compiled, once, on first use."""
    pattern = _COMPILED.get(which)
    if pattern is None:
        import re

        pattern = _COMPILED[which] = re.compile(_SOURCES[which])
    return pattern


def _ext(which: str) -> re.Pattern[str]:
    """``whole`` or ``embedded``: the password-manager patterns, compiled once."""
    pattern = _COMPILED.get(which)
    if pattern is None:
        import re

        both = rf"{_EXT_EMBEDDED}|{_SOURCES['embedded-own']}"
        pattern = _COMPILED[which] = re.compile(_EXT_WHOLE if which == "whole" else both)
    return pattern


def _embedded_in(value: str) -> re.Pattern[str]:
    """The embedded-reference pattern ``value`` needs (the plain one unless it names a manager)."""
    return _ext("embedded") if any(m in value for m in _EXT_MARKS) else _pattern("embedded-own")


def valid_name(name: str) -> bool:
    """Names are lower-case letters, digits, ``.``, ``_`` and ``-``, 1-64 long
    (``NAME_PATTERN``, checked without ``re``: the shim checks every reference's name)."""
    return (
        0 < len(name) <= 64
        and name[0] in _EDGE
        and name[-1] in _EDGE
        and all(c in _INNER for c in name)
    )


def _plain(value: str) -> tuple[str, str] | None:
    """(kind, name) when ``value`` is exactly ``mcpcred:KIND/NAME`` (or ``.../NAME/NAME``)
    of a kind that is no password manager's: what the ``whole-own`` pattern matches, told
    without ``re``. None means "ask the patterns", not "no reference"."""
    if not value.startswith(PREFIX) or value.startswith(_EXT_MARKS):
        return None
    kind, slash, name = value[len(PREFIX) :].partition("/")
    if not slash or not kind or not all(c in _LOWER for c in kind):
        return None
    first, _, account = name.partition("/")
    if not valid_name(first) or (account and not valid_name(account)) or name.endswith("/"):
        return None
    return kind, name


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
    """Every (kind, name) referenced in a value, in order, without duplicates.

    For a password-manager reference the name is its locator (``Email/github.com``).
    """
    out: list[tuple[str, str]] = []
    whole_match = _whole(value)
    if whole_match is not None:
        out.append(whole_match)
    else:
        out.extend(_pair(m) for m in _embedded_in(value).finditer(value))
    return list(dict.fromkeys(out))


def find_all(text: str) -> list[tuple[str, str]]:
    """Every (kind, name) mentioned anywhere in a text (a whole file, say).

    mcpcred's own references are found anywhere; a password-manager reference
    only as a whole value or braced (its locator has no end marker otherwise).
    """
    found = [] if _whole(text) is None else [_whole(text)]
    found.extend(_pair(m) for m in _embedded_in(text).finditer(text) if m.groupdict().get("xkind"))
    found.extend(
        (m["kind"], m["name"])
        for m in _pattern("mention").finditer(text)
        if m["kind"] not in EXTERNAL
    )
    return list(dict.fromkeys(ref for ref in found if ref is not None))


def looks_like_reference(value: str) -> bool:
    """True when a value mentions ``mcpcred:`` at all (well-formed or not)."""
    return PREFIX in value and bool(_pattern("any").search(value))


def substitute(value: str, lookup: Callable[[str, str], str]) -> str:
    """Replace every reference in ``value`` by ``lookup(kind, name)``."""
    whole_match = _whole(value)
    if whole_match is not None:
        return lookup(*whole_match)
    if "{{mcpcred:" not in value:
        return value
    return _embedded_in(value).sub(lambda m: lookup(*_pair(m)), value)


def malformed(value: str) -> str | None:
    """The first ``mcpcred:`` mention that is not a valid reference, if any."""
    ext = _ext("whole").match(value) if value.startswith(_EXT_MARKS) else None
    if ext:
        return None if locator_problem(ext["kind"], ext["name"]) is None else value
    plain = _plain(value)
    if plain is not None:
        return None if _fits(*plain) else value
    match = _pattern("whole-own").match(value)
    if match:
        return None if _fits(match["kind"], match["name"]) else match.group(0)
    embedded_pattern = _embedded_in(value)
    for embedded_match in embedded_pattern.finditer(value):
        if not _fits(*_pair(embedded_match)):
            return embedded_match.group(0)
    stripped = embedded_pattern.sub("", value)
    bad = _pattern("any").search(stripped)
    return bad.group(0) if bad else None


def _whole(value: str) -> tuple[str, str] | None:
    """(kind, name) when the whole value is one reference (a password manager's first)."""
    if not value.startswith(PREFIX):  # every pattern here is anchored at the start
        return None
    plain = _plain(value)
    if plain is not None:
        return plain
    ext = _ext("whole").match(value) if value.startswith(_EXT_MARKS) else None
    if ext:
        return ext["kind"], ext["name"]
    match = _pattern("whole-own").match(value)
    return (match["kind"], match["name"]) if match else None


def _pair(match: re.Match[str]) -> tuple[str, str]:
    if match.groupdict().get("xkind"):
        return match["xkind"], match["xname"]
    return match["kind"], match["name"]


def _fits(kind: str, name: str) -> bool:
    """Only oauth names may have an account part; locators must parse."""
    if kind in EXTERNAL:
        return locator_problem(kind, name) is None
    return kind == OAUTH or "/" not in name


def locator_problem(kind: str, locator: str) -> str | None:
    """Why ``locator`` is not a usable locator of ``kind`` (None when it is).

    Checked when ``wrap --bind`` writes a reference and again by the shim: a
    locator never starts with ``-`` (it becomes an argument of the manager's
    CLI), never has ``..`` path parts, and has no surrounding blanks.
    """
    if not locator or locator != locator.strip():
        return "it is empty or has blanks around it"
    if any(ord(c) < 32 or ord(c) == 127 for c in locator):
        return "it holds a control character"
    if kind == CMD:
        return _argv_problem(locator)
    if locator.startswith(("-", "/")):
        return "it starts with '-' or '/'"
    path = {OP: locator.split("?", 1)[0], VAULT: locator.split("#", 1)[0]}.get(kind, locator)
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "it has an empty, '.' or '..' path part"
    if kind == OP:
        parts = path.split("/")
        if not 3 <= len(parts) <= 4:
            return "1Password references are op://VAULT/ITEM/[SECTION/]FIELD"
    elif kind == BW:
        item, slash, field = locator.rpartition("/")
        if not slash or not item or not field:
            return "Bitwarden references are bw:ITEM/FIELD"
    elif kind == VAULT:
        path, hash_, field = locator.partition("#")
        if not hash_ or not field or "/" not in path or "?" in path:
            return "Vault references are vault:MOUNT/PATH#FIELD"
    return None


def _argv_problem(locator: str) -> str | None:
    import json

    try:
        argv = json.loads(locator)
    except ValueError:
        return 'cmd: takes a JSON array of strings, e.g. cmd:["secret-tool", "lookup", "k", "v"]'
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv) and argv[0]):
        return 'cmd: takes a JSON array of strings, e.g. cmd:["secret-tool", "lookup", "k", "v"]'
    if any("\x00" in a for a in argv):
        return "cmd: an argument holds a NUL character"
    return None


def bw_builtin(field: str) -> bool:
    """Whether ``bw get FIELD ITEM`` reads the field directly (else: a custom field)."""
    return field in _BW_FIELDS
