"""The encrypted file store: secrets in one passphrase-protected file, for machines with
no OS keychain (SSH sessions, dev containers, CI, WSL without a Secret Service).

It is never chosen silently: the user opts in (``mcpcred store init --file``, or
``MCPCRED_PASSPHRASE``/``MCPCRED_PASSPHRASE_FILE`` where no keychain answers).

The file (``store.enc`` in the data folder, or ``$MCPCRED_STORE_FILE``)::

    mcpcred-store 2 <body length> <SHA-256 of the body, hex>\\n
    {"check": ..., "items": {"mcpcred": {"NAME": ...}}, "kdf": {...}, "mac": ...}\\n

- the header carries the format version (a newer one is refused before anything
  else is read) and the body's length and digest, so that a cut file reads as
  *truncated* and a damaged one as *corrupt*, never as a wrong passphrase;
- ``kdf``: Argon2id (where the installed ``cryptography`` has it) or scrypt, with
  its parameters and a random 16-byte salt, so a later mcpcred can raise the cost
  without breaking older files; the derived 32-byte key never touches the disk;
- ``check``: an AES-256-GCM tag over nothing, with a fixed associated data: it tells a
  wrong passphrase from a damaged file, and lets a cached key (agent, kernel keyring)
  be verified before use;
- each item is ``nonce || AES-256-GCM(value)`` with the service and the secret's name
  as associated data, so a value moved to another name fails to open. Names are
  visible (as in ``secrets.json``), values never are;
- ``mac`` (version 2): HMAC-SHA256 over the whole body but itself (key check, KDF
  parameters, every item and the version), under a subkey of the file's key (HKDF,
  from ``cryptography``). The header's digest tells damage from a wrong passphrase
  without a key; the MAC tells *tampering*: someone who can write the file but has
  no key cannot delete, add, reorder or swap in items (an old item's sealed value
  included) without it showing. Putting back an older whole copy stays possible:
  nothing in one file can know about later ones.

Version 1 files (no MAC, older associated data) are still read, and rewritten as
version 2 by the next write, which re-seals every item; a version 2 file cannot be
passed off as version 1, because the key check and the items of version 2 use
associated data that version 1 does not open.

Every write happens under a lock file next to the store, re-reads the file under
that lock (so concurrent writers never drop each other's secrets), and replaces it
atomically (temp file in the same folder, fsync, rename, 0600). A file that cannot
be read, or opened with the key, is never overwritten.

Imports: stdlib and ``cryptography`` only, and those lazily: the shim reads this.
"""

from __future__ import annotations

import os

from mcpcred.errors import (
    FileStoreLocked,
    KeychainTimeout,
    SecretCorrupt,
    SecretNotFound,
    SecretStoreError,
    StoreFileCorrupt,
    StoreFileTampered,
    StoreFileTooNew,
    StoreFileTruncated,
    WrongPassphrase,
)
from mcpcred.keychain import keysource
from mcpcred.keychain.storefile import FILE_NAME as FILE_NAME  # re-exported
from mcpcred.keychain.storefile import STORE_FILE_VAR as STORE_FILE_VAR
from mcpcred.keychain.storefile import default_path as default_path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from mcpcred.oauth.lock import held

MAGIC = "mcpcred-store"
VERSION = 2  # the version written; VERSIONS are read
VERSIONS = (1, 2)
SERVICE = "mcpcred"
KEY_LENGTH = 32
NONCE_LENGTH = 12
SALT_LENGTH = 16
LOCK_TIMEOUT = 20.0

# About 0.1 s on a 2-core CI runner (measured: Argon2id 64 MiB x 2 passes x 4 lanes
# 83-104 ms; scrypt N=2^15 87 ms). Stronger than OWASP's minimums for both.
ARGON2ID = {"name": "argon2id", "iterations": 2, "lanes": 4, "memory_cost": 65536}
SCRYPT = {"name": "scrypt", "n": 2**15, "r": 8, "p": 1}
# Bounds a file's parameters must respect: a hostile or damaged file must not make
# every server start allocate gigabytes or spin for minutes.
_LIMITS = {
    "iterations": (1, 64),
    "lanes": (1, 64),
    "memory_cost": (8, 4 * 1024 * 1024),
    "n": (2, 2**22),
    "r": (1, 64),
    "p": (1, 16),
}

# Associated data per version: a version 2 key check or item never opens as version 1,
# so stripping the MAC and relabelling the file as version 1 does not get past it.
_CHECK_AAD = {1: b"mcpcred-store/1 key check", 2: b"mcpcred-store/2 key check"}
_ITEM_AAD = {1: b"mcpcred-store/1 item\x00", 2: b"mcpcred-store/2 item\x00"}
_MAC_INFO = b"mcpcred-store/2 table mac"  # HKDF info: the MAC's subkey
_MAC_PREFIX = b"mcpcred-store/2 mac\x00"
_KEY_ID = b"mcpcred-store key id\x00"
_BACKUP_HINT = "restore it from a backup (mcpcred never overwrites a store file it cannot read)"


# -- the format ---------------------------------------------------------------------------


class Document:
    """A parsed store file: KDF parameters, the key check, sealed items by service, and (in
    version 2) the MAC over all of it."""

    __slots__ = ("check", "items", "kdf", "mac", "version")

    def __init__(
        self,
        kdf: dict[str, object],
        check: str,
        items: dict[str, dict[str, str]],
        *,
        version: int = VERSION,
        mac: str | None = None,
    ):
        self.kdf = kdf
        self.check = check
        self.items = items
        self.version = version
        self.mac = mac

    def signed(self) -> bytes:
        """What the MAC covers: every field but the MAC, canonical, with the version."""
        import json

        fields = {
            "check": self.check,
            "items": self.items,
            "kdf": self.kdf,
            "version": self.version,
        }
        return _MAC_PREFIX + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def key_id(self) -> str:
        """The non-secret name of this file's key: changes with the salt (a new passphrase)."""
        return _sha256_hex(_KEY_ID + _canonical(self.kdf))[:32]

    def encode(self, mac_key: bytes | None = None) -> bytes:
        """The file's bytes: header line, then the body (signed first, given ``mac_key``)."""
        import json

        if mac_key is not None:
            self.mac = table_mac(mac_key, self)
        fields: dict[str, object] = {"check": self.check, "items": self.items, "kdf": self.kdf}
        if self.version >= 2:
            fields["mac"] = self.mac or ""
        body = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii") + b"\n"
        digest = _sha256_hex(body)
        return f"{MAGIC} {self.version} {len(body)} {digest}\n".encode("ascii") + body


def parse(data: bytes, path: str) -> Document:
    """A store file's bytes as a ``Document``; one distinct error per way it can be wrong."""
    prefix = MAGIC.encode() + b" "
    if not data or (len(data) < len(prefix) and prefix.startswith(data)):
        raise StoreFileTruncated(f"the store file {path} is empty or cut short", hint=_BACKUP_HINT)
    if not data.startswith(prefix):
        raise StoreFileCorrupt(
            f"{path} is not an mcpcred store file (or its first line is damaged)",
            hint=_BACKUP_HINT,
        )
    end = data.find(b"\n", 0, 256)
    head = data[: end if end >= 0 else 256].decode("ascii", "replace").split(" ")
    version = head[1] if len(head) > 1 else ""
    if version.isdigit() and len(version) < 6 and int(version) > VERSION:
        raise StoreFileTooNew(
            f"the store file {path} has format version {int(version)}; this mcpcred reads "
            f"versions up to {VERSION} only",
            hint="upgrade mcpcred on this machine (the file was not changed)",
        )
    if end < 0:
        if len(data) < 256:
            raise StoreFileTruncated(f"the store file {path} is cut short", hint=_BACKUP_HINT)
        raise StoreFileCorrupt(f"the store file {path} has a damaged header", hint=_BACKUP_HINT)
    known = [str(v) for v in VERSIONS]
    if len(head) != 4 or version not in known or not head[2].isdigit() or len(head[3]) != 64:
        raise StoreFileCorrupt(f"the store file {path} has a damaged header", hint=_BACKUP_HINT)
    body = data[end + 1 :]
    length = int(head[2])
    if len(body) < length:
        raise StoreFileTruncated(
            f"the store file {path} is cut short ({len(body)} of {length} bytes)",
            hint=_BACKUP_HINT,
        )
    if len(body) > length:
        raise StoreFileCorrupt(
            f"the store file {path} has extra bytes after its end", hint=_BACKUP_HINT
        )
    if _sha256_hex(body) != head[3].lower():
        raise StoreFileCorrupt(
            f"the store file {path} is damaged (its digest does not match)", hint=_BACKUP_HINT
        )
    return _document(body, path, int(version))


def _sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` in hex, without importing ``hashlib`` if this Python allows.

    ``hashlib`` loads OpenSSL's libcrypto through ``_hashlib`` (~2.5 ms of every
    shim start on the file store's path, next to the OpenSSL cryptography already
    brings); CPython's own SHA-256 module gives the same digest for a file this small
    at no import cost. ``hashlib`` remains the fallback (a build without the module).
    """
    try:
        from _sha256 import sha256  # type: ignore[import-not-found,unused-ignore]  # 3.11
    except ImportError:
        try:
            from _sha2 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # pragma: no cover - depends on the build
            from hashlib import sha256
    digest: str = sha256(data).hexdigest()
    return digest


def _canonical(kdf: dict[str, object]) -> bytes:
    """``json.dumps(kdf, sort_keys=True, separators=(",", ":"))``, without importing json.

    The shim computes the key id on every start from the file store, and ``json``
    costs ~1-2 ms to import (it compiles six regular expressions). A parsed file's
    parameters are only known ASCII keys, ints and base64 or known-name strings
    (``_document`` checks them), which JSON writes verbatim in quotes; anything
    else (a document built in code) goes through ``json`` as before.
    """
    parts = []
    for name in sorted(kdf):
        value = kdf[name]
        if not _b64ish(name):
            break
        if isinstance(value, int) and not isinstance(value, bool):
            parts.append(f'"{name}":{value}')
        elif isinstance(value, str) and _b64ish(value):
            parts.append(f'"{name}":"{value}"')
        else:
            break
    else:
        return ("{" + ",".join(parts) + "}").encode("ascii")
    import json

    return json.dumps(kdf, sort_keys=True, separators=(",", ":")).encode()


def _b64ish(value: str) -> bool:
    """Only characters JSON writes as they are: letters, digits, ``+/=-_``."""
    return value.isascii() and all(c.isalnum() or c in "+/=-_" for c in value)


def _loads(body: bytes) -> object:
    """``json.loads(body)`` for a UTF-8 body, through CPython's C scanner directly.

    Importing ``json`` costs the shim ~1-2 ms on every start from the file store
    (its decoder and encoder modules compile six regular expressions); the C
    scanner they wrap is in ``_json``. Same grammar, same limits (a hostile,
    deeply nested body still raises RecursionError), except that NaN and
    Infinity are refused and the body must be UTF-8 (the store writes ASCII).
    Errors are ``ValueError``s, as with ``json``.
    """
    try:
        from _json import make_scanner
    except ImportError:  # pragma: no cover - a Python without the C accelerator
        import json

        return json.loads(body)
    text = body.decode("utf-8")
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = make_scanner(_ScanContext)(text, start)  # type: ignore[arg-type]
    except StopIteration:
        raise ValueError("not JSON") from None
    if text[end:].strip(" \t\n\r"):
        raise ValueError("extra data after the JSON value")
    return value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not allowed")


class _ScanContext:
    """The settings ``_json.make_scanner`` reads (those of ``json.loads``' defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_no_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 (read by the C scanner, never written here)


def _document(body: bytes, path: str, version: int) -> Document:
    def bad(what: str) -> StoreFileCorrupt:
        return StoreFileCorrupt(f"the store file {path} is damaged ({what})", hint=_BACKUP_HINT)

    try:
        data = _loads(body)
    except (ValueError, RecursionError):  # RecursionError: a hostile, deeply nested body
        raise bad("its body is not JSON") from None
    if not isinstance(data, dict):
        raise bad("its body is not an object")
    kdf, check, items = data.get("kdf"), data.get("check"), data.get("items")
    if not isinstance(kdf, dict) or not isinstance(check, str) or not isinstance(items, dict):
        raise bad("a field is missing")
    mac = data.get("mac")
    expected = {"check", "items", "kdf"} | ({"mac"} if version >= 2 else set())
    if set(data) != expected:
        raise bad("unexpected or missing fields")
    if version >= 2 and not (
        isinstance(mac, str) and len(mac) == 64 and all(c in "0123456789abcdef" for c in mac)
    ):
        raise bad("bad MAC field")
    name = kdf.get("name")
    wanted = {"argon2id": ARGON2ID, "scrypt": SCRYPT}.get(name) if isinstance(name, str) else None
    if wanted is None:
        raise bad("unknown key derivation")
    for field in wanted:
        if field == "name":
            continue
        value = kdf.get(field)
        low, high = _LIMITS[field]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise bad(f"key derivation parameter {field} out of range")
    salt = kdf.get("salt")
    if not isinstance(salt, str) or not 16 <= len(_unb64(salt, bad)) <= 64:
        raise bad("bad salt")
    if kdf.get("length") != KEY_LENGTH or set(kdf) != {*wanted, "salt", "length"}:
        raise bad("unexpected key derivation fields")
    if len(_unb64(check, bad)) != NONCE_LENGTH + 16:
        raise bad("bad key check")
    for service, names in items.items():
        if not isinstance(names, dict):
            raise bad("bad item table")
        for item, sealed in names.items():
            if not isinstance(sealed, str) or len(_unb64(sealed, bad)) < NONCE_LENGTH + 16:
                raise bad(f"item {service}/{item} is malformed")
    return Document(kdf, check, items, version=version, mac=mac if version >= 2 else None)


def _unb64(text: str, bad: Callable[[str], StoreFileCorrupt]) -> bytes:
    import binascii

    try:
        return binascii.a2b_base64(text.encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError):
        raise bad("bad base64") from None


def _b64(data: bytes) -> str:
    import binascii  # what base64 calls, without importing base64 (and struct) on every start

    return binascii.b2a_base64(data, newline=False).decode("ascii")


# -- the crypto (all of it from ``cryptography``) -------------------------------------------


def new_kdf() -> dict[str, object]:
    """Fresh KDF parameters with a random salt: Argon2id if available, else scrypt."""
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the installed cryptography
        chosen: dict[str, object] = dict(SCRYPT)
    else:
        chosen = dict(ARGON2ID)
    chosen["salt"] = _b64(os.urandom(SALT_LENGTH))
    chosen["length"] = KEY_LENGTH
    return chosen


def derive(kdf: Mapping[str, object], passphrase: str) -> bytes:
    """The 32-byte key for ``passphrase`` under a file's KDF parameters (~0.1 s)."""
    import binascii
    import unicodedata

    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    salt = binascii.a2b_base64(str(kdf["salt"]))

    def num(field: str) -> int:
        value = kdf[field]
        assert isinstance(value, int)  # noqa: S101 (checked by parse)
        return value

    if kdf["name"] == "argon2id":
        try:
            from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
        except ImportError:  # pragma: no cover - depends on the installed cryptography
            raise SecretStoreError(
                "the store file uses Argon2id, which the installed cryptography lacks",
                hint="upgrade the cryptography package (44 or later) in mcpcred's environment",
            ) from None
        return Argon2id(
            salt=salt,
            length=KEY_LENGTH,
            iterations=num("iterations"),
            lanes=num("lanes"),
            memory_cost=num("memory_cost"),
        ).derive(secret)
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    return Scrypt(salt=salt, length=KEY_LENGTH, n=num("n"), r=num("r"), p=num("p")).derive(secret)


def _aead(key: bytes) -> AESGCM:
    """``cryptography``'s AES-256-GCM for ``key``.

    The public module (``primitives.ciphers.aead``) costs the shim ~19 ms of imports
    (``typing``, ``cryptography.utils``) on every server start; the class it re-exports
    lives in the Rust binding, which loads in ~5 ms. Same class (a test checks that
    they are one object); the public import remains the fallback should a release
    move it.
    """
    try:
        from cryptography.hazmat.bindings._rust import openssl

        fast: type[AESGCM] = openssl.aead.AESGCM
    except (ImportError, AttributeError):  # pragma: no cover - depends on the release
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        return AESGCM(key)
    return fast(key)


def _invalid_tag(exc: Exception) -> bool:
    """Whether ``exc`` is cryptography's ``InvalidTag`` (imported only on a failure)."""
    from cryptography.exceptions import InvalidTag

    return isinstance(exc, InvalidTag)


def make_check(key: bytes, version: int = VERSION) -> str:
    """The key check for ``key``: a GCM tag over nothing under a fixed associated data."""
    nonce = os.urandom(NONCE_LENGTH)
    return _b64(nonce + _aead(key).encrypt(nonce, b"", _CHECK_AAD[version]))


def mac_key(key: bytes) -> bytes:
    """The MAC's subkey of a file's key: HKDF-SHA256 from ``cryptography``.

    Imported here only: ``cryptography``'s hash classes cost a fresh process ~14 ms
    of imports (``typing``), so the subkey travels with the key through the agent and
    the kernel keyring (``material``) and a shim with an unlocked store never pays it.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_LENGTH, salt=None, info=_MAC_INFO).derive(key)


def material(key: bytes) -> bytes:
    """What the agent and the kernel keyring hold for a file: the key, then its MAC subkey."""
    return key + mac_key(key)


def table_mac(subkey: bytes, doc: Document) -> str:
    """HMAC-SHA256 of everything in ``doc`` but its MAC (stdlib ``hmac``: a standard
    construction, not a primitive of mcpcred's own; ``cryptography``'s costs the shim
    the imports ``mac_key`` describes)."""
    import hashlib
    import hmac

    return hmac.new(subkey, doc.signed(), hashlib.sha256).hexdigest()


def _relabelled(doc: Document, version: int) -> Document:
    """``doc`` read as another version (to tell a downgraded file from a wrong passphrase)."""
    return Document(doc.kdf, doc.check, doc.items, version=version, mac=doc.mac)


def opens(doc: Document, key: bytes) -> bool:
    """Whether ``key`` is this file's key (its check verifies)."""
    import binascii

    if len(key) != KEY_LENGTH:
        return False
    sealed = binascii.a2b_base64(doc.check)
    try:
        _aead(key).decrypt(sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:], _CHECK_AAD[doc.version])
    except Exception as exc:
        if _invalid_tag(exc):
            return False
        raise
    return True


def _aad(service: str, name: str, version: int) -> bytes:
    return _ITEM_AAD[version] + service.encode("utf-8") + b"\x00" + name.encode("utf-8")


def seal(key: bytes, service: str, name: str, value: str, version: int = VERSION) -> str:
    """``value`` encrypted for ``service``/``name`` (a fresh random nonce every time)."""
    nonce = os.urandom(NONCE_LENGTH)
    data = value.encode("utf-8")
    return _b64(nonce + _aead(key).encrypt(nonce, data, _aad(service, name, version)))


def unseal(
    key: bytes, service: str, name: str, sealed: str, path: str, version: int = VERSION
) -> str:
    """The value of one item; a tag that fails with a verified key means a damaged item."""
    import binascii

    raw = binascii.a2b_base64(sealed)
    try:
        data: bytes = _aead(key).decrypt(
            raw[:NONCE_LENGTH], raw[NONCE_LENGTH:], _aad(service, name, version)
        )
        return data.decode("utf-8")
    except Exception as exc:
        if not isinstance(exc, UnicodeDecodeError) and not _invalid_tag(exc):
            raise
        raise StoreFileCorrupt(
            f"secret '{name}' in the store file {path} is damaged (it does not decrypt)",
            hint=f"store it again: mcpcred secret set {name}",
        ) from None


# -- the store ------------------------------------------------------------------------------


class FileStore:
    """Read and write one store file; the key comes from ``keysource`` (or ``ask``).

    ``ask``, given by the CLI when a person is at a terminal, prompts for the
    passphrase when no agent, kernel keyring or variable has it; the shim never
    passes one. A derived key is kept for the life of this object only.
    """

    def __init__(
        self,
        path: str,
        environ: Mapping[str, str],
        *,
        ask: Callable[[str], str] | None = None,
        lock_timeout: float = LOCK_TIMEOUT,
    ) -> None:
        self.path = path
        self.environ = environ
        self.ask = ask
        self.lock_timeout = lock_timeout
        self.key_source: str | None = None  # where the key came from, once known
        self._keys: dict[str, tuple[bytes, bytes]] = {}  # key id -> (key, MAC subkey)

    @property
    def where(self) -> str:
        """This store as messages name it (never "the keychain": the user must look here)."""
        return f"the file store ({self.path})"

    # -- reading ---------------------------------------------------------------------------
    def exists(self) -> bool:
        """Whether the store file exists."""
        return os.path.exists(self.path)

    def load(self) -> Document | None:
        """The parsed file, or None when there is none."""
        try:
            with open(self.path, "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise SecretStoreError(
                f"cannot read the store file {self.path}: {exc.strerror or type(exc).__name__}",
                hint="check the file's owner and permissions",
            ) from None
        return parse(data, self.path)

    def key(self, doc: Document) -> bytes:
        """This file's key from the first source that has it, verified by the key check,
        after checking ``doc``'s MAC with it (``StoreFileTampered`` when that fails)."""
        kid = doc.key_id()
        known = self._keys.get(kid)
        if known is None:
            known = self._find(doc, kid)
        if not self._intact(doc, known[1]):
            fresh = mac_key(known[0])  # a cache holding a wrong subkey is not the file's fault
            if fresh == known[1] or not self._intact(doc, fresh):
                raise StoreFileTampered(
                    f"the store file {self.path} was changed by something without its key "
                    "(items removed, added or swapped): its MAC does not match",
                    hint="restore it from a backup you trust; nothing was changed",
                )
            known = self._keys[kid] = (known[0], fresh)
        return known[0]

    @staticmethod
    def _intact(doc: Document, subkey: bytes) -> bool:
        """Whether ``doc``'s MAC verifies under ``subkey`` (version 1 files have none)."""
        import hmac

        if doc.version < 2:
            return True
        return hmac.compare_digest(table_mac(subkey, doc), doc.mac or "")

    def _find(self, doc: Document, kid: str) -> tuple[bytes, bytes]:
        """The key and its MAC subkey from the agent, the kernel keyring, a variable or the
        prompt; the key is verified by the key check before anything uses it."""
        cached = keysource.cached_key(kid, self.environ)
        if cached is not None:
            where, held = cached
            key, subkey = held[:KEY_LENGTH], held[KEY_LENGTH:]
            if len(held) in (KEY_LENGTH, 2 * KEY_LENGTH) and opens(doc, key):
                # A bare key: offered by an mcpcred from before the MAC (version 2).
                return self._keep(kid, key, subkey or mac_key(key), where)
            self._refuse_relabelled(doc, key)
        given = keysource.passphrase(self.environ)
        if given is None and self.ask is not None:
            given = (
                "the prompt",
                self.ask(f"passphrase for the mcpcred store {self.path}: "),
            )
        if given is None:
            raise FileStoreLocked(
                f"the file store {self.path} is locked: no agent or kernel keyring holds its "
                f"key (`mcpcred store unlock`), and neither {keysource.PASSPHRASE_VAR} nor "
                f"{keysource.PASSPHRASE_FILE_VAR} is set",
                hint=keysource.unset_hint(),
            )
        where, passphrase = given
        key = derive(doc.kdf, passphrase)
        if not opens(doc, key):
            self._refuse_relabelled(doc, key)
            raise WrongPassphrase(
                f"the passphrase from {where} does not open the file store {self.path}",
                hint="check the passphrase (the file itself is intact: only the key check failed)",
            )
        return self._keep(kid, key, mac_key(key), where)

    def _refuse_relabelled(self, doc: Document, key: bytes) -> None:
        """A key that opens an older-version file only as the current version: a current
        file relabelled to get rid of its MAC. Said as such, not as a wrong passphrase."""
        if doc.version < VERSION and opens(_relabelled(doc, VERSION), key[:KEY_LENGTH]):
            raise StoreFileTampered(
                f"the store file {self.path} is a version {VERSION} file relabelled as "
                f"version {doc.version} (its MAC stripped): it was changed without its key",
                hint="restore it from a backup you trust; nothing was changed",
            )

    def _keep(self, kid: str, key: bytes, subkey: bytes, where: str) -> tuple[bytes, bytes]:
        self._keys[kid] = (key, subkey)
        self.key_source = where
        return key, subkey

    def remember(self, doc: Document, key: bytes, where: str) -> None:
        """Use ``key`` (derived by the caller, checked with ``opens``) for ``doc``, after
        checking the file's MAC with it."""
        self._keep(doc.key_id(), key, mac_key(key), where)
        self.key(doc)

    def _verify_if_possible(self, doc: Document) -> None:
        """Check the MAC before saying a name is absent, when a key is at hand without a
        prompt: a deleted item must read as tampering, not as "not found". Without a
        key source the absence cannot be verified, and "not found" stands."""
        ask, self.ask = self.ask, None
        try:
            self.key(doc)
        except FileStoreLocked:
            pass
        finally:
            self.ask = ask

    def read(self, names: Sequence[str], optional: Sequence[str] = ()) -> dict[str, str]:
        """Values of ``names`` (each required) and of those ``optional`` names present.

        Only the wanted items are decrypted; the key is derived only if one is there.
        """
        doc = self.load()
        if doc is None and names:
            raise SecretNotFound(
                names[0],
                store=self.where,
                hint=f"there is no store file at {self.path}; `mcpcred store status` shows "
                "the store in use (MCPCRED_STORE_FILE must reach the client too)",
            )
        table = doc.items.get(SERVICE, {}) if doc is not None else {}
        for name in names:
            if name not in table:
                if doc is not None:
                    self._verify_if_possible(doc)
                raise SecretNotFound(name, store=self.where)
        present = [n for n in dict.fromkeys([*names, *optional]) if n in table]
        if not present or doc is None:
            return {}
        key = self.key(doc)
        values: dict[str, str] = {}
        for name in present:
            value = self._whole(key, table, name, doc.version)
            if value is not None:
                values[name] = value
            elif name in names:
                raise SecretCorrupt(
                    f"secret '{name}' is incomplete in the store file {self.path} "
                    "(its parts do not match)",
                    hint=f"store it again: mcpcred secret set {name}",
                )
        return values

    def _whole(self, key: bytes, table: dict[str, str], name: str, version: int) -> str | None:
        """A value with its parts joined (``chunks``: the CLI writes long values in parts)."""
        from mcpcred.keychain import chunks

        stored = unseal(key, SERVICE, name, table[name], self.path, version)
        count = chunks.parts_needed(stored)
        if not count:
            return stored
        parts: list[str] = []
        for index in range(1, count + 1):
            part = chunks.part_name(name, index)
            if part not in table:
                return None
            parts.append(unseal(key, SERVICE, part, table[part], self.path, version))
        return chunks.join(stored, parts)

    def get(self, service: str, name: str) -> str | None:
        """One value, or None."""
        doc = self.load()
        if doc is None:
            return None
        sealed = doc.items.get(service, {}).get(name)
        if sealed is None:
            self._verify_if_possible(doc)
            return None
        return unseal(self.key(doc), service, name, sealed, self.path, doc.version)

    def names(self, service: str = SERVICE) -> list[str]:
        """Every item name under ``service`` (names are not secret; no key needed, so the
        list is not verified by the MAC: reading a value is)."""
        doc = self.load()
        return sorted(doc.items.get(service, {})) if doc is not None else []

    # -- writing ---------------------------------------------------------------------------
    def set(self, service: str, name: str, value: str) -> None:
        """Store ``value``, replacing an earlier one (creating the file from a passphrase
        variable if there is none yet)."""

        def change(doc: Document, key: bytes) -> bool:
            doc.items.setdefault(service, {})[name] = seal(key, service, name, value)
            return True

        self._update(change, create=True)

    def put(self, name: str, value: str) -> None:
        """Store a whole value under an mcpcred name, dropping parts of an earlier long one
        (what the shim writes: refreshed tokens, the guard's key)."""

        def change(doc: Document, key: bytes) -> bool:
            table = doc.items.setdefault(SERVICE, {})
            for stale in [n for n in table if n.startswith(name + "#")]:
                del table[stale]
            table[name] = seal(key, SERVICE, name, value)
            return True

        self._update(change, create=True)

    def delete(self, service: str, name: str) -> bool:
        """Remove one item; False when it was not there."""
        found: list[bool] = []

        def change(doc: Document, key: bytes) -> bool:
            table = doc.items.get(service, {})
            found.append(table.pop(name, None) is not None)
            if not table:
                doc.items.pop(service, None)
            return found[0]

        if not self.exists():
            return False
        self._update(change, create=False)
        return bool(found and found[0])

    def create(self, passphrase: str) -> Document:
        """A new, empty store file for ``passphrase``; refuses to replace an existing one."""
        with self._writing():
            if self.exists():
                raise SecretStoreError(
                    f"a store file already exists at {self.path}; nothing was changed",
                    hint="use it (mcpcred store unlock), or move it away first",
                )
            doc = self._new(passphrase, "the passphrase given")
            self._write(doc)
            return doc

    def rekey(self, passphrase: str) -> Document:
        """Re-encrypt every item under a new passphrase (new salt, so a new key id: keys the
        agent or the kernel keyring hold for the old one are never used again)."""
        with self._writing():
            doc = self.load()
            if doc is None:
                raise SecretStoreError(
                    f"there is no store file at {self.path}",
                    hint="create it with `mcpcred store init --file`",
                )
            old = self.key(doc)
            plain = {
                service: {
                    n: unseal(old, service, n, sealed, self.path, doc.version)
                    for n, sealed in t.items()
                }
                for service, t in doc.items.items()
            }
            fresh = self._new(passphrase, "the new passphrase")
            key = self._keys[fresh.key_id()][0]
            fresh.items = {
                service: {n: seal(key, service, n, v) for n, v in table.items()}
                for service, table in plain.items()
            }
            self._write(fresh)
            return fresh

    def _new(self, passphrase: str, where: str) -> Document:
        kdf = new_kdf()
        key = derive(kdf, passphrase)
        doc = Document(kdf, make_check(key), {})
        subkey = self._keep(doc.key_id(), key, mac_key(key), where)[1]
        doc.mac = table_mac(subkey, doc)  # signed from the start, like every later write
        return doc

    def _upgrade(self, doc: Document, key: bytes) -> None:
        """A version 1 document as version 2, in place: every item re-sealed under version
        2's associated data, a new key check; the write then adds the MAC. Same key."""
        if doc.version >= VERSION:
            return
        doc.items = {
            service: {
                n: seal(key, service, n, unseal(key, service, n, sealed, self.path, doc.version))
                for n, sealed in table.items()
            }
            for service, table in doc.items.items()
        }
        doc.check = make_check(key, VERSION)
        doc.version = VERSION

    def _update(self, change: Callable[[Document, bytes], bool], *, create: bool) -> None:
        """Re-read under the lock, change, write atomically; nothing is written on failure."""
        with self._writing():
            doc = self.load()
            if doc is None:
                if not create:
                    return
                given = keysource.passphrase(self.environ)
                if given is None:
                    raise FileStoreLocked(
                        f"there is no store file at {self.path} yet",
                        hint="create it with `mcpcred store init --file` (or set "
                        f"{keysource.PASSPHRASE_VAR} to create it on first use)",
                    )
                doc = self._new(given[1], given[0])
            key = self.key(doc)
            version = doc.version
            self._upgrade(doc, key)
            if change(doc, key) or doc.version != version:
                self._write(doc)

    def _writing(self) -> AbstractContextManager[None]:
        """The lock, for a write; an OS error on the way (a read-only data folder, a full
        disk) is one line naming the store file, not an unexpected error."""
        import contextlib

        @contextlib.contextmanager
        def guarded() -> Iterator[None]:
            try:
                with self._locked():
                    yield
            except OSError as exc:
                raise SecretStoreError(
                    f"cannot write the file store {self.path}: "
                    f"{exc.strerror or type(exc).__name__}",
                    hint="the store file's folder must be writable (in a container, put the "
                    "data folder on a volume), or set MCPCRED_STORE_FILE to a writable place",
                ) from None

        return guarded()

    def _locked(self) -> held:
        from mcpcred.oauth.lock import held

        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            os.makedirs(folder, mode=0o700, exist_ok=True)
        path = self.path

        def stuck(what: str) -> Exception:
            return KeychainTimeout(
                f"another mcpcred process has held the file store {path} for over "
                f"{self.lock_timeout:g} s",
                hint="is another mcpcred command waiting for a passphrase? finish it, then retry",
            )

        return held(path + ".lock", timeout=self.lock_timeout, what=path, error=stuck)

    def _write(self, doc: Document) -> None:
        """Replace the file: temp file in the same folder, fsync, rename (0600), fsync folder."""
        import tempfile

        data = doc.encode(self._keys[doc.key_id()][1])
        folder = os.path.dirname(os.path.abspath(self.path))
        fd, temp = tempfile.mkstemp(prefix=".mcpcred-store-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(os, "fchmod"):
                    os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, self.path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        if os.name == "posix":
            dir_fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)


# -- reading for the agent ------------------------------------------------------------------


class _Held(FileStore):
    """One store file's parsed bytes, read with the key the agent holds for it.

    Never looks for a key anywhere else: the agent must not ask itself (``keysource``
    would), and has no passphrase to try. Never writes.
    """

    def __init__(self, doc: Document, path: str) -> None:
        super().__init__(path, {})
        self._doc = doc

    def load(self) -> Document:
        """The document the shim sent, not a file of the agent's choosing."""
        return self._doc

    def _find(self, doc: Document, kid: str) -> tuple[bytes, bytes]:
        raise FileStoreLocked(f"no key for the store file {self.path}")


def read_held(
    doc: Document,
    material: bytes | bytearray,
    names: Sequence[str],
    optional: Sequence[str] = (),
    path: str = "sent by the shim",
) -> dict[str, str] | None:
    """What the agent answers a shim's ``READ``: the values of ``names`` (each required)
    and of the ``optional`` names present in ``doc``, opened with ``material`` (what the
    agent holds for ``doc.key_id()``: the key, then its MAC subkey).

    The same checks as ``FileStore.read`` with a key from the agent: the key check, the
    whole-file MAC (``StoreFileTampered``), a required name missing (``SecretNotFound``,
    after the MAC, so a deleted item reads as tampering), a damaged item or torn parts.
    None when ``material`` does not open ``doc`` (a key for another passphrase, or a
    file relabelled to an older version): the shim then reads the store itself and says
    precisely what is wrong. ``material`` is copied into bytearrays that are wiped here.
    """
    if len(material) not in (KEY_LENGTH, 2 * KEY_LENGTH):
        return None
    key, subkey = bytearray(material[:KEY_LENGTH]), bytearray(material[KEY_LENGTH:])
    try:
        if not opens(doc, key):  # type: ignore[arg-type]  # any buffer does for the AEAD
            return None
        store = _Held(doc, path)
        mac = subkey or mac_key(bytes(key))  # a bare key: offered by an mcpcred before the MAC
        store._keep(doc.key_id(), key, mac, "the mcpcred agent")  # type: ignore[arg-type]
        return store.read(names, optional)
    finally:
        key[:] = bytes(len(key))
        subkey[:] = bytes(len(subkey))
