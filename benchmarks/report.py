"""Plain-text output and set-up shared by the benchmark scripts (standard library only)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

# Inherited variables that would point a benchmarked mcpcred at another keychain or the
# user's files, or change how Python runs; a script adds its own to these.
SCRUBBED = frozenset({
    "PYTHON_KEYRING_BACKEND", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR",
    "PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
})  # fmt: skip


class BenchError(RuntimeError):
    """The run itself is broken (not a missed target): always exit 1."""


def run_broken_or(prefix: str, run: Callable[[Path], int]) -> int:
    """``run(tmp)`` with a new temporary folder, removed afterwards; a ``BenchError`` is
    printed and gives exit code 1."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        return run(tmp)
    except BenchError as exc:
        print(f"\nBENCHMARK BROKEN: {exc}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_targets(results: Sequence[tuple[str, bool, str]]) -> bool:
    """Print the ``(label, ok, value)`` targets, one PASS or FAIL line each; whether one failed."""
    print("== targets ==")
    for label, ok, value in results:
        print(f"  {verdict(ok)}  {label}: {value}")
    return not all(ok for _, ok, _ in results)


def ready(mcpcred: Path, *checks: Callable[[], None]) -> bool:
    """Whether the benchmark can run: ``mcpcred`` (the console script) exists and no check
    raises ``RuntimeError``; otherwise says why on stdout."""
    if not mcpcred.exists():
        print(f"no console script at {mcpcred}; install mcpcred: pip install -e .")
        return False
    try:
        for check in checks:
            check()
    except RuntimeError as exc:
        print(exc)
        return False
    return True


def announce(title: str, details: str) -> None:
    """Print ``title`` with the Python version, CPUs and load, then ``details`` (which brings
    its own separator), and a note when the machine is busy."""
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    print(
        f"{title}  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load {load:.2f}{details})"
    )
    if load > (os.cpu_count() or 1) / 2:
        print("  note: the machine is busy; figures will be slower and noisier than usual")


def isolated_env(tmp: Path, scrubbed: frozenset[str] = SCRUBBED) -> dict[str, str]:
    """This environment, minus ``scrubbed`` and what leads elsewhere, with every mcpcred
    folder in ``tmp``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in scrubbed and not k.startswith(("GNOME_KEYRING_", "MCPCRED_"))
    }
    folders = {
        "HOME": "home",
        "XDG_CONFIG_HOME": "config",
        "XDG_DATA_HOME": "data",
        "XDG_STATE_HOME": "state",
        "XDG_CACHE_HOME": "cache",
        "MCPCRED_DATA_DIR": "mcpcred-data",
        "MCPCRED_RUNTIME_DIR": "run",
    }
    for var, name in folders.items():
        path = tmp / name
        path.mkdir(mode=0o700)
        env[var] = str(path)
    env["MCPCRED_CONFIG"] = str(tmp / "config" / "mcpcred.toml")
    # Up-to-date bytecode, as an installed mcpcred has it, without writing into the source
    # tree: with PYTHONDONTWRITEBYTECODE set, or .pyc files older than their (just edited)
    # sources, every start would compile those modules again.
    env["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return env


def table(rows: list[list[str]], right: set[int]) -> str:
    """Columns padded to their widest cell; ``right`` holds right-aligned column indexes."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
