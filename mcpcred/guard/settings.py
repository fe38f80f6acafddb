"""Which servers are guarded, and with which policy: ``[servers.NAME]`` tables.

Two files may hold them: mcpcred's own config file (the user's) and a
``mcpcred.toml`` committed to the project the client runs in (the team's).
A table turns guard mode on for the server of that name (``guard = false``
turns it off again in the user's file). When both files name a server, the
stricter wins everywhere: a tool must pass both policies, ``block`` beats
``warn``. So a repository can only tighten what the user allows, never
loosen it: cloning a repo cannot switch off the user's deny list.

This runs on every server start, so it is careful about cost: the files are
read as bytes and only handed to ``tomllib`` (about 10 ms) when they mention
``servers`` or hold a backslash (a quoted key may spell it with escapes,
``"\u0073ervers"``, and must mean what TOML says); the user's config path is
computed without platformdirs where the platform's rule is simple.

Only the table of the server being started is checked: a mistake in another
server's table is that server's problem, not a reason to stop every server. A
mistake in this server's table stops this server (``ConfigError``, named in the
client's log): its restrictions are never dropped silently. A file that is not
valid TOML, or whose ``servers`` is not a table, stops every guarded and
unguarded server alike, since nobody can tell what it meant to restrict.

    [servers.github]
    preset = "github-read-only"     # or allow = ["get_*"], deny = ["*delete*"]
    on_change = "block"             # tool definitions that change are withheld
    restart_on_expiry = true        # restart with a fresh OAuth token, replay initialize
    mask_injected = false           # pass injected values on to the client (default: masked)
    clients = ["claude-code"]       # only where that client starts it (default: every client)

Server names are each client's own, so ``github`` in Claude Code and
``github`` in Cursor may be different servers: ``clients`` scopes a table to
the clients named (the shim knows its client from ``--client``). A table
without it applies in every client, as tables written before it existed do.
"""

from __future__ import annotations

import os
import sys

from mcpcred import tomlfile
from mcpcred.errors import ConfigError
from mcpcred.paths import project_file

ON_CHANGE = ("warn", "block")
ON_LOG_FAILURE = ("refuse", "allow")

# Presets: tool-name globs for popular servers. ``read-only`` is a generic guess
# from verb prefixes; the named ones follow each server's documented tool names.
PRESETS: dict[str, tuple[str, ...]] = {
    "read-only": (
        "get_*", "get-*", "list_*", "list-*", "search_*", "search-*", "read_*", "read-*",
        "describe_*", "view_*", "fetch_*",
    ),
    "github-read-only": ("get_*", "list_*", "search_*"),
    "filesystem-read-only": (
        "read_file", "read_text_file", "read_media_file", "read_multiple_files",
        "list_directory", "list_directory_with_sizes", "directory_tree", "search_files",
        "get_file_info", "list_allowed_directories",
    ),
}  # fmt: skip

_KEYS = frozenset(
    {
        "guard", "allow", "deny", "preset", "on_change", "restart_on_expiry", "pin",
        "log_arguments", "on_log_failure", "mask_injected", "clients",
    }
)  # fmt: skip


def folded(name: str) -> str:
    """``name`` as a lenient server might look it up: case folded, NFKC, invisibles removed.

    Deny globs are matched against this form as well as the name itself: a
    server that looks tools up without regard to case, or after Unicode
    normalisation, would otherwise run ``DELETE_REPO``, a fullwidth ``delete_repo`` or
    ``delete_repo`` with a zero-width space for a client the deny list refused
    ``delete_repo``. Allow globs match the exact name only (stricter).
    """
    if name.isascii():
        return name.lower()
    import unicodedata

    kept = "".join(c for c in name if unicodedata.category(c) not in ("Cf", "Cc", "Zl", "Zp"))
    return unicodedata.normalize("NFKC", kept).casefold()


JUDGED = 1024  # tool names a policy remembers its answer for


class Policy:
    """One file's ``allow``/``deny`` globs for one server; deny wins, default allow."""

    __slots__ = ("allow", "deny", "deny_folded", "judged", "source")

    def __init__(self, allow: tuple[str, ...], deny: tuple[str, ...], source: str) -> None:
        self.allow = allow  # empty: everything not denied
        self.deny = deny
        self.deny_folded = tuple(folded(pattern) for pattern in deny)
        self.source = source  # "<file> [servers.NAME]", named in refusals
        # Tool names judged already, with the answer (the globs never change): every
        # tools/call is judged before it may be forwarded, and a session calls the same
        # few tools over and over. Bounded: tool names come from the client.
        self.judged: dict[str, str | None] = {}

    def refusal(self, tool: str) -> str | None:
        """Why ``tool`` is refused, or None if this policy allows it."""
        judged = self.judged
        if tool in judged:
            return judged[tool]
        reason = self._judge(tool)
        if len(judged) >= JUDGED:
            judged.clear()
        judged[tool] = reason
        return reason

    def _judge(self, tool: str) -> str | None:
        from fnmatch import fnmatchcase

        lenient = folded(tool) if self.deny else tool
        for pattern, lenient_pattern in zip(self.deny, self.deny_folded, strict=True):
            if fnmatchcase(tool, pattern) or fnmatchcase(lenient, lenient_pattern):
                return f"deny {pattern!r} in {self.source}"
        if self.allow and not any(fnmatchcase(tool, pattern) for pattern in self.allow):
            return f"not in the allow list of {self.source}"
        return None


class ServerGuard:
    """Everything the shim needs to guard one server, merged from both files."""

    __slots__ = (
        "log_arguments", "mask_injected", "on_change", "on_log_failure", "pin", "policies",
        "restart_on_expiry", "server",
    )  # fmt: skip

    def __init__(self, server: str) -> None:
        self.server = server
        self.policies: list[Policy] = []
        self.on_change = "warn"
        self.restart_on_expiry = False
        self.pin = True
        self.log_arguments = True
        # "refuse": a request whose record cannot be written is not forwarded (the audit
        # log is the truth); "allow" relays it anyway, with a warning (user's file only).
        self.on_log_failure = "refuse"
        self.mask_injected = True  # injected values are replaced in what reaches the client

    def refusal(self, tool: str) -> str | None:
        """Why a call to ``tool`` is refused by any policy, or None."""
        for policy in self.policies:
            reason = policy.refusal(tool)
            if reason is not None:
                return reason
        return None


def user_config_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """mcpcred's config file, as ``paths.config_file`` finds it, without platformdirs."""
    override = environ.get("MCPCRED_CONFIG")
    if override:
        return override
    home = os.path.expanduser("~")
    if sys.platform == "darwin":
        return os.path.join(home, "Library", "Application Support", "mcpcred", "config.toml")
    if sys.platform == "win32":  # pragma: no cover - the known-folder API is platformdirs' job
        from mcpcred.paths import config_file

        return str(config_file())
    base = environ.get("XDG_CONFIG_HOME", "").strip()
    if not base or not os.path.isabs(base):
        base = os.path.join(home, ".config")
    return os.path.join(base, "mcpcred", "config.toml")


def load(
    server: str | None,
    environ: dict[str, str] | os._Environ[str],
    cwd: str | None = None,
    client: str | None = None,
) -> ServerGuard | None:
    """The guard settings for ``server`` of ``client``, or None when it is not guarded.

    A table with ``clients`` applies only to the clients it names; without a
    client (an entry wrapped without ``--client``) only tables for every client do.
    """
    if not server:
        return None
    user_path = user_config_path(environ)
    user = _servers(user_path)
    try:
        project_path = project_file(cwd or os.getcwd())
    except OSError:
        project_path = None
    project = _servers(project_path) if project_path else None
    user_table = _for_client(_table(user, user_path, server, project=False), client)
    project_table = _for_client(_table(project, project_path, server, project=True), client)
    if user_table is None and project_table is None:
        return None
    if user_table is not None and user_table.get("guard") is False and project_table is None:
        return None
    guard = ServerGuard(server)
    if user_table is not None:
        _apply(guard, user_table, f"{user_config_path(environ)} [servers.{server}]", project=False)
    if project_table is not None:
        _apply(guard, project_table, f"{project_path} [servers.{server}]", project=True)
    return guard


def _for_client(table: dict[str, object] | None, client: str | None) -> dict[str, object] | None:
    """``table`` if it applies to ``client`` (no ``clients`` key: it applies to every client)."""
    if table is None or "clients" not in table:
        return table
    clients = table["clients"]
    return table if isinstance(clients, list) and client in clients else None


def _table(
    servers: dict[str, object] | None, path: str | None, server: str, *, project: bool
) -> dict[str, object] | None:
    """``server``'s table from one file's ``servers``, checked; None when it has none."""
    if servers is None or path is None or server not in servers:
        return None
    return check_table(path, server, servers[server], project=project)


def _servers(path: str | None) -> dict[str, object] | None:
    """The ``servers`` table of ``path``, unchecked; None if it has none."""
    if path is None:
        return None
    data = tomlfile.read_bytes(path, missing_ok=True)
    if data is None or (b"servers" not in data and b"\\" not in data):
        return None
    parsed = tomlfile.loads(path, data)
    servers = parsed.get("servers")
    if servers is None:
        return None
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: servers must be a table: [servers.NAME]")
    return servers


def check_table(path: str, name: str, table: object, *, project: bool) -> dict[str, object]:
    """One ``[servers.NAME]`` table, checked, with keys normalised to underscores."""
    where = f"{path}: [servers.{name}]"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    normal = {key.replace("-", "_"): value for key, value in table.items()}
    tomlfile.check_keys(normal, _KEYS, where)
    for key in ("guard", "restart_on_expiry", "pin", "log_arguments", "mask_injected"):
        if key in normal and not isinstance(normal[key], bool):
            raise ConfigError(f"{where}: {key} must be true or false")
    for key in ("allow", "deny"):
        value = normal.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ConfigError(f"{where}: {key} must be a list of tool-name globs")
    clients = normal.get("clients", [])
    if not isinstance(clients, list) or not all(isinstance(c, str) and c for c in clients):
        raise ConfigError(
            f'{where}: clients must be a list of client ids, e.g. clients = ["claude-code"]',
            hint="see `mcpcred clients` for the ids; leave clients out for every client",
        )
    preset = normal.get("preset")
    presets = [preset] if isinstance(preset, str) else preset
    if preset is not None and (
        not isinstance(presets, list) or not all(isinstance(p, str) for p in presets)
    ):
        raise ConfigError(f"{where}: preset must be a preset name or a list of them")
    for item in presets or []:
        if item not in PRESETS:
            raise ConfigError(
                f"{where}: unknown preset {item!r}", hint=f"presets: {', '.join(sorted(PRESETS))}"
            )
    if "on_change" in normal and normal["on_change"] not in ON_CHANGE:
        raise ConfigError(f'{where}: on_change must be "warn" or "block"')
    if "on_log_failure" in normal and normal["on_log_failure"] not in ON_LOG_FAILURE:
        raise ConfigError(f'{where}: on_log_failure must be "refuse" or "allow"')
    if project and normal.get("on_log_failure") == "allow":
        raise ConfigError(
            f'{where}: on_log_failure = "allow" is not allowed in a project file',
            hint="a project file can only tighten a server's guard; a call that runs "
            "without its audit record is a loosening only your own config file can choose",
        )
    if project and normal.get("guard") is False:
        raise ConfigError(
            f"{where}: guard = false is not allowed in a project file",
            hint="a project file can only tighten a server's guard; turn it off in your own "
            "config file instead",
        )
    normal["preset"] = presets or []
    return normal


def _apply(guard: ServerGuard, table: dict[str, object], source: str, *, project: bool) -> None:
    """Merge one file's table; from a project file, only what tightens."""
    allow: list[str] = list(table.get("allow", []))  # type: ignore[call-overload]
    for preset in table.get("preset", []):  # type: ignore[attr-defined]
        allow.extend(PRESETS[preset])
    deny: tuple[str, ...] = tuple(table.get("deny", []))  # type: ignore[arg-type]
    if allow or deny:
        guard.policies.append(Policy(tuple(allow), deny, source))
    if table.get("on_change") == "block":
        guard.on_change = "block"
    if table.get("restart_on_expiry") is True:
        guard.restart_on_expiry = True
    if not project and table.get("pin") is False:
        guard.pin = False
    if not project and table.get("log_arguments") is False:
        guard.log_arguments = False
    if table.get("on_log_failure") == "refuse":  # a project's refuse beats the user's allow
        guard.on_log_failure = "refuse"
    elif not project and table.get("on_log_failure") == "allow":
        guard.on_log_failure = "allow"
    if not project and table.get("mask_injected") is False:
        guard.mask_injected = False  # a repository must not hand the user's secrets to the model
    if project and table.get("mask_injected") is True:
        guard.mask_injected = True  # ...but may ask for them to be masked
