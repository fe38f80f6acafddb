"""Read secrets from the freedesktop Secret Service, fast enough for the shim.

The shim runs on every MCP server start and may add about 50 ms. Going through
``keyring`` costs 80-120 ms to import plus ~100 ms of backend discovery, and
``secretstorage`` opens a new connection and a Diffie-Hellman session per item
(~20 ms each), and even ``jeepney`` costs ~13 ms to import. This module speaks
the D-Bus protocol to the Secret Service through ``dbuswire`` (standard library
only): one connection, one session, one ``SearchItems`` per name (all sent
before the first reply is read) and a single ``GetSecrets`` for all of them.
It reads exactly what ``keyring`` writes (the ``service`` and ``username``
attributes) and the ``chunks`` layout on top.

Only the standard library is imported. ``keyring``, ``secretstorage``,
``jeepney`` and ``cryptography`` are never imported here: each one alone would
blow the budget.

Every outcome other than success is a typed ``SecretStoreError`` with a
one-line message that names secrets but never carries a value, because the
shim prints it to the MCP client's log.
"""

from __future__ import annotations

import time

from mcpcred.errors import (
    KeychainLocked,
    KeychainTimeout,
    KeychainUnavailable,
    SecretCorrupt,
    SecretNotFound,
    SecretStoreError,
)
from mcpcred.keychain import chunks, dbuswire

# ``typing`` costs ~3 ms at import; type checkers treat this constant like typing's.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

BUS_NAME = "org.freedesktop.secrets"
SERVICE_PATH = "/org/freedesktop/secrets"
SERVICE_IFACE = "org.freedesktop.Secret.Service"
SESSION_IFACE = "org.freedesktop.Secret.Session"
COLLECTION_IFACE = "org.freedesktop.Secret.Collection"
ITEM_IFACE = "org.freedesktop.Secret.Item"
# What ``keyring``'s SecretService backend puts in the ``application`` attribute.
KEYRING_APPID = "Python keyring library"

# A header announcing more parts than this is corrupt, not a 1 MB token; refuse
# it rather than send a million searches.
MAX_PARTS = 1024
# Any stored value starting like this is a chunk header, possibly of a layout
# version newer than ``chunks`` knows; handing it to a server as the secret
# would be wrong either way.
_CHUNK_MARK = "mcpcred-chunked:"

_NO_SERVICE_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.Spawn.",  # prefix: activation was tried and failed
)
_REFUSED_ERRORS = (
    "org.freedesktop.DBus.Error.UnknownObject",
    "org.freedesktop.DBus.Error.UnknownMethod",
    "org.freedesktop.DBus.Error.UnknownInterface",
    "org.freedesktop.DBus.Error.NotSupported",
    "org.freedesktop.DBus.Error.AccessDenied",
    "org.freedesktop.DBus.Error.Disconnected",
)
_TIMEOUT_ERRORS = (
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Timeout",
    "org.freedesktop.DBus.Error.TimedOut",
)
_LOCKED_ERRORS = ("org.freedesktop.Secret.Error.IsLocked",)
# The reply signature of each method called (the Secret Service API); anything else is refused.
_RETURNS = {
    "OpenSession": "vo",
    "SearchItems": "aoao",
    "ReadAlias": "o",
    "GetSecrets": "a{o(oayays)}",
    "CreateItem": "oo",
    "Delete": "o",
}
_CONNECT = "connect to the session bus"


def _no_bus_hint() -> str:
    """The hint for "no session bus to talk to", for this machine (imported on failure only)."""
    from mcpcred.keychain import hints

    return hints.no_store(shim=True)


def _no_service_hint() -> str:
    """The hint for "a bus, but no Secret Service serving on it"."""
    from mcpcred.keychain import hints

    return hints.no_secret_service()


def _locked_hint() -> str:
    """The hint for a locked collection: the desktop's prompt, or the unlock command."""
    from mcpcred.keychain import hints

    return hints.locked(shim=True)


def read_secrets(
    names: Sequence[str],
    *,
    address: str,
    service: str = "mcpcred",
    timeout: float = 5.0,
    optional: Sequence[str] = (),
) -> dict[str, str]:
    """The values of secrets ``names``, all read over one Secret Service session.

    All or nothing: the shim must not start a server with half its
    credentials, so the first problem (in the order of ``names``) is raised
    and no value is returned. ``timeout`` bounds the whole call, connection
    included, because an MCP client waits on the shim with no feedback.

    ``optional`` names (cached access tokens) are left out of the answer when
    they are missing or torn (another process may be rewriting them), rather
    than failing the read.
    """
    if not names and not optional:
        return {}
    session = Session(address, timeout, service)
    try:
        return session.read(names, optional=optional)
    finally:
        session.close()


def write_secrets(
    values: dict[str, str],
    *,
    address: str,
    service: str = "mcpcred",
    timeout: float = 5.0,
) -> None:
    """Store ``values`` the way ``keyring`` does (see ``Session.write``)."""
    if not values:
        return
    session = Session(address, timeout, service)
    try:
        session.write(values)
    finally:
        session.close()


class Session:
    """One connection and one Secret Service session, for several reads and writes.

    ``timeout`` bounds everything done through it, connection included.
    """

    def __init__(self, address: str, timeout: float, service: str = "mcpcred") -> None:
        if not address:
            raise KeychainUnavailable(
                "cannot reach the Secret Service: no D-Bus session bus address",
                hint=_no_bus_hint(),
            )
        self.service = service
        self.client = _Client(address, timeout)
        self._collection: str | None = None

    def _session(self) -> str:
        # "plain" (no transport encryption) is acceptable here: the session bus
        # is a local Unix socket that only this user may connect to (dbus-daemon
        # checks the peer's uid), and anyone able to watch its traffic (this
        # user, with dbus-monitor, or root) can just as well ask the daemon for
        # the secret directly, so Diffie-Hellman would protect against nobody.
        # It would cost an import of ``cryptography`` and a key exchange, which
        # is most of the ~20 ms ``secretstorage`` spends per item.
        return self.client.session()

    def read(self, names: Sequence[str], *, optional: Sequence[str] = ()) -> dict[str, str]:
        """Values of ``names`` (all required) and of the ``optional`` ones that exist."""
        wanted = list(dict.fromkeys([*names, *optional]))
        if not wanted:
            return {}
        extra = frozenset(optional) - set(names)
        self.client.start_session()  # in flight with the searches: one round trip for both
        return _read(self.client, wanted, self.service, extra)

    def write(self, values: dict[str, str]) -> None:
        """Store ``values`` in order, the way ``keyring`` does, chunked like ``SecretStore.set``.

        For the shim, which must store a rotated refresh token and the new access
        token without importing keyring (~80 ms). Items get keyring's attributes
        and label, so ``keyring`` and ``mcpcred secret`` see them as their own.
        Parts go first and the header last, so a reader never finds a header
        whose parts are not there yet; parts left over from a longer old value
        are deleted afterwards. Never prompts: a locked keyring is an error.
        """
        session = self._session()
        if self._collection is None:
            self._collection = self.client.default_collection()
        collection = self._collection
        service = self.service
        for name, value in values.items():
            old = _read(self.client, [name], service, frozenset([name]), parts=False)
            old_count = chunks.parts_needed(old.get(name, ""))
            head, parts = chunks.split(value)
            for index, part in enumerate(parts, start=1):
                self.client.create_item(
                    collection, session, service, chunks.part_name(name, index), part
                )
            self.client.create_item(collection, session, service, name, head)
            for index in range(len(parts) + 1, old_count + 1):
                self.client.delete_items(
                    {"service": service, "username": chunks.part_name(name, index)}
                )

    def close(self) -> None:
        """End the session and the connection."""
        try:
            self.client.close_session()
        finally:
            self.client.close()


def _read(
    client: _Client,
    names: list[str],
    service: str,
    optional: frozenset[str] = frozenset(),
    *,
    parts: bool = True,
) -> dict[str, str]:
    chosen = _locate(client, service, names, optional=optional)
    values = client.get_secrets(chosen)
    if not parts:
        return values
    headers: dict[str, int] = {}
    for name, value in list(values.items()):
        count = chunks.parts_needed(value)
        try:
            if count:
                if count > MAX_PARTS:
                    raise _corrupt(name, f"its header announces {count} parts")
                headers[name] = count
            elif value.startswith(_CHUNK_MARK):
                raise _corrupt(name, "it is stored in a layout this version of mcpcred cannot read")
        except SecretStoreError:
            if name not in optional:
                raise
            del values[name]
    if not headers:
        return values
    part_names = [
        chunks.part_name(name, index)
        for name, count in headers.items()
        for index in range(1, count + 1)
    ]
    optional_parts = frozenset(p for p in part_names if p.partition("#")[0] in optional)
    part_items = _locate(client, service, part_names, whole=False, optional=optional_parts)
    found = client.get_secrets(part_items)
    for name, count in headers.items():
        names_of_parts = [chunks.part_name(name, i) for i in range(1, count + 1)]
        joined = None
        if all(p in found for p in names_of_parts):
            joined = chunks.join(values[name], [found[p] for p in names_of_parts])
        if joined is None:
            if name in optional:
                del values[name]
                continue
            raise _corrupt(name, "its parts do not match its header, probably a torn write")
        values[name] = joined
    return values


def _locate(
    client: _Client,
    service: str,
    usernames: list[str],
    *,
    whole: bool = True,
    optional: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """The item path of each user name; raises for the first one that cannot be read."""
    answers = client.search_many([{"service": service, "username": u} for u in usernames])
    found = dict(zip(usernames, answers, strict=True))
    chosen: dict[str, str] = {}
    for username in usernames:
        unlocked, locked = found[username]
        name = username.partition("#")[0]
        if unlocked:
            chosen[username] = unlocked[0] if len(unlocked) == 1 else client.prefer(unlocked)
        elif username in optional and not locked:
            continue
        elif locked:
            raise KeychainLocked(
                f"the keychain is locked: secret '{name}' is in a locked collection",
                hint=_locked_hint(),
            )
        elif whole:
            raise SecretNotFound(name)
        else:
            raise _corrupt(name, f"part {username.rpartition('#')[2]} is missing")
    return chosen


def _corrupt(name: str, why: str) -> SecretStoreError:
    return SecretCorrupt(
        f"secret '{name}' cannot be read from the keychain: {why}",
        hint=f"store it again: mcpcred secret set {name}",
    )


class _Client:
    """One D-Bus connection to the session bus, with a deadline shared by all calls."""

    def __init__(self, address: str, timeout: float) -> None:
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self._alias: str | None = None
        self._session_serial: int | None = None
        self._session_path: str | None = None
        with self._errors(_CONNECT):
            try:
                self.conn = dbuswire.Connection(address, self.deadline)
            except ValueError:
                raise KeychainUnavailable(
                    f"cannot reach the Secret Service: unusable D-Bus address {address!r}",
                    hint=_no_bus_hint(),
                ) from None

    def call(
        self, path: str, iface: str, method: str, signature: str, *body: Any
    ) -> tuple[Any, ...]:
        """One method call on the Secret Service, its reply body, errors mapped.

        A reply of another signature than the method's (``_RETURNS``) is refused
        by the wire, so callers unpack the body safely.
        """
        with self._errors(method):
            serial = self.conn.send(path, iface, method, BUS_NAME, signature, body)
            return self.conn.reply(serial, _RETURNS[method])

    def start_session(self) -> None:
        """Send ``OpenSession`` (algorithm "plain") without waiting; ``session`` awaits it."""
        if self._session_serial is None and self._session_path is None:
            self._session_serial = self.conn.send(
                SERVICE_PATH, SERVICE_IFACE, "OpenSession", BUS_NAME, "sv", ("plain", ("s", ""))
            )

    def session(self) -> str:
        """The open session's path (opened here if ``start_session`` was not called)."""
        if self._session_path is None:
            self.start_session()
            assert self._session_serial is not None  # noqa: S101 (start_session sets it)
            with self._errors("OpenSession"):
                _output, path = self.conn.reply(self._session_serial, _RETURNS["OpenSession"])
            self._session_serial = None
            self._session_path = str(path)
        return self._session_path

    def close_session(self) -> None:
        """Close the session and wait for the daemon's answer (one round trip).

        Not fire-and-forget: a client that vanishes while the daemon still handles
        one of its calls can crash gnome-keyring (see ``Connection.drain``), so
        ``close`` waits for every answer before the socket goes.
        """
        if self._session_path is None:
            return
        try:  # not contextlib.suppress: importing it costs the shim ~0.5 ms
            self.conn.send(self._session_path, SESSION_IFACE, "Close", BUS_NAME)
            self.conn.flush()
        except (OSError, ValueError):
            pass

    def search(self, attributes: dict[str, str]) -> tuple[list[str], list[str]]:
        """(unlocked item paths, locked item paths) matching ``attributes``."""
        return self.search_many([attributes])[0]

    def search_many(self, queries: list[dict[str, str]]) -> list[tuple[list[str], list[str]]]:
        """``search`` for each of ``queries``, all sent before the first reply is awaited.

        One round trip to the daemon instead of one per name; the replies are
        taken in order, so the first failing query is the one reported.
        """
        with self._errors("SearchItems"):
            serials = [
                self.conn.send(SERVICE_PATH, SERVICE_IFACE, "SearchItems", BUS_NAME, "a{ss}", (q,))
                for q in queries
            ]
        if self._session_serial is not None:
            self.session()  # sent first, so its failure is the one to report
        with self._errors("SearchItems"):
            out = []
            for serial in serials:
                unlocked, locked = self.conn.reply(serial, _RETURNS["SearchItems"])
                out.append((unlocked, locked))
            return out

    def prefer(self, paths: list[str]) -> str:
        """Of several matching items, the one in the default collection, else the first.

        Duplicates happen when a user copied items between keyrings; the
        default collection is where ``keyring`` writes, so it holds the value
        ``mcpcred secret set`` stored last.
        """
        if self._alias is None:
            try:
                (alias,) = self.call(SERVICE_PATH, SERVICE_IFACE, "ReadAlias", "s", "default")
                self._alias = str(alias)
            except (KeychainTimeout, KeychainUnavailable):
                raise
            except SecretStoreError:
                self._alias = "/"
        if self._alias == "/":  # no default collection
            return paths[0]
        prefix = self._alias.rstrip("/") + "/"
        return next((p for p in paths if p.startswith(prefix)), paths[0])

    def default_collection(self) -> str:
        """The path of the default keyring, where ``keyring`` stores too."""
        (alias,) = self.call(SERVICE_PATH, SERVICE_IFACE, "ReadAlias", "s", "default")
        if str(alias) == "/":
            raise KeychainUnavailable(
                "the Secret Service has no default keyring to store into",
                hint="create a login keyring (Seahorse), or run `mcpcred secret set` once",
            )
        return str(alias)

    def create_item(
        self, collection: str, session: str, service: str, username: str, value: str
    ) -> None:
        """Store one item, the only one for (service, username) in ``collection``; never prompts.

        ``CreateItem`` with replace only replaces an item with exactly these
        attributes. An item for the same name stored another way (``secret-tool``
        has no ``application`` attribute) would stay beside it, and a reader, which
        searches by service and username, could go on finding the old value: a
        rotated refresh token read back stale fails the next refresh. So other
        unlocked items for the name in the same collection are deleted after the
        new one is in place (never before: a concurrent reader always finds one).
        """
        properties = {
            "org.freedesktop.Secret.Item.Label": ("s", f"Password for '{username}' on '{service}'"),
            "org.freedesktop.Secret.Item.Attributes": (
                "a{ss}",
                {"application": KEYRING_APPID, "service": service, "username": username},
            ),
        }
        secret = (session, b"", value.encode("utf-8"), "text/plain; charset=utf8")
        item, prompt = self.call(
            collection,
            COLLECTION_IFACE,
            "CreateItem",
            "a{sv}(oayays)b",
            properties,
            secret,
            True,
        )
        if str(prompt) != "/":
            raise KeychainLocked(
                f"the keychain is locked: storing '{username.partition('#')[0]}' needs a prompt",
                hint=_locked_hint(),
            )
        prefix = collection.rstrip("/") + "/"
        unlocked, _locked = self.search({"service": service, "username": username})
        for path in unlocked:
            if path != str(item) and path.startswith(prefix):
                self.call(path, ITEM_IFACE, "Delete", "")

    def delete_items(self, attributes: dict[str, str]) -> None:
        """Delete every unlocked item matching ``attributes`` (leftover parts)."""
        unlocked, _locked = self.search(attributes)
        for path in unlocked:
            self.call(path, ITEM_IFACE, "Delete", "")

    def get_secrets(self, items: dict[str, str]) -> dict[str, str]:
        """The UTF-8 values of ``items`` (user name -> item path), in one call."""
        if not items:
            return {}
        paths = list(dict.fromkeys(items.values()))
        reply = self.call(SERVICE_PATH, SERVICE_IFACE, "GetSecrets", "aoo", paths, self.session())
        with self._errors("GetSecrets"):
            return self._decode(items, reply)

    def _decode(self, items: dict[str, str], reply: tuple[Any, ...]) -> dict[str, str]:
        (secrets,) = reply  # of signature a{o(oayays)}: checked by the wire
        out: dict[str, str] = {}
        for username, path in items.items():
            name = username.partition("#")[0]
            secret = secrets.get(path)
            if secret is None:
                # Found unlocked a moment ago; the daemon skips items that are locked now.
                raise KeychainLocked(
                    f"the keychain is locked: secret '{name}' became unreadable while reading it",
                    hint=_locked_hint(),
                )
            try:
                out[username] = secret[2].decode("utf-8")
            except UnicodeDecodeError:
                # ``from None``: the decode error holds the raw value.
                raise _corrupt(name, "its value is not UTF-8 text") from None
        return out

    def close(self) -> None:
        """Wait for every call still in flight, then disconnect (never mid-call)."""
        self.conn.drain()
        try:  # noqa: SIM105 (not contextlib.suppress: importing it costs the shim ~0.5 ms)
            self.conn.close()
        except OSError:
            pass

    def _errors(self, doing: str) -> _Errors:
        """``with``: the wire's and the socket's exceptions as mcpcred's typed errors."""
        return _Errors(self.timeout, doing)


class _Errors:
    """Maps exceptions raised inside ``with`` to typed errors with one-line messages.

    A class rather than ``contextlib.contextmanager``: importing contextlib costs
    the shim about 0.5 ms on every server start.
    """

    __slots__ = ("doing", "timeout")

    def __init__(self, timeout: float, doing: str) -> None:
        self.timeout = timeout
        self.doing = doing

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, trace: object) -> None:
        if isinstance(exc, Exception) and not isinstance(exc, SecretStoreError):
            raise self._mapped(exc) from None

    def _mapped(self, exc: Exception) -> SecretStoreError:
        doing = self.doing
        if isinstance(exc, TimeoutError):
            return KeychainTimeout(
                f"the Secret Service did not answer within {self.timeout:g} s ({doing})",
                hint="is the keychain daemon hung or waiting for a prompt? "
                "try `secret-tool search --all service mcpcred` in a terminal",
            )
        if isinstance(exc, dbuswire.DBusError):
            return _from_dbus(exc, doing)
        if isinstance(exc, (OSError, EOFError)):
            # No socket (or a dead one) when connecting: no bus; later: the daemon went away.
            connecting = doing == _CONNECT
            return KeychainUnavailable(
                f"cannot reach the Secret Service ({doing}): "
                f"{type(exc).__name__}: {_one_line(exc)}",
                hint=_no_bus_hint() if connecting else _no_service_hint(),
            )
        # A protocol violation or a malformed reply: never a value in them.
        return KeychainUnavailable(
            f"cannot talk to the Secret Service ({doing}): {type(exc).__name__}",
            hint=_no_bus_hint(),
        )


def _from_dbus(exc: Any, doing: str) -> SecretStoreError:
    """An error reply from the bus or the daemon as a typed error.

    Error replies carry the daemon's text, which describes the failure; the
    daemon never echoes a value back in them.
    """
    name = str(getattr(exc, "name", "") or "")
    data = getattr(exc, "data", ())
    text = _one_line(data[0]) if data and isinstance(data[0], str) else ""
    detail = f"{name}: {text}" if text else name
    if name.startswith(_NO_SERVICE_ERRORS):
        return KeychainUnavailable(
            f"no Secret Service on the session bus ({BUS_NAME} is not running "
            f"and could not be started): {detail}",
            hint=_no_service_hint(),
        )
    if name.startswith(_REFUSED_ERRORS):
        return KeychainUnavailable(
            f"the Secret Service cannot serve this request ({doing}): {detail}",
            hint=_no_service_hint(),
        )
    if name.startswith(_TIMEOUT_ERRORS):
        return KeychainTimeout(
            f"the Secret Service did not answer ({doing}): {detail}",
            hint="is the keychain daemon hung or waiting for a prompt?",
        )
    if name.startswith(_LOCKED_ERRORS):
        return KeychainLocked(
            f"the keychain is locked ({doing})",
            hint=_locked_hint(),
        )
    return SecretStoreError(f"the Secret Service failed ({doing}): {detail}")


def _one_line(value: object) -> str:
    text = " ".join(str(value).split())
    return text[:200]
