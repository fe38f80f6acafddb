"""Benchmark what the guard relay of ``mcpcred shim`` adds to an MCP session, with a real keychain.

A server with a ``[servers.NAME]`` table in mcpcred's config file is guarded:
the shim does not exec it but starts it as a child and relays the stdio
transport (newline-delimited JSON-RPC) both ways, refusing denied tools and
writing every call to the audit log. This script measures that relay.

In one run it:

1. starts a real gnome-keyring on a private D-Bus session bus
   (``tests.support.keychain.real_secret_service``; the audit log's HMAC key
   lives there), with HOME, the XDG folders, ``MCPCRED_DATA_DIR``,
   ``MCPCRED_CONFIG`` and ``MCPCRED_RUNTIME_DIR`` in a temporary folder, and a
   config file holding ``[servers.bench]`` with ``deny = ["delete_*"]``;
2. checks, untimed, that the guard is really on: the shim's pid is not the
   server's (no exec), the server's parent is the shim, ``tools/list`` through
   the shim hides ``delete_thing``, a ``delete_thing`` call is answered by
   the shim with ``isError`` and never reaches the server, and the secret the
   shim injected (``BENCH_TOKEN``, from the keychain) comes back to the client
   masked as ``[redacted mcpcred:secret/bench-token]``;
3. **latency**: the server (``tests/support/scripted_server.py``, raw JSON-RPC,
   no SDK) started directly, through the shim (masking the injected secret in
   every line, the default) and through the shim with ``mask_injected =
   false``, all initialized, then N sequential ``tools/call echo`` round trips
   on each, interleaved call by call (the order rotates), after a warm-up;
   median and p99 of each, and what the guard adds to them;
4. **throughput**: a ``big`` result of 5 MB and of 50 MB (1 MB = 10^6 bytes),
   timed from writing the request to reading the last byte of the answer, on
   the three connections, interleaved; MB/s of the answer line;
5. **memory**: a fresh guarded session makes 5,000 and then (in total) 50,000
   echo calls (pipelined 50 at a time, every id new), then one 50 MB call; the
   shim's peak RSS (``VmHWM`` in ``/proc/PID/status``; the shim is the process
   this script spawns: a relay, not an exec) after each;
6. prints the tables and PASS/FAIL against the targets: added median latency
   <= 0.2 ms; guarded 50 MB throughput (median) >= 200 MB/s; peak RSS after
   50,000 calls within 10% or 2 MiB (whichever is larger) of the figure after
   5,000.

Every answer is checked byte for byte against what the server writes (the
relay must not change them). The exit code is 0 unless ``--check`` is given
and a target fails; a broken run (an answer missing, late by 30 s, or not the
server's bytes; the guard not on) exits 1 regardless.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # tests.support
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:  # run as a module, not a script
    sys.path.insert(0, str(HERE))

import report  # noqa: E402
from report import BenchError, table  # noqa: E402

from tests.support import keychain, tokengen  # noqa: E402
from tests.support.scripted_server import (  # noqa: E402
    big_response,
    encode,
    spawn,
    text,
)

PYTHON = sys.executable
MCPCRED = Path(sys.executable).parent / "mcpcred"  # the console script a client's config runs
SERVER = REPO / "tests" / "support" / "scripted_server.py"
SERVICE = "mcpcred"
NAME = "bench"
UNMASKED = "bench-unmasked"  # the same server with mask_injected = false
SECRET_NAME = "bench-token"  # noqa: S105 (a keychain item's name)
SECRET_VALUE = tokengen.generate("github-pat", random.Random("bench-guard"))
MASKED = f"[redacted mcpcred:secret/{SECRET_NAME}]"
MB = 1_000_000
MIB = 1024 * 1024
TIMEOUT = 30.0  # any answer later than this breaks the run
WINDOW = 50  # requests in flight in the memory section

# Targets from the issue.
TARGET_ADDED_MEDIAN_MS = 0.2
TARGET_MB_S = 200.0
TARGET_FLAT_RATIO = 0.10
TARGET_FLAT_BYTES = 2 * MIB

# Inherited variables that would point the shim elsewhere (report.SCRUBBED) or change how
# the scripted server answers.
SCRUBBED = report.SCRUBBED | {"SCRIPTED_SERVER_OPTS"}


# --- connections ----------------------------------------------------------------------------


def echo_request(request_id: int, message: str) -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"echo",'
        b'"arguments":{"message":"%s"}}}\n' % (request_id, message.encode())
    )


def echo_answer(request_id: int, message: str) -> bytes:
    return encode(text(request_id, message))


def big_request(request_id: int, size: int) -> bytes:
    return (
        b'{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"big",'
        b'"arguments":{"bytes":%d}}}\n' % (request_id, size)
    )


def shorten(data: bytes, limit: int = 160) -> str:
    shown = data[:limit].decode("utf-8", "replace")
    return shown + (f"... ({len(data)} bytes)" if len(data) > limit else "")


class Connection:
    """One session with the server: direct, or through ``mcpcred shim`` in guard mode."""

    def __init__(
        self,
        label: str,
        guarded: bool,
        env: dict[str, str],
        tmp: Path,
        server_name: str = NAME,
        mcpcred: Path = MCPCRED,
    ) -> None:
        self.label = label
        self.guarded = guarded
        self.folder = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=tmp))
        self.pid_file = self.folder / "server.pid"
        self.record = self.folder / "received"
        server = [PYTHON, str(SERVER), "--pid-file", str(self.pid_file)]
        server += ["--record", str(self.record)] if guarded else []
        argv = (
            [str(mcpcred), "shim", "--server", server_name, "--client", "bench", "--", *server]
            if guarded
            else server
        )
        self.stderr_path = self.folder / "stderr"
        # The guarded server gets a secret from the keychain, so every line is searched for it.
        token = f"mcpcred:secret/{SECRET_NAME}" if guarded else SECRET_VALUE
        self.process, self.client = spawn(argv, {**env, "BENCH_TOKEN": token}, self.stderr_path)
        self.next_id = 0
        self.server_pid = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def fail(self, what: str) -> BenchError:
        stderr = self.stderr_path.read_text(errors="replace")[-1500:]
        code = self.process.poll()
        state = "running" if code is None else f"exited {code}"
        return BenchError(f"{self.label}: {what} (process {state}; stderr: {stderr.strip()!r})")

    def read(self) -> bytes:
        try:
            line = self.client.read_line(TIMEOUT)
        except TimeoutError as exc:
            raise self.fail(f"no answer within {TIMEOUT:.0f} s: {exc}") from None
        if not line.endswith(b"\n"):
            raise self.fail(f"output ended: {shorten(line)!r}")
        return line

    def request(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = self.new_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.client.send(encode(message), TIMEOUT)
        while True:
            answer = json.loads(self.read())
            if isinstance(answer, dict) and answer.get("id") == request_id:
                return answer

    def initialize(self) -> None:
        answer = self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench_guard", "version": "1"},
            },
        )
        if answer.get("result", {}).get("serverInfo", {}).get("name") != "scripted":
            raise self.fail(f"unexpected initialize answer: {shorten(encode(answer))}")
        self.client.send(encode({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        deadline = time.monotonic() + TIMEOUT
        while not self.pid_file.exists():
            if time.monotonic() > deadline:
                raise self.fail("the server never wrote its pid file")
            time.sleep(0.01)
        self.server_pid = int(self.pid_file.read_text())

    def echo(self, message: str) -> float:
        """One echo round trip, checked; its time in seconds."""
        request_id = self.new_id()
        request = echo_request(request_id, message)
        started = time.perf_counter()
        self.client.send(request, None)
        line = self.read()
        took = time.perf_counter() - started
        if line != echo_answer(request_id, message):
            raise self.fail(f"wrong answer to echo {request_id}: {shorten(line)!r}")
        return took

    def echo_window(self, messages: Sequence[str]) -> None:
        """Send these echo calls at once, then read and check their answers in order."""
        first = self.next_id + 1
        self.next_id += len(messages)
        self.client.send(
            b"".join(echo_request(first + i, m) for i, m in enumerate(messages)), TIMEOUT
        )
        for i, message in enumerate(messages):
            line = self.read()
            if line != echo_answer(first + i, message):
                raise self.fail(f"wrong answer to echo {first + i}: {shorten(line)!r}")

    def big(self, size: int) -> tuple[float, int]:
        """One ``big`` call: (seconds from request to the answer's last byte, answer bytes)."""
        request_id = self.new_id()
        request = big_request(request_id, size)
        started = time.perf_counter()
        self.client.send(request, None)
        line = self.read()
        took = time.perf_counter() - started
        if line != big_response(request_id, size):
            raise self.fail(
                f"the {size}-byte answer to {request_id} is not the server's "
                f"({len(line)} bytes, starting {shorten(line, 100)!r})"
            )
        return took, len(line)

    def close(self) -> int | None:
        """End the session as a client does: close stdin, wait, then kill what is left."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            code: int | None = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        for pid in (self.process.pid, self.server_pid):
            if pid and pid_alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        if code is None:
            self.process.wait(timeout=10)
        self.process.stdout.close()
        return code


def pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] != "Z"


def status_kib(pid: int, field: str) -> int:
    """A ``/proc/PID/status`` figure in KiB (VmHWM, VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rfind(")") + 2 :].split()[1])


# --- sections -------------------------------------------------------------------------------


def verify_guard(conn: Connection) -> None:
    """The guard is on: a relay process in between, delete_thing hidden and refused."""
    if conn.server_pid == conn.process.pid:
        raise BenchError(
            "guard mode is not on: the shim exec'd the server (same pid); check the "
            "[servers.bench] table in MCPCRED_CONFIG"
        )
    if parent_pid(conn.server_pid) != conn.process.pid:
        raise BenchError(
            f"the server's parent is {parent_pid(conn.server_pid)}, not the shim "
            f"({conn.process.pid}): the shim's RSS would not be the relay's"
        )
    listed = conn.request("tools/list")
    names = [t.get("name") for t in listed.get("result", {}).get("tools", [])]
    if "echo" not in names or "big" not in names or "delete_thing" in names:
        raise BenchError(f"tools/list through the guard: unexpected tools {names}")
    refused = conn.request("tools/call", {"name": "delete_thing", "arguments": {"name": "alpha"}})
    if refused.get("result", {}).get("isError") is not True:
        raise BenchError(f"delete_thing was not refused: {shorten(encode(refused))}")
    if b"delete_thing" in conn.record.read_bytes():
        raise BenchError("the refused delete_thing call reached the server")
    shown = conn.request("tools/call", {"name": "get_env", "arguments": {"name": "BENCH_TOKEN"}})
    text_shown = shown.get("result", {}).get("content", [{}])[0].get("text")
    if text_shown != MASKED:
        leaked = " (the secret itself!)" if text_shown == SECRET_VALUE else ""
        raise BenchError(f"the injected secret was not masked: got {text_shown!r}{leaked}"[:300])


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def latency_section(
    connections: Sequence[Connection], calls: int, warmup: int
) -> tuple[dict[str, list[float]], float]:
    """Interleaved echo round trips: seconds per connection label, and the CPU seconds per
    call of the second connection's shim (the guarded one)."""
    for i in range(warmup):
        for conn in connections:
            conn.echo(f"warm-{i}")
    times: dict[str, list[float]] = {conn.label: [] for conn in connections}
    guarded = connections[1]
    cpu_before = cpu_seconds(guarded.process.pid)
    for i in range(calls):
        message = f"m-{i}"
        shift = i % len(connections)
        for conn in [*connections[shift:], *connections[:shift]]:
            times[conn.label].append(conn.echo(message))
    cpu = (cpu_seconds(guarded.process.pid) - cpu_before) / max(calls, 1)
    return times, cpu


def throughput_section(
    connections: Sequence[Connection], sizes: Sequence[int], runs: int
) -> dict[int, dict[str, list[float]]]:
    """MB/s per size and connection label, interleaved (the order rotates), after one
    untimed call of each size on each."""
    rates: dict[int, dict[str, list[float]]] = {}
    for size in sizes:
        for conn in connections:
            conn.big(size)  # the server builds and caches its text; the relay warms up
        rates[size] = {conn.label: [] for conn in connections}
        for run in range(runs):
            shift = run % len(connections)
            for conn in [*connections[shift:], *connections[:shift]]:
                took, length = conn.big(size)
                rates[size][conn.label].append(length / MB / took)
    return rates


def memory_section(
    conn: Connection, small: int, large: int, big: int
) -> list[tuple[str, int, int]]:
    """(label, VmHWM KiB, VmRSS KiB) of the shim after ``small``, ``large`` calls, a big one."""
    pid = conn.process.pid
    figures = [("after initialize", status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"))]
    done = 0
    for target in (small, large):
        while done < target:
            count = min(WINDOW, target - done)
            # every message different: nothing the relay might cache stays the same
            conn.echo_window([f"mem-{done + i}-{'x' * ((done + i) % 97)}" for i in range(count)])
            done += count
        figures.append(
            (f"after {target:,} calls", status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"))
        )
    conn.big(big)
    figures.append(
        (f"after one {big // MB} MB result", status_kib(pid, "VmHWM"), status_kib(pid, "VmRSS"))
    )
    return figures


def mask_costs(size: int, count: int = 2000) -> tuple[float, float, float] | None:
    """(us to search an echo answer, ms to search a ``size``-byte answer, us to mask an
    answer holding the secret) with the guard's masker for this benchmark's secret; None
    when the masker is not where this script expects it (context only)."""
    try:
        from mcpcred.guard.mask import Masker
    except ImportError:
        return None
    masker = Masker()
    masker.add(f"secret/{SECRET_NAME}", SECRET_VALUE)
    answer = echo_answer(123456, "m-1234")
    started = time.perf_counter()
    for _ in range(count):
        masker.line(answer)
    small = (time.perf_counter() - started) / count * 1e6
    big = big_response(1, size)
    started = time.perf_counter()
    masker.line(big)
    large = (time.perf_counter() - started) * 1000
    leaky = echo_answer(7, f"token {SECRET_VALUE}")
    started = time.perf_counter()
    for _ in range(count // 10):
        masker.line(leaky)
    hit = (time.perf_counter() - started) / (count // 10) * 1e6
    return small, large, hit


def audit_append_us(tmp: Path, count: int = 200) -> tuple[float, float] | None:
    """Median microseconds of one audit record appended in this process (context only).

    What the guard pays per call for the tamper-evident log, without the relay:
    back to back (the code hot in the CPU's caches), and with 0.5 ms of sleep
    before each append, as on a relay that waits for the next message while the
    client and the server run (caches cold again: measured 2-2.5x the hot figure
    here, which is why the relay's added latency is well above the hot figures).
    None when the audit log module is not where this script expects it.
    """
    try:
        from mcpcred.guard.auditlog import AuditLog
    except ImportError:
        return None
    log = AuditLog(tempfile.mkdtemp(prefix="audit-", dir=tmp), b"k" * 32)
    medians = []
    for pause in (0.0, 0.0005):
        times = []
        for i in range(count):
            record: dict[str, object] = {"event": "call", "tool": "echo", "outcome": "ok"}
            record["arguments"] = {"message": f"m-{i}"}
            if pause:
                time.sleep(pause)
            started = time.perf_counter()
            log.append(record)
            times.append(time.perf_counter() - started)
        medians.append(statistics.median(times) * 1e6)
    return medians[0], medians[1]


# --- main -----------------------------------------------------------------------------------


def sizes_arg(value: str) -> list[int]:
    try:
        sizes = [round(float(part) * MB) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of MB figures: {value!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def _stop_export(runtime: Path) -> None:
    """End the export worker(s) the shims started (their pids are in the lock files)."""
    from tests.support.procs import kill_if_running

    for lock in runtime.glob("export-*.lock"):
        text = lock.read_text().strip()
        if text.isdigit():
            kill_if_running(int(text), "mcpcred.export.worker", signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, help="timed echo round trips per side (2000)")
    parser.add_argument("--warmup", type=int, help="untimed echo calls per side first (200)")
    parser.add_argument(
        "--sizes", type=sizes_arg, help="result sizes in MB, comma-separated (5,50)"
    )
    parser.add_argument("--runs", type=int, help="timed calls per result size and side (3)")
    parser.add_argument(
        "--mem-calls",
        help="calls before the first and the second memory reading (5000,50000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="500 calls, 50 warm-up, 1 run per size, memory after 1000 and 5000 calls",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        metavar="MCPCRED",
        help="also time the shim of another mcpcred (its console script, e.g. an older "
        "checkout's .venv/bin/mcpcred), interleaved with the others, with its own config "
        "and data folder",
    )
    parser.add_argument(
        "--export",
        action="store_true",
        help="audit export on: a [[log.export]] table sends the log to an OTLP receiver on "
        "loopback (the export worker runs beside the shims); with --baseline pointing at this "
        "checkout's mcpcred, the baseline is the same shim with export off, interleaved",
    )
    parser.add_argument(
        "--check", "--strict", action="store_true", help="exit 1 when a target fails"
    )
    args = parser.parse_args(argv)
    calls = args.calls if args.calls is not None else (500 if args.quick else 2000)
    warmup = args.warmup if args.warmup is not None else (50 if args.quick else 200)
    sizes: list[int] = args.sizes or [5 * MB, 50 * MB]
    runs = args.runs if args.runs is not None else (1 if args.quick else 3)
    mem = args.mem_calls or ("1000,5000" if args.quick else "5000,50000")
    try:
        small, large = (int(part) for part in mem.split(","))
    except ValueError:
        parser.error("--mem-calls takes two numbers: FIRST,SECOND")
    if min(calls, runs, small) < 1 or large < small or warmup < 0:
        parser.error("--calls, --runs and --mem-calls must be positive, the second >= the first")
    if not report.ready(MCPCRED, keychain.require_tools):
        return 2
    if args.baseline is not None and not args.baseline.is_file():
        parser.error(f"--baseline: no console script at {args.baseline}")

    started = time.perf_counter()
    report.announce(
        "mcpcred guard relay benchmark",
        f"; {calls} echo calls, sizes {', '.join(f'{s / MB:g} MB' for s in sizes)} x {runs}, "
        f"memory after {small:,} and {large:,} calls",
    )
    return report.run_broken_or(
        "mcpcred-bench-guard-",
        lambda tmp: run_all(args, calls, warmup, sizes, runs, small, large, tmp, started),
    )


def run_all(
    args: argparse.Namespace,
    calls: int,
    warmup: int,
    sizes: list[int],
    runs: int,
    small: int,
    large: int,
    tmp: Path,
    started: float,
) -> int:
    env = report.isolated_env(tmp, SCRUBBED)
    Path(env["MCPCRED_CONFIG"]).write_text(
        f'[servers.{NAME}]\ndeny = ["delete_*"]\n'
        f'[servers.{UNMASKED}]\ndeny = ["delete_*"]\nmask_injected = false\n'
    )
    receiver = None
    if args.export:  # the receiver lives in this process: its work is not the shims'
        from tests.support.otlp_receiver import Receiver

        receiver = Receiver().start()
        with Path(env["MCPCRED_CONFIG"]).open("a") as config:
            config.write(f'\n[[log.export]]\nkind = "otlp"\nurl = "{receiver.url}"\n')
    audit_log = Path(env["MCPCRED_DATA_DIR"]) / "log" / "audit.jsonl"
    connections: list[Connection] = []

    def connect(
        label: str,
        guarded: bool,
        server_name: str = NAME,
        mcpcred: Path = MCPCRED,
        own: dict[str, str] | None = None,
    ) -> Connection:
        conn = Connection(label, guarded, {**env, **(own or {})}, tmp, server_name, mcpcred)
        connections.append(conn)
        conn.initialize()
        return conn

    # Another mcpcred (an older version) must not share this one's config (it may not know
    # its keys), pins or audit log (two versions writing one chain).
    baseline_env: dict[str, str] = {}
    if args.baseline is not None:
        own = tmp / "baseline"
        (own / "data").mkdir(parents=True, mode=0o700)
        (own / "config.toml").write_text(f'[servers.{NAME}]\ndeny = ["delete_*"]\n')
        baseline_env = {
            "MCPCRED_CONFIG": str(own / "config.toml"),
            "MCPCRED_DATA_DIR": str(own / "data"),
        }

    with keychain.real_secret_service() as keychain_env:
        keychain.clear(keychain_env, SERVICE)
        keychain.store(keychain_env, SERVICE, SECRET_NAME, SECRET_VALUE)
        env.update(keychain_env)
        up = time.perf_counter() - started
        try:
            check = connect("verify", True)
            verify_guard(check)
            check.close()
            print(
                f"gnome-keyring on a private bus in {up:.1f}s; config: [servers.{NAME}] "
                'deny = ["delete_*"]'
            )
            print(
                "checked: the shim relays (server pid != shim pid, server's parent = shim), "
                "hides delete_thing from tools/list and refuses a call to it without "
                "forwarding it, and masks the secret it injected"
            )
            print()

            direct = connect("direct", False)
            guarded = connect("guarded", True)
            unmasked = connect("unmasked", True, UNMASKED)
            timed = [direct, guarded, unmasked]
            if args.baseline is not None:
                base = connect("baseline", True, NAME, args.baseline, baseline_env)
                if parent_pid(base.server_pid) != base.process.pid:
                    raise BenchError(f"the baseline shim ({args.baseline}) did not relay")
                timed.append(base)
            times, cpu = latency_section(timed, calls, warmup)
            lat_direct, lat_guarded = times["direct"], times["guarded"]
            rates = throughput_section(timed, sizes, runs)
            for conn in timed[:3]:  # the baseline last (below): an older shim's exit has been
                conn.close()  # seen to leave the test keychain locked for the next start
            memory_conn = connect("memory", True)
            memory = memory_section(memory_conn, small, large, max(sizes))
            memory_code = memory_conn.close()
        finally:
            for conn in connections:
                if conn.process.poll() is None:
                    conn.close()
            if receiver is not None:
                _stop_export(Path(env["MCPCRED_RUNTIME_DIR"]))
                receiver.stop()
                print(f"export on: the OTLP receiver got {len(receiver.logs):,} log records")
    guarded_calls = 3 + 2 * (warmup + calls + sum(runs + 1 for _ in sizes)) + large + 1

    # --- latency ---
    med_d = statistics.median(lat_direct) * 1000
    med_g = statistics.median(lat_guarded) * 1000
    p99_d = percentile(lat_direct, 0.99) * 1000
    p99_g = percentile(lat_guarded, 0.99) * 1000
    paired = statistics.median(g - d for g, d in zip(lat_guarded, lat_direct, strict=True))
    lat_unmasked = times["unmasked"]
    med_u = statistics.median(lat_unmasked) * 1000
    print(f"== latency: sequential tools/call echo round trips ({calls} each, interleaved) ==")
    rows = [["", "calls", "best ms", "median ms", "p99 ms", "max ms"]]
    shown = [
        ("direct", lat_direct),
        ("guarded, masking (default)", lat_guarded),
        ("guarded, mask_injected = false", lat_unmasked),
    ]
    if "baseline" in times:
        shown.append(("baseline (--baseline)", times["baseline"]))
    for label, values in shown:
        ms = [v * 1000 for v in values]
        rows.append(
            [
                label,
                str(len(ms)),
                f"{min(ms):.3f}",
                f"{statistics.median(ms):.3f}",
                f"{percentile(ms, 0.99):.3f}",
                f"{max(ms):.3f}",
            ]
        )
    rows.append(
        ["added by the guard", "", "", f"{med_g - med_d:+.3f}", f"{p99_g - p99_d:+.3f}", ""]
    )
    print(table(rows, {1, 2, 3, 4, 5}))
    print(
        f"  paired (median of per-call differences): {paired * 1000:+.3f} ms; shim CPU "
        f"{cpu * 1e6:.0f} us per call (user+system, /proc/PID/stat)"
    )
    print(
        f"  masking: the guarded shim searches every line for 1 injected secret; without it "
        f"the guard adds {med_u - med_d:+.3f} ms, with it {med_g - med_d:+.3f} ms "
        f"(masking: {med_g - med_u:+.3f} ms)"
    )
    if "baseline" in times:
        lat_base = times["baseline"]
        med_b = statistics.median(lat_base) * 1000
        p99_b = percentile(lat_base, 0.99) * 1000
        over = statistics.median(g - b for g, b in zip(lat_guarded, lat_base, strict=True))
        print(
            f"  baseline ({args.baseline}): adds {med_b - med_d:+.3f} ms median, "
            f"{p99_b - p99_d:+.3f} ms p99; this mcpcred adds {med_g - med_b:+.3f} ms median "
            f"to it (paired: {over * 1000:+.3f} ms)"
        )
    costs = mask_costs(max(sizes))
    if costs is not None:
        print(
            "  for reference, in this process: searching an echo answer for the secret takes "
            f"{costs[0]:.1f} us, a {max(sizes) / MB:g} MB answer {costs[1]:.0f} ms, and "
            f"masking an answer that holds it {costs[2]:.0f} us"
        )
    appended = audit_append_us(tmp)
    if appended is not None:
        print(
            f"  for reference: one audit log record appended in this process takes "
            f"{appended[0]:.0f} us back to back, {appended[1]:.0f} us after 0.5 ms idle "
            "(medians of 200; the guard writes two per call, the request's and its "
            "outcome, in its writer's batches; before forwarding, only the request's "
            "line in the session's intent journal, on the relay's thread)"
        )
    print()

    # --- throughput ---
    print("== throughput: one big tool result, request to the answer's last byte ==")
    rows = [["result", "runs", "direct MB/s", "guarded MB/s", "guarded/direct", "unmasked MB/s"]]
    with_base = "baseline" in times
    if with_base:
        rows[0].append("baseline MB/s")
    for size in sizes:
        d = statistics.median(rates[size]["direct"])
        g = statistics.median(rates[size]["guarded"])
        u = statistics.median(rates[size]["unmasked"])
        rows.append(
            [f"{size / MB:g} MB", str(runs), f"{d:.0f}", f"{g:.0f}", f"{g / d:.2f}", f"{u:.0f}"]
        )
        if with_base:
            rows[-1].append(f"{statistics.median(rates[size]['baseline']):.0f}")
    print(table(rows, set(range(1, len(rows[0])))))
    print("  guarded: masking the injected secret (the default); unmasked: mask_injected = false")
    print("  MB = 10^6 bytes of the answer line; medians; every answer checked byte for byte")
    print()

    # --- memory ---
    print("== memory: the shim's peak RSS (VmHWM) in one guarded session ==")
    rows = [["", "peak RSS MiB", "RSS MiB"]]
    rows.extend([label, f"{hwm / 1024:.1f}", f"{rss / 1024:.1f}"] for label, hwm, rss in memory)
    print(table(rows, {1, 2}))
    print(
        f"  calls pipelined {WINDOW} at a time, every message different; the shim exited "
        f"{memory_code} after stdin closed"
    )
    print()

    # --- audit log ---
    logs = sorted(audit_log.parent.glob(audit_log.name + "*")) if audit_log.parent.is_dir() else []
    if logs:
        lines = 0
        for path in logs:
            with path.open("rb") as handle:
                lines += sum(1 for _ in handle)
        size = sum(path.stat().st_size for path in logs)
        print(
            f"audit log: {lines:,} records in {len(logs)} file(s), {size / MIB:.1f} MiB, for "
            f"about {guarded_calls:,} guarded requests (rotated files beyond the kept ones "
            "are gone)"
        )
    else:
        print(f"audit log: none at {audit_log} (the guard wrote no audit log)")
    print()

    hwm_small = memory[1][1] * 1024
    hwm_large = memory[2][1] * 1024
    allowed = max(TARGET_FLAT_RATIO * hwm_small, TARGET_FLAT_BYTES)
    biggest = max(sizes)
    big_rate = statistics.median(rates[biggest]["guarded"])
    results = [
        (
            f"added latency with masking (median) <= {TARGET_ADDED_MEDIAN_MS} ms",
            med_g - med_d <= TARGET_ADDED_MEDIAN_MS,
            f"{med_g - med_d:.3f} ms (p99 {p99_g - p99_d:+.3f} ms)",
        ),
        (
            f"guarded throughput, {biggest / MB:g} MB result (median) >= {TARGET_MB_S:.0f} MB/s",
            big_rate >= TARGET_MB_S,
            f"{big_rate:.0f} MB/s",
        ),
        (
            f"shim peak RSS flat: after {large:,} calls within 10% or 2 MiB of after {small:,}",
            hwm_large - hwm_small <= allowed,
            f"{hwm_small / MIB:.1f} -> {hwm_large / MIB:.1f} MiB "
            f"({(hwm_large - hwm_small) / MIB:+.1f} MiB, allowed {allowed / MIB:.1f})",
        ),
    ]
    failed = report.print_targets(results)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
