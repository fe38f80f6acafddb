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
    from collections.abc import Callable, Mapping

    from mcpcred.guard.pins import PinStore
    from mcpcred.guard.settings import ServerGuard

SERVER_ERROR = -32000
BIG = 256 * 1024  # answers larger than this are peeked at, not parsed, when possible
MAX_PENDING = 10_000
MAX_MALFORMED_RECORDS = 20
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
        self, method: str, request_id: object, target: str | None, arguments: object, cursor: bool
    ) -> None:
        self.method = method
        self.request_id = request_id
        self.target = target  # tool or prompt name, resource URI
        self.arguments = arguments
        self.cursor = cursor  # a tools/list page after the first
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
    ) -> None:
        self.settings = settings
        self.server = settings.server
        self.client = client
        self.record = record
        self.warn = warn
        self.pins = pins if settings.pin else None
        self.pending: dict[tuple[str, object], Pending] = {}
        self.client_name: str | None = None
        self.initialize: bytes | None = None  # the client's, replayed after a restart
        self.initialized: bytes | None = None
        self.withheld: set[str] = set()  # tools hidden until `mcpcred pins accept`
        self.pinning_first = False  # this session created the pins: later pages join them
        self.unchecked = False  # block mode, and the last tool list could not be read
        self._drift_seen: tuple[tuple[str, ...], ...] | None = None
        self._replay: tuple[tuple[str, object], threading.Event] | None = None
        self._malformed = 0
        if self.pins is not None and settings.on_change == "block":
            self.withheld = self._pending_changes()

    def _pending_changes(self) -> set[str]:
        """Tools already waiting for ``pins accept``: refused before any ``tools/list``.

        A client that kept its tool list from an earlier session may call a
        tool without listing again; the block must not depend on it listing.
        """
        from mcpcred.errors import McpcredError

        assert self.pins is not None  # noqa: S101
        try:
            document = self.pins.load(self.server)
        except McpcredError as exc:
            self.warn(f"cannot read the pinned tool definitions: {exc.message}")
            return set()
        pending = document.get("pending") if isinstance(document, dict) else None
        if not isinstance(pending, dict):
            return set()
        return {
            str(name)
            for name, entry in pending.items()
            if isinstance(entry, dict) and entry.get("change") in ("added", "changed")
        }

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
            return (None, answer or None) if answer is not None else (line, None)
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
            return (dumps(kept) if kept else None), (b"".join(answers) or None)
        return line, None

    def _client_message(self, message: dict[str, object], line: bytes | None) -> bytes | None:
        """Track one client message; a refusal to send back instead of forwarding it."""
        method = message.get("method")
        if not isinstance(method, str):
            return None  # an answer to a server request (sampling, roots...): not ours
        if "id" not in message:
            if method == "tools/call":
                return self._refused_notification(message)
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
        # Every request is tracked: one the server never answers still gets an answer.
        if len(self.pending) >= MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
        cursor = method == "tools/list" and bool(params.get("cursor"))
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
        if reason is None and self.unchecked:
            reason = (
                "the server's tool list could not be read, so its definitions cannot be "
                "checked against the pins; calls wait for a tool list that can be"
            )
        if reason is None and tool in self.withheld:
            reason = (
                "its definition changed since it was pinned; review it with "
                f"`mcpcred pins diff {self.server}` and accept it with "
                f"`mcpcred pins accept {self.server}`"
            )
        return reason

    def _deny(self, request_id: object, tool: str, arguments: object, reason: str) -> bytes:
        self._log_call("tools/call", tool, arguments, "denied", reason=reason)
        return tool_error(
            request_id,
            f"mcpcred refused to call tool '{tool}' of server '{self.server}': {reason}.",
        )

    def _refused_notification(self, message: dict[str, object]) -> bytes | None:
        """A ``tools/call`` without an id: dropped (``b""``) when its tool is refused.

        JSON-RPC never answers a notification, but a server built on a generic
        JSON-RPC library still runs it, so a refused tool must not pass this way.
        """
        params = message.get("params")
        name = params.get("name") if isinstance(params, dict) else None
        if not isinstance(name, str):
            return None
        reason = self.refusal(name)
        if reason is None:
            return None
        arguments = params.get("arguments") if isinstance(params, dict) else None
        self._log_call("tools/call", name, arguments, "denied", reason=reason)
        return b""

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
            self._log_session(message, error)
        elif pending.method in _AUDITED:
            self._log_pending(pending, "error" if failed else "ok", size, error=error)
        return None

    def _tools_list(self, message: dict[str, object], pending: Pending) -> dict[str, object] | None:
        result = message.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            return None
        tools = [t for t in result["tools"] if isinstance(t, dict)]
        last_page = not result.get("nextCursor")
        self._check_pins(tools, complete=last_page and not pending.cursor, last_page=last_page)
        kept = [
            t for t in result["tools"] if not (isinstance(t, dict) and self._hidden(t.get("name")))
        ]
        if len(kept) == len(result["tools"]):
            return None
        return {**message, "result": {**result, "tools": kept}}

    def _hidden(self, name: object) -> bool:
        return isinstance(name, str) and self.refusal(name) is not None

    def _check_pins(
        self, tools: list[dict[str, object]], *, complete: bool, last_page: bool
    ) -> None:
        if self.pins is None:
            return
        from mcpcred.errors import McpcredError

        try:
            listed: list[Mapping[str, object]] = list(tools)
            drift = self.pins.observe(
                self.server, listed, complete=complete, adopt_new=self.pinning_first
            )
        except McpcredError as exc:
            self.warn(f"cannot check the pinned tool definitions: {exc.message}")
            return
        self.unchecked = False
        if drift.created or self.pinning_first:
            # The first listing ever: its later pages join the pins; a later listing does not.
            self.pinning_first = not last_page
            self._scan_hidden(tools)
            return
        if not drift:
            self.withheld.clear()
            return
        changed = set(drift.added) | set(drift.changed)
        self.withheld = changed if self.settings.on_change == "block" else set()
        signature = (tuple(drift.added), tuple(drift.changed), tuple(drift.removed))
        if signature == self._drift_seen:
            return
        self._drift_seen = signature
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (
                ("changed", drift.changed),
                ("added", drift.added),
                ("removed", drift.removed),
            )
            if names
        ]
        action = (
            "withheld until accepted" if self.settings.on_change == "block" else "passed through"
        )
        self.warn(
            f"tool definitions differ from the pinned ones: {'; '.join(parts)} ({action}; "
            f"review: mcpcred pins diff {self.server})"
        )
        self.record(
            {
                "event": "pins",
                "added": list(drift.added),
                "changed": list(drift.changed),
                "removed": list(drift.removed),
                "outcome": "blocked" if self.settings.on_change == "block" else "warned",
            }
        )
        self._scan_hidden([t for t in tools if t.get("name") in changed])

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

    def _log_session(self, message: dict[str, object], error: object) -> None:
        entry = {**self._base(), "event": "session", "method": "initialize"}
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
    ) -> None:
        entry: dict[str, object] = {**self._base(), "event": "call", "method": method}
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
