"""The one module that talks to the ``keyring`` library.

Everything the CLI keeps (secrets moved out of configs by ``wrap``, values
given to ``secret set``) goes through ``SecretStore`` under the service name
``mcpcred``. It adds what ``keyring`` leaves to its callers:

- a time limit on every call, because a Secret Service waiting for a prompt
  nobody can see, or a wedged daemon, must not hang a command;
- typed outcomes (not found, locked, unavailable, timed out) with one-line
  messages that never carry a value;
- refusal of backends that would store secrets in plain text or not at all
  (``keyrings.alt``, ``null``, ``fail``), unless the user opts in with
  ``MCPCRED_ALLOW_INSECURE_KEYRING=1``, which is then announced on stderr by
  every command. There is never a silent fallback;
- the chunked layout of ``chunks`` for values longer than a backend can hold.

``PYTHON_KEYRING_BACKEND`` and keyring's own config file choose the backend as
usual; ``backend_id`` names the one in use so that ``wrap`` can tell the shim,
which skips keyring's 100 ms discovery.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from mcpcred.errors import (
    KeychainLocked,
    KeychainTimeout,
    KeychainUnavailable,
    SecretCorrupt,
    SecretNotFound,
    SecretStoreError,
    UsageError,
)
from mcpcred.keychain import chooses_by_priority, chunks

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

SERVICE = "mcpcred"
ALLOW_INSECURE = "MCPCRED_ALLOW_INSECURE_KEYRING"
BACKEND_VAR = "PYTHON_KEYRING_BACKEND"
DEFAULT_TIMEOUT = 20.0

_T = TypeVar("_T")
_INSECURE_MODULES = ("keyrings.alt", "keyring.backends.null")
_NO_BACKEND = "keyring.backends.fail"
_warned = False


def backend_id(backend: object) -> str:
    """``module.Class`` of a backend, the form ``PYTHON_KEYRING_BACKEND`` takes."""
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def concrete(backend: KeyringBackend) -> KeyringBackend:
    """The backend that actually keeps the secrets, never keyring's chainer.

    keyring returns its ``ChainerBackend`` when several backends are installed (the OS
    keychain and ``keyrings.alt``, say). The chainer writes to its first child and reads
    from every child in turn, a plain-text file included; and naming it to the shim would
    send every server start through keyring's ~200 ms discovery. So mcpcred uses, and
    ``wrap`` records, the first child that is not insecure (the OS keychain, or the file
    store), in the chainer's own priority order; with only insecure children, the first
    of them, which ``SecretStore`` then refuses unless the user opted in.
    """
    if not chooses_by_priority(backend_id(backend)):
        return backend
    children: list[KeyringBackend] = list(getattr(backend, "backends", []))
    secure = [child for child in children if not insecure(child)]
    return (secure or children or [backend])[0]


def insecure(backend: object) -> bool:
    """Whether a backend keeps secrets readable by anyone who can read a file (or drops them)."""
    name = backend_id(backend)
    if chooses_by_priority(name):
        children = list(getattr(backend, "backends", []))
        return not children or all(insecure(child) for child in children)
    return insecure_name(name)


def insecure_name(name: str) -> bool:
    """The same judgement from a backend's dotted name (as ``PYTHON_KEYRING_BACKEND`` has it)."""
    return name.startswith(_INSECURE_MODULES) or name.startswith(_NO_BACKEND)


class SecretStore:
    """Secrets under service ``mcpcred`` in the user's keychain."""

    def __init__(
        self,
        backend: KeyringBackend | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._backend = backend
        self.timeout = timeout
        self._env = os.environ if env is None else env

    # -- backend -----------------------------------------------------------------
    @property
    def backend(self) -> KeyringBackend:
        """The keyring backend, resolved and vetted on first use."""
        if self._backend is None:
            self._backend = self._call(_resolve, "find the keychain")
        self._backend = concrete(self._backend)
        self._vet(self._backend)
        return self._backend

    @property
    def backend_name(self) -> str:
        """Dotted class path of the backend in use."""
        return backend_id(self.backend)

    def _vet(self, backend: KeyringBackend) -> None:
        global _warned
        name = backend_id(backend)
        if name.startswith(_NO_BACKEND):
            raise KeychainUnavailable(
                "no OS keychain is available (keyring found no usable backend)",
                hint=_unavailable_hint(),
            )
        if not insecure(backend):
            return
        if self._env.get(ALLOW_INSECURE) != "1":
            raise KeychainUnavailable(
                f"refusing keychain backend {name}: it keeps secrets in plain text or not at all",
                hint=f"use the OS keychain, or set {ALLOW_INSECURE}=1 on a throwaway machine",
            )
        if not _warned:
            _warned = True
            sys.stderr.write(
                f"warning: using insecure keychain backend {name} ({ALLOW_INSECURE}=1)\n"
            )

    @property
    def where(self) -> str:
        """The store in use as messages name it: "the keychain", or "the file store (PATH)"
        (a backend says so with ``mcpcred_where``), so an error sends the user to the
        right place."""
        return str(getattr(self._backend, "mcpcred_where", None) or "the keychain")

    def _unlocked(self) -> KeyringBackend:
        """The backend, after letting it ask a person for what it needs (a passphrase).

        Called in the caller's thread, outside the time limit of ``_call``: a person
        typing slowly is not a wedged keychain, and a prompt interrupted with Ctrl-C
        must restore the terminal, which a worker thread killed at exit cannot do.
        Only mcpcred's own backends define ``mcpcred_unlock`` (keyring's Secret Service
        backend has an unrelated ``unlock(item)``); every OS keychain is untouched.
        """
        backend = self.backend
        unlock_first = getattr(backend, "mcpcred_unlock", None)
        if callable(unlock_first):
            unlock_first()
        return backend

    # -- operations --------------------------------------------------------------
    def get(self, name: str) -> str:
        """The value of secret ``name``; ``SecretNotFound`` when there is none."""
        backend = self._unlocked()
        stored = self._call(lambda: backend.get_password(SERVICE, name), f"read '{name}'")
        if stored is None:
            raise SecretNotFound(name, store=self.where)
        count = chunks.parts_needed(stored)
        if not count:
            return stored
        parts: list[str] = []
        for index in range(1, count + 1):
            part_name = chunks.part_name(name, index)
            part = self._call(
                functools.partial(backend.get_password, SERVICE, part_name), "read a part"
            )
            if part is None:
                raise SecretCorrupt(
                    f"secret '{name}' is incomplete in {self.where} (part {index} is missing)",
                    hint=f"store it again: mcpcred secret set {name}",
                )
            parts.append(part)
        value = chunks.join(stored, parts)
        if value is None:
            raise SecretCorrupt(
                f"secret '{name}' is inconsistent in {self.where} (its parts do not match)",
                hint=f"store it again: mcpcred secret set {name}",
            )
        return value

    def exists(self, name: str) -> bool:
        """Whether a secret of that name is stored (without reading the parts)."""
        backend = self._unlocked()
        return self._call(lambda: backend.get_password(SERVICE, name), "look up") is not None

    def set(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, replacing any earlier value and its parts."""
        check_value(name, value)
        backend = self._unlocked()
        old_parts = self._stored_parts(name)
        head, parts = chunks.split(value)
        # Parts first, header last: a reader never sees a header without its parts.
        for index, part in enumerate(parts, start=1):
            part_name = chunks.part_name(name, index)
            store_part = functools.partial(backend.set_password, SERVICE, part_name, part)
            self._call(store_part, "store a part")
        self._call(lambda: backend.set_password(SERVICE, name, head), f"store '{name}'")
        self._call(lambda: _prune_others(backend, name), f"store '{name}'")
        for index in range(len(parts) + 1, old_parts + 1):
            self._delete_quietly(chunks.part_name(name, index))

    def delete(self, name: str) -> None:
        """Remove secret ``name`` and its parts; ``SecretNotFound`` when there is none."""
        backend = self._unlocked()
        count = self._stored_parts(name, missing_ok=False)
        from keyring.errors import PasswordDeleteError

        def remove() -> None:
            try:
                backend.delete_password(SERVICE, name)
            except PasswordDeleteError:
                raise SecretNotFound(name, store=self.where) from None

        self._call(remove, f"delete '{name}'")
        for index in range(1, count + 1):
            self._delete_quietly(chunks.part_name(name, index))

    def _stored_parts(self, name: str, *, missing_ok: bool = True) -> int:
        backend = self.backend
        stored = self._call(lambda: backend.get_password(SERVICE, name), f"read '{name}'")
        if stored is None:
            if missing_ok:
                return 0
            raise SecretNotFound(name, store=self.where)
        return chunks.parts_needed(stored)

    def _delete_quietly(self, username: str) -> None:
        backend = self.backend
        from keyring.errors import PasswordDeleteError

        def remove() -> None:
            with contextlib.suppress(PasswordDeleteError):
                backend.delete_password(SERVICE, username)

        self._call(remove, "delete a part")

    # -- the time limit and the error mapping -------------------------------------
    def _call(self, action: Callable[[], _T], what: str) -> _T:
        """Run one keyring call in a worker thread with the time limit; map its errors."""
        outcome: list[_T] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                outcome.append(action())
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=work, name="mcpcred-keychain", daemon=True)
        worker.start()
        worker.join(self.timeout)
        if worker.is_alive():
            raise KeychainTimeout(
                f"{self.where} did not answer within {self.timeout:g} s (trying to {what})",
                hint="is the keychain waiting for an unlock prompt? unlock it and try again"
                if self.where == "the keychain"
                else "is another mcpcred command holding the store file? let it finish, then retry",
            )
        if failure:
            raise _translate(failure[0], what, self.where) from None
        return outcome[0]


def check_value(name: str, value: str) -> None:
    """Refuse a value no server could be given: the shim passes values in the environment
    and in arguments, and neither can hold a NUL character (the start would fail later,
    far from the command that stored it)."""
    if "\x00" in value:
        raise UsageError(
            f"the value for '{name}' contains a NUL character, which no environment variable "
            "or argument can hold; nothing was stored",
            hint="check where the value came from (a binary file?)",
        )


# What keyring lets through when a backend's name does not import (ImportError,
# ValueError for a name without a dot), is not a class (AttributeError, TypeError), or is
# not usable on this system (RuntimeError from its ``priority``).
_UNLOADABLE = (ImportError, AttributeError, ValueError, TypeError, RuntimeError)


def _resolve() -> KeyringBackend:
    """keyring's backend, or the file store where the user opted in (see ``selection``)."""
    import keyring

    from mcpcred.keychain import selection

    if selection.opted_in(os.environ) is not None:
        return selection.file_keyring()
    try:
        backend = keyring.get_keyring()
    except _UNLOADABLE as exc:
        # keyring imports the class PYTHON_KEYRING_BACKEND (or its config file) names and
        # lets the import error through: that is the user's setting, not a bug in mcpcred.
        chosen = os.environ.get(BACKEND_VAR)
        if not chosen and not _keyring_config().is_file():
            raise
        raise unloadable_backend(chosen, BACKEND_VAR, exc) from None
    if selection.fallback(backend, os.environ) is not None:
        return selection.file_keyring()
    return backend


def load_backend(name: str, source: str) -> KeyringBackend:
    """The backend class ``name`` (``module.Class``), instantiated, as keyring loads it.

    ``source`` says where the name came from (``PYTHON_KEYRING_BACKEND``, ``--backend``),
    so a name that does not load is reported as the setting it is, with the keychain's
    exit code, rather than as an unexpected error.
    """
    import keyring.core

    try:
        return concrete(keyring.core.load_keyring(name))
    except _UNLOADABLE as exc:
        raise unloadable_backend(name, source, exc) from None


def _keyring_config() -> Path:
    """keyring's own config file (``keyringrc.cfg``), where a backend can be named too."""
    import keyring.core

    return Path(keyring.core._config_path())  # type: ignore[no-untyped-call]


def unloadable_backend(name: str | None, source: str, exc: BaseException) -> KeychainUnavailable:
    """The error for a keyring backend setting that names nothing loadable."""
    if not name:
        config = _keyring_config()
        return KeychainUnavailable(
            f"keyring's config file {config} names a backend that cannot be loaded here "
            f"({type(exc).__name__}: {_reason(exc)})",
            hint="fix default-keyring in that file, or remove it to use the OS keychain",
        )
    from mcpcred.terminal import printable

    fix = f"unset {source}" if source == BACKEND_VAR else "run `mcpcred wrap` again"
    return KeychainUnavailable(
        f"{source} names a keyring backend that cannot be loaded here: '{printable(name[:200])}' "
        f"({type(exc).__name__}: {printable(_reason(exc))})",
        hint=f"install the package that provides it, or {fix} to use the OS keychain",
    )


def _translate(exc: BaseException, what: str, where: str = "the keychain") -> BaseException:
    """Map keyring's (and its backends') exceptions to mcpcred's; values never appear in them."""
    if isinstance(exc, SecretStoreError):
        return exc
    kind = type(exc).__name__
    module = type(exc).__module__
    if kind in ("KeyringLocked", "LockedException"):
        from mcpcred.keychain import hints

        return KeychainLocked(f"the keychain is locked (trying to {what})", hint=hints.locked())
    if kind in ("NoKeyringError", "InitError", "SecretServiceNotAvailableException") or (
        kind == "RuntimeError" and "SecretService" in str(exc)
    ):
        return KeychainUnavailable(
            f"the keychain is not available (trying to {what}): {_reason(exc)}",
            hint=_unavailable_hint(),
        )
    if module.startswith(("keyring", "secretstorage", "jeepney")) or isinstance(exc, OSError):
        return SecretStoreError(f"{where} failed (trying to {what}): {kind}")
    return exc


def _reason(exc: BaseException) -> str:
    """A keyring error's own text, one line; these describe the backend, never a value."""
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _unavailable_hint() -> str:
    """Start gnome-keyring, use the file store, set the passphrase: whichever fits here."""
    from mcpcred.keychain import hints

    return hints.unavailable()


def _prune_others(backend: KeyringBackend, username: str) -> None:
    """Delete the other Secret Service items for ``username`` beside the one just written.

    keyring writes with ``replace=True``, which replaces only an item with exactly its
    attributes (``application`` included); an item for the same name written another way
    (``secret-tool store service mcpcred username NAME``, an older keyring) stays beside
    it, and a read, which searches by service and user name only, returns either of them:
    the value just set, or the stale one. The shim's own write prunes the same way.
    """
    from keyring.backends import SecretService

    if not isinstance(backend, SecretService.Keyring):
        return
    collection = backend.get_preferred_collection()  # type: ignore[no-untyped-call]
    with contextlib.closing(collection.connection):
        items = list(collection.search_items({"service": SERVICE, "username": username}))
        if len(items) < 2:
            return
        for item in items:
            if item.get_attributes().get("application") != backend.appid:
                item.delete()
