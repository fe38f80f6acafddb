"""Becoming the server: exec on POSIX, a supervised child on Windows.

On POSIX the shim replaces itself (``os.execvpe``): the server then owns
stdin/stdout, receives the client's signals directly and its exit code is the
one the client sees, with nothing of the shim left in memory. Windows has no
exec that keeps the process identity, so the server runs as a child that
inherits the standard handles; Ctrl-C/Ctrl-Break are forwarded and its exit
code is passed through.
"""

from __future__ import annotations

import os
import sys

from mcpcred.errors import ShimError


def locate(command: str, env: dict[str, str]) -> str:
    """The program to run, looked up on the server's own PATH."""
    if os.sep in command or (os.altsep and os.altsep in command):
        if os.path.isfile(command) and os.access(command, os.X_OK):
            return command
        raise ShimError(
            f"server command {command!r} does not exist or is not executable",
            hint="fix the path in the client's config (mcpcred unwrap, edit, mcpcred wrap)",
        )
    found = _which(command, env.get("PATH", os.defpath))
    if found is None:
        raise ShimError(
            f"server command {command!r} was not found on PATH",
            hint="GUI clients do not see your shell's PATH: use an absolute path in the config",
        )
    return found


def _which(command: str, path: str) -> str | None:
    """``shutil.which`` without importing shutil (2-3 ms on every server start)."""
    if sys.platform == "win32":  # pragma: no cover - PATHEXT lookup
        import shutil

        return shutil.which(command, path=path)
    for folder in path.split(os.pathsep):
        candidate = os.path.join(folder or ".", command)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def become(argv: list[str], env: dict[str, str]) -> None:
    """Run the server in place of the shim; returns only by raising."""
    program = locate(argv[0], env)
    sys.stdout.flush()
    sys.stderr.flush()
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        raise SystemExit(_run_child(program, argv, env))
    try:
        os.execve(program, argv, env)  # noqa: S606 (exec is the point)
    except OSError as exc:
        raise ShimError(f"cannot start {argv[0]!r}: {exc.strerror}") from None


def _run_child(program: str, argv: list[str], env: dict[str, str]) -> int:  # pragma: no cover
    import contextlib
    import signal
    import subprocess

    command = [program, *argv[1:]]
    if program.lower().endswith((".cmd", ".bat")):
        # npx, uvx & co. are batch files: they need the command interpreter.
        command = [env.get("COMSPEC", "cmd.exe"), "/d", "/c", *command]
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(OSError):
            child.send_signal(signum)

    for name in ("SIGINT", "SIGBREAK", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, forward)
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:
            continue
