"""Property: any sequence of set, rm and migrate keeps every other secret, in whichever
store is in use, with the real file store on disk (a cheap KDF, so many sequences fit)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcpcred.cli import store_cmd
from mcpcred.errors import SecretNotFound, UsageError
from mcpcred.keychain import filestore
from mcpcred.keychain.filestore import default_path
from mcpcred.keychain.store import SecretStore
from tests.support.memkeyring import MemoryKeyring

NAMES = ["a", "b", "c-d", "e.f"]


class _Item:
    def __init__(self, username: str) -> None:
        self.username = username

    def get_attributes(self) -> dict[str, str]:
        return {"service": "mcpcred", "username": self.username}


class _Collection:
    def __init__(self, ring: MemoryKeyring) -> None:
        self.ring = ring

    def search_items(self, attributes: dict[str, str]) -> list[_Item]:
        service = attributes["service"]
        return [_Item(user) for (svc, user) in self.ring.items if svc == service]


class ListableKeyring(MemoryKeyring):
    """The in-memory keyring with the Secret Service backend's way to list items."""

    def get_preferred_collection(self) -> _Collection:
        return _Collection(self)


values = st.one_of(
    st.text(st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), min_size=1),
    st.sampled_from(["x" * 1500, "y" * 2001]),  # stored in parts
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.sampled_from(NAMES), values),
        st.tuples(st.just("rm"), st.sampled_from(NAMES), st.just("")),
        st.tuples(st.just("migrate"), st.sampled_from(["keychain", "file"]), st.just("")),
    ),
    max_size=12,
)


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        filestore, "ARGON2ID", {"name": "argon2id", "iterations": 1, "lanes": 1, "memory_cost": 8}
    )
    monkeypatch.setenv("MCPCRED_PASSPHRASE", "property passphrase")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=operations)
def test_any_sequence_of_set_rm_migrate_keeps_every_other_secret(
    home: Path, cheap_kdf: None, steps: list[tuple[str, str, str]]
) -> None:
    from mcpcred.keychain.filekeyring import FileKeyring

    path = default_path(os.environ)
    for leftover in (path, path + ".lock"):
        if os.path.exists(leftover):
            os.unlink(leftover)
    keychain = SecretStore(ListableKeyring())
    model: dict[str, str] = {}

    def in_use() -> SecretStore:
        return SecretStore(FileKeyring()) if os.path.exists(path) else keychain

    for kind, name, value in steps:
        if kind == "set":
            in_use().set(name, value)
            model[name] = value
        elif kind == "rm":
            try:
                in_use().delete(name)
            except SecretNotFound:
                assert name not in model
            model.pop(name, None)
        else:
            try:
                store_cmd.migrate(name, keychain, path)
            except UsageError:
                assert name == "keychain" and not os.path.exists(path)
        store = in_use()
        for known in NAMES:
            if known in model:
                assert store.get(known) == model[known]
            else:
                assert not store.exists(known)
        if os.path.exists(path):  # the other store holds nothing left over
            assert not keychain.backend.items  # type: ignore[attr-defined]


def test_migrate_never_overwrites_a_different_value_in_the_target(
    home: Path, cheap_kdf: None
) -> None:
    from mcpcred.errors import SecretStoreError
    from mcpcred.keychain.filekeyring import FileKeyring

    path = default_path(os.environ)
    keychain = SecretStore(ListableKeyring())
    keychain.set("api", "from the keychain")
    keychain.set("same", "equal")
    file_store = SecretStore(FileKeyring())
    file_store.set("api", "from the file")
    file_store.set("same", "equal")
    before = Path(path).read_bytes()
    for target in ("file", "keychain"):
        with pytest.raises(SecretStoreError, match="both stores hold 'api' with different"):
            store_cmd.migrate(target, keychain, path)
        assert Path(path).read_bytes() == before
        assert keychain.get("api") == "from the keychain"
    keychain.delete("api")
    assert store_cmd.migrate("file", keychain, path) == 1  # equal values are no clash
    assert SecretStore(FileKeyring()).get("api") == "from the file"
    assert not keychain.backend.items  # type: ignore[attr-defined]
