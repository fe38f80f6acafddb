"""The ``wrap`` and ``unwrap`` use cases, from finding the files to writing them.

The order of a run is what keeps it safe to interrupt at any point:

1. find and parse every file (one bad file aborts the run: nothing is touched);
2. plan every entry and render every new text, and parse the result again;
3. (the CLI shows the diff and asks;)
4. store every new secret in the keychain and read it back;
5. per file: keep the backup (references only), then write atomically, refusing
   if the file changed since step 1.

A crash after 4 leaves secrets in the keychain and configs unchanged, which a
second run picks up (same values are reused, not duplicated).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shlex
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from mcpcred import references
from mcpcred.audit.rules import Auditor
from mcpcred.audit.scan import other_blocks
from mcpcred.clients import BY_ID, ClientAdapter
from mcpcred.clients.base import WILDCARD, is_wrapped
from mcpcred.discovery import Candidate, expand
from mcpcred.errors import (
    ConfigError,
    McpcredError,
    SecretNotFound,
    SecretStoreError,
    UsageError,
)
from mcpcred.fsutil import atomic_write
from mcpcred.host import Host
from mcpcred.keychain import DEFAULT_BACKENDS, chooses_by_priority
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import ALLOW_INSECURE, SecretStore, check_value, insecure_name
from mcpcred.models import ConfigLocation, Pointer, ServerEntry
from mcpcred.parsing.files import display_path, parse
from mcpcred.parsing.nodes import (
    ArrayNode,
    Document,
    Node,
    ObjectNode,
    ScalarNode,
    pointer_index,
    shadowed_members,
)
from mcpcred.paths import data_dir
from mcpcred.wrap import edit, files
from mcpcred.wrap.plan import (
    Change,
    Move,
    Planner,
    ServerPlan,
    ShimSettings,
    composite,
    suggest_name,
)

RECORDS = "wrapped.json"
REDACTED = "REDACTED"  # what a backup holds instead of a credential that stayed in the file


@dataclass(slots=True)
class FilePlan:
    """Everything a run will do to one file."""

    location: ConfigLocation
    display: str
    snapshot: files.Snapshot
    servers: list[ServerPlan]
    new_text: str
    backup_text: str  # what the backup keeps: never a value that left the file
    hidden: list[str] = field(default_factory=list, repr=False)  # credentials a diff must hide
    # servers with credentials in blocks the client does not read ("mcpServers/b" in a
    # VS Code file): audit-config reports them, wrap cannot start them, so it names them
    unread: list[str] = field(default_factory=list)
    # credentials in the client's own settings (a crushrc's exports and provider keys):
    # the client needs them itself, so they stay, and wrap says which
    settings: list[str] = field(default_factory=list)

    @property
    def original(self) -> str:
        """The file's text as read."""
        return self.snapshot.document.source.text

    @property
    def changed(self) -> bool:
        """Whether the run writes this file."""
        return self.new_text != self.original

    @property
    def moves(self) -> list[Move]:
        """Secrets leaving this file."""
        return [m for s in self.servers for m in s.moves]


@dataclass(slots=True)
class Outcome:
    """What a run did (for the CLI to report)."""

    written: list[FilePlan] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    stored: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    forgotten_apps: list[str] = field(default_factory=list)  # server URLs (unwrap)
    # OAuth apps unwrap could not delete: (server URL, why); the files are written all the same
    kept_apps: list[tuple[str, str]] = field(default_factory=list)


# -- finding the files -----------------------------------------------------------------
def adapter_for(client: str) -> ClientAdapter:
    """The adapter for a client id, or a usage error listing the valid ones."""
    adapter = BY_ID.get(client)
    if adapter is None or client == "generic":
        choices = ", ".join(sorted(k for k in BY_ID if k != "generic"))
        raise UsageError(f"unknown client {client!r}", hint=f"choose one of: {choices}")
    return adapter


def locations(adapter: ClientAdapter, host: Host, config: str | None) -> list[ConfigLocation]:
    """The client's existing config files (or just ``config``)."""
    if config is not None:
        path = os.path.abspath(config)
        if not os.path.isfile(path) and not os.path.islink(path):
            raise UsageError(f"no such file: {config}")
        fmt = (
            "toml"
            if path.endswith(".toml")
            else "yaml"
            if path.endswith((".yaml", ".yml"))
            else "jsonc"
        )
        known = [
            loc
            for loc in adapter.user_locations(host) + adapter.project_locations(PurePath(host.cwd))
            if os.path.realpath(loc.path) == os.path.realpath(path)
        ]
        scope = known[0].scope if known else "user"
        return [ConfigLocation(adapter.id, path, scope, fmt)]
    found: dict[str, ConfigLocation] = {}
    for location in adapter.user_locations(host) + adapter.project_locations(PurePath(host.cwd)):
        if os.path.islink(location.path) and not os.path.isfile(location.path):
            # a dangling link or a loop: reading it refuses the run with the reason
            found.setdefault(os.path.abspath(location.path), location)
            continue
        for concrete in expand(location):
            # one file, once: run from HOME, a "project" file is the user file itself
            found.setdefault(os.path.realpath(concrete.path), concrete)
    return list(found.values())


def shim_settings(host: Host, backend: str | None) -> ShimSettings:
    """How wrapped entries start the shim on this machine."""
    linux = host.os == "linux"
    if chooses_by_priority(backend):
        # Never the chainer (SecretStore resolves it to its child already): recording it
        # would send every server start through keyring's discovery.
        backend = None
    recorded = backend if backend and backend != DEFAULT_BACKENDS.get(host.os) else None
    address = host.var("DBUS_SESSION_BUS_ADDRESS") if linux else None
    if address:
        # Only the transport part: the guid changes whenever the bus restarts.
        address = ";".join(
            ",".join(p for p in part.split(",") if not p.startswith("guid="))
            for part in address.split(";")
        )
        if _standard_bus(address):
            address = None
    allow = recorded is not None and host.var(ALLOW_INSECURE) == "1" and insecure_name(recorded)
    return ShimSettings(executable(), recorded, address, linux, allow)


def _standard_bus(address: str) -> bool:
    uid = os.getuid() if hasattr(os, "getuid") else -1
    return address == f"unix:path=/run/user/{uid}/bus"


def executable() -> str:
    """The absolute path of the ``mcpcred`` executable (GUI clients have no shell PATH)."""
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0).lower() in ("mcpcred", "mcpcred.exe") and os.path.isfile(argv0):
        return os.path.abspath(argv0)
    beside = Path(sys.executable).parent / ("mcpcred.exe" if os.name == "nt" else "mcpcred")
    if beside.is_file():
        return str(beside)
    found = shutil.which("mcpcred")
    if found:
        return os.path.abspath(found)
    raise UsageError(
        "cannot find the mcpcred executable to write into the config",
        hint="install mcpcred with pip or pipx so that the `mcpcred` command exists",
    )


# -- naming and de-duplicating secrets ---------------------------------------------------
class SecretNamer:
    """Gives each distinct value one keychain name, reusing names of values already stored."""

    def __init__(self, store: SecretStore | None, index: SecretIndex) -> None:
        self.store = store
        self.index = index
        self.by_value: dict[str, str] = {}
        self.reused: set[str] = set()
        self._known: dict[str, str] | None = None
        self._taken: set[str] = set()

    def _existing(self) -> dict[str, str]:
        """Values already in the keychain (by value), read once per run."""
        if self._known is None:
            self._known = {}
            if self.store is not None:
                for name in sorted(self.index.entries()):
                    try:
                        self._known.setdefault(self.store.get(name), name)
                    except SecretStoreError:
                        continue
                    self._taken.add(name)
        return self._known

    def __call__(self, value: str, kind: str, server: str, variable: str | None) -> str:
        if value in self.by_value:
            return self.by_value[value]
        existing = self._existing().get(value)
        if existing is not None:
            self.by_value[value] = existing
            self.reused.add(existing)
            return existing
        base = suggest_name(kind, server, variable)
        candidate, counter = base, 1
        while candidate in self._taken or self._stored(candidate):
            counter += 1
            candidate = f"{base}-{counter}"
        self._taken.add(candidate)
        self.by_value[value] = candidate
        return candidate

    def _stored(self, name: str) -> bool:
        if self.store is None:
            return False
        try:
            return self.store.exists(name)
        except SecretStoreError:
            return False


# -- wrap --------------------------------------------------------------------------------
def plan_wrap(
    adapter: ClientAdapter,
    host: Host,
    *,
    config: str | None,
    servers: list[str],
    settings: ShimSettings,
    namer: SecretNamer,
    binds: dict[str, str] | None = None,
    bridge_remote: bool = False,
) -> list[FilePlan]:
    """Plan the whole run; raises before anything is changed if a file cannot be used."""
    planner = Planner(Auditor(host), settings, namer, binds, bridge_remote=bridge_remote)

    def backup_text(document: Document, server_plans: list[ServerPlan]) -> str:
        # the file with its secrets replaced by references, and nothing else changed
        scrub = [c for p in server_plans for c in p.scrub]
        scrubbed = edit.apply(document, scrub)
        edit.verify(scrubbed, document.format, document.source.path or "", scrub)
        return scrubbed

    def plan_entry(entry: ServerEntry, _path: str) -> ServerPlan:
        plan = planner.plan(entry)
        if plan.record.get("original") == {}:
            plan.record["original"] = original_entry(entry, plan.scrub)
        return plan

    return _plan_files(adapter, host, config, servers, plan_entry, backup_text)


def original_entry(entry: ServerEntry, scrub: list[Change]) -> dict[str, object]:
    """The entry as the file holds it, secrets replaced by references: what unwrap writes back.

    Only the secret strings change (each literal re-written as a JSON string, which TOML
    basic strings read the same), so the text keeps the entry's comments and layout. The
    text is kept only if the file reads as planned with it; the value always.
    """
    document = entry.document
    text = document.source.text
    splices = []
    for change in scrub:
        node = edit.resolve(document.root, change.pointer)
        if change.op != "set" or not isinstance(node, ScalarNode):
            continue
        literal = json.dumps(change.value, ensure_ascii=False)
        if document.format == "yaml":  # written as wrap writes it: plain stays plain
            from mcpcred.wrap.yaml_edit import YamlEditor

            literal = YamlEditor(document).scalar(node, change.value, change.pointer)
        elif document.format == "shell":  # a crushrc word, in the quotes it had
            from mcpcred.parsing.shell import ShellWord, quote

            style = node.quote if isinstance(node, ShellWord) else ""
            literal = quote(str(change.value), style)
        splices.append((node.start, node.end, literal))
    for start, end, literal in sorted(splices, reverse=True):
        text = text[:start] + literal + text[end:]
    value: object = None
    kept: str | None = None
    try:
        fresh = parse(document.source.path or "", text)
        node = edit.resolve(fresh.root, entry.pointer)
        planned = all(
            edit.resolve(fresh.root, c.pointer) is not None
            and edit.resolve(fresh.root, c.pointer).to_python() == c.value  # type: ignore[union-attr]
            for c in scrub
            if c.op == "set"
        )
        if node is not None and planned:
            start, end = edit.extent(node)
            value, kept = node.to_python(), text[start:end]
    except McpcredError:
        pass
    if value is None:  # pragma: no cover - a literal the parser reads differently
        scrubbed = parse(document.source.path or "", edit.apply(document, scrub))
        node = edit.resolve(scrubbed.root, entry.pointer)
        value = node.to_python() if node is not None else entry.node.to_python()
    return {"value": value, "text": kept}


def _plan_files(
    adapter: ClientAdapter,
    host: Host,
    config: str | None,
    servers: list[str],
    plan_entry: Callable[[ServerEntry, str], ServerPlan],
    backup_text: Callable[[Document, list[ServerPlan]], str],
) -> list[FilePlan]:
    """Read every file, plan its chosen entries, render and check the new text."""
    plans = []
    seen: set[str] = set()
    auditor = Auditor(host)
    for location in locations(adapter, host, config):
        snapshot = files.read(location.path)
        every = adapter.servers(snapshot.document, location)
        _refuse_repeated_keys(snapshot.document, adapter.containers_for(location), location.path)
        entries = [e for e in every if _chosen(e, servers)]
        seen.update(e.name for e in entries)
        server_plans = [plan_entry(e, snapshot.real) for e in entries]
        changes = [c for p in server_plans for c in p.changes]
        document = snapshot.document
        new_text = edit.apply(document, changes)
        edit.verify(new_text, document.format, location.path, changes)
        if new_text != document.source.text:
            files.check_writable(snapshot)
        shown = display_path(location.path, host)
        if snapshot.linked:
            shown += f" -> {display_path(snapshot.real, host)}"
        unread = [
            f"{block}/{entry.name}"
            for block, entry in other_blocks(document, Candidate(adapter, location), every)
            if next(iter(auditor.secret_hits(entry)), None) is not None
        ]
        settings = [
            f.message.split(": ", 1)[-1] for f in adapter.setting_findings(document, auditor, shown)
        ]
        plans.append(
            FilePlan(
                location,
                shown,
                snapshot,
                server_plans,
                new_text,
                without_secrets(backup_text(document, server_plans), location, adapter, auditor),
                secrets_in(document, location, adapter, auditor),
                unread,
                list(dict.fromkeys(settings)),
            )
        )
    _check_servers(servers, seen, adapter)
    return plans


def without_secrets(
    text: str, location: ConfigLocation, adapter: ClientAdapter, auditor: Auditor
) -> str:
    """``text`` with every credential ``audit-config`` would still find in it redacted.

    A backup keeps references for what moved to the keychain, but the file may
    hold other credentials too: servers not chosen with ``--server``, remote
    servers wrap cannot help, a URL's password, a client's own API key next to
    the servers. Those stay in the client's file (wrap says so); a backup must
    not make one more copy of them. Each
    credential becomes ``REDACTED``; should a pass still find one, the last
    pass redacts the whole value.
    """
    for attempt in range(3):
        document = parse(location.path, text)
        changes = _redactions(document, location, adapter, auditor, whole=attempt == 2)
        if not changes:
            break
        text = edit.apply(document, changes)
        edit.verify(text, document.format, location.path, changes)
    return _without_hidden(text, location, auditor)


def _without_hidden(text: str, location: ConfigLocation, auditor: Auditor) -> str:
    """``text`` with every string a repeated key hides redacted, when it holds a credential.

    wrap refuses a repeated key on the way to the servers, but one elsewhere (a client's
    own ``"api_key"`` written twice) is no business of the run; the value it hides is
    still in the file, and no pointer reaches it, so it is replaced through its span.
    Only JSON and JSONC can repeat a key (TOML refuses one as a parse error).
    """
    document = parse(location.path, text)
    spans = [(node.start, node.end) for node in _hidden_credentials(document, auditor)]
    if not spans:
        return text
    out = text
    for start, end in sorted(set(spans), reverse=True):
        out = out[:start] + json.dumps(REDACTED) + out[end:]
    parse(location.path, out)  # still parses: only string literals were replaced
    return out


def _redactions(
    document: Document,
    location: ConfigLocation,
    adapter: ClientAdapter,
    auditor: Auditor,
    *,
    whole: bool,
) -> list[Change]:
    pointers = {k: p for k, (p, _) in pointer_index(document.root).items()}
    changes: list[Change] = []
    for node, spans in _credentials(document, location, adapter, auditor):
        value = str(node.value)
        last = len(value) + 1
        for start, end in sorted(spans, reverse=True):
            if end <= last:  # overlapping hits: the outer one covers it
                value = value[:start] + REDACTED + value[end:]
                last = start
        changes.append(Change("set", pointers[id(node)], REDACTED if whole else value))
    return changes


def _hidden_credentials(document: Document, auditor: Auditor) -> list[ScalarNode]:
    """Strings a repeated key hides that hold a credential (by name, or as a bare key)."""
    out: list[ScalarNode] = []
    for pointer, _key, value in shadowed_members(document.root):
        for child_pointer, node in pointer_index(value, pointer).values():
            if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
                continue
            near = next((p for p in reversed(child_pointer) if isinstance(p, str)), None)
            if auditor.detector.scan(node.value, near, "field") or auditor.detector.scan(
                node.value, None, "positional"
            ):
                out.append(node)
    return out


def secrets_in(
    document: Document, location: ConfigLocation, adapter: ClientAdapter, auditor: Auditor
) -> list[str]:
    """Every credential the detector finds in a file: a diff must hide them all.

    A diff's context lines show what does not change, and that may be another
    server's token or a credential wrap cannot move.
    """
    found = [
        str(node.value)[start:end]
        for node, spans in _credentials(document, location, adapter, auditor)
        for start, end in spans
    ]
    return found + [str(node.value) for node in _hidden_credentials(document, auditor)]


def _credentials(
    document: Document, location: ConfigLocation, adapter: ClientAdapter, auditor: Auditor
) -> list[tuple[ScalarNode, set[tuple[int, int]]]]:
    """Each string holding a credential, with the spans of its credentials."""
    index = pointer_index(document.root)
    grouped: dict[int, tuple[ScalarNode, set[tuple[int, int]]]] = {}
    in_servers: set[int] = set()
    entries = adapter.servers(document, location)
    # blocks the client does not read are scanned by audit-config all the same, with the
    # same rules (a bare positional key, a flag's value): the backup must pass that scan
    others = [entry for _, entry in other_blocks(document, Candidate(adapter, location), entries)]
    for entry in entries + others:
        in_servers.update(pointer_index(entry.node))
        for item, found in auditor.secret_hits(entry):
            hit = composite(item, found)
            span = (item.offset + hit.start, item.offset + hit.end)
            grouped.setdefault(id(item.node), (item.node, set()))[1].add(span)
    # the rest of the file (a client's own settings: Claude Code keeps an API key there)
    for key, (pointer, node) in index.items():
        if key in in_servers or not isinstance(node, ScalarNode):
            continue
        if not isinstance(node.value, str):
            continue
        name = next((p for p in reversed(pointer) if isinstance(p, str)), None)
        for hit in auditor.detector.scan(node.value, name, "field"):
            grouped.setdefault(key, (node, set()))[1].add((hit.start, hit.end))
    return list(grouped.values())


def execute_wrap(plans: list[FilePlan], store: SecretStore | None, index: SecretIndex) -> Outcome:
    """Store the secrets, then back up and write each changed file.

    ``store`` is None only where there is no keychain and nothing needs one
    (``--bind`` to password managers alone): a value to move is then refused.
    """
    outcome = Outcome()
    values: dict[str, str] = {}
    for plan in plans:
        for move in plan.moves:
            values.setdefault(move.name, move.value)
    for name, value in values.items():
        check_value(name, value)  # all refused before any is stored
    if store is None:
        if values or any("oauth_client" in s.record for p in plans for s in p.servers):
            raise SecretStoreError("no keychain to store the secrets in")
        _write_files(plans, outcome, _save_records)
        return outcome
    for name, value in values.items():
        try:
            current: str | None = store.get(name)
        except SecretNotFound:
            current = None
        if current == value:
            outcome.reused.append(name)
            continue
        store.set(name, value)
        if store.get(name) != value:
            raise SecretStoreError(f"secret '{name}' did not read back from {store.where}")
        index.touch(name)
        outcome.stored.append(name)
    _store_oauth_apps(plans, store)
    _write_files(plans, outcome, _save_records)
    return outcome


def _store_oauth_apps(plans: list[FilePlan], store: SecretStore) -> None:
    """Leave each OAuth app a bridged entry signed in with for ``mcpcred login URL``.

    Its secret went to the keychain as an ordinary secret (a move); the app itself is
    kept by the server's canonical URL, so a login to that server uses it without
    ``--client-id``. Written before the file, like the secrets: a failure leaves the
    file as it was.
    """
    from mcpcred.oauth import mcp

    for plan in plans:
        for server in plan.servers:
            app = server.record.get("oauth_client")
            if not isinstance(app, dict) or not plan.changed:
                continue
            url, client_id, secret = app.get("url"), app.get("client_id"), app.get("secret")
            scopes = app.get("scopes")
            wanted = [s for s in scopes if isinstance(s, str)] if isinstance(scopes, list) else []
            redirect = app.get("redirect_uri")
            if isinstance(url, str) and isinstance(client_id, str) and isinstance(secret, str):
                value = mcp.pending_value(
                    client_id, secret, wanted, redirect if isinstance(redirect, str) else None
                )
                store.set(mcp.pending_item(url), value)


def _write_files(
    plans: list[FilePlan], outcome: Outcome, after_write: Callable[[FilePlan], None]
) -> None:
    """Back up, then write, each changed file; ``after_write`` updates the wrap records."""
    backups = data_dir() / "backups"
    for plan in plans:
        if plan.changed:  # every file first: a refusal must come before the first write
            files.check_unchanged(plan.snapshot)
    for plan in plans:
        if not plan.changed:
            continue
        location = plan.location
        try:
            outcome.backups.append(
                files.backup(backups, location.client, location.path, plan.backup_text)
            )
            files.write(plan.snapshot, plan.new_text)
        except (McpcredError, OSError) as exc:
            raise _after_writes(exc, plan, outcome) from None
        after_write(plan)
        outcome.written.append(plan)


def _after_writes(exc: McpcredError | OSError, plan: FilePlan, outcome: Outcome) -> McpcredError:
    """The error of a failed write, saying which files were written before it.

    A run that stops half way must not read as "nothing happened": the files
    already written are wrapped (and their secrets stored), the rest are not.
    """
    if isinstance(exc, McpcredError):
        message, hint = exc.message, exc.hint
    else:
        message, hint = f"cannot write {plan.display}: {exc.strerror}", None
    if not outcome.written:
        return ConfigError(message, hint=hint)
    done = ", ".join(p.display for p in outcome.written)
    return ConfigError(
        f"{message}; already written: {done} (those are done; the others were not changed)",
        hint=hint or "fix the cause and run the command again: it continues where it stopped",
    )


# -- adding a remote server as a bridge entry (Claude Desktop) ------------------------------
_SCHEMES = ("Bearer ", "Basic ", "Token ", "token ", "bearer ")


def plan_add_remote(
    adapter: ClientAdapter,
    host: Host,
    *,
    config: str | None,
    name: str,
    url: str,
    headers: list[tuple[str, str]],
    secret_header: tuple[str, str] | None,
    oauth: bool,
    transport: str,
    allow_http: bool,
    settings: ShimSettings,
    namer: SecretNamer,
) -> list[FilePlan]:
    """Plan a new bridge entry for a remote server (``wrap claude-desktop --remote``).

    Claude Desktop reads no remote entries from its file; a stdio entry running
    the bridge is how it reaches one. The URL and plain headers come from the
    command line, so they must not hold a credential (they would be in the shell's
    history); a secret header value comes from stdin or a prompt (``secret_header``)
    and goes to the keychain; ``oauth`` uses the login of the same name.
    """
    from mcpcred.wrap import bridge

    if adapter.id != "claude-desktop":
        raise UsageError(
            "--remote adds servers to Claude Desktop only",
            hint=f"{adapter.display_name} has remote entries of its own: add the server "
            f"there, then run `mcpcred wrap {adapter.id}` to move its credentials",
        )
    if not references.valid_name(name):
        raise UsageError(
            f"--name {name!r}: use lower-case letters, digits, '.', '_' and '-' (1-64)",
            hint="it names the entry, and the login a bridge with --oauth uses",
        )
    if transport not in bridge.TRANSPORTS:
        raise UsageError(f"--transport {transport!r}: choose auto, http or sse")
    if not re.match(r"^https?://[^/?#\s]+", url, re.IGNORECASE):
        raise UsageError("--remote needs an http:// or https:// URL")
    if bridge.needs_allow_http(url) and not allow_http:
        raise UsageError(
            "the URL is plain http:// to another host: the credential would travel unencrypted",
            hint="use https://, or pass --allow-http if you accept that",
        )
    auditor = Auditor(host)
    if auditor.detector.scan(url, None, "url"):
        raise UsageError(
            "the URL holds a credential, and a command line ends up in shell history and "
            "process lists; rotate it",
            hint='put the server in the file as {"url": ...} by hand and run `mcpcred wrap '
            "claude-desktop`, which moves the URL's credential to the keychain",
        )
    for header, value in headers:
        if auditor.detector.scan(value, header, "header"):
            raise UsageError(
                f"--header {header}: its value looks like a credential, and a command line "
                "ends up in shell history and process lists; rotate it",
                hint=f"pass it on stdin instead: --header-from-stdin {header}",
            )
    plan = ServerPlan(name, "wrap")
    all_headers = list(headers)
    if secret_header is not None:
        header, value = secret_header
        scheme = next((p for p in _SCHEMES if value.startswith(p) and len(value) > len(p)), "")
        secret = value[len(scheme) :]
        hits = auditor.detector.scan(secret, header, "header")
        kind = hits[0].kind if len(hits) == 1 and hits[0].secret == secret else "generic-secret"
        stored = namer(secret, kind, name, header)
        plan.moves.append(Move(stored, secret, name, f"header {header}", kind))
        reference = references.embedded(stored) if scheme else references.whole(stored)
        all_headers.append((header, scheme + reference))
    if oauth:
        if any(h.lower() == "authorization" for h, _ in all_headers):
            raise UsageError("--oauth sets the Authorization header: do not pass one too")
        login = bridge.login_name(name)
        all_headers.append(("Authorization", "Bearer " + references.embedded(login, "oauth")))
        plan.notes.append(
            f"signs in with OAuth through mcpcred's login '{login}': run "
            f"`mcpcred login {shlex.quote(url)} --name {login}` before restarting Claude Desktop"
        )
    prefix = settings.args(name, adapter.id)[:-1]
    entry = {
        "command": settings.executable,
        "args": bridge.argv(prefix, url, all_headers, transport, allow_http=allow_http),
    }
    candidates = locations(adapter, host, config)
    if not candidates:
        raise UsageError(
            f"no config file of {adapter.display_name} was found",
            hint="start Claude Desktop once (Settings > Developer > Edit Config creates it), "
            "or name one with --config FILE",
        )
    location = candidates[0]
    snapshot = files.read(location.path)
    document = snapshot.document
    servers = document.root.get("mcpServers")
    if isinstance(servers, ObjectNode):
        if name in servers:
            raise UsageError(
                f"{adapter.display_name} already has a server named {name!r}",
                hint="choose another --name, or run `mcpcred wrap claude-desktop` to move the "
                "credentials of the one that is there",
            )
        change = Change("add", ("mcpServers", name), entry)
    elif servers is None:
        change = Change("add", ("mcpServers",), {name: entry})
    else:
        raise ConfigError(f"{location.path}: mcpServers is not an object; not rewritten")
    plan.changes.append(change)
    plan.notes.insert(0, f"a local (stdio) entry running the mcpcred bridge to {_origin_of(url)}")
    new_text = edit.apply(document, [change])
    edit.verify(new_text, document.format, location.path, [change])
    files.check_writable(snapshot)
    shown = display_path(location.path, host)
    original = document.source.text
    return [
        FilePlan(
            location,
            shown,
            snapshot,
            [plan],
            new_text,
            without_secrets(original, location, adapter, auditor),
            secrets_in(document, location, adapter, auditor),
        )
    ]


def _origin_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host}"


# -- unwrap ------------------------------------------------------------------------------
def plan_unwrap(
    adapter: ClientAdapter,
    host: Host,
    *,
    config: str | None,
    servers: list[str],
    restore_secrets: bool,
    store: SecretStore | None,
) -> list[FilePlan]:
    """Plan restoring every wrapped server's own command (and, if asked, secret values)."""
    records = _load_records()

    def plan_entry(entry: ServerEntry, real: str) -> ServerPlan:
        path = os.path.abspath(entry.location.path)  # the key of records before 0.x
        mine = records.get(real) or records.get(path) or {}
        return _unwrap_entry(entry, mine.get(entry.name, {}), restore_secrets, store)

    # the backup is the wrapped file as it is: it holds references, not values
    return _plan_files(
        adapter, host, config, servers, plan_entry, lambda document, _: document.source.text
    )


def execute_unwrap(plans: list[FilePlan], store: SecretStore | None = None) -> Outcome:
    """Back up and write each changed file; then forget the OAuth apps no entry needs.

    ``store`` (the platform's keychain when None) is only opened when an unwrapped entry
    had left an OAuth app for ``mcpcred login``.
    """
    outcome = Outcome()
    _write_files(plans, outcome, _forget_records)
    outcome.forgotten_apps, outcome.kept_apps = _forget_oauth_apps(outcome.written, store)
    return outcome


def _forget_oauth_apps(
    written: list[FilePlan], store: SecretStore | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """Delete the OAuth app kept for a server (``oauth-client-for:URL``) once no wrapped
    entry signs in with it any more.

    An entry unwrapped back to its own app block (``--restore-secrets``) signs in with
    it itself again, so the app kept for ``mcpcred login`` is pointless, and a stale one
    would be taken by a later login to that server before anything else. An entry of
    another client or file still bridged to the same server keeps it. The app's secret is
    an ordinary secret and stays (``mcpcred secret rm`` removes it); so does a login made
    with the app, which holds its own copy of the client.
    """
    from mcpcred.oauth import mcp

    dropped: dict[str, str] = {}
    for plan in written:
        for server in plan.servers:
            app = server.record.get("oauth_client")
            url = app.get("url") if isinstance(app, dict) else None
            if server.changes and isinstance(url, str):
                dropped[mcp.pending_item(url)] = url
    if not dropped:
        return [], []
    records: object = _load_records()
    for servers in records.values() if isinstance(records, dict) else ():
        for record in servers.values() if isinstance(servers, dict) else ():
            app = record.get("oauth_client") if isinstance(record, dict) else None
            url = app.get("url") if isinstance(app, dict) else None
            if isinstance(url, str):
                dropped.pop(mcp.pending_item(url), None)  # still used by another entry
    if not dropped:
        return [], []
    # The files are written by now: a keychain that cannot delete is said, not raised
    # (the run must not read as failed), and the stale app is only ever a client id.
    forgotten: list[str] = []
    kept: list[tuple[str, str]] = []
    for name, url in dropped.items():
        try:
            store = store if store is not None else SecretStore()
            with contextlib.suppress(SecretNotFound):
                store.delete(name)
        except McpcredError as exc:
            kept.append((url, exc.message))
        else:
            forgotten.append(url)
    return forgotten, kept


def _unwrap_entry(
    entry: ServerEntry,
    record: dict[str, object],
    restore_secrets: bool,
    store: SecretStore | None,
) -> ServerPlan:
    index = pointer_index(entry.node, entry.pointer)
    pointers = {key: pointer for key, (pointer, _) in index.items()}
    plan = ServerPlan(entry.name, "unwrap")
    adapter = BY_ID.get(entry.client)
    helper_key = (adapter.header_helper if adapter else None) or ""
    helper = entry.node.get(helper_key) if helper_key else None
    original = record.get("original")
    helped = record.get("headers_helper") and isinstance(helper, ScalarNode)
    if isinstance(original, dict) and "value" in original and (is_wrapped(entry) or helped):
        moved = _url_moved(entry, original["value"], adapter)
        if moved:
            plan.status = "kept"
            plan.notes.append(
                f"its URL was changed since wrap ({moved}); unwrap would write back the entry "
                "as it was before wrap and undo that: edit it by hand"
            )
            return plan
        text = original.get("text")
        plan.changes.append(
            Change(
                "set",
                entry.pointer,
                original["value"],
                text=text if isinstance(text, str) else None,
            )
        )
    elif entry.transport == "stdio" and is_wrapped(entry) and "--url" in entry.arg_texts():
        plan.status = "kept"
        plan.notes.append(
            "it runs the mcpcred bridge, and mcpcred has no record of the entry it replaced "
            "(added with `mcpcred wrap claude-desktop --remote`, or the record is gone); "
            "edit it by hand, or remove it"
        )
        return plan
    elif entry.transport == "stdio" and is_wrapped(entry):
        _restore_command(entry, record, plan, pointers)
    elif record.get("headers_helper") and isinstance(helper, ScalarNode):
        _restore_headers(entry, helper_key, str(helper.value), record, plan, pointers)
    app = record.get("oauth_client")
    if isinstance(app, dict):  # unwrap forgets the app kept for login if it restores the entry
        plan.record["oauth_client"] = app
    if restore_secrets and store is not None:
        _restore_values(entry, plan, index, store)
    elif plan.changes:
        left = _references_after(plan.changes, index)
        if left:
            # started directly, the server would get the text "mcpcred:secret/..."
            plan.changes = []
            plan.status = "kept"
            plan.notes.append(
                f"kept on mcpcred: it still needs {', '.join(left)}, which only mcpcred "
                "resolves; --restore-secrets writes the values back into the file"
            )
            return plan
    if not plan.changes:
        plan.status = "not-wrapped"
    return plan


def _url_moved(entry: ServerEntry, before: object, adapter: ClientAdapter | None) -> str:
    """How a bridge entry's ``--url`` differs from the URL its recorded entry had ("" if not).

    The record gives back the entry as it was before wrap: an edit made to the bridge
    entry since (the server moved) would silently go. Both hold the same references,
    so any difference is an edit. Origins only: a URL may hold a reference's text.
    """
    args = entry.arg_texts()
    if "--url" not in args or not isinstance(before, dict) or adapter is None:
        return ""
    now = args[args.index("--url") + 1] if args.index("--url") + 1 < len(args) else ""
    was = next((before[k] for k in adapter.url_keys if isinstance(before.get(k), str)), None)
    if was is None or was == now:
        return ""
    old, new = _origin_of(str(was)), _origin_of(now)
    return f"{old} -> {new}" if old != new else f"another path or query at {new}"


def _references_after(
    changes: list[Change], index: dict[int, tuple[tuple[str | int, ...], Node]]
) -> list[str]:
    """The references an entry still holds once ``changes`` are applied."""
    touched = [c.pointer for c in changes]
    found: list[tuple[str, str]] = []
    for pointer, node in index.values():
        if any(pointer[: len(t)] == t for t in touched):
            continue
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            found.extend(references.find_all(node.value))
    stack = [c.value for c in changes if c.op in ("set", "add")]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            found.extend(references.find_all(value))
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
    return [references.whole(name, kind) for kind, name in dict.fromkeys(found)]


def _restore_command(
    entry: ServerEntry,
    record: dict[str, object],
    plan: ServerPlan,
    pointers: dict[int, tuple[str | int, ...]],
) -> None:
    args = [a.to_python() for a in entry.args]
    split = args.index("--") if "--" in args else -1
    original = args[split + 1 :]
    if split < 0 or not original or not isinstance(original[0], str):
        plan.status = "unwrappable"
        plan.notes.append("its shim arguments have no command after `--`")
        return
    if entry.command is None:
        return
    removed = _undo_binds(entry, record, plan, pointers)
    removed += _undo_docker_env(entry, record, original, plan, pointers)
    env = _holder(entry).get(_env_key(entry))
    made_env = bool(removed and record.get("env_absent"))
    if made_env and isinstance(env, ObjectNode) and removed == len(env.members):
        # mcpcred made the env object: take it away whole
        plan.changes = [c for c in plan.changes if c.pointer[:-1] != pointers[id(env)]]
        plan.changes.append(Change("remove", pointers[id(env)]))
    adapter = BY_ID.get(entry.client)
    if adapter is not None and adapter.argv_command:
        # one argv array (opencode): it gets the original argv back whole
        plan.changes.append(Change("set", pointers[id(entry.command)][:-1], original))
    else:
        plan.changes.append(Change("set", pointers[id(entry.command)], original[0]))
    args_holder = next(
        (
            h
            for h in (_holder(entry), entry.node.get("command"))
            if isinstance(h, ObjectNode) and isinstance(h.get("args"), ArrayNode)
        ),
        None,
    )
    if args_holder is not None:
        args_node = args_holder.get("args")
        if args_node is None:
            return
        if record.get("args_absent") and len(original) == 1:
            plan.changes.append(Change("remove", pointers[id(args_node)]))
        else:
            plan.changes.append(Change("set", pointers[id(args_node)], original[1:]))
    added = record.get("codex_env_vars_added")
    env_vars = entry.node.get("env_vars")
    if isinstance(added, list) and isinstance(env_vars, ArrayNode):
        kept = [v.to_python() for v in env_vars.items if v.to_python() not in added]
        if not kept and record.get("codex_env_vars_absent"):
            plan.changes.append(Change("remove", pointers[id(env_vars)]))
        else:
            plan.changes.append(Change("set", pointers[id(env_vars)], kept))
    timeout = entry.node.get("timeout")
    if record.get("cline_timeout_added") and timeout is not None:
        plan.changes.append(Change("remove", pointers[id(timeout)]))
    if "codex_startup_timeout_sec" in record:
        timeout = entry.node.get("startup_timeout_sec")
        previous = record["codex_startup_timeout_sec"]
        if timeout is not None:
            if previous is None:
                plan.changes.append(Change("remove", pointers[id(timeout)]))
            else:
                plan.changes.append(Change("set", pointers[id(timeout)], previous))


def _env_key(entry: ServerEntry) -> str:
    """The key of the entry's variables object wrap added to (``env``, opencode ``environment``)."""
    adapter = BY_ID.get(entry.client)
    return adapter.env_key if adapter is not None else "env"


def _holder(entry: ServerEntry) -> ObjectNode:
    """The object holding the entry's command, args and env (Cline: its ``transport``)."""
    adapter = BY_ID.get(entry.client)
    return adapter.stdio_holder(entry.node) if adapter is not None else entry.node


def _undo_binds(
    entry: ServerEntry,
    record: dict[str, object],
    plan: ServerPlan,
    pointers: dict[int, tuple[str | int, ...]],
) -> int:
    """Give ``--bind`` variables their earlier values back; returns how many were removed."""
    bound = record.get("bound")
    env = _holder(entry).get(_env_key(entry))
    if not isinstance(bound, dict) or not isinstance(env, ObjectNode):
        return 0
    removed = 0
    for variable, previous in bound.items():
        node = env.get(str(variable))
        if node is None:
            continue
        if previous is None:
            plan.changes.append(Change("remove", (*pointers[id(env)], str(variable))))
            removed += 1
        elif isinstance(previous, str):
            plan.changes.append(Change("set", pointers[id(node)], previous))
    return removed


def _undo_docker_env(
    entry: ServerEntry,
    record: dict[str, object],
    argv: list[object],
    plan: ServerPlan,
    pointers: dict[int, tuple[str | int, ...]],
) -> int:
    """Put ``-e NAME`` + ``env.NAME`` back together as ``-e NAME=value`` (in ``argv``)."""
    names = record.get("docker_env")
    env = _holder(entry).get(_env_key(entry))
    if not isinstance(names, list) or not isinstance(env, ObjectNode):
        return 0
    moved = 0
    for name in names:
        value = env.get(str(name))
        if not isinstance(value, ScalarNode) or not isinstance(value.value, str):
            continue
        for i, arg in enumerate(argv):
            flagged = i > 0 and argv[i - 1] in ("-e", "--env") and arg == name
            if flagged or arg == f"--env={name}":
                found = references.find(value.value)
                text = value.value
                if len(found) == 1 and text == references.whole(found[0][1], found[0][0]):
                    text = references.embedded(found[0][1], found[0][0])
                argv[i] = f"{arg}={text}"
                moved += 1
                plan.changes.append(Change("remove", (*pointers[id(env)], str(name))))
                break
    return moved


def _restore_headers(
    entry: ServerEntry,
    helper_key: str,
    helper: str,
    record: dict[str, object],
    plan: ServerPlan,
    pointers: dict[int, tuple[str | int, ...]],
) -> None:
    try:
        words = shlex.split(helper)
    except ValueError:
        plan.notes.append("its headersHelper is not a command mcpcred wrote")
        return
    headers: dict[str, str] = {}
    for flag, value in itertools.pairwise(words):
        if flag == "--header":
            name, _, rest = value.partition(":")
            headers[name.strip()] = rest.strip()
    if not headers:
        return
    plan.changes.append(Change("remove", (*entry.pointer, helper_key)))
    headers_key = "http_headers" if entry.client == "codex" else "headers"
    existing = entry.node.get(headers_key)
    if isinstance(existing, ObjectNode):
        merged = {**existing.to_python(), **headers}
        order = record.get("header_order")
        rank = {n: i for i, n in enumerate(order)} if isinstance(order, list) else {}
        ordered = dict(sorted(merged.items(), key=lambda kv: rank.get(kv[0], len(rank))))
        plan.changes.append(Change("set", pointers[id(existing)], ordered))
    else:
        plan.changes.append(Change("add", (*entry.pointer, headers_key), headers))


def _restore_values(
    entry: ServerEntry,
    plan: ServerPlan,
    index: dict[int, tuple[tuple[str | int, ...], Node]],
    store: SecretStore,
) -> None:
    """Put secret values back in place of references (``--restore-secrets``)."""
    planned = {c.pointer: c for c in plan.changes}

    def value_of(kind: str, name: str) -> str:
        if kind != references.SECRET:
            return references.whole(name, kind)
        value = store.get(name)
        plan.revealed.append(value)
        return value

    for pointer, node in index.values():
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
            continue
        if not references.find(node.value) or any(pointer[: len(p)] == p for p in planned):
            continue  # inside a value another change rewrites anyway
        restored = references.substitute(node.value, value_of)
        change = Change("set", pointer, restored)
        plan.changes.append(change)
    for change in plan.changes:
        if change.op in ("set", "add"):
            change.value = _substituted(change.value, value_of)
        if change.text is not None:
            change.text = _substituted_text(change.text, value_of)


def _substituted(value: object, lookup: Callable[[str, str], str]) -> object:
    """``value`` with every reference in its strings, at any depth, replaced by ``lookup``."""
    if isinstance(value, str):
        return references.substitute(value, lookup)
    if isinstance(value, list):
        return [_substituted(v, lookup) for v in value]
    if isinstance(value, dict):
        return {k: _substituted(v, lookup) for k, v in value.items()}
    return value


_WHOLE_IN_TEXT = re.compile(
    r"(?<=[\"'])mcpcred:(?P<kind>[a-z]+)/(?P<name>" + references.NAME_PATTERN
    + r"(?:/" + references.NAME_PATTERN + r")?)(?=[\"'])"
)  # fmt: skip


def _substituted_text(text: str, lookup: Callable[[str, str], str]) -> str:
    """A config text with the references inside its string literals replaced by values,
    escaped as JSON (which TOML basic strings read the same); a value that does not read
    back right makes the edit fall back to rendering the value (see ``edit``)."""

    def escaped(kind: str, name: str) -> str:
        return json.dumps(lookup(kind, name), ensure_ascii=False)[1:-1]

    text = references.substitute("x" + text, escaped)[1:] if "{{mcpcred:" in text else text
    return _WHOLE_IN_TEXT.sub(lambda m: escaped(m["kind"], m["name"]), text)


# -- helpers -----------------------------------------------------------------------------
def _chosen(entry: ServerEntry, servers: list[str]) -> bool:
    return not servers or entry.name in servers


def _check_servers(servers: list[str], seen: set[str], adapter: ClientAdapter) -> None:
    missing = [s for s in servers if s not in seen]
    if missing:
        raise UsageError(
            f"no server named {', '.join(repr(m) for m in missing)} in {adapter.display_name}'s "
            "config",
            hint=f"see `mcpcred status` for the servers of {adapter.id}",
        )


def _refuse_repeated_keys(document: Document, patterns: tuple[Pointer, ...], path: str) -> None:
    """Refuse a file whose servers repeat a key (``"TOKEN": "ghp_…", "TOKEN": "x"``).

    A parser keeps only the last value, so the first one (often the real token)
    is invisible to planning: it would stay in the file and in the backup while
    wrap said the server was done. Nothing can be moved safely until one goes.
    That holds inside a server, for a server's name, and for any key on the way
    to the servers (``"mcpServers"`` twice hides a whole list of them).
    """
    if document.format == "toml":
        return  # TOML forbids repeated keys: the parser has refused them already
    for pointer, node in pointer_index(document.root).values():
        if not isinstance(node, ObjectNode):
            continue
        for key, _ in node.replaced:
            member = (*pointer, key.name)
            inside = next((p for p in patterns if _matches(p, member[: len(p)])), None)
            on_the_way = any(_matches(p[: len(member)], member) for p in patterns)
            if inside is None and not on_the_way:
                continue
            line, column = document.source.position(key.start)
            where = member[len(inside) :] if inside is not None else ()
            if document.format == "shell" and len(where) == 1:  # a crushrc
                raise ConfigError(
                    f"{path}:{line}:{column}: `mcp add {key.name}` appears more than once; "
                    "Crush merges the commands into one server, and mcpcred wraps a server "
                    "only when one command defines it",
                    hint="merge them into one `mcp add`, then run again",
                )
            what = (
                f" of server '{where[0]}'"
                if len(where) > 1
                else (" in the servers" if where else "")
            )
            raise ConfigError(
                f"{path}:{line}:{column}: the key '{key.name}'{what} appears more than once; "
                "clients use only the last value, so mcpcred cannot see (move or restore) "
                "the others",
                hint="keep one of them (rotate the other if it is a credential), then run again",
            )


def _matches(pattern: Pointer, pointer: Pointer) -> bool:
    """Whether ``pointer`` is ``pattern`` with its ``*`` segments filled in."""
    return len(pattern) == len(pointer) and all(
        p in (WILDCARD, q) for p, q in zip(pattern, pointer, strict=True)
    )


def _records_path() -> Path:
    return data_dir() / RECORDS


def _load_records() -> dict[str, dict[str, dict[str, object]]]:
    try:
        data = json.loads(_records_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _record_key(plan: FilePlan) -> str:
    """Records are kept under the real file's path: a link and its target are one file."""
    old = os.path.abspath(plan.location.path)
    return plan.snapshot.real or old


def _save_records(plan: FilePlan) -> None:
    records = _load_records()
    path = _record_key(plan)
    older = records.pop(os.path.abspath(plan.location.path), None)
    mine = records.setdefault(path, older or {})
    for server in plan.servers:
        if server.status == "wrap" and server.record:
            earlier = mine.get(server.name)
            if server.rewrap and isinstance(earlier, dict):
                mine[server.name] = _merge_record(earlier, server.record)
            else:
                mine[server.name] = server.record
    if not mine:
        records.pop(path, None)
    atomic_write(str(_records_path()), json.dumps(records, indent=2) + "\n")


def _merge_record(earlier: dict[str, object], later: dict[str, object]) -> dict[str, object]:
    """A second wrap of a wrapped server adds to what the first one recorded.

    Unwrap must give back the file as it was before the *first* wrap: so the
    first record's entries win, and a variable bound twice keeps the value it
    had before the first ``--bind``.
    """
    merged = {**later, **earlier}
    bound_before, bound_now = earlier.get("bound"), later.get("bound")
    if isinstance(bound_before, dict) and isinstance(bound_now, dict):
        merged["bound"] = {**bound_now, **bound_before}
    return merged


def _forget_records(plan: FilePlan) -> None:
    records = _load_records()
    path = _record_key(plan)
    older = records.pop(os.path.abspath(plan.location.path), None)
    mine = records.setdefault(path, older or {})
    for server in plan.servers:
        if server.changes:
            mine.pop(server.name, None)
    if not mine:
        records.pop(path, None)
    atomic_write(str(_records_path()), json.dumps(records, indent=2) + "\n")


__all__ = [
    "FilePlan",
    "Outcome",
    "SecretNamer",
    "adapter_for",
    "execute_unwrap",
    "execute_wrap",
    "plan_unwrap",
    "plan_wrap",
    "shim_settings",
]
