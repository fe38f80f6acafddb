"""Which store the CLI uses: the rules of ``mcpcred.keychain.selection``, one by one."""

from __future__ import annotations

import os
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail, null

from mcpcred.errors import KeychainUnavailable
from mcpcred.keychain import FILE_STORE, selection
from mcpcred.keychain.filestore import default_path
from mcpcred.keychain.store import SecretStore
from tests.support.memkeyring import MemoryKeyring


@pytest.fixture
def found(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """What keyring's discovery returns (set per test)."""
    chosen: list[object] = [MemoryKeyring()]
    monkeypatch.setattr(keyring, "get_keyring", lambda: chosen[0])
    return chosen


def _store_file() -> Path:
    path = Path(default_path(os.environ))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_a_usable_keychain_wins_over_a_passphrase_variable(
    found: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MCPCRED_PASSPHRASE", "p")
    choice = selection.explain(os.environ)
    assert (choice.kind, choice.backend) == ("keychain", "tests.support.memkeyring.MemoryKeyring")
    assert SecretStore().backend_name == "tests.support.memkeyring.MemoryKeyring"


@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring()])
def test_no_usable_keychain_and_a_passphrase_means_the_file_store(
    found: list[object], monkeypatch: pytest.MonkeyPatch, backend: object
) -> None:
    found[0] = backend
    monkeypatch.setenv("MCPCRED_PASSPHRASE_FILE", "/nonexistent")  # not read to choose
    choice = selection.explain(os.environ)
    assert choice.kind == "file" and "MCPCRED_PASSPHRASE_FILE is set" in choice.reason
    assert SecretStore().backend_name == FILE_STORE


def test_no_usable_keychain_and_nothing_set_is_no_store_never_plain_text(
    found: list[object],
) -> None:
    found[0] = null.Keyring()
    choice = selection.explain(os.environ)
    assert choice.kind == "none" and "MCPCRED_PASSPHRASE is not set" in choice.reason
    with pytest.raises(KeychainUnavailable):
        _ = SecretStore().backend


def test_an_existing_store_file_is_the_opt_in_even_with_a_keychain(found: list[object]) -> None:
    path = _store_file()
    choice = selection.explain(os.environ)
    assert choice.kind == "file" and str(path) in choice.reason
    assert SecretStore().backend_name == FILE_STORE


def test_python_keyring_backend_wins_over_everything(
    found: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_file()
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.support.memkeyring.MemoryKeyring")
    choice = selection.explain(os.environ)
    assert choice.kind == "keychain" and "PYTHON_KEYRING_BACKEND names it" in choice.reason
    assert selection.opted_in(os.environ) is None
