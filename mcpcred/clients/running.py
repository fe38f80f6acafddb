"""Is a client running right now? Best effort, for a warning before a rewrite.

Claude Desktop and Claude Code (and Zed, Cursor, VS Code from their UIs)
rewrite their own config files; a client running during ``wrap`` may write its
in-memory copy back over the change, or read the file half-way. ``wrap``
refuses to write a file that changed under it, and warns up front when it sees
the client's process. Looking costs a few milliseconds and never fails a run.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROCESS_NAMES: dict[str, frozenset[str]] = {
    "claude-desktop": frozenset({"claude", "claude-desktop", "claude.exe"}),
    "claude-code": frozenset({"claude", "claude.exe"}),
    "cursor": frozenset({"cursor", "cursor.exe"}),
    "vscode": frozenset({"code", "code.exe", "code-insiders", "code - insiders.exe"}),
    "windsurf": frozenset({"windsurf", "windsurf.exe"}),
    "zed": frozenset({"zed", "zed-editor", "zed.exe"}),
    "codex": frozenset({"codex", "codex.exe"}),
    "gemini-cli": frozenset({"gemini"}),
    "opencode": frozenset({"opencode", "opencode.exe"}),
    "copilot-cli": frozenset({"copilot", "copilot.exe"}),
    # the CLI, and the editors the extension runs in
    "cline": frozenset({"cline", "code", "code.exe", "cursor", "windsurf", "codium"}),
    "roo-code": frozenset({"code", "code.exe", "cursor", "windsurf", "codium"}),
    "kiro": frozenset({"kiro", "kiro.exe", "kiro-cli"}),
    "amp": frozenset({"amp", "amp.exe"}),
    "crush": frozenset({"crush", "crush.exe"}),
    "lm-studio": frozenset({"lm studio", "lm-studio", "lm studio.exe"}),
}


def running(client: str) -> bool:
    """Whether a process of ``client`` seems to run (False when unsure)."""
    wanted = PROCESS_NAMES.get(client)
    if not wanted:
        return False
    try:
        return bool(wanted & _process_names())
    except (OSError, subprocess.SubprocessError):
        return False


def _process_names(platform: str = sys.platform) -> set[str]:
    if platform.startswith("linux"):
        return _linux()
    if platform == "win32":
        out = subprocess.run(
            ["tasklist", "/fo", "csv", "/nh"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        ).stdout
        return {line.split('","')[0].strip('"').lower() for line in out.splitlines() if line}
    out = subprocess.run(
        ["ps", "-axo", "comm="], capture_output=True, text=True, timeout=5, check=False
    ).stdout
    return {os.path.basename(line.strip()).lower() for line in out.splitlines() if line.strip()}


def _linux() -> set[str]:
    names: set[str] = set()
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = handle.read(4096).split(b"\0")
        except OSError:
            continue
        # node-based CLIs show up as `node .../bin/gemini`: look at the first two words
        for word in argv[:2]:
            if word:
                names.add(os.path.basename(word.decode("utf-8", "replace")).lower())
    return names
