"""``read_text``: a config file's bytes, whole, whatever kind of file holds them."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from mcpcred.errors import ParseError
from mcpcred.parsing import files
from mcpcred.parsing.files import read_text


def test_regular_files_utf8_bom_and_utf16(tmp_path: Path) -> None:
    path = tmp_path / "mcp.json"
    path.write_bytes('{"a": "é"}'.encode())
    assert read_text(str(path)) == '{"a": "é"}'
    path.write_bytes(b"\xef\xbb\xbf{}")
    assert read_text(str(path)) == "\ufeff{}"
    path.write_bytes('{"a": "é"}'.encode("utf-16"))
    assert read_text(str(path)) == '{"a": "é"}'
    path.write_bytes(b'{"a": "\xff"}\n')
    with pytest.raises(ParseError, match="not UTF-8") as info:
        read_text(str(path))
    assert info.value.line == 1


def test_the_text_and_mode_are_the_file_s_whatever_its_size_says(tmp_path: Path) -> None:
    """One read of the size fstat gives; a file whose size says less is read to its end."""
    path = tmp_path / "mcp.json"
    for content in (b"", b"{}", b"x" * 65536, '{"a": "é"}\r\n'.encode()):
        path.write_bytes(content)
        path.chmod(0o640)
        text, mode = files.read_text_and_mode(str(path))
        assert text == content.decode()  # bytes as they are: no newline translation
        assert mode == os.stat(path).st_mode
    status = Path("/proc/self/status")
    if status.is_file() and status.stat().st_size == 0:  # Linux: a regular file saying 0
        assert "Name:" in files.read_text_and_mode(str(status))[0]
    with pytest.raises(OSError, match="directory"):
        read_text(str(tmp_path))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_read_to_its_end_not_its_first_write(tmp_path: Path) -> None:
    """An unbuffered read of a pipe returns what is there: the rest must be waited for."""
    fifo = tmp_path / "settings.json"
    os.mkfifo(fifo)
    pieces = [b'{"mcpServers": {', b'"a": {"command": "x"', b"}}}" + b" " * 200_000, b"\n"]

    def writer() -> None:
        with open(fifo, "wb", buffering=0) as out:
            for piece in pieces:
                out.write(piece)
                time.sleep(0.05)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert read_text(str(fifo)) == b"".join(pieces).decode()
    finally:
        thread.join(10)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_longer_than_the_limit_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 3 * 1024 * 1024 // 2)
    fifo = tmp_path / "big.json"
    os.mkfifo(fifo)

    def writer() -> None:
        try:
            with open(fifo, "wb") as out:
                out.write(b" " * (4 * 1024 * 1024))
        except BrokenPipeError:
            pass  # the reader stopped at the limit and closed its end

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with pytest.raises(ParseError, match="larger than 64 MiB"):
            read_text(str(fifo))
    finally:
        thread.join(10)
