"""SecretStore: the one owner of keyring, against the real keychain and misbehaving fakes."""

from __future__ import annotations

import time
from typing import Any

import keyring.backends.fail
import keyring.backends.null
import keyring.errors
import pytest
from keyring.backends.SecretService import Keyring as SecretServiceKeyring

from mcpcred.errors import (
    KeychainLocked,
    KeychainTimeout,
    KeychainUnavailable,
    SecretNotFound,
    SecretStoreError,
)
from mcpcred.keychain import chunks
from mcpcred.keychain.store import ALLOW_INSECURE, SecretStore, insecure
from tests.support import keychain as real_keychain
from tests.support.memkeyring import MemoryKeyring

VALUE = "xoxb-1234567890-abcdefABCDEF"


@pytest.fixture
def real(keychain: dict[str, str]) -> SecretStore:
    return SecretStore(SecretServiceKeyring())


def test_set_get_exists_delete_in_the_real_keychain(
    real: SecretStore, keychain: dict[str, str]
) -> None:
    assert not real.exists("slack")
    real.set("slack", VALUE)
    # an independent client (libsecret's secret-tool) sees what keyring wrote
    assert real_keychain.lookup(keychain, "mcpcred", "slack") == VALUE
    assert real.get("slack") == VALUE
    assert real.exists("slack")
    real.delete("slack")
    assert real_keychain.lookup(keychain, "mcpcred", "slack") is None
    with pytest.raises(SecretNotFound) as caught:
        real.get("slack")
    assert caught.value.hint == "store it with: mcpcred secret set slack"
    with pytest.raises(SecretNotFound):
        real.delete("slack")


def test_a_value_set_replaces_one_written_another_way(
    real: SecretStore, keychain: dict[str, str]
) -> None:
    """An item for the name written by secret-tool (without keyring's ``application``
    attribute) stayed beside keyring's: reads returned either value, the stale one about
    one time in three (``log verify --reset-checkpoint`` then still saw the old checkpoint).
    """
    real_keychain.store(keychain, "mcpcred", "checkpoint", "old")
    real.set("checkpoint", "new")
    for _ in range(10):
        assert real.get("checkpoint") == "new"
        assert real_keychain.lookup(keychain, "mcpcred", "checkpoint") == "new"
    found = real_keychain._secret_tool(
        keychain, "search", "--all", "service", "mcpcred", "username", "checkpoint"
    )
    assert found.stderr.count("label = ") + found.stdout.count("label = ") == 1


def test_long_values_are_split_and_joined(real: SecretStore, keychain: dict[str, str]) -> None:
    long_value = "".join(chr(0x41 + i % 26) for i in range(5 * chunks.CHUNK_CHARS + 17))
    real.set("pem", long_value)
    header = real_keychain.lookup(keychain, "mcpcred", "pem")
    assert header is not None and header.startswith("mcpcred-chunked:v1:6:")
    assert real_keychain.lookup(keychain, "mcpcred", "pem#6") == long_value[-17:]
    assert real.get("pem") == long_value
    # a shorter value replaces it and leaves no stale parts behind
    real.set("pem", "short")
    assert real.get("pem") == "short"
    assert real_keychain.lookup(keychain, "mcpcred", "pem#1") is None
    real.set("pem", long_value)
    real.delete("pem")
    assert real_keychain.lookup(keychain, "mcpcred", "pem#3") is None


def test_a_torn_chunked_value_is_an_error_not_garbage(real: SecretStore) -> None:
    real.set("pem", "x" * (2 * chunks.CHUNK_CHARS + 1))
    backend = real.backend
    backend.set_password("mcpcred", "pem#2", "y" * chunks.CHUNK_CHARS)
    with pytest.raises(SecretStoreError, match="inconsistent"):
        real.get("pem")


def test_a_backend_limit_is_never_hit() -> None:
    backend = MemoryKeyring(limit=chunks.CHUNK_CHARS + 100)  # like Windows' 2.5 KB blobs
    store = SecretStore(backend)
    value = "z" * 6000
    store.set("big", value)
    assert store.get("big") == value


@pytest.mark.parametrize(
    "backend", [keyring.backends.null.Keyring(), keyring.backends.fail.Keyring()]
)
def test_insecure_or_missing_backends_are_refused(backend: Any) -> None:
    store = SecretStore(backend, env={})
    with pytest.raises(KeychainUnavailable) as caught:
        store.set("x", VALUE)
    assert caught.value.hint


def test_plaintext_backends_only_with_the_opt_in_and_a_warning(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plaintext = type("PlaintextKeyring", (MemoryKeyring,), {"__module__": "keyrings.alt.file"})()
    assert insecure(plaintext)
    with pytest.raises(KeychainUnavailable, match="plain text"):
        SecretStore(plaintext, env={}).get("x")
    monkeypatch.setattr("mcpcred.keychain.store._warned", False)
    store = SecretStore(plaintext, env={ALLOW_INSECURE: "1"})
    store.set("x", VALUE)
    assert store.get("x") == VALUE
    err = capsys.readouterr().err
    assert "insecure keychain backend keyrings.alt.file.PlaintextKeyring" in err
    assert VALUE not in err


def test_a_hanging_keychain_times_out() -> None:
    class Hanging(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            time.sleep(5)
            return None

    store = SecretStore(Hanging(), timeout=0.2)
    started = time.monotonic()
    with pytest.raises(KeychainTimeout, match=r"did not answer within 0\.2 s"):
        store.get("x")
    assert time.monotonic() - started < 2


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (keyring.errors.KeyringLocked("Failed to unlock the collection!"), KeychainLocked),
        (
            keyring.errors.InitError("Failed to create the collection: Prompt dismissed.."),
            KeychainUnavailable,
        ),
        (keyring.errors.NoKeyringError("No recommended backend"), KeychainUnavailable),
        (RuntimeError("Unable to initialize SecretService: DBUS unset"), KeychainUnavailable),
        (keyring.errors.KeyringError("something else"), SecretStoreError),
    ],
)
def test_keyring_errors_become_typed_outcomes(raised: Exception, expected: type) -> None:
    class Failing(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise raised

    with pytest.raises(expected) as caught:
        SecretStore(Failing()).set("x", VALUE)
    assert VALUE not in caught.value.message
    assert type(caught.value) is expected or issubclass(type(caught.value), expected)
