"""Running mcpcred the way users do: as a real process, with a controlled environment."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Result:
    """Exit code and both output streams of one run."""

    code: int
    stdout: str
    stderr: str


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """``python -m mcpcred ARGS`` in a subprocess with the current (isolated) environment."""
    environment = dict(os.environ)
    environment.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "mcpcred", *args],
        cwd=cwd or os.getcwd(),
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    return Result(completed.returncode, completed.stdout, completed.stderr)
