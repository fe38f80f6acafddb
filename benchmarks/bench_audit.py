"""Benchmark ``mcpcred audit-config`` against detect-secrets on generated MCP configs.

In one run, this script:

1. builds three trees with ``corpus.py`` in a temporary directory: a labelled
   corpus (a few hundred files with known credentials and hard negatives), a
   ~100-file tree and a 5,000-file tree (1,000 with ``--quick``);
2. times ``python -m mcpcred audit-config . --format json --output FILE
   --fail-on high`` and ``detect-secrets scan --all-files --no-verify .`` on
   both timing trees (cwd = the tree): best and median wall time of N runs,
   peak RSS of the process (``wait4`` rusage, which includes any children it
   reaped), and the number of secret findings;
3. measures the import cost of the fast ``audit-config`` path
   (``python -X importtime -c "import mcpcred.cli.fast"``) and checks which
   heavy modules (typer, rich, click, pydantic) a real JSON run loads;
4. runs both tools on the labelled corpus and reports recall and precision,
   with the first false negatives and false positives (never a whole secret:
   a prefix and a length only);
5. prints PASS/FAIL against the targets. The exit code is 0 unless
   ``--strict`` is given and a target fails.

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
import time
from collections import Counter
from collections.abc import Iterable, Sequence
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

# Targets from the issue.
TARGET_SPEEDUP = 5.0  # detect-secrets wall / audit-config wall on the 5,000-file tree
TARGET_SMALL_WALL = 0.25  # seconds, audit-config on ~100 files
TARGET_RECALL = 0.98
TARGET_PRECISION = 0.99

CORPUS_FILES = 400
SMALL_FILES = 100
LARGE_FILES = 5000
QUICK_LARGE_FILES = 1000
KEEP_MARKER = ".mcpcred-bench"


# --- running and measuring ------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One measured process run."""

    wall: float  # seconds
    maxrss_kib: int
    rc: int


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


def run(cmd: Sequence[str], cwd: Path, stdout: Path | None = None) -> Sample:
    """Run ``cmd``; wall time from spawn to exit, peak RSS from the kernel's rusage."""
    env = dict(os.environ, NO_COLOR="1")
    with tempfile.TemporaryFile() as err, open(stdout or os.devnull, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, env=env)
        if hasattr(os, "wait4"):
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.perf_counter() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            maxrss = usage.ru_maxrss
        else:  # pragma: no cover - not POSIX: no rusage
            proc.wait()
            wall = time.perf_counter() - start
            maxrss = 0
        err.seek(0)
        stderr = err.read()
    if sys.platform == "darwin":
        maxrss //= 1024  # bytes there, KiB on Linux
    if proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{' '.join(cmd[:4])}... exited {proc.returncode}: {stderr.decode()[-2000:]}"
        )
    return Sample(wall, maxrss, proc.returncode)


def mcpcred_cmd(output: Path) -> list[str]:
    return [
        PYTHON,
        "-m",
        "mcpcred",
        "audit-config",
        ".",
        "--format",
        "json",
        "--output",
        str(output),
        "--fail-on",
        "high",
    ]


def detect_secrets_cmd() -> list[str]:
    return [str(DETECT_SECRETS), "scan", "--all-files", "--no-verify", "."]


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


def bench_mcpcred(tree: Path, name: str, files: int, runs: int, out_dir: Path) -> Measure:
    measure = Measure(name, "mcpcred audit-config", files)
    output = out_dir / f"mcpcred-{name}.json"
    run(mcpcred_cmd(output), tree)  # warm-up: bytecode, page cache
    for _ in range(runs):
        measure.samples.append(run(mcpcred_cmd(output), tree))
    report = mcpcred_report(output)
    measure.findings = len(secret_findings(report))
    summary = report["summary"]
    assert isinstance(summary, dict)
    if summary["files"] != files or summary["parse_errors"]:
        measure.note = f"scanned {summary['files']} files, {summary['parse_errors']} parse errors"
    return measure


def bench_detect_secrets(tree: Path, name: str, files: int, runs: int, out_dir: Path) -> Measure:
    measure = Measure(name, "detect-secrets", files)
    output = out_dir / f"detect-secrets-{name}.json"
    for _ in range(runs):
        measure.samples.append(run(detect_secrets_cmd(), tree, output))
    results = ds_results(output)
    measure.findings = sum(len(items) for items in results.values())
    measure.note = "peak RSS: largest process of its pool"
    return measure


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
    rows = [["tree", "tool", "files", "runs", "best s", "median s", "peak RSS MiB", "findings"]]
    rows += [
        [
            m.tree,
            m.tool,
            str(m.files),
            str(len(m.samples)),
            f"{m.best:.3f}",
            f"{m.median:.3f}",
            f"{m.peak_mib:.1f}",
            str(m.findings),
        ]
        for m in measures
    ]
    print(table(rows, {2, 3, 4, 5, 6, 7}))
    print("  findings: mcpcred's secret/* findings; detect-secrets' results")
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
    parser.add_argument("--quick", action="store_true", help="1,000-file large tree, fewer runs")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="build the trees in DIR, keep them"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--show", type=int, default=20, help="false negatives/positives to list")
    parser.add_argument(
        "--no-detect-secrets", action="store_true", help="skip detect-secrets (faster iteration)"
    )
    args = parser.parse_args(argv)

    use_ds = not args.no_detect_secrets
    if use_ds and not DETECT_SECRETS.exists():
        print("detect-secrets not found next to this Python; install the bench extra:")
        print("  pip install -e '.[bench]'   (or pass --no-detect-secrets)")
        return 2
    large_files = QUICK_LARGE_FILES if args.quick else LARGE_FILES
    runs_small, runs_large = (3, 1) if args.quick else (5, 3)
    ds_runs_small, ds_runs_large = (1, 1) if args.quick else (3, 3)

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
        return _bench(
            args,
            base,
            use_ds,
            large_files,
            (runs_small, runs_large),
            (ds_runs_small, ds_runs_large),
        )
    finally:
        if cleanup is not None:
            cleanup.cleanup()


def _bench(
    args: argparse.Namespace,
    base: Path,
    use_ds: bool,
    large_files: int,
    runs: tuple[int, int],
    ds_runs: tuple[int, int],
) -> int:
    out_dir = base / "out"
    out_dir.mkdir()
    started = time.perf_counter()
    trees: dict[str, tuple[Path, gen.Corpus]] = {}
    for name, count, seed in (
        ("corpus", CORPUS_FILES, args.seed),
        (f"tree-{SMALL_FILES}", SMALL_FILES, args.seed + 1),
        (f"tree-{large_files}", large_files, args.seed + 2),
    ):
        built = gen.build(count, seed)
        root = base / name
        built.write(root)
        trees[name] = (root, built)
    labelled = trees["corpus"][1]
    if args.keep:  # ground truth next to the trees (never inside one: both tools would scan it)
        document = labelled.labels_document()
        (base / "labels.json").write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    stats = labelled.stats()
    print(f"mcpcred benchmark  (python {sys.version.split()[0]}, {os.cpu_count()} CPUs)")
    print(
        f"built trees in {time.perf_counter() - started:.1f}s: labelled corpus "
        f"{stats['files']} files / {stats['secrets']} secrets / {stats['negatives']} hard "
        f"negatives; {SMALL_FILES}-file and {large_files}-file timing trees"
        + (f"  [kept in {base}]" if args.keep else "")
    )
    print()

    # -- speed and memory ------------------------------------------------------------------
    measures: list[Measure] = []
    small_name, large_name = f"tree-{SMALL_FILES}", f"tree-{large_files}"
    for (name, files), n_mcp, n_ds in (
        ((small_name, SMALL_FILES), runs[0], ds_runs[0]),
        ((large_name, large_files), runs[1], ds_runs[1]),
    ):
        root = trees[name][0]
        measures.append(bench_mcpcred(root, name, files, n_mcp, out_dir))
        if use_ds:
            measures.append(bench_detect_secrets(root, name, files, n_ds, out_dir))
    print("== speed and memory ==")
    print_timings(measures)
    print()

    # -- import cost -------------------------------------------------------------------------
    cost = import_cost(trees[small_name][0], out_dir)
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
    by_key = {(m.tree, m.tool): m for m in measures}
    small = by_key[(small_name, "mcpcred audit-config")]
    large = by_key[(large_name, "mcpcred audit-config")]
    results: list[tuple[str, bool | None, str]] = []
    if use_ds:
        ds_small = by_key[(small_name, "detect-secrets")]
        ds_large = by_key[(large_name, "detect-secrets")]
        ratio = ds_large.median / large.median
        results.append(
            (
                f"speedup vs detect-secrets, {large_files} files (median) >= {TARGET_SPEEDUP:.0f}x",
                ratio >= TARGET_SPEEDUP if large_files == LARGE_FILES else None,
                f"{ratio:.1f}x  (best {ds_large.best / large.best:.1f}x; "
                f"{SMALL_FILES} files: {ds_small.median / small.median:.1f}x)",
            )
        )
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
    print("== targets ==")
    failed = False
    for label, ok, value in results:
        status = "n/a " if ok is None else verdict(ok)
        failed = failed or ok is False
        print(f"  {status}  {label}: {value}")
    if large_files != LARGE_FILES:
        print(f"  (--quick: the speed target applies to the {LARGE_FILES}-file tree only)")
    print(f"total benchmark time {time.perf_counter() - (started):.0f} s")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
