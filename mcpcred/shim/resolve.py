"""Find the references in a server's env and args, fetch them, substitute them.

All values are fetched in one keychain round trip before anything starts, so
a server is never started half-configured: either every reference resolves,
or the shim fails with the first one that does not. The same round trip
reads the cached access token of every login referenced
(``mcpcred:oauth/...``); only a stale one costs more (``oauth.mint``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from mcpcred import references
from mcpcred.errors import KeychainUnavailable, ShimError
from mcpcred.keychain import DEFAULT_BACKENDS, SECRET_SERVICE
from mcpcred.keychain.bus import session_bus_address
from mcpcred.shim.options import ShimOptions

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from mcpcred.keychain.store import SecretStore
    from mcpcred.keychain.vault import Vault
    from mcpcred.oauth.mint import Minter

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
                hint="references look like mcpcred:secret/NAME (names: a-z, 0-9, '.', '_', '-')",
            )
        found.extend(references.find(value))
    for kind, name in found:
        if kind not in references.KINDS:
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
    lookup = resolver(refs, options, environ)
    argv = [references.substitute(a, lookup) for a in options.command]
    env = {k: references.substitute(v, lookup) for k, v in env.items()}
    return argv, env


def resolver(
    refs: list[tuple[str, str]], options: ShimOptions, environ: Mapping[str, str]
) -> Callable[[str, str], str]:
    """``lookup(kind, name)`` for every reference in ``refs``, all fetched up front."""
    keychain = Keychain(options, environ)
    try:
        return _resolve(keychain, refs)
    finally:
        keychain.close()


def _resolve(keychain: Keychain, refs: list[tuple[str, str]]) -> Callable[[str, str], str]:
    secrets = [name for kind, name in refs if kind == references.SECRET]
    logins = {name: references.split_login(name) for kind, name in refs if kind == references.OAUTH}
    access = {name: _access_name(*login) for name, login in logins.items()}
    values = keychain.read(secrets, optional=list(access.values()))
    tokens: dict[str, str] = {}
    minter: Minter | None = None
    for name, (provider, account) in logins.items():
        cached = _fresh(values.get(access[name]))
        if cached is not None:  # the fast path: no network, no lock, no more imports
            tokens[name] = cached
            continue
        minter = minter or keychain.minter()
        tokens[name] = minter.token(provider, account)

    def lookup(kind: str, name: str) -> str:
        return tokens[name] if kind == references.OAUTH else values[name]

    return lookup


def _fresh(cached: str | None) -> str | None:
    """The cached access token if no refresh is due."""
    import time

    from mcpcred.oauth.records import fresh_token

    return fresh_token(cached, time.time())


def _access_name(provider: str, account: str) -> str:
    from mcpcred.oauth.records import access_name

    return access_name(provider, account)


class Keychain:
    """The keychain ``wrap`` used, reached the cheapest way this platform allows."""

    def __init__(self, options: ShimOptions, environ: Mapping[str, str]) -> None:
        self.options = options
        self.environ = environ
        self.backend = environ.get(BACKEND_VAR) or options.backend
        self.timeout = options.timeout_seconds
        self.address: str | None = None
        self._ss: object = None
        self.direct = sys.platform.startswith("linux") and self.backend in (None, SECRET_SERVICE)
        if self.direct:
            self.address = session_bus_address(environ, options.dbus_address)
            if self.address is None:
                raise KeychainUnavailable(
                    "cannot reach the Secret Service: no D-Bus session bus "
                    "(DBUS_SESSION_BUS_ADDRESS is unset and no bus socket was found)",
                    hint="run `mcpcred wrap` again from your desktop session, "
                    "so it records the bus",
                )
        elif self.backend is None:
            # wrap records a backend only when it is not the platform's default: pin that
            # default here too, so keyring's ~100 ms discovery never runs on a server start.
            self.backend = DEFAULT_BACKENDS.get(_OS.get(sys.platform, "linux"))

    def read(self, names: list[str], optional: Sequence[str] = ()) -> dict[str, str]:
        """Values of ``names`` (all required) and of those ``optional`` names that exist."""
        if self.address is not None:
            return self._session().read(names, optional=optional)  # type: ignore[attr-defined,no-any-return]
        from mcpcred.keychain.vault import StoreVault

        store = self._store()
        values = {name: store.get(name) for name in names}
        values.update(StoreVault(store).read(optional))
        return values

    def minter(self) -> Minter:
        """What turns logins into access tokens, writing back to this keychain."""
        from mcpcred.oauth.http import for_shim
        from mcpcred.oauth.mint import Minter
        from mcpcred.paths import runtime_path

        vault: Vault
        if self.address is not None:
            from mcpcred.keychain.vault import SecretServiceVault

            vault = SecretServiceVault(self.address, self.timeout, session=self._session())
        else:
            from mcpcred.keychain.vault import StoreVault

            vault = StoreVault(self._store())
        environ = self.environ
        return Minter(vault, transport=lambda: for_shim(environ), lock_dir=runtime_path)

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

        from mcpcred.keychain.store import ALLOW_INSECURE, SecretStore

        backend = self.backend
        chosen = keyring.core.load_keyring(backend) if backend else keyring.get_keyring()
        env = dict(self.environ)
        if self.options.allow_insecure:
            env[ALLOW_INSECURE] = "1"
        return SecretStore(chosen, timeout=self.timeout, env=env)
