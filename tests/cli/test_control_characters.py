"""Names from configs and servers reach the terminal escaped, never raw (issue 12).

A server name such as ``"\\x1b]0;evil\\x07"`` retitles the terminal window, and
``"\\x1b[2J"`` clears it, when printed as is. Every command that prints such names
shows them as ``\\x1b`` instead: audit-config, wrap, status, log, the shim's failure
line (the client's log), the guard's notices and every ``error:`` line.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import time
from contextlib import redirect_stderr
from pathlib import Path

import pytest

from mcpcred.guard import auditlog
from mcpcred.guard.run import Warn
from tests.support import tokengen
from tests.support.cli import run

EVIL = "gh\x1b]0;pwned\x07\x1b[2J\u202e"
SHOWN = "gh\\x1b]0;pwned\\x07\\x1b[2J\\u202e"
TOKEN = tokengen.generate("github-pat", random.Random(12))


def _no_raw_controls(*texts: str) -> None:
    for text in texts:
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text, text


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [*value, *(text for item in value.values() for text in _strings(item))]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def _servers() -> dict[str, object]:
    return {
        "mcpServers": {
            EVIL: {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
                "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN},
            }
        }
    }


@pytest.fixture
def desktop_config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(_servers(), indent=2) + "\n")
    return path


def test_audit_config_text_report(project: Path) -> None:
    (project / ".mcp.json").write_text(json.dumps(_servers(), indent=2))
    result = run("audit-config", ".")
    assert result.code == 1, result.stderr
    assert f"[{SHOWN}]" in result.stdout
    _no_raw_controls(result.stdout, result.stderr)


def test_wrap_plan_and_diff(desktop_config: Path) -> None:
    result = run("wrap", "claude-desktop", "--dry-run")
    assert result.code == 0, result.stderr
    assert f"  {SHOWN}: wrap" in result.stderr
    assert "dry run" in result.stderr
    _no_raw_controls(result.stdout, result.stderr)


def test_status_table(desktop_config: Path) -> None:
    result = run("status", env={"COLUMNS": "300"})
    assert result.code == 0, result.stderr
    assert SHOWN in result.stdout
    _no_raw_controls(result.stdout, result.stderr)


def test_log_table(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"MCPCRED_DATA_DIR": str(data), "COLUMNS": "300"}
    os.environ["MCPCRED_DATA_DIR"] = str(data)  # auditlog.default_folder() reads it
    try:
        log = auditlog.AuditLog(auditlog.default_folder(), b"k" * 32, clock=time.time)
        log.append(
            {"event": "call", "server": EVIL, "client": "test", "method": "tools/call",
             "tool": "x\x1b[2J", "outcome": "ok"}
        )  # fmt: skip
    finally:
        del os.environ["MCPCRED_DATA_DIR"]
    result = run("log", env=env)
    assert result.code == 0, result.stderr
    assert "x\\x1b[2J" in result.stdout
    _no_raw_controls(result.stdout, result.stderr)


def test_the_shims_failure_line_in_the_clients_log(tmp_path: Path) -> None:
    result = run(
        "shim", "--server", EVIL, "--client", "test", "--", str(tmp_path / "no-such-server"),
        env={"MCPCRED_CONFIG": str(tmp_path / "none.toml")},
    )  # fmt: skip
    assert result.code == 6, result.stderr
    assert result.stderr.startswith(f"error: mcpcred shim: server '{SHOWN}' (test): ")
    _no_raw_controls(result.stderr)


def test_error_lines(home: Path) -> None:
    result = run("pins", "forget", EVIL)
    assert result.code == 2
    assert result.stderr.splitlines()[0] == f"error: no pinned tools for server '{SHOWN}'"
    _no_raw_controls(result.stderr)


def test_guard_notices() -> None:
    captured = io.StringIO()
    with redirect_stderr(captured):
        Warn(f"server '{EVIL}'")("tool 'x\x1b[2J' changed")
    assert captured.getvalue() == (f"mcpcred guard: server '{SHOWN}': tool 'x\\x1b[2J' changed\n")
    assert sys.stderr is not captured


@pytest.mark.parametrize("fmt", ["json", "sarif"])
def test_audit_config_json_and_sarif(project: Path, fmt: str) -> None:
    """C1 controls, bidi overrides and lone surrogates in names are JSON escapes there.

    A lone surrogate (``"\\udc80"`` in the config) could not even be written: exit 70.
    """
    (project / ".mcp.json").write_text(
        json.dumps(_servers(), indent=2).replace("\\u202e", "\\u202e\\u009b\\udc80")
    )
    result = run("audit-config", ".", "--format", fmt)
    assert result.code == 1, result.stderr
    assert "\x9b" not in result.stdout and "\u202e" not in result.stdout
    assert "\\u202e\\u009b\\udc80" in result.stdout
    name = EVIL + "\x9b\udc80"  # the same name, once the report is decoded
    assert [text for text in _strings(json.loads(result.stdout)) if name in text]
    _no_raw_controls(result.stdout, result.stderr)


def test_log_json_lines(tmp_path: Path) -> None:
    data = tmp_path / "data"
    os.environ["MCPCRED_DATA_DIR"] = str(data)
    try:
        log = auditlog.AuditLog(auditlog.default_folder(), b"k" * 32, clock=time.time)
        log.append({"event": "call", "server": "gh", "tool": "x\u202e\x9by", "outcome": "ok"})
    finally:
        del os.environ["MCPCRED_DATA_DIR"]
    result = run("log", "--json", env={"MCPCRED_DATA_DIR": str(data)})
    assert result.code == 0, result.stderr
    assert "\\u202e\\u009by" in result.stdout
    assert json.loads(result.stdout)["tool"] == "x\u202e\x9by"
    _no_raw_controls(result.stdout)
    assert "\x9b" not in result.stdout


def test_lone_surrogates_in_names_and_values_do_not_crash_a_scan(project: Path) -> None:
    """JSON allows ``"\\udc80"``; fingerprints, digests and baselines hashed it: exit 70."""
    config = json.dumps(_servers(), indent=2).replace("\\u202e", "\\udc80")
    config = config.replace('"env": {', '"env": {"API_KEY": "Zq8rT2vLx9\\udc80Wq8rT2vLx9Kp", ', 1)
    (project / ".mcp.json").write_text(config)
    text = run("audit-config", ".")
    assert text.code == 1, text.stderr
    assert "secret/" in text.stdout and "\\udc80" in text.stdout
    written = run("audit-config", ".", "--write-baseline", "baseline.json")
    assert written.code == 0, written.stderr
    assert run("audit-config", ".", "--baseline", "baseline.json").code == 0
