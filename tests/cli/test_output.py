"""Output people can pipe, read and parse (docs/cli.md): whole lines when piped, colour
only when wanted, one JSON shape, the documented exit codes, help with an example.

The CLI runs as a real process: stdout is a pipe (``tests.support.cli.run``) or, for the
terminal case, a pty. ``COLUMNS=100`` is set for every test (conftest), which is what rich
used to wrap piped output at.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import keychain as real_keychain
from tests.support.cli import run
from tests.support.headless import converse

LONG = "a-folder-with-a-rather-long-name-" * 6  # ~200 characters: longer than any terminal
ANSI = "\x1b["


def _desktop_config(home: Path, env: dict[str, str]) -> Path:
    """A Claude Desktop config with one server started through the shim (wrapped)."""
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    shim = [str(Path(sys.executable).parent / "mcpcred"), "shim", "--server", "gh", "--", "npx"]
    entry = {"command": shim[0], "args": shim[1:], "env": env}
    config.write_text(json.dumps({"mcpServers": {"gh": entry}}))
    return config


def _long_project(project: Path) -> Path:
    """A project config whose path is far wider than COLUMNS."""
    folder = project / LONG
    folder.mkdir()
    (folder / ".mcp.json").write_text('{"mcpServers": {"p": {"command": "node"}}}')
    return folder


# -- whole lines when piped -----------------------------------------------------------------


def test_a_long_path_is_one_line_when_piped(project: Path) -> None:
    folder = _long_project(project)
    result = run("clients", cwd=folder)
    assert result.code == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("claude-code")]
    assert str(folder / ".mcp.json") in row  # not cut at 100 columns, not folded
    assert all(line == line.rstrip() for line in result.stdout.splitlines())  # no padding
    assert ANSI not in result.stdout


def test_a_status_row_is_one_line_when_piped(keychain: dict[str, str], home: Path) -> None:
    real_keychain.store(keychain, "mcpcred", "present", "output-canary-value")
    many = {f"VARIABLE_{i}": f"mcpcred:secret/present-{LONG[:20]}{i}" for i in range(3)}
    config = _desktop_config(home, {"A": "mcpcred:secret/present", **many})
    result = run("status")
    assert result.code == 1  # the three others are missing
    (row,) = [line for line in result.stdout.splitlines() if line.startswith("claude-desktop")]
    assert "mcpcred:secret/present (ok)" in row
    assert all(f"{ref} (missing)" in row for ref in many.values())
    assert row.endswith(str(config).replace(str(home), "~", 1)) or str(config) in row
    assert "output-canary-value" not in result.stdout + result.stderr


def test_a_log_record_is_one_line_when_piped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpcred.guard import auditlog

    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    log = auditlog.AuditLog(auditlog.default_folder(), bytes.fromhex("ab" * 32))
    uri = "file:///" + LONG + "/notes.txt"
    log.append({"event": "call", "server": "files-" + LONG[:40], "client": "claude-code",
                "method": "resources/read", "uri": uri, "outcome": "ok"})  # fmt: skip
    result = run("log")
    assert result.code == 0, result.stderr
    (row,) = [line for line in result.stdout.splitlines() if "claude-code" in line]
    assert uri in row and "files-" + LONG[:40] in row


def test_colour_follows_no_color_and_force_color(project: Path) -> None:
    folder = _long_project(project)
    forced = run("clients", cwd=folder, env={"FORCE_COLOR": "1"})
    assert ANSI in forced.stdout  # coloured through a pipe: a CI log that renders ANSI
    row = next(line for line in forced.stdout.splitlines() if "claude-code" in line)
    assert str(folder / ".mcp.json") in row  # and still not wrapped for a fake terminal
    both = run("clients", cwd=folder, env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert ANSI not in both.stdout  # NO_COLOR wins
    dumb = run("clients", cwd=folder, env={"TERM": "dumb"})
    assert ANSI not in dumb.stdout


def test_on_a_terminal_tables_wrap_to_its_width(project: Path) -> None:
    folder = _long_project(project)
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("NO_COLOR", None)
    os.chdir(folder)
    code, output = converse(["clients"], [], env)
    assert code == 0, output
    lines = output.replace("\r\n", "\n").splitlines()
    assert lines and max(len(_plain(line)) for line in lines) <= 80
    assert str(folder / ".mcp.json") not in output.replace("\r\n", "")  # folded on screen
    assert ANSI in output  # a terminal gets colour
    quiet_env = {**env, "NO_COLOR": "1"}
    _, quiet = converse(["clients"], [], quiet_env)
    assert "\x1b[1m" not in quiet  # no bold header under NO_COLOR


def _plain(line: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line)


# -- one JSON shape ---------------------------------------------------------------------------


JSON_KEYS = {
    ("status", "--json"): {"version", "ok", "keychain", "store", "logins", "servers",
                           "unresolved", "errors"},
    ("clients", "--json"): {"version", "clients"},
    ("secret", "list", "--json"): {"version", "secrets"},
    ("pins", "list", "--json"): {"version", "pins"},
    ("pins", "diff", "--json"): {"version", "changes"},
    ("log", "verify", "--json"): {"version", "ok", "records", "problems", "notes", "folder"},
    ("store", "status", "--json"): {"version", "store", "backend", "reason"},
    ("agent", "status", "--json"): {"version", "running", "socket", "kernel_keyring"},
}  # fmt: skip


@pytest.mark.parametrize("args", sorted(JSON_KEYS), ids=" ".join)
def test_every_json_document_is_an_object_with_a_version(
    args: tuple[str, ...], keychain: dict[str, str], home: Path
) -> None:
    _desktop_config(home, {"A": "mcpcred:secret/present"})
    real_keychain.store(keychain, "mcpcred", "present", "json-canary-value")
    result = run(*args)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert isinstance(document, dict)
    assert next(iter(document)) == "version" and document["version"] == 1
    assert JSON_KEYS[args] <= set(document), set(document)
    assert "json-canary-value" not in result.stdout + result.stderr


# -- exit codes --------------------------------------------------------------------------------


def test_status_exits_1_when_a_wrapped_server_credential_does_not_resolve(
    keychain: dict[str, str], home: Path
) -> None:
    _desktop_config(home, {"GITHUB_TOKEN": "mcpcred:secret/github-pat"})
    missing = run("status", "--json")
    assert missing.code == 1, missing.stderr
    document = json.loads(missing.stdout)
    assert document["ok"] is False
    assert document["unresolved"] == [
        {
            "client": "claude-desktop",
            "server": "gh",
            "reference": "mcpcred:secret/github-pat",
            "state": "missing",
        }
    ]
    text = run("status")
    assert text.code == 1
    assert "claude-desktop/gh mcpcred:secret/github-pat (missing)" in text.stderr
    real_keychain.store(keychain, "mcpcred", "github-pat", "status-canary-value")
    fixed = run("status", "--json")
    assert fixed.code == 0, fixed.stderr
    assert json.loads(fixed.stdout)["ok"] is True
    assert "status-canary-value" not in fixed.stdout + fixed.stderr


def test_status_exits_0_for_a_reference_in_an_unwrapped_server(home: Path) -> None:
    """Such a server gets the reference's text (a warning says so); it is not a credential
    mcpcred resolves, so it does not fail ``status``."""
    config = home / ".config" / "Claude" / "claude_desktop_config.json"
    config.parent.mkdir(parents=True)
    entry = {"command": "npx", "env": {"T": "mcpcred:secret/nowhere"}}
    config.write_text(json.dumps({"mcpServers": {"plain": entry}}))
    result = run("status", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert result.code == 0, result.stderr
    assert "where mcpcred does not resolve it" in result.stderr


# -- help ------------------------------------------------------------------------------------


def _commands() -> list[tuple[str, ...]]:
    import typer

    from mcpcred.cli.app import app

    found: list[tuple[str, ...]] = [()]

    def walk(command: object, path: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            found.append((*path, name))
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return [*found, ("shim",), ("headers",)]


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "mcpcred")
def test_every_command_has_help_with_an_example(command: tuple[str, ...]) -> None:
    result = run(*command, "--help")
    assert result.code == 0, result.stderr
    if command:  # the top level lists the commands; each command shows how to use it
        assert "Example:" in result.stdout, result.stdout


# -- bad input is one line and a documented code, never 70 --------------------------------------


def test_bad_input_found_by_fuzzing_is_a_usage_or_config_error(home: Path, project: Path) -> None:
    blocker = project / "a-file"
    blocker.write_text("not a folder")
    bom = project / "bom.json"
    bom.write_bytes(b"\xff\xfe\x00garbage\x80")
    cases = [
        (("store", "unlock", "--hours", "1e309"), {}, 2),
        (("log", "verify"), {"MCPCRED_DATA_DIR": str(blocker / "below")}, 3),
        (("log",), {"MCPCRED_DATA_DIR": str(blocker)}, 3),
        (("audit-config", str(bom)), {}, 2),
    ]
    for args, env, code in cases:
        result = run(*args, env=env)
        assert result.code == code, (args, result.stderr)
        assert result.stderr.startswith("error: ") or args[0] == "audit-config", result.stderr
        assert "a bug in mcpcred" not in result.stderr


ODD = ["", "-", "x" * 3000, "a\u202eb", "../..", "/dev/null", "nan", "-1", "1e309",
       "99999999999999999999", "a=b", "{}", "[", "op://", ":", "mcpcred:secret/"]  # fmt: skip
SKIP = {("agent", "serve"), ("agent", "start"), ("login",), ("secret", "show")}  # wait or prompt


def test_odd_arguments_never_exit_70(
    home: Path, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command and subcommand, each option and argument given each odd value, in
    one process (``app.run``: the same code the console script calls)."""
    import contextlib
    import io

    import typer

    from mcpcred.cli.app import app
    from mcpcred.cli.app import run as cli

    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    (home / ".claude.json").write_text(
        json.dumps({"mcpServers": {"x": {"command": "npx", "env": {"T": "mcpcred:secret/x"}}}})
    )
    seen: list[tuple[int, list[str], str]] = []
    root = typer.main.get_command(app)
    for path in _commands()[1:]:
        if path in SKIP or path[0] in ("shim", "headers"):
            continue
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        if getattr(command, "commands", None) and not command.invoke_without_command:  # type: ignore[attr-defined]
            continue
        params = [p for p in command.params if p.name != "help"]
        required = ["x"] * sum(1 for p in params if p.param_type_name == "argument" and p.required)
        has_argument = any(p.param_type_name == "argument" for p in params)
        options = [
            p.opts[0]
            for p in params
            if p.param_type_name == "option" and not p.is_flag and p.opts[0] != "--follow"
        ]
        for value in ODD:
            if path == ("audit-config",) and value in ("../..", "/dev/null"):
                continue  # would scan the machine
            lines = [[value, *required[1:]]] if has_argument else []
            lines += [[*required, option, value] for option in options]
            for argv in lines:
                out, err = io.StringIO(), io.StringIO()
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = cli([*path, *argv])
                if code not in (0, 1, 2, 3, 5, 6, 7):
                    seen.append((code, [*path, *argv], err.getvalue()[:200]))
    assert not seen, seen[:5]


def _many_configs(folder: Path, count: int) -> None:
    for index in range(count):
        path = folder / f"team{index:04d}" / ".cursor" / "mcp.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps({"mcpServers": {"s": {"command": "node", "args": ["s.js"]}}}))


def test_audit_config_shows_progress_on_a_terminal_when_the_report_goes_to_a_file(
    project: Path,
) -> None:
    """A large scan writing SARIF to a file draws a bar on the terminal; piped, nothing."""
    from mcpcred.terminal import SCAN_PROGRESS_FROM

    _many_configs(project, SCAN_PROGRESS_FROM + 20)
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}
    env["TERM"] = "xterm"
    report = project / "report.sarif"
    args = ["audit-config", str(project), "--format", "sarif", "-o", str(report)]
    code, shown = converse(args, [], env)
    assert code == 0, shown
    assert "scanning MCP configs" in shown
    assert json.loads(report.read_text())["runs"][0]["tool"]["driver"]["name"] == "mcpcred"
    piped = subprocess.run(
        [sys.executable, "-m", "mcpcred", *args],
        env={**env, "FORCE_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert "scanning" not in piped.stderr and "\x1b[" not in piped.stderr
