"""Finding the session bus when an MCP client scrubbed DBUS_SESSION_BUS_ADDRESS.

A temporary directory stands in for ``XDG_RUNTIME_DIR`` and ``/run/user``, with
real Unix sockets bound in it, because the lookup accepts only sockets.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.keychain import bus
from mcpcred.keychain.bus import session_bus_address, unix_path_address

UID = os.getuid()


@pytest.fixture
def root() -> Iterator[Path]:
    """A short temporary directory: Unix socket paths are limited to ~107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="bus", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_user(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in for ``/run/user`` (empty unless a test puts a bus in it)."""
    path = root / "run-user"
    path.mkdir()
    monkeypatch.setattr(bus, "RUN_USER", str(path))
    return path


def make_socket(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))  # the file stays after close; that is all the lookup checks
    return path


def test_the_variable_wins(root: Path, run_user: Path) -> None:
    make_socket(root / "bus")
    env = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/elsewhere", "XDG_RUNTIME_DIR": str(root)}
    assert session_bus_address(env, "unix:path=/recorded") == "unix:path=/elsewhere"


def test_an_empty_variable_counts_as_unset(root: Path, run_user: Path) -> None:
    make_socket(root / "bus")
    env = {"DBUS_SESSION_BUS_ADDRESS": " ", "XDG_RUNTIME_DIR": str(root)}
    assert session_bus_address(env) == f"unix:path={root}/bus"


def test_the_runtime_dir_socket(root: Path, run_user: Path) -> None:
    make_socket(root / "bus")
    make_socket(run_user / str(UID) / "bus")
    env = {"XDG_RUNTIME_DIR": str(root), "HOME": "/home/u", "PATH": "/usr/bin"}
    assert session_bus_address(env, "unix:path=/recorded") == f"unix:path={root}/bus"


def test_run_user_when_the_runtime_dir_is_unset(run_user: Path) -> None:
    sock = make_socket(run_user / str(UID) / "bus")
    assert session_bus_address({"HOME": "/home/u"}) == f"unix:path={sock}"


def test_run_user_when_the_runtime_dir_has_no_bus(root: Path, run_user: Path) -> None:
    (root / "rt").mkdir()
    sock = make_socket(run_user / str(UID) / "bus")
    assert session_bus_address({"XDG_RUNTIME_DIR": str(root / "rt")}) == f"unix:path={sock}"


def test_the_recorded_fallback_comes_last(root: Path, run_user: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(root)}
    assert session_bus_address(env, "unix:path=/recorded,guid=1") == "unix:path=/recorded,guid=1"


def test_none_when_there_is_nothing(root: Path, run_user: Path) -> None:
    assert session_bus_address({"XDG_RUNTIME_DIR": str(root)}) is None
    assert session_bus_address({}, "") is None


def test_a_regular_file_is_not_a_bus(root: Path, run_user: Path) -> None:
    (root / "bus").write_text("")
    (run_user / str(UID)).mkdir()
    (run_user / str(UID) / "bus").mkdir()
    assert session_bus_address({"XDG_RUNTIME_DIR": str(root)}, "unix:path=/r") == "unix:path=/r"


def test_another_users_socket_is_not_used(
    root: Path, run_user: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_socket(root / "bus")
    monkeypatch.setattr(os, "getuid", lambda: UID + 1)
    make_socket(run_user / str(UID + 1) / "bus")  # exists under the uid, but owned by us
    assert session_bus_address({"XDG_RUNTIME_DIR": str(root)}) is None


def test_a_relative_runtime_dir_is_ignored(
    root: Path, run_user: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_socket(root / "bus")
    monkeypatch.chdir(root.parent)
    assert session_bus_address({"XDG_RUNTIME_DIR": root.name}) is None


def test_a_path_with_special_characters_is_escaped(root: Path, run_user: Path) -> None:
    odd = make_socket(root / "a dir,x=y;z" / "bus")
    address = session_bus_address({"XDG_RUNTIME_DIR": str(odd.parent)})
    assert address == f"unix:path={root}/a%20dir%2cx%3dy%3bz/bus"
    from jeepney.bus import get_bus

    assert get_bus(address) == str(odd)


def test_unix_path_address_keeps_plain_paths_readable() -> None:
    assert unix_path_address("/run/user/1000/bus") == "unix:path=/run/user/1000/bus"


def test_a_live_recorded_bus_beats_the_standard_per_user_bus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_user = tmp_path / "run"
    (run_user / str(os.getuid())).mkdir(parents=True)
    standard = socket.socket(socket.AF_UNIX)
    standard.bind(str(run_user / str(os.getuid()) / "bus"))
    recorded_path = tmp_path / "private-bus"
    recorded = socket.socket(socket.AF_UNIX)
    recorded.bind(str(recorded_path))
    monkeypatch.setattr(bus, "RUN_USER", str(run_user))
    try:
        address = f"unix:path={recorded_path}"
        assert bus.session_bus_address({}, address) == address
        recorded.close()
        recorded_path.unlink()  # the recorded session ended: use the standard bus
        assert bus.session_bus_address({}, address) == bus.unix_path_address(
            str(run_user / str(os.getuid()) / "bus")
        )
    finally:
        standard.close()
        recorded.close()
