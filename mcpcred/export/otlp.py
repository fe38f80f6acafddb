"""The OTLP/HTTP sink: guard records as OpenTelemetry log records and tool calls as spans.

Built on the official ``opentelemetry-sdk`` and ``opentelemetry-exporter-otlp-proto-http``
(the ``mcpcred[otel]`` extra), imported when a sink is built: the SDK's own
``LoggerProvider`` and ``TracerProvider`` make the records (so limits, the resource
and the encoding are the SDK's), and the exporters are called directly, once per
batch, so ``send`` knows whether the collector took it (the SDK's batch processors
would drop a batch on a failure the worker must retry).

Mapping (the OpenTelemetry semantic conventions for MCP and GenAI; docs/export.md):

* every record is one log record: its body is the record's JSON exactly as
  ``mcpcred log --json`` prints it, its time the record's ``time``, its
  ``event_name`` ``mcpcred.<event>``, and its attributes the conventions' names
  (``mcp.method.name``, ``gen_ai.tool.name``, ``jsonrpc.request.id``,
  ``mcp.session.id`` ...) plus ``mcpcred.*`` for the record's own scalar fields;
* every outcome of a call (``call``, and ``session`` for ``initialize``) is one
  SERVER span named ``{mcp.method.name} {target}``: it starts when the request's
  record was written (the ``request`` record with the same ``session`` and
  ``request_id``, else the outcome's time less its duration), lasts
  ``duration_ms`` (the ``mcp.server.operation.duration`` the guard measured), and is
  ``ERROR`` unless the outcome is ``ok``. The call's log records carry its trace and
  span id, so a backend shows them under the span.

Ids are derived from the record (session, request id, method), not random: a batch
sent twice (export is at least once) repeats the same span, which a backend can
deduplicate, instead of inventing a second call. Nothing is added that the log
does not hold: the records come redacted, and header values are only ever given
to the exporter (never logged, never in an error).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import OrderedDict

from mcpcred.errors import ExportError
from mcpcred.guard.logtime import record_time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from opentelemetry._logs import SeverityNumber
    from opentelemetry.context import Context
    from opentelemetry.sdk._logs import ReadableLogRecord, ReadWriteLogRecord
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.id_generator import IdGenerator
    from opentelemetry.util.types import AnyValue

SCOPE = "mcpcred.guard"
_PAIRED = 10_000  # request records remembered for their outcome (bounded: ids come from clients)
_SPANNED = frozenset({"call", "session"})
_EMPTY: Mapping[str, str] = {}
_LOGGERS = ("opentelemetry",)
_MAX_TEXT = 4096  # attribute values; the body holds the record whole
_MAX_ANSWER = 64 * 1024  # bytes of a collector's answer read (OTLP's is a tiny protobuf)


class OtlpSink:
    """Delivers audit records to an OTLP/HTTP collector (``/v1/logs``, ``/v1/traces``)."""

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] = _EMPTY,
        ca_file: str | None = None,
        timeout: float = 5.0,
    ) -> None:
        from mcpcred.export import targets

        target = targets.parse(url, error=ExportError)
        if target.kind != "otlp":
            raise ExportError(f"{target.shown} is not an OTLP URL")
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            raise ExportError(
                "OTLP export needs the OpenTelemetry packages",
                hint="install them with: pip install 'mcpcred[otel]'",
            ) from None
        self.shown = target.shown
        scheme = targets.OTLP_SCHEMES[target.scheme]
        host = f"[{target.host}]" if ":" in target.host else target.host
        base = f"{scheme}://{host}:{target.port}"
        if ca_file is not None and scheme != "https":
            raise ExportError(f"{self.shown}: ca_file needs otlp+https")
        if ca_file is not None and not os.path.isfile(ca_file):
            raise ExportError(f"{self.shown}: the CA file {ca_file} does not exist")
        self._capture = _Capture()
        # What the last request got (a status, or the exception), from the HTTP client
        # itself: the exporter reports a failure only as a log line, and its logger drops
        # a line that repeats the last one.
        self._session = _session()
        with _without_environment_credentials():
            self._logs = OTLPLogExporter(
                endpoint=f"{base}/v1/logs",
                certificate_file=ca_file,
                headers=dict(headers),
                timeout=timeout,
                session=self._session,
            )
            self._spans = OTLPSpanExporter(
                endpoint=f"{base}/v1/traces",
                certificate_file=ca_file,
                headers=dict(headers),
                timeout=timeout,
                session=self._session,
            )
        self._builder = _Builder()
        self._lock = threading.Lock()

    def send(self, records: Sequence[Mapping[str, object]]) -> None:
        """Hand ``records`` to the collector; ``ExportError`` unless it took all of them."""
        if not records:
            return
        with self._lock:
            logs, spans = self._builder.build(records)
            if len(logs) != len(records):  # OTEL_SDK_DISABLED: the SDK made nothing
                raise ExportError(
                    f"the OpenTelemetry SDK made {len(logs)} log record(s) of {len(records)}, "
                    f"so nothing can go to {self.shown}",
                    hint="OTEL_SDK_DISABLED=true in the environment turns the SDK off; "
                    "unset it for mcpcred",
                )
            from opentelemetry.sdk._logs.export import LogRecordExportResult
            from opentelemetry.sdk.trace.export import SpanExportResult

            self._session.seen = None
            with self._capture as failures:
                if self._logs.export(logs) is not LogRecordExportResult.SUCCESS:
                    raise self._failure("log records", failures)
                self._not_redirected("log records")
                if spans and self._spans.export(spans) is not SpanExportResult.SUCCESS:
                    raise self._failure("spans", failures)
                if spans:
                    self._not_redirected("spans")

    def _not_redirected(self, what: str) -> None:
        """A 3xx answer is no delivery: raise so the worker keeps its cursor.

        The exporter counts any status below 400 as success, but it does not follow a
        redirect (nor may it: the headers hold the collector's token), so the records
        went nowhere. Taking that as delivered would move the cursor past them: a
        collector behind a proxy that redirects http to https would silently lose
        every record.
        """
        seen = self._session.seen
        if isinstance(seen, int) and 300 <= seen < 400:
            raise ExportError(
                f"the collector at {self.shown} redirected the {what} (HTTP {seen}), "
                "which mcpcred does not follow",
                hint="give the collector's own address (for http to https: otlp+https://)",
            )

    def _failure(self, what: str, failures: list[logging.LogRecord]) -> ExportError:
        """One line for a failed export: the HTTP status or the OS's reason, no values."""
        from mcpcred.export.targets import RefusedBatch

        status, message = self._status(what, failures)
        if status in (400, 413, 422):
            return RefusedBatch(message)
        if any("max_request_size" in str(record.msg) for record in failures):
            # The exporter itself drops a request over its size limit (64 MiB), without
            # sending it: as a 413 would, sending it again cannot help, and retrying it
            # forever would hold back every later record.
            return RefusedBatch(f"the {what} for {self.shown} are larger than one request may be")
        return ExportError(message)

    def _status(self, what: str, failures: list[logging.LogRecord]) -> tuple[int | None, str]:
        seen = self._session.seen
        if isinstance(seen, int) and not 200 <= seen < 300:
            return seen, f"the collector at {self.shown} refused the {what}: HTTP {seen}"
        said = [str(seen)] if isinstance(seen, BaseException) else []
        for record in failures:
            args = record.args if isinstance(record.args, tuple) else ()
            said.extend(str(arg) for arg in args)
        return None, f"cannot deliver {what} to {self.shown}: {_reason(' '.join(said))}"

    def close(self) -> None:
        """Release the exporters' connections."""
        with self._capture:
            for exporter in (self._logs, self._spans):
                try:
                    exporter.shutdown()  # type: ignore[no-untyped-call]
                except Exception:  # noqa: S112 - closing: nothing left to deliver
                    continue


@contextlib.contextmanager
def _without_environment_credentials() -> Iterator[None]:
    """Hide ``OTEL_EXPORTER_OTLP_*HEADERS`` / ``*CERTIFICATE`` / ``*CLIENT_KEY`` while the
    exporters are made.

    The exporter adds the headers of those variables to every request, whatever headers
    it is given: a user whose shell exports a vendor's API key for other programs
    (``OTEL_EXPORTER_OTLP_HEADERS=x-honeycomb-team=...``) would have it sent to the
    collector mcpcred was told about, perhaps a repository's or over plain HTTP. A
    target's headers come from ``[[log.export]]`` and the secret store only, and the
    same holds for a client certificate. The sink is built on one thread (the worker's
    loop, the CLI), so the variables are only briefly away.
    """
    hidden = {
        name: os.environ.pop(name)
        for name in list(os.environ)
        if name.startswith("OTEL_EXPORTER_OTLP_")
        and name.endswith(("HEADERS", "CERTIFICATE", "CLIENT_KEY"))
    }
    try:
        yield
    finally:
        os.environ.update(hidden)


def _reason(cause: str) -> str:
    """What went wrong, from the exporter's logged causes, without quoting any of them."""
    text = cause.lower()
    for needle, said in (
        ("refused", "connection refused"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("certificate", "TLS certificate not accepted"),
        ("ssl", "TLS handshake failed"),
        ("name or service not known", "host not found"),
        ("nodename nor servname", "host not found"),
        ("getaddrinfo", "host not found"),
        ("reset", "connection reset"),
    ):
        if needle in text:
            return said
    return "no answer (the collector is down or unreachable)"


if TYPE_CHECKING:
    import requests

    class _Seeing(requests.Session):
        seen: int | BaseException | None


def _session() -> _Seeing:
    """A ``requests`` session (the exporter's HTTP client) that keeps what it last got."""
    import requests

    class Seeing(requests.Session):
        seen: int | BaseException | None = None

        def send(self, request: requests.PreparedRequest, **options: object) -> requests.Response:
            # Never follow a redirect, whatever the exporter's version asks: requests
            # would carry every header but Authorization (an X-Api-Key, say) to the
            # host the answer names, and turn the POST into a GET that delivers nothing.
            options["allow_redirects"] = False
            # The answer's body is never used: read at most _MAX_ANSWER bytes of it, so
            # a collector (or a MITM on http) answering with gigabytes cannot fill the
            # worker's memory; a longer body closes the connection instead.
            # The same for one sent a byte at a time: the read stops at the timeout.
            options["stream"] = True
            limit = options.get("timeout")
            until = time.monotonic() + (limit if isinstance(limit, int | float) else 10.0)
            try:
                response = super().send(request, **options)
                body = bytearray()
                for chunk in response.iter_content(1):  # a byte at a time: the clock is seen
                    body += chunk
                    if len(body) > _MAX_ANSWER or time.monotonic() > until:
                        body.clear()
                        break
                response._content = bytes(body)
                response.close()
            except Exception as exc:
                self.seen = exc
                raise
            self.seen = response.status_code
            return response

        def merge_environment_settings(
            self,
            url: str,
            proxies: dict[str, str] | None,
            stream: bool | None,
            verify: bool | str | None,
            cert: str | tuple[str, str] | None,
        ) -> dict[str, object]:
            # requests lets REQUESTS_CA_BUNDLE (often set machine-wide) replace the
            # session's CA file: the collector's ca_file would be ignored.
            settings: dict[str, object] = super().merge_environment_settings(
                url, proxies, stream, verify, cert
            )
            if isinstance(self.verify, str):
                settings["verify"] = self.verify
            # A collector on this machine is never reached through a proxy: HTTP_PROXY
            # (without a NO_PROXY for it) would carry a plain-HTTP request, its header
            # and all, across the network to a proxy that cannot reach our loopback.
            from urllib.parse import urlsplit

            from mcpcred.export.targets import is_loopback

            if is_loopback(urlsplit(url).hostname or ""):
                settings["proxies"] = {}
            return settings

    made: _Seeing = Seeing()  # type: ignore[assignment]
    # Any auth set on the session keeps requests from adding ~/.netrc's login for the
    # host (a "default" entry matches every host): a collector gets the headers of
    # its [[log.export]] table and nothing else of the user's.
    made.auth = _no_auth
    return made


def _no_auth(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


class _Capture:
    """Keeps the exporters' log messages off stderr; hands a failed export's to ``send``.

    The exporters report failures through ``logging`` (and would print them on
    stderr with Python's last-resort handler). Only their status code and cause
    are used, to write one line of our own.
    """

    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []
        self._handler = _ListHandler(self.records)
        for name in _LOGGERS:  # outside a send too (closing): never Python's stderr fallback
            logger = logging.getLogger(name)
            if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
                logger.addHandler(logging.NullHandler())
            logger.propagate = False

    def __enter__(self) -> list[logging.LogRecord]:
        self.records.clear()
        for name in _LOGGERS:
            logging.getLogger(name).addHandler(self._handler)
        return self.records

    def __exit__(self, *_: object) -> None:
        for name in _LOGGERS:
            logging.getLogger(name).removeHandler(self._handler)


class _ListHandler(logging.Handler):
    def __init__(self, into: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.into = into

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(record)


class _Builder:
    """Records to the SDK's log records and spans, through its providers."""

    def __init__(self) -> None:
        from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        from mcpcred import __version__

        resource = _resource()
        self.logs: list[ReadableLogRecord] = []
        self.spans: list[ReadableSpan] = []
        logs, spans = self.logs, self.spans

        class Logs(LogRecordProcessor):
            def on_emit(self, log_record: ReadWriteLogRecord) -> None:
                from opentelemetry.sdk._logs import ReadableLogRecord

                logs.append(
                    ReadableLogRecord(
                        log_record=log_record.log_record,
                        resource=log_record.resource or resource,
                        instrumentation_scope=log_record.instrumentation_scope,
                        limits=log_record.limits,
                    )
                )

            def shutdown(self) -> None:
                return None

            def force_flush(self, timeout_millis: int = 30000) -> bool:
                return True

        class Spans(SpanProcessor):
            def on_end(self, span: ReadableSpan) -> None:
                spans.append(span)

        self.ids = _ids()
        log_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        log_provider.add_log_record_processor(Logs())
        trace_provider = TracerProvider(
            resource=resource, sampler=ALWAYS_ON, id_generator=self.ids, shutdown_on_exit=False
        )
        trace_provider.add_span_processor(Spans())
        self.logger = log_provider.get_logger(SCOPE, __version__)
        self.tracer = trace_provider.get_tracer(SCOPE, __version__)
        self.requests: OrderedDict[tuple[object, ...], int] = OrderedDict()

    def build(
        self, records: Sequence[Mapping[str, object]]
    ) -> tuple[list[ReadableLogRecord], list[ReadableSpan]]:
        self.logs.clear()
        self.spans.clear()
        for record in records:
            self._one(record)
        return list(self.logs), list(self.spans)

    def _one(self, record: Mapping[str, object]) -> None:
        from opentelemetry._logs import LogRecord

        when = _nanos(record.get("time"))
        event = str(record.get("event", ""))
        ids = _call_ids(record)
        context = _context(*ids) if ids is not None else None
        if event == "request" and ids is not None and when is not None:
            key = _pair_key(record)
            self.requests[key] = when
            self.requests.move_to_end(key)
            while len(self.requests) > _PAIRED:
                self.requests.popitem(last=False)
        severity, text = _severity(record)
        self.logger.emit(
            LogRecord(
                timestamp=when,
                context=context,
                severity_number=severity,
                severity_text=text,
                body=_body(record),
                attributes=_attributes(record),
                event_name=f"mcpcred.{event}" if event else None,
            )
        )
        if event in _SPANNED and ids is not None and when is not None:
            self._span(record, when, ids)

    def _span(self, record: Mapping[str, object], when: int, ids: tuple[int, int]) -> None:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        duration = record.get("duration_ms")
        lasted = (
            int(duration * 1e6) if isinstance(duration, int | float) and _number(duration) else 0
        )
        start = self.requests.pop(_pair_key(record), None)
        if start is None or start > when:
            start = when - lasted
        end = start + lasted
        method = str(record.get("method") or "")
        target = _target(record)
        name = _text(f"{method} {target}" if target and method != "resources/read" else method)
        attributes = _attributes(record)
        outcome = record.get("outcome")
        self.ids.next = ids
        span = self.tracer.start_span(
            name or "mcp", kind=SpanKind.SERVER, attributes=attributes, start_time=start
        )
        if outcome != "ok":
            description = record.get("error") or record.get("reason") or str(outcome)
            span.set_status(Status(StatusCode.ERROR, _text(str(description))))
        span.end(end_time=end)


class _Next:
    next: tuple[int, int] = (1, 1)


def _ids() -> _Ids:
    """The SDK's id generator, answering with the ids the next span was given."""
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class Ids(IdGenerator, _Next):
        def generate_trace_id(self) -> int:
            return self.next[0]

        def generate_span_id(self) -> int:
            return self.next[1]

        def is_trace_id_random(self) -> bool:
            return False

    made: _Ids = Ids()  # type: ignore[assignment]
    return made


if TYPE_CHECKING:

    class _Ids(IdGenerator, _Next):
        pass


def _resource() -> Resource:
    """host, user, service name and version (``OTEL_RESOURCE_ATTRIBUTES`` may add more)."""
    import getpass
    import socket

    from opentelemetry.sdk.resources import Resource

    from mcpcred import __version__

    attributes: dict[str, str] = {
        "service.name": "mcpcred",
        "service.version": __version__,
        "host.name": socket.gethostname(),
    }
    with contextlib.suppress(OSError, KeyError, ImportError):
        attributes["user.name"] = getpass.getuser()
    return Resource.create(attributes)


def _pair_key(record: Mapping[str, object]) -> tuple[object, ...]:
    return (
        record.get("session"),
        record.get("server"),
        record.get("method"),
        _id_text(record.get("request_id")),
    )


def _call_ids(record: Mapping[str, object]) -> tuple[int, int] | None:
    """(trace id, span id) of the call a record belongs to; None if it is no call's."""
    if not isinstance(record.get("method"), str) or record.get("event") not in (
        "request",
        "call",
        "session",
    ):
        return None
    request_id = record.get("request_id")
    if request_id is None:  # no id to pair by: the record's own MAC
        seed = f"mac\0{record.get('mac')}\0{record.get('seq')}"
    else:
        session, server, method, shown = _pair_key(record)
        seed = f"call\0{session}\0{server}\0{method}\0{shown}"
    digest = hashlib.sha256(seed.encode("utf-8", "replace")).digest()
    trace_id = int.from_bytes(digest[:16], "big") or 1
    span_id = int.from_bytes(digest[16:24], "big") or 1
    return trace_id, span_id


def _context(trace_id: int, span_id: int) -> Context:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    span = NonRecordingSpan(
        SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    )
    return trace.set_span_in_context(span)


def _severity(record: Mapping[str, object]) -> tuple[SeverityNumber, str]:
    from opentelemetry._logs import SeverityNumber

    event, outcome = record.get("event"), record.get("outcome")
    if event == "finding" or outcome in ("denied", "blocked", "warned") or event == "malformed":
        return SeverityNumber.WARN, "WARN"
    if outcome == "error":
        return SeverityNumber.ERROR, "ERROR"
    return SeverityNumber.INFO, "INFO"


def _target(record: Mapping[str, object]) -> str | None:
    value = record.get("tool")
    return value if isinstance(value, str) and value else None


def _attributes(record: Mapping[str, object]) -> dict[str, AnyValue]:
    """The conventions' attributes of a record, then its own scalar fields as ``mcpcred.*``."""
    out: dict[str, AnyValue] = {}
    method = record.get("method")
    if isinstance(method, str) and method:
        out["mcp.method.name"] = _text(method)
        target = _target(record)
        if method == "tools/call":
            out["gen_ai.operation.name"] = "execute_tool"
            if target:
                out["gen_ai.tool.name"] = _text(target)
        elif method == "prompts/get" and target:
            out["gen_ai.prompt.name"] = _text(target)
        uri = record.get("uri")
        if isinstance(uri, str) and uri:
            out["mcp.resource.uri"] = _text(uri)
        request_id = record.get("request_id")
        if request_id is not None:
            out["jsonrpc.request.id"] = _text(_id_text(request_id))
        out["network.transport"] = "tcp" if record.get("url") else "pipe"
    session = record.get("session")
    if isinstance(session, str) and session:
        out["mcp.session.id"] = _text(session)
    outcome = record.get("outcome")
    if record.get("event") in _SPANNED and isinstance(outcome, str) and outcome != "ok":
        out["error.type"] = _error_type(record)
    for name, value in record.items():
        if name in ("v", "time", "mac", "prev", "arguments"):
            continue
        if isinstance(value, bool | int | float):
            out[f"mcpcred.{name}"] = value
        elif isinstance(value, str):
            out[f"mcpcred.{name}"] = _text(value)
        elif isinstance(value, list) and all(isinstance(item, str) for item in value):
            out[f"mcpcred.{name}"] = [_text(item) for item in value[:100]]
    return out


def _body(record: Mapping[str, object]) -> str:
    """The record's JSON as ``mcpcred log --json`` prints it; ASCII-escaped if it holds text
    protobuf cannot carry (a lone surrogate), so one record cannot poison a batch."""
    text = json.dumps(dict(record), separators=(",", ":"), ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(dict(record), separators=(",", ":"))
    return text


def _text(value: str) -> str:
    """``value`` cut to ``_MAX_TEXT`` and valid UTF-8 (protobuf strings must be)."""
    value = value[:_MAX_TEXT]
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _error_type(record: Mapping[str, object]) -> str:
    outcome = record.get("outcome")
    if outcome == "error":
        return "_OTHER" if record.get("error") is not None else "tool_error"
    return str(outcome)


def _id_text(value: object) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def _nanos(value: object) -> int | None:
    when = record_time(value)
    return None if when is None else int(when.timestamp() * 1_000_000) * 1000
