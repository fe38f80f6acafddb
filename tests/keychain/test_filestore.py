"""The encrypted file store on real files: format errors, passphrases, atomicity, concurrency.

Every test writes a real store file in the test's temporary HOME; nothing is faked
but the passphrase source (the variables a CI job would set).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from mcpcred.errors import (
    FileStoreLocked,
    SecretCorrupt,
    SecretNotFound,
    SecretStoreError,
    StoreFileCorrupt,
    StoreFileTampered,
    StoreFileTooNew,
    StoreFileTruncated,
    WrongPassphrase,
)
from mcpcred.keychain import filestore
from mcpcred.keychain.filestore import SERVICE, FileStore, default_path, parse

PASS = {"MCPCRED_PASSPHRASE": "correct horse battery"}
VALUE = "sk-live-4f9Qz7Lr2Xw8Vb3Nc6Md1Ka5"


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "data" / "store.enc")


@pytest.fixture
def filled(path: str) -> str:
    store = FileStore(path, PASS)
    store.set(SERVICE, "api", VALUE)
    store.set(SERVICE, "other", "second value")
    return path


def test_round_trip_0600_no_plaintext_and_no_temp_file(filled: str) -> None:
    assert FileStore(filled, PASS).read(["api"], optional=["other", "absent"]) == {
        "api": VALUE,
        "other": "second value",
    }
    assert os.stat(filled).st_mode & 0o777 == 0o600
    raw = Path(filled).read_bytes()
    assert VALUE.encode() not in raw
    assert PASS["MCPCRED_PASSPHRASE"].encode() not in raw
    assert sorted(os.listdir(os.path.dirname(filled))) == ["store.enc", "store.enc.lock"]
    header = raw.split(b"\n", 1)[0].split(b" ")
    assert header[:2] == [b"mcpcred-store", b"2"]
    body = json.loads(raw.split(b"\n", 1)[1])
    assert body["kdf"]["name"] == "argon2id" and len(body["kdf"]["salt"]) >= 24


def test_a_required_name_that_is_missing_is_not_found_without_deriving(filled: str) -> None:
    store = FileStore(filled, {})  # no key source at all: only names are looked at
    with pytest.raises(SecretNotFound):
        store.read(["absent"])
    assert store.read([], optional=["absent"]) == {}


def test_wrong_passphrase_is_its_own_error_and_nothing_is_overwritten(filled: str) -> None:
    before = Path(filled).read_bytes()
    wrong = FileStore(filled, {"MCPCRED_PASSPHRASE": "correct horse battery!"})
    with pytest.raises(WrongPassphrase) as caught:
        wrong.read(["api"])
    assert "MCPCRED_PASSPHRASE" in caught.value.message
    assert "correct horse" not in caught.value.message + str(caught.value.hint)
    with pytest.raises(WrongPassphrase):
        wrong.set(SERVICE, "new", "x")
    with pytest.raises(WrongPassphrase):
        wrong.delete(SERVICE, "api")
    assert Path(filled).read_bytes() == before


def test_no_key_source_names_the_ways_to_give_one(filled: str) -> None:
    with pytest.raises(FileStoreLocked) as caught:
        FileStore(filled, {}).read(["api"])
    assert "mcpcred store unlock" in str(caught.value.hint)
    assert "MCPCRED_PASSPHRASE_FILE" in str(caught.value.hint)


def test_passphrase_file_with_a_trailing_newline(filled: str, tmp_path: Path) -> None:
    secret = tmp_path / "pass"
    secret.write_text(PASS["MCPCRED_PASSPHRASE"] + "\n")
    env = {"MCPCRED_PASSPHRASE_FILE": str(secret)}
    assert FileStore(filled, env).read(["api"]) == {"api": VALUE}
    with pytest.raises(FileStoreLocked, match="cannot read MCPCRED_PASSPHRASE_FILE"):
        FileStore(filled, {"MCPCRED_PASSPHRASE_FILE": str(tmp_path / "nope")}).read(["api"])


def test_every_cut_of_the_file_reads_as_truncated(filled: str) -> None:
    raw = Path(filled).read_bytes()
    for cut in [0, 1, 5, 14, 20, len(raw) // 2, len(raw) - 1]:
        with pytest.raises(StoreFileTruncated):
            parse(raw[:cut], filled)


def test_truncated_file_on_disk_is_reported_and_left_alone(filled: str) -> None:
    raw = Path(filled).read_bytes()
    Path(filled).write_bytes(raw[: len(raw) - 40])
    cut = Path(filled).read_bytes()
    store = FileStore(filled, PASS)
    with pytest.raises(StoreFileTruncated, match="cut short"):
        store.read(["api"])
    with pytest.raises(StoreFileTruncated):
        store.set(SERVICE, "new", "x")
    assert Path(filled).read_bytes() == cut


def test_damage_is_corrupt_not_a_wrong_passphrase(filled: str) -> None:
    raw = bytearray(Path(filled).read_bytes())
    raw[-20] ^= 0x01
    with pytest.raises(StoreFileCorrupt, match="digest"):
        parse(bytes(raw), filled)
    with pytest.raises(StoreFileCorrupt, match="not an mcpcred store file"):
        parse(b'{"some": "json"}\n', filled)
    with pytest.raises(StoreFileCorrupt, match="extra bytes"):
        parse(Path(filled).read_bytes() + b"x", filled)


def test_a_value_moved_to_another_name_does_not_open(filled: str) -> None:
    """The name is associated data: swapping sealed items is detected, per item (and by
    the MAC first, when the swap is written without the key)."""
    doc = parse(Path(filled).read_bytes(), filled)
    table = doc.items[SERVICE]
    table["api"], table["other"] = table["other"], table["api"]
    Path(filled).write_bytes(doc.encode())
    with pytest.raises(StoreFileTampered):
        FileStore(filled, PASS).read(["api"])
    signed = FileStore(filled, PASS)  # re-signed with the key: only the AEAD is left to see it
    subkey = filestore.mac_key(filestore.derive(doc.kdf, PASS["MCPCRED_PASSPHRASE"]))
    Path(filled).write_bytes(doc.encode(subkey))
    with pytest.raises(StoreFileCorrupt, match="secret 'api'"):
        signed.read(["api"])
    assert not isinstance(StoreFileCorrupt("x"), WrongPassphrase)
    assert issubclass(StoreFileCorrupt, SecretCorrupt)


def test_a_newer_format_is_refused_before_anything_else(filled: str) -> None:
    raw = Path(filled).read_bytes()
    newer = raw.replace(b"mcpcred-store 2 ", b"mcpcred-store 3 ", 1)
    Path(filled).write_bytes(newer)
    with pytest.raises(StoreFileTooNew, match="format version 3"):
        FileStore(filled, PASS).read(["api"])
    with pytest.raises(StoreFileTooNew):
        FileStore(filled, PASS).set(SERVICE, "x", "y")
    assert Path(filled).read_bytes() == newer
    with pytest.raises(StoreFileTooNew):  # even with a header layout this version cannot read
        parse(b"mcpcred-store 7 something else entirely\n{}", filled)


def test_hostile_kdf_parameters_are_refused(filled: str) -> None:
    doc = parse(Path(filled).read_bytes(), filled)
    doc.kdf["memory_cost"] = 2**40
    with pytest.raises(StoreFileCorrupt, match="memory_cost out of range"):
        parse(doc.encode(), filled)


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(
    filled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = Path(filled).read_bytes()

    def broken(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(SecretStoreError, match=r"cannot write the file store .*: No space left"):
        FileStore(filled, PASS).set(SERVICE, "api", "new value")
    monkeypatch.undo()
    assert Path(filled).read_bytes() == before
    assert not [n for n in os.listdir(os.path.dirname(filled)) if n.endswith(".tmp")]


def test_long_values_written_in_parts_by_the_cli_are_joined_for_the_shim(path: str) -> None:
    from mcpcred.keychain.filekeyring import FileKeyring
    from mcpcred.keychain.store import SecretStore

    os.environ["MCPCRED_STORE_FILE"] = path
    os.environ["MCPCRED_PASSPHRASE"] = PASS["MCPCRED_PASSPHRASE"]
    try:
        long = "".join(random.Random(3).choice("abcdef0123") for _ in range(3500))
        SecretStore(FileKeyring()).set("pem", long)
        assert "pem#4" in FileStore(path, PASS).names()
        assert FileStore(path, PASS).read(["pem"]) == {"pem": long}
        FileStore(path, PASS).put("pem", "short now")  # the shim's write drops the parts
        assert FileStore(path, PASS).names() == ["pem"]
        assert SecretStore(FileKeyring()).get("pem") == "short now"
    finally:
        del os.environ["MCPCRED_STORE_FILE"], os.environ["MCPCRED_PASSPHRASE"]


def _writer(path: str, worker: int) -> None:
    store = FileStore(path, PASS)
    for index in range(4):
        store.set(SERVICE, f"w{worker}-{index}", f"value {worker} {index}")


def test_concurrent_writers_in_several_processes_lose_nothing(path: str) -> None:
    FileStore(path, PASS).set(SERVICE, "first", "1")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    names = FileStore(path, PASS).names()
    assert names == sorted(["first", *(f"w{w}-{i}" for w in range(4) for i in range(4))])
    assert FileStore(path, PASS).read(["w3-3"]) == {"w3-3": "value 3 3"}


def test_keyring_never_picks_the_file_store_by_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring.backend
    import keyring.core

    from mcpcred.keychain import FILE_STORE
    from mcpcred.keychain.filekeyring import FileKeyring
    from mcpcred.keychain.store import backend_id

    assert FileKeyring not in keyring.backend.KeyringBackend._classes
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    # Every backend keyring could choose from (not _detect_backend's pick: after other tests
    # have registered more backends, its chainer's priority raises without a session bus).
    assert FILE_STORE not in {backend_id(b) for b in keyring.backend.get_all_keyring()}
    assert backend_id(keyring.core.load_keyring(FILE_STORE)) == FILE_STORE  # by name: yes


def test_default_path_agrees_with_the_data_folder(home: Path) -> None:
    from mcpcred.paths import data_dir

    assert default_path(os.environ) == str(data_dir() / "store.enc")
    assert default_path({**os.environ, "MCPCRED_STORE_FILE": "/x/y"}) == "/x/y"


def test_kdf_cost_is_within_the_budget() -> None:
    """About 0.1 s on a quiet 2-core machine (the issue's budget: 150 ms). CPU time is what
    is asserted: wall time on a shared runner measures the other jobs too."""
    import time

    kdf = filestore.new_kdf()
    walls, cpus = [], []
    for _ in range(3):
        wall, cpu = time.perf_counter(), time.process_time()
        filestore.derive(kdf, "passphrase")
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(f"\nKDF {kdf['name']}: {min(walls) * 1000:.0f} ms wall, {min(cpus) * 1000:.0f} ms CPU")
    assert min(cpus) < 0.4  # all lanes' threads together; ~120 ms here


def test_the_shims_vault_reads_writes_and_deletes(filled: str) -> None:
    """Refreshed tokens and the guard's key go through this port in the shim."""
    from mcpcred.keychain.vault import FileStoreVault

    vault = FileStoreVault(FileStore(filled, PASS))
    assert vault.read(["api", "absent"]) == {"api": VALUE}
    vault.write("oauth:x", "token-1")
    vault.write("oauth:x", "token-2")
    assert FileStore(filled, PASS).read(["oauth:x"]) == {"oauth:x": "token-2"}
    assert vault.delete("oauth:x") is True
    assert vault.delete("oauth:x") is False
    assert FileStore(filled, PASS).names() == ["api", "other"]


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"kdf": 1}',
        b"\xff\xfe",
        b'{"check":"","items":{},"kdf":{}}',
    ],
)
def test_a_hostile_body_with_a_matching_digest_is_corrupt_not_a_crash(
    body: bytes, path: str
) -> None:
    import hashlib

    body += b"\n"
    data = f"mcpcred-store 1 {len(body)} {hashlib.sha256(body).hexdigest()}\n".encode() + body
    with pytest.raises(StoreFileCorrupt):
        parse(data, path)


def test_rekey_keeps_every_item_and_retires_the_old_passphrase(filled: str) -> None:
    old_id = parse(Path(filled).read_bytes(), filled).key_id()
    FileStore(filled, PASS).rekey("a brand new passphrase")
    doc = parse(Path(filled).read_bytes(), filled)
    assert doc.key_id() != old_id
    with pytest.raises(WrongPassphrase):
        FileStore(filled, PASS).read(["api"])
    new = {"MCPCRED_PASSPHRASE": "a brand new passphrase"}
    assert FileStore(filled, new).read(["api", "other"]) == {"api": VALUE, "other": "second value"}
    assert b"a brand new passphrase" not in Path(filled).read_bytes()


def test_the_shims_read_imports_no_base64_or_importlib(filled: str, tmp_path: Path) -> None:
    """Each of them cost the shim 0.5-2 ms per server start (issue 14, §3).

    ``hashlib`` and ``json`` are loaded: the whole-file MAC is checked on every
    read, with the stdlib's ``hmac`` over the canonical JSON of the fields;
    integrity is worth their ~3 ms.
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from mcpcred.keychain.filestore import FileStore\n"
        f"env = {{**{PASS!r}, 'MCPCRED_RUNTIME_DIR': {str(tmp_path)!r}}}\n"
        f"assert FileStore({filled!r}, env).read(['api'], ()) == {{'api': {VALUE!r}}}\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    loaded = set(done.stdout.split())
    assert not loaded & {"base64", "importlib"}, loaded
    assert "hmac" in loaded  # the MAC was checked


def test_the_digest_without_hashlib_is_sha256() -> None:
    import hashlib

    for data in (b"", b"abc", os.urandom(5000)):
        assert filestore._sha256_hex(data) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1}\n',
        b' [1, 2.5, {"x": "\\u00e9"}, null, true, false] ',
        b'{"a":{"b":[]}}',
        b'{"a":1}x',
        b"",
        b"   ",
        b'{"a":',
        b'{"a":1,}',
        b"[" * 100_000,
        '{"\u00e9":1}'.encode(),
        b"\xff",
    ],
)
def test_the_store_parser_agrees_with_json(body: bytes) -> None:
    """``_loads`` (the C scanner, without importing json) accepts and refuses what json does."""
    try:
        expected: object = json.loads(body)
    except (ValueError, RecursionError) as exc:
        expected = type(exc)
    try:
        got: object = filestore._loads(body)
    except (ValueError, RecursionError) as exc:
        got = type(exc)
    if isinstance(expected, type):
        assert isinstance(got, type) and issubclass(got, (ValueError, RecursionError))
    else:
        assert got == expected


def test_the_key_id_is_the_one_json_would_give(filled: str) -> None:
    import hashlib

    doc = FileStore(filled, PASS).load()
    assert doc is not None
    canon = json.dumps(doc.kdf, sort_keys=True, separators=(",", ":")).encode()
    assert doc.key_id() == hashlib.sha256(filestore._KEY_ID + canon).hexdigest()[:32]
    assert filestore._canonical({'odd"key': 1}) == b'{"odd\\"key":1}'


# -- the MAC (format version 2): tampering by someone who can write the file, without the key


def _rewrite(path: str, change: Callable[[filestore.Document], None]) -> bytes:
    """Change the file as an attacker without the key can: parse, edit, re-encode (a valid
    header and digest), keep the old MAC."""
    doc = parse(Path(path).read_bytes(), path)
    change(doc)
    data = doc.encode()
    Path(path).write_bytes(data)
    return data


def _drop_other(doc: filestore.Document) -> None:
    del doc.items[SERVICE]["other"]


def test_a_deleted_item_is_tampering_not_not_found(filled: str) -> None:
    tampered = _rewrite(filled, _drop_other)
    store = FileStore(filled, PASS)
    with pytest.raises(StoreFileTampered, match="its MAC does not match"):
        store.read(["api"])
    with pytest.raises(StoreFileTampered):  # the deleted name itself, with a key at hand
        store.read(["other"])
    with pytest.raises(StoreFileTampered):
        FileStore(filled, PASS).get(SERVICE, "other")
    with pytest.raises(SecretNotFound):  # no key source: absence cannot be verified
        FileStore(filled, {}).read(["other"])
    for write in (
        lambda s: s.set(SERVICE, "new", "x"),
        lambda s: s.delete(SERVICE, "api"),
        lambda s: s.rekey("another passphrase"),
    ):
        with pytest.raises(StoreFileTampered):
            write(FileStore(filled, PASS))
    assert Path(filled).read_bytes() == tampered  # never overwritten


def test_an_added_or_rolled_back_item_or_a_changed_mac_is_tampering(filled: str) -> None:
    old_api = parse(Path(filled).read_bytes(), filled).items[SERVICE]["api"]
    FileStore(filled, PASS).set(SERVICE, "api", "rotated value")
    current = Path(filled).read_bytes()

    def put_back_old_api(doc: filestore.Document) -> None:
        doc.items[SERVICE]["api"] = old_api  # a genuine sealed value, for the same name

    def add_a_copy(doc: filestore.Document) -> None:
        doc.items.setdefault("another-service", {})["api"] = doc.items[SERVICE]["api"]

    def flip_mac(doc: filestore.Document) -> None:
        doc.mac = ("0" if doc.mac and doc.mac[0] != "0" else "1") + (doc.mac or "")[1:]

    for change in (put_back_old_api, add_a_copy, flip_mac):
        Path(filled).write_bytes(current)
        _rewrite(filled, change)
        with pytest.raises(StoreFileTampered) as caught:
            FileStore(filled, PASS).read(["other"])
        assert "\n" not in caught.value.message and VALUE not in caught.value.message
    Path(filled).write_bytes(current)
    assert FileStore(filled, PASS).read(["api"]) == {"api": "rotated value"}


def test_a_whole_older_copy_still_opens_rollback_is_not_detected(filled: str) -> None:
    """Documented in docs/stores.md: one file cannot know about later ones."""
    older = Path(filled).read_bytes()
    FileStore(filled, PASS).set(SERVICE, "api", "rotated value")
    Path(filled).write_bytes(older)
    assert FileStore(filled, PASS).read(["api"]) == {"api": VALUE}


def _version_1(path: str, items: dict[str, str]) -> filestore.Document:
    """A store file as mcpcred wrote it before the MAC (format version 1)."""
    kdf = filestore.new_kdf()
    key = filestore.derive(kdf, PASS["MCPCRED_PASSPHRASE"])
    doc = filestore.Document(kdf, filestore.make_check(key, 1), {}, version=1)
    doc.items[SERVICE] = {n: filestore.seal(key, SERVICE, n, v, 1) for n, v in items.items()}
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Path(path).write_bytes(doc.encode())
    return doc


def test_a_version_1_file_is_read_then_rewritten_as_version_2_by_the_next_write(
    path: str,
) -> None:
    old = _version_1(path, {"api": VALUE, "other": "second value"})
    assert Path(path).read_bytes().startswith(b"mcpcred-store 1 ")
    assert FileStore(path, PASS).read(["api", "other"]) == {"api": VALUE, "other": "second value"}
    assert Path(path).read_bytes().startswith(b"mcpcred-store 1 ")  # reading writes nothing
    FileStore(path, PASS).set(SERVICE, "new", "third")
    doc = parse(Path(path).read_bytes(), path)
    assert doc.version == 2 and doc.mac is not None
    assert doc.key_id() == old.key_id()  # same key: an unlocked agent keeps working
    assert FileStore(path, PASS).read(["api", "other", "new"]) == {
        "api": VALUE,
        "other": "second value",
        "new": "third",
    }
    _rewrite(path, _drop_other)
    with pytest.raises(StoreFileTampered):
        FileStore(path, PASS).read(["api"])


def test_a_version_2_file_relabelled_as_version_1_does_not_open(filled: str) -> None:
    """Stripping the MAC and calling the file version 1 is tampering, not an old file."""

    def downgrade(doc: filestore.Document) -> None:
        doc.version, doc.mac = 1, None
        del doc.items[SERVICE]["other"]

    _rewrite(filled, downgrade)
    assert Path(filled).read_bytes().startswith(b"mcpcred-store 1 ")
    with pytest.raises(StoreFileTampered, match="relabelled"):
        FileStore(filled, PASS).read(["api"])


def test_cached_keys_bare_or_with_a_wrong_subkey_still_verify_the_mac(
    filled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpcred.keychain import keysource

    doc = parse(Path(filled).read_bytes(), filled)
    key = filestore.derive(doc.kdf, PASS["MCPCRED_PASSPHRASE"])
    for held in (key, key + b"\x00" * 32, filestore.material(key)):
        monkeypatch.setattr(keysource, "cached_key", lambda kid, env, held=held: ("test", held))
        assert FileStore(filled, {}).read(["api"]) == {"api": VALUE}
    _rewrite(filled, _drop_other)
    with pytest.raises(StoreFileTampered):
        FileStore(filled, {}).read(["api"])


def test_a_relabelled_file_is_tampering_for_a_cached_key_too(
    filled: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcpcred.keychain import keysource

    doc = parse(Path(filled).read_bytes(), filled)
    held = filestore.material(filestore.derive(doc.kdf, PASS["MCPCRED_PASSPHRASE"]))
    monkeypatch.setattr(keysource, "cached_key", lambda kid, env: ("the mcpcred agent", held))

    def downgrade(doc: filestore.Document) -> None:
        doc.version, doc.mac = 1, None

    _rewrite(filled, downgrade)
    with pytest.raises(StoreFileTampered, match="relabelled"):
        FileStore(filled, {}).read(["api"])


@pytest.mark.parametrize(
    "change",
    [
        lambda body: body.pop("mac"),  # version 2 without its MAC
        lambda body: body.update(mac="Z" * 64),  # not hex
        lambda body: body.update(mac=body["mac"][:-2]),  # short
        lambda body: body.update(mac=1),  # not a string
        lambda body: body.update(extra="field"),  # a field this version does not know
    ],
)
def test_a_bad_mac_field_is_corrupt_before_any_key_is_asked(
    filled: str, change: Callable[[dict[str, object]], object]
) -> None:
    import hashlib

    raw = Path(filled).read_bytes()
    body = json.loads(raw.split(b"\n", 1)[1])
    change(body)
    text = json.dumps(body).encode() + b"\n"
    data = f"mcpcred-store 2 {len(text)} {hashlib.sha256(text).hexdigest()}\n".encode() + text
    with pytest.raises(StoreFileCorrupt) as caught:
        parse(data, filled)
    assert not isinstance(caught.value, StoreFileTampered)  # damage, found without a key


def test_a_version_1_file_can_change_its_passphrase_into_version_2(path: str) -> None:
    _version_1(path, {"api": VALUE})
    FileStore(path, PASS).rekey("a brand new passphrase")
    doc = parse(Path(path).read_bytes(), path)
    assert doc.version == 2
    new = {"MCPCRED_PASSPHRASE": "a brand new passphrase"}
    assert FileStore(path, new).read(["api"]) == {"api": VALUE}
