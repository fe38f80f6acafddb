"""Find the references in a server's env and args, fetch them, substitute them.

All values are fetched in one keychain round trip before anything starts, so
a server is never started half-configured: either every reference resolves,
or the shim fails with the first one that does not. The same round trip
reads the cached access token of every login referenced
(``mcpcred:oauth/...``); only a stale one costs more (``oauth.mint``).

References to password managers (``mcpcred:pass/...``, ``op``, ``bw``,
``vault``, ``cmd``) are fetched first, all at once, by ``mcpcred.external``,
imported only when a server has one; a server with only such references
never touches the keychain (the point on a machine that has none).
"""

from __future__ import annotations

import sys

from mcpcred import references
from mcpcred.errors import KeychainUnavailable, ShimError
from mcpcred.keychain import (
    CHAINER,
    DEFAULT_BACKENDS,
    FILE_STORE,
    SECRET_SERVICE,
    chooses_by_priority,
)
from mcpcred.keychain.bus import session_bus_address
from mcpcred.shim.options import ShimOptions

TYPE_CHECKING = False
if TYPE_CHECKING:  # (collections.abc costs a server start ~1 ms: annotations only)
    from collections.abc import Callable, Mapping, Sequence

    from mcpcred.keychain.filestore import FileStore
    from mcpcred.keychain.store import SecretStore
    from mcpcred.keychain.vault import Vault
    from mcpcred.oauth.mint import Minter
    from mcpcred.oauth.records import AccessToken

OWN_PREFIX = "MCPCRED_"
BACKEND_VAR = "PYTHON_KEYRING_BACKEND"
_OS = {"darwin": "macos", "win32": "windows"}


def wanted(
    command: list[str], env: Mapping[str, str], label: str = "the server"
) -> list[tuple[str, str]]:
    """Every (kind, name) the server's env and args reference, in first-use order.

    A malformed reference, or a kind this version cannot resolve, is an error:
    the server must not start with a reference where it expects a credential.
    """
    found: list[tuple[str, str]] = []
    for where, value in [
        *(("env " + k, v) for k, v in env.items()),
        *(("args", a) for a in command),
    ]:
        if references.PREFIX not in value:
            continue
        bad = references.malformed(value)
        if bad is not None:
            raise ShimError(
                f"malformed mcpcred reference in {where}: {bad[:32]!r}",
                hint="references look like mcpcred:secret/NAME (names: a-z, 0-9, '.', '_', '-'), "
                "or name a password manager: see docs/stores.md",
            )
        found.extend(references.find(value))
    for kind, name in found:
        if kind not in references.KINDS and kind not in references.EXTERNAL:
            raise ShimError(
                f"{label} uses {references.whole(name, kind)}, which this version of "
                "mcpcred cannot resolve",
                hint="references are mcpcred:secret/NAME or mcpcred:oauth/PROVIDER; "
                "upgrade mcpcred",
            )
    return list(dict.fromkeys(found))


def prepare(options: ShimOptions, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The server's argv and environment, with every reference replaced by its value."""
    env = {k: v for k, v in environ.items() if not k.startswith(OWN_PREFIX)}
    refs = wanted(options.command, env, options.label())
    if not refs:
        return list(options.command), env
    return _substituted(options.command, env, resolver(refs, options, environ))


def _substituted(
    command: list[str], env: dict[str, str], lookup: Callable[[str, str], str]
) -> tuple[list[str], dict[str, str]]:
    """``command`` and ``env`` with every reference replaced through ``lookup``."""
    argv = [references.substitute(a, lookup) for a in command]
    return argv, {k: references.substitute(v, lookup) for k, v in env.items()}


def prepare_guarded(
    options: ShimOptions, environ: Mapping[str, str], key: tuple[str, Callable[[], str]]
) -> tuple[list[str], dict[str, str], Resolved, str]:
    """``prepare`` for a guarded server, which also needs the audit log's key.

    The key is read in the same round trip as the references (and created,
    once, if this is the first guarded start). Returns the argv, the env, what
    was resolved (token deadlines for restarts, refreshes to record) and the key.
    """
    env = {k: v for k, v in environ.items() if not k.startswith(OWN_PREFIX)}
    refs = wanted(options.command, env, options.label())
    found, secret = fetch(options, environ, refs, key)
    argv, env = _substituted(options.command, env, found.lookup)
    return argv, env, found, secret


def fetch(
    options: ShimOptions,
    environ: Mapping[str, str],
    refs: list[tuple[str, str]],
    key: tuple[str, Callable[[], str]],
    *,
    audiences: bool = False,
) -> tuple[Resolved, str]:
    """``refs`` and the audit log's key (created once if missing) in one keychain round trip.

    Shared by a guarded local server (references in env and args) and a
    guarded remote one (references in the URL and headers).
    """
    outside = _external(refs, options, environ)
    keychain = Keychain(options, environ)
    try:
        found = _resolve(keychain, refs, extras=[key[0]], audiences=audiences)
        secret = found.extras.get(key[0]) or keychain.ensure(*key)
    finally:
        keychain.close()
    found.external = outside
    return found, secret


def resolver(
    refs: list[tuple[str, str]], options: ShimOptions, environ: Mapping[str, str]
) -> Callable[[str, str], str]:
    """``lookup(kind, name)`` for every reference in ``refs``, all fetched up front."""
    return resolve(refs, options, environ).lookup


def resolve(
    refs: list[tuple[str, str]],
    options: ShimOptions,
    environ: Mapping[str, str],
    *,
    audiences: bool = False,
) -> Resolved:
    """Every reference in ``refs``, fetched in one keychain round trip.

    With ``audiences``, also what each remote-server login is for (``Resolved.audiences``).
    """
    outside = _external(refs, options, environ)
    if any(kind in references.KINDS for kind, _ in refs):
        keychain = Keychain(options, environ)
        try:
            found = _resolve(keychain, refs, audiences=audiences)
        finally:
            keychain.close()
    else:  # only password managers: no keychain needed (nor, perhaps, present)
        found = Resolved()
        found.refs = list(refs)
    found.external = outside
    return found


def _external(
    refs: list[tuple[str, str]], options: ShimOptions, environ: Mapping[str, str]
) -> dict[tuple[str, str], str]:
    """The values of the password-manager references in ``refs``, all fetched up front."""
    outside = [(kind, name) for kind, name in refs if kind in references.EXTERNAL]
    if not outside:
        return {}
    from mcpcred.external import fetch_all

    return fetch_all(outside, environ, options.timeout_seconds)


class Resolved:
    """What one keychain round trip found: values, tokens and what they imply."""

    __slots__ = (
        "audiences",
        "deadline",
        "external",
        "extras",
        "refreshed",
        "refs",
        "tokens",
        "values",
    )

    def __init__(self) -> None:
        self.refs: list[tuple[str, str]] = []  # (kind, name) of every reference resolved
        self.values: dict[str, str] = {}
        self.tokens: dict[str, str] = {}
        self.extras: dict[str, str] = {}  # optional items asked for besides the references
        self.refreshed: list[str] = []  # logins this start refreshed
        self.deadline: float | None = None  # when the first token handed out is due
        self.external: dict[tuple[str, str], str] = {}  # password managers, by (kind, locator)
        # Asked for by a remote bridge only: the resource each remote-server login
        # (``mcpcred login URL``) was issued for, so its token goes to no other server.
        self.audiences: dict[str, str] = {}

    def check_audiences(self, url: str, shown: str) -> None:
        """Refuse to send a remote server's token to any other server.

        A login made with ``mcpcred login URL`` holds tokens issued for that
        server's resource (RFC 8707). An entry that names the login but points
        elsewhere (a repository's ``.mcp.json`` aimed at a host of its choosing,
        a mistyped URL) would hand the token to a server that could replay it
        against the real one; the MCP authorization spec forbids passing a token
        on to another resource. ``shown`` is the URL as messages may show it
        (``url`` may hold a secret). Provider logins carry no such binding.
        """
        if not self.audiences:
            return
        from mcpcred.oauth.urls import canonical, resource_covers

        for name, resource in self.audiences.items():
            try:
                covered = resource_covers(resource, url)
            except ValueError:  # a port urllib refuses: not this resource either
                covered = False
            if not covered:
                login = (
                    shown
                    if shown.startswith(("https://", "http://")) and " " not in shown
                    else "URL"
                )
                raise ShimError(
                    f"the login mcpcred:oauth/{name} is for {canonical(resource)}, not for "
                    f"{shown}: its token is not sent to another server",
                    hint=f"log in to this server under a name of its own: mcpcred login {login} "
                    "--name NAME, or correct the entry's URL",
                )

    def lookup(self, kind: str, name: str) -> str:
        """The value a reference stands for."""
        if kind == references.OAUTH:
            return self.tokens[name]
        if kind == references.SECRET:
            return self.values[name]
        return self.external[kind, name]


def _resolve(
    keychain: Keychain,
    refs: list[tuple[str, str]],
    extras: Sequence[str] = (),
    *,
    audiences: bool = False,
) -> Resolved:
    secrets = [name for kind, name in refs if kind == references.SECRET]
    logins = {name: references.split_login(name) for kind, name in refs if kind == references.OAUTH}
    access = {name: _access_name(*login) for name, login in logins.items()}
    # The login records only for a bridge (in the same round trip): a local server's
    # start never reads them while its cached token is fresh.
    record_names = (
        {name: _record_name(*login) for name, login in logins.items()} if audiences else {}
    )
    found = Resolved()
    found.refs = list(refs)
    values = keychain.read(secrets, optional=[*access.values(), *record_names.values(), *extras])
    for name, item in record_names.items():
        audience = _audience(values.pop(item, None))
        if audience is not None:
            found.audiences[name] = audience
    found.values = values
    found.extras = {name: values[name] for name in extras if name in values}
    minter: Minter | None = None
    for name, (provider, account) in logins.items():
        token = _fresh(values.get(access[name]))
        if token is None:
            minter = minter or keychain.minter()
            before = minter.refreshed
            token = minter.refresh(provider, account)
            if minter.refreshed > before:
                found.refreshed.append(name)
        found.tokens[name] = token.token
        if token.refresh_at is not None:
            due = token.refresh_at
            found.deadline = due if found.deadline is None else min(found.deadline, due)
    return found


def _fresh(cached: str | None) -> AccessToken | None:
    """The cached access token if no refresh is due (the fast path: no network, no lock)."""
    import time

    from mcpcred.oauth.records import fresh_access

    return fresh_access(cached, time.time())


def _record_name(provider: str, account: str) -> str:
    from mcpcred.oauth.records import record_name

    return record_name(provider, account)


def _audience(stored: str | None) -> str | None:
    """The resource a remote-server login's tokens are for; None for a provider login.

    A provider login (``mcpcred login github``) may name a ``resource`` that is no
    URL (Entra's ``api://...``); only a login to a server URL binds its tokens to one.
    """
    from mcpcred.oauth.records import LoginRecord

    record = LoginRecord.loads(stored)
    if record is None or not record.server_url or not record.resource:
        return None
    return record.resource


def _access_name(provider: str, account: str) -> str:
    from mcpcred.oauth.records import access_name

    return access_name(provider, account)


def _creation_stuck(what: str) -> ShimError:
    return ShimError(
        f"another mcpcred process has been creating the keychain item '{what}' for too long",
        hint="it may be waiting for the keychain to be unlocked; try again",
    )


class Keychain:
    """The keychain ``wrap`` used, reached the cheapest way this platform allows."""

    def __init__(self, options: ShimOptions, environ: Mapping[str, str]) -> None:
        self.options = options
        self.environ = environ
        backend = environ.get(BACKEND_VAR) or options.backend
        # keyring's chainer (recorded by older wraps, or named in the variable) is no store:
        # on Linux it serves from the Secret Service, so go there directly; only if that
        # cannot be reached (no bus, or KWallet without the Secret Service API) go through
        # keyring, as the chainer would have, and report the direct path's error if
        # keyring finds no usable store either.
        self.chained = chooses_by_priority(backend)
        self.backend = None if self.chained else backend
        self.timeout = options.timeout_seconds
        self.address: str | None = None
        self._ss: object = None
        self._direct_error: KeychainUnavailable | None = None
        recorded_file = self.backend == FILE_STORE
        self.file_path: str | None = self._file_store(environ)
        self._file: FileStore | None = None
        self.direct = sys.platform.startswith("linux") and self.backend in (None, SECRET_SERVICE)
        if self.file_path is not None:
            self.direct = False
        elif self.direct:
            self.address = session_bus_address(environ, options.dbus_address)
            if self.address is None and recorded_file:
                from mcpcred.keychain.storefile import default_path

                raise KeychainUnavailable(
                    f"there is no store file at {default_path(environ)}, and no keychain "
                    "to fall back to (no D-Bus session bus)",
                    hint="if the store lives elsewhere, set MCPCRED_STORE_FILE for the client "
                    "too; `mcpcred store status` shows where",
                )
            if self.address is None:
                from mcpcred.keychain import hints  # the failure path may import more

                error = KeychainUnavailable(
                    "cannot reach the Secret Service: no D-Bus session bus "
                    "(DBUS_SESSION_BUS_ADDRESS is unset and no bus socket was found)",
                    hint=hints.no_store(environ, shim=True),
                )
                if not self.chained:
                    raise error
                self._through_chainer(error)
        elif self.backend is None:
            # wrap records a backend only when it is not the platform's default: pin that
            # default here too, so keyring's ~100 ms discovery never runs on a server start.
            self.backend = DEFAULT_BACKENDS.get(_OS.get(sys.platform, "linux"))

    def _file_store(self, environ: Mapping[str, str]) -> str | None:
        """The encrypted file store's path, when it is the store in use; the CLI's rules,
        seen from the shim (``mcpcred.keychain.selection``): a backend named in the
        environment wins; otherwise an existing store file means the file store, whatever
        wrap recorded for the platform's keychain, so ``store migrate`` does not need every
        client rewrapped. A recorded file store whose file is gone (migrated back) means
        the keychain.

        Reading it needs no keyring, no subprocess and no D-Bus: with an agent, the agent
        opens the file's bytes (``read``); otherwise only the wanted names are decrypted
        here, the key from the kernel keyring or MCPCRED_PASSPHRASE(_FILE) (``keysource``).
        """
        if self.backend not in (None, FILE_STORE):
            return None
        import os

        from mcpcred.keychain.storefile import default_path

        path = default_path(environ)
        named = environ.get(BACKEND_VAR) == FILE_STORE
        if named or os.path.exists(path):
            self.backend = FILE_STORE
            return path
        self.backend = None  # recorded, but moved back to the keychain: the platform's default
        return None

    @property
    def file(self) -> FileStore | None:
        """The file store itself (its format, KDF and AEAD), loaded only when the agent
        cannot answer a read, or to write (a refreshed token, the guard's key)."""
        if self._file is None and self.file_path is not None:
            from mcpcred.keychain.filestore import FileStore

            self._file = FileStore(self.file_path, self.environ, lock_timeout=self.timeout)
        return self._file

    def _from_agent(self, names: list[str], optional: Sequence[str]) -> dict[str, str] | None:
        """The values, opened by the agent from the store file's bytes; None when it cannot
        (no agent, an older one, no key, or anything wrong: ``read`` then opens the store
        here, which says precisely what). This keeps ``cryptography``, ``hmac``,
        ``hashlib`` and ``json`` off a server start with an unlocked store."""
        from mcpcred.keychain import agent

        assert self.file_path is not None  # noqa: S101 (only called for the file store)
        try:
            with open(self.file_path, "rb") as handle:
                data = handle.read(agent.MAX_STORE + 1)
        except OSError:
            return None  # missing or unreadable: FileStore.read says which, with its hint
        return agent.read_store(data, names, optional, self.environ)

    def read(self, names: list[str], optional: Sequence[str] = ()) -> dict[str, str]:
        """Values of ``names`` (all required) and of those ``optional`` names that exist."""
        if self.file_path is not None:
            if names or optional:
                values = self._from_agent(names, optional)
                if values is not None:
                    return values
            file = self.file
            assert file is not None  # noqa: S101 (file_path is set)
            return file.read(names, optional)
        if self.address is not None:
            try:
                return self._session().read(names, optional=optional)  # type: ignore[attr-defined,no-any-return]
            except KeychainUnavailable as exc:
                if not self.chained:
                    raise
                self._through_chainer(exc)
        from mcpcred.keychain.vault import StoreVault

        try:
            store = self._store()
            values = {name: store.get(name) for name in names}
            values.update(StoreVault(store).read(optional))
        except KeychainUnavailable:
            if self._direct_error is not None:
                raise self._direct_error from None
            raise
        return values

    def _through_chainer(self, direct: KeychainUnavailable) -> None:
        """Give up the direct path of a chainer entry: keyring's way from now on.

        The slow path (keyring's discovery) only when the fast one cannot serve; if
        keyring finds no usable store either, ``direct`` (with its hint) is the error
        that says what to fix.
        """
        self.close()
        self.address = None
        self.direct = False
        self.backend = CHAINER
        self._direct_error = direct

    def minter(self) -> Minter:
        """What turns logins into access tokens, writing back to this keychain."""
        from mcpcred.oauth.http import for_shim
        from mcpcred.oauth.mint import Minter
        from mcpcred.paths import runtime_path

        environ = self.environ
        return Minter(self.vault(), transport=lambda: for_shim(environ), lock_dir=runtime_path)

    def vault(self) -> Vault:
        """This keychain as the read/write port logins (and the guard's key) use."""
        file = self.file
        if file is not None:
            from mcpcred.keychain.vault import FileStoreVault

            return FileStoreVault(file)
        if self.address is not None:
            from mcpcred.keychain.vault import SecretServiceVault

            return SecretServiceVault(self.address, self.timeout, session=self._session())
        from mcpcred.keychain.vault import StoreVault

        return StoreVault(self._store())

    def ensure(self, name: str, make: Callable[[], str]) -> str:
        """The value of ``name``, created with ``make()`` by exactly one process if missing."""
        import os

        from mcpcred.oauth.lock import held
        from mcpcred.paths import runtime_path

        vault = self.vault()
        lock = os.path.join(runtime_path(), f"{name.replace(':', '-')}.lock")
        with held(lock, timeout=self.timeout, what=name, error=_creation_stuck):
            existing = vault.read([name]).get(name)
            if existing:
                return existing
            value = make()
            vault.write(name, value)
            return value

    def _session(self) -> object:
        """One Secret Service connection for the first read and any refresh after it."""
        if self._ss is None:
            from mcpcred.keychain.secretservice import Session

            assert self.address is not None  # noqa: S101 (only called in direct mode)
            self._ss = Session(self.address, self.timeout)
        return self._ss

    def close(self) -> None:
        """Release the keychain connection (before the shim becomes the server)."""
        if self._ss is not None:
            self._ss.close()  # type: ignore[attr-defined]
            self._ss = None

    def _store(self) -> SecretStore:
        """The portable path (macOS Keychain, Windows Credential Manager, other backends)."""
        import keyring
        import keyring.core

        from mcpcred.keychain.store import ALLOW_INSECURE, SecretStore, load_backend

        backend = self.backend
        source = BACKEND_VAR if self.environ.get(BACKEND_VAR) else "the shim's --backend"
        chosen = load_backend(backend, source) if backend else keyring.get_keyring()
        env = dict(self.environ)
        if self.options.allow_insecure:
            env[ALLOW_INSECURE] = "1"
        return SecretStore(chosen, timeout=self.timeout, env=env)
