"""Audit export: guard records from the local, hash-chained log to a team's collector or SIEM.

The local log (``mcpcred.guard.auditlog``) stays the source of truth; export
reads it after the fact, asynchronously, at least once, from a persisted
cursor, and never sits on a tool call's path.

A *sink* delivers a batch of records to one receiver. Every sink has the
same small shape, so the worker and ``mcpcred log export`` need not know
which kind they drive::

    class Sink(Protocol):
        def send(self, records: Sequence[Mapping[str, object]]) -> None: ...
        def close(self) -> None: ...

``records`` are audit log records exactly as ``mcpcred log --json`` prints
them (already redacted by the guard; a sink adds no field that could carry a
secret). ``send`` returns when the receiver has taken the whole batch (as far
as its transport can tell) and raises ``mcpcred.errors.ExportError``
otherwise; it never logs or raises a header value. Sinks are built from the
URL forms of ``[[log.export]]`` and ``mcpcred log export --to URL``:

    otlp+http://HOST:PORT    otlp+https://HOST:PORT   OTLP/HTTP protobuf (/v1/logs, /v1/traces)
    syslog+tcp://HOST:PORT   syslog+tls://HOST:PORT   syslog+udp://HOST:PORT   RFC 5424

The sink modules import their dependencies (``opentelemetry-*``, ``ssl``)
when a sink is built, so nothing here costs a guarded server's start.
"""
