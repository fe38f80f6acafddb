"""Benchmark the start-up of every mcpcred command against a bare interpreter start.

What a user waits for when typing ``mcpcred --version``, ``--help``, ``clients``, ``status``
or ``wrap CLIENT --dry-run`` is mostly imports: this script times those commands, each in a
fresh process from spawn to exit, against ``python -c pass`` in the same rounds, and prints
the median added time per command with the targets of issue 15 (PASS/FAIL).

In one run:

1. a temporary virtual environment gets ``pip install .`` of this source tree (a
   non-editable install, as users and CI have it; the package registry must be reachable
   for the dependencies and the build backend), or ``--venv DIR`` names one already made;
   ``--baseline REF`` also installs the tree of a git commit (``git archive``) into a second
   one, timed in the same rounds;
2. HOME, the XDG folders and mcpcred's folders point into a temporary folder holding a
   Cursor config with one server that has a plaintext GitHub token (what ``wrap --dry-run``
   plans to move) and one wrapped server whose reference is in the keychain: a real
   gnome-keyring on a private D-Bus session bus (``tests.support.keychain``) when its tools
   are installed, otherwise no keychain at all (said in the output);
3. every variant runs once per round, the order rotating each round, after warm-up rounds
   (which also fill a private ``PYTHONPYCACHEPREFIX``, so bytecode is current without
   writing into the source tree); each must exit 0 (``status`` is allowed 1: a credential
   that does not resolve);
4. with ``--editable``, the same commands through the running interpreter's own install
   (``pip install -e .``), and with ``--no-bytecode``, through a copy of the source tree
   without ``__pycache__`` on ``PYTHONPATH`` with ``PYTHONDONTWRITEBYTECODE=1``: every
   mcpcred module compiled on every start, as in a fresh checkout whose tests run with that
   variable set;
5. prints best, median and added median (median minus the bare interpreter's median) per
   command and variant, then the targets for the installed variant; ``--check`` makes a
   missed target exit 1.

Run it with the interpreter whose dependencies you want (``.venv/bin/python``); the load
average is printed with the figures, since on a busy machine every figure moves.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(REPO) not in sys.path:  # tests.support
    sys.path.insert(0, str(REPO))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import report  # noqa: E402
from report import BenchError, table  # noqa: E402

# Added milliseconds over `python -c pass` (median), per command.
TARGETS: dict[str, float] = {
    "--version": 25,
    "--help": 100,
    "clients": 150,
    "status": 200,
    "wrap --dry-run": 250,
}
COMMANDS: dict[str, list[str]] = {
    "--version": ["--version"],
    "--help": ["--help"],
    "clients": ["clients"],
    "status": ["status"],
    "wrap --dry-run": ["wrap", "cursor", "--dry-run"],
}
ALLOWED_EXIT = {"status": {0, 1}}  # 1: a credential does not resolve (issue 15's exit codes)
SERVICE = "mcpcred"
SECRET_NAME = "bench-token"  # noqa: S105 (a name)
# A made-up token in GitHub's format, so that wrap finds something to move.
FAKE_TOKEN = "ghp_" + "Zq3vR8tY1uW5xK0pL7mN2bC4dF6gH9jA1sE3"


@dataclass(slots=True)
class Variant:
    """One way of starting one command, and its wall times (seconds)."""

    install: str
    command: str
    argv: list[str]
    env: dict[str, str]
    timed: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # user + system seconds of the process

    @property
    def median_ms(self) -> float:
        return statistics.median(self.timed) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000

    @property
    def best_ms(self) -> float:
        return min(self.timed) * 1000


def run_once(variant: Variant) -> tuple[float, float]:
    """Wall time from spawn to exit and the CPU time the process used (user + system, which
    moves less than wall time on a busy machine); raises with the stderr tail on an
    unexpected exit."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            variant.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=variant.env,
            cwd=variant.env.get("BENCH_CWD"),
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = rc = os.waitstatus_to_exitcode(status)
        if rc not in ALLOWED_EXIT.get(variant.command, {0}):
            err.seek(0)
            tail = err.read().decode(errors="replace")[-1500:]
            raise BenchError(f"{variant.install}: {variant.command} exited {rc}: {tail}")
    return wall, usage.ru_utime + usage.ru_stime


def interleaved(variants: list[Variant], runs: int, warmup: int) -> None:
    """Every variant once per round, the order rotating each round."""
    count = len(variants)
    for round_no in range(warmup + runs):
        for i in range(count):
            variant = variants[(round_no + i) % count]
            wall, cpu = run_once(variant)
            if round_no >= warmup:
                variant.timed.append(wall)
                variant.cpu.append(cpu)


# --- installs ---------------------------------------------------------------------------


def make_venv(path: Path, source: Path) -> Path:
    """A virtual environment at ``path`` with ``pip install SOURCE``; its bin folder."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(path / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    result = subprocess.run(
        [*pip, "install", str(source)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BenchError(
            f"pip install {source} failed (is the package registry reachable? or pass "
            f"--venv): {result.stderr.strip()[-800:]}"
        )
    return path / "bin"


def export_tree(ref: str, target: Path) -> Path:
    """The files of git commit ``ref`` of this repository, in ``target``."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", ref], capture_output=True, check=False
    )
    if archive.returncode != 0:
        raise BenchError(f"git archive {ref}: {archive.stderr.decode(errors='replace')[-300:]}")
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def source_copy(source: Path, target: Path) -> Path:
    """``source``'s mcpcred package without bytecode, for the no-bytecode variant."""
    shutil.copytree(
        source / "mcpcred", target / "mcpcred", ignore=shutil.ignore_patterns("__pycache__")
    )
    return target


# --- the user's files ---------------------------------------------------------------------


def prepare_home(env: dict[str, str], mcpcred: str) -> str:
    """A Cursor config with a plaintext token and a wrapped server; a project folder (cwd)."""
    import json

    home = Path(env["HOME"])
    (home / ".cursor").mkdir()
    config = {
        "mcpServers": {
            "github": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github"],
                "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": FAKE_TOKEN},
            },
            "wrapped": {
                "command": mcpcred,
                "args": ["shim", "--server", "wrapped", "--client", "cursor", "--", "node", "s.js"],
                "env": {"API_TOKEN": f"mcpcred:secret/{SECRET_NAME}"},
            },
        }
    }
    (home / ".cursor" / "mcp.json").write_text(json.dumps(config, indent=2))
    project = home / "project"
    project.mkdir()
    return str(project)


def keychain_env(stack: ExitStack, use: bool) -> tuple[dict[str, str], str]:
    """The Secret Service's variables with the wrapped server's secret stored, and a label."""
    if not use:
        return {}, "no keychain (--no-keychain)"
    from tests.support import keychain

    try:
        keychain.require_tools()
    except Exception as exc:
        return {}, f"no keychain ({exc})"
    found = stack.enter_context(keychain.real_secret_service())
    keychain.clear(found, SERVICE)
    keychain.store(found, SERVICE, SECRET_NAME, "bench-value-" + "x" * 20)
    return dict(found), "gnome-keyring on a private D-Bus session bus"


# --- the run ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed rounds (default 3)")
    parser.add_argument("--venv", type=Path, help="an existing venv with mcpcred installed")
    parser.add_argument(
        "--baseline",
        metavar="REF_OR_VENV",
        help="also time a git commit's install, or the mcpcred of an existing venv",
    )
    parser.add_argument("--editable", action="store_true", help="also time this interpreter's")
    parser.add_argument(
        "--no-bytecode", action="store_true", help="also time sources without .pyc files"
    )
    parser.add_argument("--no-keychain", action="store_true", help="no Secret Service")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    return report.run_broken_or("mcpcred-bench-cli-", lambda tmp: _run(args, tmp))


def _run(args: argparse.Namespace, tmp: Path) -> int:
    started = time.perf_counter()
    installs: dict[str, tuple[list[str], dict[str, str]]] = {}  # label -> (argv prefix, env)
    sources: dict[str, Path] = {"new": REPO}
    bins: dict[str, Path] = {}
    if args.venv:
        bins["new"] = args.venv / "bin"
        (sources["new"],) = args.venv.glob("lib/python*/site-packages")
    else:
        bins["new"] = make_venv(tmp / "venv-new", REPO)
    if args.baseline and (Path(args.baseline) / "bin" / "mcpcred").exists():
        bins["old"] = Path(args.baseline) / "bin"
        (sources["old"],) = Path(args.baseline).glob("lib/python*/site-packages")
    elif args.baseline:
        sources["old"] = export_tree(args.baseline, tmp / "src-old")
        bins["old"] = make_venv(tmp / "venv-old", sources["old"])
    with ExitStack() as stack:
        secret_service, store_label = keychain_env(stack, not args.no_keychain)
        base = report.isolated_env(tmp)
        base.update(secret_service)
        base["BENCH_CWD"] = prepare_home(base, str(bins["new"] / "mcpcred"))
        base["COLUMNS"] = "100"
        for tag, folder in bins.items():
            installs[f"installed ({tag})"] = ([str(folder / "mcpcred")], base)
        if args.editable:
            editable = Path(sys.executable).parent / "mcpcred"
            if not editable.exists():
                raise BenchError(f"no console script beside {sys.executable}")
            installs["editable"] = ([str(editable)], base)
        if args.no_bytecode:
            for tag, source in sources.items():
                copy = source_copy(source, tmp / f"nopyc-{tag}")
                env = {k: v for k, v in base.items() if k != "PYTHONPYCACHEPREFIX"}
                env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1")
                installs[f"no .pyc, -m ({tag})"] = ([sys.executable, "-m", "mcpcred"], env)
        bare = Variant("python", "python -c pass", [sys.executable, "-c", "pass"], base)
        variants = [bare]
        for label, (prefix, env) in installs.items():
            variants += [Variant(label, c, [*prefix, *a], env) for c, a in COMMANDS.items()]
        report.announce(
            "mcpcred CLI start-up benchmark",
            f"; {args.runs} rounds after {args.warmup} warm-up; store: {store_label}",
        )
        interleaved(variants, args.runs, args.warmup)
    print_results(variants, bare)
    targets = [
        (
            f"`mcpcred {command}` added median <= {limit:.0f} ms",
            added <= limit,
            f"{added:+.0f} ms",
        )
        for command, limit in TARGETS.items()
        for added in [_added(variants, bare, "installed (new)", command)]
    ]
    failed = report.print_targets(targets)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s")
    return 1 if failed and args.check else 0


def _added(variants: list[Variant], bare: Variant, install: str, command: str) -> float:
    (found,) = [v for v in variants if v.install == install and v.command == command]
    return found.median_ms - bare.median_ms


def print_results(variants: list[Variant], bare: Variant) -> None:
    print(f"\n== wall time from spawn to exit, {len(bare.timed)} runs each ==")
    rows = [["install", "command", "best ms", "median ms", "added ms", "CPU ms", "added CPU"]]
    for v in variants:
        added = "" if v is bare else f"{v.median_ms - bare.median_ms:+.0f}"
        added_cpu = "" if v is bare else f"{v.cpu_ms - bare.cpu_ms:+.0f}"
        rows.append(
            [
                v.install,
                v.command,
                f"{v.best_ms:.0f}",
                f"{v.median_ms:.0f}",
                added,
                f"{v.cpu_ms:.0f}",
                added_cpu,
            ]
        )
    print(table(rows, {2, 3, 4, 5, 6}))
    print(
        "  added: median minus the median of `python -c pass` in the same rounds; CPU: user +\n"
        "  system time of the process (wait4), which a busy machine inflates less than wall time\n"
    )


if __name__ == "__main__":
    raise SystemExit(main())
