"""The agent opens the store file for a shim (``READ``): values, errors, old agents, imports.

A real store file in the test's HOME, a real agent process holding its key (offered as
``store unlock`` offers it), and real shims. What must hold: the shim gets exactly the
stored values (non-ASCII, large, written in parts); anything wrong with the file or a
name ends in the same one-line error as before, because the shim then reads the store
itself; an agent from before ``READ`` still serves (through ``GET``); and a shim whose
agent answers imports none of ``cryptography``, ``hmac``, ``hashlib`` or ``json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpcred.errors import FileStoreLocked, SecretNotFound, StoreFileTampered
from mcpcred.keychain import FILE_STORE, agent, chunks, filestore
from mcpcred.keychain.filestore import SERVICE, FileStore, parse
from mcpcred.shim.options import parse as parse_options
from mcpcred.shim.resolve import Keychain
from tests.support.agent import end_agent, foreground, runtime_folder
from tests.support.cli import run as run_cli

PASS = {"MCPCRED_PASSPHRASE": "correct horse battery"}
VALUE = "sk-live-4f9Qz7Lr2Xw8Vb3Nc6Md1Ka5"
UNICODE = "välue — 秘密 🔑 \u00a0end"
LARGE = "".join(chr(0x61 + (i * 7919) % 26) for i in range(1024 * 1024))  # 1 MiB, one item
LONG = "L" + "0123456789abcdef" * 250  # 4,001 characters: written in 5 parts, as the CLI does


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """A store file with four values, and a real agent holding its key; no passphrase."""
    path = str(tmp_path / "data" / "store.enc")
    store = FileStore(path, PASS)
    store.set(SERVICE, "api", VALUE)
    store.set(SERVICE, "unicode", UNICODE)
    header, parts = chunks.split(LONG)
    store.set(SERVICE, "long", header)
    for index, part in enumerate(parts, 1):
        store.set(SERVICE, chunks.part_name("long", index), part)
    store.set(SERVICE, "large", LARGE)  # last: every write re-reads and re-signs the file
    with runtime_folder() as folder:
        environ = {"MCPCRED_RUNTIME_DIR": str(folder), "MCPCRED_STORE_FILE": path}
        try:
            yield environ
        finally:
            end_agent(environ)


def _unlock(env: dict[str, str]) -> bytes:
    """Give the agent the store's key as ``store unlock`` does; the file's bytes."""
    path = env["MCPCRED_STORE_FILE"]
    data = Path(path).read_bytes()
    doc = parse(data, path)
    key = filestore.derive(doc.kdf, PASS["MCPCRED_PASSPHRASE"])
    agent.offer_key(doc.key_id(), filestore.material(key), env)
    return data


def _keychain(env: dict[str, str]) -> Keychain:
    return Keychain(parse_options(["--backend", FILE_STORE, "--", "x"]), env)


def _reply(env: dict[str, str], *frames: bytes) -> bytes:
    """The agent's reply header to a raw request (frames sent as they are)."""
    connected = agent._connect(env, 5.0)
    assert connected is not None
    sock = connected[0]
    try:
        sock.sendall(b"".join(len(f).to_bytes(4, "big") + f for f in frames))
        return bytes(agent._read_frame(sock, agent.MAX_HEADER))
    finally:
        sock.close()


def test_the_agent_answers_exactly_the_stored_values(env: dict[str, str]) -> None:
    data = _unlock(env)
    names = ["api", "unicode", "large", "long"]
    got = agent.read_store(data, names, ["not-there", "api"], env)
    assert got == {"api": VALUE, "unicode": UNICODE, "large": LARGE, "long": LONG}
    assert agent.read_store(data, [], ["not-there", "unicode"], env) == {"unicode": UNICODE}
    assert _keychain(env).read(["unicode", "long"], optional=["nope"]) == {
        "unicode": UNICODE,
        "long": LONG,
    }


def test_a_tampered_file_gives_the_tampered_error(env: dict[str, str]) -> None:
    _unlock(env)
    path = env["MCPCRED_STORE_FILE"]
    doc = parse(Path(path).read_bytes(), path)
    del doc.items[SERVICE]["unicode"]  # as someone without the key can: the old MAC stays
    tampered = doc.encode()
    Path(path).write_bytes(tampered)
    listing = b"+api"
    assert _reply(env, b"READ", tampered, listing) == b"ERR tampered"
    assert agent.read_store(tampered, ["api"], [], env) is None
    with pytest.raises(StoreFileTampered, match="its MAC does not match") as caught:
        _keychain(env).read(["api"])
    assert caught.value.exit_code == 5
    assert VALUE not in str(caught.value) + (caught.value.hint or "")


def test_a_name_not_in_the_store_is_not_found(env: dict[str, str]) -> None:
    data = _unlock(env)
    assert _reply(env, b"READ", data, b"+api\n+missing") == b"ERR missing"
    assert agent.read_store(data, ["api", "missing"], [], env) is None
    with pytest.raises(SecretNotFound) as caught:
        _keychain(env).read(["api", "missing"])
    assert "'missing'" in str(caught.value) and caught.value.exit_code == 5


def test_no_key_for_this_file_means_the_shim_looks_elsewhere(env: dict[str, str]) -> None:
    data = _unlock(env)
    doc = parse(data, "x")
    agent.offer_key(doc.key_id(), bytes(64), env)  # a key under its id that does not open it
    assert _reply(env, b"READ", data, b"+api") == b"NONE"
    assert agent.read_store(data, ["api"], [], env) is None
    with pytest.raises(FileStoreLocked, match="is locked"):
        _keychain(env).read(["api"])  # as before: the agent's key fails the key check


def test_hostile_reads_are_dropped_and_the_agent_keeps_serving(env: dict[str, str]) -> None:
    data = _unlock(env)
    assert _reply(env, b"READ", b"not a store file", b"+api").startswith(b"ERR not a store")
    for frames in (
        (b"READ", data, b"api"),  # a name without its required/optional mark
        (b"READ", data, b"+api\n"),  # an empty name
        (b"READ", data, b"+\xff\xfe"),  # not UTF-8
    ):
        with pytest.raises(agent._Broken):
            _reply(env, *frames)
    connected = agent._connect(env, 5.0)
    assert connected is not None
    sock = connected[0]
    try:  # a store frame over the limit is refused before it is read
        sock.sendall(len(b"READ").to_bytes(4, "big") + b"READ")
        sock.sendall((agent.MAX_STORE + 1).to_bytes(4, "big"))
        with pytest.raises((agent._Broken, OSError)):
            agent._read_frame(sock, agent.MAX_HEADER)
    finally:
        sock.close()
    assert agent.read_store(data, ["api"], [], env) == {"api": VALUE}
    too_big = data + b" " * agent.MAX_STORE  # the shim reads such a file itself
    assert agent.read_store(too_big, ["api"], [], env) is None


class OldAgent(agent.AgentServer):
    """An agent from before ``READ``: it answers it as any unknown request, unread."""

    FEATURES = ""
    reads = 0

    def _read(self, conn: agent._socket.socket) -> None:  # type: ignore[name-defined]
        OldAgent.reads += 1
        agent._send_header(conn, b"ERR unknown request")


def test_an_agent_from_before_read_still_serves_the_shim_through_get(
    env: dict[str, str],
) -> None:
    server = OldAgent(env["MCPCRED_RUNTIME_DIR"], 60)
    assert server.prepare()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        data = _unlock(env)
        assert agent.read_store(data, ["api"], [], env) is None
        before = OldAgent.reads
        # no passphrase anywhere: the values can only come from the agent's key (GET)
        assert _keychain(env).read(["api", "unicode"]) == {"api": VALUE, "unicode": UNICODE}
        assert OldAgent.reads == before + 1
        running = agent.status(env)
        assert running is not None and not running.reads
        said = run_cli("agent", "status", env=env)
        assert said.code == 0
        assert "started by an older mcpcred" in said.stdout, said.stdout
        assert "`mcpcred agent stop`, then `mcpcred store unlock`" in said.stdout
        assert (
            json.loads(run_cli("agent", "status", "--json", env=env).stdout)["serves_reads"]
            is False
        )
    finally:
        server.stop()
        thread.join(10)
        server.close()


# A real shim run up to the exec: did the server get the value, and what was imported.
PROBE = """
import sys
from mcpcred.shim import launch
def fake(argv, env):
    print(env["T"] == sys.argv[1])
    print(" ".join(sorted(sys.modules)))
    raise SystemExit(0)
launch.become = fake
import mcpcred.shim.main as m
m.become = fake
from mcpcred._entry import main
sys.exit(main(["shim", "--backend", sys.argv[2], "--", "true"]))
"""
NOT_ON_THE_AGENT_PATH = ("cryptography", "hmac", "hashlib", "_hashlib", "json", "_json")


def _shim_modules(env: dict[str, str]) -> tuple[bool, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, VALUE, FILE_STORE],
        env={**os.environ, **env, "T": "mcpcred:secret/api"},
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert VALUE not in done.stdout + done.stderr
    got, modules = done.stdout.splitlines()
    return got == "True", set(modules.split())


def test_a_shim_served_by_the_agent_imports_no_crypto_hash_or_json(env: dict[str, str]) -> None:
    _unlock(env)
    served, modules = _shim_modules(env)
    assert served
    assert not {m for m in modules if m.split(".")[0] in NOT_ON_THE_AGENT_PATH}
    assert "mcpcred.keychain.filestore" not in modules
    # the control: where the agent cannot answer, the shim opens the store itself
    agent.forget(env)
    served, modules = _shim_modules({**env, **PASS})
    assert served
    assert "mcpcred.keychain.filestore" in modules and "cryptography" in modules


def test_no_value_reaches_the_agents_log(env: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "agent.log"
    process = foreground(env, log)
    try:
        data = _unlock(env)
        assert agent.read_store(data, ["api", "unicode"], [], env) == {
            "api": VALUE,
            "unicode": UNICODE,
        }
        assert agent.read_store(data, ["missing"], [], env) is None
    finally:
        agent.stop(env)
        process.wait(timeout=15)
    said = log.read_text("utf-8")
    assert "served a read of 2 name(s)" in said and "answered a read with ERR missing" in said
    assert VALUE not in said and UNICODE not in said


def _shim_process(env: dict[str, str], *names: str) -> subprocess.CompletedProcess[str]:
    """The real console script, as a client starts it, for a server that needs ``names``."""
    refs = {f"T{i}": f"mcpcred:secret/{name}" for i, name in enumerate(names)}
    return subprocess.run(
        [str(Path(sys.executable).parent / "mcpcred"), "shim", "--backend", FILE_STORE, "--",
         sys.executable, "-c", "pass"],
        env={"PATH": os.environ["PATH"], "HOME": os.environ["HOME"], **env, **refs},
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_shim_process_meets_a_tampered_file_or_a_missing_name_with_one_line(
    env: dict[str, str],
) -> None:
    _unlock(env)
    assert _shim_process(env, "api", "unicode").returncode == 0
    missing = _shim_process(env, "api", "nope")
    assert missing.returncode == 5
    (line,) = [ln for ln in missing.stderr.splitlines() if ln.startswith("error:")]
    assert "secret 'nope' is not in the file store" in line, missing.stderr
    path = env["MCPCRED_STORE_FILE"]
    doc = parse(Path(path).read_bytes(), path)
    doc.items[SERVICE]["api"] = doc.items[SERVICE]["unicode"]  # a sealed value moved: no key
    Path(path).write_bytes(doc.encode())
    tampered = _shim_process(env, "api")
    assert tampered.returncode == 5
    (line,) = [ln for ln in tampered.stderr.splitlines() if ln.startswith("error:")]
    assert "was changed by something without its key" in line, tampered.stderr
    for result in (missing, tampered):
        assert VALUE not in result.stdout + result.stderr
        assert UNICODE not in result.stdout + result.stderr


# --- read_held: the file store's side of READ, on documents built here ----------------------


def test_read_held_opens_version_1_files_and_bare_keys_but_not_relabelled_ones() -> None:
    kdf = filestore.new_kdf()
    key = filestore.derive(kdf, PASS["MCPCRED_PASSPHRASE"])
    old = filestore.Document(kdf, filestore.make_check(key, 1), {}, version=1)
    old.items[SERVICE] = {"api": filestore.seal(key, SERVICE, "api", VALUE, 1)}
    old = parse(old.encode(), "v1")
    assert filestore.read_held(old, filestore.material(key), ["api"]) == {"api": VALUE}
    current = filestore.Document(kdf, filestore.make_check(key), {})
    current.items[SERVICE] = {"api": filestore.seal(key, SERVICE, "api", VALUE)}
    signed = parse(current.encode(filestore.mac_key(key)), "v2")
    assert filestore.read_held(signed, key, ["api"]) == {"api": VALUE}  # a bare key (pre-MAC)
    assert filestore.read_held(signed, bytearray(filestore.material(key)), ["api"]) == {
        "api": VALUE
    }
    relabelled = parse(
        filestore.Document(kdf, current.check, current.items, version=1).encode(), ""
    )
    assert filestore.read_held(relabelled, filestore.material(key), ["api"]) is None
    assert filestore.read_held(signed, bytes(31), ["api"]) is None  # not a key's length
    assert filestore.read_held(signed, bytes(64), ["api"]) is None  # another key


class LyingAgent(agent.AgentServer):
    """An agent (of the user's own uid) that answers READ with a broken reply."""

    reply = b""

    def _read(self, conn: agent._socket.socket) -> None:  # type: ignore[name-defined]
        agent._read_frame(conn, agent.MAX_STORE)
        agent._read_frame(conn, agent.MAX_NAMES)
        conn.sendall(LyingAgent.reply)


def _frames(*parts: bytes) -> bytes:
    return b"".join(len(p).to_bytes(4, "big") + p for p in parts)


@pytest.mark.parametrize(
    "reply",
    [
        _frames(b"VALUES", b"01", b"x"),  # a required name said absent
        _frames(b"VALUES", b"1", b"x"),  # a presence frame of the wrong length
        _frames(b"VALUES", b"1x", b"x"),  # not 0/1
        _frames(b"VALUES", b"11", b"\xff\xfe", b"y"),  # a value that is not UTF-8
        _frames(b"VALUES", b"11", b"x"),  # cut short
        _frames(b"VALUES", b"11") + (agent.MAX_STORE + 1).to_bytes(4, "big"),  # too large
        _frames(b"KEY", bytes(64)),  # an answer to another request
        b"",  # nothing at all
    ],
)
def test_a_broken_answer_is_never_taken_for_values(env: dict[str, str], reply: bytes) -> None:
    LyingAgent.reply = reply
    server = LyingAgent(env["MCPCRED_RUNTIME_DIR"], 60)
    assert server.prepare()
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        data = Path(env["MCPCRED_STORE_FILE"]).read_bytes()
        assert agent.read_store(data, ["api", "unicode"], [], env) is None
    finally:
        server.stop()
        thread.join(10)
        server.close()
