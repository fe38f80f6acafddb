"""A typer command group that imports a command's module only when that command runs.

Each ``*_cmd`` module registers its commands on ``app`` when imported, and importing them
all (with what they import) cost every command 100-300 ms. The group knows the commands
from a static table, ``name -> (module, one-line help)``, in ``mcpcred.cli.app``:
``mcpcred --help`` prints the table without importing any command module, and
``mcpcred NAME`` imports ``NAME``'s module, then turns what it registered into a click
command with typer's own converters. A test renders the help of this group and of the
fully imported app and requires them to be identical, so the table cannot drift from the
commands' docstrings.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import typer
from typer.core import TyperGroup

from mcpcred.cli import coerce

if TYPE_CHECKING:
    from typer._click import Command, Context, HelpFormatter

PACKAGE = "mcpcred.cli"


class Entry(NamedTuple):
    """Where a top-level command lives and what ``mcpcred --help`` says about it."""

    module: str  # under mcpcred.cli
    help: str  # the first sentence of its docstring, as click shortens it


class LazyGroup(TyperGroup):
    """The top-level group: commands from ``table``, their modules imported on first use.

    ``table`` and ``typer_app`` are set by ``mcpcred.cli.app`` (typer instantiates this
    class itself, with its own arguments).
    """

    table: ClassVar[Mapping[str, Entry]] = {}
    typer_app: ClassVar[typer.Typer | None] = None

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        coerce.install(self)
        for command in self.commands.values():
            _install_tree(command)

    def list_commands(self, ctx: Context) -> list[str]:
        """The table's commands in its order, then any registered outside it."""
        return [*self.table, *(name for name in self.commands if name not in self.table)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        """The command, importing its module the first time it is asked for."""
        found = self.commands.get(cmd_name)
        if found is None and cmd_name in self.table:
            found = load(cmd_name, self.table[cmd_name].module, self.typer_app)
            if found is not None:
                self.commands[cmd_name] = found
        return found

    def resolve_command(
        self, ctx: Context, args: list[str]
    ) -> tuple[str | None, Command | None, list[str]]:
        """typer's, with "Did you mean ...?" chosen from every command, not the imported ones."""
        from difflib import get_close_matches

        from typer._click.exceptions import UsageError

        try:
            return self._click_resolve_command(ctx, args)
        except UsageError as exc:
            matches = get_close_matches(args[0], self.list_commands(ctx)) if args else []
            if self.suggest_commands and matches and "Did you mean" not in exc.message:
                suggestions = ", ".join(f"{m!r}" for m in matches)
                exc.message = f"{exc.message.rstrip('.')}. Did you mean {suggestions}?"
            raise

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """The command list of ``--help``, from the table for commands not imported yet."""
        from typer._click.utils import make_default_short_help

        shown = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None and name not in self.table:
                continue
            if command is None or not command.hidden:
                shown.append((name, command))
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in shown)
        rows = [
            (
                name,
                command.get_short_help_str(limit)
                if command is not None
                else make_default_short_help(self.table[name].help, limit),
            )
            for name, command in shown
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def load(name: str, module: str, app: typer.Typer | None) -> Command | None:
    """Import ``module`` and build the click command for what it registered as ``name``."""
    from typer.main import get_command_from_info, get_command_name, get_group_from_info

    if app is None:
        return None
    importlib.import_module(f"{PACKAGE}.{module}")
    command: Command | None = None
    for info in app.registered_commands:
        callback_name = info.callback.__name__ if info.callback else ""
        if (info.name or get_command_name(callback_name)) == name:
            command = get_command_from_info(
                info,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
            )
    for group in app.registered_groups:
        if group.name == name:
            command = get_group_from_info(
                group,
                pretty_exceptions_short=app.pretty_exceptions_short,
                rich_markup_mode=app.rich_markup_mode,
                suggest_commands=app.suggest_commands,
            )
    if command is not None:
        _install_tree(command)
    return command


def _install_tree(command: Command) -> None:
    """The stdlib conversions for a command and every subcommand of a group."""
    coerce.install(command)
    for sub in getattr(command, "commands", {}).values():
        _install_tree(sub)
