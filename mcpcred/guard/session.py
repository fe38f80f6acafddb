"""One MCP session as the guard sees it: what to forward, refuse, rewrite and record.

The relay (``relay.py``) owns the processes and the bytes; this class owns the
decisions, and touches no file descriptor, so every rule can be tested with
plain lines. It sees whole newline-delimited messages, one at a time, from
either side, and answers with what goes where:

- anything the policy allows goes on **unchanged, byte for byte**, including
  messages it does not understand (batches, unknown methods, lines that are
  not JSON, which are recorded as such): a guard that re-serialises would
  change numbers, key order and escapes under servers that care;
- a ``tools/call`` of a refused tool is answered here, as a tool error result
  naming the policy, and never reaches the server;
- a ``tools/list`` answer loses the refused tools (and, with
  ``on_change = "block"``, the tools whose definitions changed since they
  were pinned): only then is a message re-serialised;
- requests are timed from the client's message to the server's answer and
  recorded with their arguments (the recorder redacts them, off the relay's threads).

Large answers (a 50 MB tool result) are not parsed at all when their id can
be read from their first or last bytes: the guard only needs the id, and the
JSON decoder would cost more than the relay itself.
"""

from __future__ import annotations

import json
import re
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from mcpcred.guard.pins import PinStore
    from mcpcred.guard.settings import ServerGuard

SERVER_ERROR = -32000
BIG = 256 * 1024  # answers larger than this are peeked at, not parsed, when possible
MAX_PENDING = 10_000
MAX_MALFORMED_RECORDS = 20
MAX_CHAINS = 8  # paged tools/list listings followed at once (their cursors)
MAX_NAMED = 100  # tool names in one warning or record
_AUDITED = frozenset({"tools/call", "resources/read", "prompts/get", "initialize"})
_ID = r'(-?\d+|"(?:[^"\\]|\\.)*")'
_HEAD = re.compile(
    rb'\A\s*\{\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*'
    + _ID.encode()
    + rb'\s*,\s*"(result|error)"\s*:'
)
_HEAD_RESULT = re.compile(rb'\A\s*\{\s*"(result|error)"\s*:')
_TAIL = re.compile(rb',\s*"jsonrpc"\s*:\s*"2\.0"\s*,\s*"id"\s*:\s*' + _ID.encode() + rb"\s*\}\s*\Z")
_IS_ERROR = re.compile(rb'"isError"\s*:\s*true')
_DROP: dict[str, object] = {}  # "say nothing to the client" from _server_message
_UNREADABLE = object()  # a line that is not JSON (for Python's parser, at least)
PARSE_ERROR = -32700


def _key(request_id: object) -> tuple[str, object]:
    """Ids 1 and "1" are different requests; an invalid id (a list...) is still a key."""
    if isinstance(request_id, list | dict):
        return ("json", json.dumps(request_id, sort_keys=True))
    return (type(request_id).__name__, request_id)


def dumps(message: object) -> bytes:
    """A message as one line, the way MCP SDKs write them."""
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def tool_error(request_id: object, text: str) -> bytes:
    """A ``tools/call`` answer the model can read: a result with ``isError``."""
    return dumps(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "result": {"content": [{"type": "text", "text": text}], "isError": True},
        }
    )


def rpc_error(request_id: object, text: str, code: int = SERVER_ERROR) -> bytes:
    """A JSON-RPC error answer (for requests that are not tool calls)."""
    return dumps({"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": text}})


class Pending:
    """A client request waiting for the server's answer."""

    __slots__ = ("arguments", "cursor", "method", "request_id", "started", "target")

    def __init__(
        self, method: str, request_id: object, target: str | None, arguments: object, cursor: object
    ) -> None:
        self.method = method
        self.request_id = request_id
        self.target = target  # tool or prompt name, resource URI
        self.arguments = arguments
        self.cursor = cursor  # tools/list: the cursor of a page after the first (else None)
        self.started = time.monotonic()


class Session:
    """The guard's state for one client connection (it survives a server restart)."""

    def __init__(
        self,
        settings: ServerGuard,
        *,
        client: str | None,
        record: Callable[[dict[str, object]], None],
        warn: Callable[[str], None],
        pins: PinStore | None = None,
        durable: Callable[[dict[str, object]], str | None] | None = None,
    ) -> None:
        self.settings = settings
        # Writes a record to the file before returning: None, or why it could not.
        self.durable = durable
        self.server = settings.server
        self.client = client
        self.record = record
        self.warn = warn
        self.pins = pins if settings.pin else None
        self.pending: dict[tuple[str, object], Pending] = {}
        self.client_name: str | None = None
        self.initialize: bytes | None = None  # the client's, replayed after a restart
        self.initialized: bytes | None = None
        # Blocks (on_change = "block"). A listing in this session can add to them,
        # never lift them: a later page or listing cannot undo what an earlier one found.
        self.withheld: set[str] = set()  # drifted tools, hidden until `mcpcred pins accept`
        self.unpinned: set[str] = set()  # tools beyond the pin store's bounds
        self.held_at_start: set[str] = set()  # pending before this session listed them
        self.store_problem: str | None = None  # the pins cannot be read or written
        self.unchecked = False  # block mode, and the last tool list could not be read
        self.capabilities: object = None  # the client's, from initialize
        self._chains: dict[str, tuple[frozenset[str], bool]] = {}  # next cursor -> listing so far
        self._reported: set[tuple[str, str]] = set()  # (change, tool) warned about
        self._replay: tuple[tuple[str, object], threading.Event] | None = None
        self._malformed = 0
        if self.pins is not None and settings.on_change == "block":
            self._pending_changes()

    @property
    def pin_client(self) -> str:
        """The key this client's pins are kept under (``pins.client_key``)."""
        from mcpcred.guard.pins import client_key

        return client_key(self.client, self.client_name, self.capabilities)

    def _pending_changes(self) -> None:
        """Tools already waiting for ``pins accept``: refused before any ``tools/list``.

        A client that kept its tool list from an earlier session may call a
        tool without listing again; the block must not depend on it listing.
        Read at the start (for any client of this name) and again at
        ``initialize``, when the client's capabilities make its key.
        """
        from mcpcred.errors import McpcredError

        assert self.pins is not None  # noqa: S101
        try:
            self.held_at_start = self.pins.pending_names(self.server, self.pin_client)
        except McpcredError as exc:
            self._store_failed(exc.message)
        except Exception as exc:  # a bug must withhold tools, not pass them unchecked
            self._store_failed(f"reading them failed ({type(exc).__name__})")

    def _store_failed(self, message: str) -> None:
        """The pins cannot be used: in block mode every tool is withheld, else a warning."""
        block = self.settings.on_change == "block"
        if block and self.store_problem is None:
            self.store_problem = message
        if ("store", message) in self._reported:
            return
        self._reported.add(("store", message))
        what = (
            "every tool is withheld and every call refused for this session"
            if block
            else 'tools pass unchecked (on_change = "warn")'
        )
        self.warn(f"cannot check the pinned tool definitions: {message}; {what}")
        self.record(
            {
                "event": "pins",
                "outcome": "blocked" if block else "warned",
                "detail": f"pins unusable: {message}"[:1000],
            }
        )

    # -- client -> server ------------------------------------------------------------
    def from_client(self, line: bytes) -> tuple[bytes | None, bytes | None]:
        """``(to_server, to_client)`` for one line from the client."""
        message = self._parse(line)
        if message is _UNREADABLE:
            if self.enforcing:
                return None, self._unreadable_request(len(line))
            self._passed_unreadable("client", len(line))
            return line, None
        if isinstance(message, dict):
            answer = self._client_message(message, line)
            return (None, answer) if answer is not None else (line, None)
        if isinstance(message, list) and message:
            kept: list[object] = []
            answers: list[bytes] = []
            for item in message:
                answer = self._client_message(item, None) if isinstance(item, dict) else None
                if answer is None:
                    kept.append(item)
                else:
                    answers.append(answer)
            if not answers:
                return line, None
            return (dumps(kept) if kept else None), b"".join(answers)
        return line, None

    def _client_message(self, message: dict[str, object], line: bytes | None) -> bytes | None:
        """Track one client message; a refusal to send back instead of forwarding it."""
        method = message.get("method")
        if not isinstance(method, str):
            return None  # an answer to a server request (sampling, roots...): not ours
        if "id" not in message:
            if method == "notifications/initialized" and line is not None:
                self.initialized = line
            elif method == "notifications/cancelled":
                self._cancelled(message.get("params"))
            return None
        request_id = message["id"]
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "initialize":
            info = params.get("clientInfo")
            if isinstance(info, dict) and isinstance(info.get("name"), str):
                self.client_name = str(info["name"])[:200]
            if line is not None:
                self.initialize = line
            capabilities = params.get("capabilities")
            self.capabilities = capabilities if isinstance(capabilities, dict) else {}
            if self.pins is not None and self.settings.on_change == "block":
                self._pending_changes()  # now for this client's own key
        target: str | None = None
        arguments: object = None
        if method in ("tools/call", "prompts/get"):
            name = params.get("name")
            target = name if isinstance(name, str) else None
            arguments = params.get("arguments")
        elif method == "resources/read":
            uri = params.get("uri")
            target = uri if isinstance(uri, str) else None
        if method == "tools/call" and target is not None:
            reason = self.refusal(target)
            if reason is not None:
                return self._deny(request_id, target, arguments, reason)
        if method in _AUDITED and self.durable is not None:
            refused = self._record_request(method, request_id, target, arguments)
            if refused is not None:
                return refused
        # Every request is tracked: one the server never answers still gets an answer.
        if len(self.pending) >= MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
        cursor = params.get("cursor") if method == "tools/list" else None
        self.pending[_key(request_id)] = Pending(method, request_id, target, arguments, cursor)
        return None

    @property
    def enforcing(self) -> bool:
        """Whether anything can be refused: then lines the guard cannot read are not passed.

        A line Python's parser rejects (invalid UTF-8, nesting past its
        limit, a number with thousands of digits, JSON split over lines) may
        still be a valid request to a more lenient parser on the other side,
        such as a call to a refused tool. Without a policy, such lines pass.
        """
        return bool(self.settings.policies) or (
            self.pins is not None and self.settings.on_change == "block"
        )

    def _unreadable_request(self, size: int) -> bytes:
        self.record(
            {
                "event": "malformed",
                "outcome": "denied",
                "detail": f"a line from the client that is not JSON ({size} bytes): not "
                "forwarded, since a policy is in force",
            }
        )
        return rpc_error(
            None,
            f"mcpcred: server '{self.server}' is guarded, and this message is not valid JSON: "
            "not forwarded",
            PARSE_ERROR,
        )

    def _unreadable_listing(self) -> bytes:
        """A tools/list answer the guard cannot check must not reach the client unfiltered."""
        if self.pins is not None and self.settings.on_change == "block":
            self.unchecked = True
        answers = []
        for key, pending in list(self.pending.items()):
            if pending.method == "tools/list":
                del self.pending[key]
                answers.append(
                    rpc_error(
                        pending.request_id,
                        f"mcpcred: server '{self.server}' sent an answer that is not valid JSON "
                        "while a tool list was expected; it was not passed on",
                    )
                )
        self.record(
            {
                "event": "malformed",
                "outcome": "denied",
                "detail": "a line from the server that is not JSON while tools/list was pending: "
                "not passed on",
            }
        )
        return b"".join(answers)

    def refusal(self, tool: str) -> str | None:
        """Why a call to ``tool`` is refused (policy or an unaccepted definition change)."""
        reason = self.settings.refusal(tool)
        if reason is None and self.store_problem is not None:
            reason = (
                f"the pinned tool definitions cannot be used ({self.store_problem}), so no "
                "tool can be checked; fix or reset them (`mcpcred pins forget "
                f"{self.server}`) and restart the server"
            )
        if reason is None and tool in self.unpinned:
            from mcpcred.guard.pins import limits_note

            reason = (
                "the server offers more than mcpcred can pin, so this tool cannot be checked "
                f"({limits_note()})"
            )
        if reason is None and self.unchecked:
            reason = (
                "the server's tool list could not be read, so its definitions cannot be "
                "checked against the pins; calls wait for a tool list that can be"
            )
        if reason is None and (tool in self.withheld or tool in self.held_at_start):
            reason = (
                "its definition changed since it was pinned; review it with "
                f"`mcpcred pins diff {self.server}` and accept it with "
                f"`mcpcred pins accept {self.server}`"
            )
        return reason

    def _record_request(
        self, method: str, request_id: object, target: str | None, arguments: object
    ) -> bytes | None:
        """Write the request's record before it is forwarded; a refusal if that failed.

        Clients end servers hard (Codex: SIGTERM to the group, SIGKILL 20 ms
        later), so a record queued for later may never be written while the
        call it describes ran. This one is in the file before a byte goes to
        the server; the outcome follows as a ``call`` record with the same
        ``request_id`` (and the shim run's ``session``). If it cannot be
        written, the call does not run unless ``on_log_failure = "allow"``.
        """
        assert self.durable is not None  # noqa: S101
        entry: dict[str, object] = {**self._base(), "event": "request", "method": method}
        if target is not None:
            entry["uri" if method == "resources/read" else "tool"] = target
        if arguments is not None and self.settings.log_arguments:
            entry["arguments"] = arguments
        entry["request_id"] = request_id
        why = self.durable(entry)
        if why is None or self.settings.on_log_failure == "allow":
            return None
        text = (
            f"mcpcred: server '{self.server}' is guarded and its audit log cannot be written "
            f"({why}), so this request was not forwarded; fix the log, or set "
            f'on_log_failure = "allow" in [servers.{self.server}] to relay calls unrecorded'
        )
        return (
            tool_error(request_id, text) if method == "tools/call" else rpc_error(request_id, text)
        )

    def _deny(self, request_id: object, tool: str, arguments: object, reason: str) -> bytes:
        self._log_call(
            "tools/call", tool, arguments, "denied", reason=reason, request_id=request_id
        )
        return tool_error(
            request_id,
            f"mcpcred refused to call tool '{tool}' of server '{self.server}': {reason}.",
        )

    def _cancelled(self, params: object) -> None:
        if isinstance(params, dict) and "requestId" in params:
            pending = self.pending.pop(_key(params["requestId"]), None)
            if pending is not None and pending.method in _AUDITED:
                self._log_pending(pending, "cancelled", 0)

    # -- server -> client ------------------------------------------------------------
    def from_server(self, line: bytes) -> bytes | None:
        """What to send the client for one line from the server (None: nothing)."""
        listing = any(p.method == "tools/list" for p in self.pending.values())
        if len(line) > BIG and self.pending and not listing:
            peeked = _peek(line)
            if peeked is not None:
                request_id, is_error = peeked
                pending = self.pending.get(_key(request_id))
                if pending is None or pending.method != "tools/list":
                    if pending is not None:
                        del self.pending[_key(request_id)]
                        if pending.method in _AUDITED:
                            self._log_pending(pending, "error" if is_error else "ok", len(line))
                    return line
        message = self._parse(line)
        if message is _UNREADABLE:
            if listing and self.enforcing:
                return self._unreadable_listing()
            self._passed_unreadable("server", len(line))
            return line
        if isinstance(message, dict):
            rewritten = self._server_message(message, len(line))
            if rewritten is _DROP:
                return None
            return dumps(rewritten) if rewritten is not None else line
        if isinstance(message, list):
            changed = False
            items: list[object] = []
            for item in message:
                rewritten = (
                    self._server_message(item, len(line) // max(len(message), 1))
                    if isinstance(item, dict)
                    else None
                )
                changed = changed or rewritten is not None
                if rewritten is not _DROP:
                    items.append(rewritten if rewritten is not None else item)
            if not changed:
                return line
            return dumps(items) if items else None
        return line

    def _server_message(self, message: dict[str, object], size: int) -> dict[str, object] | None:
        """Account for one server message; a rewritten copy when it must change."""
        if "method" in message or "id" not in message:
            return None  # a notification or a request to the client
        if self._replay is not None and _key(message["id"]) == self._replay[0]:
            self._replay[1].set()
            self._replay = None
            return _DROP
        pending = self.pending.pop(_key(message["id"]), None)
        if pending is None:
            return None
        result = message.get("result")
        failed = "error" in message or (isinstance(result, dict) and result.get("isError") is True)
        if pending.method == "tools/list":
            return self._tools_list(message, pending)
        error = None
        problem = message.get("error")
        if isinstance(problem, dict):
            error = problem.get("message")
        if pending.method == "initialize":
            self._log_session(message, error, pending.request_id)
        elif pending.method in _AUDITED:
            self._log_pending(pending, "error" if failed else "ok", size, error=error)
        return None

    def _tools_list(self, message: dict[str, object], pending: Pending) -> dict[str, object] | None:
        result = message.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return None
        tools = [t for t in result["tools"] if isinstance(t, dict)]
        self._check_pins(tools, pending.cursor, result.get("nextCursor"))
        kept = [
            t for t in result["tools"] if not (isinstance(t, dict) and self._hidden(t.get("name")))
        ]
        if len(kept) == len(result["tools"]):
            return None
        return {**message, "result": {**result, "tools": kept}}

    def _hidden(self, name: object) -> bool:
        return isinstance(name, str) and self.refusal(name) is not None

    def _check_pins(
        self, tools: list[dict[str, object]], cursor: object, following: object
    ) -> None:
        """Check one page of a listing against the pins; add what drifted to the blocks.

        Pages are followed by cursor: the names of a listing's earlier pages
        let its last page tell which pinned tools are gone, and the client's
        first listing (the one that creates its pins) is pinned on every page.
        A page whose listing was not followed from its start never reports
        removals.
        """
        if self.pins is None:
            return
        from mcpcred.errors import McpcredError

        if not cursor:
            earlier: frozenset[str] | None = frozenset()
            first = False
        else:
            chain = self._chains.pop(str(cursor), None) if isinstance(cursor, str) else None
            earlier, first = chain if chain is not None else (None, False)
        names = [str(t["name"]) for t in tools if isinstance(t.get("name"), str)]
        last = not following
        try:
            about = {
                "client_id": self.client,
                "client_name": self.client_name,
                "capabilities": sorted(self.capabilities)
                if isinstance(self.capabilities, dict)
                else [],
            }
            drift = self.pins.observe(
                self.server,
                self.pin_client,
                list(tools),
                complete=last and earlier is not None,
                earlier=earlier or (),
                adopt_new=first,
                held=self.withheld,
                about=about,
            )
        except McpcredError as exc:
            self._store_failed(exc.message)
            return
        except Exception as exc:  # a bug must withhold tools, not pass them unchecked
            self._store_failed(f"checking them failed ({type(exc).__name__})")
            return
        if not last and isinstance(following, str) and earlier is not None:
            if len(self._chains) >= MAX_CHAINS:
                self._chains.pop(next(iter(self._chains)))
            self._chains[following] = (earlier.union(names), first or drift.created)
        self.unchecked = False
        block = self.settings.on_change == "block"
        changed = set(drift.added) | set(drift.changed)
        if block:
            self.withheld |= changed
            self.unpinned.update(drift.unpinned)
        # A tool pending at the start that this listing shows as pinned is no change now.
        self.held_at_start -= set(names) - changed - set(drift.unpinned)
        if drift.created or first:
            self._scan_hidden(tools)
        new = [
            (kind, name)
            for kind, listed in (
                ("changed", drift.changed),
                ("added", drift.added),
                ("removed", drift.removed),
                ("unpinned", drift.unpinned),
            )
            for name in listed
            if (kind, name) not in self._reported
        ]
        if not new:
            return
        self._reported.update(new)
        parts = [
            f"{label} {_named([name for kind, name in new if kind == key])}"
            for key, label in (
                ("changed", "changed"),
                ("added", "added"),
                ("removed", "removed"),
                ("unpinned", "too many or too large to pin"),
            )
            if any(kind == key for kind, _ in new)
        ]
        action = "withheld until accepted" if block else "passed through"
        self.warn(
            f"tool definitions differ from the pinned ones: {'; '.join(parts)} ({action}; "
            f"review: mcpcred pins diff {self.server})"
        )
        entry: dict[str, object] = {
            "event": "pins",
            "added": [name for kind, name in new if kind == "added"][:MAX_NAMED],
            "changed": [name for kind, name in new if kind == "changed"][:MAX_NAMED],
            "removed": [name for kind, name in new if kind == "removed"][:MAX_NAMED],
            "outcome": "blocked" if block else "warned",
        }
        unpinned = [name for kind, name in new if kind == "unpinned"]
        if unpinned:
            from mcpcred.guard.pins import limits_note

            entry["detail"] = (
                f"{len(unpinned)} tools not pinned ({limits_note()}): {_named(unpinned)}"
            )[:1000]
        self.record(entry)
        fresh = {name for kind, name in new if kind in ("changed", "added")}
        if not (drift.created or first):
            self._scan_hidden([t for t in tools if t.get("name") in fresh])

    def _scan_hidden(self, tools: list[dict[str, object]]) -> None:
        from mcpcred.guard.hidden import safe_text, scan_tool

        for tool in tools:
            findings = scan_tool(tool)
            if not findings:
                continue
            name = safe_text(str(tool.get("name")), 100)
            kinds = sorted({f.kind for f in findings})
            self.warn(
                f"tool '{name}' has hidden instructions in its definition: {', '.join(kinds)}"
            )
            self.record(
                {
                    "event": "finding",
                    "tool": name,
                    "detail": "; ".join(f"{f.kind} in {f.where}: {f.detail}" for f in findings)[
                        :1000
                    ],
                }
            )

    # -- the end of a server -------------------------------------------------------------
    def replay_started(self) -> threading.Event:
        """Expect the answer to a replayed ``initialize``: it is swallowed, the event set."""
        done = threading.Event()
        if self.initialize is not None:
            try:
                request_id = json.loads(self.initialize).get("id")
            except (ValueError, AttributeError):
                request_id = None
            self._replay = (_key(request_id), done)
        return done

    def abandon(self, why: str) -> bytes:
        """Error answers for every request the server will never answer now."""
        answers = []
        for pending in self.pending.values():
            answers.append(rpc_error(pending.request_id, f"mcpcred: server '{self.server}' {why}"))
            if pending.method in _AUDITED:
                self._log_pending(pending, "error", 0, error=why)
        self.pending.clear()
        return b"".join(answers)

    # -- records ---------------------------------------------------------------------
    def _parse(self, line: bytes) -> object:
        """The message on ``line``: None for a blank line, ``_UNREADABLE`` if not JSON."""
        if not line.strip():
            return None
        try:
            return json.loads(line)
        except (ValueError, RecursionError):
            return _UNREADABLE

    def _passed_unreadable(self, side: str, size: int) -> None:
        self._malformed += 1
        if self._malformed <= MAX_MALFORMED_RECORDS:
            self.record(
                {
                    "event": "malformed",
                    "detail": f"a line from the {side} that is not JSON ({size} bytes), "
                    "passed through",
                }
            )

    def _base(self) -> dict[str, object]:
        base: dict[str, object] = {"server": self.server}
        if self.client:
            base["client"] = self.client
        if self.client_name:
            base["client_name"] = self.client_name
        return base

    def _log_session(self, message: dict[str, object], error: object, request_id: object) -> None:
        entry = {**self._base(), "event": "session", "method": "initialize"}
        entry["request_id"] = request_id
        result = message.get("result")
        if isinstance(result, dict) and isinstance(result.get("serverInfo"), dict):
            info = result["serverInfo"]
            entry["detail"] = (
                f"server {str(info.get('name'))[:100]} {str(info.get('version'))[:40]}"
            )
        entry["outcome"] = "error" if error is not None else "ok"
        self.record(entry)

    def _log_pending(
        self, pending: Pending, outcome: str, size: int, *, error: object = None
    ) -> None:
        self._log_call(
            pending.method,
            pending.target,
            pending.arguments,
            outcome,
            duration=time.monotonic() - pending.started,
            size=size,
            error=error,
            request_id=pending.request_id,
        )

    def _log_call(
        self,
        method: str,
        target: str | None,
        arguments: object,
        outcome: str,
        *,
        reason: str | None = None,
        duration: float | None = None,
        size: int | None = None,
        error: object = None,
        request_id: object = None,
    ) -> None:
        entry: dict[str, object] = {**self._base(), "event": "call", "method": method}
        entry["request_id"] = request_id
        if target is not None:
            key = "uri" if method == "resources/read" else "tool"
            entry[key] = target
        if arguments is not None and self.settings.log_arguments:
            entry["arguments"] = arguments
        entry["outcome"] = outcome
        if reason is not None:
            entry["reason"] = reason
        if error is not None:
            entry["error"] = str(error)[:500]
        if duration is not None:
            entry["duration_ms"] = round(duration * 1000, 3)
        if size is not None:
            entry["result_bytes"] = size
        self.record(entry)


def _named(names: list[str]) -> str:
    """Tool names for a warning: the first ``MAX_NAMED`` (escaped), then how many more.

    Names come from the server: a control sequence in one must not reach the
    terminal that shows the client's server log.
    """
    from mcpcred.guard.hidden import safe_text

    shown = ", ".join(safe_text(name, 100) for name in names[:MAX_NAMED])
    more = len(names) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _peek(line: bytes) -> tuple[object, bool] | None:
    """``(id, is_error)`` of a large answer from its first or last bytes, or None."""
    head = _HEAD.match(line, 0, 512)
    if head is not None:
        raw, kind = head.group(1), head.group(2)
        tail = line[-512:]
    else:
        first = _HEAD_RESULT.match(line, 0, 64)
        if first is None:
            return None
        tail = line[-512:]
        found = _TAIL.search(tail)
        if found is None:
            return None
        raw, kind = found.group(1), first.group(1)
    try:
        request_id = json.loads(raw)
    except ValueError:
        return None
    return request_id, kind == b"error" or bool(_IS_ERROR.search(tail))
