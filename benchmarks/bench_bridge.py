"""Benchmark the remote bridge of ``mcpcred shim --url`` against connecting directly, same run.

A remote MCP server (Streamable HTTP) is reached by a client through mcpcred
as a local stdio server: the shim resolves the credential from the keychain
and relays each message over HTTP. This script measures what that costs,
beside a direct connection to the same server in the same run.

In one run it:

1. starts a real gnome-keyring on a private D-Bus session bus
   (``tests.support.keychain.real_secret_service``), with HOME, the XDG
   folders and mcpcred's folders in a temporary folder, and stores the
   server's bearer token there as ``mcpcred:secret/bench-remote``;
2. starts a real MCP Python SDK server (``tests/support/remote_servers.py``,
   Streamable HTTP behind a bearer check) on loopback;
3. **first tools/list**: a fresh process running the SDK's own ``Client``
   connecting directly over HTTP (the token in its headers), against a fresh
   process running the same ``Client`` over stdio through ``mcpcred shim
   --url`` (which starts, reads the keychain, detects the transport and
   relays); wall time from spawning the process to the tool list, interleaved,
   median of the runs;
4. **latency**: a session held open on each side: direct, a minimal HTTP
   client in this process (httpx, one POST per call, the SSE answer read
   whole: what the bridge itself does per call); bridged, JSON lines to the
   shim's stdin and from its stdout; and guarded (a ``[servers.NAME]`` table:
   the guard's policy and audit log on the bridge's path). N sequential
   ``tools/call echo`` round trips each, interleaved call by call, after a
   warm-up; median and p99, and what the bridge adds;
5. **throughput**: one ``big`` tool result of 5 MB and of 50 MB (1 MB = 10^6
   bytes), from the request to the answer's last byte, direct and bridged;
6. **memory**: one bridged session makes 1,000 and then (in total) 10,000 echo
   calls, pipelined 50 at a time; the shim's peak RSS (``VmHWM``) after each;
7. prints the tables and PASS/FAIL against the targets: first tools/list
   through the bridge <= 1.2x direct; added median latency <= 1 ms; bridged
   50 MB throughput >= 100 MB/s; peak RSS after 10,000 calls within 10% or
   2 MiB of the figure after 1,000.

Every answer is checked (the echo's text, the big result's length). The exit
code is 0 unless ``--check`` is given and a target fails; a broken run (an
answer missing or wrong, a process that does not start) exits 1 regardless.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
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

from tests.support import keychain, remote_servers, tokengen  # noqa: E402
from tests.support.scripted_server import spawn  # noqa: E402

PYTHON = sys.executable
MCPCRED = Path(sys.executable).parent / "mcpcred"
SERVICE = "mcpcred"
SECRET_NAME = "bench-remote"  # noqa: S105 (a keychain item's name)
SECRET_VALUE = tokengen.generate("github-pat", random.Random("bench-bridge"))
GUARDED = "bench-guarded"
MB = 1_000_000
MIB = 1024 * 1024
TIMEOUT = 60.0
WINDOW = 50
PROTOCOL = "2025-11-25"

# Targets from the issue.
TARGET_FIRST_LIST_RATIO = 1.2
TARGET_ADDED_MEDIAN_MS = 1.0
TARGET_MB_S = 100.0
TARGET_FLAT_RATIO = 0.10
TARGET_FLAT_BYTES = 2 * MIB

# The SDK's own client in a fresh process, as an MCP client application would run it:
# prints "listed N" once tools/list has answered, then exits.
DIRECT_CLIENT = """
import asyncio, sys
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

async def main():
    token = sys.stdin.readline().strip()
    http = create_mcp_http_client(headers={"Authorization": "Bearer " + token})
    async with Client(streamable_http_client(sys.argv[1], http_client=http)) as client:
        tools = (await client.list_tools()).tools
        print("listed", len(tools), flush=True)
    await http.aclose()

asyncio.run(main())
"""
BRIDGED_CLIENT = """
import asyncio, json, os, sys
from mcp import Client, StdioServerParameters

async def main():
    args = json.loads(sys.argv[2])
    params = StdioServerParameters(command=sys.argv[1], args=args, env=dict(os.environ))
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        print("listed", len(tools), flush=True)

asyncio.run(main())
"""


def shim_args(url: str, server: str) -> list[str]:
    """The bridge entry ``wrap`` writes: references only, the token stays in the keychain."""
    header = "Authorization: Bearer {{mcpcred:secret/" + SECRET_NAME + "}}"
    return ["shim", "--server", server, "--client", "bench", "--url", url, "--header", header]


def echo_request(request_id: int, text: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "echo", "arguments": {"text": text}},
    }


def big_request(request_id: int, size: int) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": "big", "arguments": {"size": size}},
    }


def result_text(answer: dict[str, Any]) -> str:
    content = answer.get("result", {}).get("content") or [{}]
    return str(content[0].get("text", ""))


INITIALIZE: dict[str, Any] = {
    "protocolVersion": PROTOCOL,
    "capabilities": {},
    "clientInfo": {"name": "bench_bridge", "version": "1"},
}


# --- the two sides --------------------------------------------------------------------------


class Direct:
    """A minimal Streamable HTTP client in this process: one POST per message."""

    label = "direct"

    def __init__(self, url: str, token: str) -> None:
        import httpx

        self.url = url
        self.http = httpx.Client(timeout=TIMEOUT)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self.next_id = 0
        answer = self.request({"method": "initialize", "params": INITIALIZE})
        if "result" not in answer:
            raise BenchError(f"direct initialize failed: {str(answer)[:200]}")
        self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def post(self, message: dict[str, Any]) -> Any:
        response = self.http.post(self.url, content=json.dumps(message), headers=self.headers)
        session = response.headers.get("mcp-session-id")
        if session:
            self.headers["Mcp-Session-Id"] = session
            self.headers["MCP-Protocol-Version"] = PROTOCOL
        if response.status_code == 202:
            return None
        if response.status_code != 200:
            raise BenchError(f"direct: HTTP {response.status_code} from the server")
        body = response.content
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            for line in body.split(b"\n"):
                if line.startswith(b"data:") and line[5:].strip():
                    return json.loads(line[5:])
            raise BenchError("direct: an SSE answer without data")
        return json.loads(body)

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        answer = self.post({"jsonrpc": "2.0", "id": self.next_id, **message})
        if not isinstance(answer, dict):
            raise BenchError(f"direct: no answer to {message.get('method')}")
        return answer

    def echo(self, text: str) -> float:
        started = time.perf_counter()
        answer = self.request(echo_request(0, text))
        took = time.perf_counter() - started
        if result_text(answer) != f"echo: {text}":
            raise BenchError(f"direct: wrong echo answer {str(answer)[:200]}")
        return took

    def big(self, size: int) -> float:
        """One big result, read whole; checked by counting its bytes (no 50 MB JSON parse)."""
        self.next_id += 1
        message = json.dumps(big_request(self.next_id, size))
        started = time.perf_counter()
        response = self.http.post(self.url, content=message, headers=self.headers)
        body = response.content
        took = time.perf_counter() - started
        if response.status_code != 200 or body.count(b"x") < size:
            raise BenchError(f"direct: the {size}-byte result came back wrong")
        return took

    def close(self) -> None:
        self.http.close()


class Bridged:
    """A session through ``mcpcred shim --url``: JSON lines over its stdio."""

    def __init__(self, label: str, env: dict[str, str], url: str, tmp: Path, server: str) -> None:
        self.label = label
        self.stderr_path = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=tmp)) / "stderr"
        argv = [str(MCPCRED), *shim_args(url, server)]
        self.process, self.client = spawn(argv, env, self.stderr_path)
        self.next_id = 0
        answer = self.request({"method": "initialize", "params": INITIALIZE})
        if "result" not in answer:
            raise self.fail(f"initialize failed: {str(answer)[:300]}")
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    @property
    def pid(self) -> int:
        return self.process.pid

    def fail(self, what: str) -> BenchError:
        stderr = self.stderr_path.read_text(errors="replace")[-1500:]
        code = self.process.poll()
        state = "running" if code is None else f"exited {code}"
        return BenchError(f"{self.label}: {what} (shim {state}; stderr: {stderr.strip()!r})")

    def send(self, message: dict[str, Any]) -> None:
        self.client.send(json.dumps(message, separators=(",", ":")).encode() + b"\n", TIMEOUT)

    def read(self) -> dict[str, Any]:
        try:
            line = self.client.read_line(TIMEOUT)
        except TimeoutError as exc:
            raise self.fail(f"no answer within {TIMEOUT:.0f} s: {exc}") from None
        if not line.endswith(b"\n"):
            raise self.fail("its output ended")
        answer = json.loads(line)
        if not isinstance(answer, dict):
            raise self.fail("an answer that is not an object")
        return answer

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        request_id = self.next_id
        self.send({"jsonrpc": "2.0", "id": request_id, **message})
        while True:
            answer = self.read()
            if answer.get("id") == request_id:
                return answer

    def echo(self, text: str) -> float:
        self.next_id += 1
        started = time.perf_counter()
        self.send(echo_request(self.next_id, text))
        answer = self.read()
        took = time.perf_counter() - started
        if answer.get("id") != self.next_id or result_text(answer) != f"echo: {text}":
            raise self.fail(f"wrong echo answer {str(answer)[:200]}")
        return took

    def echo_window(self, texts: Sequence[str]) -> None:
        first = self.next_id + 1
        self.next_id += len(texts)
        data = b"".join(
            json.dumps(echo_request(first + i, t)).encode() + b"\n" for i, t in enumerate(texts)
        )
        self.client.send(data, TIMEOUT)
        seen: dict[int, str] = {}
        while len(seen) < len(texts):
            answer = self.read()
            seen[int(answer.get("id", -1))] = result_text(answer)
        for i, text in enumerate(texts):
            if seen.get(first + i) != f"echo: {text}":
                raise self.fail(f"wrong answer to echo {first + i}")

    def big(self, size: int) -> float:
        """One big result, to its last byte; checked by counting its bytes."""
        self.next_id += 1
        started = time.perf_counter()
        self.send(big_request(self.next_id, size))
        try:
            line = self.client.read_line(TIMEOUT)
        except TimeoutError as exc:
            raise self.fail(f"no big answer within {TIMEOUT:.0f} s: {exc}") from None
        took = time.perf_counter() - started
        if not line.endswith(b"\n") or line.count(b"x") < size:
            raise self.fail(f"the {size}-byte result came back wrong")
        return took

    def close(self) -> int | None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        try:
            code: int | None = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            code = None
        self.process.stdout.close()
        return code


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise BenchError(f"no {field} for process {pid}")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@contextlib.contextmanager
def fast_server(env: dict[str, str]) -> Iterator[str]:
    """``fast_remote_server.py`` on a free loopback port; yields its MCP URL."""
    port = remote_servers.free_port()
    process = subprocess.Popen(
        [PYTHON, str(HERE / "fast_remote_server.py"), str(port)],
        env={**env, "BENCH_FAST_TOKEN": SECRET_VALUE},
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise BenchError("the fast test server did not start")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- sections --------------------------------------------------------------------------------


def first_list(env: dict[str, str], url: str, runs: int) -> tuple[list[float], list[float]]:
    """Seconds from spawning a client process to its tool list: direct, then bridged."""

    def timed(argv: list[str], stdin: str) -> float:
        started = time.perf_counter()
        process = subprocess.Popen(
            argv,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(stdin)
        process.stdin.close()
        line = process.stdout.readline()
        took = time.perf_counter() - started
        process.stdin = None  # closed above; communicate must not flush it
        try:
            _, stderr = process.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        if not line.startswith("listed "):
            raise BenchError(f"a client did not list the tools: {stderr.strip()[-800:]!r}")
        return took

    direct: list[float] = []
    bridged: list[float] = []
    bridged_argv = [PYTHON, "-c", BRIDGED_CLIENT, str(MCPCRED), json.dumps(shim_args(url, "bench"))]
    for i in range(runs + 1):  # the first of each warms the page cache; not counted
        order: list[Callable[[], None]] = [
            lambda: direct.append(timed([PYTHON, "-c", DIRECT_CLIENT, url], SECRET_VALUE + "\n")),
            lambda: bridged.append(timed(bridged_argv, "")),
        ]
        for step in order if i % 2 == 0 else order[::-1]:
            step()
        if i == 0:
            direct.clear()
            bridged.clear()
    return direct, bridged


def latency(sides: Sequence[Direct | Bridged], calls: int, warmup: int) -> dict[str, list[float]]:
    for i in range(warmup):
        for side in sides:
            side.echo(f"warm-{i}")
    times: dict[str, list[float]] = {side.label: [] for side in sides}
    for i in range(calls):
        shift = i % len(sides)
        for side in [*sides[shift:], *sides[:shift]]:
            times[side.label].append(side.echo(f"m-{i}"))
    return times


def run_all(args: argparse.Namespace, tmp: Path, started: float) -> int:
    env = report.isolated_env(tmp)
    Path(env["MCPCRED_CONFIG"]).write_text(f'[servers.{GUARDED}]\ndeny = ["delete_*"]\n')
    calls, warmup, runs, sizes = args.calls, args.warmup, args.runs, args.sizes
    small, large = args.mem
    results: list[tuple[str, bool, str]] = []
    with (
        keychain.real_secret_service() as keychain_env,
        remote_servers.serve("bearer", secret=SECRET_VALUE) as server,
    ):
        keychain.clear(keychain_env, SERVICE)
        keychain.store(keychain_env, SERVICE, SECRET_NAME, SECRET_VALUE)
        env.update(keychain_env)
        print(
            f"keychain and server up in {time.perf_counter() - started:.1f}s; server: the MCP "
            f"Python SDK, Streamable HTTP on loopback behind a bearer check"
        )
        print()

        # --- first tools/list ---
        direct_first, bridged_first = first_list(env, server.bare_url, runs)
        med_direct, med_bridged = statistics.median(direct_first), statistics.median(bridged_first)
        ratio = med_bridged / med_direct
        print(f"== first tools/list: a fresh client process, spawn to tool list ({runs} each) ==")
        rows = [["", "runs", "best ms", "median ms", "max ms"]]
        for label, values in (("SDK Client, direct HTTP", direct_first),
                              ("SDK Client, stdio via mcpcred bridge", bridged_first)):  # fmt: skip
            ms = [v * 1000 for v in values]
            rows.append([label, str(len(ms)), f"{min(ms):.0f}", f"{statistics.median(ms):.0f}",
                         f"{max(ms):.0f}"])  # fmt: skip
        print(table(rows, {1, 2, 3, 4}))
        print(f"  bridged / direct: {ratio:.2f}x (the bridge adds "
              f"{(med_bridged - med_direct) * 1000:+.0f} ms)")  # fmt: skip
        print()
        results.append(
            (
                f"first tools/list through the bridge <= {TARGET_FIRST_LIST_RATIO}x direct",
                ratio <= TARGET_FIRST_LIST_RATIO,
                f"{ratio:.2f}x",
            )
        )

        # --- latency ---
        direct = Direct(server.bare_url, SECRET_VALUE)
        bridged = Bridged("bridged", env, server.bare_url, tmp, "bench")
        guarded = Bridged("guarded", env, server.bare_url, tmp, GUARDED)
        try:
            times = latency([direct, bridged, guarded], calls, warmup)
            print(
                f"== latency: sequential tools/call echo round trips ({calls} each, interleaved) =="
            )
            rows = [["", "calls", "best ms", "median ms", "p99 ms"]]
            for label in ("direct", "bridged", "guarded"):
                ms = [v * 1000 for v in times[label]]
                shown = {"direct": "direct (HTTP client in this process)",
                         "bridged": "through the bridge (stdio)",
                         "guarded": "through the bridge, guarded"}[label]  # fmt: skip
                median, p99 = statistics.median(ms), percentile(ms, 0.99)
                rows.append([shown, str(len(ms)), f"{min(ms):.3f}", f"{median:.3f}", f"{p99:.3f}"])
            print(table(rows, {1, 2, 3, 4}))
            added = (
                statistics.median(times["bridged"]) - statistics.median(times["direct"])
            ) * 1000
            added_guard = (
                statistics.median(times["guarded"]) - statistics.median(times["direct"])
            ) * 1000
            print(
                f"  added by the bridge: {added:+.3f} ms median; "
                f"with the guard: {added_guard:+.3f} ms"
            )
            print()
            results.append(
                (
                    f"added latency through the bridge (median) <= {TARGET_ADDED_MEDIAN_MS} ms",
                    added <= TARGET_ADDED_MEDIAN_MS,
                    f"{added:+.3f} ms",
                )
            )

        finally:
            direct.close()
            bridged.close()
            guarded.close()

        # --- throughput ---
        with fast_server(env) as fast_url:
            direct = Direct(fast_url, SECRET_VALUE)
            bridged = Bridged("bridged-fast", env, fast_url, tmp, "bench")
            try:
                print("== throughput: one big tool result, request to the answer's last byte ==")
                rows = [["result", "runs", "direct MB/s", "bridged MB/s", "bridged/direct"]]
                last_rate = 0.0
                for size in sizes:
                    d: list[float] = []
                    b: list[float] = []
                    for _ in range(runs):  # interleaved
                        d.append(direct.big(size))
                        b.append(bridged.big(size))
                    rate_d = size / MB / statistics.median(d)
                    rate_b = size / MB / statistics.median(b)
                    last_rate = rate_b
                    rows.append([f"{size / MB:g} MB", str(runs), f"{rate_d:.0f}", f"{rate_b:.0f}",
                                 f"{rate_b / rate_d:.2f}"])  # fmt: skip
                print(table(rows, {1, 2, 3, 4}))
                print(
                    "  server: fast_remote_server.py (the SDK's server makes a 50 MB result at "
                    "15-30 MB/s, which would be its figure, not the bridge's); MB = 10^6 bytes; "
                    "medians; every result's size checked"
                )
                print()
                results.append(
                    (
                        f"bridged throughput, {max(sizes) / MB:g} MB result (median) "
                        f">= {TARGET_MB_S:g} MB/s",
                        last_rate >= TARGET_MB_S,
                        f"{last_rate:.0f} MB/s",
                    )
                )
            finally:
                direct.close()
                bridged.close()

        # --- memory ---
        memory = Bridged("memory", env, server.bare_url, tmp, "bench")
        try:
            readings: list[tuple[str, int]] = [
                ("after initialize", status_kib(memory.pid, "VmHWM"))
            ]
            done = 0
            for target in (small, large):
                while done < target:
                    count = min(WINDOW, target - done)
                    memory.echo_window([f"mem-{done + i}" for i in range(count)])
                    done += count
                readings.append((f"after {target:,} calls", status_kib(memory.pid, "VmHWM")))
        finally:
            code = memory.close()
        print("== memory: the bridge's peak RSS (VmHWM) in one session ==")
        rows = [["", "peak RSS MiB"]]
        rows += [[label, f"{kib / 1024:.1f}"] for label, kib in readings]
        print(table(rows, {1}))
        print(f"  calls pipelined {WINDOW} at a time; the shim exited {code} after stdin closed")
        print()
        first_kib, last_kib = readings[1][1], readings[2][1]
        allowed = max(first_kib * 1024 * TARGET_FLAT_RATIO, TARGET_FLAT_BYTES)
        grown = (last_kib - first_kib) * 1024
        results.append(
            (
                f"bridge peak RSS flat: after {large:,} calls within 10% or 2 MiB of after "
                f"{small:,}",
                grown <= allowed,
                f"{first_kib / 1024:.1f} -> {last_kib / 1024:.1f} MiB",
            )
        )

    failed = report.print_targets(results)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failed and args.check else 0


def sizes_arg(value: str) -> list[int]:
    try:
        sizes = [int(float(part) * MB) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError("sizes are numbers of MB, e.g. 5,50") from None
    if not sizes or min(sizes) <= 0:
        raise argparse.ArgumentTypeError("sizes must be positive")
    return sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, help="timed echo round trips per side (1000)")
    parser.add_argument("--warmup", type=int, help="untimed echo calls per side first (100)")
    parser.add_argument(
        "--runs", type=int, help="fresh client processes / big results per side (5 / 3)"
    )
    parser.add_argument("--sizes", type=sizes_arg, help="result sizes in MB (5,50)")
    parser.add_argument("--mem-calls", help="calls before the two memory readings (1000,10000)")
    parser.add_argument("--quick", action="store_true", help="fewer calls and runs (a smoke test)")
    parser.add_argument(
        "--check", "--strict", action="store_true", help="exit 1 when a target fails"
    )
    args = parser.parse_args(argv)
    args.calls = args.calls or (200 if args.quick else 1000)
    args.warmup = args.warmup if args.warmup is not None else (20 if args.quick else 100)
    args.runs = args.runs or (2 if args.quick else 5)
    args.sizes = args.sizes or ([5 * MB] if args.quick else [5 * MB, 50 * MB])
    mem = args.mem_calls or ("200,1000" if args.quick else "1000,10000")
    try:
        args.mem = tuple(int(part) for part in mem.split(","))
        assert len(args.mem) == 2 and 0 < args.mem[0] <= args.mem[1]
    except (ValueError, AssertionError):
        parser.error("--mem-calls takes two increasing numbers: FIRST,SECOND")
    if min(args.calls, args.runs) < 1 or args.warmup < 0:
        parser.error("--calls and --runs must be positive")
    if not report.ready(MCPCRED, keychain.require_tools):
        return 2
    started = time.perf_counter()
    report.announce(
        "mcpcred remote bridge benchmark",
        f"; {args.calls} echo calls, sizes {', '.join(f'{s / MB:g} MB' for s in args.sizes)}",
    )
    return report.run_broken_or("mcpcred-bench-bridge-", lambda tmp: run_all(args, tmp, started))


if __name__ == "__main__":
    sys.exit(main())
