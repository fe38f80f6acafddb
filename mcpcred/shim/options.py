"""The shim's command line: ``shim [--server NAME] [--client ID] [...] -- CMD ARGS...``.

Parsed by hand: argparse costs import time on every server start and would
also try to interpret the server's own options. Everything after ``--`` is the
server's command line, untouched.

A remote server has no command: ``shim ... --url URL [--header 'Name: value']...``
makes the shim a stdio<->HTTP bridge instead (``mcpcred.bridge``). The URL and
the header values hold references, never secrets; a ``--url`` together with a
command is refused, since nobody could tell which one the entry meant.
"""

from __future__ import annotations

from mcpcred.errors import ShimError

_VALUED = {
    "--server": "server",
    "--client": "client",
    "--backend": "backend",
    "--dbus-address": "dbus_address",
    "--timeout": "timeout",
    "--url": "url",
    "--transport": "transport",
}
_FLAGS = {"--allow-insecure-keyring": "allow_insecure", "--allow-http": "allow_http"}
TRANSPORTS = ("auto", "http", "sse")


class ShimOptions:
    """Settings written by ``wrap`` into the entry.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` and
    ``ast``, about 8 ms on every server start.
    """

    __slots__ = (
        "allow_http",
        "allow_insecure",
        "backend",
        "client",
        "command",
        "dbus_address",
        "headers",
        "server",
        "timeout",
        "transport",
        "url",
    )

    def __init__(self) -> None:
        self.command: list[str] = []
        self.server: str | None = None
        self.client: str | None = None
        self.backend: str | None = None  # keyring backend id recorded by wrap
        self.dbus_address: str | None = None  # session bus seen by wrap: a fallback only
        self.timeout = "10"
        self.allow_insecure = False
        self.headers: list[str] = []  # ``mcpcred headers``, and the shim with --url
        self.url: str | None = None  # a remote server: the shim bridges stdio to it
        self.transport = "auto"
        self.allow_http = False  # plain http:// to a host other than loopback

    @property
    def timeout_seconds(self) -> float:
        """The keychain time limit in seconds."""
        try:
            value = float(self.timeout)
        except ValueError:
            raise ShimError(
                f"--timeout must be a number of seconds, not {self.timeout!r}"
            ) from None
        if not 0 < value <= 600:
            raise ShimError("--timeout must be between 0 and 600 seconds")
        return value

    def label(self) -> str:
        """How messages name the server: ``'github' (claude-desktop)``."""
        if self.server and self.client:
            return f"server '{self.server}' ({self.client})"
        if self.server:
            return f"server '{self.server}'"
        return "the server"


USAGE = """usage: mcpcred shim [--server NAME] [--client ID] [--backend KEYRING_CLASS]
                    [--dbus-address ADDRESS] [--timeout SECONDS] [--allow-insecure-keyring]
                    -- COMMAND [ARGS...]
       mcpcred shim [--server NAME] [--client ID] [...] --url URL
                    [--header 'Name: value']... [--transport auto|http|sse] [--allow-http]

Resolve mcpcred:secret/NAME and mcpcred:oauth/NAME references in the environment
and arguments from the OS keychain (and mcpcred:pass/..., op/, bw/, vault/, cmd/
from those password managers: docs/stores.md), then become COMMAND. With --url, resolve them
in the URL and the header values instead and bridge stdio to that remote MCP
server (--allow-http permits plain http:// to a host other than this machine).
`mcpcred wrap` writes these entries; see docs/wrap.md and docs/remote.md.

Example: mcpcred shim --server github -- npx -y @modelcontextprotocol/server-github
"""


def parse(args: list[str], *, headers: bool = False) -> ShimOptions:
    """Parse the shim's arguments (without the leading ``shim``).

    With ``headers``, parse ``mcpcred headers`` instead: repeated
    ``--header 'Name: value'`` and no server command.
    """
    options = ShimOptions()
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            options.command = args[index + 1 :]
            break
        name, equals, inline = arg.partition("=")
        if name == "--header":
            if equals:
                options.headers.append(inline)
            elif index + 1 < len(args):
                index += 1
                options.headers.append(args[index])
            else:
                raise ShimError("shim option --header needs a value")
        elif headers and name in ("--url", "--transport"):
            raise ShimError(f"unknown option {name!r} for mcpcred headers")
        elif name in _VALUED:
            if equals:
                value = inline
            elif index + 1 < len(args):
                index += 1
                value = args[index]
            else:
                raise ShimError(f"shim option {name} needs a value")
            setattr(options, _VALUED[name], value)
        elif arg in _FLAGS:
            setattr(options, _FLAGS[arg], True)
        else:
            raise ShimError(
                f"unknown shim option {arg!r}",
                hint="the server's command line goes after `--`: mcpcred shim [OPTIONS] -- CMD",
            )
        index += 1
    if headers:
        if options.command:
            raise ShimError("mcpcred headers takes no command")
        if options.allow_http:
            raise ShimError("unknown option '--allow-http' for mcpcred headers")
        return options
    if options.url is not None:
        return _remote(options)
    if options.headers or options.transport != "auto" or options.allow_http:
        raise ShimError(
            "--header, --transport and --allow-http are for a remote server: they need --url"
        )
    if not options.command:
        raise ShimError(
            "the shim needs a server command after `--`",
            hint="mcpcred shim --server NAME -- npx -y @modelcontextprotocol/server-github",
        )
    return options


def _remote(options: ShimOptions) -> ShimOptions:
    """Check what only a bridge entry has: a URL, no command, headers that parse."""
    if options.command:
        raise ShimError(
            "the shim takes either --url (a remote server) or a command after `--`, not both"
        )
    if not options.url:
        raise ShimError("--url needs the remote server's URL")
    if options.transport not in TRANSPORTS:
        raise ShimError(
            f"--transport must be one of {', '.join(TRANSPORTS)}, not {options.transport[:20]!r}"
        )
    seen: set[str] = set()
    for header in options.headers:
        name = header_pairs(header)[0].lower()
        if name in seen:  # which one would a server read? Neither is a good answer
            raise ShimError(f"--header {name!r} is given more than once")
        seen.add(name)
    return options


def header_pairs(header: str) -> tuple[str, str]:
    """``(name, value)`` of one ``--header 'Name: value'``; an error names the header only.

    The value (which may hold a reference, never a secret) is never quoted back;
    a name that is not an HTTP token, or a value with a line break, would let one
    header smuggle in another.
    """
    name, colon, value = header.partition(":")
    name = name.strip()
    if not colon or not name:
        raise ShimError(f"--header needs 'Name: value', got {name[:40]!r}")
    if not all(c.isascii() and (c.isalnum() or c in "!#$%&'*+-.^_`|~") for c in name):
        raise ShimError(f"--header name {name[:40]!r} is not a valid HTTP header name")
    value = value.strip()
    if any(c in value for c in "\r\n\0"):
        raise ShimError(f"the value of --header {name!r} holds a line break")
    return name, value
