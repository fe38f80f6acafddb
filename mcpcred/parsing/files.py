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
    # Unbuffered: read() of a regular file is one read of its size, without a buffer
    # object in between (a scan opens every file once).
    with open(path, "rb", buffering=0) as handle:
        status = os.fstat(handle.fileno())
        # Not read(MAX + 1): that allocates (and maps) 64 MiB for every file read.
        if status.st_size > MAX_FILE_BYTES:
            raise ParseError("file is larger than 64 MiB; not scanned", path=path)
        # A FIFO, /dev/stdin or a /proc file says nothing with its size: read it bounded.
        data = handle.readall() if stat.S_ISREG(status.st_mode) else _read_bounded(handle)
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
