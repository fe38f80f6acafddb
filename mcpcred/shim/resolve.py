"""Find the references in a server's env and args, fetch them, substitute them.

All values are fetched in one keychain round trip before anything starts, so
a server is never started half-configured: either every reference resolves,
or the shim fails with the first one that does not.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from mcpcred import references
from mcpcred.errors import KeychainUnavailable, ShimError
from mcpcred.keychain import DEFAULT_BACKENDS, SECRET_SERVICE
from mcpcred.keychain.bus import session_bus_address
from mcpcred.shim.options import ShimOptions

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
        if kind != references.SECRET:
            raise ShimError(
                f"{label} uses {references.whole(name, kind)}, which this version of "
                "mcpcred cannot resolve",
                hint="only mcpcred:secret/NAME references are supported; upgrade mcpcred",
            )
    return list(dict.fromkeys(found))


def prepare(options: ShimOptions, environ: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    """The server's argv and environment, with every reference replaced by its value."""
    env = {k: v for k, v in environ.items() if not k.startswith(OWN_PREFIX)}
    refs = wanted(options.command, env, options.label())
    if not refs:
        return list(options.command), env
    values = fetch([name for _, name in refs], options, environ)

    def lookup(kind: str, name: str) -> str:
        return values[name]

    argv = [references.substitute(a, lookup) for a in options.command]
    env = {k: references.substitute(v, lookup) for k, v in env.items()}
    return argv, env


def fetch(names: list[str], options: ShimOptions, environ: Mapping[str, str]) -> dict[str, str]:
    """Values of secrets ``names`` from the keychain ``wrap`` used."""
    backend = environ.get(BACKEND_VAR) or options.backend
    timeout = options.timeout_seconds
    if sys.platform.startswith("linux") and backend in (None, SECRET_SERVICE):
        address = session_bus_address(environ, options.dbus_address)
        if address is None:
            raise KeychainUnavailable(
                "cannot reach the Secret Service: no D-Bus session bus "
                "(DBUS_SESSION_BUS_ADDRESS is unset and no bus socket was found)",
                hint="run `mcpcred wrap` again from your desktop session, so it records the bus",
            )
        from mcpcred.keychain.secretservice import read_secrets

        return read_secrets(names, address=address, timeout=timeout)
    if backend is None:
        # wrap records a backend only when it is not the platform's default: pin that
        # default here too, so keyring's ~100 ms discovery never runs on a server start.
        backend = DEFAULT_BACKENDS.get(_OS.get(sys.platform, "linux"))
    return _via_keyring(names, backend, timeout, environ, options.allow_insecure)


def _via_keyring(
    names: list[str],
    backend: str | None,
    timeout: float,
    environ: Mapping[str, str],
    allow_insecure: bool,
) -> dict[str, str]:
    """The portable path (macOS Keychain, Windows Credential Manager, other backends)."""
    import keyring
    import keyring.core

    from mcpcred.keychain.store import ALLOW_INSECURE, SecretStore

    chosen = keyring.core.load_keyring(backend) if backend else keyring.get_keyring()
    env = dict(environ)
    if allow_insecure:
        env[ALLOW_INSECURE] = "1"
    store = SecretStore(chosen, timeout=timeout, env=env)
    return {name: store.get(name) for name in names}
