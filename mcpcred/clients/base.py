"""The one interface every MCP client adapter implements.

An adapter knows three things about its client, and nothing else: where its
config files live on each OS (user, project and system scope), which format
they are in, and where server entries sit inside them and under which key
names. Reading files, detecting secrets and rewriting are done elsewhere on the
format-neutral node tree, so adding a client means adding data, not logic.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING

from mcpcred.host import Host
from mcpcred.models import ConfigLocation, Pointer, ServerEntry
from mcpcred.parsing.nodes import ArrayNode, Document, KeyNode, Node, ObjectNode, ScalarNode

if TYPE_CHECKING:
    from mcpcred.audit.rules import Auditor
    from mcpcred.models import Finding

WILDCARD = "*"
SHIM_SUBCOMMAND = "shim"
_MCPCRED_NAMES = frozenset({"mcpcred", "mcpcred.exe", "mcpcred.cmd"})


@dataclass(frozen=True, slots=True)
class ProjectFile:
    """A config file relative to a project root, e.g. ``.cursor/mcp.json``."""

    parts: tuple[str, ...]
    format: str
    # Containers to read in this file when they differ from the adapter's default.
    containers: tuple[Pointer, ...] | None = None


class ClientAdapter:
    """Base for client adapters: override the data attributes, rarely the methods."""

    id: str = ""
    display_name: str = ""
    # Where servers sit: each pointer names an object whose members are servers.
    # A ``"*"`` segment matches every member of an object (Claude Code's projects).
    containers: tuple[Pointer, ...] = (("mcpServers",),)
    command_key = "command"
    args_key = "args"
    # The command key holds the whole argv (``["npx", "-y", "pkg"]``, opencode) instead of
    # a command string with a separate ``args`` array: wrap rewrites that one array.
    argv_command = False
    env_keys: tuple[str, ...] = ("env",)
    url_keys: tuple[str, ...] = ("url",)
    header_keys: tuple[str, ...] = ("headers",)
    remote_types: frozenset[str] = frozenset({"http", "sse", "streamable-http", "ws"})
    project_files: tuple[ProjectFile, ...] = ()
    # File names that identify this client when a path is given explicitly.
    file_names: tuple[str, ...] = ()
    # How clients expand variables in their files; informs docs and (later) wrap.
    expands: str = ""
    # How to reference a secret instead of inlining it, in this client's own syntax.
    reference_hint: str | None = None
    # Whether the client may rewrite this file itself (wrap warns about it).
    rewrites_own_file: bool = False
    # Scopes whose files the client parses as strict JSON: a comment or a trailing comma
    # there makes it skip the servers silently (audit-config says so).
    strict_json_scopes: frozenset[str] = frozenset()
    # What wrap tells about a changed project (workspace) entry, e.g. the client asks
    # to approve it again (Amp).
    project_note: str | None = None
    # Key of a remote server's "command that prints headers" hook, if the client has one.
    header_helper: str | None = None
    # A remote entry turned into a stdio entry running the bridge (``mcpcred shim --url``):
    # whether the client can run one at all, the ``type`` a stdio entry carries (None: no
    # ``type`` key), and the keys that only mean something to a remote entry (dropped).
    bridge: bool = True
    stdio_type: str | None = None
    remote_only_keys: tuple[str, ...] = ("type", "url", "headers")
    # Keys the bridge cannot carry over (they name the client's own environment, helper
    # command or sign-in): an entry holding one is left for the user to decide.
    bridge_blockers: tuple[str, ...] = ()
    # A pre-registered OAuth app the client signs in with itself, when its secret sits in
    # the entry: (block key, client id key, client secret key). ``wrap`` moves the secret to
    # the keychain and hands the app to ``mcpcred login`` (a pending client for the URL).
    oauth_client: tuple[str, str, str] | None = None
    # Other keys such a block may hold that the bridge can do without (``enabled``).
    oauth_client_extra: tuple[str, ...] = ()
    # The block's key for the scopes the client asks for instead of the server's own, and
    # their form ("list" of strings, or one space-separated "string"): ``mcpcred login``
    # asks for the same.
    oauth_client_scopes: tuple[str, str] | None = None
    # audit-config's fix for such a block wrap must leave (its settings need the client's own
    # sign-in), where the client has a better place for the secret than a variable.
    oauth_client_fix: str | None = None
    # Where the client has the browser sent back after sign-in, which the app is registered
    # with: (the block's key, and "uri" for a whole redirect URI or "port" for the port of
    # http://localhost:PORT/callback), and the redirect the client uses without that key
    # (None: one on any port). ``mcpcred login`` is then redirected to the same place.
    oauth_client_redirect: tuple[str, str] | None = None
    oauth_client_default_redirect: str | None = None

    def user_locations(self, host: Host) -> list[ConfigLocation]:
        """User- and system-scope files this client reads on ``host``, most specific first."""
        raise NotImplementedError

    def setting_findings(
        self, document: Document, auditor: Auditor, display_path: str
    ) -> list[Finding]:
        """Credentials in the client's own settings, outside its servers (Crush's crushrc
        ``export``s and provider keys): reported by audit-config, never moved by wrap."""
        return []

    def wrap_blocker(self, entry: ServerEntry) -> str | None:
        """Why wrap must leave this entry as it is, in words for the user (None: it need not).

        Crush's crushrc is a script: an ``mcp add`` whose command is built by the
        shell cannot be moved behind the shim without changing what it runs."""
        return None

    @property
    def env_key(self) -> str:
        """The key of the object wrap adds variables to (``env``; opencode ``environment``)."""
        return self.env_keys[0]

    def stdio_holder(self, node: ObjectNode) -> ObjectNode:
        """The object holding a stdio entry's command, args and env (Cline nests them in
        ``transport``): where wrap writes the shim and adds variables."""
        return node

    def blockers(self, node: ObjectNode) -> list[str]:
        """The ``bridge_blockers`` a remote entry sets (a client may ignore an off switch)."""
        return [k for k in self.bridge_blockers if k in node]

    def remote_transport(self, node: ObjectNode) -> str:
        """The transport a remote entry asks for: ``http``, ``sse`` or ``auto`` (the client
        decides), passed to the bridge as ``--transport`` so it speaks what the client did."""
        kind = node.get("type")
        value = kind.value if isinstance(kind, ScalarNode) else None
        if value == "sse":
            return "sse"
        if value in ("http", "streamable-http", "streamableHttp"):
            return "http"
        return "auto"

    def project_locations(self, root: PurePath) -> list[ConfigLocation]:
        """Project-scope files under ``root`` (they may not exist)."""
        return [
            ConfigLocation(self.id, str(root.joinpath(*f.parts)), "project", f.format)
            for f in self.project_files
        ]

    def containers_for(self, location: ConfigLocation) -> tuple[Pointer, ...]:
        """Containers to read in one file; project files may declare their own."""
        if location.scope == "project" and self.project_files:
            parts = path_parts(location.path)
            for project_file in self.project_files:
                if parts[-len(project_file.parts) :] == project_file.parts:
                    return project_file.containers or self.containers
        return self.containers

    def servers(self, document: Document, location: ConfigLocation) -> list[ServerEntry]:
        """Every server entry in a parsed file, in file order."""
        entries: list[ServerEntry] = []
        for container, pointer in find_containers(document.root, self.containers_for(location)):
            for key, value in container.members:
                if isinstance(value, ObjectNode):
                    entries.append(self.entry(document, location, key, value, (*pointer, key.name)))
        return entries

    def entry(
        self,
        document: Document,
        location: ConfigLocation,
        key: KeyNode,
        node: ObjectNode,
        pointer: Pointer,
    ) -> ServerEntry:
        """Normalise one server object into a ``ServerEntry``."""
        url = next((node.get(k) for k in self.url_keys if k in node), None)
        kind = node.get("type")
        remote = url is not None or (
            isinstance(kind, ScalarNode) and kind.value in self.remote_types
        )
        command = node.get(self.command_key)
        args = node.get(self.args_key)
        arg_nodes = list(args.items) if isinstance(args, ArrayNode) else []
        if self.argv_command and isinstance(command, ArrayNode):
            # one argv array: its first item is the command, the rest the args
            arg_nodes = list(command.items[1:])
            command = command.items[0] if command.items else None
        return ServerEntry(
            client=self.id,
            name=key.name,
            location=location,
            document=document,
            node=node,
            pointer=pointer,
            transport="remote" if remote and command is None else "stdio",
            command=command,
            args=arg_nodes,
            env=_members(node, self.env_keys),
            url=url,
            headers=_members(node, self.header_keys),
        )


def path_parts(path: str) -> tuple[str, ...]:
    """``PurePath(path).parts``, by splitting the string where paths are POSIX.

    ``containers_for`` asks it of every file a scan reads (twice: its servers and the
    blocks its client does not read); building the ``PurePath`` was a fiftieth of a
    worker's time. A differential test holds the two equal.
    """
    if os.name != "posix":
        return PurePath(path).parts
    parts = [part for part in path.split("/") if part and part != "."]
    if path.startswith("/"):
        # POSIX keeps exactly two leading slashes as the root; one or three and more are "/"
        root = "//" if path.startswith("//") and not path.startswith("///") else "/"
        return (root, *parts)
    return tuple(parts)


def _members(node: ObjectNode, keys: tuple[str, ...]) -> list[tuple[KeyNode, Node]]:
    out: list[tuple[KeyNode, Node]] = []
    for name in keys:
        value = node.get(name)
        if isinstance(value, ObjectNode):
            out.extend(value.members)
    return out


def find_containers(
    root: ObjectNode, pointers: tuple[Pointer, ...]
) -> list[tuple[ObjectNode, Pointer]]:
    """Resolve container pointers (with ``*`` wildcards) to the objects they name."""
    found: list[tuple[ObjectNode, Pointer]] = []
    for pointer in pointers:
        frontier: list[tuple[ObjectNode, Pointer]] = [(root, ())]
        for segment in pointer:
            following: list[tuple[ObjectNode, Pointer]] = []
            for node, path in frontier:
                if segment == WILDCARD:
                    following.extend(
                        (child, (*path, name))
                        for name, child in node.items()
                        if isinstance(child, ObjectNode)
                    )
                else:
                    child = node.get(str(segment))
                    if isinstance(child, ObjectNode):
                        following.append((child, (*path, segment)))
            frontier = following
        found.extend(frontier)
    return found


def is_wrapped(entry: ServerEntry) -> bool:
    """True when the entry already starts through ``mcpcred shim``."""
    command = entry.command_text()
    if command is None:
        return False
    args = entry.arg_texts()
    name = command.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in _MCPCRED_NAMES:
        return bool(args) and args[0] == SHIM_SUBCOMMAND
    # ``python -m mcpcred shim ...``
    return args[:3] == ["-m", "mcpcred", SHIM_SUBCOMMAND]
