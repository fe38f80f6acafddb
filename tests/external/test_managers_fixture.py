"""``op``, ``bw``, the ``vault`` CLI and ``cmd:`` through recorded-fixture executables.

See ``fakecli``: the real ``op`` and ``vault`` CLIs are in no registry this project
may use, and ``bw get`` needs a Bitwarden server; these tests check the exact
command line mcpcred runs and how it reads each recorded answer. ``cmd:`` runs
real programs (the Python interpreter), as a user's would.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest

from mcpcred import external
from mcpcred.errors import (
    ExternalLocked,
    ExternalNotFound,
    ExternalSecretError,
    ExternalUnavailable,
)
from tests.external import fakecli
from tests.external.fakecli import FakeTool


@pytest.fixture
def tools(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def _env(folder: Path, **extra: str) -> dict[str, str]:
    env = {"PATH": fakecli.path_with(folder), "HOME": str(folder)}
    env.update(extra)
    return env


def test_op_read_gets_the_reference_and_no_stdin(tools: Path) -> None:
    op = FakeTool(tools, "op")
    op.answer(stdout="op-secret-1")
    value = external.fetch("op", "Private/GitHub Token/credential", _env(tools), 5)
    assert value == "op-secret-1"
    assert op.calls() == [
        {
            "argv": ["read", "--no-newline", "op://Private/GitHub Token/credential"],
            "stdin": "",
            "bw_session": None,
        }
    ]


def test_op_signed_out_is_locked_with_one_line_and_a_hint(tools: Path) -> None:
    FakeTool(tools, "op").answer(*_split(fakecli.OP_SIGNED_OUT))
    with pytest.raises(ExternalLocked) as caught:
        external.fetch("op", "Private/GitHub/token", _env(tools), 5)
    assert "op is signed out or locked" in caught.value.message
    assert "You are not currently signed in" in caught.value.message
    assert "[ERROR]" not in caught.value.message and "\n" not in caught.value.message
    assert caught.value.hint is not None and "OP_SERVICE_ACCOUNT_TOKEN" in caught.value.hint


def test_op_unknown_item_is_missing(tools: Path) -> None:
    FakeTool(tools, "op").answer(*_split(fakecli.OP_NO_ITEM))
    with pytest.raises(ExternalNotFound, match="no such item"):
        external.fetch("op", "Private/Nope/token", _env(tools), 5)


def test_bw_builtin_field_custom_field_and_session(tools: Path) -> None:
    bw = FakeTool(tools, "bw")
    bw.answer(stdout="bw-password")
    env = _env(tools, BW_SESSION="session-key")
    assert external.fetch("bw", "GitHub/password", env, 5) == "bw-password"
    item = {
        "id": "x",
        "name": "GitHub",
        "fields": [{"name": "api key", "value": "bw-custom", "type": 1}],
    }
    bw.answer(stdout=json.dumps(item))
    assert external.fetch("bw", "GitHub/api key", env, 5) == "bw-custom"
    assert [c["argv"] for c in bw.calls()] == [
        ["--nointeraction", "get", "password", "GitHub"],
        ["--nointeraction", "get", "item", "GitHub"],
    ]
    assert {c["bw_session"] for c in bw.calls()} == {"session-key"}
    with pytest.raises(ExternalNotFound, match="no field 'nope'"):
        external.fetch("bw", "GitHub/nope", env, 5)


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (fakecli.BW_LOCKED, ExternalLocked),
        (fakecli.BW_LOGGED_OUT, ExternalLocked),
        (fakecli.BW_NOT_FOUND, ExternalNotFound),
    ],
)
def test_bw_failures(tools: Path, answer: tuple[str, int], error: type[Exception]) -> None:
    FakeTool(tools, "bw").answer(*_split(answer))
    with pytest.raises(error):
        external.fetch("bw", "GitHub/password", _env(tools), 5)


def test_vault_cli_when_there_is_no_address(tools: Path) -> None:
    vault = FakeTool(tools, "vault")
    vault.answer(stdout="vault-value\n")
    assert external.fetch("vault", "secret/app#api_key", _env(tools), 5) == "vault-value"
    assert vault.calls()[0]["argv"] == ["kv", "get", "-field=api_key", "secret/app"]
    vault.answer(*_split(fakecli.VAULT_403))
    with pytest.raises(ExternalLocked, match="permission denied"):
        external.fetch("vault", "secret/app#api_key", _env(tools), 5)
    vault.answer(*_split(fakecli.VAULT_NO_FIELD))
    with pytest.raises(ExternalNotFound):
        external.fetch("vault", "secret/app#nope", _env(tools), 5)


def test_no_vault_at_all_is_unavailable(tools: Path) -> None:
    env = {"PATH": str(tools), "HOME": str(tools)}
    with pytest.raises(ExternalUnavailable, match="VAULT_ADDR"):
        external.fetch("vault", "secret/app#k", env, 5)


def test_cmd_runs_an_argv_without_a_shell(tools: Path) -> None:
    marker = tools / "ran"
    argv = [sys.executable, "-c", "import sys; print(sys.argv[1])", "$(touch " + str(marker) + ")"]
    assert external.fetch("cmd", json.dumps(argv), _env(tools), 5) == "$(touch " + str(marker) + ")"
    assert not marker.exists()  # no shell ever saw the text


def test_cmd_failure_shows_stderr_without_the_value(tools: Path) -> None:
    script = (
        "import sys; print('cmd-leak-value'); "
        "sys.stderr.write('first\\nfailed, got cmd-leak-value and tok_' + 'A1b2C3d4' * 6 + '\\n'); "
        "sys.exit(3)"
    )
    with pytest.raises(ExternalSecretError) as caught:
        external.fetch("cmd", json.dumps([sys.executable, "-c", script]), _env(tools), 5)
    message = caught.value.message
    assert "exited with status 3" in message
    assert "cmd-leak-value" not in message and "A1b2C3d4" * 2 not in message
    assert "failed, got [value] and [...]" in message


def test_a_hanging_manager_is_killed_at_the_deadline(tools: Path) -> None:
    FakeTool(tools, "op").answer(stdout="late", sleep=30)
    start = time.monotonic()
    with pytest.raises(ExternalUnavailable, match="did not answer within 1 s"):
        external.fetch("op", "V/I/f", _env(tools), 1)
    assert time.monotonic() - start < 5


def test_several_references_are_fetched_at_once(tools: Path) -> None:
    """Three managers that each take 1 s answer in well under 3 s together."""
    for name in ("op", "bw", "vault"):
        FakeTool(tools, name).answer(stdout=f"{name}-v", sleep=1)
    refs = [("op", "V/I/f"), ("bw", "I/password"), ("vault", "secret/a#k")]
    start = time.monotonic()
    values = external.fetch_all(refs, _env(tools), 10)
    assert time.monotonic() - start < 2.5
    assert values == {refs[0]: "op-v", refs[1]: "bw-v", refs[2]: "vault-v"}


def test_the_first_failure_in_order_is_reported(tools: Path) -> None:
    FakeTool(tools, "op").answer(*_split(fakecli.OP_SIGNED_OUT))
    FakeTool(tools, "bw").answer(*_split(fakecli.BW_LOCKED))
    with pytest.raises(ExternalLocked, match="Bitwarden"):
        external.fetch_all([("bw", "I/password"), ("op", "V/I/f")], _env(tools), 5)


def test_an_empty_value_or_a_nul_is_refused(tools: Path) -> None:
    op = FakeTool(tools, "op")
    op.answer(stdout="\n")
    with pytest.raises(ExternalNotFound, match="empty"):
        external.fetch("op", "V/I/f", _env(tools), 5)
    op.answer(stdout="a\0b")
    with pytest.raises(ExternalSecretError, match="NUL"):
        external.fetch("op", "V/I/f", _env(tools), 5)


def test_status_check_states(tools: Path) -> None:
    op = FakeTool(tools, "op")
    op.answer(stdout="x")
    assert external.check("op", "V/I/f", _env(tools), 5) == "ok"
    op.answer(*_split(fakecli.OP_SIGNED_OUT))
    assert external.check("op", "V/I/f", _env(tools), 5) == "locked"
    op.answer(*_split(fakecli.OP_NO_ITEM))
    assert external.check("op", "V/I/f", _env(tools), 5) == "missing"
    assert external.check("pass", "x", {"PATH": str(tools)}, 5) == "unavailable"


def test_the_shim_starts_the_server_with_op_and_bw_values(tools: Path) -> None:
    """The whole path through the installed shim, no keychain anywhere."""
    import subprocess

    FakeTool(tools, "op").answer(stdout="op-value")
    FakeTool(tools, "bw").answer(stdout="bw-value")
    env = {**os.environ, "PATH": fakecli.path_with(tools)}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    env["A"] = "mcpcred:op/Private/GitHub Token/credential"
    env["B"] = "Bearer {{mcpcred:bw/GitHub/password}}"
    mcpcred = str(Path(sys.executable).parent / "mcpcred")
    script = "import os; print(os.environ['A'], os.environ['B'])"
    result = subprocess.run(
        [mcpcred, "shim", "--", sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "op-value Bearer bw-value"


def _split(answer: tuple[str, int]) -> tuple[str, str, int]:
    """(stdout, stderr, code) of a recorded failure: nothing on stdout."""
    return "", answer[0], answer[1]


def test_a_timeout_kills_what_the_command_started(tools: Path) -> None:
    """The command's own children (its session) die with it: nothing is left running."""
    pid_file = tools / "grandchild.pid"
    script = (
        "import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    with pytest.raises(ExternalUnavailable, match="did not answer within 1 s"):
        external.fetch("cmd", json.dumps([sys.executable, "-c", script]), _env(tools), 1)
    assert time.monotonic() - start < 5
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _running(pid):
        time.sleep(0.05)
    assert not _running(pid)


def test_a_daemon_holding_the_pipes_does_not_hold_the_value(tools: Path) -> None:
    """A tool that prints the value, leaves a background process with its stdout open and
    exits: the value is taken once the tool has exited, not when the daemon ends."""
    script = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(20)'])\n"
        "print('daemon-value')\n"
    )
    start = time.monotonic()
    value = external.fetch("cmd", json.dumps([sys.executable, "-c", script]), _env(tools), 10)
    assert value == "daemon-value"
    assert time.monotonic() - start < 5


def test_stderr_controls_are_escaped_and_long_lines_cut(tools: Path) -> None:
    script = (
        "import sys; sys.stderr.write('\\x1b[31mred\\x1b[0m ' + 'word ' * 80 + '\\n'); sys.exit(1)"
    )
    with pytest.raises(ExternalSecretError) as caught:
        external.fetch("cmd", json.dumps([sys.executable, "-c", script]), _env(tools), 5)
    message = caught.value.message
    assert "\x1b" not in message and "\\x1b[31mred" in message
    assert message.endswith("...") and len(message) < 300


def _running(pid: int) -> bool:
    """Alive and not a zombie (a killed process waits for its reaper as a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
