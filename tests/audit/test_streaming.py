"""``audit-config`` streams its report: order, formats and memory.

The report is written file by file as the scan goes, in sorted display-path
order whatever the number of workers; SARIF is compact unless ``--pretty``;
``--format jsonl`` is one object per line; and the writing process does not hold
what it has written, so its memory does not grow with the number of files.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred import discovery
from mcpcred.audit import scan as scan_module
from mcpcred.cli import audit_run
from mcpcred.host import Host
from mcpcred.project_config import AuditSettings
from tests.support import sarif, tokengen


def _tree(root: Path, count: int, seed: int = 5) -> list[str]:
    """``count`` project configs with a secret each (one unparseable), created in random order."""
    rng = random.Random(seed)
    names = [f"repo{index:04d}" for index in range(count)]
    rng.shuffle(names)  # creation order differs from the report's order
    for name in names:
        folder = root / name / rng.choice(["", ".cursor", ".vscode"])
        folder.mkdir(parents=True, exist_ok=True)
        token = tokengen.generate("github-pat", rng)
        servers = {
            "gh": {
                "command": "npx",
                "args": ["-y", "@modelcontextprotocol/server-github"],
                "env": {"GITHUB_PERSONAL_ACCESS_TOKEN": token, "NAME": f"\u202e{name}"},
            }
        }
        key = "servers" if folder.name == ".vscode" else "mcpServers"
        (folder / "mcp.json" if folder.name else folder / ".mcp.json").write_text(
            json.dumps({key: servers})
        )
    (root / names[0] / "zz").mkdir()
    (root / names[0] / "zz" / ".mcp.json").write_text("{broken")
    return sorted(names)


def _run(fmt: str, *extra: str, paths: tuple[str, ...] = (".",)) -> tuple[int, str]:
    """``audit-config`` in this process with stdout captured as the CLI writes it."""
    options = audit_run.AuditOptions(
        paths=list(paths),
        format=fmt,
        pretty="--pretty" in extra,
        ignore_parse_errors=True,
    )
    buffer = io.StringIO()
    saved, sys.stdout = sys.stdout, buffer
    try:
        code = audit_run.run(options, Host.current())
    finally:
        sys.stdout = saved
    return code, buffer.getvalue()


@pytest.fixture
def parallel(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers for a small tree, one file per batch: the most chances to finish out of order."""
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(scan_module, "BATCH_FILES", 1)
    monkeypatch.setattr(scan_module, "usable_cpus", lambda: 3)


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif"])
def test_parallel_output_is_byte_identical_to_serial(
    project: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    _tree(project, 60)
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 10**9)
    serial = _run(fmt)
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 2)
    monkeypatch.setattr(scan_module, "BATCH_FILES", 1)
    monkeypatch.setattr(scan_module, "usable_cpus", lambda: 3)
    calls: list[int] = []
    real = scan_module._scan_parallel

    def spy(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(scan_module, "_scan_parallel", spy)
    assert _run(fmt) == serial
    assert calls, "the parallel path was not taken"
    assert serial[0] == 1


def test_findings_come_in_sorted_path_order(project: Path, parallel: None) -> None:
    names = _tree(project, 40)
    code, out = _run("jsonl")
    assert code == 1
    records = [json.loads(line) for line in out.splitlines()]
    files = [r["path"] for r in records if r["type"] == "file"]
    assert files == sorted(files)
    assert [f.split("/")[0] for f in files if not f.endswith("zz/.mcp.json")] == names
    paths = [r["path"] for r in records if r["type"] == "finding"]
    assert paths == sorted(paths)


def test_sarif_is_compact_by_default_and_valid(project: Path, parallel: None) -> None:
    _tree(project, 30)
    code, out = _run("sarif")
    assert code == 1
    assert out.count("\n") == 1 and out.endswith("}\n")  # one line
    log = json.loads(out)
    sarif.validate(log)
    results = log["runs"][0]["results"]
    assert len(results) >= 30
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris == sorted(uris)
    assert "\u202e" not in out  # hidden characters escaped in every streamed piece


def test_sarif_pretty_is_indented_and_the_same_log(project: Path) -> None:
    _tree(project, 12)
    _, compact = _run("sarif")
    _, pretty = _run("sarif", "--pretty")
    assert pretty.count("\n") > 100
    assert '\n        {\n          "ruleId"' in pretty  # results at their nesting depth
    assert json.loads(pretty) == json.loads(compact)
    sarif.validate(json.loads(pretty))


def test_sarif_without_findings_is_valid_either_way(project: Path) -> None:
    (project / ".mcp.json").write_text('{"mcpServers": {"a": {"command": "uvx", "args": []}}}')
    for extra in ((), ("--pretty",)):
        code, out = _run("sarif", *extra, paths=(".mcp.json",))
        log = json.loads(out)
        sarif.validate(log)
        assert log["runs"][0]["results"] == [] or code == 1


def test_jsonl_is_one_object_per_line_ending_with_the_summary(
    project: Path, parallel: None
) -> None:
    _tree(project, 25)
    _, document = _run("json")
    _, lines_out = _run("jsonl")
    lines = lines_out.splitlines()
    records = [json.loads(line) for line in lines]  # every line parses on its own
    assert all(isinstance(r, dict) and "type" in r for r in records)
    assert records[-1]["type"] == "summary"
    whole = json.loads(document)
    findings = [
        {k: v for k, v in r.items() if k != "type"} for r in records if r["type"] == "finding"
    ]
    assert findings == whole["findings"]
    files = [{k: v for k, v in r.items() if k != "type"} for r in records if r["type"] == "file"]
    assert files == whole["files"]
    summary = {k: v for k, v in records[-1].items() if k not in ("type", "tool", "version")}
    assert summary == whole["summary"]
    assert whole["summary"]["files"] == 26 and whole["summary"]["parse_errors"] == 1


def test_report_is_written_before_the_scan_ends(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Streaming: the first file's findings reach stdout before the last file is read."""
    _tree(project, 20)
    events: list[str] = []
    real = scan_module.outcome_for

    def scanning(*args: object) -> scan_module.FileOutcome:
        events.append("scan")
        return real(*args)  # type: ignore[arg-type]

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            if '"type":"finding"' in text:
                events.append("write")
            return super().write(text)

    monkeypatch.setattr(scan_module, "outcome_for", scanning)
    monkeypatch.setattr(sys, "stdout", Out())
    audit_run.run(audit_run.AuditOptions(paths=["."], format="jsonl"), Host.current())
    assert events.count("scan") == 21
    assert events.index("write") < len(events) - 1 - events[::-1].index("scan")


def _peak(project: Path, count: int) -> int:
    """Peak traced allocation of a serial SARIF run over ``count`` files (output discarded)."""
    root = project / f"tree{count}"
    root.mkdir()
    _tree(root, count, seed=count)

    class Sink(io.TextIOBase):
        def write(self, text: str) -> int:
            return len(text)

    saved, sys.stdout = sys.stdout, Sink()
    tracemalloc.start()
    try:
        audit_run.run(
            audit_run.AuditOptions(paths=[str(root)], format="sarif", ignore_parse_errors=True),
            Host.current(),
        )
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        sys.stdout = saved


def test_memory_does_not_grow_with_the_number_of_files(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 10**9)
    _peak(project, 20)  # warm caches (compiled patterns, adapters) before measuring
    small = _peak(project, 100)
    large = _peak(project, 400)
    # The findings 300 more files produce must be written, not kept: holding
    # them, as the report built in memory did, grew by ~2 MiB here. Nor is the
    # plan held: the walk streams into the scan (~70 KiB here, the inode set that
    # tells a file reached twice), where a sorted list of every job grew by ~160 KiB.
    assert large - small < 112 * 1024, (small, large)


def test_text_is_plain_and_whole_when_piped_coloured_only_when_asked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = "a-server-with-a-rather-long-name-" + "x" * 90
    token = tokengen.generate("github-pat", random.Random(3))
    (project / ".mcp.json").write_text(
        json.dumps({"mcpServers": {server: {"command": "npx", "env": {"GH_TOKEN": token}}}})
    )
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    _, plain = _run("text")
    assert "\x1b[" not in plain
    fixes = [line for line in plain.splitlines() if f"--server {server}" in line]
    assert fixes and all(line.startswith("         fix: ") for line in fixes)  # never wrapped
    assert plain.splitlines()[-1].endswith("in 1 file, 1 server.")
    monkeypatch.setenv("FORCE_COLOR", "1")
    _, coloured = _run("text")
    assert "\x1b[1;31mHIGH  \x1b[0m" in coloured
    assert coloured.replace("\x1b[0m", "").count("\x1b[") > 5
    monkeypatch.setenv("NO_COLOR", "1")  # wins over FORCE_COLOR
    assert _run("text")[1] == plain
    assert token not in plain + coloured


def test_output_to_a_fifo_is_written_in_place_not_replaced(project: Path) -> None:
    """``--output /dev/null`` (or a FIFO) must not become a regular file by a rename."""
    import os
    import stat
    import threading

    _tree(project, 3)
    fifo = project / "report.fifo"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    options = audit_run.AuditOptions(
        paths=["."], format="jsonl", output=str(fifo), ignore_parse_errors=True
    )
    assert audit_run.run(options, Host.current()) == 1
    reader.join(10)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    lines = received[0].decode().splitlines()
    assert json.loads(lines[-1])["type"] == "summary"
    assert not [p for p in os.listdir(project) if p.startswith(".mcpcred-")]  # no temp left


def test_a_failing_writer_stops_the_workers(project: Path, parallel: None) -> None:
    """A write error (a full disk, a closed pipe) ends the scan: no hang, no workers left."""
    import multiprocessing

    _tree(project, 80)

    class Full(io.StringIO):
        def write(self, text: str) -> int:
            if '"type":"finding"' in text:
                raise OSError(28, "No space left on device")
            return super().write(text)

    saved, sys.stdout = sys.stdout, Full()
    try:
        with pytest.raises(OSError, match="No space"):
            audit_run.run(audit_run.AuditOptions(paths=["."], format="jsonl"), Host.current())
    finally:
        sys.stdout = saved
    assert multiprocessing.active_children() == []


def _names_tree(root: Path) -> None:
    """Names whose sorted order differs between a folder-by-folder walk and a path sort."""
    document = json.dumps({"mcpServers": {"s": {"command": "node", "args": ["s.js"]}}})
    for relative in (
        "a/.mcp.json",
        "a/b/.mcp.json",
        "a-b/.mcp.json",  # '-' sorts before '/': "a-b/" comes before "a/"
        "a.b/.mcp.json",  # so does '.'
        "a0/.mcp.json",  # '0' sorts after '/'
        "A/.mcp.json",
        "Library/Application Support/Claude/claude_desktop_config.json",
        "Lib/.mcp.json",
        "z/.cursor/mcp.json",
        "z/.cursor.d/.mcp.json",
        "\u00e9/.mcp.json",
        ".mcp.json",
    ):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document)
    (root / "a" / "notes.txt").write_text("not a config")
    # The same file reached twice is one file, whichever path the walk meets first.
    (root / "a0" / "link").mkdir()
    (root / "a0" / "link" / ".mcp.json").symlink_to(root / "a" / ".mcp.json")
    os.link(root / "a.b" / ".mcp.json", root / "z" / ".mcp.json")


def test_the_walk_yields_files_in_sorted_path_order(project: Path) -> None:
    _names_tree(project)
    walked = list(discovery.walk("."))
    assert walked == sorted(walked)
    assert len(walked) == 14  # the symlink and the hard link are walked; the plan drops them
    assert "./Library/Application Support/Claude/claude_desktop_config.json" in walked


@pytest.mark.parametrize(
    ("root", "cwd", "streamed"),
    [
        (".", ".", True),  # the usual CI run: the checkout is the working folder
        ("tree", ".", True),  # a folder inside the working folder
        ("tree", "elsewhere", True),  # beside it: shown absolute (or under ~)
        (".", "tree/a", False),  # above it: some files relative, others absolute
    ],
)
def test_a_streamed_plan_is_the_sorted_plan(
    project: Path, monkeypatch: pytest.MonkeyPatch, root: str, cwd: str, streamed: bool
) -> None:
    """A streamed plan reads the walk as it goes; it must list what the sorted plan lists."""
    _names_tree(project / "tree")
    (project / "elsewhere").mkdir()
    target = str(project / root) if cwd != "." else root
    monkeypatch.chdir(project / cwd)
    host = Host.current()
    whole = scan_module.plan([target], host)
    stream = scan_module.plan([target], host, stream=True)
    assert isinstance(stream.jobs, list) is not streamed
    jobs = list(stream.jobs)
    assert jobs == whole.jobs
    assert len(jobs) == 12
    assert [job.shown for job in jobs] == sorted(job.shown for job in jobs)
    assert stream.skipped == whole.skipped


def test_a_streamed_home_folder_keeps_its_tilde_paths(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = project / "home"
    _names_tree(home)
    (project / "work").mkdir()
    monkeypatch.chdir(project / "work")
    host = Host("linux", {}, str(home), str(project / "work"))
    stream = scan_module.plan([str(home)], host, stream=True)
    jobs = list(stream.jobs)
    assert not isinstance(stream.jobs, list)
    assert jobs == scan_module.plan([str(home)], host).jobs
    assert all(job.shown.startswith("~/") for job in jobs)


def test_skipped_folders_are_complete_after_a_streamed_scan(project: Path) -> None:
    """The walk's skipped folders go in the report's tail: the head is written before the walk
    ends (SARIF puts the invocation after the results)."""
    _tree(project, 5)
    (project / "node_modules" / "x").mkdir(parents=True)
    (project / "node_modules" / "x" / ".mcp.json").write_text("{}")
    _, out = _run("sarif")
    log = json.loads(out)
    notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert any("node_modules" in json.dumps(note) for note in notes)
    assert list(log["runs"][0])[-2:] == ["results", "invocations"]
    sarif.validate(log)


def test_a_large_streamed_scan_starts_before_the_walk_ends(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers fork after a bounded look-ahead, not after the whole plan: the first
    outcome comes back while most jobs are still unread (so workers do not inherit them)."""
    _tree(project, 120)
    monkeypatch.setattr(scan_module, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(scan_module, "BATCH_FILES", 2)
    drawn: list[str] = []

    def jobs() -> Iterator[scan_module.Job]:
        for job in scan_module.plan(["."], Host.current(), stream=True).jobs:
            drawn.append(job.shown)
            yield job

    context = scan_module.ScanContext(Host.current(), AuditSettings())
    outcomes = scan_module.scan_iter(jobs(), context, workers=2)
    first = next(outcomes)
    # look-ahead: workers x 8 batches x 2 files, then at most the 16-batch window
    assert len(drawn) <= 2 * 8 * 2 + 2 * 8 * 2, len(drawn)
    rest = list(outcomes)
    assert len(drawn) == 121
    assert [o.scanned.display_path for o in [first, *rest] if o.scanned] == sorted(drawn)
