"""A small OTLP/HTTP receiver on loopback: decodes what it gets with ``opentelemetry-proto``.

Real protobuf decoding with the official generated classes (the same ones a
collector uses), so a test sees what a collector would: resource attributes,
log records with body and attributes, spans with times, kind and status. It
can be told to fail (an HTTP status), to want a header, and can be stopped and
started again on the same port (a collector that is down, then back).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def _value(any_value: object) -> object:
    """An OTLP ``AnyValue`` as plain Python."""
    kind = any_value.WhichOneof("value")  # type: ignore[attr-defined]
    if kind is None:
        return None
    value = getattr(any_value, kind)
    if kind == "array_value":
        return [_value(item) for item in value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in value.values}
    return value


def attributes(items: object) -> dict[str, object]:
    return {item.key: _value(item.value) for item in items}  # type: ignore[attr-defined]


@dataclass
class Log:
    resource: dict[str, object]
    scope: str
    time_ns: int
    severity: str
    body: object
    attributes: dict[str, object]
    event_name: str
    trace_id: bytes
    span_id: bytes


@dataclass
class Span:
    resource: dict[str, object]
    name: str
    kind: int
    start_ns: int
    end_ns: int
    status_code: int
    status_message: str
    attributes: dict[str, object]
    trace_id: bytes
    span_id: bytes


@dataclass
class Receiver:
    """Collects what was posted to ``/v1/logs`` and ``/v1/traces``."""

    logs: list[Log] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)  # every body, to look for secrets in
    headers: list[dict[str, str]] = field(default_factory=list)
    fail_with: int | None = None
    want_header: tuple[str, str] | None = None
    port: int = 0
    tls: tuple[str, str] | None = None  # (cert.pem, key.pem): serve HTTPS
    location: str | None = None  # a Location header to answer with (with fail_with = 3xx)
    refuse_holding: bytes | None = None  # answer 400 to a request whose body holds this
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        scheme = "otlp+https" if self.tls else "otlp+http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                    code = receiver._status(self.headers)
                    if receiver.refuse_holding is not None and receiver.refuse_holding in body:
                        code = 400
                    if code == 200:
                        receiver._take(self.path, body)
                self.send_response(code)
                self.send_header("Content-Type", "application/x-protobuf")
                if receiver.location is not None:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        if self.tls is not None:
            import ssl

            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _status(self, headers: object) -> int:
        if self.fail_with is not None:
            return self.fail_with
        if self.want_header is not None:
            name, value = self.want_header
            if headers.get(name) != value:  # type: ignore[attr-defined]
                return 401
        return 200

    def _take(self, path: str, body: bytes) -> None:
        from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.raw.append(body)
        if path == "/v1/logs":
            request = ExportLogsServiceRequest()
            request.ParseFromString(body)
            for resource_logs in request.resource_logs:
                resource = attributes(resource_logs.resource.attributes)
                for scope_logs in resource_logs.scope_logs:
                    for item in scope_logs.log_records:
                        self.logs.append(
                            Log(
                                resource,
                                scope_logs.scope.name,
                                item.time_unix_nano,
                                item.severity_text,
                                _value(item.body),
                                attributes(item.attributes),
                                item.event_name,
                                item.trace_id,
                                item.span_id,
                            )
                        )
        elif path == "/v1/traces":
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                resource = attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for item in scope_spans.spans:
                        self.spans.append(
                            Span(
                                resource,
                                item.name,
                                item.kind,
                                item.start_time_unix_nano,
                                item.end_time_unix_nano,
                                item.status.code,
                                item.status.message,
                                attributes(item.attributes),
                                item.trace_id,
                                item.span_id,
                            )
                        )

    def seqs(self) -> list[int]:
        """The ``seq`` of every log record received, in order (duplicates kept)."""
        with self.lock:
            return [int(log.attributes["mcpcred.seq"]) for log in self.logs]  # type: ignore[call-overload]
