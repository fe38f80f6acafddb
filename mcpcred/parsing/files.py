"""Reading and parsing one config file: what every command that looks at configs shares.

``audit-config`` and the commands that only list or plan (``clients``, ``status``,
``wrap``) read config files the same way. These helpers live apart from
``mcpcred.audit.scan`` so that those commands do not import the scanner and its rules
(tens of milliseconds at start-up) just to parse a file; TOML's parser is imported only
for ``.toml`` files.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mcpcred.errors import ParseError

if TYPE_CHECKING:
    from mcpcred.host import Host
    from mcpcred.parsing.nodes import Document

MAX_FILE_BYTES = 64 * 1024 * 1024


def display_path(path: str, host: Host) -> str:
    """How a path is shown and fingerprinted: relative to cwd, else ``~/...``, else absolute."""
    absolute = os.path.abspath(path)
    cwd = os.path.abspath(host.cwd)
    if absolute == cwd or absolute.startswith(cwd.rstrip(os.sep) + os.sep):
        return os.path.relpath(absolute, cwd)
    home = os.path.abspath(host.home)
    if absolute.startswith(home.rstrip(os.sep) + os.sep):
        return "~" + os.sep + os.path.relpath(absolute, home)
    return absolute


def read_text(path: str) -> str:
    """A config file's text; UTF-8 (with or without BOM) or UTF-16 with BOM."""
    with open(path, "rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ParseError("file is larger than 64 MiB; not scanned", path=path)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:  # a BOM, then bytes that are not UTF-16 (a binary file)
            raise ParseError("file starts like UTF-16 but is not", path=path) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ParseError("file is not UTF-8 text", path=path, line=line) from None


def parse(path: str, text: str) -> Document:
    """Parse by extension: TOML for ``.toml``, YAML for ``.yaml``/``.yml``, JSON/JSONC for
    everything else."""
    if path.endswith(".toml"):
        from mcpcred.parsing.toml import parse_toml

        return parse_toml(text, path)
    if path.endswith((".yaml", ".yml")):
        from mcpcred.parsing.yaml import parse_yaml  # ruamel.yaml only for a YAML file

        return parse_yaml(text, path)
    from mcpcred.parsing.jsonc import parse_jsonc

    return parse_jsonc(text, path)
