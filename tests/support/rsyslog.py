"""A real rsyslogd on loopback, for the syslog export sink's tests.

``Rsyslog.start(folder)`` runs the Debian ``rsyslogd`` in the foreground
(``-n``) with its own config, work directory and no pid file (``-iNONE``: the
test holds the process), listening on 127.0.0.1 only:

- ``imtcp`` plain (octet counting or newline framing: rsyslog tells them apart
  per message), ``imtcp`` with TLS (the GnuTLS driver, a throwaway CA and
  server certificate made here with ``cryptography``) and ``imudp``;
- every message goes through ``mmpstrucdata`` (rsyslog's own RFC 5424
  STRUCTURED-DATA parser) and is written as one JSON line to ``tcp.jsonl``,
  ``tls.jsonl`` or ``udp.jsonl``: the raw message and what rsyslog parsed out
  of it (``msgid``, ``app``, ``sd``, ``parsed``, ...). ``messages()`` reads them.

TCP ports are chosen by rsyslog (``port="0"`` + ``listenPortFileName``), the
UDP port is read back from ``/proc`` (imudp has no port file). ``restart()``
starts it again on the same ports, for "receiver down and back" tests. It
needs no root: only ports above 1024 and files in ``folder``.

``rsyslogd`` comes from apt (``rsyslog rsyslog-gnutls``; scripts/test
installs them); without it ``available()`` says why and the tests skip.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.procs import kill_if_running

OUTPUTS = ("tcp", "tls", "udp")
START_TIMEOUT = 10.0
SERVER_NAME = "syslog.test"  # the TLS certificate's DNS name; 127.0.0.1 is in it too


def available() -> str | None:
    """None if rsyslogd with its TLS driver is installed, else why not (a skip reason)."""
    if shutil.which("rsyslogd") is None and not Path("/usr/sbin/rsyslogd").exists():
        return "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls)"
    drivers = [
        *Path("/usr/lib").glob("*/rsyslog/lmnsd_gtls.so"),
        Path("/usr/lib/rsyslog/lmnsd_gtls.so"),
    ]
    if not any(driver.exists() for driver in drivers):
        return "rsyslog's GnuTLS driver is not installed (apt-get install rsyslog-gnutls)"
    return None


def rsyslogd() -> str:
    return shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def make_ca(folder: Path) -> dict[str, Path]:
    """A throwaway CA and a server certificate for ``syslog.test`` and 127.0.0.1 (PEM files).

    Also ``other_ca``: a second CA that signed nothing the server has, for
    "untrusted receiver" tests.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)

    def ca(name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    ca_cert, ca_key = ca("mcpcred test syslog CA")
    other_cert, _ = ca("mcpcred test unrelated CA")
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(SERVER_NAME), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    paths = {
        "ca": folder / "ca.pem",
        "other_ca": folder / "other-ca.pem",
        "cert": folder / "server.pem",
        "key": folder / "server.key",
    }
    paths["ca"].write_bytes(ca_cert.public_bytes(pem))
    paths["other_ca"].write_bytes(other_cert.public_bytes(pem))
    paths["cert"].write_bytes(cert.public_bytes(pem))
    paths["key"].write_bytes(
        key.private_bytes(
            pem, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
        )
    )
    paths["key"].chmod(0o600)
    return paths


_TEMPLATE = """template(name="mcpcred_json" type="list" option.jsonf="on") {
  property(outname="rawmsg" name="rawmsg" format="jsonf")
  property(outname="version" name="protocol-version" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="facility" name="syslogfacility-text" format="jsonf")
  property(outname="severity" name="syslogseverity-text" format="jsonf")
  property(outname="timestamp" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="hostname" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="parsed" name="$!rfc5424-sd" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
}
"""


@dataclass
class Rsyslog:
    """A running rsyslogd and where it listens; ``messages(kind)`` is what it received."""

    folder: Path
    certs: dict[str, Path]
    ports: dict[str, int] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @classmethod
    def start(cls, folder: Path) -> Rsyslog:
        folder.mkdir(parents=True, exist_ok=True)
        server = cls(folder, make_ca(folder))
        server._run()
        return server

    def url(self, kind: str, host: str = "127.0.0.1", query: str = "") -> str:
        return f"syslog+{kind}://{host}:{self.ports[kind]}{'?' + query if query else ''}"

    def _config(self) -> str:
        work = self.folder / "work"
        work.mkdir(exist_ok=True)
        ports = {kind: self.ports.get(kind, 0) for kind in OUTPUTS}
        lines = [
            f'global(workDirectory="{work}" maxMessageSize="1m")',
            'module(load="imtcp" maxSessions="200")',
            'module(load="imudp")',
            'module(load="mmpstrucdata")',
            _TEMPLATE,
        ]
        lines.extend(
            f'ruleset(name="{kind}") {{ action(type="mmpstrucdata") '
            f'action(type="omfile" file="{self.folder / (kind + ".jsonl")}" '
            'template="mcpcred_json" asyncWriting="off" flushOnTXEnd="on") }'
            for kind in OUTPUTS
        )
        lines.append(
            f'input(type="imtcp" address="127.0.0.1" port="{ports["tcp"]}" '
            f'listenPortFileName="{self.folder / "tcp.port"}" ruleset="tcp")'
        )
        lines.append(
            f'input(type="imtcp" address="127.0.0.1" port="{ports["tls"]}" '
            f'listenPortFileName="{self.folder / "tls.port"}" ruleset="tls" '
            'streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon" '
            f'streamDriver.CAFile="{self.certs["ca"]}" '
            f'streamDriver.CertFile="{self.certs["cert"]}" '
            f'streamDriver.KeyFile="{self.certs["key"]}")'
        )
        lines.append(f'input(type="imudp" address="127.0.0.1" port="{ports["udp"]}" ruleset="udp")')
        return "\n".join(lines) + "\n"

    def _run(self) -> None:
        config = self.folder / "rsyslog.conf"
        config.write_text(self._config())
        for kind in ("tcp", "tls"):
            (self.folder / f"{kind}.port").unlink(missing_ok=True)
        log = (self.folder / "rsyslogd.log").open("ab")
        self.process = subprocess.Popen(
            [rsyslogd(), "-n", "-iNONE", "-f", str(config)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.folder,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {self.log()[-2000:]}")
            if self.ports:  # a restart: the same ports, bound again
                bound = _bound(self.process.pid, "tcp") | _bound(self.process.pid, "udp")
                if set(self.ports.values()) <= bound:
                    return
            else:
                ports = {kind: self._tcp_port(kind) for kind in ("tcp", "tls")}
                udp = sorted(_bound(self.process.pid, "udp"))
                ports["udp"] = udp[0] if udp else None
                if all(ports.values()):
                    self.ports = {kind: port for kind, port in ports.items() if port}
                    return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"rsyslogd did not listen within {START_TIMEOUT}s: {self.log()[-2000:]}")

    def _tcp_port(self, kind: str) -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int((self.folder / f"{kind}.port").read_text().strip() or 0) or None
        return None

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return (self.folder / "rsyslogd.log").read_text(errors="replace")
        return ""

    def _lines(self, kind: str) -> list[str]:
        with contextlib.suppress(FileNotFoundError):
            # rsyslog may be writing the last line right now: only whole lines count.
            return (self.folder / f"{kind}.jsonl").read_text().split("\n")[:-1]
        return []

    def messages(self, kind: str, containing: str | None = None) -> list[dict[str, object]]:
        """What rsyslog wrote for ``kind`` (lines holding ``containing``, if given).

        ``parsed`` is rsyslog's parse of the structured data, as a dict.
        """
        out = []
        for line in self._lines(kind):
            if not line.strip() or (containing is not None and containing not in line):
                continue
            entry = json.loads(line)
            parsed = entry.get("parsed")
            entry["parsed"] = json.loads(parsed) if parsed else {}
            out.append(entry)
        return out

    def wait_for(
        self, kind: str, count: int, *, session: str | None = None, timeout: float = 10.0
    ) -> list[dict[str, object]]:
        """The messages of ``kind`` (of ``session`` only, if given) once there are ``count``.

        After ``timeout`` it returns what there is, for the test to assert on. Lines
        are only counted while waiting (parsing 10,000 of them per poll is slow).
        """
        deadline = time.monotonic() + timeout
        while True:
            lines = self._lines(kind)
            seen = len(lines) if session is None else sum(session in line for line in lines)
            if seen >= count or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return [
            m for m in self.messages(kind, session) if session is None or session_of(m) == session
        ]

    def stop(self) -> None:
        """End rsyslogd (TERM, then KILL) and reap it."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            kill_if_running(process.pid, "rsyslogd", signal.SIGTERM)
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                kill_if_running(process.pid, "rsyslogd", signal.SIGKILL)
                process.wait(timeout=5)

    def restart(self) -> None:
        """Start again on the same ports (after ``stop``)."""
        self.stop()
        self._run()


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook: SIGTERM to rsyslogd when pytest dies, so none outlives a crashed run.

    libc is loaded here, in the parent: the child between fork and exec may
    only call what needs no lock (an import there could deadlock).
    """
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def prepare() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # pytest died before prctl took effect
            os._exit(1)

    return prepare


def session_of(message: dict[str, object]) -> object:
    parsed = message.get("parsed")
    if not isinstance(parsed, dict):
        return None
    element = parsed.get("mcpcred@32473")
    return element.get("session") if isinstance(element, dict) else None


def _bound(pid: int, protocol: str) -> set[int]:
    """The 127.0.0.1 ports process ``pid`` listens on (TCP) or has bound (UDP), from /proc.

    imudp has no port file, and rsyslog writes its TCP port files only for
    port 0: the sockets' inodes, matched in /proc/PID/net/*, tell both.
    """
    try:
        inodes = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        table = Path(f"/proc/{pid}/net/{protocol}").read_text().splitlines()[1:]
    except OSError:
        return set()
    ports = set()
    for row in table:
        fields = row.split()
        listening = protocol == "udp" or fields[3] == "0A"
        if (
            len(fields) > 9
            and fields[9] in inodes
            and fields[1].startswith("0100007F:")
            and listening
        ):
            ports.add(int(fields[1].split(":")[1], 16))
    return ports
