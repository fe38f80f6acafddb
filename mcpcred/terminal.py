"""Text from configs and servers, made safe to print on a terminal.

Server names, tool names, descriptions and file names come from files and
processes mcpcred does not control. Printed raw, an escape sequence in one can
retitle the window (``ESC ] 0 ; ... BEL``), clear the screen, hide the lines
around it, or reorder what the user reads (bidi overrides). ``printable`` shows
such characters as escapes (``\\x1b``, ``\\u202e``) instead, so the user sees
that they are there. Standard library only at import: the shim and the guard use it.

It is also where every command's output is shaped (docs/cli.md): ``console`` (rich,
imported only when called) never wraps piped output and follows ``NO_COLOR``,
``FORCE_COLOR`` and ``TERM=dumb``; ``write_json`` is the one ``--json`` shape;
``progress`` draws only on a terminal.
"""

from __future__ import annotations

# Unicode categories that draw nothing of their own, or not the same everywhere: controls
# (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width joiners, BOM,
# soft hyphen), private use characters (each font draws its own), lone surrogates (which
# cannot even be encoded for output), and line and paragraph separators (which some
# terminals and most editors break lines at). The same set as ``guard.hidden.safe_text``.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` with every control, format and separator character as a visible escape.

    Everything else, non-ASCII letters included, is kept as it is.
    """
    if text.isprintable():
        # The common case, without importing unicodedata: isprintable() is False for
        # every character in Cc, Cf, Co, Cs, Zl and Zp (it also refuses Cn and Zs,
        # which then take the loop below and are kept).
        return text
    import unicodedata

    out: list[str] = []
    for char in text:
        code = ord(char)
        if 0x20 <= code < 0x7F or (code > 0x7F and unicodedata.category(char) not in _HIDDEN):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def json_text(text: str) -> str:
    """A JSON document (as ``json.dumps`` writes it) with hidden characters as ``\\uXXXX``.

    ``ensure_ascii=False`` keeps names readable but lets C1 controls, bidi overrides
    and lone surrogates through, raw, inside strings; as JSON escapes they mean the
    same to any reader and cannot reach a terminal (or fail to encode). Structural
    newlines and indentation are kept.
    """
    if (text.isascii() and "\x7f" not in text) or text.isprintable():
        # json.dumps has already escaped the other ASCII controls in strings; and a
        # printable text has no character of _HIDDEN (see ``printable``), nor DEL.
        return text
    if "\n" in text and text.replace("\n", " ").isprintable():
        # The same, where the only control is a line break: an indented document, or
        # JSON Lines (a newline inside a string is already the escape \n). The
        # character by character pass below cost more than encoding the findings.
        return text
    import re
    import unicodedata

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if code != 0x7F and unicodedata.category(char) not in _HIDDEN:
            return char
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return re.sub(r"[^\x00-\x7e]", escape, text)  # only DEL and non-ASCII are looked at


JSON_VERSION = 1  # of every ``--json`` document; raised only when a key changes meaning


def write_json(document: dict[str, object]) -> None:
    """One ``--json`` document on stdout: an object whose first key is ``version``.

    Every command's JSON has this shape (docs/cli.md), so a script can check the version
    before reading and a later key never breaks it. Streams (``mcpcred log --json``) are
    JSON Lines instead, one record per line.
    """
    import json
    import sys

    text = json.dumps({"version": JSON_VERSION, **document}, indent=2, ensure_ascii=False)
    sys.stdout.write(json_text(text) + "\n")
    sys.stdout.flush()


# -- where output goes: width, colour and progress ------------------------------------------
#
# Piped output is read by programs (grep, awk, a CI log): a line rich breaks at 80 or 100
# columns splits a path or a record across lines, so a pipe gets lines as long as they are.
# On a terminal rich wraps to its width, as a person expects. Colour follows the common
# conventions: ``NO_COLOR`` (any non-empty value) turns it off, ``FORCE_COLOR`` turns it on
# even through a pipe (CI logs that render ANSI), ``TERM=dumb`` means a terminal without it.
# Rich is imported only inside these functions: the shim and the guard import this module.

UNWRAPPED = 1 << 16  # rich needs a width; this is "never" for any line mcpcred prints

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from contextlib import AbstractContextManager
    from typing import IO

    from rich.console import Console


def _environ() -> Mapping[str, str]:
    import os

    return os.environ


def is_terminal(stream: IO[str]) -> bool:
    """Whether ``stream`` is a terminal (False for a closed or replaced stream)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def color_wanted(stream: IO[str], environ: Mapping[str, str] | None = None) -> bool:
    """Whether text written to ``stream`` should carry ANSI colours and styles.

    ``NO_COLOR`` wins over ``FORCE_COLOR`` (a user's "never" beats a tool's "always");
    ``FORCE_COLOR=0`` is read as not forcing, as Node and most CI tools read it.
    """
    env = _environ() if environ is None else environ
    if env.get("NO_COLOR"):
        return False
    if env.get("FORCE_COLOR", "") not in ("", "0", "false"):
        return True
    if env.get("TERM") == "dumb":
        return False
    return is_terminal(stream)


def console(*, stderr: bool = False) -> Console:
    """The rich Console every command prints through (``stderr`` for messages).

    On a terminal: its width (or ``COLUMNS``). Anywhere else: no width limit at all, so
    a table's row stays one line however long its path, and ``FORCE_COLOR`` adds colour
    without making rich believe there is an 80-column terminal to wrap for.
    """
    import sys

    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = is_terminal(stream)
    color = color_wanted(stream)
    return Console(
        stderr=stderr,
        width=None if tty else UNWRAPPED,
        force_terminal=color,
        no_color=not color,
        color_system="auto" if color else None,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=not tty,
    )


def cell(lines: list[str], console: Console) -> str:
    """Several values for one table cell: one per line on a terminal, ``; ``-joined
    when piped, so that a row is still one line for ``grep``."""
    return ("\n" if is_terminal(console.file) else "; ").join(lines)


def emit(console: Console, renderable: object) -> None:
    """Print ``renderable`` (a table); piped, without the spaces rich pads each row's last
    cell with, so ``cut``, ``awk`` and diffs of two runs see only the text."""
    if is_terminal(console.file):
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    text = captured.get()
    console.file.write("".join(line.rstrip(" ") + "\n" for line in text.splitlines()))
    console.file.flush()


def progress(what: str, total: int | None = None) -> AbstractContextManager[Callable[[int], None]]:
    """A spinner (or a bar, with ``total``) on stderr while long work runs; on anything but
    a terminal, nothing at all (a CI log has no use for redrawn lines).

    Yields ``advance(n)``, to call as items are done; cheap enough to call per item.
    """
    import sys

    if not is_terminal(sys.stderr) or _environ().get("TERM") == "dumb":
        return quiet()
    return _shown(what, total)


def quiet() -> AbstractContextManager[Callable[[int], None]]:
    """What ``progress`` gives where nothing is drawn: an ``advance`` that does nothing."""
    from contextlib import nullcontext

    def advance(count: int = 1) -> None:
        return None

    return nullcontext(advance)


def _shown(what: str, total: int | None) -> AbstractContextManager[Callable[[int], None]]:
    from contextlib import contextmanager

    @contextmanager
    def shown() -> Iterator[Callable[[int], None]]:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = [SpinnerColumn(), TextColumn("{task.description}")]
        if total is not None:
            columns += [BarColumn(), MofNCompleteColumn()]
        columns.append(TimeElapsedColumn())
        with Progress(*columns, console=console(stderr=True), transient=True) as bar:
            task = bar.add_task(what, total=total)

            def advance(count: int = 1) -> None:
                bar.advance(task, count)

            yield advance

    return shown()


SCAN_PROGRESS_FROM = 200  # files: below this a scan ends before a bar would be worth drawing


def scan_progress(files: int) -> AbstractContextManager[Callable[[int], None]]:
    """The hook ``audit-config`` calls while scanning ``files`` files: a bar on a terminal's
    stderr for large scans, nothing otherwise (pre-commit's one file, CI, a pipe).

    Yields ``advance(n)``, for the scan (or the streaming writer) to call per file done.
    """
    if files < SCAN_PROGRESS_FROM:
        return quiet()
    return progress("scanning MCP configs", total=files)
