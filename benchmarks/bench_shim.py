"""Benchmark the start-up that ``mcpcred shim`` adds to an MCP server, for each store.

In one run, this script:

1. installs ``keyrings.alt`` into a temporary folder and puts it on ``PYTHONPATH`` of
   every process it starts (a Python environment that has ``keyrings.alt`` beside
   ``keyring``, where keyring's discovery returns its ``ChainerBackend``: issue 14);
   ``--no-keyrings-alt`` leaves it out;
2. prepares each store of ``STORES`` that this installation has, with five fake secrets:

   - ``secret-service``: a real gnome-keyring on a private D-Bus session bus
     (``tests.support.keychain.real_secret_service``), the secrets stored with
     libsecret's ``secret-tool``;
   - ``file+agent`` and ``file+passphrase``: the encrypted file store
     (``mcpcred.keychain.filekeyring``, another part of issue 14): its key held by
     ``mcpcred agent``, or derived from ``MCPCRED_PASSPHRASE`` on every start. When
     that module is not importable, the store is listed as "not available";

   and asks mcpcred, in that environment, for the shim arguments ``wrap`` would write
   (so a recorded chainer would show up here as the slow path it is);
3. times, interleaved round by round (the order rotates every round, so drift and
   position effects cancel), N spawn-to-exit runs of each of:

   - ``direct``: the "server" started directly, its five env vars set to the secret
     values: ``python -S -c <check>``, which exits 0 only when every var it is given
     is set and is not a reference;
   - ``shim, no reference``: the same command through the console script
     ``mcpcred shim --server bench -- ...``, the same plain values (the shim's own
     cost without touching a store);
   - per store, ``1 secret`` and ``5 secrets``: the same, with one and then all five
     vars holding ``mcpcred:secret/bench-N`` references, which the shim must fetch
     and inject for the server to exit 0;
   - ``old chainer entry, 5 secrets``: the Secret Service through an entry that a
     wrap before issue 14 wrote (``--backend keyring.backends.chainer.ChainerBackend``);
   - ``python -c pass``: an interpreter with ``site``, as the console script starts it
     (the floor for any Python shim; for reference only);

4. checks once, before timing, that the shim hands the server exactly the stored
   values (the server prints their SHA-256, never the values);
5. runs the Secret Service shim once more under ``python -X importtime`` (best of 5)
   and lists the heaviest imports, failing if a module that does not belong on the
   shim path (typer, rich, httpx, authlib, keyring, pydantic, click, secretstorage,
   cryptography, jeepney) is imported;
6. prints PASS/FAIL against the targets: at most 25 ms of added median start-up with
   five secrets (shim median minus direct median, same run) for the Secret Service
   and the agent; the key derivation with ``MCPCRED_PASSPHRASE`` (its 5-secret
   median minus the agent's) at most 150 ms. The exit code is 0 unless ``--check``
   is given and a target fails.

``--baseline PATH`` adds the no-reference, Secret Service and agent starts through
another install's console script (an older mcpcred) to the same rounds, so a change is
measured against its predecessor under the same load.

Memory is not measured: the shim execs the server, so the process that exits
is the server, and its peak RSS says nothing about the shim.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # tests.support.keychain
    sys.path.insert(0, str(REPO))

from tests.support import keychain  # noqa: E402

if str(Path(__file__).resolve().parent) not in sys.path:  # run as a module, not a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import report  # noqa: E402
from report import table, verdict  # noqa: E402

PYTHON = sys.executable
MCPCRED = Path(sys.executable).parent / "mcpcred"  # the console script a client's config runs
SERVICE = "mcpcred"
VARS = ("TOKEN", "TOKEN_2", "TOKEN_3", "TOKEN_4", "TOKEN_5")
NAMES = ("bench-1", "bench-2", "bench-3", "bench-4", "bench-5")
CHAINER = "keyring.backends.chainer.ChainerBackend"
FILE_STORE = "mcpcred.keychain.filekeyring.FileKeyring"
# With the agent unlocked, the agent opens the store for the shim (its READ request): a
# start from the file store needs no AES-GCM, HMAC, SHA-256 or JSON of its own.
AGENT_PATH_FORBIDDEN = ("hmac", "hashlib", "_hashlib", "json", "_json")
HEAVY_MODULES = (
    "typer",
    "rich",
    "httpx",
    "authlib",
    "keyring",
    "pydantic",
    "click",
    "secretstorage",
    "cryptography",
    "jeepney",
)
# Inherited variables that would point the shim at another keychain or change how it runs.
SCRUBBED = (
    "PYTHON_KEYRING_BACKEND",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_RUNTIME_DIR",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "MCPCRED_PASSPHRASE",
    "MCPCRED_PASSPHRASE_FILE",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPYCACHEPREFIX",
)

# Targets from issue 14.
TARGET_ADDED_MS = 25.0  # shim median - direct median, 5 secrets, Secret Service and agent
TARGET_KDF_MS = 150.0  # file store: 5-secret median with MCPCRED_PASSPHRASE - with the agent

# The "server": exits 0 only if every var named in argv holds a value, not a reference.
SERVER_CHECK = (
    "import os,sys; sys.exit(0 if all(os.environ.get(k, 'mcpcred:')[:8] != 'mcpcred:' "
    "for k in sys.argv[1:]) else 3)"
)
# Used once, untimed: prints the SHA-256 of each var, to compare with what was stored.
SERVER_DIGEST = (
    "import hashlib,os,sys; print(' '.join(hashlib.sha256(os.environ.get(k, '').encode())"
    ".hexdigest() for k in sys.argv[1:]))"
)


# --- scenarios and runs -------------------------------------------------------------------


@dataclass(slots=True)
class Scenario:
    """One way of starting the server, and its wall times (seconds)."""

    key: str
    label: str
    argv: list[str]
    env: dict[str, str]
    timed: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.timed) * 1000

    @property
    def best_ms(self) -> float:
        return min(self.timed) * 1000

    @property
    def p95_ms(self) -> float:
        if len(self.timed) < 2:
            return self.timed[0] * 1000
        return statistics.quantiles(self.timed, n=20, method="inclusive")[18] * 1000


def server_argv(code: str = SERVER_CHECK) -> list[str]:
    return [PYTHON, "-S", "-c", code, *VARS]


def shim_argv(server: list[str], recorded: Sequence[str] = ()) -> list[str]:
    """The console script running the shim, with what wrap recorded (``--backend`` ...)."""
    return [str(MCPCRED), "shim", "--server", "bench", *recorded, "--", *server]


def run_once(argv: Sequence[str], env: Mapping[str, str]) -> float:
    """Wall time from spawn to exit; raises with the stderr tail when it does not exit 0."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env
        )
        rc = proc.wait()
        wall = time.perf_counter() - start
        if rc != 0:
            err.seek(0)
            tail = err.read().decode(errors="replace")[-2000:]
            raise RuntimeError(f"{' '.join(argv[:3])} ... exited {rc}: {tail}")
    return wall


def interleaved(scenarios: list[Scenario], runs: int, warmup: int) -> None:
    """Run every scenario once per round, rotating the order each round."""
    count = len(scenarios)
    for round_no in range(warmup + runs):
        order = [scenarios[(round_no + i) % count] for i in range(count)]
        for scenario in order:
            wall = run_once(scenario.argv, scenario.env)
            if round_no >= warmup:
                scenario.timed.append(wall)


def verify_injection(
    env: Mapping[str, str], expected: dict[str, str], recorded: Sequence[str] = ()
) -> list[str]:
    """Problems with what the shim hands the server (empty when every value arrives intact)."""
    proc = subprocess.run(
        shim_argv(server_argv(SERVER_DIGEST), recorded),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        return [f"shim exited {proc.returncode}: {proc.stderr.strip()[-500:]}"]
    got = proc.stdout.split()
    if len(got) != len(VARS):
        return [f"the server printed {len(got)} digests, not {len(VARS)}"]
    want = [hashlib.sha256(expected[v].encode()).hexdigest() for v in VARS]
    return [
        f"{var} differs from the stored value"
        for var, g, w in zip(VARS, got, want, strict=True)
        if g != w
    ]


# --- imports ----------------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|( *)(\S+)")


@dataclass(slots=True)
class Imports:
    total_ms: float  # own times summed: every import of the shim process
    modules: list[tuple[str, int, float, float]]  # (name, depth, own ms, cumulative ms)
    heavy: list[str]  # top-level names from HEAVY_MODULES that were imported


def shim_imports(env: Mapping[str, str], recorded: Sequence[str] = (), repeat: int = 5) -> Imports:
    """``-X importtime`` of the console script running a 1-secret shim; the fastest of N."""
    best: Imports | None = None
    # The console script as its shebang runs it; -X importtime ends at the exec (the server's
    # own interpreter gets a fresh argv without it), so only the shim's imports are listed.
    argv = [PYTHON, "-X", "importtime", *shim_argv(server_argv(), recorded)]
    for _ in range(repeat):
        proc = subprocess.run(
            argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"shim under -X importtime exited {proc.returncode}")
        modules = []
        for line in proc.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if match:
                own, cumulative, indent, name = match.groups()
                depth = (len(indent) - 1) // 2
                modules.append((name, depth, int(own) / 1000, int(cumulative) / 1000))
        total = sum(m[2] for m in modules)
        heavy = sorted({m[0].split(".")[0] for m in modules} & set(HEAVY_MODULES))
        if best is None or total < best.total_ms:
            best = Imports(total, modules, heavy)
    assert best is not None
    return best


def importers(modules: list[tuple[str, int, float, float]]) -> list[str | None]:
    """Who imported each module: ``-X importtime`` lists children before their parent."""
    out: list[str | None] = []
    for index, (_, depth, _, _) in enumerate(modules):
        parent = next((m[0] for m in modules[index + 1 :] if m[1] < depth), None)
        out.append(parent if depth else None)
    return out


# --- stores ---------------------------------------------------------------------------------


class NotAvailable(Exception):
    """This installation cannot prepare the store: said in the output, not a failure."""


@dataclass(slots=True)
class Prepared:
    """A store holding the five secrets: what the shim's environment adds, what wrap records."""

    env: dict[str, str]
    recorded: list[str]  # shim arguments between ``--server NAME`` and ``--`` (``--backend`` ...)


@dataclass(frozen=True, slots=True)
class Store:
    key: str
    label: str
    # (exit stack for clean-up, temp folder, base environment, {secret name: value})
    prepare: Callable[[ExitStack, Path, dict[str, str], dict[str, str]], Prepared]
    budgeted: bool  # held to TARGET_ADDED_MS (the passphrase variant pays the KDF instead)


def wrap_records(env: Mapping[str, str]) -> list[str]:
    """The shim arguments ``mcpcred wrap`` writes in ``env`` (the same code path as wrap)."""
    code = (
        "import json; from mcpcred.host import Host; "
        "from mcpcred.keychain.store import SecretStore; "
        "from mcpcred.wrap.service import shim_settings; "
        "print(json.dumps(shim_settings(Host.current(), SecretStore().backend_name)"
        ".args('bench', 'bench')))"
    )
    proc = subprocess.run(
        [PYTHON, "-c", code], env=dict(env), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise NotAvailable(f"wrap's settings: {_last_line(proc.stderr)}")
    args: list[str] = json.loads(proc.stdout)
    return args[args.index("--client") + 2 : args.index("--")]


def keyring_picks(env: Mapping[str, str]) -> str:
    """The backend keyring's own discovery returns in ``env`` (what wrap used to record)."""
    code = "import keyring; k = keyring.get_keyring(); print(type(k).__module__, type(k).__name__)"
    proc = subprocess.run(
        [PYTHON, "-c", code], env=dict(env), capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    return ".".join(proc.stdout.split()) or f"(failed: {_last_line(proc.stderr)})"


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1][:300] if lines else "no output"


def secret_service(
    stack: ExitStack, tmp: Path, base: dict[str, str], values: dict[str, str]
) -> Prepared:
    """gnome-keyring on a private bus, the secrets stored with ``secret-tool``."""
    keychain_env = stack.enter_context(keychain.real_secret_service())
    keychain.clear(keychain_env, SERVICE)
    for name, value in values.items():
        keychain.store(keychain_env, SERVICE, name, value)
    env = {**base, **keychain_env}
    return Prepared(env, wrap_records(env))


# HOOK for the file store (issue 14, built by other helpers and merged later). The steps
# follow the contract between the parts: backend id FILE_STORE, ``mcpcred store init
# --file`` / ``store unlock`` / ``store lock``, ``mcpcred agent``, MCPCRED_PASSPHRASE and
# MCPCRED_DATA_DIR. When ``mcpcred.keychain.filekeyring`` is not importable the store is
# reported as "not available"; if a step's command line differs once merged, fix it here.
def _file_store(
    stack: ExitStack,
    tmp: Path,
    base: dict[str, str],
    values: dict[str, str],
    *,
    agent: bool,
) -> Prepared:
    if importlib.util.find_spec("mcpcred.keychain.filekeyring") is None:
        raise NotAvailable("mcpcred.keychain.filekeyring is not importable here")
    folder = Path(tempfile.mkdtemp(prefix="mb", dir="/tmp"))  # short: the agent's socket
    stack.callback(shutil.rmtree, folder, ignore_errors=True)
    (folder / "run").mkdir(mode=0o700)
    passphrase = secrets.token_urlsafe(24)
    env = {
        **base,
        "MCPCRED_DATA_DIR": str(folder / "data"),
        "XDG_RUNTIME_DIR": str(folder / "run"),
        "MCPCRED_PASSPHRASE": passphrase,
    }
    _cli(env, "store", "init", "--file")
    for name, value in values.items():
        _cli(env, "secret", "set", name, "--from-stdin", stdin=value)
    recorded = wrap_records(env)
    if FILE_STORE not in recorded:
        raise NotAvailable(f"wrap does not record the file store here (it records {recorded})")
    if not agent:
        return Prepared(env, recorded)
    _cli(env, "store", "unlock")  # hands the derived key to the agent (and the kernel keyring)
    stack.callback(_cli_quietly, dict(env), "agent", "stop")  # runs after the lock (LIFO)
    stack.callback(_cli_quietly, dict(env), "store", "lock")
    without = {k: v for k, v in env.items() if k != "MCPCRED_PASSPHRASE"}
    return Prepared(without, recorded)


def _cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> None:
    proc = subprocess.run(
        [str(MCPCRED), *args], env=dict(env), input=stdin, capture_output=True, text=True,
        timeout=120, check=False, stdin=None if stdin is not None else subprocess.DEVNULL,
    )  # fmt: skip
    if proc.returncode != 0:
        raise NotAvailable(f"`mcpcred {' '.join(args)}` exited {proc.returncode}: "
                           f"{_last_line(proc.stderr)}")  # fmt: skip


def _cli_quietly(env: Mapping[str, str], *args: str) -> None:
    with contextlib.suppress(NotAvailable, subprocess.TimeoutExpired):
        _cli(env, *args)


STORES = (
    Store("ss", "Secret Service", secret_service, budgeted=True),
    Store("agent", "file store + agent", functools.partial(_file_store, agent=True), True),
    Store(
        "pass",
        "file store + MCPCRED_PASSPHRASE",
        functools.partial(_file_store, agent=False),
        budgeted=False,
    ),
)


# --- output -------------------------------------------------------------------------------


def print_timings(scenarios: list[Scenario], direct: Scenario) -> None:
    rows = [["how the server starts", "runs", "best ms", "median ms", "p95 ms", "added ms"]]
    for s in scenarios:
        added = "" if s is direct else f"{s.median_ms - direct.median_ms:+.1f}"
        rows.append(
            [
                s.label,
                str(len(s.timed)),
                f"{s.best_ms:.1f}",
                f"{s.median_ms:.1f}",
                f"{s.p95_ms:.1f}",
                added,
            ]
        )
    print(table(rows, {1, 2, 3, 4, 5}))
    print("  added: median minus the median of `direct`, both from this run")


def paired_ms(scenario: Scenario, direct: Scenario) -> float:
    """Median of the per-round differences (each round ran both back to back)."""
    return (
        statistics.median(a - b for a, b in zip(scenario.timed, direct.timed, strict=True)) * 1000
    )


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40, help="timed runs per scenario (40)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds first (3)")
    parser.add_argument("--top", type=int, default=10, help="imports to list (10)")
    parser.add_argument(
        "--no-keyrings-alt", action="store_true", help="do not install keyrings.alt beside"
    )
    parser.add_argument(
        "--check", "--strict", action="store_true", help="exit 1 when a target fails"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another mcpcred console script (an older install) to time in the same rounds",
    )
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if not report.ready(MCPCRED, keychain.require_tools):
        return 2
    return report.run_broken_or("mcpcred-bench-shim-", lambda tmp: _run(args, tmp))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    started = time.perf_counter()
    report.announce("mcpcred shim benchmark", f", {args.runs} runs each, interleaved")
    base = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    base = {k: v for k, v in base.items() if not k.startswith(("GNOME_KEYRING_", "MCPCRED_"))}
    # Up-to-date bytecode, as an installed mcpcred has it, without writing into the source
    # tree: with PYTHONDONTWRITEBYTECODE inherited, or .pyc files older than their (just
    # edited) sources, every start would compile those modules again (5-8 ms each for the
    # bigger ones). The warm-up rounds fill this folder.
    base["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    values = {var: "ghp_" + secrets.token_urlsafe(27)[:36] for var in VARS}  # fake, 40 chars
    by_name = {name: values[var] for name, var in zip(NAMES, VARS, strict=True)}
    if not args.no_keyrings_alt:
        from tests.support.startup import install_keyrings_alt

        try:
            base["PYTHONPATH"] = str(install_keyrings_alt(tmp / "keyrings-alt"))
        except RuntimeError as exc:
            raise report.BenchError(str(exc)) from None

    with ExitStack() as stack:
        prepared: dict[str, Prepared] = {}
        for store in STORES:
            try:
                prepared[store.key] = store.prepare(stack, tmp, base, by_name)
            except NotAvailable as exc:
                print(f"{store.label}: not available ({exc})")
                continue
            recorded = " ".join(prepared[store.key].recorded) or "nothing"
            print(f"{store.label}: 5 secrets stored; wrap records {recorded}")
        if "ss" not in prepared:
            raise report.BenchError("the Secret Service could not be prepared")
        ss = prepared["ss"]
        print(
            "keyrings.alt: "
            + ("left out" if args.no_keyrings_alt else "installed beside keyring")
            + f"; keyring's own discovery with the Secret Service returns {keyring_picks(ss.env)}"
        )
        old = [*ss.recorded, "--backend", CHAINER]  # what a wrap before issue 14 wrote

        def refs(env: dict[str, str], count: int) -> dict[str, str]:
            refd = {v: f"mcpcred:secret/{n}" for v, n in zip(VARS[:count], NAMES, strict=False)}
            return {**env, **values, **refd}

        problems: list[str] = []
        for key, ready in prepared.items():
            for count in (1, 5):
                found = verify_injection(refs(ready.env, count), values, ready.recorded)
                problems += [f"{key}, {count}: {p}" for p in found]
        problems += [f"old entry: {p}" for p in verify_injection(refs(ss.env, 5), values, old)]
        if problems:
            print("the shim did not hand the server the stored values:")
            for problem in problems:
                print(f"  {problem}")
            return 1
        print("checked: through the shim the server gets exactly the stored values")
        print()

        server = server_argv()
        plain = {**base, **values}
        direct = Scenario("direct", "direct", server, plain)
        scenarios = [direct, Scenario("noref", "shim, no reference", shim_argv(server), plain)]
        for store in STORES:
            if store.key in prepared:
                ready = prepared[store.key]
                for count in (1, 5):
                    label = f"{store.label}, {count} secret{'s' if count > 1 else ''}"
                    argv = shim_argv(server, ready.recorded)
                    scenarios.append(
                        Scenario(f"{store.key}{count}", label, argv, refs(ready.env, count))
                    )
        if args.baseline is not None:  # the same starts through an older install
            scenarios += [
                Scenario(
                    "base-" + s.key,
                    "baseline: " + s.label,
                    [str(args.baseline), *s.argv[1:]],
                    s.env,
                )
                for s in scenarios
                if s.key in ("noref", "ss5", "agent5")
            ]
        old_argv = shim_argv(server, old)
        scenarios.append(
            Scenario("old5", "old chainer entry, 5 secrets", old_argv, refs(ss.env, 5))
        )
        scenarios.append(Scenario("pass", "python -c pass (floor)", [PYTHON, "-c", "pass"], plain))
        interleaved(scenarios, args.runs, args.warmup)
        imports = shim_imports(refs(ss.env, 1), ss.recorded)
        agent_imports = (
            shim_imports(refs(prepared["agent"].env, 1), prepared["agent"].recorded)
            if "agent" in prepared
            else None
        )

    by_key = {s.key: s for s in scenarios}
    print("== start-up, spawn to exit ==")
    print(f"server: python -S -c <check {' '.join(VARS)}>; shim: {MCPCRED.name} shim -- <server>")
    print_timings(scenarios, direct)
    print(
        "  paired (median of per-round differences): "
        + ", ".join(f"{s.label} {paired_ms(s, direct):+.1f}" for s in scenarios[1:-1])
        + " ms"
    )
    noref, floor, one, five = (by_key[k] for k in ("noref", "pass", "ss1", "ss5"))
    keychain_ms = one.median_ms - noref.median_ms
    shim_code_ms = noref.median_ms - direct.median_ms - floor.median_ms
    print(
        f"  where it goes: a second interpreter (python -c pass) {floor.median_ms:.1f} ms, "
        f"the shim's imports, code and exec {shim_code_ms:.1f}, Secret Service (its client + "
        f"D-Bus) {keychain_ms:.1f}, four more secrets {five.median_ms - one.median_ms:.1f}"
    )
    kdf_ms: float | None = None
    if "agent5" in by_key and "pass5" in by_key:
        kdf_ms = by_key["pass5"].median_ms - by_key["agent5"].median_ms
        print(f"  key derivation from MCPCRED_PASSPHRASE (5 secrets, minus the agent's): "
              f"{kdf_ms:.1f} ms")  # fmt: skip
    else:
        print("  key derivation from MCPCRED_PASSPHRASE: not available (no file store here)")
    print()

    print("== imports of the shim process (Secret Service, 1 secret, -X importtime, best of 5) ==")
    mcpcred_ms = sum(m[2] for m in imports.modules if m[0].split(".")[0] == "mcpcred")
    # jeepney: what the shim used before its own D-Bus client (a --baseline may still)
    jeepney_ms = sum(m[2] for m in imports.modules if m[0].split(".")[0] == "jeepney")
    print(
        f"{len(imports.modules)} modules, {imports.total_ms:.1f} ms in all "
        f"(own times: mcpcred.* {mcpcred_ms:.1f}, jeepney.* {jeepney_ms:.1f}, "
        f"everything else {imports.total_ms - mcpcred_ms - jeepney_ms:.1f})"
    )
    rows = [["module", "cumulative ms", "own ms", "imported by"]]
    parents = importers(imports.modules)
    ranked = sorted(range(len(imports.modules)), key=lambda i: -imports.modules[i][3])
    for index in ranked[: args.top]:
        name, _, own, cumulative = imports.modules[index]
        rows.append([name, f"{cumulative:.1f}", f"{own:.1f}", parents[index] or "-"])
    print(table(rows, {1, 2}))
    print("  imported by -: the console script itself, or an import inside a function")
    heaviest = sorted(imports.modules, key=lambda m: -m[2])[: args.top]
    print("  heaviest by own time: " + ", ".join(f"{m[0]} {m[2]:.1f}" for m in heaviest))
    print(f"  {'/'.join(HEAVY_MODULES)}: {', '.join(imports.heavy) or 'none imported'}")
    agent_heavy: list[str] = []
    if agent_imports is not None:
        names = {m[0].split(".")[0] for m in agent_imports.modules}
        agent_heavy = sorted(names & {*HEAVY_MODULES, *AGENT_PATH_FORBIDDEN})
        print(
            f"  file store + agent, 1 secret: {len(agent_imports.modules)} modules in "
            f"{agent_imports.total_ms:.1f} ms; {'/'.join(AGENT_PATH_FORBIDDEN)}: "
            f"{', '.join(sorted(names & set(AGENT_PATH_FORBIDDEN))) or 'none imported'}"
        )
    print()

    results: list[tuple[str, bool, str]] = []
    for store in STORES:
        scenario = by_key.get(f"{store.key}5")
        if scenario is None or not store.budgeted:
            continue
        added = scenario.median_ms - direct.median_ms
        results.append(
            (
                f"{scenario.label}: added start-up (median) <= {TARGET_ADDED_MS:.0f} ms",
                added <= TARGET_ADDED_MS,
                f"{added:.1f} ms  (paired {paired_ms(scenario, direct):.1f} ms; p95 "
                f"{scenario.p95_ms:.1f} ms against {direct.p95_ms:.1f} ms direct)",
            )
        )
    if kdf_ms is not None:
        results.append(
            (
                f"key derivation from MCPCRED_PASSPHRASE <= {TARGET_KDF_MS:.0f} ms",
                kdf_ms <= TARGET_KDF_MS,
                f"{kdf_ms:.1f} ms",
            )
        )
    results.append(
        (
            "shim imports none of " + ", ".join(HEAVY_MODULES),
            not imports.heavy,
            ", ".join(imports.heavy) or "none imported",
        )
    )
    if agent_imports is not None:
        results.append(
            (
                "file store + agent: shim imports none of those, nor "
                + ", ".join(AGENT_PATH_FORBIDDEN),
                not agent_heavy,
                ", ".join(agent_heavy) or "none imported",
            )
        )
    failed = report.print_targets(results)
    print()

    old5 = by_key["old5"]
    added_five = five.median_ms - direct.median_ms
    summary = (
        f"Started directly, the server takes {direct.median_ms:.1f} ms (median of "
        f"{len(direct.timed)}); through `mcpcred shim` with five secrets from a real "
        f"gnome-keyring it takes {five.median_ms:.1f} ms, {added_five:.1f} ms more "
        f"({verdict(added_five <= TARGET_ADDED_MS)} against the {TARGET_ADDED_MS:.0f} ms "
        f"target), {one.median_ms - direct.median_ms:.1f} ms more with one; an entry written "
        f"before issue 14 (recording keyring's chainer) adds "
        f"{old5.median_ms - direct.median_ms:.1f} ms. Without a reference the shim adds "
        f"{noref.median_ms - direct.median_ms:.1f} ms: {floor.median_ms:.1f} ms for a second "
        f"Python interpreter to start at all, {shim_code_ms:.1f} ms for the shim's imports, "
        f"argument and env handling and the exec; the keychain round trip (D-Bus client import, "
        f"D-Bus connection, session, search, GetSecrets) costs {keychain_ms:.1f} ms more. "
        f"The shim imports {len(imports.modules)} modules in {imports.total_ms:.1f} ms and "
        + (
            f"loads {', '.join(imports.heavy)}, which it must not."
            if imports.heavy
            else "none of the heavy libraries."
        )
    )
    if "agent5" in by_key:
        summary += (
            f" From the file store with the key in the agent, five secrets add "
            f"{by_key['agent5'].median_ms - direct.median_ms:.1f} ms"
        )
        summary += (
            f"; with {kdf_ms:.1f} ms more to derive the key from MCPCRED_PASSPHRASE."
            if kdf_ms is not None
            else "."
        )
    else:
        summary += " The file store is not available in this installation."
    print("== summary ==")
    print(textwrap.fill(summary, width=100))
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
