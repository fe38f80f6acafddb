"""The shim's command line: ``shim [--server NAME] [--client ID] [...] -- CMD ARGS...``.

Parsed by hand: argparse costs import time on every server start and would
also try to interpret the server's own options. Everything after ``--`` is the
server's command line, untouched.
"""

from __future__ import annotations

from mcpcred.errors import ShimError

_VALUED = {
    "--server": "server",
    "--client": "client",
    "--backend": "backend",
    "--dbus-address": "dbus_address",
    "--timeout": "timeout",
}
_FLAGS = {"--allow-insecure-keyring": "allow_insecure"}


class ShimOptions:
    """Settings written by ``wrap`` into the entry.

    A plain class, not a dataclass: ``dataclasses`` imports ``inspect`` and
    ``ast``, about 8 ms on every server start.
    """

    __slots__ = (
        "allow_insecure",
        "backend",
        "client",
        "command",
        "dbus_address",
        "headers",
        "server",
        "timeout",
    )

    def __init__(self) -> None:
        self.command: list[str] = []
        self.server: str | None = None
        self.client: str | None = None
        self.backend: str | None = None  # keyring backend id recorded by wrap
        self.dbus_address: str | None = None  # session bus seen by wrap: a fallback only
        self.timeout = "10"
        self.allow_insecure = False
        self.headers: list[str] = []  # ``mcpcred headers`` only

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

Resolve mcpcred:secret/NAME references in the environment and arguments from the
OS keychain, then become COMMAND. `mcpcred wrap` writes these entries; see
docs/wrap.md.
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
        if headers and arg == "--header" and index + 1 < len(args):
            index += 1
            options.headers.append(args[index])
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
        return options
    if not options.command:
        raise ShimError(
            "the shim needs a server command after `--`",
            hint="mcpcred shim --server NAME -- npx -y @modelcontextprotocol/server-github",
        )
    return options
