"""Stateless MCP 2026-07-28: no handshake, no session; the bridge translates for older clients.

Like mcp-remote 0.15.1's ``--protocol auto``: when the remote speaks 2026-07-28,
the bridge answers the local client's ``initialize`` itself (from the
``server/discover`` result) and ``notifications/initialized`` locally, and stamps
every request with the ``_meta`` the modern wire wants
(``io.modelcontextprotocol/protocolVersion``, ``clientCapabilities``,
``clientInfo``) and its headers (``MCP-Protocol-Version``, ``Mcp-Method``,
``Mcp-Name``). A client that already speaks 2026-07-28 (its requests carry the
``_meta``) is forwarded as it is, headers added.

Translations for handshake-era clients:

* ``InputRequiredResult`` (multi-round-trip requests): each embedded input
  request (elicitation, sampling, roots) goes to the client as an ordinary
  server->client request; its answers are sent back in ``inputResponses`` (with
  the echoed ``requestState``) on a retry of the original request;
* cancellation is closing the response stream: a client
  ``notifications/cancelled`` aborts that request's connection;
* ``ping`` and ``logging/setLevel`` (removed in 2026-07-28) are answered here;
* ``tools/list`` answers are read for ``x-mcp-header`` annotations: a
  ``tools/call`` mirrors those arguments as ``Mcp-Param-*`` headers, a tool with
  an invalid annotation is dropped from the list (the spec's MUST), and a
  ``-32020 HeaderMismatch`` answer makes the bridge re-list and retry once.

* list-changed notifications come over a long-lived ``subscriptions/listen``
  POST, opened after the client's ``notifications/initialized`` for what the
  server's capabilities offer; ``resources/subscribe``/``unsubscribe`` re-open it
  with the new set of resource URIs. It is reconnected when it drops.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import threading
from collections.abc import Callable
from typing import Any

import httpx

from mcpcred.bridge.channel import Channel
from mcpcred.bridge.messages import Failure, Incoming, Outbox, id_key
from mcpcred.bridge.streams import JSON_HEADERS, error_text, messages

Job = Callable[[], None]
MODERN = "2026-07-28"
HANDSHAKE_VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05")
META_VERSION = "io.modelcontextprotocol/protocolVersion"
META_CAPABILITIES = "io.modelcontextprotocol/clientCapabilities"
META_CLIENT_INFO = "io.modelcontextprotocol/clientInfo"
META_SERVER_INFO = "io.modelcontextprotocol/serverInfo"
MODERN_ERRORS = frozenset({-32020, -32021, -32022})
NAMED = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
MAX_ROUNDS = 8
PROBE_READ_TIMEOUT = 60.0
BRIDGE_INFO = {"name": "mcpcred-bridge", "version": "1"}


def header_value(value: str) -> str:
    """A header-safe form of ``value`` (2026-07-28's ``=?base64?...?=`` for anything unsafe)."""
    unsafe = (
        not value.isascii()
        or value != value.strip()
        or any(not c.isprintable() for c in value)
        or (value.startswith("=?") and value.endswith("?="))
    )
    if not unsafe:
        return value
    return "=?base64?" + base64.b64encode(value.encode()).decode("ascii") + "?="


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
HEADER_TYPES = ("string", "integer", "boolean")


def param_headers(schema: object) -> dict[tuple[str, ...], str] | None:
    """The ``x-mcp-header`` annotations of a tool's input schema: ``{property path: token}``.

    Only properties reached through plain ``properties`` chains count. None when an
    annotation is invalid (not a token, not on a string/integer/boolean, or a
    duplicate): 2026-07-28 clients MUST drop such a tool from ``tools/list``.
    """
    found: dict[tuple[str, ...], str] = {}
    seen: set[str] = set()

    def walk(node: object, path: tuple[str, ...]) -> bool:
        if not isinstance(node, dict):
            return True
        props = node.get("properties")
        if not isinstance(props, dict):
            return True
        for name, prop in props.items():
            if not isinstance(prop, dict):
                continue
            if "x-mcp-header" in prop:
                token = prop["x-mcp-header"]
                if (
                    not isinstance(token, str)
                    or not _TOKEN.fullmatch(token)
                    or prop.get("type") not in HEADER_TYPES
                    or token.lower() in seen
                ):
                    return False
                seen.add(token.lower())
                found[(*path, str(name))] = token
            if not walk(prop, (*path, str(name))):
                return False
        return True

    return found if walk(schema, ()) else None


def render_param(value: object) -> str | None:
    """An argument as its ``Mcp-Param-*`` header value (None: no header)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return header_value(str(value))
    return None


def modern_headers(method: str, params: dict[str, Any], version: str = MODERN) -> dict[str, str]:
    headers = {**JSON_HEADERS, "MCP-Protocol-Version": version, "Mcp-Method": method}
    name_field = NAMED.get(method)
    if name_field and isinstance(params.get(name_field), str):
        headers["Mcp-Name"] = header_value(params[name_field])
    return headers


def probe(channel: Channel) -> dict[str, Any] | None:
    """``server/discover``: the result when the server speaks 2026-07-28, else None.

    A 400 carrying a modern error (-32020/-32021/-32022) is a modern server that
    wants something else; unless it offers 2026-07-28 we cannot speak it, so it
    counts as "not modern" (the SDK client's rule). 401/403 never get here: the
    channel turns them into re-authentication or a ``Failure``.
    """
    params = {"_meta": {META_VERSION: MODERN, META_CAPABILITIES: {}, META_CLIENT_INFO: BRIDGE_INFO}}
    body = {
        "jsonrpc": "2.0",
        "id": "mcpcred-discover",
        "method": "server/discover",
        "params": params,
    }
    resp = channel.request(
        "POST",
        body=json.dumps(body).encode(),
        headers=modern_headers("server/discover", params),
        read_timeout=min(channel.read_timeout, PROBE_READ_TIMEOUT),  # a probe answers at once
    )
    with contextlib.closing(resp):
        if not resp.is_success or resp.status_code == 202:
            return None
        try:
            for incoming in messages(resp):
                if incoming.kind != "response":
                    continue
                result = incoming.message.get("result") if incoming.message else None
                versions = result.get("supportedVersions") if isinstance(result, dict) else None
                if isinstance(versions, list) and MODERN in versions:
                    return result
                return None
        except httpx.HTTPError:
            return None
    return None


class Modern:
    """A 2026-07-28 server behind a bridge that may face a handshake-era client."""

    def __init__(
        self, channel: Channel, out: Outbox, warn: Callable[[str], None], discover: dict[str, Any]
    ) -> None:
        self.channel = channel
        self.out = out
        self.warn = warn
        self.discover = discover
        self.client_capabilities: dict[str, Any] = {}
        self.client_info: dict[str, Any] = dict(BRIDGE_INFO)
        self._lock = threading.Lock()
        self._inflight: dict[str, httpx.Response] = {}
        self._cancelled: set[str] = set()
        self._running: dict[str, int] = {}  # request key -> the worker thread sending it
        self._waiting: dict[str, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self._input_ids = itertools.count(1)
        self._param_headers: dict[str, dict[tuple[str, ...], str]] = {}
        self._list_ids = itertools.count(1)
        self._resources: set[str] = set()
        self._listen_gen = 0
        self._listen_resp: httpx.Response | None = None
        self._listen_thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def initialize_result(self, params: dict[str, Any]) -> dict[str, Any]:
        """The handshake answer, built from ``server/discover`` (what the server would say)."""
        asked = params.get("protocolVersion")
        version = asked if asked in HANDSHAKE_VERSIONS else HANDSHAKE_VERSIONS[0]
        raw_meta = self.discover.get("_meta")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        info = (
            meta.get(META_SERVER_INFO)
            or self.discover.get("serverInfo")
            or {"name": "remote", "version": ""}
        )
        result: dict[str, Any] = {
            "protocolVersion": version,
            "capabilities": self.discover.get("capabilities") or {},
            "serverInfo": info,
        }
        if isinstance(self.discover.get("instructions"), str):
            result["instructions"] = self.discover["instructions"]
        return result

    def dispatch(self, msg: dict[str, Any], raw: bytes) -> Job | None:
        method = msg.get("method")
        has_id = "id" in msg
        raw_params = msg.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        if method is None:
            if has_id:  # the client's answer to an input request we forwarded
                self._answered(msg)
            return None
        if not has_id:
            if method == "notifications/cancelled":
                self._cancel(params.get("requestId"))
            elif method == "notifications/initialized":
                self._listen()
            return None  # no client->server notifications on the 2026-07-28 wire
        request_id = msg["id"]
        if method == "initialize":
            caps = params.get("capabilities")
            info = params.get("clientInfo")
            self.client_capabilities = caps if isinstance(caps, dict) else {}
            if isinstance(info, dict):
                self.client_info = info
            self.out.result(request_id, self.initialize_result(params))
            return None
        if method in ("ping", "logging/setLevel"):
            self.out.result(request_id, {})
            return None
        if method in ("resources/subscribe", "resources/unsubscribe"):
            uri = params.get("uri")
            if not isinstance(uri, str):
                self.out.error(request_id, f"{method} needs a uri", -32602)
                return None
            with self._lock:
                if method == "resources/subscribe":
                    self._resources.add(uri)
                else:
                    self._resources.discard(uri)
            self._listen()  # re-open the subscription with the new set of URIs
            self.out.result(request_id, {})
            return None
        return lambda: self._call(msg, params)

    # -- requests ----------------------------------------------------------------------

    def _call(self, msg: dict[str, Any], params: dict[str, Any]) -> None:
        method = str(msg["method"])
        key = id_key(msg["id"])
        params = dict(params)
        meta = dict(params.get("_meta") or {})
        meta.setdefault(META_VERSION, MODERN)
        meta.setdefault(META_CAPABILITIES, self.client_capabilities)
        meta.setdefault(META_CLIENT_INFO, self.client_info)
        params["_meta"] = meta
        with self._lock:
            self._running[key] = threading.get_ident()
        relisted = False
        try:
            for _ in range(MAX_ROUNDS):
                body = json.dumps({**msg, "params": params}).encode()
                headers = modern_headers(method, params, str(meta[META_VERSION]))
                if method == "tools/call":
                    headers.update(self._tool_headers(params))
                try:
                    resp = self.channel.request("POST", body=body, headers=headers)
                except Failure:
                    if key in self._cancelled:
                        return  # we cut the connection: that was the cancellation
                    raise
                with self._lock:
                    self._inflight[key] = resp
                    cancelled = key in self._cancelled
                if cancelled:
                    resp.close()  # closing the stream is the cancellation
                    return
                with contextlib.closing(resp):
                    if method == "tools/call" and not relisted and self._header_mismatch(resp):
                        relisted = True  # the tool's header annotations changed: re-list, retry
                        self._relist()
                        continue
                    answer = self._read(resp, msg["id"])
                if answer is None:
                    if key in self._cancelled:
                        return  # closing the stream was the cancellation; no answer expected
                    raise self.channel.fail("the server closed the connection before answering")
                more = self._input_required(answer)
                if more is None:
                    if method == "tools/list":
                        answer = self._learn_tools(answer)
                    self.out.raw(answer.data)
                    return
                params = {**params, **self._gather(more)}
            raise self.channel.fail(f"the server asked for input more than {MAX_ROUNDS} times")
        finally:
            with self._lock:
                self._inflight.pop(key, None)
                self._cancelled.discard(key)
                self._running.pop(key, None)
            self.channel.forget_thread(threading.get_ident())

    # -- Mcp-Param-* headers -------------------------------------------------------------

    def _tool_headers(self, params: dict[str, Any]) -> dict[str, str]:
        name = params.get("name")
        arguments = params.get("arguments")
        with self._lock:
            annotated = self._param_headers.get(name) if isinstance(name, str) else None
        if not annotated or not isinstance(arguments, dict):
            return {}
        headers: dict[str, str] = {}
        for path, token in annotated.items():
            node: object = arguments
            for key in path:
                node = node.get(key) if isinstance(node, dict) else None
            rendered = render_param(node) if node is not None else None
            if rendered is not None:
                headers[f"Mcp-Param-{token}"] = rendered
        return headers

    def _learn_tools(self, answer: Incoming) -> Incoming:
        """Record each tool's header annotations; drop tools whose annotations are invalid."""
        result = answer.message.get("result") if answer.message else None
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(result, dict) or not isinstance(tools, list):
            return answer
        kept = []
        for tool in tools:
            name = tool.get("name") if isinstance(tool, dict) else None
            annotated = param_headers(tool.get("inputSchema")) if isinstance(tool, dict) else {}
            if annotated is None:
                self.warn(
                    f"mcpcred: dropped tool {str(name)[:80]!r}: invalid x-mcp-header annotation"
                )
                continue
            if isinstance(name, str):
                with self._lock:
                    self._param_headers[name] = annotated
            kept.append(tool)
        if len(kept) == len(tools) or answer.message is None:
            return answer
        message = {**answer.message, "result": {**result, "tools": kept}}
        return Incoming(json.dumps(message, separators=(",", ":")).encode())

    def _header_mismatch(self, resp: httpx.Response) -> bool:
        """Whether ``resp`` is a ``-32020 HeaderMismatch`` (it is then consumed)."""
        if resp.status_code != 400:
            return False
        code, _, _ = error_text(resp)
        return code == -32020

    def _relist(self) -> None:
        """Page through ``tools/list`` to refresh the header annotations (answers not delivered)."""
        cursor: object = None
        for _ in range(50):
            params: dict[str, Any] = {
                "_meta": {
                    META_VERSION: MODERN,
                    META_CAPABILITIES: self.client_capabilities,
                    META_CLIENT_INFO: self.client_info,
                }
            }
            if cursor is not None:
                params["cursor"] = cursor
            request_id = f"mcpcred-list-{next(self._list_ids)}"
            body = {"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params}
            resp = self.channel.request(
                "POST", body=json.dumps(body).encode(), headers=modern_headers("tools/list", params)
            )
            with contextlib.closing(resp):
                if not resp.is_success:
                    return
                page = next((m for m in messages(resp) if m.kind == "response"), None)
            if page is None:
                return
            self._learn_tools(page)
            result = page.message.get("result") if page.message else None
            cursor = result.get("nextCursor") if isinstance(result, dict) else None
            if not cursor:
                return

    def _read(self, resp: httpx.Response, request_id: object) -> Incoming | None:
        if not resp.is_success or resp.status_code == 202:
            code, message, data = error_text(resp)
            if code is None or message is None:
                raise self.channel.fail(f"the server answered HTTP {resp.status_code}")
            error: dict[str, Any] = {"code": code, "message": self.channel.scrub(message)}
            if code in MODERN_ERRORS and data is not None:
                error["data"] = data
            self.out.message({"jsonrpc": "2.0", "id": request_id, "error": error})
            return Incoming(b"{}")  # answered (with the server's error)
        try:
            for incoming in messages(resp):
                if incoming.kind == "response":
                    return incoming
                self.out.raw(incoming.data)  # progress and other notifications
        except httpx.ReadTimeout:
            raise self.channel.silent() from None
        except httpx.HTTPError:
            return None
        return None

    def _input_required(self, answer: Incoming) -> dict[str, Any] | None:
        """The ``InputRequiredResult`` in ``answer``, if that is what it is."""
        if answer.message is None:
            return None
        result = answer.message.get("result")
        if isinstance(result, dict) and result.get("resultType") == "input_required":
            return result
        return None

    def _gather(self, result: dict[str, Any]) -> dict[str, Any]:
        """Ask the client each embedded input request; the params to retry with."""
        raw_requests = result.get("inputRequests")
        requests: dict[str, Any] = raw_requests if isinstance(raw_requests, dict) else {}
        pending: list[tuple[str, str, threading.Event, list[dict[str, Any]]]] = []
        for name, request in requests.items():
            if not isinstance(request, dict) or not isinstance(request.get("method"), str):
                raise self.channel.fail(
                    "the server asked for input in a form the bridge cannot read"
                )
            local_id = f"mcpcred-input-{next(self._input_ids)}"
            done = threading.Event()
            box: list[dict[str, Any]] = []
            with self._lock:
                self._waiting[id_key(local_id)] = (done, box)
            pending.append((name, local_id, done, box))
            message = {"jsonrpc": "2.0", "id": local_id, "method": request["method"]}
            if isinstance(request.get("params"), dict):
                message["params"] = request["params"]
            self.out.message(message)
        responses: dict[str, Any] = {}
        try:
            for name, _local_id, done, box in pending:
                if not done.wait(self.channel.read_timeout) or not box:
                    raise self.channel.fail(
                        "the client did not answer the server's request for input"
                    )
                answer = box[0]
                if "result" not in answer:
                    raise self.channel.fail("the client refused the server's request for input")
                responses[name] = answer["result"]
        finally:
            with self._lock:
                for _name, local_id, _done, _box in pending:
                    self._waiting.pop(id_key(local_id), None)
        retry: dict[str, Any] = {"inputResponses": responses}
        if isinstance(result.get("requestState"), str):
            retry["requestState"] = result["requestState"]
        return retry

    def _answered(self, msg: dict[str, Any]) -> None:
        with self._lock:
            waiter = self._waiting.get(id_key(msg.get("id")))
        if waiter is not None:
            waiter[1].append(msg)
            waiter[0].set()

    def _cancel(self, request_id: object) -> None:
        """Cancellation on the 2026-07-28 wire: close that request's response stream."""
        if request_id is None:
            return
        key = id_key(request_id)
        with self._lock:
            thread = self._running.get(key)
            if thread is None:
                return
            self._cancelled.add(key)
            resp = self._inflight.get(key)
        if resp is not None:
            self.channel.abort(resp)
        else:  # still waiting for the answer's headers: cut the connection it was sent on
            self.channel.abort_thread(thread)

    # -- subscriptions/listen ------------------------------------------------------------

    def _filter(self) -> dict[str, Any]:
        """What to listen for: the list changes the server offers, the subscribed resources."""
        raw_caps = self.discover.get("capabilities")
        caps: dict[str, Any] = raw_caps if isinstance(raw_caps, dict) else {}
        wanted: dict[str, Any] = {}
        for kind in ("tools", "prompts", "resources"):
            cap = caps.get(kind)
            if isinstance(cap, dict) and cap.get("listChanged"):
                wanted[f"{kind}ListChanged"] = True
        with self._lock:
            if self._resources:
                wanted["resourceSubscriptions"] = sorted(self._resources)
        return wanted

    def _listen(self) -> None:
        """(Re)open the ``subscriptions/listen`` stream for what the client may want."""
        wanted = self._filter()
        self._stop_listening()
        with self._lock:
            gen = self._listen_gen
        if not wanted or self._stopping.is_set():
            return
        thread = threading.Thread(
            target=self._listen_loop, args=(gen, wanted), name="mcpcred-bridge-listen", daemon=True
        )
        self._listen_thread = thread
        thread.start()

    def _stop_listening(self) -> None:
        """Cut the current listen stream, also while its headers are still awaited."""
        with self._lock:
            self._listen_gen += 1
            old = self._listen_resp
            self._listen_resp = None
            thread = self._listen_thread
        if old is not None:
            self.channel.abort(old)
        elif thread is not None and thread.ident is not None and thread.is_alive():
            self.channel.abort_thread(thread.ident)

    def _listen_loop(self, gen: int, wanted: dict[str, Any]) -> None:
        failures = 0
        while not self._stopping.is_set() and gen == self._listen_gen:
            params: dict[str, Any] = {
                "notifications": wanted,
                "_meta": {
                    META_VERSION: MODERN,
                    META_CAPABILITIES: self.client_capabilities,
                    META_CLIENT_INFO: self.client_info,
                },
            }
            body = {
                "jsonrpc": "2.0",
                "id": f"mcpcred-listen-{gen}",
                "method": "subscriptions/listen",
                "params": params,
            }
            try:
                resp = self.channel.request(
                    "POST",
                    body=json.dumps(body).encode(),
                    headers=modern_headers("subscriptions/listen", params),
                )
            except Failure as exc:
                failures += 1
                if failures >= 3 or self.channel.closing:
                    if not self.channel.closing:
                        self.warn(
                            f"mcpcred: stopped listening for server notifications: {exc.message}"
                        )
                    return
                if self._stopping.wait(1.0):
                    return
                continue
            with self._lock:
                self._listen_resp = resp
                stale = self._stopping.is_set() or gen != self._listen_gen
            self.channel.forget_thread(threading.get_ident())
            try:
                if stale or not resp.is_success or resp.status_code == 202:
                    return  # replaced, closed, or not offered (the server answered an error)
                failures = 0
                for incoming in messages(resp):
                    modern_only = b"notifications/subscriptions/" in incoming.data[:300]
                    if incoming.kind == "notification" and not modern_only:
                        self.out.raw(incoming.data)
            except httpx.HTTPError:
                pass  # dropped or idle too long: open it again
            finally:
                resp.close()
            if self._stopping.wait(1.0):
                return

    def close(self) -> None:
        """Nothing to DELETE (no session); abort what is still in flight."""
        self._stopping.set()
        self._stop_listening()
        with self._lock:
            inflight = list(self._inflight.values())
            waiting = list(self._waiting.values())
        for resp in inflight:
            self.channel.abort(resp)
        for done, _box in waiting:
            done.set()
        if self._listen_thread is not None:
            self._listen_thread.join(timeout=2.0)


__all__ = ["MODERN", "Failure", "Modern", "probe"]
