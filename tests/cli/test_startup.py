"""Start-up of every command: the lazy command tree, ``--version`` without typer, no pydantic.

``mcpcred.cli.app.COMMANDS`` lists the commands with their one-line help so that
``mcpcred --help`` and ``mcpcred NAME`` import only what they need; these tests keep that
table equal to the commands the modules really register, and check what each run imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import pytest

from mcpcred import __version__

HEAVY = ("typer", "click", "rich", "pydantic", "httpx", "authlib", "tomlkit", "keyring")


def _python(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _after(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Exit code, output and the modules loaded after ``mcpcred ARGS`` in a fresh interpreter."""
    code = (
        "import contextlib, io, json, sys\n"
        "from mcpcred._entry import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = main({args!r})\n"
        "sys.stderr.write(json.dumps({'rc': rc, 'out': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    result = _python(code, env)
    assert result.stderr, result
    return json.loads(result.stderr.splitlines()[-1])  # type: ignore[no-any-return]


def _tops(modules: list[str]) -> set[str]:
    return {m.split(".")[0] for m in modules} & set(HEAVY)


def _command_modules(modules: list[str]) -> set[str]:
    return {m for m in modules if m.startswith("mcpcred.cli.") and m.endswith("_cmd")}


def test_version_is_answered_without_typer() -> None:
    for args in (["--version"], ["--debug", "--version"]):
        found = _after(args)
        assert (found["rc"], found["out"]) == (0, f"mcpcred {__version__}\n")
        assert _tops(found["modules"]) == set()
        assert not any(m.startswith("mcpcred.cli") for m in found["modules"])


def test_registered_commands_match_the_table_module_by_module() -> None:
    """Import each module in turn and see what it registers: the table must say the same."""
    code = (
        "import importlib, json, sys\n"
        "from typer.main import get_command_name\n"
        "from mcpcred.cli.app import COMMANDS, app\n"
        "def names():\n"
        "    out = [i.name or get_command_name(i.callback.__name__) for i in app.registered_commands]\n"
        "    return out + [g.name for g in app.registered_groups]\n"
        "owner = {n: 'app' for n in names()}\n"
        "import pkgutil, mcpcred.cli\n"
        "for info in pkgutil.iter_modules(mcpcred.cli.__path__):\n"
        "    before = set(names())\n"
        "    importlib.import_module('mcpcred.cli.' + info.name)\n"
        "    owner.update({n: info.name for n in names() if n not in before})\n"
        "print(json.dumps({'owner': owner, 'table': {n: e.module for n, e in COMMANDS.items()}}))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["owner"] == found["table"]


def test_table_help_is_each_commands_own_first_sentence() -> None:
    import typer.main

    from mcpcred.cli.app import COMMANDS, app, load_all

    load_all()
    group = typer.main.get_command(app)
    real = {name: cmd.get_short_help_str(10**6) for name, cmd in group.commands.items()}  # type: ignore[attr-defined]
    assert real == {name: entry.help for name, entry in COMMANDS.items()}


@pytest.mark.parametrize("columns", ["50", "80", "200"])
def test_lazy_help_is_the_help_of_the_whole_app(columns: str) -> None:
    """``mcpcred --help`` from the table reads exactly as with every command imported."""
    env = {"COLUMNS": columns}
    lazy = _after(["--help"], env)
    whole = _python(
        "from mcpcred.cli.app import load_all, run\nload_all()\nraise SystemExit(run(['--help']))",
        env,
    )
    assert lazy["rc"] == whole.returncode == 0
    assert lazy["out"] == whole.stdout
    assert "Commands:" in lazy["out"] and "audit-config" in lazy["out"]
    assert _command_modules(lazy["modules"]) == set()
    assert _tops(lazy["modules"]) == {"typer"}


def _every_command_path() -> list[list[str]]:
    import typer.main

    from mcpcred.cli.app import app, load_all

    load_all()
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return paths


def test_every_command_and_subcommand_help_exits_0() -> None:
    paths = _every_command_path()
    assert len(paths) > 30  # every group's subcommands are in
    code = (
        "import contextlib, io, json, sys\n"
        "from mcpcred.cli.app import run\n"
        "bad = []\n"
        f"for path in {paths!r}:\n"
        "    out = io.StringIO()\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        rc = run([*path, '--help'])\n"
        "    if rc != 0 or 'Usage: mcpcred' not in out.getvalue():\n"
        "        bad.append([path, rc, out.getvalue()[:200]])\n"
        "print(json.dumps(bad))\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("command", ["shim", "headers"])
def test_shim_and_headers_help_exit_0(command: str) -> None:
    found = _after([command, "--help"])
    assert found["rc"] == 0
    assert found["out"].startswith(f"usage: mcpcred {command} ")
    assert _tops(found["modules"]) == set()


@pytest.mark.parametrize(
    ("args", "module"),
    [
        (["clients", "--help"], "mcpcred.cli.clients_cmd"),
        (["status", "--help"], "mcpcred.cli.status_cmd"),
        (["wrap", "--help"], "mcpcred.cli.wrap_cmd"),
        (["token", "--help"], "mcpcred.cli.login_cmd"),
        (["log", "verify", "--help"], "mcpcred.cli.log_cmd"),
        (["secret", "list", "--help"], "mcpcred.cli.secret_cmd"),
        (["store", "--help"], "mcpcred.cli.store_cmd"),
        (["pins", "--help"], "mcpcred.cli.pins_cmd"),
        (["agent", "--help"], "mcpcred.cli.agent_cmd"),
        (["guard", "--help"], "mcpcred.cli.guard_cmd"),
        (["audit-config", "--help"], "mcpcred.cli.audit_cmd"),
        (["setup", "--help"], "mcpcred.cli.setup_cmd"),
    ],
)
def test_a_command_imports_its_own_module_only(args: list[str], module: str) -> None:
    found = _after(args)
    assert found["rc"] == 0
    assert _command_modules(found["modules"]) == {module}
    assert _tops(found["modules"]) == {"typer"}  # no pydantic, rich, httpx, keyring, ...


def test_unknown_command_still_suggests_and_fails_as_usage() -> None:
    result = _python(
        "import sys\nfrom mcpcred._entry import main\nrc = main(['stauts'])\n"
        "print(rc, sorted(m for m in sys.modules if m.endswith('_cmd')))"
    )
    assert result.stdout.split() == ["2", "[]"]
    assert (
        result.stderr.splitlines()[0] == "error: No such command 'stauts'. Did you mean 'status'?"
    )
    nothing_close = _python("from mcpcred._entry import main\nmain(['zzzzzz'])")
    assert nothing_close.stderr.splitlines()[0] == "error: No such command 'zzzzzz'."


def test_clients_runs_without_pydantic_or_keyring(home: Path, project: Path) -> None:
    found = _after(["clients", "--json"])
    assert found["rc"] == 0
    assert json.loads(found["out"])
    assert not _tops(found["modules"]) & {"pydantic", "keyring", "httpx", "authlib", "tomlkit"}


def test_completion_scripts_still_see_every_command() -> None:
    from mcpcred.cli import completions
    from mcpcred.cli.app import COMMANDS

    names = {child.name for child in completions.build().commands}
    assert set(COMMANDS) <= names, set(COMMANDS) - names


class _Sample(Enum):
    A = "a"


def _samples(annotation: Any) -> list[Any]:
    from typing import get_args, get_origin

    if get_origin(annotation) is list:
        return [(), ("x",), ["a", "b"]] if get_args(annotation)[0] is str else [("a", "b")]
    if annotation is str:
        return ["", "x", "ünï", b"bytes"]
    if annotation is int:
        return ["0", "7", "-3", "+4", " 5", "1_000", "x", "1.5", 3, "99999999999999999999"]
    if annotation is float:
        return ["1", "1.5", "-2.25", "1e3", "x", ".5", 2, 2.5, "nan"]
    if annotation is bool:
        return [True, False, "true", "0"]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [*(m.value for m in annotation), "NOPE", *(m.value.upper() for m in annotation)]
    if isinstance(annotation, type) and issubclass(annotation, Path):
        return ["file.txt", "", "-", "/nonexistent/x", Path("p")]
    raise AssertionError(f"no samples for {annotation!r}: add some")


def test_stdlib_conversion_equals_typers_for_every_parameter(tmp_path: Path) -> None:
    """Each parameter's value, converted by ``coerce`` and by typer's pydantic adapter."""
    import typer.main
    from typer._click import Context
    from typer._click.exceptions import BadParameter
    from typer._coercion import build_runtime_param

    from mcpcred.cli.app import app, load_all

    load_all()
    os.chdir(tmp_path)
    (tmp_path / "file.txt").write_text("x")
    group = typer.main.get_command(app)
    checked = 0

    def outcome(function: Any) -> tuple[str, Any]:
        try:
            return "ok", function()
        except BadParameter as exc:
            return "error", exc.format_message()

    def walk(command: Any) -> None:
        nonlocal checked
        ctx = Context(command)
        for param in [*command.params, command.get_help_option(ctx)]:
            if param is None or not hasattr(param, "type_descriptor"):
                continue
            ours = param.get_runtime_param()
            assert type(ours).__name__ == "StdlibRuntimeParam", param.name
            theirs = build_runtime_param(param.type_descriptor)
            for value in _samples(param.type_descriptor.annotation):
                mine = outcome(lambda: ours.coerce(value, param=param, ctx=ctx))  # noqa: B023
                typers = outcome(lambda: theirs.coerce(value, param=param, ctx=ctx))  # noqa: B023
                assert repr(mine) == repr(typers), (command.name, param.name, value)
                assert type(mine[1]) is type(typers[1]), (command.name, param.name, value)
                checked += 1
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(group)
    assert checked > 200
