"""``mcpcred __complete WORDS...``: the candidates for a TAB, for every shell.

Every shell script in ``completions/`` is a thin wrapper: it passes the words
typed so far (the last one is the word being completed, possibly empty) to
this hidden command and shows what it prints. One engine means bash, zsh, fish
and PowerShell offer the same things, nested subcommands included, and only
one piece of logic needs tests.

It runs on every TAB, so it imports no CLI framework: the command tree comes
from ``_complete_tree`` (generated from the typer app by
``./scripts/gen-completions``; a test fails when it is stale), and dynamic
candidates read small files only. Secret and login names come from mcpcred's
own name index (the one ``secret list`` reads), never from the keychain: a
TAB must never unlock a store, prompt, or show anything but names.

Output: the first line is a directive (``plain``, ``files`` or ``dirs``: the
shell adds its own file-name completion for the last two), then one candidate
per line as ``value`` or ``value<TAB>description``. Errors print nothing: a
broken completion must not spill text into the user's command line.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

PLAIN = "plain"
FILES = "files"
DIRS = "dirs"

# Value kinds of options and arguments (``Option.kind``, ``Command.args``).
# Static kinds carry their values in the generated tree; dynamic ones are read here.
NONE = ""  # free text: nothing to offer
CHOICE = "choice"  # the values in ``choices``
CLIENTS = "clients"  # client ids (static, in ``choices`` too); names the client for SERVERS
SERVERS = "servers"  # server names from the client configs on this machine
SECRETS = "secrets"  # names in mcpcred's secret index
LOGINS = "logins"  # names in mcpcred's login index (provider or provider/account)
DYNAMIC = (SERVERS, SECRETS, LOGINS)
KINDS = (NONE, CHOICE, CLIENTS, FILES, DIRS, *DYNAMIC)


class Option:
    """One option of a command, as the completion engine needs it."""

    __slots__ = ("choices", "help", "kind", "names")

    def __init__(
        self,
        names: tuple[str, ...],
        help: str,
        kind: str | None = None,
        choices: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.names = names
        self.help = help
        self.kind = kind  # None: a flag, no value follows
        self.choices = choices  # (value, description) when kind is CHOICE or CLIENTS


class Arg:
    """One positional argument: its kind, and whether it takes every remaining word."""

    __slots__ = ("choices", "kind", "many")

    def __init__(
        self, kind: str, many: bool = False, choices: tuple[tuple[str, str], ...] = ()
    ) -> None:
        self.kind = kind
        self.many = many
        self.choices = choices


class Command:
    """A command or group: its options, positional arguments and subcommands."""

    __slots__ = ("args", "commands", "help", "name", "options")

    def __init__(
        self,
        name: str,
        help: str,
        options: tuple[Option, ...] = (),
        args: tuple[Arg, ...] = (),
        commands: tuple[Command, ...] = (),
    ) -> None:
        self.name = name
        self.help = help
        self.options = options
        self.args = args
        self.commands = commands

    def option(self, name: str) -> Option | None:
        """The option spelled ``name`` (``--x`` or ``-x``), if this command has it."""
        for option in self.options:
            if name in option.names:
                return option
        return None

    def command(self, name: str) -> Command | None:
        """The subcommand called ``name``, if any."""
        for command in self.commands:
            if command.name == name:
                return command
        return None


class _Line:
    """What the words before the cursor say: the command reached and the values given."""

    def __init__(self, root: Command) -> None:
        self.node = root
        self.positional: list[str] = []
        self.values: dict[str, str] = {}  # option's first name -> last value given
        self.pending: Option | None = None  # the option whose value comes next
        self.only_args = False  # after ``--``

    def feed(self, word: str) -> None:
        if self.pending is not None:
            self.values[self.pending.names[0]] = word
            self.pending = None
            return
        if not self.only_args and word == "--":
            self.only_args = True
            return
        if not self.only_args and word.startswith("-") and word != "-":
            name, eq, value = word.partition("=")
            option = self.node.option(name)
            if option is not None and option.kind is not None:
                if eq:
                    self.values[option.names[0]] = value
                else:
                    self.pending = option
            return
        sub = self.node.command(word) if not self.positional and not self.only_args else None
        if sub is not None:
            self.node = sub
            self.values = {}
            return
        self.positional.append(word)

    def arg(self) -> Arg | None:
        """The positional argument the next word fills."""
        args = self.node.args
        if not args:
            return None
        index = len(self.positional)
        if index < len(args):
            return args[index]
        return args[-1] if args[-1].many else None

    def client(self) -> str | None:
        """The client id the line names (``wrap CLIENT``, ``--client ID``), if any."""
        for arg, word in zip(self.node.args, self.positional, strict=False):
            if arg.kind == CLIENTS:
                return word
        return self.values.get("--client")


def complete(words: Sequence[str]) -> tuple[str, list[tuple[str, str]]]:
    """(directive, candidates) for ``words``; the last word is the one being completed."""
    from mcpcred.cli._complete_tree import TREE

    if not words:
        words = [""]
    line = _Line(TREE)
    for word in words[:-1]:
        line.feed(word)
    current = words[-1]
    if line.pending is not None:
        return _values(line.pending.kind or NONE, line.pending.choices, current, line, "")
    if current.startswith("-") and not line.only_args:
        name, eq, value = current.partition("=")
        if eq:
            option = line.node.option(name)
            if option is None or option.kind is None:
                return PLAIN, []
            return _values(option.kind, option.choices, value, line, name + "=")
        options = [(n, o.help) for o in line.node.options for n in o.names]
        return PLAIN, [c for c in options if c[0].startswith(current)]
    if line.node.commands and not line.positional and not line.only_args:
        subs = [(c.name, c.help) for c in line.node.commands]
        return PLAIN, [c for c in subs if c[0].startswith(current)]
    arg = line.arg()
    if arg is None:
        return PLAIN, []
    return _values(arg.kind, arg.choices, current, line, "")


def _values(
    kind: str,
    choices: Iterable[tuple[str, str]],
    current: str,
    line: _Line,
    prefix: str,
) -> tuple[str, list[tuple[str, str]]]:
    if kind in (FILES, DIRS):
        return kind, []
    if kind in (CHOICE, CLIENTS):
        found = list(choices)
    elif kind == SERVERS:
        found = [(name, client) for client, name in _servers(line.client())]
    elif kind == SECRETS:
        found = [(name, "") for name in _index_names("secrets.json")]
    elif kind == LOGINS:
        found = [(name, "") for name in _index_names("logins.json")]
    else:
        return PLAIN, []
    seen: set[str] = set()
    out = []
    for value, description in found:
        if value.startswith(current) and value not in seen and _safe(value):
            seen.add(value)
            out.append((prefix + value, description))
    return PLAIN, out


def _safe(value: str) -> bool:
    """A candidate goes onto the user's command line: no control characters, no newlines."""
    return bool(value) and value.isprintable() and "\t" not in value


def _data_dir() -> str:
    """``paths.data_dir()`` without creating it (a TAB writes nothing)."""
    override = os.environ.get("MCPCRED_DATA_DIR")
    if override:
        return override
    import platformdirs

    return str(platformdirs.user_data_dir("mcpcred", appauthor=False))


def _index_names(file_name: str) -> list[str]:
    """Names recorded in one of mcpcred's name indexes (no values are in them)."""
    import json

    try:
        with open(os.path.join(_data_dir(), file_name), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return []
    entries = data.get("secrets") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        return []
    return sorted(name for name in entries if isinstance(name, str))


_MAX_CONFIG_BYTES = 4 << 20  # a config bigger than this is not worth a TAB's wait


def _servers(client: str | None) -> list[tuple[str, str]]:
    """(client id, server name) of every server in the configs mcpcred reads here."""
    from pathlib import PurePath

    from mcpcred.clients import ADAPTERS, BY_ID
    from mcpcred.discovery import expand
    from mcpcred.host import Host
    from mcpcred.parsing.jsonc import parse_jsonc
    from mcpcred.parsing.toml import parse_toml

    host = Host.current()
    adapters = [BY_ID[client]] if client in BY_ID else list(ADAPTERS)
    found: list[tuple[str, str]] = []
    for adapter in adapters:
        locations = adapter.user_locations(host) + adapter.project_locations(PurePath(host.cwd))
        for location in locations:
            for concrete in expand(location):
                try:  # the audit's reader and parsers, without the audit's rules
                    with open(concrete.path, "rb") as handle:
                        data = handle.read(_MAX_CONFIG_BYTES)
                    text = data.decode(
                        "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
                    )
                    parser = parse_toml if concrete.path.endswith(".toml") else parse_jsonc
                    document = parser(text, concrete.path)
                    found.extend((adapter.id, e.name) for e in adapter.servers(document, concrete))
                except Exception:  # noqa: S112 (an unreadable file offers nothing)
                    continue
    return found


def render(directive: str, candidates: Iterable[tuple[str, str]]) -> str:
    """The text the shell scripts read (see the module docstring)."""
    lines = [directive]
    for value, description in candidates:
        description = " ".join(description.split())
        lines.append(f"{value}\t{description}" if description else value)
    return "\n".join(lines) + "\n"


CURRENT = "--current="


def main(args: list[str]) -> int:
    """Print the candidates for ``args`` (the words after ``mcpcred``); always exit 0.

    ``--current=WORD`` first passes the word being completed separately, for shells
    that drop an empty argument to a program (Windows PowerShell 5).
    """
    if args and args[0].startswith(CURRENT):
        args = [*args[1:], args[0][len(CURRENT) :]]
    try:
        directive, candidates = complete(args)
        sys.stdout.write(render(directive, candidates))
    except Exception:  # a TAB must never print a traceback into a prompt
        sys.stdout.write(PLAIN + "\n")
    return 0
