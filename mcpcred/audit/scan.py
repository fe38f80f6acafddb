"""The ``audit-config`` use case: which files, read how, and what is reported.

It never executes anything from a config and never touches the network: files
are read, parsed into span trees and checked by ``rules``: every block of
servers in a file, not only the one its client reads, and every value a
duplicate key hides. A file that cannot be parsed becomes an ``error/parse``
finding and the scan goes on with the others. Folders the directory walk
skips are reported with the reason. Suppression (``mcpcred.toml`` ignores, a
baseline) is applied last, so renderers only see what the user should act on.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from operator import attrgetter
from typing import TYPE_CHECKING, Protocol

from mcpcred import discovery
from mcpcred.audit import tokenfiles
from mcpcred.audit.rules import RULES, WEAK_DEFAULT, Auditor
from mcpcred.clients import BY_ID
from mcpcred.clients.base import find_containers
from mcpcred.discovery import Candidate, Skipped
from mcpcred.errors import ParseError, UsageError
from mcpcred.host import Host
from mcpcred.models import Finding, Pointer, ServerEntry, Severity
from mcpcred.parsing.files import Shown, display_path, parse, read_text_and_mode
from mcpcred.parsing.nodes import Document, KeyNode, ObjectNode, shadowed_members
from mcpcred.project_config import AuditSettings

if TYPE_CHECKING:  # a baseline's module (hmac) is imported only when one is used
    from mcpcred.audit.baseline import Baseline


@dataclass(slots=True)
class ScannedFile:
    """One config file as scanned."""

    path: str
    display_path: str
    client: str
    scope: str
    servers: int = 0
    error: str | None = None

    def __reduce__(self) -> tuple[type[ScannedFile], tuple[object, ...]]:
        # Pickled as its fields (it travels back from a worker with every file): the
        # dataclass default goes through fields() and a setattr per field.
        return ScannedFile, (
            self.path,
            self.display_path,
            self.client,
            self.scope,
            self.servers,
            self.error,
        )


@dataclass(slots=True)
class AuditReport:
    """What a scan found, after suppression."""

    files: list[ScannedFile]
    findings: list[Finding]
    suppressed: int = 0
    # Everything found before suppression, for --write-baseline.
    all_findings: list[Finding] = field(default_factory=list)
    # Folders the directory walk did not enter, with the reason (paths as shown).
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def parse_errors(self) -> list[Finding]:
        """The ``error/parse`` findings."""
        return [f for f in self.findings if f.rule == "error/parse"]


def collect(
    paths: list[str], host: Host, skipped: list[Skipped] | None = None
) -> list[tuple[str, Candidate | None]]:
    """Files to scan, each with its adapter when the location already tells it.

    Folders the walk does not enter are appended to ``skipped``.
    """
    return list(_found(paths, host, skipped))


def _found(
    paths: list[str], host: Host, skipped: list[Skipped] | None
) -> Iterator[tuple[str, Candidate | None]]:
    """``collect``, one file at a time, in walk order (sorted, within one folder argument)."""
    # The same file reached twice (a symlink, overlapping arguments) is one file;
    # its device and inode say so in one stat, where realpath costs an lstat per
    # path component (a third of planning 50,000 files). One int per file, not a
    # tuple: this set is what a streamed plan still holds for every file.
    seen: set[object] = set()

    def new(path: str) -> bool:
        try:
            status = os.stat(path)
            key: object = (status.st_dev << 64) | status.st_ino
        except OSError:
            key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            return False
        seen.add(key)
        return True

    if not paths:
        for candidate in discovery.machine_candidates(host):
            if new(candidate.location.path):
                yield candidate.location.path, candidate
        yield from ((p, None) for p in discovery.walk(host.cwd, skipped) if new(p))
        return
    for path in paths:
        if not (os.path.isdir(path) or os.path.isfile(path)):
            raise UsageError(f"no such file or directory: {path}")
    for path in paths:
        if os.path.isdir(path):
            yield from ((p, None) for p in discovery.walk(path, skipped) if new(p))
        elif new(path):
            yield path, None


# Below this many files a worker pool costs more than it saves: forking the
# workers and importing concurrent.futures cost about as much as scanning this
# many files in the parent (measured with benchmarks/bench_audit.py --crossover).
PARALLEL_THRESHOLD = 200
# Files per task sent to a worker, and tasks in flight per worker: together they
# bound how many scanned-but-not-yet-written files wait in the parent (256 per
# worker). Each task costs the parent's executor threads a wake-up, a pickle and a
# pipe read whatever its size: 64 files a task took a tenth of the parent's CPU off
# a 5,000-file scan against 32.
BATCH_FILES = 64
IN_FLIGHT_PER_WORKER = 4


@dataclass(frozen=True, slots=True)
class Job:
    """One file to scan, as the plan lists it."""

    path: str
    shown: str  # display path: the sort key of the report and every finding's path
    candidate: Candidate | None
    named: bool  # given explicitly on the command line
    token_file: bool = False  # another tool's token store (machine scan only)

    def __reduce__(self) -> tuple[type[Job], tuple[object, ...]]:
        # Sent to a worker for every file: as its fields, see ``ScannedFile.__reduce__``.
        return Job, (self.path, self.shown, self.candidate, self.named, self.token_file)


@dataclass(frozen=True, slots=True)
class Plan:
    """Every file a scan reads, in report order, and the folders the walk skipped."""

    jobs: list[Job] | Iterator[Job]  # an iterator when streamed (``plan(stream=True)``)
    skipped: list[Skipped]  # complete once ``jobs`` has been read to its end


def plan(paths: list[str], host: Host, *, stream: bool = False) -> Plan:
    """What ``scan`` will read, sorted by display path so that output order never
    depends on the walk or on which worker finishes first.

    Only paths are held here (a few hundred bytes per file), never contents. With
    ``stream``, a single folder argument is not held at all: its walk already
    yields files in sorted order, so ``jobs`` is an iterator over the walk and
    memory does not grow with the number of files (50,000 paths and their jobs
    were most of what a large scan's parent held, and every forked worker with it).
    """
    explicit = {os.path.abspath(p) for p in paths if os.path.isfile(p)}
    skipped: list[Skipped] = []
    folders: list[Skipped] = []
    shown = Shown(host)
    found = (
        Job(path, shown(path), candidate, bool(explicit) and os.path.abspath(path) in explicit)
        for path, candidate in _found(paths, host, skipped)
    )
    if stream and _walks_in_report_order(paths, shown):

        def streamed() -> Iterator[Job]:
            yield from found
            folders.extend(Skipped(shown(item.path), item.reason) for item in skipped)

        return Plan(streamed(), folders)
    jobs = list(found)
    if not paths:  # the machine: other tools' token files too
        jobs.extend(
            Job(token_file, shown(token_file), None, True, token_file=True)
            for token_file in tokenfiles.token_files(host)
        )
    jobs.sort(key=lambda job: job.shown)
    folders.extend(Skipped(shown(item.path), item.reason) for item in skipped)
    return Plan(jobs, folders)


def _walks_in_report_order(paths: list[str], shown: Shown) -> bool:
    """Whether the walk of ``paths`` yields files in sorted order of their display paths.

    True for one folder whose files all display under one prefix: the folder is
    the working folder or inside it (``x/y``), or neither the working folder nor
    home lies inside it (``~/x/y``, ``/abs/x/y``). A folder above the working
    folder shows some files relative and others absolute, which sort differently
    from the walk; those scans (and several arguments, and the machine scan) are
    planned whole and sorted.
    """
    if len(paths) != 1 or not os.path.isdir(paths[0]):
        return False
    root = os.path.normpath(os.path.join(shown.process_cwd, paths[0]))
    if root == shown.cwd or root.startswith(shown.cwd_prefix):
        return True
    inside = root.rstrip(os.sep) + os.sep
    if shown.cwd_prefix.startswith(inside):
        return False
    return root == shown.home or not shown.home_prefix.startswith(inside)


@dataclass(slots=True)
class FileOutcome:
    """What scanning one file produced, as a worker hands it back to the writer.

    The counts are what the writer's totals and the exit code need; the findings
    themselves travel back only when the caller keeps them (a streamed report
    has them rendered already, in ``rendered``).
    """

    scanned: ScannedFile | None  # None: not an MCP config after all, nothing to report
    findings: list[Finding]  # after suppression, in report order (when kept)
    suppressed: int = 0
    everything: list[Finding] | None = None  # before suppression, when asked for
    rendered: str = ""  # the findings in the output format, when a renderer was given
    count: int = 0  # findings after suppression
    parse_errors: int = 0
    severities: tuple[int, int, int] = (0, 0, 0)  # low, medium, high (parse errors included)
    worst: Severity | None = None  # the highest severity that is not a parse error

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        # Every file's outcome crosses from a worker to the writer: as its fields, and
        # the severity as its number (unpickling an enum member calls the enum class).
        return _outcome, (
            self.scanned,
            self.findings,
            self.suppressed,
            self.everything,
            self.rendered,
            self.count,
            self.parse_errors,
            self.severities,
            None if self.worst is None else int(self.worst),
        )


_SEVERITY_OF = {int(severity): severity for severity in Severity}


def _outcome(
    scanned: ScannedFile | None,
    findings: list[Finding],
    suppressed: int,
    everything: list[Finding] | None,
    rendered: str,
    count: int,
    parse_errors: int,
    severities: tuple[int, int, int],
    worst: int | None,
) -> FileOutcome:
    """A ``FileOutcome`` from what its ``__reduce__`` gave."""
    return FileOutcome(
        scanned,
        findings,
        suppressed,
        everything,
        rendered,
        count,
        parse_errors,
        severities,
        None if worst is None else _SEVERITY_OF[worst],
    )


def outcome_from(scanned: ScannedFile | None, kept: list[Finding]) -> FileOutcome:
    """An outcome with its counts computed from ``kept``."""
    severities = [0, 0, 0]
    worst: Severity | None = None
    parse_errors = 0
    for finding in kept:
        severities[finding.severity - 1] += 1
        if finding.rule == "error/parse":
            parse_errors += 1
        elif worst is None or finding.severity > worst:
            worst = finding.severity
    low, medium, high = severities
    return FileOutcome(
        scanned,
        kept,
        count=len(kept),
        parse_errors=parse_errors,
        severities=(low, medium, high),
        worst=worst,
    )


class ChunkRenderer(Protocol):
    """Turns one file's findings into output text; runs in the worker that scanned it."""

    def chunk(self, scanned: ScannedFile, findings: list[Finding]) -> str:
        """The file's part of the report ('' for nothing)."""
        ...


@dataclass(frozen=True, slots=True)
class ScanContext:
    """Everything a worker needs besides the file: plain data, so it survives a fork or pickle."""

    host: Host
    settings: AuditSettings
    baseline: Baseline | None = None
    keep_all: bool = False  # also return the findings before suppression
    keep_findings: bool = True  # return the findings (False: only counts and rendered text)
    renderer: ChunkRenderer | None = None


# A file's findings in report order: (line, column, rule), the tuple built in C.
_finding_key = attrgetter("line", "column", "rule")


def outcome_for(job: Job, context: ScanContext, auditor: Auditor) -> FileOutcome:
    """Scan one planned file, suppress, and render it: the unit of work of a worker."""
    host = context.host
    if job.token_file:
        found = tokenfiles.findings_for(job.path, job.shown)
        scanned = ScannedFile(job.path, job.shown, "mcp-remote", "user") if found else None
    else:
        scanned, found = scan_file(job.path, job.candidate, host, job.named, auditor, job.shown)
    found.sort(key=_finding_key)
    kept = found
    settings, baseline = context.settings, context.baseline
    if found and (settings.ignores or baseline is not None):
        relative = settings.relative(_absolute(job.shown, host)) if settings.ignores else None
        kept = [
            f
            for f in found
            if not any(rule.matches(f, relative) for rule in settings.ignores)
            and not (baseline is not None and baseline.contains(f))
        ]
    outcome = outcome_from(scanned, kept)
    outcome.suppressed = len(found) - len(kept)
    if context.keep_all:
        outcome.everything = found
    if context.renderer is not None and scanned is not None:
        outcome.rendered = context.renderer.chunk(scanned, kept)
    if not context.keep_findings:
        outcome.findings = []
    return outcome


def scan_iter(
    jobs: Iterable[Job], context: ScanContext, workers: int | None = None
) -> Iterator[FileOutcome]:
    """Outcomes of ``jobs`` in their order, as soon as each is ready.

    Files are independent, so a large scan (a monorepo, a CI checkout) spreads
    them over the CPU cores; a worker returns a batch of finished files (rendered
    already, when the context has a renderer) and the caller writes them in plan
    order. At most ``IN_FLIGHT_PER_WORKER`` batches per worker are outstanding, so
    memory depends on the batch size and the largest file, not on the file count.

    ``jobs`` may be an iterator (a streamed plan): only the first eight batches per
    worker (about a thousand paths) are read before the workers start, so they are
    forked with almost nothing to copy, and the rest are read as batches are handed out.
    """
    workers = usable_cpus() if workers is None else workers
    remaining = iter(jobs)
    # Enough to choose serial or parallel, and a batch size that spreads a
    # smaller scan evenly: 8 batches per worker.
    ahead = list(islice(remaining, max(PARALLEL_THRESHOLD, workers * 8 * BATCH_FILES)))
    if len(ahead) < PARALLEL_THRESHOLD or workers < 2:
        auditor = Auditor(context.host)
        for job in chain(ahead, remaining):
            yield outcome_for(job, context, auditor)
        return
    size = max(1, min(BATCH_FILES, len(ahead) // (workers * 8)))
    yield from _scan_parallel(chain(ahead, remaining), size, context, workers)


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


def scan(
    paths: list[str],
    host: Host,
    settings: AuditSettings | None = None,
    baseline: Baseline | None = None,
) -> AuditReport:
    """Scan the given paths (none: the whole machine and the working directory) into
    one report held in memory; the CLI streams with ``plan`` and ``scan_iter`` instead.
    """
    planned = plan(paths, host)
    context = ScanContext(host, settings or AuditSettings(), baseline, keep_all=True)
    files: list[ScannedFile] = []
    kept: list[Finding] = []
    everything: list[Finding] = []
    suppressed = 0
    for outcome in scan_iter(planned.jobs, context):
        if outcome.scanned is not None:
            files.append(outcome.scanned)
        kept.extend(outcome.findings)
        everything.extend(outcome.everything or ())
        suppressed += outcome.suppressed
    return AuditReport(files, kept, suppressed, everything, planned.skipped)


FileResult = tuple[ScannedFile | None, list[Finding]]


def scan_file(
    path: str,
    candidate: Candidate | None,
    host: Host,
    named: bool,
    auditor: Auditor,
    shown: str | None = None,
) -> FileResult:
    """Read, parse and audit one file; ``named`` when the user gave it explicitly."""
    shown = display_path(path, host) if shown is None else shown
    try:
        text, st_mode = read_text_and_mode(path)
    except ParseError as exc:
        return ScannedFile(path, shown, "unknown", "unknown", error=exc.reason), [
            _parse_finding(exc, shown)
        ]
    except OSError as exc:
        error = ParseError(f"cannot read file: {exc.strerror}")
        return ScannedFile(path, shown, "unknown", "unknown", error="unreadable"), [
            _parse_finding(error, shown)
        ]
    if candidate is None and not named and not discovery.worth_reading(path, text):
        return None, []
    try:
        document = parse(path, text)
    except ParseError as exc:
        client = candidate.adapter.id if candidate else discovery.infer(path, host).adapter.id
        scanned = ScannedFile(path, shown, client, "unknown", error=exc.reason)
        return scanned, [_parse_finding(exc, shown, client)]
    if candidate is None:
        keys = frozenset(name for name, _ in document.root.items())
        candidate = discovery.infer(path, host, keys)
    servers = candidate.adapter.servers(document, candidate.location)
    scope = candidate.location.scope
    found: list[Finding] = []
    for entry in servers:
        found.extend(auditor.entry_findings(entry, shown))
    others = other_blocks(document, candidate, servers)
    for block, entry in others:
        note = (
            f" (in '{block}', which {candidate.adapter.display_name} does not read; "
            "it is in the file all the same)"
        )
        fix = (
            f"Rotate it, then delete the block '{block}' if nothing reads it, or reference the "
            "value; `mcpcred wrap` edits only the block "
            f"{candidate.adapter.display_name} reads"
        )
        found.extend(
            replace(
                f,
                message=f.message + note,
                fix=fix if f.fix and "mcpcred wrap" in f.fix else f.fix,
            )
            for f in auditor.entry_findings(entry, shown)
        )
    servers = servers + [entry for _, entry in others]
    found.extend(candidate.adapter.setting_findings(document, auditor, shown))
    if document.duplicates:
        found.extend(_hidden_findings(document, candidate, servers, auditor, shown))
    has_secrets = any(f.rule.startswith("secret/") and f.rule != WEAK_DEFAULT for f in found)
    if servers:
        found.extend(auditor.strict_json_findings(document, candidate.adapter, scope, shown))
    mode = stat.S_IMODE(st_mode) if os.name == "posix" else None  # as read, no second stat
    found.extend(auditor.file_findings(path, shown, scope, has_secrets, mode))
    return ScannedFile(path, shown, candidate.adapter.id, scope, len(servers)), found


# Every block that holds MCP servers in some client's file, and the adapter that
# knows its entries' shape. A file is scanned for all of them, not only for the
# one its client reads: a `.vscode/mcp.json` that also carries an `mcpServers`
# block (for another client, or left over) is committed with its secrets all the same.
_BLOCKS: tuple[tuple[Pointer, str], ...] = (
    (("mcpServers",), "generic"),
    (("servers",), "vscode"),
    (("mcp", "servers"), "vscode"),
    (("mcp.servers",), "vscode"),
    (("customizations", "vscode", "mcp", "servers"), "vscode"),
    (("context_servers",), "zed"),
    (("mcp_servers",), "codex"),
    (("mcp",), "generic"),
    (("amp.mcpServers",), "generic"),
    (("projects", "*", "mcpServers"), "claude-code"),
)
# Keys a server entry has; a block member without any of them is not a server.
_SERVER_KEYS = frozenset(
    {"command", "args", "url", "serverUrl", "httpUrl", "type", "env", "environment", "headers"}
)


def other_blocks(
    document: Document, candidate: Candidate, known: list[ServerEntry]
) -> list[tuple[str, ServerEntry]]:
    """Server entries in blocks the file's client does not read, with the block's name."""
    covered = {id(entry.node) for entry in known}
    read = set(candidate.adapter.containers_for(candidate.location))
    out: list[tuple[str, ServerEntry]] = []
    for pointer, client in _BLOCKS:
        if pointer in read or pointer[0] not in document.root:
            continue
        adapter = BY_ID[client]
        for container, where in find_containers(document.root, (pointer,)):
            if pointer == ("mcp",) and "servers" in container:
                continue  # VS Code's settings shape, read as ("mcp", "servers")
            for key, node in container.members:
                if id(node) in covered or not isinstance(node, ObjectNode):
                    continue
                if not _SERVER_KEYS.intersection(name for name, _ in node.items()):
                    continue
                covered.add(id(node))
                entry = adapter.entry(document, candidate.location, key, node, (*where, key.name))
                out.append((".".join(str(p) for p in where), entry))
    return out


_HIDDEN_NOTE = (
    " (hidden by a later duplicate key: the client reads only the last value, "
    "but the file still holds this one)"
)


def _hidden_findings(
    document: Document,
    candidate: Candidate,
    entries: list[ServerEntry],
    auditor: Auditor,
    shown: str,
) -> list[Finding]:
    """``hygiene/duplicate-key`` for every repeated key, and what the hidden values hold.

    A hidden value inside a server entry is checked for secrets where the client
    would read it; a hidden server entry (a server name given twice) or a hidden
    block (``mcpServers`` twice) gets every rule, like a live one. Their findings'
    pointers end with ``#hiddenN`` (the Nth hidden occurrence of that key) so that
    fingerprints tell them from the live value's.
    """
    rule = RULES["hygiene/duplicate-key"]
    out: list[Finding] = []
    ordinals: dict[Pointer, int] = {}
    for pointer, key, value in shadowed_members(document.root):
        ordinals[pointer] = ordinals.get(pointer, 0) + 1
        marker = f"#hidden{ordinals[pointer]}"
        owner = max(
            (e for e in entries if pointer[: len(e.pointer)] == e.pointer),
            key=lambda e: len(e.pointer),
            default=None,
        )
        line, column = document.source.position(key.start)
        out.append(
            Finding(
                rule=rule.id,
                severity=rule.severity,
                path=shown,
                line=line,
                column=column,
                message=f"Key '{key.name}' appears more than once"
                + (f" in server '{owner.name}'" if owner else "")
                + ": the client reads only the last value, this earlier one is hidden",
                client=owner.client if owner else candidate.adapter.id,
                server=owner.name if owner else None,
                fix=rule.fix,
                evidence=key.name,
                pointer=(*pointer, marker),
            )
        )
        hidden: list[Finding] = []
        if owner is not None and pointer == owner.pointer and isinstance(value, ObjectNode):
            adapter = BY_ID.get(owner.client) or BY_ID["generic"]
            entry = adapter.entry(document, owner.location, key, value, pointer)
            hidden = auditor.entry_findings(entry, shown)
        elif owner is not None:
            hidden = auditor.hidden_secret_findings(owner, pointer, key, value, shown)
        elif isinstance(value, ObjectNode):
            hidden = _hidden_blocks(document, candidate, pointer, key, value, auditor, shown)
        out.extend(
            replace(f, message=f.message + _HIDDEN_NOTE, pointer=(*f.pointer, marker))
            for f in hidden
        )
    return out


def _hidden_blocks(
    document: Document,
    candidate: Candidate,
    pointer: Pointer,
    key: KeyNode,
    value: ObjectNode,
    auditor: Auditor,
    shown: str,
) -> list[Finding]:
    """Findings for the server entries inside a hidden value above the entry level."""
    blocks: list[tuple[ObjectNode, Pointer, str]] = []
    for block, client in _BLOCKS:
        if block[-1] == key.name and pointer[-len(block) :] == block:
            blocks.append((value, pointer, client))
        for container, where in find_containers(value, (block,)):
            blocks.append((container, (*pointer, *where), client))
    found: list[Finding] = []
    seen: set[int] = set()
    for container, where, client in blocks:
        adapter = candidate.adapter if client == "generic" else BY_ID[client]
        for member_key, node in container.members:
            if id(node) in seen or not isinstance(node, ObjectNode):
                continue
            if not _SERVER_KEYS.intersection(name for name, _ in node.items()):
                continue
            seen.add(id(node))
            entry = adapter.entry(
                document, candidate.location, member_key, node, (*where, member_key.name)
            )
            found.extend(auditor.entry_findings(entry, shown))
    return found


_WORKER: tuple[ScanContext, Auditor] | None = None


def _init_worker(context: ScanContext) -> None:
    global _WORKER
    _WORKER = (context, Auditor(context.host))


def _scan_batch(batch: list[Job]) -> list[FileOutcome]:
    assert _WORKER is not None  # noqa: S101 - set by the pool initializer
    context, auditor = _WORKER
    return [outcome_for(job, context, auditor) for job in batch]


def _scan_parallel(
    jobs: Iterator[Job], size: int, context: ScanContext, workers: int
) -> Iterator[FileOutcome]:
    """Batches on a process pool, a bounded window of them in flight, results in order."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    mp_context = multiprocessing.get_context(method)
    batches = iter(lambda: list(islice(jobs, size)), [])
    with ProcessPoolExecutor(
        workers, mp_context=mp_context, initializer=_init_worker, initargs=(context,)
    ) as pool:
        pending: deque[Future[list[FileOutcome]]] = deque()
        for batch in batches:
            pending.append(pool.submit(_scan_batch, batch))
            if len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                break
        try:
            while pending:
                done = pending.popleft().result()
                for batch in batches:
                    pending.append(pool.submit(_scan_batch, batch))
                    break
                yield from done
        except BaseException:  # ^C, a failed write, the caller closing us: scan no further
            for future in pending:
                future.cancel()
            raise


def _absolute(shown: str, host: Host) -> str:
    if shown.startswith("~" + os.sep):
        return os.path.join(host.home, shown[2:])
    return os.path.join(host.cwd, shown)


def _parse_finding(exc: ParseError, shown: str, client: str | None = None) -> Finding:
    rule = RULES["error/parse"]
    return Finding(
        rule=rule.id,
        severity=rule.severity,
        path=shown,
        line=exc.line,
        column=exc.column,
        message=f"Cannot parse: {exc.reason}",
        client=client,
        fix=rule.fix,
    )
