"""The one implementation of ``audit-config`` behind both of its front ends.

The typer command (``audit_cmd``) and the stdlib-only fast path (``fast``)
each turn their arguments into ``AuditOptions`` and call ``run``. Nothing here
imports typer; rich is imported only by the text renderer, and only when the
text format is asked for.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mcpcred import project_config
from mcpcred.audit import formats
from mcpcred.audit.formats import FORMATS
from mcpcred.audit.scan import Plan, ScanContext, plan, scan_iter
from mcpcred.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from mcpcred.fsutil import atomic_write, atomic_writer
from mcpcred.host import Host
from mcpcred.models import Finding, Severity

if TYPE_CHECKING:  # imported when --baseline or --write-baseline is given
    from mcpcred.audit.baseline import Baseline

SEVERITIES = ("low", "medium", "high")


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """Everything ``audit-config`` accepts, already parsed."""

    paths: list[str] = field(default_factory=list)
    format: str = "text"
    output: str | None = None
    fail_on: str | None = None
    baseline: str | None = None
    write_baseline: str | None = None
    ignore_parse_errors: bool = False
    config: str | None = None
    pretty: bool = False


def _color(output: str | None) -> bool:
    """ANSI colour for text: on a terminal only; ``NO_COLOR`` wins, ``FORCE_COLOR`` forces."""
    if output is not None or os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    return sys.stdout.isatty()


def _check_writable(option: str, path: str) -> None:
    """Refuse an output path whose folder is missing before scanning, not after.

    Like gitleaks' ``--report-path``, mcpcred does not create folders: a typo in a CI
    step should fail that step with one line, not leave a report somewhere unexpected.
    """
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{option}: no such folder: {folder}", hint="create it first")
    if os.path.isdir(path):
        raise UsageError(f"{option}: {path} is a folder; name a file")


def _write(path: str, text: str) -> None:
    """Write a baseline; a failure is one line (exit 2), not a traceback."""
    try:
        if _special(path):  # never rename over a device node or a FIFO
            with open(path, "w", encoding="utf-8", newline="") as handle:
                handle.write(text)
            return
        atomic_write(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None


@contextmanager
def _destination(path: str | None) -> Iterator[Callable[[str], object]]:
    """Where the report streams: stdout, or a temp file renamed over ``path`` at the end.

    The file is created 0600 in the target's folder, so a scan that fails half
    way leaves the previous report (or none), never half of a new one.
    """
    if path is None:
        yield sys.stdout.write
        sys.stdout.flush()
        return
    if _special(path):
        # /dev/null, /dev/stdout, a FIFO: written in place. Renaming a temp file
        # over it would replace the device node with a regular file (as root,
        # /dev/null for the whole machine).
        try:
            with open(path, "w", encoding="utf-8", newline="") as handle:
                yield handle.write
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"cannot write {path}: {reason}") from None
        return
    try:
        with atomic_writer(path) as handle:
            yield handle.write
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or type(exc).__name__}") from None


def _special(path: str) -> bool:
    """Whether ``path`` exists and is not a regular file (a device, a FIFO, a socket)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def _threshold(options: AuditOptions, settings: project_config.AuditSettings) -> Severity:
    if options.fail_on is not None:
        return Severity.parse(options.fail_on)
    return settings.fail_on or Severity.LOW


def _write_baseline(
    options: AuditOptions,
    planned: Plan,
    host: Host,
    settings: project_config.AuditSettings,
    accepted: Baseline | None,
    ignore_errors: bool,
) -> int:
    """``--write-baseline``: every current finding (before suppression) into the file."""
    assert options.write_baseline is not None  # noqa: S101 - checked by the caller
    context = ScanContext(host, settings, None, keep_all=True, keep_findings=False)
    keep: list[Finding] = []
    parse_errors = 0
    for outcome in scan_iter(planned.jobs, context):
        parse_errors += outcome.parse_errors
        keep.extend(f for f in outcome.everything or () if f.rule != "error/parse")
    from mcpcred.audit import baseline as baselines

    fresh = accepted or baselines.Baseline.new()
    _write(options.write_baseline, baselines.render(keep, fresh))
    sys.stderr.write(f"wrote {len(keep)} finding(s) to baseline {options.write_baseline}\n")
    return EXIT_USAGE if parse_errors and not ignore_errors else EXIT_OK


def _wants_bar(options: AuditOptions) -> bool:
    """Whether a progress bar may be drawn: stderr is a terminal the report is not drawn on.

    Where the report is drawn on the terminal, the findings stream in as they are
    found (the progress a person needs), and a bar redrawn between them would tear
    the lines. Nothing for a pipe or CI.
    """
    from mcpcred import terminal

    if options.output is None and terminal.is_terminal(sys.stdout):
        return False
    return terminal.is_terminal(sys.stderr)


def _progress(planned: Plan, bar: bool) -> AbstractContextManager[Callable[[int], None]]:
    """A bar on the terminal's stderr for a large scan whose report goes elsewhere
    (none for pre-commit's few files: ``scan_progress``)."""
    from mcpcred import terminal

    if not bar or not isinstance(planned.jobs, list):
        return terminal.quiet()
    return terminal.scan_progress(len(planned.jobs))


def run(options: AuditOptions, host: Host | None = None) -> int:
    """Scan and stream the report; return the exit code (0, 1 or 2).

    Files are written in plan order (sorted display paths) as soon as each one
    and every one before it is scanned, whatever the number of workers.
    """
    host = host or Host.current()
    if options.format not in FORMATS:
        raise UsageError(f"unknown format {options.format!r}; choose {', '.join(FORMATS)}")
    if options.fail_on is not None and options.fail_on not in SEVERITIES:
        raise UsageError(f"unknown severity {options.fail_on!r}; choose low, medium or high")
    if options.config is not None and not os.path.isfile(options.config):
        raise UsageError(f"no such file: {options.config}")
    if options.baseline and options.write_baseline:
        same = os.path.abspath(options.baseline) == os.path.abspath(options.write_baseline)
        if not same:
            raise UsageError("--baseline and --write-baseline name different files")
    for option, target in (
        ("--output", options.output),
        ("--write-baseline", options.write_baseline),
    ):
        if target is not None:
            _check_writable(option, target)
    settings = project_config.load(options.config or project_config.find(host.cwd))
    accepted = None
    if options.baseline is not None and not (
        options.write_baseline and not os.path.exists(options.baseline)
    ):
        from mcpcred.audit import baseline as baselines

        accepted = baselines.load(options.baseline)
    # A bar needs the number of files first; anywhere else (CI, a pipe, the report
    # on the terminal) the plan streams, and memory stays flat however many files.
    bar = _wants_bar(options)
    planned = plan(options.paths, host, stream=not bar and options.write_baseline is None)
    ignore_errors = options.ignore_parse_errors or settings.ignore_parse_errors
    if options.write_baseline is not None:
        return _write_baseline(options, planned, host, settings, accepted, ignore_errors)

    renderer = formats.renderer(
        options.format, host.cwd, color=_color(options.output), pretty=options.pretty
    )
    context = ScanContext(host, settings, accepted, renderer=renderer, keep_findings=False)
    totals = formats.Totals(skipped=planned.skipped)  # complete when the scan is
    with _destination(options.output) as write, _progress(planned, bar) as advance:
        write(renderer.head())
        first = True
        for outcome in scan_iter(planned.jobs, context):
            advance(1)
            totals.add(outcome)
            if outcome.scanned is not None:
                renderer.seen(outcome.scanned)
            if outcome.rendered:
                if first:
                    outcome.rendered = outcome.rendered.removeprefix(renderer.separator)
                    first = False
                write(outcome.rendered)
        for piece in renderer.tail(totals):
            write(piece)

    if totals.parse_errors and not ignore_errors:
        return EXIT_USAGE
    threshold = _threshold(options, settings)
    return EXIT_FINDINGS if totals.worst is not None and totals.worst >= threshold else EXIT_OK
