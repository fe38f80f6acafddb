"""The key agent as real processes: across processes, concurrently, refusing strangers, ending."""

from __future__ import annotations

import base64
import os
import signal
import socket
import stat
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.errors import AgentUnavailable, AgentUnsafe
from mcpcred.keychain import agent
from tests.support.agent import KEY, end_agent, foreground, runtime_folder, wait_gone
from tests.support.procs import command_line, kill_if_running

KEY_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

# A client in its own process, as a shim is: prints the key it got as hex, or "none".
CLIENT = """
import os, sys
from mcpcred.keychain import agent
key = agent.fetch_key(sys.argv[1], os.environ)
print("none" if key is None else key.hex())
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """``MCPCRED_RUNTIME_DIR`` at a fresh short folder; any agent there is ended afterwards."""
    with runtime_folder() as folder:
        environ = {"MCPCRED_RUNTIME_DIR": str(folder)}
        monkeypatch.setenv("MCPCRED_RUNTIME_DIR", str(folder))
        try:
            yield environ
        finally:
            os.chmod(folder, 0o700)
            sock = folder / agent.SOCKET_NAME
            if sock.is_socket():
                os.chmod(sock, 0o600)
            end_agent(environ)


def client(key_id: str = KEY_ID) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", CLIENT, key_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_key_offered_once_reaches_other_processes(env: dict[str, str]) -> None:
    assert agent.fetch_key(KEY_ID, env) is None  # no agent yet: None, nothing created
    assert not (Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME).exists()
    agent.offer_key(KEY_ID, KEY, env)
    running = agent.status(env)
    assert running is not None and running.keys == 1 and running.pid != os.getpid()
    assert running.idle_timeout == agent.DEFAULT_IDLE_TIMEOUT
    # detached: its own session, so closing the terminal that started it does not end it
    assert os.getsid(running.pid) == running.pid
    sock = Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME
    assert stat.S_IMODE(sock.lstat().st_mode) == 0o600
    out, err = client().communicate(timeout=30)
    assert out.strip() == KEY.hex(), err
    out, _ = client("another-id").communicate(timeout=30)
    assert out.strip() == "none"
    # a second offer replaces the key; forget drops every key but leaves the agent running
    agent.offer_key(KEY_ID, b"\x01" * 32, env)
    assert agent.fetch_key(KEY_ID, env) == b"\x01" * 32
    agent.forget(env)
    assert agent.fetch_key(KEY_ID, env) is None
    after = agent.status(env)
    assert after is not None and after.pid == running.pid and after.keys == 0


def test_twenty_concurrent_clients_all_get_the_key(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    processes = [client() for _ in range(20)]
    got: list[bytes | None] = []
    barrier = threading.Barrier(20)

    def thread_client() -> None:
        barrier.wait()
        got.append(agent.fetch_key(KEY_ID, env))

    threads = [threading.Thread(target=thread_client) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [out.strip() for out, _ in outputs] == [KEY.hex()] * 20, [e for _, e in outputs]
    assert got == [KEY] * 20


def test_concurrent_starts_make_one_agent(env: dict[str, str]) -> None:
    pids: list[int] = []

    def start() -> None:
        pids.append(agent.ensure_running(env).pid)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(pids) == 4 and len(set(pids)) == 1  # the losers found the lock taken


def test_the_peer_check_admits_only_the_same_known_uid() -> None:
    assert agent.allowed(1000, 1000)
    assert not agent.allowed(0, 1000)  # not even root: the agent serves exactly its user
    assert not agent.allowed(1001, 1000)
    assert not agent.allowed(None, 1000)  # an OS that cannot say who asks gets nothing
    assert not agent.allowed(1000, None)


def test_peer_uid_reads_the_kernels_answer() -> None:
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        assert agent.peer_uid(left) == os.getuid()


def test_an_agent_refuses_a_peer_of_another_uid(tmp_path: Path) -> None:
    """An in-process agent that believes it runs as another uid refuses this process."""
    with runtime_folder() as folder:
        lines: list[str] = []
        server = agent.AgentServer(str(folder), 60, lines.append)
        assert server.prepare()
        server.uid = os.getuid() + 4242
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            environ = {"MCPCRED_RUNTIME_DIR": str(folder)}
            assert agent.status(environ) is None  # refused, so: no agent as far as we know
            assert agent.fetch_key(KEY_ID, environ) is None
            with pytest.raises(AgentUnavailable, match="started but does not answer"):
                agent.offer_key(KEY_ID, KEY, environ)  # the new agent found the lock taken
            with socket.socket(socket.AF_UNIX) as conn:
                conn.settimeout(5)
                conn.connect(str(folder / agent.SOCKET_NAME))
                # refused before it is asked anything
                assert conn.recv(4096).endswith(b"ERR refused: not the agent's user")
            assert server.forget_all() == 0  # nothing was taken
            assert f"refused a connection from uid {os.getuid()}" in lines
        finally:
            server.stop()
            thread.join(10)
            server.close()
        assert not (folder / agent.SOCKET_NAME).exists()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another user")
def test_a_real_process_of_another_user_is_refused(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    folder = Path(env["MCPCRED_RUNTIME_DIR"])
    sock = folder / agent.SOCKET_NAME
    # open the way on purpose (the agent checked at start), so only SO_PEERCRED stands
    os.chmod(folder.parent, 0o711)  # noqa: S103 (on purpose)
    os.chmod(folder, 0o711)  # noqa: S103 (on purpose)
    os.chmod(sock, 0o666)  # noqa: S103 (on purpose)
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the stranger: uid nobody, speaking the protocol by hand
        try:
            os.close(reader)
            os.setgid(65534)
            os.setuid(65534)
            stranger = socket.socket(socket.AF_UNIX)
            stranger.settimeout(5)
            stranger.connect(str(sock))
            answer = b""  # the refusal comes before any request (a request would only be reset)
            while chunk := stranger.recv(4096):
                answer += chunk
            os.write(writer, answer or b"<closed>")
        except BaseException as exc:  # report, never raise out of a forked pytest
            os.write(writer, f"<{type(exc).__name__}: {exc}>".encode())
        finally:
            os._exit(0)
    os.close(writer)
    answer = b""
    while chunk := os.read(reader, 4096):
        answer += chunk
    os.close(reader)
    os.waitpid(pid, 0)
    os.chmod(folder.parent, 0o700)
    os.chmod(folder, 0o700)
    os.chmod(sock, 0o600)
    assert answer.endswith(b"ERR refused: not the agent's user"), answer
    assert KEY not in answer
    assert agent.fetch_key(KEY_ID, env) == KEY  # the owner is still served


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to make a socket of another user")
def test_a_socket_of_another_user_is_never_used(env: dict[str, str]) -> None:
    folder = Path(env["MCPCRED_RUNTIME_DIR"])
    impostor = socket.socket(socket.AF_UNIX)
    impostor.bind(str(folder / agent.SOCKET_NAME))
    impostor.listen(1)
    os.chown(folder / agent.SOCKET_NAME, 65534, 65534)
    with impostor:
        with pytest.raises(AgentUnsafe, match="belongs to another user"):
            agent.fetch_key(KEY_ID, env)
        with pytest.raises(AgentUnsafe, match="belongs to another user"):
            agent.offer_key(KEY_ID, KEY, env)
        impostor.settimeout(0.2)
        with pytest.raises(TimeoutError):
            impostor.accept()  # no client ever connected to it


def test_a_folder_others_can_enter_is_refused_by_both_ends(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    folder = Path(env["MCPCRED_RUNTIME_DIR"])
    os.chmod(folder, 0o755)  # noqa: S103 (on purpose)
    with pytest.raises(AgentUnsafe, match="open to other users") as caught:
        agent.fetch_key(KEY_ID, env)
    assert caught.value.hint == f"make it private: chmod 700 {folder}"
    end = subprocess.run(
        [sys.executable, "-m", "mcpcred", "agent", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert end.returncode == 5
    assert end.stderr.splitlines()[0] == (
        f"error: the agent's folder {folder} is open to other users (mode 755)"
    )
    os.chmod(folder, 0o700)
    assert agent.fetch_key(KEY_ID, env) == KEY


def test_a_socket_others_could_open_is_refused(env: dict[str, str]) -> None:
    sock = Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME
    agent.offer_key(KEY_ID, KEY, env)
    os.chmod(sock, 0o666)  # noqa: S103 (on purpose)
    with pytest.raises(AgentUnsafe, match=r"socket .* is open to other users \(mode 666\)"):
        agent.fetch_key(KEY_ID, env)
    with pytest.raises(AgentUnsafe):
        agent.status(env)
    os.chmod(sock, 0o600)
    assert agent.fetch_key(KEY_ID, env) == KEY


def test_a_regular_file_in_the_sockets_place_is_left_alone(env: dict[str, str]) -> None:
    folder = Path(env["MCPCRED_RUNTIME_DIR"])
    planted = folder / agent.SOCKET_NAME
    planted.write_text("not a socket")
    with pytest.raises(AgentUnsafe, match="is not a socket"):
        agent.fetch_key(KEY_ID, env)
    with pytest.raises(AgentUnsafe, match="is not a socket"):
        agent.offer_key(KEY_ID, KEY, env)
    end = subprocess.run(
        [sys.executable, "-m", "mcpcred", "agent", "serve"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (end.returncode, end.stderr.splitlines()[0]) == (5, f"error: {planted} is not a socket")
    assert planted.read_text() == "not a socket"


def test_a_killed_agents_socket_costs_nothing_and_is_replaced(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    running = agent.status(env)
    assert running is not None
    assert kill_if_running(running.pid, "mcpcred", signal.SIGKILL)
    assert wait_gone(running.pid)
    sock = Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME
    assert sock.exists()  # SIGKILL leaves it behind
    started = time.perf_counter()
    assert agent.fetch_key(KEY_ID, env) is None
    assert time.perf_counter() - started < 0.1  # refused at once, no timeout waited for
    agent.offer_key(KEY_ID, KEY, env)  # a new agent replaces the stale socket
    again = agent.status(env)
    assert again is not None and again.pid != running.pid
    assert agent.fetch_key(KEY_ID, env) == KEY


def test_the_agent_exits_when_idle_and_removes_its_socket(
    env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "agent.log"
    process = foreground(env, log, "--idle-timeout", "2")
    agent.offer_key(KEY_ID, KEY, env)  # activity: the two seconds start again
    assert agent.fetch_key(KEY_ID, env) == KEY
    assert process.wait(timeout=15) == 0
    assert not (Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME).exists()
    assert agent.fetch_key(KEY_ID, env) is None
    lines = log.read_text().splitlines()
    assert lines[0].startswith("mcpcred agent: listening on ")
    assert "idle timeout 2 s" in lines[0]
    assert lines[-1] == "mcpcred agent: idle: exiting"


def test_an_agent_whose_socket_was_removed_ends() -> None:
    """Logout empties XDG_RUNTIME_DIR: an agent nobody can reach must not keep its keys."""
    with runtime_folder() as folder:
        server = agent.AgentServer(str(folder), 60)
        assert server.prepare()
        server.watch_interval = 0.1
        ended: list[str] = []
        thread = threading.Thread(target=lambda: ended.append(server.run()), daemon=True)
        thread.start()
        try:
            environ = {"MCPCRED_RUNTIME_DIR": str(folder)}
            agent.offer_key(KEY_ID, KEY, environ)
            held = server._keys[KEY_ID]
            with held.view() as view:
                assert bytes(view) == KEY
            (folder / agent.SOCKET_NAME).unlink()
            thread.join(5)
            assert ended == ["gone"]
        finally:
            server.stop()
            thread.join(5)
            server.close()
        assert held.page.closed and server._keys == {}  # wiped and unmapped by close


def test_sigterm_wipes_and_removes_the_socket(env: dict[str, str], tmp_path: Path) -> None:
    process = foreground(env, tmp_path / "agent.log")
    agent.offer_key(KEY_ID, KEY, env)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    assert not (Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME).exists()
    assert (tmp_path / "agent.log").read_text().splitlines()[-1] == (
        "mcpcred agent: stopped: exiting"
    )


def test_nothing_of_a_key_reaches_the_agents_log(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    process = foreground(env, log)
    agent.offer_key(KEY_ID, KEY, env)
    assert agent.fetch_key(KEY_ID, env) == KEY
    agent.forget(env)
    assert agent.stop(env) == process.pid
    assert process.wait(timeout=15) == 0
    text = log.read_bytes()
    for form in (KEY, KEY.hex().encode(), KEY.hex().upper().encode(), base64.b64encode(KEY)):
        assert form not in text
    said = text.decode()
    assert "holding 1 key(s)" in said and "dropped 1 key(s) on request" in said


def test_the_agent_gets_no_secret_from_the_starting_environment(env: dict[str, str]) -> None:
    environ = {**env, "MCPCRED_PASSPHRASE": "hunter2-passphrase", "GITHUB_TOKEN": "ghp_x"}
    agent.offer_key(KEY_ID, KEY, environ)
    running = agent.status(env)
    assert running is not None
    inherited = Path(f"/proc/{running.pid}/environ").read_bytes()
    assert b"hunter2" not in inherited and b"ghp_x" not in inherited
    assert f"MCPCRED_RUNTIME_DIR={env['MCPCRED_RUNTIME_DIR']}".encode() in inherited


def test_oversized_and_malformed_requests_are_dropped(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    path = str(Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME)

    def raw(data: bytes) -> bytes:
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(5)
            conn.connect(path)
            conn.sendall(data)
            conn.shutdown(socket.SHUT_WR)  # all said: a short frame is seen as truncated at once
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
            return answer

    assert raw((1 << 30).to_bytes(4, "big")) == b""  # a 1 GiB header: closed, nothing read
    put = b"PUT big"
    huge = (agent.MAX_KEY + 1).to_bytes(4, "big")
    assert raw(len(put).to_bytes(4, "big") + put + huge) == b""
    bad_id = b"GET ../x"
    assert raw(len(bad_id).to_bytes(4, "big") + bad_id).endswith(b"ERR unknown request")
    assert raw(b"\x00\x00") == b""  # truncated, then closed by us
    with pytest.raises(ValueError, match="invalid key id"):
        agent.fetch_key("a/b", env)
    with pytest.raises(ValueError, match="a key is 1 to 1024 bytes"):
        agent.offer_key(KEY_ID, b"", env)
    assert agent.fetch_key(KEY_ID, env) == KEY  # still serving
    running = agent.status(env)
    assert running is not None and running.keys == 1  # "big" was never stored


def test_a_client_that_never_speaks_cannot_hold_the_agent(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    path = str(Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME)
    silent = socket.socket(socket.AF_UNIX)
    silent.connect(path)
    with silent:
        assert agent.fetch_key(KEY_ID, env) == KEY  # served beside it, not after it
        silent.settimeout(agent.IO_TIMEOUT + 3)
        assert silent.recv(16) == b""  # and the agent hung up on it after IO_TIMEOUT


def test_fetch_key_is_cheap(env: dict[str, str]) -> None:
    """The shim calls fetch_key on every server start: measured, and bounded generously."""
    samples = []
    for _ in range(50):
        started = time.perf_counter()
        assert agent.fetch_key(KEY_ID, env) is None
        samples.append(time.perf_counter() - started)
    absent = statistics.median(samples)
    agent.offer_key(KEY_ID, KEY, env)
    samples = []
    for _ in range(200):
        started = time.perf_counter()
        assert agent.fetch_key(KEY_ID, env) == KEY
        samples.append(time.perf_counter() - started)
    present = statistics.median(samples)
    sys.__stderr__.write(
        f"\nfetch_key median: {present * 1e3:.3f} ms with the agent, "
        f"{absent * 1e3:.3f} ms without a socket\n"
    )
    assert present < 0.005
    assert absent < 0.001


def test_a_runtime_folder_from_xdg_is_used_and_made_private(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with runtime_folder() as xdg:
        environ = {"XDG_RUNTIME_DIR": str(xdg)}
        assert agent.socket_path(environ) == str(xdg / "mcpcred" / agent.SOCKET_NAME)
        try:
            agent.offer_key(KEY_ID, KEY, environ)
            assert stat.S_IMODE((xdg / "mcpcred").stat().st_mode) == 0o700
            assert agent.fetch_key(KEY_ID, environ) == KEY
        finally:
            end_agent(environ)


@pytest.fixture
def places(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """Stand-ins for /run/user and /tmp (a private /run/user/UID; a shared, sticky /tmp)."""
    with runtime_folder() as base:
        run_user, temp = base / "run-user", base / "tmp"
        (run_user / str(os.getuid())).mkdir(parents=True, mode=0o700)
        temp.mkdir()
        os.chmod(temp, 0o1777)  # noqa: S103 (a shared /tmp, on purpose)
        monkeypatch.setattr(agent, "RUN_USER", str(run_user))
        monkeypatch.setattr(agent, "TMP_BASE", str(temp))
        yield run_user / str(os.getuid()), temp


def in_process_agent(folder: Path) -> tuple[agent.AgentServer, threading.Thread]:
    """An agent in a thread of this process, so it sees this test's RUN_USER and TMP_BASE."""
    server = agent.AgentServer(str(folder), 60)
    assert server.prepare()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    return server, thread


def end_in_process(server: agent.AgentServer, thread: threading.Thread) -> None:
    server.stop()
    thread.join(10)
    server.close()


def test_where_an_agent_listens_and_where_a_client_looks(places: tuple[Path, Path]) -> None:
    run_user, temp = places
    uid = os.getuid()
    with runtime_folder() as xdg:
        assert agent.agent_dirs({"XDG_RUNTIME_DIR": str(xdg)}) == [
            str(xdg / "mcpcred"),
            str(run_user / "mcpcred"),
            str(temp / f"mcpcred-agent-{uid}"),
        ]
        # an explicit folder is the only one
        assert agent.agent_dirs({"MCPCRED_RUNTIME_DIR": str(xdg), "XDG_RUNTIME_DIR": "/x"}) == [
            str(xdg)
        ]
    # a scrubbed environment (what MCP clients give servers) still finds /run/user/UID
    assert agent.agent_dirs({"HOME": "/h"}) == [
        str(run_user / "mcpcred"),
        str(temp / f"mcpcred-agent-{uid}"),
    ]
    # an XDG_RUNTIME_DIR others can enter, a relative one, or no /run/user/UID: not used
    os.chmod(run_user, 0o755)  # noqa: S103 (on purpose)
    assert agent.agent_dirs({"XDG_RUNTIME_DIR": str(temp)}) == [str(temp / f"mcpcred-agent-{uid}")]
    assert agent.agent_dirs({"XDG_RUNTIME_DIR": "run"}) == [str(temp / f"mcpcred-agent-{uid}")]


def test_a_shim_with_a_scrubbed_environment_finds_the_terminals_agent(
    places: tuple[Path, Path],
) -> None:
    run_user, _ = places
    terminal = {"XDG_RUNTIME_DIR": str(run_user), "HOME": "/h", "TERM": "xterm"}
    folder = Path(agent.agent_dir(terminal))
    agent._make_private(str(folder))
    server, thread = in_process_agent(folder)
    try:
        agent.offer_key(KEY_ID, KEY, terminal)
        shim = {"HOME": "/h", "PATH": "/usr/bin", "USER": "u", "SHELL": "/bin/sh", "TERM": "x"}
        assert agent.fetch_key(KEY_ID, shim) == KEY
        running = agent.status(shim)
        assert running is not None and running.socket == str(folder / agent.SOCKET_NAME)
    finally:
        end_in_process(server, thread)


def test_the_last_resort_is_a_private_folder_in_tmp(places: tuple[Path, Path]) -> None:
    run_user, temp = places
    os.rmdir(run_user)  # a container: no /run/user/UID
    environ = {"HOME": "/h"}
    folder = temp / f"mcpcred-agent-{os.getuid()}"
    assert agent.agent_dir(environ) == str(folder)
    server = agent.AgentServer(agent.agent_dir(environ), 60)
    assert server.prepare()  # made private by the agent
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        agent.offer_key(KEY_ID, KEY, environ)
        assert agent.fetch_key(KEY_ID, environ) == KEY
    finally:
        end_in_process(server, thread)


def test_a_squatter_in_tmp_is_an_error_only_where_the_agent_would_be(
    places: tuple[Path, Path],
) -> None:
    run_user, temp = places
    squatted = temp / f"mcpcred-agent-{os.getuid()}"
    squatted.mkdir(mode=0o700)
    os.chmod(squatted, 0o777)  # noqa: S103 (someone else's doing, on purpose)
    impostor = socket.socket(socket.AF_UNIX)
    impostor.bind(str(squatted / agent.SOCKET_NAME))
    impostor.listen(1)
    with impostor:
        # a desktop: the agent's place is /run/user/UID; /tmp is only looked at, then skipped
        assert agent.fetch_key(KEY_ID, {"HOME": "/h"}) is None
        # a container: /tmp is the agent's place, so the squatter is reported, not used
        os.rmdir(run_user)
        with pytest.raises(AgentUnsafe, match="open to other users"):
            agent.fetch_key(KEY_ID, {"HOME": "/h"})
        impostor.settimeout(0.2)
        with pytest.raises(TimeoutError):
            impostor.accept()  # nobody ever connected to it


def test_a_socket_path_too_long_for_the_os_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / ("x" * 120)
    environ = {"MCPCRED_RUNTIME_DIR": str(folder)}
    assert agent.fetch_key(KEY_ID, environ) is None
    with pytest.raises(AgentUnavailable, match="socket path is too long") as caught:
        agent.ensure_running(environ)
    assert caught.value.hint == "run `mcpcred agent serve` to see why"


def test_the_agent_process_is_not_dumpable(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    running = agent.status(env)
    assert running is not None
    # /proc/PID/status has no "dumpable" line; a non-dumpable process's /proc files belong to
    # root, and its core size limit is 0
    limits = Path(f"/proc/{running.pid}/limits").read_text()
    core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
    assert core.split()[4:6] == ["0", "0"]
    if os.getuid() != 0:
        assert Path(f"/proc/{running.pid}/mem").stat().st_uid == 0
    assert command_line(running.pid) is not None


# What asking costs the shim in imports: run in a fresh interpreter, with and without an agent.
IMPORTS = """
import os, sys
import mcpcred.errors
before = set(sys.modules)
from mcpcred.keychain import agent
agent.fetch_key("0f1e2d3c", os.environ)
print(" ".join(sorted(set(sys.modules) - before)))
"""
HEAVY = {
    "socket", "subprocess", "platformdirs", "pathlib", "typer", "keyring", "ctypes",
    "threading", "selectors", "mmap", "dataclasses", "json", "re", "tempfile",
}  # fmt: skip


@pytest.mark.parametrize("running", [False, True])
def test_the_client_imports_nothing_heavy(env: dict[str, str], running: bool) -> None:
    if running:
        agent.offer_key("0f1e2d3c", KEY, env)
    done = subprocess.run(
        [sys.executable, "-c", IMPORTS], capture_output=True, text=True, timeout=60, check=True
    )
    added = set(done.stdout.split())
    assert "mcpcred.keychain.agent" in added
    assert not added & HEAVY, sorted(added & HEAVY)
    ours = {m for m in added if m.startswith("mcpcred.")}
    assert ours == {"mcpcred.keychain", "mcpcred.keychain.agent"}
    if running:
        assert "_socket" in added


def test_racing_puts_gets_and_forgets_never_yield_a_torn_or_wiped_key(env: dict[str, str]) -> None:
    agent.ensure_running(env)
    keys = [bytes([n]) * 32 for n in range(1, 5)]
    seen: list[bytes | None] = []
    failures: list[BaseException] = []
    stop_at = time.monotonic() + 1.5

    def writer(key: bytes) -> None:
        try:
            while time.monotonic() < stop_at:
                agent.offer_key(KEY_ID, key, env)
        except BaseException as exc:  # collected: an exception in a thread is no failure
            failures.append(exc)

    def reader() -> None:
        while time.monotonic() < stop_at:
            seen.append(agent.fetch_key(KEY_ID, env))

    def locker() -> None:
        while time.monotonic() < stop_at:
            agent.forget(env)
            time.sleep(0.01)

    threads = [threading.Thread(target=writer, args=(k,)) for k in keys]
    threads += [threading.Thread(target=reader) for _ in range(4)]
    threads.append(threading.Thread(target=locker))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert len(seen) > 50
    assert set(seen) <= {None, *keys}  # whole keys only: never zeros, never half of one
    assert {k for k in seen if k is not None}  # and the readers did get keys
    running = agent.status(env)
    assert running is not None and running.keys <= 1


def test_a_relative_runtime_folder_means_the_same_folder_to_the_agent(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(env["MCPCRED_RUNTIME_DIR"])
    monkeypatch.chdir(folder.parent)
    relative = {"MCPCRED_RUNTIME_DIR": folder.name}
    agent.offer_key(KEY_ID, KEY, relative)  # the agent runs in "/", not here
    assert (folder / agent.SOCKET_NAME).is_socket()
    assert agent.fetch_key(KEY_ID, env) == KEY


def test_a_frozen_agent_costs_a_client_no_more_than_its_timeout(env: dict[str, str]) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    running = agent.status(env)
    assert running is not None
    os.kill(running.pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        assert agent.fetch_key(KEY_ID, env, timeout=0.3) is None
        assert time.perf_counter() - started < 1.5
    finally:
        os.kill(running.pid, signal.SIGCONT)
    assert agent.fetch_key(KEY_ID, env) == KEY


class FakeCredSocket:
    """A socket whose peer-credential answer is given: for the systems CI does not run."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.asked: list[tuple[int, int, int]] = []

    def getsockopt(self, level: int, option: int, size: int) -> bytes:
        self.asked.append((level, option, size))
        return self.answer


@pytest.mark.parametrize("platform", ["darwin", "freebsd14"])
def test_local_peercred_is_read_on_macos_and_the_bsds(
    monkeypatch: pytest.MonkeyPatch, platform: str
) -> None:
    import _socket

    monkeypatch.delattr(_socket, "SO_PEERCRED", raising=False)
    monkeypatch.setattr(sys, "platform", platform)
    xucred = (0).to_bytes(4, sys.byteorder) + (501).to_bytes(4, sys.byteorder) + bytes(68)
    fake = FakeCredSocket(xucred)
    assert agent.peer_uid(fake) == 501  # type: ignore[arg-type]
    assert fake.asked == [(0, 1, 128)]  # SOL_LOCAL, LOCAL_PEERCRED
    other_version = (1).to_bytes(4, sys.byteorder) + (501).to_bytes(4, sys.byteorder)
    assert agent.peer_uid(FakeCredSocket(other_version)) is None  # type: ignore[arg-type]
    assert agent.peer_uid(FakeCredSocket(b"\x00")) is None  # type: ignore[arg-type]


def test_an_os_without_peer_credentials_gets_none(monkeypatch: pytest.MonkeyPatch) -> None:
    import _socket

    monkeypatch.delattr(_socket, "SO_PEERCRED", raising=False)
    monkeypatch.setattr(sys, "platform", "sunos5")
    fake = FakeCredSocket(b"\x00" * 12)
    assert agent.peer_uid(fake) is None  # type: ignore[arg-type]
    assert fake.asked == []


def test_the_oldest_key_goes_when_the_agent_is_full(env: dict[str, str]) -> None:
    for n in range(agent.MAX_KEYS + 1):
        agent.offer_key(f"key-{n}", bytes([n % 256]) * 32, env)
    running = agent.status(env)
    assert running is not None and running.keys == agent.MAX_KEYS
    assert agent.fetch_key("key-0", env) is None
    assert agent.fetch_key("key-1", env) == b"\x01" * 32
    assert agent.fetch_key(f"key-{agent.MAX_KEYS}", env) == bytes([agent.MAX_KEYS]) * 32


def test_a_client_beyond_the_connection_limit_waits_instead_of_failing(
    env: dict[str, str],
) -> None:
    agent.offer_key(KEY_ID, KEY, env)
    path = str(Path(env["MCPCRED_RUNTIME_DIR"]) / agent.SOCKET_NAME)
    silent = [socket.socket(socket.AF_UNIX) for _ in range(agent.MAX_CONNECTIONS)]
    try:
        for conn in silent:  # every slot taken by a client that says nothing
            conn.connect(path)
        time.sleep(0.3)
        started = time.monotonic()
        assert agent.fetch_key(KEY_ID, env, timeout=5.0) == KEY
        assert time.monotonic() - started > 1.0  # it waited for a slot, then was served
    finally:
        for conn in silent:
            conn.close()


def test_a_key_page_is_locked_in_ram_and_left_out_of_core_dumps(env: dict[str, str]) -> None:
    import resource

    agent.offer_key(KEY_ID, KEY, env)
    running = agent.status(env)
    assert running is not None
    smaps = Path(f"/proc/{running.pid}/smaps").read_text()
    flags = [line.split()[1:] for line in smaps.splitlines() if line.startswith("VmFlags:")]
    # our key pages: writable, private (not "sh"), never dumped ("dd"); [vvar] is read-only
    keys = [f for f in flags if "dd" in f and "wr" in f]
    assert keys and all("sh" not in f for f in keys)
    soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    if soft == resource.RLIM_INFINITY or soft >= 4096:
        assert all("lo" in f for f in keys)
        status = Path(f"/proc/{running.pid}/status").read_text()
        locked = next(line for line in status.splitlines() if line.startswith("VmLck:"))
        assert int(locked.split()[1]) > 0


def test_the_client_half_imports_no_contextlib() -> None:
    """The shim imports the client on every start from the file store; contextlib is ~0.5 ms."""
    import subprocess
    import sys

    code = "import sys, mcpcred.keychain.agent\nassert 'contextlib' not in sys.modules\n"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
