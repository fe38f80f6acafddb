"""Reading and parsing one config file: what every command that looks at configs shares.

``audit-config`` and the commands that only list or plan (``clients``, ``status``,
``wrap``) read config files the same way. These helpers live apart from
``mcpcred.audit.scan`` so that those commands do not import the scanner and its rules
(tens of milliseconds at start-up) just to parse a file; TOML's parser is imported only
for ``.toml`` files.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from mcpcred.errors import ParseError

if TYPE_CHECKING:
    from mcpcred.host import Host
    from mcpcred.parsing.nodes import Document

MAX_FILE_BYTES = 64 * 1024 * 1024


def display_path(path: str, host: Host) -> str:
    """How a path is shown and fingerprinted: relative to cwd, else ``~/...``, else absolute."""
    return Shown(host)(path)


class Shown:
    """``display_path`` with the working and home folders resolved once, for a whole plan."""

    def __init__(self, host: Host) -> None:
        self.cwd = os.path.abspath(host.cwd)
        self.cwd_prefix = self.cwd.rstrip(os.sep) + os.sep
        self.home = os.path.abspath(host.home)
        self.home_prefix = self.home.rstrip(os.sep) + os.sep
        self.process_cwd = os.getcwd()  # what abspath() would ask for every path

    def __call__(self, path: str) -> str:
        if os.path.isabs(path):
            absolute = os.path.normpath(path)
        else:
            absolute = os.path.normpath(os.path.join(self.process_cwd, path))
        # Both sides are normalised absolute paths: a prefix is what relpath would strip.
        if absolute == self.cwd:
            return "."
        if absolute.startswith(self.cwd_prefix):
            return absolute[len(self.cwd_prefix) :]
        if absolute.startswith(self.home_prefix):
            return "~" + os.sep + absolute[len(self.home_prefix) :]
        return absolute


def read_text(path: str) -> str:
    """A config file's text; UTF-8 (with or without BOM) or UTF-16 with BOM."""
    return read_text_and_mode(path)[0]


def read_text_and_mode(path: str) -> tuple[str, int]:
    """``read_text``, and the file's ``st_mode`` from the same ``fstat``.

    ``audit-config`` checks the permissions of every file it reads; a second
    ``stat`` of the path cost a syscall per file.
    """
    # The descriptor itself, not open(): for a regular file that is open, fstat, one
    # read and close, where open() and readall() added two fstats, an lseek and a
    # read of the end (a scan opens every file once: 10.5 -> 7.2 us a file).
    fd = os.open(path, _OPEN_FLAGS)
    try:
        status = os.fstat(fd)
        # Not read(MAX + 1): that allocates (and maps) 64 MiB for every file read.
        if status.st_size > MAX_FILE_BYTES:
            raise ParseError("file is larger than 64 MiB; not scanned", path=path)
        if stat.S_ISREG(status.st_mode):
            data = _read_regular(fd, status.st_size)
        else:
            # A FIFO or /dev/stdin says nothing with its size: read it bounded.
            with open(fd, "rb", buffering=0, closefd=False) as handle:
                data = _read_bounded(handle)
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise ParseError("file is larger than 64 MiB; not scanned", path=path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16"), status.st_mode
        except UnicodeDecodeError:  # a BOM, then bytes that are not UTF-16 (a binary file)
            raise ParseError("file starts like UTF-16 but is not", path=path) from None
    try:
        return data.decode("utf-8"), status.st_mode
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError("file is not UTF-8 text", path=path, line=line) from None


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)  # Windows: no newline translation
    | getattr(os, "O_NOINHERIT", 0)
    | getattr(os, "O_CLOEXEC", 0)
)


def _read_regular(fd: int, size: int) -> bytes:
    """A regular file to its end: one read when it holds the ``size`` its fstat said.

    One byte more is asked for, so a file that grew since (or a /proc file, which says
    0) is read on to its end, as is one whose read came back short.
    """
    data = os.read(fd, size + 1)
    if len(data) == size:
        return data
    chunks = [data]
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


def _read_bounded(handle: BinaryIO) -> bytes:
    """Up to ``MAX_FILE_BYTES + 1`` bytes, in pieces: an unbuffered read of a pipe
    returns what is there, not all that will come."""
    chunks: list[bytes] = []
    total = 0
    while total <= MAX_FILE_BYTES:
        chunk = handle.read(min(1 << 20, MAX_FILE_BYTES + 1 - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def parse(path: str, text: str) -> Document:
    """Parse by extension: TOML for ``.toml``, YAML for ``.yaml``/``.yml``, Crush's Bash
    ``crushrc``/``.crushrc`` by name (a dotfiles manager's ``dot_crushrc`` and mcpcred's
    own backup ``<time>-crushrc`` too), JSON/JSONC for everything else."""
    if os.path.basename(path).endswith("crushrc"):
        from mcpcred.parsing.shell import parse_crushrc

        return parse_crushrc(text, path)
    if path.endswith(".toml"):
        from mcpcred.parsing.toml import parse_toml

        return parse_toml(text, path)
    if path.endswith((".yaml", ".yml")):
        from mcpcred.parsing.yaml import parse_yaml  # ruamel.yaml only for a YAML file

        return parse_yaml(text, path)
    from mcpcred.parsing.jsonc import parse_jsonc

    return parse_jsonc(text, path)
