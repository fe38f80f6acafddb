"""Finding MCP config files: on the machine, under a directory, or named by the user.

Nothing here parses a whole file or runs anything. Directory walks are bounded
and skip dependency, VCS and cache folders, and look into application-data
folders (``Library``, ``AppData``) only along the paths where clients keep
their configs, so ``audit-config`` from a large checkout or from HOME stays
fast; every folder a walk skips is reported with the reason, never silently.
A file named explicitly is attributed to a client from its name, its folder
and, failing that, the keys it holds.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from mcpcred.clients import ADAPTERS, BY_ID, GENERIC, ClientAdapter
from mcpcred.clients.base import path_parts
from mcpcred.host import Host
from mcpcred.models import ConfigLocation

# Folders not entered, and why: dependencies, VCS data, caches, virtualenvs. A walk
# reports every one it skips (``Skipped``), so nothing is left out silently.
SKIP_DIRS: dict[str, str] = {
    **dict.fromkeys(("node_modules", "site-packages", "bower_components"), "dependencies"),
    **dict.fromkeys((".venv", "venv", ".tox", ".nox"), "virtual environment"),
    **dict.fromkeys((".git", ".hg", ".svn"), "version control data"),
    **dict.fromkeys(
        (
            "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache", ".cache", ".npm",
            ".cargo", ".rustup", ".Trash", ".nvm", ".pyenv", ".gradle", ".m2",
        ),
        "cache or toolchain data",
    ),
}  # fmt: skip
# Application-data folders: too large to walk, so only the paths where clients keep
# their configs (``Library/Application Support/Claude/...``) are looked at inside them.
GUIDED_DIRS = frozenset({"Library", "AppData"})
# File names worth opening; the ones marked by SHAPE_CHECK only when they mention MCP.
CANDIDATE_NAMES = frozenset(
    {
        ".mcp.json", "mcp.json", "claude_desktop_config.json", "mcp_config.json", ".claude.json",
        "managed-mcp.json", "cline_mcp_settings.json", "mcp_settings.json", "config.toml",
        "settings.json", "devcontainer.json", "opencode.json", "opencode.jsonc", "crush.json",
        ".crush.json", "mcp-config.json", "config.yaml", "crushrc", ".crushrc",
    }
)  # fmt: skip
SHAPE_CHECK = {
    "config.toml": ("mcp_servers",),
    "settings.json": ('"mcpServers"', '"context_servers"', '"mcp"', '"amp.mcpServers"'),
    "opencode.json": ('"mcp"',),
    "opencode.jsonc": ('"mcp"',),
    "crush.json": ('"mcp"',),
    ".crush.json": ('"mcp"',),
    # Goose's and Continue's: a name many other tools use too
    "config.yaml": ("extensions", "mcpServers"),
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
    """Existing files for a location whose path may hold one ``*``: a whole segment
    (``profiles/*/mcp.json``) or part of one (``agents/*.json``)."""
    path = location.path
    if "*" not in path:
        if os.path.isfile(path):
            yield location
        return
    head, _, tail = path.partition("*")
    cut = max(head.rfind("/"), head.rfind("\\"))
    if cut < 0:
        return
    parent, separator, prefix = head[:cut], head[cut], head[cut + 1 :]
    after = re.search(r"[/\\]", tail)
    suffix, rest = (tail[: after.start()], tail[after.start() :]) if after else (tail, "")
    try:
        names = sorted(os.listdir(parent))
    except OSError:
        return
    for name in names:
        if not fnmatch.fnmatchcase(name, prefix + "*" + suffix):
            continue
        concrete = parent + separator + name + rest
        if os.path.isfile(concrete):
            yield ConfigLocation(location.client, concrete, location.scope, location.format)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A folder a walk did not enter (or only looked into), and why."""

    path: str
    reason: str


def _user_suffixes() -> tuple[tuple[str, ...], ...]:
    """Every client's user config path relative to HOME, on every OS.

    A dotfiles repository keeps these under its own root, so a walk recognises
    them wherever they live (``*/Library/Application Support/Claude/...``).
    """
    from mcpcred.host import Host

    out: set[tuple[str, ...]] = set()
    for kind, home in (("macos", "/H"), ("linux", "/H"), ("windows", "C:\\H")):
        host = Host(kind, {}, home, home)
        base = host.path(home)
        for adapter in ADAPTERS:
            for location in adapter.user_locations(host):
                path = host.path(location.path)
                if path.is_relative_to(base):
                    out.add(path.relative_to(base).parts)
    # VS Code-based editors keep Cline's and Roo Code's servers in extension storage.
    for root in (("Library", "Application Support"), ("AppData", "Roaming")):
        for editor in ("Code", "Code - Insiders", "Cursor", "Windsurf"):
            for name in ("cline_mcp_settings.json", "mcp_settings.json"):
                out.add((*root, editor, "User", "globalStorage", "*", "settings", name))
    return tuple(sorted(out))


_SUFFIXES: list[tuple[tuple[str, ...], ...]] = []


def _guided(directory: str, name: str) -> Iterator[str]:
    """Known client config files inside an application-data folder."""
    if not _SUFFIXES:
        _SUFFIXES.append(_user_suffixes())
    parent = os.path.dirname(directory)
    for parts in _SUFFIXES[0]:
        if parts[0] != name:
            continue
        location = ConfigLocation("", os.path.join(parent, *parts), "user", "")
        for found in expand(location):
            yield found.path


def walk(root: str, skipped: list[Skipped] | None = None) -> Iterator[str]:
    """Candidate config files below a directory, in sorted order of their paths.

    Each folder's entries are visited in the order their full paths sort: a
    folder ``a`` as ``a/`` (so ``a.json`` comes before ``a/x.json``, as in a sort
    of the whole paths). A scan can then stream the walk into its workers and
    still report in sorted order, without holding every path first.

    Every folder not entered is appended to ``skipped`` with the reason.
    """
    note = skipped.append if skipped is not None else (lambda _: None)
    stack = [(root, 0, iter(_listing(root, 0, note)))]
    while stack:
        directory, depth, names = stack[-1]
        name = next(names, None)
        if name is None:
            stack.pop()
        elif not name.endswith(os.sep):
            yield os.path.join(directory, name)
        elif name[:-1] in GUIDED_DIRS:
            yield from sorted(_guided(os.path.join(directory, name[:-1]), name[:-1]))
        else:
            folder = os.path.join(directory, name[:-1])
            stack.append((folder, depth + 1, iter(_listing(folder, depth + 1, note))))


def _listing(directory: str, depth: int, note: Callable[[Skipped], object]) -> list[str]:
    """The names worth visiting in one folder, folders as ``name/``, sorted.

    Only names are kept (a folder of 25,000 projects is held while its subtrees
    are walked), and only the files a scan reads.
    """
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError as exc:
        note(Skipped(directory, f"cannot be read ({exc.strerror or 'error'})"))
        return []
    out: list[str] = []
    for entry in entries:
        name = entry.name
        try:
            if entry.is_dir(follow_symlinks=False):
                if name in SKIP_DIRS:
                    note(Skipped(entry.path, SKIP_DIRS[name]))
                elif name in GUIDED_DIRS:
                    out.append(name + os.sep)
                    note(
                        Skipped(
                            entry.path,
                            "application data; only client config paths inside it were read",
                        )
                    )
                elif depth >= MAX_DEPTH:
                    note(Skipped(entry.path, f"deeper than {MAX_DEPTH} folders"))
                else:
                    out.append(name + os.sep)
            elif entry.is_symlink() and entry.is_dir():
                note(Skipped(entry.path, "symbolic link to a folder; not followed"))
            elif (
                source_name(name) in CANDIDATE_NAMES or _continue_block(entry.path)
            ) and entry.is_file():
                out.append(name)
        except OSError:
            continue
    del entries  # the DirEntry objects: a few hundred bytes each, for every entry
    out.sort()
    return out


def _continue_block(path: str) -> bool:
    """A Continue workspace block: ``.continue/mcpServers/*.yaml`` (or ``.yml``, ``.json``)."""
    return _parent_names(path)[:2] == ("mcpServers", ".continue") and path.endswith(
        (".yaml", ".yml", ".json")
    )


def worth_reading(path: str, head: str) -> bool:
    """Whether a generically named file (settings.json, config.toml...) concerns MCP."""
    markers = SHAPE_CHECK.get(source_name(os.path.basename(path)))
    if markers is None:
        return True
    if source_name(os.path.basename(path)) == "mcp.json" and _parent_names(path)[:1] in (
        (".cursor",),
        (".vscode",),
    ):
        return True
    return any(marker in head for marker in markers)


def _parent_names(path: str) -> tuple[str, ...]:
    """The names of the folders above ``path``, nearest first (as dotfiles sources name them).

    ``path_parts`` is ``PurePath(path).parts`` without building the PurePath, which was
    most of inferring a file's client."""
    parts = path_parts(path)[:-1]
    return tuple(source_name(part) for part in reversed(parts))


_CHEZMOI_ATTRIBUTES = (
    "private_", "readonly_", "exact_", "empty_", "executable_", "encrypted_", "create_",
    "modify_", "symlink_", "remove_",
)  # fmt: skip


# mcpcred's own backups: ``<data>/backups/<client>/20261204T145306Z-mcp.json`` (and
# ``...Z-2-mcp.json`` within the same second). A walk over the data folder must read them:
# no backup may hold a secret, and audit-config is how a user checks that.
_BACKUP_PREFIX = re.compile(r"\d{8}T\d{6}Z-(?:\d+-)?(?=.)")


def source_name(name: str) -> str:
    """The name a dotfiles manager's source file stands for (chezmoi: ``private_dot_cursor``
    is ``.cursor``, ``dot_mcp.json`` is ``.mcp.json``), or a backup mcpcred wrote
    (``20261204T145306Z-mcp.json`` is ``mcp.json``); other names are unchanged.

    Templates (``*.tmpl``) are left alone: they are not JSON until rendered.
    """
    if "_" not in name and not name[:1].isdigit():
        return name  # no prefix to strip (every one ends with "_", a backup starts with a digit)
    original = name
    backup = _BACKUP_PREFIX.match(name)
    if backup is not None:
        name = name[backup.end() :]
    changed = True
    while changed:
        changed = False
        for attribute in _CHEZMOI_ATTRIBUTES:
            if name.startswith(attribute):
                name, changed = name[len(attribute) :], True
    if name.startswith("dot_"):
        name = "." + name[4:]
    return name if name else original


def infer(path: str, host: Host, keys: frozenset[str] = frozenset()) -> Candidate:
    """Attribute a file to a client from its name, folders and top-level keys."""
    absolute = os.path.abspath(path)
    known = _known_index(host).match(absolute)
    if known is not None:
        adapter, location = known
        return Candidate(adapter, ConfigLocation(adapter.id, path, location.scope, location.format))
    name = source_name(os.path.basename(path))
    parents = _parent_names(absolute)
    parent = parents[0] if parents else ""
    grandparent = parents[1] if len(parents) > 1 else ""
    client = _by_name(name, parent, grandparent, parents, keys)
    adapter = BY_ID[client]
    fmt = (
        "shell"
        if name in {"crushrc", ".crushrc"}
        else "toml"
        if name.endswith(".toml")
        else "yaml"
        if name.endswith((".yaml", ".yml"))
        else (
            "json" if client in {"claude-desktop", "cursor", "windsurf", "claude-code"} else "jsonc"
        )
    )
    # Not one of this machine's user or system files: treat it as a project file.
    return Candidate(adapter, ConfigLocation(adapter.id, path, "project", fmt))


class _KnownIndex:
    """Every adapter's user/system locations for one host, indexed for ``infer``.

    A scan infers the client of every file it reads; comparing each against all
    ~50 locations (an ``abspath`` and a ``normcase`` per location per file) was a
    tenth of a worker's time on 5,000 files. Exact paths are one dict lookup; the
    few glob locations are still matched in turn, and the first location in
    adapter order wins, as before.
    """

    def __init__(self, host: Host) -> None:
        self.known = [(a, loc) for a in ADAPTERS for loc in a.user_locations(host)]
        self.exact: dict[str, int] = {}
        self.globs: list[tuple[int, Callable[[str], re.Match[str] | None]]] = []
        for index, (_, location) in enumerate(self.known):
            if "*" in location.path:
                glob = fnmatch.translate(os.path.normcase(location.path))
                self.globs.append((index, re.compile(glob).match))
            else:
                key = os.path.normcase(os.path.abspath(location.path))
                self.exact.setdefault(key, index)

    def match(self, absolute: str) -> tuple[ClientAdapter, ConfigLocation] | None:
        """The first known location that names ``absolute`` (an absolute path)."""
        name = os.path.normcase(absolute)
        best = self.exact.get(name, len(self.known))
        for index, pattern in self.globs:
            if index >= best:
                break
            if pattern(name) is not None:  # fnmatch.fnmatch(absolute, glob), compiled once
                best = index
                break
        return self.known[best] if best < len(self.known) else None


_KNOWN: list[tuple[Host, str, _KnownIndex]] = []


def _known_index(host: Host) -> _KnownIndex:
    """The index for ``host``, built once per host and working folder.

    Keyed by the host object itself (held here, so its identity cannot be reused)
    and the process's folder (relative locations resolve against it).
    """
    cwd = os.getcwd()
    if _KNOWN and _KNOWN[0][0] is host and _KNOWN[0][1] == cwd:
        return _KNOWN[0][2]
    index = _KnownIndex(host)
    _KNOWN[:] = [(host, cwd, index)]
    return index


def _by_name(
    name: str, parent: str, grandparent: str, parents: tuple[str, ...], keys: frozenset[str]
) -> str:
    if name == "claude_desktop_config.json":
        return "claude-desktop"
    if name in {".claude.json", ".mcp.json", "managed-mcp.json"}:
        return "claude-code"
    if name == "mcp_config.json":
        return "windsurf"
    if name in {"opencode.json", "opencode.jsonc"}:
        return "opencode"
    if name in {"crush.json", ".crush.json", "crushrc", ".crushrc"}:
        return "crush"
    if name == "mcp-config.json" or (parent == ".github" and name == "mcp.json"):
        return "copilot-cli"
    if name == "cline_mcp_settings.json":
        return "cline"
    if name == "mcp_settings.json" or (parent == ".roo" and name == "mcp.json"):
        return "roo-code"
    if ".kiro" in parents[1:3]:
        return "kiro"
    if "amazonq" in parents[:3] or ".amazonq" in parents[:3]:
        return "amazon-q"
    if parent in {".lmstudio", "lm-studio"} and name == "mcp.json":
        return "lm-studio"
    if parents[:2] == ("mcp", ".junie"):
        return "jetbrains"
    if parent == ".amp" or "amp.mcpServers" in keys:
        return "amp"
    if name.endswith(".toml"):
        return "codex"
    if ".continue" in parents[:2]:
        return "continue"
    if name.endswith((".yaml", ".yml")):  # the two YAML clients
        return "goose" if parent == "goose" or "extensions" in keys else "continue"
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
