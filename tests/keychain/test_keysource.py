"""Where the file store's key comes from: agent, kernel keyring, variables, in that order.

``mcpcred.keychain.agent`` and ``kernel`` are separate parts; here stand-ins with
the contract's functions are put in ``sys.modules`` so the order, the key-id
lookup and the verification of a cached key are tested on their own.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from mcpcred.cli.app import run
from mcpcred.errors import WrongPassphrase
from mcpcred.keychain import filestore, keysource
from mcpcred.keychain.filestore import SERVICE, FileStore

PASS = "old passphrase"


class Holder:
    """An agent or kernel keyring: keys by key id, and a log of what it was asked."""

    def __init__(self) -> None:
        self.keys: dict[str, bytes] = {}
        self.asked: list[str] = []
        self.forgot = 0


@pytest.fixture
def parts(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Holder, Holder]]:
    agent, kernel = Holder(), Holder()
    agent_module = types.ModuleType("mcpcred.keychain.agent")
    kernel_module = types.ModuleType("mcpcred.keychain.kernel")

    def agent_fetch(key_id: str, environ: Mapping[str, str], timeout: float = 1.0) -> bytes | None:
        agent.asked.append(key_id)
        return agent.keys.get(key_id)

    def agent_offer(key_id: str, key: bytes, environ: Mapping[str, str]) -> None:
        agent.keys[key_id] = key

    def agent_forget(environ: Mapping[str, str]) -> None:
        agent.keys.clear()
        agent.forgot += 1

    def kernel_fetch(key_id: str) -> bytes | None:
        kernel.asked.append(key_id)
        return kernel.keys.get(key_id)

    def kernel_store(key_id: str, key: bytes, timeout_seconds: int) -> bool:
        kernel.keys[key_id] = key
        return True

    def kernel_forget(key_id: str) -> None:
        kernel.keys.pop(key_id, None)
        kernel.forgot += 1

    agent_module.fetch_key = agent_fetch  # type: ignore[attr-defined]
    agent_module.offer_key = agent_offer  # type: ignore[attr-defined]
    agent_module.forget = agent_forget  # type: ignore[attr-defined]
    kernel_module.fetch_key = kernel_fetch  # type: ignore[attr-defined]
    kernel_module.store_key = kernel_store  # type: ignore[attr-defined]
    kernel_module.forget = kernel_forget  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mcpcred.keychain.agent", agent_module)
    monkeypatch.setitem(sys.modules, "mcpcred.keychain.kernel", kernel_module)
    yield agent, kernel


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = str(tmp_path / "store.enc")
    FileStore(path, {"MCPCRED_PASSPHRASE": PASS}).set(SERVICE, "api", "value")
    return path


def _key(path: str, passphrase: str = PASS) -> tuple[str, bytes]:
    doc = filestore.parse(Path(path).read_bytes(), path)
    return doc.key_id(), filestore.derive(doc.kdf, passphrase)


def test_without_agent_modules_the_variables_still_work(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mcpcred.keychain.agent", None)  # import fails
    monkeypatch.setitem(sys.modules, "mcpcred.keychain.kernel", None)
    assert keysource.cached_key("0" * 32, {}) is None
    assert keysource.offer("0" * 32, b"k" * 32, {}, 60) == []
    assert FileStore(store, {"MCPCRED_PASSPHRASE": PASS}).read(["api"]) == {"api": "value"}


def test_the_agent_is_asked_first_by_key_id_and_no_passphrase_is_needed(
    parts: tuple[Holder, Holder], store: str
) -> None:
    agent, kernel = parts
    key_id, key = _key(store)
    agent.keys[key_id] = key
    reader = FileStore(store, {})
    assert reader.read(["api"]) == {"api": "value"}
    assert agent.asked == [key_id] and kernel.asked == []
    assert reader.key_source == "the mcpcred agent"


def test_the_kernel_keyring_is_next(parts: tuple[Holder, Holder], store: str) -> None:
    agent, kernel = parts
    key_id, key = _key(store)
    kernel.keys[key_id] = key
    reader = FileStore(store, {})
    assert reader.read(["api"]) == {"api": "value"}
    assert agent.asked == [key_id] and kernel.asked == [key_id]
    assert reader.key_source == "the kernel keyring"


def test_a_cached_key_that_does_not_open_the_file_is_not_used(
    parts: tuple[Holder, Holder], store: str
) -> None:
    agent, _ = parts
    key_id, _ = _key(store)
    agent.keys[key_id] = b"\x00" * 32
    with pytest.raises(WrongPassphrase):
        FileStore(store, {"MCPCRED_PASSPHRASE": "guess"}).read(["api"])
    assert FileStore(store, {"MCPCRED_PASSPHRASE": PASS}).read(["api"]) == {"api": "value"}


def test_a_changed_passphrase_makes_the_old_key_unused(
    parts: tuple[Holder, Holder], store: str
) -> None:
    """A store re-created with a new passphrase has a new key id: the agent's old key is not
    offered, the old passphrase is refused, the new one works."""
    agent, _ = parts
    old_id, old_key = _key(store)
    agent.keys[old_id] = old_key
    Path(store).unlink()
    FileStore(store, {}).create("new passphrase")
    new_id, _ = _key(store, "new passphrase")
    assert new_id != old_id
    FileStore(store, {"MCPCRED_PASSPHRASE": "new passphrase"}).set(SERVICE, "x", "y")
    with pytest.raises(WrongPassphrase):
        FileStore(store, {"MCPCRED_PASSPHRASE": PASS}).read(["x"])
    assert agent.asked[-1] == new_id
    assert FileStore(store, {"MCPCRED_PASSPHRASE": "new passphrase"}).read(["x"]) == {"x": "y"}


def test_store_unlock_and_lock_hand_the_key_over_and_take_it_back(
    parts: tuple[Holder, Holder],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent, kernel = parts
    monkeypatch.setenv("MCPCRED_PASSPHRASE", PASS)
    assert run(["store", "init", "--file"]) == 0
    assert run(["store", "unlock", "--hours", "1"]) == 0
    path = filestore.default_path(os.environ)
    key_id, key = _key(path)
    held = filestore.material(key)  # the key and its MAC subkey: the shim needs no HKDF
    assert held[:32] == key and len(held) == 64
    assert agent.keys == {key_id: held} and kernel.keys == {key_id: held}
    assert "held by the mcpcred agent and the kernel keyring" in capsys.readouterr().err
    monkeypatch.delenv("MCPCRED_PASSPHRASE")
    assert FileStore(path, {}).read([], optional=[]) == {}
    assert run(["store", "status"]) == 0
    assert "key held by: the mcpcred agent" in capsys.readouterr().out
    assert run(["store", "lock"]) == 0
    assert agent.keys == {} and kernel.keys == {}
    assert agent.forgot == 1 and kernel.forgot == 1


def test_passphrase_file_errors_are_one_line_without_the_content(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(Exception, match="is empty"):
        keysource.passphrase({"MCPCRED_PASSPHRASE_FILE": str(empty)})
    binary = tmp_path / "binary"
    binary.write_bytes(b"\xff\xfe secret")
    with pytest.raises(Exception, match="not UTF-8") as caught:
        keysource.passphrase({"MCPCRED_PASSPHRASE_FILE": str(binary)})
    assert "secret" not in str(caught.value)


def test_the_fast_aead_import_is_cryptographys_public_class() -> None:
    from cryptography.hazmat.bindings._rust import openssl
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert openssl.aead.AESGCM is AESGCM
    assert type(filestore._aead(b"k" * 32)) is AESGCM


def test_store_unlock_gives_no_key_for_a_file_changed_without_it(
    parts: tuple[Holder, Holder],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    agent, kernel = parts
    monkeypatch.setenv("MCPCRED_PASSPHRASE", PASS)
    assert run(["store", "init", "--file"]) == 0
    path = filestore.default_path(os.environ)
    filestore.FileStore(path, os.environ).set("mcpcred", "a", "1")
    doc = filestore.parse(Path(path).read_bytes(), path)
    doc.items["mcpcred"].clear()  # every item removed, the old MAC kept
    Path(path).write_bytes(doc.encode())
    capsys.readouterr()
    assert run(["store", "unlock"]) == 5
    assert "its MAC does not match" in capsys.readouterr().err
    assert agent.keys == {} and kernel.keys == {}
