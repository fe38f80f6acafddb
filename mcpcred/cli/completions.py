"""Generate the completion engine's command tree and the shell scripts from the typer app.

``./scripts/gen-completions`` runs this (``python -m mcpcred.cli.completions``): it
walks the click command tree typer builds, writes ``mcpcred/cli/_complete_tree.py``
(the stdlib-only data ``mcpcred __complete`` reads on every TAB) and the scripts in
``completions/``. A test regenerates both and fails when the committed ones are stale,
so a new command or option cannot be forgotten.

What a value completes is decided here, per option and argument: enum-typed and
``Path``-typed parameters decide themselves; every other value-taking one must have
an entry in ``VALUES`` (``NONE`` for free text), or generation fails. That turns
"new option, no completion" into a test failure instead of a silent gap.
"""

from __future__ import annotations

import enum
import pathlib
import sys
from collections.abc import Iterable
from typing import Any

from mcpcred.cli import complete as c
from mcpcred.cli import shells

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
TREE_FILE = pathlib.Path(__file__).resolve().parent / "_complete_tree.py"
SCRIPTS_DIR = ROOT / "completions"

# Audit log events (``mcpcred log --event``), as ``log --help`` lists them.
LOG_EVENTS = (
    "request",
    "call",
    "session",
    "inject",
    "refresh",
    "pins",
    "finding",
    "malformed",
    "mask",
    "exit",
    "restart",
    "journal",
)


def _clients() -> tuple[tuple[str, str], ...]:
    from mcpcred.clients import ADAPTERS

    return tuple((a.id, a.display_name) for a in ADAPTERS if a.id != "generic")


def _providers() -> tuple[tuple[str, str], ...]:
    from mcpcred.oauth.providers import ALIASES, BUILTIN

    names = [(p.name, p.title) for p in BUILTIN.values()]
    return (*names, *((alias, f"same as {target}") for alias, target in ALIASES.items()))


def _presets() -> tuple[tuple[str, str], ...]:
    from mcpcred.guard.settings import PRESETS

    return tuple((name, " ".join(tools)) for name, tools in PRESETS.items())


def _plain(values: Iterable[str]) -> tuple[tuple[str, str], ...]:
    return tuple((v, "") for v in values)


def _values() -> dict[str, tuple[str, tuple[tuple[str, str], ...]]]:
    """Kind (and static values) of each value-taking parameter typer cannot describe.

    Keys are ``"command path:parameter name"``; ``"*:name"`` applies to every command.
    """
    from mcpcred.guard.settings import ON_CHANGE, ON_LOG_FAILURE
    from mcpcred.oauth.providers import FLOWS
    from mcpcred.wrap.bridge import TRANSPORTS

    clients = (c.CLIENTS, _clients())
    free = (c.NONE, ())
    return {
        "*:client": clients,
        "*:server": (c.SERVERS, ()),
        "*:config": (c.FILES, ()),
        "*:account": free,
        "*:name": free,
        "*:tool": free,
        "*:tools": free,
        "*:idle_timeout": free,
        "completion:what": (
            c.CHOICE,
            (("install", "write the script where the shell finds it"), *_plain(shells.SHELLS)),
        ),
        "completion:shell": (c.CHOICE, _plain(shells.SHELLS)),
        "guard:allow": free,
        "guard:deny": free,
        "guard:preset": (c.CHOICE, _presets()),
        "guard:on_change": (c.CHOICE, _plain(ON_CHANGE)),
        "guard:on_log_failure": (c.CHOICE, _plain(ON_LOG_FAILURE)),
        "login:provider": (c.CHOICE, _providers()),
        "login:flow": (c.CHOICE, _plain(FLOWS)),
        "login:scope": free,
        "login:client_id": free,
        "login:issuer": free,
        "login:resource": free,
        "login:timeout": free,
        "setup:timeout": free,
        "login:client_metadata_url": free,
        "login:url": free,
        "logout:provider": (c.LOGINS, ()),
        "token:provider": (c.LOGINS, ()),
        "wrap:bind": free,
        "wrap:remote": free,
        "wrap:header": free,
        "wrap:header_from_stdin": free,
        "wrap:transport": (c.CHOICE, _plain(TRANSPORTS)),
        "log:since": free,
        "log:event": (c.CHOICE, _plain(LOG_EVENTS)),
        "log:limit": free,
        "log export:to": free,
        "log export:since": free,
        "log export:header": free,
        "log export:ca_file": (c.FILES, ()),
        "log export:timeout": free,
        "secret set:name": (c.SECRETS, ()),
        "secret rm:name": (c.SECRETS, ()),
        "secret show:name": (c.SECRETS, ()),
        "store unlock:hours": free,
        "store migrate:to": (c.CHOICE, _plain(("keychain", "file"))),
    }


class Undecided(Exception):
    """A value-taking parameter with no completion decision (add it to ``_values``)."""


def _annotation(param: Any) -> Any:
    annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
    args = getattr(annotation, "__args__", None)  # list[Path] -> Path
    if args and getattr(annotation, "__origin__", None) in (list, tuple):
        return args[0]
    return annotation


def _kind(path: str, param: Any, table: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    for key in (f"{path}:{param.name}", f"*:{param.name}"):
        if key in table:
            kind, choices = table[key]
            return kind, choices
    annotation = _annotation(param)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return c.CHOICE, tuple((str(m.value), "") for m in annotation)
    if annotation is pathlib.Path:
        return c.FILES, ()
    raise Undecided(f"{path or 'mcpcred'}: {param.name} has no completion kind")


def _help(text: str | None) -> str:
    first = (text or "").strip().split("\n\n")[0]
    return " ".join(first.split()).split(" [default")[0]


def build(group: Any = None) -> c.Command:
    """The engine's tree for the typer app (or any click group)."""
    if group is None:
        import typer

        from mcpcred.cli.app import app

        group = typer.main.get_command(app)
    return _node("", "mcpcred", group, _values())


def _node(path: str, name: str, command: Any, table: dict[str, Any]) -> c.Command:
    options: list[c.Option] = []
    args: list[c.Arg] = []
    for param in command.params:
        if getattr(param, "hidden", False):
            continue
        if param.param_type_name == "argument":
            kind, choices = _kind(path, param, table)
            args.append(c.Arg(kind, param.nargs == -1, choices))
            continue
        names = tuple(n for n in (*param.opts, *param.secondary_opts) if n.startswith("-"))
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            options.append(c.Option(names, _help(param.help)))
        else:
            kind, choices = _kind(path, param, table)
            options.append(c.Option(names, _help(param.help), kind, choices))
    options.append(c.Option(("--help", "-h"), "Show help and exit."))
    commands = []
    for sub_name in _list_commands(command):
        sub = _get_command(command, sub_name)
        if sub is None or sub.hidden:
            continue
        sub_path = f"{path} {sub_name}".strip()
        commands.append(_node(sub_path, sub_name, sub, table))
    return c.Command(name, _help(command.help), tuple(options), tuple(args), tuple(commands))


def _list_commands(command: Any) -> list[str]:
    """Subcommand names through click's API, so a lazily loaded group works too."""
    if not hasattr(command, "list_commands"):
        return []
    ctx = _context(command)
    return list(command.list_commands(ctx))


def _get_command(command: Any, name: str) -> Any:
    return command.get_command(_context(command), name)


def _context(command: Any) -> Any:
    return command.context_class(command)  # typer's own click (vendored or not)


def _literal(node: c.Command, indent: str = "") -> str:
    inner = indent + "    "
    parts = [f"{inner}{node.name!r},", f"{inner}{node.help!r},"]
    if node.options:
        parts.append(f"{inner}(")
        for option in node.options:
            fields = [repr(option.names), repr(option.help)]
            if option.kind is not None:
                fields.append(repr(option.kind))
            if option.choices:
                fields.append(repr(option.choices))
            parts.append(f"{inner}    O({', '.join(fields)}),")
        parts.append(f"{inner}),")
    else:
        parts.append(f"{inner}(),")
    arg_items = []
    for arg in node.args:
        fields = [repr(arg.kind), repr(arg.many)]
        if arg.choices:
            fields.append(repr(arg.choices))
        arg_items.append(f"A({', '.join(fields)})")
    parts.append(f"{inner}({''.join(a + ', ' for a in arg_items)}),")
    if node.commands:
        parts.append(f"{inner}(")
        for sub in node.commands:
            parts.append(f"{inner}    C(")
            parts.append(_literal(sub, inner + "    "))
            parts.append(f"{inner}    ),")
        parts.append(f"{inner}),")
    return "\n".join(parts)


def tree_source(tree: c.Command | None = None) -> str:
    """The Python source of ``_complete_tree.py``."""
    tree = tree or build()
    return (
        '"""The command tree for ``mcpcred __complete`` (generated by ./scripts/gen-completions;\n'
        'do not edit: a test fails when it differs from the typer app)."""\n\n'
        "# ruff: noqa: E501\n"
        "from __future__ import annotations\n\n"
        "from mcpcred.cli.complete import Arg as A\n"
        "from mcpcred.cli.complete import Command as C\n"
        "from mcpcred.cli.complete import Option as O\n\n"
        "TREE = C(\n" + _literal(tree) + "\n)\n"
    )


def generated() -> dict[pathlib.Path, str]:
    """Every generated file and its content."""
    files = {TREE_FILE: tree_source()}
    for shell in shells.SHELLS:
        files[SCRIPTS_DIR / shells.FILE_NAMES[shell]] = shells.script(shell)
    return files


def main() -> int:
    """Write every generated file; print the ones that changed."""
    for path, text in generated().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
