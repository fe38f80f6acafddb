"""Shell completions in completions/ are current, and the bash one really completes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mcpcred.cli import completions

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("shell", completions.SHELLS)
def test_committed_completions_are_current(shell: str) -> None:
    committed = (ROOT / "completions" / completions.FILE_NAMES[shell]).read_text()
    assert committed == completions.script(shell), "run ./scripts/gen-completions"


def _bash_complete(*words: str) -> list[str]:
    script = ROOT / "completions" / "mcpcred.bash"
    words_literal = " ".join(f"'{w}'" for w in words)
    program = (
        f"source '{script}'; COMP_WORDS=(mcpcred {words_literal}); "
        f"COMP_CWORD={len(words)}; _mcpcred; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    )
    out = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return [line for line in out.stdout.splitlines() if line]


def test_bash_completes_commands_options_and_values() -> None:
    assert _bash_complete("au") == ["audit-config"]
    assert _bash_complete("audit-config", "--fo") == ["--format"]
    assert _bash_complete("audit-config", "--format", "") == ["text", "json", "jsonl", "sarif"]
    assert _bash_complete("audit-config", "--fail-on", "m") == ["medium"]
    assert "--json" in _bash_complete("clients", "--")


def test_every_command_is_in_every_script() -> None:
    for shell in completions.SHELLS:
        text = completions.script(shell)
        for command in ("audit-config", "clients", "completion"):
            assert command in text, (shell, command)
        for option in ("format", "fail-on", "write-baseline"):
            assert option in text, (shell, option)
