"""What ``wrap`` will change in one server entry, decided before anything is touched.

Planning is pure: it reads a parsed entry and the credentials ``audit-config``
finds in it (the same ``Auditor.secret_hits`` walk), and produces format-neutral
``Change``s plus the ``Move``s of secret values into the keychain. Nothing is
written and nothing is stored here, so ``--dry-run`` and the real run show the
same plan, and a failure in any later step leaves every file as it was.

For a stdio server:

- each credential inside a string becomes a reference: the whole value
  ``mcpcred:secret/NAME``, or ``{{mcpcred:secret/NAME}}`` inside a longer
  string (a URL's password, ``--token=...``);
- ``docker run -e NAME=secret`` becomes ``-e NAME`` plus ``env.NAME`` holding
  the reference, so the value reaches the container through the environment and
  never appears on a command line;
- the command becomes ``<absolute mcpcred> shim [options] -- <command> <args>``;
- Codex additionally lets the shim see the session bus (``env_vars``) and gets
  a start-up timeout long enough for a keychain unlock.

Remote servers have no command to wrap. A credential in their headers only goes
to the client's header-helper hook where the client has one (Claude Code
``headersHelper``, Codex ``http_headers_helper``), which runs ``mcpcred
headers``: the entry stays remote. Everywhere else (a credential in the URL, or
a client without such a hook) the entry becomes a stdio entry in the client's
own shape that runs the bridge, ``mcpcred shim --url URL --header "N: v"``, with
references in place of the secrets (``mcpcred.wrap.bridge``); the entry as it
was, secrets replaced by references, goes into the record so that unwrap can
write it back exactly. Claude Desktop entries that run ``mcp-remote`` become
bridge entries the same way. An entry that signs in with a pre-registered OAuth
app whose client secret is in the file (Zed ``oauth``, Cursor ``auth``, Gemini
CLI ``oauth``; GitHub's server has no dynamic registration) becomes a bridge
entry sending mcpcred's login for the server: the secret moves like any other,
and the record names the app, which wrap leaves for ``mcpcred login URL``, with
what that login must do as the client did (the block's scopes, the redirect the
app is registered with). A block with a setting the login cannot honour stays,
with the reason (``_APP_KEYS_NOT_TAKEN``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from mcpcred import references
from mcpcred.audit.rules import WEAK_DEFAULT, Auditor, SecretValue
from mcpcred.audit.secrets import Hit, is_reference
from mcpcred.clients import BY_ID
from mcpcred.clients.base import SHIM_SUBCOMMAND, is_wrapped
from mcpcred.models import Pointer, ServerEntry
from mcpcred.parsing.nodes import ArrayNode, Node, ObjectNode, ScalarNode, pointer_index
from mcpcred.wrap import bridge

_CONTAINER_TOOLS = frozenset({"docker", "podman", "nerdctl"})
_DOCKER_ENV = re.compile(r"^(--env=)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
WEAK_DEFAULT_KIND = WEAK_DEFAULT.removeprefix("secret/")
_GENERIC_KINDS = frozenset(
    {
        "generic-secret", "password", "url-password", "url-query-secret", "url-path-secret",
        "jwt", WEAK_DEFAULT_KIND,
        # a header's or a JSON key's value ("password" in --config '{...}'): its name says more
        "authorization-header",
    }
)  # fmt: skip
CODEX_ENV_VARS = ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")
CODEX_MIN_STARTUP_SEC = 30
# Cline gives a stdio server 3 s to connect unless its entry has a ``timeout`` (seconds),
# and then drops it without a word (@cline/core ``DEFAULT_MCP_CONNECT_TIMEOUT_MS``); a
# ``timeout`` sets the connect window and the request timeout, whose default is 60 s.
CLINE_TIMEOUT_SEC = 60


@dataclass(slots=True)
class Change:
    """One edit: set a value, add a member to an object, or remove a member.

    For ``add`` the pointer names the new member (object pointer + key).
    """

    op: str  # "set" | "add" | "remove"
    pointer: Pointer
    value: object = None
    # For "set": the exact text to write when it reads back as ``value`` (unwrap gives a
    # whole entry back as it was written, comments and layout included).
    text: str | None = field(default=None, repr=False)


@dataclass(slots=True)
class Move:
    """A secret value leaving the file for the keychain under ``name``."""

    name: str
    value: str = field(repr=False)
    server: str
    where: str
    kind: str


@dataclass(slots=True)
class ServerPlan:
    """The verdict and the edits for one server entry."""

    name: str
    status: str  # "wrap" | "wrapped" | "remote" | "unwrappable" | "weak"
    scrub: list[Change] = field(default_factory=list)  # secrets -> references only
    changes: list[Change] = field(default_factory=list)  # everything wrap writes
    moves: list[Move] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    record: dict[str, object] = field(default_factory=dict)  # what unwrap needs to undo
    revealed: list[str] = field(default_factory=list, repr=False)  # values unwrap writes back
    # the entry was wrapped before this run: its record adds to the first wrap's record
    rewrap: bool = False


@dataclass(frozen=True, slots=True)
class ShimSettings:
    """What every wrapped entry tells the shim, computed once per run."""

    executable: str  # absolute path of the mcpcred executable
    backend: str | None = None  # recorded only when it is not the platform default
    dbus_address: str | None = None  # a fallback for clients that strip the environment
    linux: bool = False
    allow_insecure: bool = False  # the user opted in; clients may strip the variable

    def args(self, server: str, client: str) -> list[str]:
        out = [SHIM_SUBCOMMAND, "--server", server, "--client", client]
        if self.backend:
            out += ["--backend", self.backend]
        if self.dbus_address:
            out += ["--dbus-address", self.dbus_address]
        if self.allow_insecure:
            out += ["--allow-insecure-keyring"]
        return [*out, "--"]


Namer = Callable[[str, str, str, str | None], str]
"""(value, kind, server, variable name) -> keychain name for that value."""


class Planner:
    """Plans entries of one client; ``namer`` assigns (and de-duplicates) secret names.

    ``binds`` maps env variable names to references (``--bind VAR=oauth:github``):
    each chosen stdio server gets that variable set to the reference. A value
    the variable held before is a credential by the user's own word, so it
    moves to the keychain like any other (``unwrap`` can then put it back).
    """

    def __init__(
        self,
        auditor: Auditor,
        shim: ShimSettings,
        namer: Namer,
        binds: dict[str, str] | None = None,
        *,
        bridge_remote: bool = False,
    ) -> None:
        self.auditor = auditor
        self.shim = shim
        self.namer = namer
        self.binds = dict(binds or {})
        # every remote entry through the bridge (guard mode relays only what runs the shim),
        # even without a credential in the file or where a header helper would do
        self.bridge_remote = bridge_remote

    def plan(self, entry: ServerEntry) -> ServerPlan:
        """The plan for one entry (already wrapped entries get status ``wrapped``)."""
        plan = self._plan(entry)
        adapter = BY_ID.get(entry.client)
        note = adapter.project_note if adapter is not None else None
        if note and plan.status == "wrap" and entry.location.scope == "project":
            plan.notes.append(note.replace("NAME", shlex.quote(entry.name)))
        return plan

    def _plan(self, entry: ServerEntry) -> ServerPlan:
        index = pointer_index(entry.node, entry.pointer)
        pointers = {key: pointer for key, (pointer, _) in index.items()}
        hits = [(item, composite(item, hit)) for item, hit in self.auditor.secret_hits(entry)]
        adapter = BY_ID.get(entry.client)
        blocked = adapter.wrap_blocker(entry) if adapter is not None else None
        if blocked is not None and (hits or entry.transport != "remote" or self.bridge_remote):
            plan = ServerPlan(entry.name, "unwrappable")
            plan.notes.append(("its credential stays in the file: " if hits else "") + blocked)
            return plan
        if entry.transport == "remote":
            plan = self._remote(entry, hits, pointers)
            if self.binds:
                plan.notes.append("--bind applies to servers started by a command, not remote ones")
            return plan
        kinds: dict[int, str] = {}  # token kinds of values --bind replaces, by node
        if self.binds:
            bound = {id(node) for _key, node in entry.env if _key.name in self.binds}
            for item, hit in hits:
                if id(item.node) in bound:  # name a moved token by its kind, like wrap does
                    kinds.setdefault(id(item.node), hit.kind)
            hits = [(item, hit) for item, hit in hits if id(item.node) not in bound]
        if entry.transport == "stdio" and is_wrapped(entry):
            plan = self._rewrapped(entry, hits, pointers)
            self._bind(entry, plan, pointers, kinds)
            return plan
        if entry.client == "claude-desktop" and not self.binds:
            converted = self._mcp_remote(entry, hits, pointers)
            if converted is not None:
                return converted
        if not isinstance(entry.command, ScalarNode) or not isinstance(entry.command.value, str):
            plan = ServerPlan(entry.name, "unwrappable")
            plan.notes.append("its command is not a string")
            return plan
        return self._stdio(entry, hits, pointers, kinds)

    def _rewrapped(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
    ) -> ServerPlan:
        """A wrapped entry keeps its shim; a secret added to it since still moves."""
        plan = ServerPlan(entry.name, "wrap" if hits else "wrapped", rewrap=True)
        arg_ids = {id(a): i for i, a in enumerate(entry.args)}
        for node, found in _by_node(hits):
            where = _where(node, found[0][0], arg_ids)
            names = [self._name(entry, item, hit, plan, where) for item, hit in found]
            change = Change("set", pointers[id(node)], _replace(str(node.value), found, names))
            plan.scrub.append(change)
            plan.changes.append(change)
        return plan

    # -- stdio -----------------------------------------------------------------------
    def _stdio(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
        kinds: dict[int, str],
    ) -> ServerPlan:
        plan = ServerPlan(entry.name, "wrap")
        arg_ids = {id(a): i for i, a in enumerate(entry.args)}
        args: list[object] = [a.to_python() for a in entry.args]
        adapter = BY_ID[entry.client]
        env_names = {key.name for key, _ in entry.env}
        holder = adapter.stdio_holder(entry.node)
        env_holder = holder.get(adapter.env_key)
        can_add_env = env_holder is None or isinstance(env_holder, ObjectNode)
        added_env: dict[str, str] = {}
        container = _is_container(entry)
        for node, found in _by_node(hits):
            where = _where(node, found[0][0], arg_ids)
            names = [self._name(entry, item, hit, plan, where) for item, hit in found]
            value = str(node.value)
            docker = _DOCKER_ENV.match(value) if id(node) in arg_ids and container else None
            if (
                docker
                and len(found) == 1
                and found[0][1].secret == docker.group(3)
                and docker.group(2) not in env_names
                and can_add_env
            ):
                variable = docker.group(2)
                args[arg_ids[id(node)]] = (docker.group(1) or "") + variable
                env_names.add(variable)
                added_env[variable] = references.whole(names[0])
                plan.scrub.append(Change("set", pointers[id(node)], args[arg_ids[id(node)]]))
                continue
            new_value = _replace(value, found, names)
            plan.scrub.append(Change("set", pointers[id(node)], new_value))
            if id(node) in arg_ids:
                args[arg_ids[id(node)]] = new_value
                plan.notes.append(
                    f"{where} now holds a reference; the server still receives the value "
                    "on its command line (visible in the process list): prefer an env "
                    "variable if the server reads one"
                )
            else:
                plan.changes.append(plan.scrub[-1])
        if added_env:
            plan.record["docker_env"] = list(added_env)
            plan.record["env_absent"] = env_holder is None
            if isinstance(env_holder, ObjectNode):
                env_pointer = pointers[id(env_holder)]
                adds = [Change("add", (*env_pointer, k), v) for k, v in added_env.items()]
            else:
                adds = [Change("add", (*pointers[id(holder)], adapter.env_key), dict(added_env))]
            plan.scrub.extend(adds)
            plan.changes.extend(adds)
        command = str(entry.command.value)  # type: ignore[union-attr]
        new_args = [*self.shim.args(entry.name, entry.client), command, *args]
        args_node = _args_node(entry, holder)
        if adapter.argv_command:
            # one argv array (opencode): the shim and its arguments replace it whole
            argv_pointer = pointers[id(entry.command)][:-1]
            plan.changes.append(Change("set", argv_pointer, [self.shim.executable, *new_args]))
        elif args_node is not None:
            plan.changes.append(Change("set", pointers[id(entry.command)], self.shim.executable))
            plan.changes.append(Change("set", pointers[id(args_node)], new_args))
        else:
            plan.changes.append(Change("set", pointers[id(entry.command)], self.shim.executable))
            parent = pointers[id(entry.command)][:-1]
            plan.changes.append(Change("add", (*parent, "args"), new_args))
            plan.record["args_absent"] = True
        if entry.client == "codex" and self.shim.linux:
            self._codex(entry, plan, pointers)
        if entry.client == "cline" and "timeout" not in entry.node:
            # 3 s is too little for a keychain that asks to be unlocked
            plan.changes.append(Change("add", (*entry.pointer, "timeout"), CLINE_TIMEOUT_SEC))
            plan.record["cline_timeout_added"] = True
        self._bind(entry, plan, pointers, kinds, added_env)
        return plan

    def _bind(
        self,
        entry: ServerEntry,
        plan: ServerPlan,
        pointers: dict[int, Pointer],
        kinds: dict[int, str],
        added_env: dict[str, str] | None = None,
    ) -> None:
        """Point each ``--bind`` variable at its reference; keep what it held for unwrap.

        ``kinds`` names the token kind of a replaced value (``github-pat``), so
        the moved token gets the name wrap would give it.
        """
        if not self.binds:
            return
        current = {key.name: node for key, node in entry.env}
        adapter = BY_ID[entry.client]
        env_key = adapter.env_key
        holder = adapter.stdio_holder(entry.node)
        env_holder = holder.get(env_key)
        previous: dict[str, str | None] = {}
        new: dict[str, str] = {}
        for variable, reference in self.binds.items():
            node = current.get(variable)
            if node is None:
                if env_holder is not None and not isinstance(env_holder, ObjectNode):
                    plan.notes.append(f"cannot bind {variable}: its env is not an object")
                    continue
                previous[variable] = None
                new[variable] = reference
                continue
            value = node.to_python() if isinstance(node, ScalarNode) else None
            if value == reference:
                continue
            if not isinstance(value, str):
                plan.notes.append(f"cannot bind {variable}: its value is not a string")
                continue
            if value and not references.find(value):
                kind = kinds.get(id(node), "generic-secret")
                name = self.namer(value, kind, entry.name, variable)
                plan.moves.append(Move(name, value, entry.name, f"env {variable}", "bound"))
                value = references.whole(name)
                plan.scrub.append(Change("set", pointers[id(node)], value))
            previous[variable] = value
            plan.changes.append(Change("set", pointers[id(node)], reference))
        if not previous:
            return
        plan.status = "wrap"
        plan.record["bound"] = previous
        if new and isinstance(env_holder, ObjectNode):
            env_pointer = pointers[id(env_holder)]
            plan.changes.extend(Change("add", (*env_pointer, k), v) for k, v in new.items())
        elif new:
            # no env yet: one object with the variables a docker split added, if any
            env_pointer = (*pointers[id(holder)], env_key)
            merged = {**(added_env or {}), **new}
            plan.changes = [c for c in plan.changes if c.pointer != env_pointer]
            plan.changes.append(Change("add", env_pointer, merged))
            plan.record["env_absent"] = True

    def _codex(self, entry: ServerEntry, plan: ServerPlan, pointers: dict[int, Pointer]) -> None:
        """Codex clears the environment and allows 10 s to start: make room for the shim."""
        node = entry.node
        env_vars = node.get("env_vars")
        if isinstance(env_vars, ArrayNode):
            present = [v.to_python() for v in env_vars.items]
            missing = [n for n in CODEX_ENV_VARS if n not in present]
            if missing:
                plan.changes.append(Change("set", pointers[id(env_vars)], [*present, *missing]))
                plan.record["codex_env_vars_added"] = missing
        elif env_vars is None:
            plan.changes.append(Change("add", (*entry.pointer, "env_vars"), list(CODEX_ENV_VARS)))
            plan.record["codex_env_vars_added"] = list(CODEX_ENV_VARS)
            plan.record["codex_env_vars_absent"] = True
        if "startup_timeout_ms" in node:
            return
        timeout = node.get("startup_timeout_sec")
        current = timeout.to_python() if isinstance(timeout, ScalarNode) else None
        if isinstance(current, int | float) and not isinstance(current, bool):
            if current < CODEX_MIN_STARTUP_SEC and timeout is not None:
                plan.changes.append(Change("set", pointers[id(timeout)], CODEX_MIN_STARTUP_SEC))
                plan.record["codex_startup_timeout_sec"] = current
        elif timeout is None:
            pointer = (*entry.pointer, "startup_timeout_sec")
            plan.changes.append(Change("add", pointer, CODEX_MIN_STARTUP_SEC))
            plan.record["codex_startup_timeout_sec"] = None

    # -- remote ----------------------------------------------------------------------
    def _remote(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
    ) -> ServerPlan:
        plan = ServerPlan(entry.name, "remote")
        adapter = BY_ID.get(entry.client)
        app = oauth_app(entry, adapter)
        if isinstance(app, OAuthApp):
            # its secret moves whatever the detector made of it: a client secret by name
            kind = next((h.kind for i, h in hits if i.node is app.secret), "generic-secret")
            hits = [(item, hit) for item, hit in hits if item.node is not app.secret]
            if kind in _GENERIC_KINDS:
                kind = "generic-secret"
            where = f"{app.block} {app.secret_key}"
            name = self.namer(str(app.secret.value), kind, entry.name, app.secret_key)
            plan.moves.append(Move(name, str(app.secret.value), entry.name, where, kind))
            plan.scrub.append(Change("set", pointers[id(app.secret)], references.whole(name)))
            app.secret_name = name
        elif not hits and not self.bridge_remote:
            return plan
        header_ids = {id(value): key.name for key, value in entry.headers}
        url_id = id(entry.url) if entry.url is not None else None
        in_headers = all(id(item.node) in header_ids for item, _ in hits)
        in_reach = all(id(item.node) in header_ids or id(item.node) == url_id for item, _ in hits)
        helper_key = (adapter.header_helper if adapter else None) or ""
        if (
            app is None
            and helper_key
            and in_headers
            and helper_key not in entry.node
            and not self.bridge_remote
        ):
            return self._helper(entry, hits, pointers, plan, helper_key, header_ids)
        reason = app if isinstance(app, str) else None
        if reason is None and (adapter is None or not adapter.bridge):
            reason = "mcpcred does not know how this client starts a local (stdio) server"
        elif reason is None and adapter is not None and not in_reach:
            outside = dict.fromkeys(
                str(item.pointer[len(entry.pointer)])
                for item, _ in hits
                if len(item.pointer) > len(entry.pointer)
                and id(item.node) not in header_ids
                and id(item.node) != url_id
            )
            reason = (
                f"a credential in {', '.join(repr(k) for k in outside) or 'its settings'}, "
                f"which is neither its URL nor the headers {adapter.display_name} sends"
            )
        elif reason is None and adapter is not None:
            # the block of an OAuth app mcpcred login takes over is no longer in the way
            taken = app.block if isinstance(app, OAuthApp) else None
            blockers = [k for k in adapter.blockers(entry.node) if k != taken]
            if blockers:
                reason = (
                    f"it also uses {', '.join(blockers)}, which {adapter.display_name} "
                    "resolves itself and a bridge entry cannot carry"
                )
        weak = bool(hits) and all(hit.kind == WEAK_DEFAULT_KIND for _, hit in hits)
        if isinstance(app, OAuthApp):
            if reason is not None:
                return self._cannot(plan, reason)
            return self._bridge(entry, hits, pointers, plan, header_ids, app)
        if reason is None and (self.bridge_remote or not weak):
            return self._bridge(entry, hits, pointers, plan, header_ids)
        if not hits:
            plan.notes.append(f"not bridged: {reason}")
            return plan
        if weak:
            # A demo password (admin:admin@localhost) is not a leak: audit-config does
            # not count the server as unwrapped, so wrap does not ask to rotate it.
            plan.status = "weak"
            plan.notes.append(
                "its only credential is a well-known default password in its URL or "
                "settings; left as it is, a remote entry (set a strong one if others can "
                "reach the service, then run wrap again to move it)"
            )
            return plan
        plan.status = "unwrappable"
        plan.notes.append(
            f"its credential stays in the file: {reason}; rotate it and use the "
            "server's own sign-in (OAuth) if it offers one"
        )
        return plan

    def _helper(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
        plan: ServerPlan,
        helper_key: str,
        header_ids: dict[int, str],
    ) -> ServerPlan:
        """Header secrets to the client's own helper hook: the entry stays remote."""
        plan.status = "wrap"
        helper_headers: list[str] = []
        removed: dict[Pointer, list[Change]] = {}  # by the headers object they leave
        for node, found in _by_node(hits):
            header = header_ids[id(node)]
            names = [self._name(entry, item, hit, plan, f"header {header}") for item, hit in found]
            new_value = _replace(str(node.value), found, names)
            plan.scrub.append(Change("set", pointers[id(node)], new_value))
            holder = pointers[id(node)][:-1]
            removed.setdefault(holder, []).append(Change("remove", (*holder, header)))
            helper_headers += ["--header", f"{header}: {new_value}"]
        for holder, changes in removed.items():
            # every header moved: the object goes too, not left as an empty `http_headers = {}`
            # (unwrap writes the whole entry back as it was, so nothing is lost)
            container = _node_at(entry.node, holder[len(entry.pointer) :])
            if isinstance(container, ObjectNode) and len(container.members) == len(changes):
                plan.changes.append(Change("remove", holder))
            else:
                plan.changes.extend(changes)
        helper = _command_line(
            [self.shim.executable, "headers", *self.shim.args(entry.name, entry.client)[1:-1],
             *helper_headers]
        )  # fmt: skip
        plan.changes.append(Change("add", (*entry.pointer, helper_key), helper))
        plan.record["headers_helper"] = True
        plan.record["header_order"] = [key.name for key, _ in entry.headers]
        plan.record["original"] = {}  # the entry as it was: service fills it in (plan_wrap)
        plan.notes.append(
            f"stays a remote entry: {BY_ID[entry.client].display_name} asks "
            f"`mcpcred headers` ({helper_key}) for the header when it connects"
        )
        return plan

    def _bridge(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
        plan: ServerPlan,
        header_ids: dict[int, str],
        app: OAuthApp | None = None,
    ) -> ServerPlan:
        """A remote entry becomes a stdio entry that runs the bridge (keychain at spawn).

        An entry that signs in with a pre-registered OAuth app (``app``: its secret is
        already planned to move) sends mcpcred's login for that server instead, and the
        record names the app so that wrap can leave it for ``mcpcred login`` to use.
        """
        adapter = BY_ID[entry.client]
        replaced: dict[int, str] = {}
        for node, found in _by_node(hits):
            where = f"header {header_ids[id(node)]}" if id(node) in header_ids else "URL"
            names = [self._name(entry, item, hit, plan, where) for item, hit in found]
            replaced[id(node)] = _replace(str(node.value), found, names)
            plan.scrub.append(Change("set", pointers[id(node)], replaced[id(node)]))
        url_node = entry.url
        if not isinstance(url_node, ScalarNode) or not isinstance(url_node.value, str):
            return self._cannot(plan, "its URL is not a string")
        headers: list[tuple[str, str]] = []
        for key, value in entry.headers:
            if not isinstance(value, ScalarNode) or not isinstance(value.value, str):
                return self._cannot(plan, f"its header {key.name} is not a string")
            headers.append((key.name, replaced.get(id(value), value.value)))
        url = replaced.get(id(url_node), url_node.value)
        drop = set(adapter.remote_only_keys)
        if app is not None:
            if any(name.lower() == "authorization" for name, _ in headers):
                return self._cannot(
                    plan, f"it sends an Authorization header and also signs in with '{app.block}'"
                )
            if references.find(url):
                return self._cannot(
                    plan, f"its URL holds a credential and it also signs in with '{app.block}'"
                )
            login = bridge.login_name(entry.name)
            headers.append(("Authorization", "Bearer " + references.embedded(login, "oauth")))
            drop.add(app.block)
            kept: dict[str, object] = {
                "url": url,
                "client_id": app.client_id,
                "secret": app.secret_name,
                "login": login,
            }
            if app.scopes:  # asked for instead of the server's, as the client did
                kept["scopes"] = list(app.scopes)
            if app.redirect_uri:  # where the app is registered to send the browser back
                kept["redirect_uri"] = app.redirect_uri
            plan.record["oauth_client"] = kept
            plan.notes.append(
                f"{adapter.display_name} signed in with the OAuth app in '{app.block}'; its "
                f"client secret is in the keychain and mcpcred's login '{login}' uses that app"
                + (f" with the scopes it set ({' '.join(app.scopes)})" if app.scopes else "")
                + ": "
                f"run `mcpcred login {shlex.quote(url)} --name {login}` before restarting "
                f"{adapter.display_name}"
            )
        return self._write_bridge(
            entry, plan, url, headers, adapter.remote_transport(entry.node),
            drop=drop, allow_http=False,
        )  # fmt: skip

    def _write_bridge(
        self,
        entry: ServerEntry,
        plan: ServerPlan,
        url: str,
        headers: list[tuple[str, str]],
        transport: str,
        *,
        drop: set[str],
        allow_http: bool,
        env: dict[str, object] | None = None,
    ) -> ServerPlan:
        """Replace the whole entry by the client's stdio shape running ``shim --url``."""
        adapter = BY_ID[entry.client]
        refused = bridge.problem(url, headers)
        if refused is not None:
            return self._cannot(plan, refused)
        plain = bridge.needs_allow_http(url)
        prefix = self.shim.args(entry.name, entry.client)[:-1]
        args = bridge.argv(prefix, url, headers, transport, allow_http=allow_http or plain)
        new: dict[str, object] = {}
        if adapter.stdio_type:
            new["type"] = adapter.stdio_type
        if adapter.argv_command:  # one argv array (opencode)
            new[adapter.command_key] = [self.shim.executable, *args]
        else:
            new[adapter.command_key] = self.shim.executable  # Goose calls it ``cmd``
            new["args"] = args
        for key, value in entry.node.members:
            if key.name in drop or key.name in ("type", "command", "args") or key.name in new:
                continue
            new[key.name] = env if key.name == "env" and env is not None else value.to_python()
        if env is not None and "env" in new and not env:
            del new["env"]  # every variable it held went into the bridge's headers
        if entry.client == "cline" and "timeout" not in new:
            new["timeout"] = CLINE_TIMEOUT_SEC  # the bridge connects before it answers
        if entry.client == "codex" and self.shim.linux:
            present = new.get("env_vars")
            names = list(present) if isinstance(present, list) else []
            new["env_vars"] = [*names, *(n for n in CODEX_ENV_VARS if n not in names)]
            if "startup_timeout_ms" not in new:
                current = new.get("startup_timeout_sec")
                if not isinstance(current, int | float) or current < CODEX_MIN_STARTUP_SEC:
                    new["startup_timeout_sec"] = CODEX_MIN_STARTUP_SEC
        plan.status = "wrap"
        plan.changes.append(Change("set", entry.pointer, new))
        plan.record["original"] = {}  # the entry as it was: service fills it in (plan_wrap)
        plan.notes.append(
            f"becomes a local (stdio) entry running the mcpcred bridge to {_origin(url)}; "
            f"{adapter.display_name} starts it like any local server"
        )
        if plain:
            plan.notes.append(
                "it is reached over plain http:// (--allow-http keeps it working); its "
                "credential travels unencrypted: use https:// if the server offers it"
            )
        return plan

    @staticmethod
    def _cannot(plan: ServerPlan, reason: str) -> ServerPlan:
        plan.status = "unwrappable"
        plan.changes = []
        plan.scrub = []
        plan.moves = []
        plan.notes.append(f"its credential stays in the file: {reason}")
        return plan

    # -- mcp-remote (Claude Desktop) ----------------------------------------------------
    def _mcp_remote(
        self,
        entry: ServerEntry,
        hits: list[tuple[SecretValue, Hit]],
        pointers: dict[int, Pointer],
    ) -> ServerPlan | None:
        """An entry running ``mcp-remote URL`` becomes a bridge entry; None if it is not one.

        Header values (``--header "Authorization:${AUTH}"`` with ``AUTH`` in ``env``, or a
        literal value) get references for their secrets; without any credential the
        server signs in with OAuth, which the bridge gets from ``mcpcred login``.
        """
        command = entry.command_text()
        if command is None:
            return None
        texts = [a.value if isinstance(a, ScalarNode) and isinstance(a.value, str) else None
                 for a in entry.args]  # fmt: skip
        parsed = bridge.parse_mcp_remote(command, texts)
        if parsed is None:
            return None
        if isinstance(parsed, str):
            plan = self._stdio(entry, hits, pointers, {})
            plan.notes.append(f"runs mcp-remote, wrapped as a command: {parsed}")
            return plan
        env_nodes = {key.name: node for key, node in entry.env}
        arg_ids = {id(a): i for i, a in enumerate(entry.args)}
        url_node = entry.args[parsed.url]
        header_args = {index for index, _, _ in parsed.headers}
        allowed = {id(url_node), *(id(entry.args[i]) for i in header_args)}
        allowed |= {id(n) for n in env_nodes.values()}
        if any(id(item.node) not in allowed for item, _ in hits):
            plan = self._stdio(entry, hits, pointers, {})
            plan.notes.append(
                "runs mcp-remote, wrapped as a command: a credential sits outside its URL, "
                "headers and env"
            )
            return plan
        plan = ServerPlan(entry.name, "wrap")
        replaced: dict[int, str] = {}
        for node, found in _by_node(hits):
            where = _where(node, found[0][0], arg_ids)
            names = [self._name(entry, item, hit, plan, where) for item, hit in found]
            replaced[id(node)] = _replace(str(node.value), found, names)
            plan.scrub.append(Change("set", pointers[id(node)], replaced[id(node)]))
        env: dict[str, str] = {}
        for name, env_node in env_nodes.items():
            if isinstance(env_node, ScalarNode) and isinstance(env_node.value, str):
                env[name] = replaced.get(id(env_node), env_node.value)
        headers: list[tuple[str, str]] = []
        used: set[str] = set()
        for index, name, _value in parsed.headers:
            raw = replaced.get(id(entry.args[index]), str(texts[index]))
            value = bridge.expand(raw.partition(":")[2].strip(), env)
            if value is None:
                fallback = self._stdio(entry, hits, pointers, {})
                fallback.notes.append(
                    f"runs mcp-remote, wrapped as a command: its header {name} takes a "
                    "variable from the client's environment, which the bridge does not read"
                )
                return fallback
            used.update(bridge.variables(raw))
            headers.append((name, value))
        url = replaced.get(id(url_node), str(texts[parsed.url]))
        # no header and no key in the URL: mcp-remote signed in with OAuth itself
        if not headers and not references.find(url):
            login = bridge.login_name(entry.name)
            headers.append(("Authorization", "Bearer " + references.embedded(login, "oauth")))
            plan.notes.append(
                f"mcp-remote signed in with OAuth; the bridge uses mcpcred's login '{login}': "
                f"run `mcpcred login {shlex.quote(url)} --name {login}` before restarting "
                "Claude Desktop (`mcpcred login --import-mcp-remote` takes over mcp-remote's "
                "saved tokens instead)"
            )
        remaining: dict[str, object] | None = None
        if isinstance(entry.node.get("env"), ObjectNode):
            # variables the headers used went into them; mcp-remote's others stay
            remaining = {
                k: env[k] if k in env else held.to_python()
                for k, held in env_nodes.items()
                if k not in used
            }
        return self._write_bridge(
            entry, plan, url, headers, parsed.transport, drop=set(), allow_http=parsed.allow_http,
            env=remaining,
        )  # fmt: skip

    # -- naming ----------------------------------------------------------------------
    def _name(
        self, entry: ServerEntry, item: SecretValue, hit: Hit, plan: ServerPlan, where: str
    ) -> str:
        name = self.namer(hit.secret, hit.kind, entry.name, item.name)
        plan.moves.append(Move(name, hit.secret, entry.name, where, hit.kind))
        return name


@dataclass(slots=True)
class OAuthApp:
    """A pre-registered OAuth app in a remote entry (Zed's ``oauth``, Cursor's ``auth``)."""

    block: str  # the entry's key holding it
    client_id: str
    secret_key: str
    secret: ScalarNode = field(repr=False)
    secret_name: str = ""  # the keychain name its secret moves to
    # the scopes the client asked for instead of the server's (``mcpcred login`` does too)
    scopes: tuple[str, ...] = ()
    # the loopback redirect the app is registered with, for the client (None: any port)
    redirect_uri: str | None = None


# Settings of an app block that ``mcpcred login`` cannot honour as the client did, and why:
# an entry holding one keeps its app (and its secret) with this reason.
_APP_KEYS_NOT_TAKEN = {
    "authorizationUrl": "fixed endpoints that skip discovery, where mcpcred login finds them "
    "by the server's metadata and checks them (issuer, PKCE S256)",
    "tokenUrl": "fixed endpoints that skip discovery, where mcpcred login finds them by the "
    "server's metadata and checks them (issuer, PKCE S256)",
    "authServerMetadataUrl": "a metadata URL that overrides discovery, where mcpcred login "
    "follows the server's own metadata",
    "audiences": "an 'audience' parameter, which mcpcred login does not send (it sends the "
    "server's URL as RFC 8707 'resource')",
    "tokenParamName": "the token in a URL parameter, where the bridge sends it in the "
    "Authorization header",
}


def oauth_app(entry: ServerEntry, adapter: object) -> OAuthApp | str | None:
    """The entry's OAuth app with a client secret in the file; a reason if the bridge cannot
    stand in for it; None when the entry has none (or no secret: nothing to move)."""
    shape = getattr(adapter, "oauth_client", None)
    if shape is None:
        return None
    block_key, id_key, secret_key = shape
    block = entry.node.get(block_key)
    if not isinstance(block, ObjectNode):
        return None
    secret = block.get(secret_key)
    if not isinstance(secret, ScalarNode) or not isinstance(secret.value, str) or not secret.value:
        return None
    if references.find(secret.value):
        return None  # already a reference: nothing left to move
    if getattr(adapter, "expands", "") not in ("", "nothing") and (
        "$" in secret.value or is_reference(secret.value)
    ):  # ``${VAR}``, opencode's ``{env:VAR}``: the client reads it, there is nothing to move
        return (
            f"its '{block_key}' takes its client secret from a variable, which mcpcred cannot read"
        )
    client_id = block.get(id_key)
    if not isinstance(client_id, ScalarNode) or not isinstance(client_id.value, str):
        return f"its '{block_key}' has a client secret but no client id"
    scopes_key, form = getattr(adapter, "oauth_client_scopes", None) or ("", "")
    redirect_key, redirect_form = getattr(adapter, "oauth_client_redirect", None) or ("", "")
    allowed = {id_key, secret_key, *getattr(adapter, "oauth_client_extra", ())}
    allowed |= {k for k in (scopes_key, redirect_key) if k}
    other = [key.name for key, _ in block.members if key.name not in allowed]
    if other:
        why = dict.fromkeys(_APP_KEYS_NOT_TAKEN[k] for k in other if k in _APP_KEYS_NOT_TAKEN)
        return (
            f"its '{block_key}' also sets {', '.join(other)}, which mcpcred login does not take"
            + (f" ({'; '.join(why)})" if why else "")
        )
    scopes: tuple[str, ...] = ()
    node = block.get(scopes_key) if scopes_key else None
    if node is not None:
        found = _scopes(node, form)
        if found is None:
            return (
                f"its '{block_key}' sets {scopes_key} that are not scope names "
                "(strings without spaces)"
            )
        scopes = found
    redirect: str | None = getattr(adapter, "oauth_client_default_redirect", None)
    node = block.get(redirect_key) if redirect_key else None
    if node is not None:
        redirect = _redirect(node, redirect_form)
        if redirect is None:
            return (
                f"its '{block_key}' sets {redirect_key} to a redirect mcpcred login cannot "
                "receive (it listens on loopback: an http://localhost, 127.0.0.1 or [::1] URL "
                "with a port)"
            )
    return OAuthApp(
        block_key, client_id.value, secret_key, secret, scopes=scopes, redirect_uri=redirect
    )


def _redirect(node: Node, form: str) -> str | None:
    """The loopback redirect URI a block's ``redirectUri`` (``form`` "uri") or
    ``callbackPort`` ("port": Claude Code's ``http://localhost:PORT/callback``) names; None
    when ``mcpcred login`` could not be redirected there."""
    from mcpcred.oauth.loopback import fixed_redirect  # only for an entry with an app

    value = node.value if isinstance(node, ScalarNode) else None
    if form == "port" and type(value) is int and 0 < value < 65536:
        value = f"http://localhost:{value}/callback"
    if not isinstance(value, str) or fixed_redirect(value) is None:
        return None
    return value


def _scopes(node: Node, form: str) -> tuple[str, ...] | None:
    """Scope names from a list of strings or one space-separated string (``form``: "list" or
    "string", as the client reads them); None if it is not that.

    A scope is an RFC 6749 ``scope-token``: printable ASCII without space, ``"`` or ``\\``.
    """
    if form == "string" and isinstance(node, ScalarNode) and isinstance(node.value, str):
        items: list[object] = list(node.value.split(" "))
        items = [i for i in items if i != ""]
    elif form == "list" and isinstance(node, ArrayNode):
        items = [i.value if isinstance(i, ScalarNode) else None for i in node.items]
    else:
        return None
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item or not _SCOPE_TOKEN.fullmatch(item):
            return None
        out.append(item)
    return tuple(dict.fromkeys(out))


_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")


_PAIR_STOP = frozenset(" \t\r\n,;=\"'")


def composite(item: SecretValue, hit: Hit) -> Hit:
    """The hit widened to the whole ``a:b`` pair it is one half of.

    A Twilio key SID with its secret (``SK…:secret``), a ``user:token`` pair
    (``alice@example.com:ATATT…``) are one credential to the server: moving
    only the half the detector recognises would leave the other half in the
    file, and a half alone is no use in the keychain either. URLs are left to
    the detector (their userinfo has its own rules).
    """
    text = item.text
    if "://" in text:
        return hit
    start, end = hit.start, hit.end
    if end < len(text) and text[end] == ":":
        stop = end + 1
        while stop < len(text) and text[stop] not in _PAIR_STOP and text[stop] not in "/:":
            stop += 1
        if stop - end > 4:
            end = stop
    if start > 1 and text[start - 1] == ":" and end == hit.end:
        begin = start - 1
        while begin > 0 and text[begin - 1] not in _PAIR_STOP and text[begin - 1] not in "/:":
            begin -= 1
        if begin < start - 1:
            start = begin
    if (start, end) == (hit.start, hit.end):
        return hit
    return dataclasses.replace(hit, start=start, end=end, secret=text[start:end])


def suggest_name(kind: str, server: str, variable: str | None) -> str:
    """A readable keychain name: the token kind, or the server and variable for generic ones."""
    if kind not in _GENERIC_KINDS:
        return kind
    parts = [server, variable or "secret"]
    text = "-".join(p for p in parts if p).lower()
    text = re.sub(r"[^a-z0-9.-]+", "-", text).strip("-._")
    text = re.sub(r"-{2,}", "-", text)[:60].strip("-._")
    return text or "secret"


def _by_node(
    hits: list[tuple[SecretValue, Hit]],
) -> list[tuple[ScalarNode, list[tuple[SecretValue, Hit]]]]:
    grouped: dict[int, tuple[ScalarNode, list[tuple[SecretValue, Hit]]]] = {}
    for item, hit in hits:
        grouped.setdefault(id(item.node), (item.node, []))[1].append((item, hit))
    return list(grouped.values())


def _replace(value: str, found: list[tuple[SecretValue, Hit]], names: list[str]) -> str:
    """``value`` with each hit replaced by a reference (whole-value when it is all of it)."""
    spans = sorted(
        ((item.offset + hit.start, item.offset + hit.end, name) for (item, hit), name in
         zip(found, names, strict=True)),
        reverse=True,
    )  # fmt: skip
    if len(spans) == 1 and spans[0][0] == 0 and spans[0][1] == len(value):
        return references.whole(spans[0][2])
    out = value
    last_start = len(value) + 1
    for start, end, name in spans:
        if end > last_start:  # overlapping hits: the outer one already covers it
            continue
        out = out[:start] + references.embedded(name) + out[end:]
        last_start = start
    return out


def _where(node: Node, item: SecretValue, arg_ids: dict[int, int]) -> str:
    if id(node) in arg_ids:
        return f"arg {arg_ids[id(node)] + 1}"
    if item.role == "env":
        return f"env {item.name}"
    if item.role == "header":
        return f"header {item.name}"
    return item.role if item.name is None else f"{item.role} {item.name}"


def _node_at(node: Node, path: Pointer) -> Node | None:
    """The node at ``path`` below ``node`` (object keys only), or None."""
    for key in path:
        if not isinstance(node, ObjectNode) or not isinstance(key, str):
            return None
        found = node.get(key)
        if found is None:
            return None
        node = found
    return node


def _is_container(entry: ServerEntry) -> bool:
    names = [entry.command_text() or "", *entry.arg_texts()[:3]]
    return any(_basename(n) in _CONTAINER_TOOLS for n in names)


def _basename(command: str) -> str:
    name = command.replace("\\", "/").rsplit("/", 1)[-1].lower()
    return name.removesuffix(".exe")


def _args_node(entry: ServerEntry, stdio: ObjectNode) -> ArrayNode | None:
    """The array holding the args (top level, in Cline's ``transport``, or nested in Zed's
    legacy command object)."""
    for holder in (stdio, entry.node.get("command")):
        if isinstance(holder, ObjectNode):
            args = holder.get("args")
            if isinstance(args, ArrayNode):
                return args
    return None


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of a URL: what a message may show of it (no path, no query)."""
    scheme, sep, rest = url.partition("://")
    host = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}{sep}{host}" if sep else "the server"


def _command_line(argv: list[str]) -> str:
    """A command string for a client that runs it through the platform shell."""
    if os.name == "nt":  # pragma: no cover - Windows quoting
        return subprocess.list2cmdline(argv)
    return shlex.join(argv)
