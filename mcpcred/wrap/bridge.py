"""The stdio entry ``wrap`` writes for a remote server, and mcp-remote's command line read back.

A client that cannot take a header from a helper command reaches a remote
server through ``mcpcred shim --url URL --header "Name: value"...``: the shim is
a stdio server to the client and an HTTP client to the server, and resolves the
references in ``--url`` and ``--header`` from the keychain when it starts. This
module knows the shape of that command line (it is the contract between
``wrap`` and the shim) and how to read the same facts out of an entry that runs
``mcp-remote`` (Claude Desktop's usual way to reach a remote server), so that
such an entry can become a bridge entry without losing a header or an option.

Stdlib only: planning imports it for every run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mcpcred import references

TRANSPORTS = ("auto", "http", "sse")

_PACKAGE = re.compile(r"^mcp-remote(?:@[A-Za-z0-9._^~<>=*-]+)?$")
_RUNNERS = frozenset({"npx", "bunx", "pnpx"})
# mcp-remote's --transport values, as the bridge's
_MCP_REMOTE_TRANSPORTS = {
    "http-first": "auto",
    "sse-first": "auto",
    "http-only": "http",
    "sse-only": "sse",
}
# Options that only shape mcp-remote's own OAuth sign-in or its logging: a bridge entry
# signs in through ``mcpcred login`` instead, so they have nothing left to do.
_DROPPED_WITH_VALUE = frozenset({"--host", "--auth-timeout"})
_DROPPED = frozenset({"--debug", "--silent"})
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def argv(
    prefix: list[str],
    url: str,
    headers: list[tuple[str, str]],
    transport: str = "auto",
    *,
    allow_http: bool = False,
) -> list[str]:
    """The shim's arguments for a bridge: ``prefix`` is ``shim --server N --client C ...``."""
    out = [*prefix, "--url", url]
    for name, value in headers:
        out += ["--header", f"{name}: {value}"]
    if transport != "auto":
        out += ["--transport", transport]
    if allow_http:
        out.append("--allow-http")
    return out


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def problem(url: str, headers: list[tuple[str, str]]) -> str | None:
    """Why ``url`` and ``headers`` cannot be given to the bridge, if they cannot.

    The shim reads ``--header "Name: value"`` by the first colon, and sends what it
    reads: a name that is not an HTTP token, or a line break in a value, would
    become another header than the one the entry had.
    """
    if not re.match(r"^https?://", url, re.IGNORECASE):
        return "its URL is not http:// or https://, which is all the bridge speaks"
    for name, value in headers:
        if not _TOKEN.match(name):
            return f"its header name {name!r} is not one HTTP allows"
        if "\r" in value or "\n" in value or "\0" in value:
            return f"its header {name} holds a line break"
    return None


def needs_allow_http(url: str) -> bool:
    """Whether the shim would refuse ``url`` without ``--allow-http`` (plain http, not loopback)."""
    match = re.match(r"^http://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)", url, re.IGNORECASE)
    if match is None:
        return False
    host = match.group(1).strip("[]").lower()
    return not (host == "localhost" or host.startswith("127.") or host == "::1")


def login_name(server: str) -> str:
    """The login a bridge entry for ``server`` signs in with (``mcpcred login URL --name``).

    The server's entry name, made valid (``references.NAME_PATTERN``); a built-in
    provider's name (``github``) gets ``-mcp``, as ``mcpcred login`` requires: the plain
    name is the provider's own login, another grant for another audience.
    """
    from mcpcred.oauth import providers

    text = re.sub(r"[^a-z0-9._-]+", "-", server.lower())
    text = re.sub(r"-{2,}", "-", text).strip("-._")[:60].strip("-._")
    if text in providers.BUILTIN or text in providers.ALIASES:
        text += "-mcp"
    return text if references.valid_name(text) else "remote"


@dataclass(slots=True)
class McpRemote:
    """What an ``mcp-remote`` command line asks for, by argument index."""

    url: int  # index of the URL among the args
    # (index of the value argument, header name, header value as written: may hold ${VAR})
    headers: list[tuple[int, str, str]] = field(default_factory=list)
    transport: str = "auto"
    allow_http: bool = False


def parse_mcp_remote(command: str, args: list[str | None]) -> McpRemote | str | None:
    """Read an ``mcp-remote`` command line; None if it is not one, a reason if it cannot
    become a bridge entry (an option the bridge has no equivalent for)."""
    name = _basename(command)
    rest = list(args)
    offset = 0
    if name in ("cmd", "cmd.exe") and rest[:1] and (rest[0] or "").lower() in ("/c", "/k"):
        if len(rest) < 2 or rest[1] is None:
            return None
        name, rest, offset = _basename(rest[1]), rest[2:], 2
    if name in _RUNNERS:
        start = next((i for i, a in enumerate(rest) if a is not None and _PACKAGE.match(a)), None)
        if start is None or not all(a is not None and a.startswith("-") for a in rest[:start]):
            return None
        rest, offset = rest[start + 1 :], offset + start + 1
    elif name != "mcp-remote":
        return None
    found: McpRemote | None = None
    positional = 0
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg is None:
            return "one of mcp-remote's arguments is not a string"
        value = rest[i + 1] if i + 1 < len(rest) else None
        if arg == "--header":
            if value is None or ":" not in value:
                return "an mcp-remote --header has no 'Name: value'"
            header, _, text = value.partition(":")
            if found is None:
                return "mcp-remote's URL does not come first"
            found.headers.append((offset + i + 1, header.strip(), text.strip()))
            i += 2
            continue
        if arg == "--transport":
            if value not in _MCP_REMOTE_TRANSPORTS or found is None:
                return f"mcp-remote's --transport {value or ''} is not one the bridge knows"
            found.transport = _MCP_REMOTE_TRANSPORTS[value]
            i += 2
            continue
        if arg == "--allow-http":
            if found is None:
                return "mcp-remote's URL does not come first"
            found.allow_http = True
        elif arg in _DROPPED_WITH_VALUE:
            i += 2
            continue
        elif arg in _DROPPED:
            pass
        elif arg.startswith("-"):
            return f"mcp-remote's option {arg.split('=', 1)[0]} has no equivalent in the bridge"
        elif positional == 0:
            if not re.match(r"^https?://", arg, re.IGNORECASE):
                return "mcp-remote's first argument is not an http(s) URL"
            found = McpRemote(offset + i)
            positional = 1
        elif positional == 1 and arg.isdigit():
            positional = 2  # the OAuth callback port: mcpcred login picks its own
        else:
            return f"mcp-remote's argument {i + 1} is not one the bridge knows"
        i += 1
    return found if found is not None else "mcp-remote has no URL"


def expand(value: str, env: dict[str, str]) -> str | None:
    """A header value with mcp-remote's ``${VAR}`` taken from the entry's env (references
    stay references: a whole one inside a longer text becomes an embedded one); None if a
    variable is not in the env (it would come from the client's environment, which the
    bridge does not read)."""
    missing = [m for m in _VARIABLE.findall(value) if m not in env]
    if missing:
        return None

    def one(match: re.Match[str]) -> str:
        text = env[match.group(1)]
        found = references.find(text)
        if match.group(0) != value and len(found) == 1:
            kind, name = found[0]
            if text == references.whole(name, kind):
                return references.embedded(name, kind)
        return text

    return _VARIABLE.sub(one, value)


def variables(value: str) -> list[str]:
    """The ``${VAR}`` names in a header value."""
    return _VARIABLE.findall(value)


def _basename(command: str) -> str:
    base = command.replace("\\", "/").rsplit("/", 1)[-1].lower()
    for suffix in (".exe", ".cmd", ".bat"):
        base = base.removesuffix(suffix)
    return base
