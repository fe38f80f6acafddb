"""Export targets: the URL forms, header references, and the sink each one builds.

One place parses ``otlp+http://HOST:PORT``, ``otlp+https://...``,
``syslog+tcp|tls|udp://HOST:PORT`` for both ``[[log.export]]`` and
``mcpcred log export --to URL``, so the two accept exactly the same forms and
refuse the same mistakes with the same one line.

A URL never carries a credential: userinfo, a query or a fragment is refused
(a collector's token goes in a header, and a header's value is a reference to
the secret store, ``mcpcred:secret/NAME``, never the value itself). So a
target can be named in errors, in ``finding`` records and in the cursor file
as it is written (``Target.shown``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcpcred.errors import ExportError, McpcredError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

OTLP_SCHEMES = {"otlp+http": "http", "otlp+https": "https"}
SYSLOG_SCHEMES = frozenset({"syslog+tcp", "syslog+tls", "syslog+udp"})
KINDS = ("otlp", "syslog")
OTLP_DEFAULT_PORT = 4318  # OTLP/HTTP's registered port
FRAMINGS = ("octet-counting", "newline")
_FORMS = (
    "otlp+http://HOST:PORT, otlp+https://HOST:PORT, syslog+tcp://HOST:PORT, "
    "syslog+tls://HOST:PORT or syslog+udp://HOST:PORT"
)


if TYPE_CHECKING:
    from typing import Protocol

    class Sink(Protocol):
        """The shape every sink has (``mcpcred.export``)."""

        def send(self, records: Sequence[Mapping[str, object]]) -> None: ...

        def close(self) -> None: ...


class RefusedBatch(ExportError):
    """The receiver refused this batch for what it holds (HTTP 400, 413, 422), not because
    it is down or the credentials are wrong: sending the same records again cannot help.

    The worker tries such a batch a few times, then skips it with a ``finding`` record
    in the local log, so one record the collector will never take cannot hold back
    everything after it.
    """


@dataclass(frozen=True)
class Target:
    """One receiver: its URL (checked), header references and options, and where it was set."""

    url: str
    kind: str
    scheme: str
    host: str
    port: int
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> mcpcred:secret/NAME
    ca_file: str | None = None
    framing: str | None = None
    facility: str | int | None = None  # syslog only
    max_size: int | None = None  # syslog only
    source: str = "--to"

    @property
    def shown(self) -> str:
        """``scheme://host:port``: safe to print and to log (no credential can be in it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def parse(url: str, *, where: str = "--to", error: type[McpcredError] = UsageError) -> Target:
    """``url`` as a ``Target``; one clear line (``error``) for anything else."""
    from urllib.parse import urlsplit

    text = url.strip()
    if "://" not in text:
        raise error(f"{where}: not an export URL (SCHEME://HOST:PORT)", hint=f"use {_FORMS}")
    scheme = text.split("://", 1)[0].lower()
    if scheme not in OTLP_SCHEMES and scheme not in SYSLOG_SCHEMES:
        raise error(f"{where}: unknown export URL scheme {_quoted(scheme)}", hint=f"use {_FORMS}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise error(
            f"{where}: the export URL's host or port is not valid", hint=f"use {_FORMS}"
        ) from None
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise error(
            f"{where}: an export URL must not hold a user or password",
            hint="put the collector's credential in the secret store and name it in a header: "
            'headers = { Authorization = "mcpcred:secret/NAME" }',
        )
    if parts.query or parts.fragment or text.endswith(("?", "#")):
        raise error(
            f"{where}: an export URL must not have a query or fragment",
            hint="a token in a URL ends up in logs; use a header from the secret store",
        )
    host = parts.hostname or ""
    if not host:
        raise error(f"{where}: the export URL has no host", hint=f"use {_FORMS}")
    if not _host_name(host):
        # The host is shown as it is (in messages, findings, the shim's stderr): no
        # terminal escapes or bidi controls, no spaces or escapes a resolver reads
        # differently, no look-alike letters.
        raise error(
            f"{where}: the export URL's host is not a host name or IP address",
            hint="use ASCII letters, digits, '-' and '.' (an international name in its "
            "xn-- form), or an IP address",
        )
    kind = "otlp" if scheme in OTLP_SCHEMES else "syslog"
    if parts.path not in ("", "/"):
        raise error(
            f"{where}: an export URL takes no path",
            hint="OTLP goes to /v1/logs and /v1/traces of the host and port given",
        )
    if port is None:
        if kind == "syslog":
            raise error(f"{where}: a syslog URL needs a port, e.g. syslog+tcp://HOST:514")
        port = OTLP_DEFAULT_PORT
    if port == 0:
        raise error(f"{where}: port 0 is not a port")
    return Target(url=text, kind=kind, scheme=scheme, host=host, port=port)


def header_refs(
    headers: Mapping[str, object], *, where: str, error: type[McpcredError]
) -> dict[str, str]:
    """Checked header references: each value must be a whole ``mcpcred:secret/NAME``.

    A literal value is refused, whatever it looks like: the config file and the
    command line are no place for a collector's token (the message never quotes it).
    """
    from mcpcred import references

    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _header_name(name):
            raise error(f"{where}: {_quoted(str(name))} is not a valid HTTP header name")
        ref = references._whole(value) if isinstance(value, str) else None
        if ref is None or ref[0] != references.SECRET:
            raise error(
                f"{where}: header {name} must be a secret-store reference, "
                "mcpcred:secret/NAME (a literal value is not accepted)",
                hint=f"store the value with `mcpcred secret set NAME` and use "
                f'{name} = "mcpcred:secret/NAME"',
            )
        checked[name] = str(value)
    return checked


def check_plaintext(
    target: Target, *, where: str, error: type[McpcredError], has_headers: bool = True
) -> None:
    """Refuse headers on ``otlp+http`` to a host that is not this machine.

    A header holds the collector's token: over plain HTTP anyone on the path reads
    it (and can replay it). To a loopback address it never leaves the machine, the
    one case where plain HTTP with a token is reasonable (a local collector).
    """
    if has_headers and target.scheme == "otlp+http" and not is_loopback(target.host):
        raise error(
            f"{where}: headers would go in clear text to {target.shown}",
            hint="use otlp+https (headers hold the collector's token); "
            "plain otlp+http with headers is only for a collector on this machine",
        )


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine: localhost or a loopback address."""
    import ipaddress

    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_headers(target: Target, lookup: Callable[[str], str] | None = None) -> dict[str, str]:
    """The header values, read from the secret store (``lookup``: name -> value).

    Refuses (before any secret is read) to give headers to plain HTTP off this machine.
    """
    from mcpcred import references
    from mcpcred.errors import SecretNotFound

    check_plaintext(target, where=target.shown, error=ExportError, has_headers=bool(target.headers))
    if lookup is None:
        from mcpcred.keychain.store import SecretStore

        store = SecretStore()
        lookup = store.get
    values: dict[str, str] = {}
    for name, ref in target.headers.items():
        found = references._whole(ref)
        assert found is not None  # noqa: S101 - checked by header_refs
        try:
            values[name] = lookup(found[1])
        except SecretNotFound:
            raise ExportError(
                f"header {name} of {target.shown}: the secret {found[1]!r} is not in the store",
                hint=f"store it with `mcpcred secret set {found[1]}`",
            ) from None
        if not _header_value(values[name]):
            # Checked here, before the HTTP client: it refuses such a value with an
            # exception that quotes it, which the exporter reports only as a failed send
            # ("no answer"), so the worker would retry an outage that is not one forever.
            raise ExportError(
                f"header {name} of {target.shown}: the secret {found[1]!r} cannot be an "
                "HTTP header value (a line break or another control character, spaces at "
                "either end, or a character beyond Latin-1)",
                hint=f"store it again with `mcpcred secret set {found[1]}`",
            )
    return values


def build(target: Target, headers: Mapping[str, str], *, timeout: float = 5.0) -> Sink:
    """The sink for ``target`` with resolved ``headers``; imports its module only now."""
    if target.kind == "otlp":
        from mcpcred.export.otlp import OtlpSink

        return OtlpSink(target.url, headers=headers, ca_file=target.ca_file, timeout=timeout)
    if headers:
        raise ExportError(f"{target.shown}: syslog takes no headers")
    from mcpcred.export.syslog import SyslogSink

    return SyslogSink(
        target.url,
        ca_file=target.ca_file,
        timeout=timeout,
        framing=target.framing,
        facility=target.facility,
        max_size=target.max_size,
    )


def otel_installed() -> bool:
    """Whether the OTLP exporter can be imported (without importing it)."""
    from importlib.util import find_spec

    try:
        return find_spec("opentelemetry.exporter.otlp.proto.http") is not None
    except (ImportError, ValueError):
        return False


def _host_name(host: str) -> bool:
    """Whether ``host`` (as urlsplit gives it, lower case, no brackets) is an IP address
    or an ASCII DNS name."""
    import ipaddress

    if "%" in host:  # an IPv6 zone: any text at all
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return True
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(
        0 < len(label) <= 63
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in label)
        and not label.startswith("-")
        and not label.endswith("-")
        for label in labels
    )


def _header_value(value: str) -> bool:
    """Whether ``value`` can be sent as it is as an HTTP header value (RFC 9110 field-value,
    Latin-1 as the HTTP client encodes it)."""
    return value == value.strip(" \t") and all(
        (" " <= c <= "~") or c == "\t" or ("\xa0" <= c <= "\xff") for c in value
    )


def _header_name(name: str) -> bool:
    allowed = "!#$%&'*+-.^_`|~"
    return (
        bool(name)
        and len(name) <= 100
        and all(c.isascii() and (c.isalnum() or c in allowed) for c in name)
    )


def _quoted(text: str) -> str:
    from mcpcred.terminal import printable

    return repr(printable(text[:80]))
