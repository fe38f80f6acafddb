"""Finding MCP config files: on the machine, under a directory, or named by the user.

Nothing here parses a whole file or runs anything. Directory walks are bounded
and skip dependency and VCS folders, and enter hidden folders only when a
client keeps its config there, so ``audit-config`` from a large checkout or
from HOME stays fast. A file named explicitly is attributed to a client from
its name, its folder and, failing that, the keys it holds.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath

from mcpcred.clients import ADAPTERS, BY_ID, GENERIC, ClientAdapter
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

# Folders never worth entering: dependencies, VCS data, caches, virtualenvs.
SKIP_DIRS = frozenset(
    {
        "node_modules", ".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".tox", ".nox",
        ".mypy_cache", ".ruff_cache", ".pytest_cache", ".cache", ".npm", ".cargo", ".rustup",
        "site-packages", "Library", "AppData", ".Trash",
    }
)  # fmt: skip
# Hidden folders that hold client configs, so a walk enters them.
CONFIG_DIRS = frozenset(
    {
        ".cursor", ".vscode", ".codex", ".gemini", ".zed", ".windsurf", ".devcontainer",
        ".roo", ".junie", ".kiro", ".amazonq", ".continue", ".claude", ".codeium", ".config",
    }
)  # fmt: skip
# File names worth opening; the ones marked by SHAPE_CHECK only when they mention MCP.
CANDIDATE_NAMES = frozenset(
    {
        ".mcp.json", "mcp.json", "claude_desktop_config.json", "mcp_config.json", ".claude.json",
        "managed-mcp.json", "cline_mcp_settings.json", "mcp_settings.json", "config.toml",
        "settings.json", "devcontainer.json",
    }
)  # fmt: skip
SHAPE_CHECK = {
    "config.toml": ("mcp_servers",),
    "settings.json": ('"mcpServers"', '"context_servers"', '"mcp"'),
    "devcontainer.json": ('"mcp"',),
    "mcp.json": ('"mcpServers"', '"servers"'),
}
MAX_DEPTH = 12
_VSCODE_PRODUCTS = frozenset({"Code", "Code - Insiders"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """A config file to read, and the adapter that understands it."""

    adapter: ClientAdapter
    location: ConfigLocation


def machine_candidates(host: Host) -> list[Candidate]:
    """User- and system-scope files of every client that exist on this host."""
    out: list[Candidate] = []
    for adapter in ADAPTERS:
        for location in adapter.user_locations(host):
            out.extend(Candidate(adapter, loc) for loc in expand(location))
    return out


def expand(location: ConfigLocation) -> Iterator[ConfigLocation]:
    """Existing files for a location whose path may hold one ``*`` segment."""
    path = location.path
    if "*" not in path:
        if os.path.isfile(path):
            yield location
        return
    head, _, tail = path.partition("*")
    parent = head.rstrip("/\\")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return
    for name in names:
        concrete = parent + head[len(parent) :] + name + tail
        if os.path.isfile(concrete):
            yield ConfigLocation(location.client, concrete, location.scope, location.format)


def walk(root: str) -> Iterator[str]:
    """Candidate config files below a directory, in a stable order."""
    stack: list[tuple[str, int]] = [(root, 0)]
    while stack:
        directory, depth = stack.pop()
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[str] = []
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir(follow_symlinks=False):
                    if (
                        depth < MAX_DEPTH
                        and name not in SKIP_DIRS
                        and (not name.startswith(".") or name in CONFIG_DIRS)
                    ):
                        subdirs.append(entry.path)
                elif name in CANDIDATE_NAMES and entry.is_file(follow_symlinks=False):
                    yield entry.path
            except OSError:
                continue
        stack.extend((d, depth + 1) for d in reversed(subdirs))


def worth_reading(path: str, head: str) -> bool:
    """Whether a generically named file (settings.json, config.toml...) concerns MCP."""
    markers = SHAPE_CHECK.get(os.path.basename(path))
    if markers is None:
        return True
    if os.path.basename(path) == "mcp.json" and _parent_names(path)[:1] in (
        (".cursor",),
        (".vscode",),
    ):
        return True
    return any(marker in head for marker in markers)


def _parent_names(path: str) -> tuple[str, ...]:
    parts = PurePath(path).parts[:-1]
    return tuple(reversed(parts))


def infer(path: str, host: Host, keys: frozenset[str] = frozenset()) -> Candidate:
    """Attribute a file to a client from its name, folders and top-level keys."""
    absolute = os.path.abspath(path)
    for adapter, location in _known_locations(host):
        if _same_path(location.path, absolute):
            return Candidate(
                adapter, ConfigLocation(adapter.id, path, location.scope, location.format)
            )
    name = os.path.basename(path)
    parents = _parent_names(absolute)
    parent = parents[0] if parents else ""
    grandparent = parents[1] if len(parents) > 1 else ""
    client = _by_name(name, parent, grandparent, parents, keys)
    adapter = BY_ID[client]
    fmt = (
        "toml"
        if name.endswith(".toml")
        else (
            "json" if client in {"claude-desktop", "cursor", "windsurf", "claude-code"} else "jsonc"
        )
    )
    # Not one of this machine's user or system files: treat it as a project file.
    return Candidate(adapter, ConfigLocation(adapter.id, path, "project", fmt))


_KNOWN: list[tuple[Host, list[tuple[ClientAdapter, ConfigLocation]]]] = []


def _known_locations(host: Host) -> list[tuple[ClientAdapter, ConfigLocation]]:
    """Every adapter's user/system locations for ``host``, computed once per host.

    Keyed by the host object itself (held here, so its identity cannot be reused):
    one scan infers the client of thousands of files for the same host.
    """
    if _KNOWN and _KNOWN[0][0] is host:
        return _KNOWN[0][1]
    known = [(a, loc) for a in ADAPTERS for loc in a.user_locations(host)]
    _KNOWN[:] = [(host, known)]
    return known


def _by_name(
    name: str, parent: str, grandparent: str, parents: tuple[str, ...], keys: frozenset[str]
) -> str:
    if name == "claude_desktop_config.json":
        return "claude-desktop"
    if name in {".claude.json", ".mcp.json", "managed-mcp.json"}:
        return "claude-code"
    if name == "mcp_config.json":
        return "windsurf"
    if name.endswith(".toml"):
        return "codex"
    if parent == ".cursor" and name == "mcp.json":
        return "cursor"
    if parent == ".vscode" or name == "devcontainer.json":
        return "vscode"
    if parent == "User" and grandparent in _VSCODE_PRODUCTS:
        return "vscode"
    if len(parents) > 3 and parents[1] == "profiles" and parents[3] in _VSCODE_PRODUCTS:
        return "vscode"
    if parent in {".zed", "zed", "Zed"} and name == "settings.json":
        return "zed"
    if parent == ".gemini":
        return "gemini-cli"
    if "context_servers" in keys:
        return "zed"
    if "mcpServers" in keys:
        return "generic"
    if "servers" in keys and name == "mcp.json":
        return "vscode"
    if "mcp" in keys:
        return "vscode"
    return GENERIC.id


def _same_path(a: str, b: str) -> bool:
    if "*" in a:
        return fnmatch.fnmatch(b, a)
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(b)
