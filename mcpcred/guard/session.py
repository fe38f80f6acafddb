"""One MCP session as the guard sees it: what to forward, refuse, rewrite and record.

The relay (``relay.py``) owns the processes and the bytes; this class owns the
decisions, and touches no file descriptor, so every rule can be tested with
plain lines. It sees whole newline-delimited messages, one at a time, from
either side, and answers with what goes where:

- a message is forwarded only as what the guard parsed, written back in one
  canonical form (``wire.py``): the peer's parser may read bytes differently
  (a bare CR ends a line for the MCP Python SDK, Go matches keys without
  regard to case), and a policy decided on one reading must hold for the
  other. Lines the guard cannot read strictly are never forwarded: from the
  client they get a JSON-RPC parse error, from the server they are dropped;
- every request to the server carries an id the guard issued, mapped back to
  the client's own id on the answer: an answer the guard cannot match to a
  request it sent (an id of another type, one it never issued) is dropped
  and recorded, so no answer reaches the client without being checked;
- a ``tools/call`` of a refused tool is answered here, as a tool error result
  naming the policy, and never reaches the server;
- a ``tools/list`` answer loses the refused tools (and, with
  ``on_change = "block"``, the tools whose definitions changed since they
  were pinned);
- requests are timed from the client's message to the server's answer and
  recorded with their arguments (the recorder redacts them, off the relay's threads).

Large answers (a 50 MB tool result) are not parsed at all when their id can
be read from their first or last bytes and nothing else in them could be read
as an id: the guard only needs the id, and the JSON decoder would cost more
than the relay itself.
"""

from __future__ import annotations

import json
import re
import threading
import time

from mcpcred.guard import wire

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import TypeVar

    from mcpcred.guard.pins import PinStore
    from mcpcred.guard.settings import ServerGuard

    _T = TypeVar("_T")

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
# Any key a parser could take for "id" (either case, escaped or not): a large answer is
# spliced unparsed only when the id the guard found is the only one (see ``_peek``).
_ANY_ID = re.compile(rb'"(?:[iI]|\\u00[46]9)(?:[dD]|\\u00[46]4)"')
_DROP: dict[str, object] = {}  # "say nothing to the client" from _server_message
PARSE_ERROR = -32700
# Why a tools/call without a readable tool name is refused while a policy or block is in
# force: a server may still find a tool in it (a generic JSON-RPC library's positional
# params, a name it converts to text) that the policy never judged.
UNNAMED = (
    "the call does not name its tool as a string in params.name, so the policy cannot be checked"
)


_PARAMS = wire.Keys("name", "arguments", "uri", "cursor", "requestId", "_meta")
_LISTING = wire.Keys("tools", "nextCursor")
_TOOL = wire.Keys("name", "description", "inputSchema")


def _guard_id(value: object) -> int | None:
    """``value`` if it can be an id the guard issued (an int; not ``True``, not ``1.0``)."""
    return value if type(value) is int else None


def _snapshot(view: Iterable[_T]) -> list[_T]:
    """A copy of ``view`` (a dict's items, a set), taken while the other relay thread may
    change what it shows.

    ``list(view)`` runs in C, but an allocation in it can start the garbage
    collector, whose finalizers run Python code, and so let the other thread in:
    then the copy raises "changed size during iteration". Try again.
    """
    while True:
        try:
            return list(view)
        except RuntimeError:
            continue


def dumps(message: object) -> bytes:
    """A message as one line, in the guard's canonical form (``wire.canonical``)."""
    return wire.canonical(message)


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
    """A client request waiting for the server's answer.

    ``request_id`` is the client's own JSON-RPC id, as it sent it (type kept):
    the server only ever sees the guard's id, the key of ``Session.pending``.
    """

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
        conceal: Callable[[object], object] | None = None,
        deferred: bool = False,
    ) -> None:
        import collections

        self.settings = settings
        # Replaces the injected values in a JSON value: tool definitions are stored in the
        # pin files and shown by `pins diff`, and must not keep a token a server put there.
        self.conceal = conceal
        # Writes a record to the file before returning: None, or why it could not.
        self.durable = durable
        self.server = settings.server
        self.client = client
        self.record = record
        self.warn = warn
        self.pins = pins if settings.pin else None
        self.pending: dict[int, Pending] = {}  # by the id the guard gave the request
        self.next_id = 1
        # Requests the client cancelled: their answers may still come, for nobody (but the log).
        self.cancelled: dict[int, Pending] = {}
        self.client_name: str | None = None
        self.initialize: bytes | None = None  # the client's, replayed after a restart
        self.initialized: bytes | None = None
        # Blocks (on_change = "block"). A listing in this session can add to them,
        # never lift them: a later page or listing cannot undo what an earlier one found.
        self.withheld: set[str] = set()  # drifted tools, hidden until `mcpcred pins accept`
        self.unpinned: set[str] = set()  # tools beyond the pin store's bounds
        self.held_at_start: set[str] = set()  # pending before this session listed them
        # Block mode: the tools a call may name before a listing checked them (the pinned
        # ones), and those a listing in this session showed. None: not blocking.
        self.pinned_at_start: set[str] | None = None
        self.listed: set[str] = set()
        self.store_problem: str | None = None  # the pins cannot be read or written
        self.unchecked = False  # block mode, and the last tool list could not be read
        self.capabilities: object = None  # the client's, from initialize
        self._chains: dict[str, tuple[frozenset[str], bool]] = {}  # next cursor -> listing so far
        self._reported: set[tuple[str, str]] = set()  # (change, tool) warned about
        self._replay: tuple[int | None, threading.Event] | None = None
        # Malformed lines per side: each side has its own cap, so a server that sends junk
        # cannot use up the records of a client's framing tricks (or the other way round).
        self._malformed = {"client": 0, "server": 0}
        self._based: tuple[str | None, dict[str, object]] | None = None  # (client_name, base)
        self._listings: set[int] = set()  # guard ids of tools/list requests sent (``_listing``)
        # A call's outcome record waits until its answer was written (``settle``): the relay
        # asks for it; called on its own (tests, tools) the session records at once.
        self.deferred = deferred
        self._later: collections.deque[tuple[Pending, str, int, object, float]] = (
            collections.deque()
        )
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
            self.pinned_at_start = self.pins.pinned_names(self.server, self.pin_client)
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
        if self._later:  # an answer's outcome not recorded yet goes before this request's
            self.settle()
        try:
            message = wire.parse(line)
        except wire.Unreadable as exc:
            return None, self._unreadable_request(line, exc.reason)
        if message is wire.BLANK:
            return None, None  # nothing to forward
        shape = _not_messages(message)
        if shape is not None:
            return None, self._unreadable_request(line, shape)
        first = self.next_id
        try:
            if isinstance(message, list):
                kept: list[object] = []
                answers: list[bytes] = []
                for item in message:
                    forward, answer = self._client_message(item)
                    if forward is not None:
                        kept.append(forward)
                    if answer is not None:
                        answers.append(answer)
                return (wire.canonical(kept) if kept else None), (b"".join(answers) or None)
            assert isinstance(message, dict)  # noqa: S101  # _not_messages saw to it
            forward, answer = self._client_message(message)
            if forward is None:
                return None, answer
            data = wire.canonical(forward)
        except wire.Unreadable as exc:  # only now known: forget what was taken for sent
            for guard_id in range(first, self.next_id):
                self.pending.pop(guard_id, None)
            return None, self._unreadable_request(line, exc.reason)
        method = message.get("method")
        if method == "initialize" and "id" in message:
            self.initialize = data
        elif method == "notifications/initialized" and "id" not in message:
            self.initialized = data
        return data, answer

    def _client_message(self, message: dict[str, object]) -> tuple[object, bytes | None]:
        """``(to_forward, answer)`` for one client message: a refusal answers instead."""
        wire.envelope(message)
        _PARAMS.check(message.get("params"))
        if "method" not in message:
            return message, None  # an answer to a server request (sampling, roots...): its ids
        method = message.get("method")
        if "id" not in message:
            if isinstance(method, str) and method in _AUDITED:
                self._refuse_notification(message, method)
                return None, None  # dropped: a notification gets no answer
            if method == "notifications/cancelled":
                return self._cancelled(message), None
            return message, None
        request_id = message["id"]
        method = method if isinstance(method, str) else ""
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "initialize":
            info = params.get("clientInfo")
            if isinstance(info, dict) and isinstance(info.get("name"), str):
                self.client_name = str(info["name"])[:200]
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
                return None, self._deny(request_id, target, arguments, reason)
        elif method == "tools/call" and self.enforcing:
            return None, self._deny(request_id, None, arguments, UNNAMED)
        if method in _AUDITED and self.durable is not None:
            refused = self._record_request(method, request_id, target, arguments)
            if refused is not None:
                return None, refused
        # Every request is tracked: one the server never answers still gets an answer.
        if len(self.pending) >= MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
        cursor = params.get("cursor") if method == "tools/list" else None
        guard_id = self.next_id
        self.next_id += 1
        self.pending[guard_id] = Pending(method, request_id, target, arguments, cursor)
        if method == "tools/list":  # after it is pending: ``_listing`` drops ids that are not
            self._listings.add(guard_id)
        return {**message, "id": guard_id}, None

    @property
    def enforcing(self) -> bool:
        """Whether anything can be refused (a policy, or pins in block mode)."""
        return bool(self.settings.policies) or (
            self.pins is not None and self.settings.on_change == "block"
        )

    def _unreadable_request(self, line: bytes, reason: str) -> bytes:
        """The answer to a client line the guard will not forward, and its record.

        Never forwarded, policy or not: a more lenient or differently framed
        parser on the server's side may read a request in it (a call to a
        refused tool after a bare CR, say) that the guard never saw.
        """
        self._note_malformed(
            f"a line from the client that the guard cannot read ({reason}, {len(line)} "
            "bytes): not forwarded",
            outcome="denied",
            side="client",
        )
        return rpc_error(
            wire.recover_id(line),
            f"mcpcred: server '{self.server}' is guarded, and this message cannot be read "
            f"unambiguously ({reason}): not forwarded",
            PARSE_ERROR,
        )

    def too_long_from_client(self, head: bytes, limit: int) -> bytes:
        """The answer to a client line the relay would not hold (over ``limit`` bytes)."""
        return self._unreadable_request(head, f"a line longer than {limit} bytes")

    def too_long_from_server(self, head: bytes, limit: int) -> bytes | None:
        """What the client gets for a server line the relay would not hold: an error, if any."""
        return self._unreadable_answer(head, f"a line longer than {limit} bytes", self._listing())

    def _listing(self) -> bool:
        """Whether a ``tools/list`` request is waiting for its answer (a snapshot).

        Every answer asks this. The ids of the listings sent are kept
        (``_listings``), and dropped here once they are no longer pending, so
        with none in flight (nearly always) it is one test of an empty set
        instead of a copy of every pending request. Ids are copied in one step:
        the client's thread adds to the set meanwhile.
        """
        listings = self._listings
        if not listings:
            return False
        found = False
        for guard_id in _snapshot(listings):
            pending = self.pending.get(guard_id)
            if pending is not None and pending.method == "tools/list":
                found = True
            else:  # answered, cancelled, abandoned: guard ids are never issued again
                listings.discard(guard_id)
        return found

    def _unreadable_listing(self) -> bytes:
        """Error answers for the tools/list requests a line the guard cannot read may answer."""
        if self.pins is not None and self.settings.on_change == "block":
            self.unchecked = True
        answers = []
        for key, pending in _snapshot(self.pending.items()):
            if pending.method == "tools/list":
                del self.pending[key]
                answers.append(
                    rpc_error(
                        pending.request_id,
                        f"mcpcred: server '{self.server}' sent an answer the guard cannot read "
                        "while a tool list was expected; it was not passed on",
                    )
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
        if (
            reason is None
            and self.pinned_at_start is not None
            and tool not in self.listed
            and tool not in self.pinned_at_start
        ):
            reason = (
                "it is not pinned, and no tool list in this session has shown it yet, so "
                "its definition cannot have been checked; list the tools first"
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

    def _deny(self, request_id: object, tool: str | None, arguments: object, reason: str) -> bytes:
        self._log_call(
            "tools/call", tool, arguments, "denied", reason=reason, request_id=request_id
        )
        what = "a tool" if tool is None else f"tool '{tool}'"
        return tool_error(
            request_id,
            f"mcpcred refused to call {what} of server '{self.server}': {reason}.",
        )

    def _cancelled(self, message: dict[str, object]) -> dict[str, object] | None:
        """The cancellation with the guard's id of the request, or None to drop it.

        The server knows requests by the guard's ids only: the client's id passed
        on unchanged could cancel another request that happens to have it.
        """
        params = message.get("params")
        if not isinstance(params, dict) or "requestId" not in params:
            return None
        wanted = params["requestId"]
        found = [
            guard_id
            for guard_id, pending in _snapshot(self.pending.items())  # the server's thread deletes
            if type(pending.request_id) is type(wanted) and pending.request_id == wanted
        ]
        if not found:
            return None  # answered already, refused here, or never sent
        guard_id = found[-1]
        pending = self.pending.pop(guard_id, None)  # None: answered meanwhile
        if pending is None:
            return None
        if len(self.cancelled) >= MAX_PENDING:
            self.cancelled.pop(next(iter(self.cancelled)))
        self.cancelled[guard_id] = pending
        if pending.method in _AUDITED:
            self._log_pending(pending, "cancelled", 0)
        return {**message, "params": {**params, "requestId": guard_id}}

    def _refuse_notification(self, message: dict[str, object], method: str) -> None:
        """Drop a ``tools/call`` (or another recorded request) sent without an id; record it.

        MCP has no such notification, so no server that follows it acts on one;
        but a server built on a generic JSON-RPC library runs it all the same,
        with no answer to record an outcome from, and no request record either
        (those are for requests). A refused tool must not pass this way, and an
        allowed one must not run unrecorded: neither is forwarded.
        """
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        named = params.get("uri" if method == "resources/read" else "name")
        target = named if isinstance(named, str) else None
        reason = self.refusal(target) if method == "tools/call" and target is not None else None
        if reason is None:
            reason = (
                "sent as a notification (without an id), which would run without a record "
                "of its outcome; not forwarded"
            )
        self._log_call(method, target, params.get("arguments"), "denied", reason=reason)

    # -- server -> client ------------------------------------------------------------
    def from_server(self, line: bytes | bytearray) -> bytes | bytearray | None:
        """What to send the client for one line from the server (None: nothing).

        A large answer read into a ``bytearray`` may come back as that buffer,
        edited in place (its id swapped for the client's).
        """
        listing = self._listing()
        if len(line) > BIG and self.pending and not listing:
            spliced = self._big_answer(line)
            if spliced is not None:
                return spliced
        try:
            message = wire.parse(line)
        except wire.Unreadable as exc:
            return self._unreadable_answer(line, exc.reason, listing)
        if message is wire.BLANK:
            return None
        shape = _not_messages(message)
        if shape is not None and message != []:
            return self._unreadable_answer(line, shape, listing)
        try:
            if isinstance(message, dict):
                rewritten = self._server_message(message, len(line))
                return None if rewritten is _DROP else wire.canonical(rewritten)
            if isinstance(message, list):
                items: list[object] = []
                for item in message:
                    rewritten = self._server_message(item, len(line) // max(len(message), 1))
                    if rewritten is not _DROP:
                        items.append(rewritten)
                return wire.canonical(items) if items else None
            return None
        except wire.Unreadable as exc:  # JSON, but a client could read it another way
            return self._unreadable_answer(line, exc.reason, listing)

    def _big_answer(self, line: bytes | bytearray) -> bytes | bytearray | None:
        """A large answer with the client's id spliced in, unparsed; None: parse it.

        Only when the id the guard issued is the one key anywhere in the line a
        parser could read as an id (in any case or escape), and no CR can split
        the line for a reader with universal newlines: then every parser reads
        the answer as the one to that request.
        """
        if b"\r" in line:
            return None
        peeked = _peek(line)
        if peeked is None:
            return None
        start, end, request_id, is_error = peeked
        guard_id = _guard_id(request_id)
        pending = self.pending.get(guard_id) if guard_id is not None else None
        if guard_id is None or pending is None or pending.method == "tools/list":
            return None
        if len(_ANY_ID.findall(line)) != 1:
            return None
        if self.pending.pop(guard_id, None) is None:  # cancelled by the client's thread meanwhile
            return None  # parsed, then dropped as an answer to a cancelled request
        if pending.method in _AUDITED:
            self._log_pending(pending, "error" if is_error else "ok", len(line))
        client_id = wire.canonical(pending.request_id)[:-1]
        if isinstance(line, bytearray):  # the relay's buffer of a line read in pieces
            line[start:end] = client_id  # in place: no second copy of 50 MB
            return line
        view = memoryview(line)
        return b"".join((view[:start], client_id, view[end:]))

    def _server_message(self, message: dict[str, object], size: int) -> object:
        """One server message as the client gets it, or ``_DROP``."""
        wire.envelope(message)
        if "method" in message or "id" not in message:
            return message  # a notification or a request to the client: the server's ids
        guard_id = _guard_id(message["id"])
        if self._replay is not None and guard_id is not None and guard_id == self._replay[0]:
            self._replay[1].set()
            self._replay = None
            return _DROP
        pending = self.pending.get(guard_id) if guard_id is not None else None
        if pending is not None and pending.method == "tools/list":
            result = message.get("result")
            _LISTING.check(result)
            if isinstance(result, dict) and isinstance(result.get("tools"), list):
                for tool in result["tools"]:
                    _TOOL.check(tool)
        if pending is None or guard_id is None:
            if guard_id is not None and guard_id in self.cancelled:
                self._answered_late(self.cancelled.pop(guard_id), message, size)
                return _DROP  # the client gave up on it
            return self._unmatched(message["id"], size)
        if self.pending.pop(guard_id, None) is None:  # cancelled by the client's thread meanwhile
            self.cancelled.pop(guard_id, None)
            return _DROP
        message = {**message, "id": pending.request_id}
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
            outcome = "error" if failed else "ok"
            if self.deferred:  # recorded once the answer is on its way (``settle``)
                self._later.append((pending, outcome, size, error, time.monotonic()))
            else:
                self._log_pending(pending, outcome, size, error=error)
        return message

    def _answered_late(self, pending: Pending, message: dict[str, object], size: int) -> None:
        """Record how a cancelled call really ended: cancellation is only a request.

        A server may have run the call to the end (a delete, a payment) before
        it saw the cancellation; a log whose last word is "cancelled" would
        hide that. So the answer is recorded as a second ``call`` record.
        """
        if pending.method not in _AUDITED or pending.method == "initialize":
            return
        result = message.get("result")
        failed = "error" in message or (isinstance(result, dict) and result.get("isError") is True)
        problem = message.get("error")
        error = problem.get("message") if isinstance(problem, dict) else None
        self._log_pending(
            pending,
            "error" if failed else "ok",
            size,
            error=error,
            reason="answered after the client cancelled it; the answer was not passed on",
        )

    def _unmatched(self, request_id: object, size: int) -> object:
        """An answer to no request the guard sent: dropped, and said so; ``_DROP``.

        When its id is one the guard issued in another type (``"2"`` or ``2.0``
        for ``2``, as some servers write them back), that request is failed
        with an error instead of being left to wait for an answer that came.
        """
        kind = "null" if request_id is None else type(request_id).__name__
        self._note_malformed(
            f"an answer from the server with an id the guard did not issue ({kind}): not passed on",
            outcome="denied",
            side="server",
        )
        guard_id = _loose_id(request_id)
        pending = self.pending.pop(guard_id, None) if guard_id is not None else None
        if pending is None:
            return _DROP
        return self._failure(pending, size, f"answered with an id of type {kind}")

    def _unreadable_answer(
        self, line: bytes | bytearray, reason: str, listing: bool
    ) -> bytes | None:
        """A server line the guard cannot read: dropped; the request it answers gets an error.

        A reader with other rules (universal newlines, case-insensitive keys)
        might find an unfiltered tool list or a forged answer in it, so it is
        never passed on.
        """
        self._note_malformed(
            f"a line from the server that the guard cannot read ({reason}, {len(line)} "
            "bytes): not passed on",
            outcome="denied",
            side="server",
        )
        guard_id = _guard_id(_lenient_id(line))
        pending = self.pending.pop(guard_id, None) if guard_id is not None else None
        if pending is None:
            return (self._unreadable_listing() or None) if listing and self.enforcing else None
        failure = self._failure(
            pending, len(line), f"sent an answer the guard cannot read ({reason})"
        )
        return wire.canonical(failure)

    def _failure(self, pending: Pending, size: int, what: str) -> dict[str, object]:
        """The error answer for a request whose answer was not passed on, and its record."""
        blocking = self.pins is not None and self.settings.on_change == "block"
        if pending.method == "tools/list" and blocking:
            self.unchecked = True
        text = f"server '{self.server}' {what}"
        if pending.method in _AUDITED:
            self._log_pending(pending, "error", size, error=text)
        return {
            "jsonrpc": "2.0",
            "id": pending.request_id,
            "error": {"code": SERVER_ERROR, "message": f"mcpcred: {text}; it was not passed on"},
        }

    def _tools_list(self, message: dict[str, object], pending: Pending) -> dict[str, object]:
        result = message.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("tools"), list):
            if "error" in message or not self.enforcing:
                return message
            # Tools the policy cannot filter (an object of tools, a list under another
            # name): never passed on while something is enforced, and in block mode
            # calls wait for a list that can be checked.
            return self._failure(pending, 0, "sent a tool list the guard cannot read")
        tools = [t for t in result["tools"] if isinstance(t, dict)]
        self._check_pins(tools, pending.cursor, result.get("nextCursor"))
        kept = [t for t in result["tools"] if not self._hidden(t)]
        if len(kept) == len(result["tools"]):
            return message
        return {**message, "result": {**result, "tools": kept}}

    def _hidden(self, tool: object) -> bool:
        """Whether a listed tool is kept from the client.

        While anything is enforced, so is a tool without a string name: the
        policy cannot judge it, and a client may still show it to the model.
        """
        name = tool.get("name") if isinstance(tool, dict) else None
        if isinstance(name, str):
            return self.refusal(name) is not None
        return self.enforcing

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
                [self._at_rest(tool) for tool in tools],
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
        self.listed.update(names)  # checked now: new or changed ones are withheld above
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

    def _at_rest(self, tool: dict[str, object]) -> dict[str, object]:
        """``tool`` as the pin store may keep it: without the values mcpcred injected.

        A server that puts its token in a description (a templated help text,
        an example call) would otherwise leave it in a file on disk, in plain
        text, and `pins diff` would print it. The name stays as listed: blocks
        and refusals match calls by it.
        """
        if self.conceal is None:
            return tool
        masked = self.conceal(tool)
        if not isinstance(masked, dict) or masked == tool:
            return tool
        if "name" in tool:
            masked["name"] = tool["name"]
        return masked

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

    def settle(self) -> None:
        """Record the outcomes of answers ``from_server`` left for later (``deferred``).

        Building a call's outcome record (about 6 us with the caches cold) held
        up the answer it describes: with ``deferred``, the relay writes the
        answer to the client first and then calls this. The duration is the
        one measured when the answer was read. The client's thread calls it
        too before a request of its own, so in the log an answered call's
        outcome still comes before the next request's record.
        """
        later = self._later
        while later:
            try:
                pending, outcome, size, error, ended = later.popleft()
            except IndexError:  # the other thread took it
                return
            try:
                self._log_pending(pending, outcome, size, error=error, ended=ended)
            except Exception as exc:
                # Called outside the relay's guarded handling of a message (after the
                # answer went out, or ahead of the client's next request): a record
                # that cannot be built must neither stop the server's reader thread
                # (every later answer would hang) nor refuse an unrelated request.
                self.warn(f"the outcome record of a call could not be built ({type(exc).__name__})")

    # -- the end of a server -------------------------------------------------------------
    def replay_started(self) -> threading.Event:
        """Expect the answer to a replayed ``initialize``: it is swallowed, the event set."""
        done = threading.Event()
        if self.initialize is not None:
            replayed = json.loads(self.initialize)  # the guard's own canonical line
            self._replay = (_guard_id(replayed.get("id")), done)
        return done

    def abandon(self, why: str) -> bytes:
        """Error answers for every request the server will never answer now."""
        answers = []
        # The client's thread may still add requests.
        for guard_id, _ in _snapshot(self.pending.items()):
            pending = self.pending.pop(guard_id, None)
            if pending is None:
                continue
            answers.append(rpc_error(pending.request_id, f"mcpcred: server '{self.server}' {why}"))
            if pending.method in _AUDITED:
                self._log_pending(pending, "error", 0, error=why)
        return b"".join(answers)

    # -- records ---------------------------------------------------------------------
    def _note_malformed(self, detail: str, *, outcome: str, side: str) -> None:
        """A ``malformed`` record (and, for the server's, a line on stderr), the first few
        times per side only; ``unrecorded`` sums up the rest at the end."""
        count = self._malformed[side] = self._malformed[side] + 1
        if count > MAX_MALFORMED_RECORDS:
            return
        self.record({"event": "malformed", "outcome": outcome, "detail": detail})
        if side == "server":
            self.warn(detail)
        if count == MAX_MALFORMED_RECORDS:
            self.warn(
                f"{MAX_MALFORMED_RECORDS} malformed messages from the {side}; not recording "
                "more one by one"
            )

    def unrecorded(self) -> dict[str, object] | None:
        """At the end of a session: a record counting the malformed lines not recorded.

        A cap on records must not hide that more attempts were made: the count
        says how many lines each side sent that were refused without a record.
        """
        over = {side: n - MAX_MALFORMED_RECORDS for side, n in self._malformed.items()}
        parts = [f"{n} from the {side}" for side, n in over.items() if n > 0]
        if not parts:
            return None
        return {
            "event": "malformed",
            "outcome": "denied",
            "detail": f"{' and '.join(parts)} more lines the guard could not read, not passed "
            "on and not recorded one by one",
        }

    def _base(self) -> dict[str, object]:
        """The fields every record of this session starts with; spread, never changed.

        Built again only when the client's name changes (its ``initialize``):
        every recorded request takes it twice, for its record and its outcome's.
        """
        based = self._based
        if based is None or based[0] != self.client_name:
            base: dict[str, object] = {"server": self.server}
            if self.client:
                base["client"] = self.client
            if self.client_name:
                base["client_name"] = self.client_name
            based = self._based = (self.client_name, base)
        return based[1]

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
        self,
        pending: Pending,
        outcome: str,
        size: int,
        *,
        error: object = None,
        reason: str | None = None,
        ended: float | None = None,
    ) -> None:
        self._log_call(
            pending.method,
            pending.target,
            pending.arguments,
            outcome,
            reason=reason,
            duration=(time.monotonic() if ended is None else ended) - pending.started,
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


def _not_messages(message: object) -> str | None:
    """Why ``message`` is not a JSON-RPC message or a batch of them; None if it is.

    Only objects are judged: a nested array, a bare string or number, or an
    empty batch would be passed on unchecked, and a lenient peer (one that
    flattens nested batches, or reads the string as JSON) could find a
    request or an unfiltered answer in it that the guard never saw.
    """
    if isinstance(message, dict):
        return None
    if isinstance(message, list):
        if message and all(isinstance(item, dict) for item in message):
            return None
        return "a batch that is empty or holds something other than messages"
    return "not a JSON-RPC message (an object, or a batch of them)"


def _named(names: list[str]) -> str:
    """Tool names for a warning: the first ``MAX_NAMED`` (escaped), then how many more.

    Names come from the server: a control sequence in one must not reach the
    terminal that shows the client's server log.
    """
    from mcpcred.guard.hidden import safe_text

    shown = ", ".join(safe_text(name, 100) for name in names[:MAX_NAMED])
    more = len(names) - MAX_NAMED
    return f"{shown} and {more} more" if more > 0 else shown


def _peek(line: bytes | bytearray) -> tuple[int, int, object, bool] | None:
    """``(start, end, id, is_error)`` of a large answer, from its first or last bytes, or None.

    ``line[start:end]`` is the id's JSON text, so it can be replaced unparsed.
    """
    head = _HEAD.match(line, 0, 512)
    if head is not None:
        start, end = head.span(1)
        kind = head.group(2)
    else:
        first = _HEAD_RESULT.match(line, 0, 64)
        if first is None:
            return None
        found = _TAIL.search(line, max(0, len(line) - 512))
        if found is None:
            return None
        start, end = found.span(1)
        kind = first.group(1)
    try:
        request_id = json.loads(line[start:end])
    except ValueError:
        return None
    return start, end, request_id, kind == b"error" or bool(_IS_ERROR.search(line[-512:]))


def _loose_id(value: object) -> int | None:
    """The guard's id a sloppy server meant by ``value`` ("2" or 2.0 for 2), if any."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return None


def _lenient_id(line: bytes | bytearray) -> object:
    """The id a line the guard refused most likely answers: which request to fail.

    Read as a lenient client would (the last of duplicate keys wins), else from
    the line's first or last bytes.
    """
    try:
        message = json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        peeked = _peek(line)
        return peeked[2] if peeked is not None else wire.recover_id(line)
    return message.get("id") if isinstance(message, dict) else None
