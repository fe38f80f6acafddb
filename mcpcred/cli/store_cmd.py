"""``mcpcred store init --file | status | unlock | lock | passphrase | migrate``.

The OS keychain needs no set-up; the encrypted file store (for SSH sessions,
containers, CI) does, once per machine: ``store init --file``. Its passphrase
never travels through argv: it is typed at a hidden prompt (twice when a store
is created) or read from ``MCPCRED_PASSPHRASE`` / ``MCPCRED_PASSPHRASE_FILE``.
``unlock`` derives the key once and hands it to the agent and the kernel
keyring, so later commands and server starts need no passphrase.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

import typer

from mcpcred.cli.app import app
from mcpcred.errors import SecretStoreError, UsageError

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

    from mcpcred.keychain.filestore import Document, FileStore
    from mcpcred.keychain.store import SecretStore

store_app = typer.Typer(
    help="Choose and manage where secrets are kept (OS keychain or encrypted file)."
    + "\n\nExample: mcpcred store status",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(store_app, name="store")

DEFAULT_UNLOCK_SECONDS = 8 * 3600
MAX_UNLOCK_HOURS = 7 * 24.0  # the agent's longest idle timeout too


def _file_store(path: str | None = None) -> FileStore:
    from mcpcred.keychain import keysource
    from mcpcred.keychain.filestore import FileStore, default_path

    ask = keysource.prompt if keysource.can_prompt() else None
    return FileStore(path or default_path(os.environ), os.environ, ask=ask)


def _existing(store: FileStore) -> Document:
    """The store's parsed file; a one-line error when there is none yet."""
    doc = store.load()
    if doc is None:
        raise SecretStoreError(
            f"there is no store file at {store.path}",
            hint="create it with `mcpcred store init --file`",
        )
    return doc


def _new_passphrase(path: str) -> str:
    """A passphrase for a new store: a variable, or typed twice at a terminal."""
    from mcpcred.keychain import keysource

    given = keysource.passphrase(os.environ)
    if given is not None:
        return given[1]
    if not keysource.can_prompt():
        raise UsageError(
            "no terminal to ask for a passphrase",
            hint=f"set {keysource.PASSPHRASE_VAR} or {keysource.PASSPHRASE_FILE_VAR}",
        )
    first = keysource.prompt(f"new passphrase for {path} (not shown): ")
    if not first:
        raise UsageError("the passphrase is empty; nothing was created")
    if keysource.prompt("the same passphrase again: ") != first:
        raise UsageError("the two passphrases differ; nothing was created")
    return first


@store_app.command("init")
def store_init(
    file: bool = typer.Option(False, "--file", help="Create the encrypted file store."),
) -> int:
    """Create the encrypted file store (asks a passphrase twice, or uses MCPCRED_PASSPHRASE).

    Example: mcpcred store init --file
    """
    from mcpcred.keychain.filestore import default_path

    if not file:
        raise UsageError(
            "only the file store needs creating: mcpcred store init --file",
            hint="the OS keychain is used as it is; see `mcpcred store status`",
        )
    path = default_path(os.environ)
    if os.path.exists(path):
        raise SecretStoreError(
            f"a store file already exists at {path}; nothing was changed",
            hint="use it (mcpcred store unlock), or move it away first",
        )
    store = _file_store(path)
    doc = store.create(_new_passphrase(path))
    sys.stderr.write(
        f"created the file store {path} ({doc.kdf['name']}, AES-256-GCM); mcpcred and "
        "wrapped servers use it from now on\n"
        "if secrets are in the OS keychain already, move them now: "
        "mcpcred store migrate --to file\n"
        "then: `mcpcred store unlock` once per session (or MCPCRED_PASSPHRASE in CI)\n"
    )
    return 0


@store_app.command("status")
def store_status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> int:
    """Show which store is in use and why (never a value, never the passphrase).

    Example: mcpcred store status --json
    """
    from mcpcred.keychain import keysource, selection

    choice = selection.explain(os.environ)
    info: dict[str, object] = {
        "store": choice.kind,
        "backend": choice.backend,
        "reason": choice.reason,
    }
    if choice.path is not None:
        info.update(_file_info(choice.path))
    info["passphrase_variable"] = keysource.have_passphrase(os.environ)
    if as_json:
        from mcpcred.terminal import write_json

        write_json(info)
        return 0
    label = {"file": "encrypted file store", "keychain": "OS keychain", "none": "none"}
    lines = [f"store: {label[choice.kind]} ({choice.backend or 'no backend'})"]
    lines.append(f"why: {choice.reason}")
    fields = ("path", "format", "kdf", "secrets", "key_id", "key_held_by", "error")
    lines.extend(f"{k.replace('_', ' ')}: {info[k]}" for k in fields if info.get(k) is not None)
    if choice.kind == selection.NONE:
        lines.append(
            "fix: mcpcred store init --file (or set MCPCRED_PASSPHRASE / "
            "MCPCRED_PASSPHRASE_FILE in CI and containers)"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _file_info(path: str) -> dict[str, object]:
    from mcpcred.keychain import keysource
    from mcpcred.keychain.filestore import FileStore

    info: dict[str, object] = {"path": path}
    store = FileStore(path, os.environ)
    try:
        doc = store.load()
    except SecretStoreError as exc:
        info["error"] = exc.message
        return info
    if doc is None:
        info["error"] = "no store file yet (created on the first write)"
        return info
    heads = [n for n in store.names() if not _is_part(n)]
    info.update(
        {
            "format": doc.version,
            "kdf": doc.kdf["name"],
            "secrets": len(heads),
            "key_id": doc.key_id(),
        }
    )
    try:
        cached = keysource.cached_key(doc.key_id(), os.environ)
    except SecretStoreError as exc:
        info["key_held_by"] = f"error: {exc.message}"
    else:
        info["key_held_by"] = cached[0] if cached is not None else None
    return info


def _is_part(name: str) -> bool:
    """Whether an item name is one part of a chunked value (``NAME#3``)."""
    head, sep, index = name.rpartition("#")
    return bool(sep and head and index.isdigit())


@store_app.command("unlock")
def store_unlock(
    hours: float = typer.Option(
        DEFAULT_UNLOCK_SECONDS / 3600,
        "--hours",
        help="How long the kernel keyring keeps the key (at most 168: a week).",
        min=0.01,
        max=MAX_UNLOCK_HOURS,  # also refuses inf (an OverflowError once made seconds)
    ),
) -> int:
    """Type the passphrase once; the agent (and the kernel keyring) keep the key.

    Example: mcpcred store unlock --hours 12
    """
    from mcpcred.keychain import filestore, keysource

    store = _file_store()
    doc = _existing(store)
    given = keysource.passphrase(os.environ)
    if given is None:
        if not keysource.can_prompt():
            raise UsageError(
                "no terminal to ask for the passphrase",
                hint=f"set {keysource.PASSPHRASE_VAR} or {keysource.PASSPHRASE_FILE_VAR}",
            )
        given = "the prompt", keysource.prompt(f"passphrase for {store.path}: ")
    key = filestore.derive(doc.kdf, given[1])
    if not filestore.opens(doc, key):
        from mcpcred.errors import WrongPassphrase

        raise WrongPassphrase(
            f"the passphrase from {given[0]} does not open the file store {store.path}",
            hint="check the passphrase (the file itself is intact: only the key check failed)",
        )
    store.remember(doc, key, given[0])  # checks the MAC: no key for a tampered-with file
    took = keysource.offer(doc.key_id(), filestore.material(key), os.environ, int(hours * 3600))
    if not took:
        raise SecretStoreError(
            "no agent or kernel keyring can hold the key on this machine",
            hint=f"set {keysource.PASSPHRASE_VAR} or {keysource.PASSPHRASE_FILE_VAR} instead",
        )
    sys.stderr.write(f"unlocked {store.path}: the key is held by {' and '.join(took)}\n")
    return 0


@store_app.command("passphrase")
def store_passphrase() -> int:
    """Change the file store's passphrase (asks the current one, then the new one twice).

    Example: mcpcred store passphrase
    """
    from mcpcred.keychain import keysource

    if not keysource.can_prompt():
        raise UsageError(
            "no terminal to ask for the new passphrase",
            hint="run it in a terminal; in CI, create a new store instead",
        )
    store = _file_store()
    doc = _existing(store)
    store.key(doc)  # the current passphrase first: a typo must not cost the new one
    first = keysource.prompt(f"new passphrase for {store.path} (not shown): ")
    if not first:
        raise UsageError("the passphrase is empty; nothing was changed")
    if keysource.prompt("the same passphrase again: ") != first:
        raise UsageError("the two passphrases differ; nothing was changed")
    old_id = doc.key_id()
    store.rekey(first)
    keysource.forget(old_id, os.environ)
    sys.stderr.write(
        f"changed the passphrase of {store.path}; run `mcpcred store unlock` again, and "
        "update MCPCRED_PASSPHRASE wherever it is set\n"
    )
    return 0


@store_app.command("lock")
def store_lock() -> int:
    """Make the agent and the kernel keyring forget the file store's key.

    Example: mcpcred store lock
    """
    from mcpcred.keychain import keysource

    store = _file_store()
    try:
        doc = store.load()
    except SecretStoreError:
        doc = None
    told = keysource.forget(doc.key_id() if doc is not None else None, os.environ)
    sys.stderr.write(
        f"locked: {' and '.join(told)} forgot the key\n"
        if told
        else "nothing to lock: no agent or kernel keyring holds keys on this machine\n"
    )
    return 0


@store_app.command("migrate")
def store_migrate(
    to: str = typer.Option(..., "--to", help="keychain or file.", show_default=False),
) -> int:
    """Move every mcpcred item to the other store, verifying each copy before removing anything.

    Example: mcpcred store migrate --to file
    """
    from mcpcred.keychain.filestore import default_path
    from mcpcred.keychain.store import SecretStore

    if to not in ("keychain", "file"):
        raise UsageError(f"unknown store {to!r}; choose keychain or file")
    path = default_path(os.environ)
    keychain = SecretStore(_os_keychain())
    _ = keychain.backend  # refuse an unusable or plaintext keychain before anything moves
    moved = migrate(to, keychain, path)
    where = keychain.backend_name if to == "keychain" else f"the file store {path}"
    gone = f"; removed {path}" if to == "keychain" else ""
    sys.stderr.write(f"moved {moved} item(s) to {where}{gone}\n")
    return 0


def migrate(to: str, keychain: SecretStore, path: str) -> int:
    """Move every mcpcred item between ``keychain`` and the store file at ``path``.

    Each item is copied and read back from the target before anything is removed
    from the source; the switch of the store in use is one atomic step (the store
    file removed, or renamed into place), so an interrupted migrate loses nothing
    and hides nothing: running it again finishes it.
    """
    from mcpcred.errors import SecretNotFound
    from mcpcred.keychain.store import SecretStore

    if to == "keychain":
        source = _file_store(path)
        if source.load() is None:
            raise UsageError(f"there is no store file at {path}; nothing to move")
        names = [n for n in source.names() if not _is_part(n)]
        moved = _copy(names, SecretStore(_file_keyring(source)), keychain)
        for suffix in ("", ".lock"):  # the switch back to the keychain: one unlink
            if os.path.exists(path + suffix):
                os.unlink(path + suffix)
        return moved
    names = _keychain_names(keychain.backend)
    target_path = path
    if not os.path.exists(path):
        # Build the new file beside the final one and rename it in at the end: until then
        # the keychain stays the store in use, so an interrupted migrate hides nothing.
        target_path = path + ".new"
        if os.path.exists(target_path):
            os.unlink(target_path)
        _file_store(target_path).create(_new_passphrase(path))
    target = _file_store(target_path)
    moved = _copy(names, keychain, SecretStore(_file_keyring(target)))
    if target_path != path:
        os.replace(target_path, path)
        if os.path.exists(target_path + ".lock"):
            os.unlink(target_path + ".lock")
    for name in names:
        try:
            keychain.delete(name)
        except SecretNotFound:
            continue
    return moved


def _copy(names: list[str], source: SecretStore, target: SecretStore) -> int:
    """Copy each item and read it back from the target; any difference stops before deleting."""
    from mcpcred.errors import SecretCorrupt, SecretNotFound

    values: dict[str, str] = {}
    for name in names:
        try:
            values[name] = source.get(name)
        except SecretNotFound:
            continue
    clashes = [n for n, v in values.items() if target.exists(n) and target.get(n) != v]
    if clashes:  # never overwrite a different value the target holds
        listed = ", ".join(f"'{n}'" for n in clashes[:5])
        raise SecretStoreError(
            f"both stores hold {listed} with different values; nothing was moved",
            hint="remove the copy you do not want from one store, then migrate again",
        )
    moved = 0
    for name, value in values.items():
        target.set(name, value)
        if target.get(name) != value:
            raise SecretCorrupt(
                f"'{name}' read back differently from the target store; nothing was removed",
                hint="run the migrate again; both stores still hold every item",
            )
        moved += 1
    return moved


def _file_keyring(store: FileStore) -> KeyringBackend:
    from mcpcred.keychain.filekeyring import FileKeyring

    return FileKeyring(store)


def _os_keychain() -> KeyringBackend:
    """keyring's OS keychain, whatever the selection (the file store is the other side)."""
    import keyring

    from mcpcred.keychain import FILE_STORE
    from mcpcred.keychain.store import backend_id

    backend = keyring.get_keyring()
    if backend_id(backend) == FILE_STORE:
        raise UsageError(
            "PYTHON_KEYRING_BACKEND names the file store: there is no keychain to migrate with",
            hint="unset PYTHON_KEYRING_BACKEND for the migrate",
        )
    return backend


def _keychain_names(backend: KeyringBackend) -> list[str]:
    """Every mcpcred item name in the keychain (parts of chunked values excluded).

    The Secret Service can be searched; other keychains cannot be listed through
    keyring, so the names mcpcred recorded (secrets, logins, the audit key) are used.
    """
    from mcpcred.keychain.store import SERVICE

    collection = getattr(backend, "get_preferred_collection", None)
    if collection is not None:
        items = collection().search_items({"service": SERVICE})
        names = {str(item.get_attributes().get("username", "")) for item in items}
        return sorted(n for n in names if n and not _is_part(n))
    from mcpcred.cli.login_cmd import LOGIN_INDEX
    from mcpcred.guard.auditlog import KEY_NAME
    from mcpcred.keychain.index import SecretIndex
    from mcpcred.oauth import records
    from mcpcred.paths import data_dir
    from mcpcred.references import split_login

    found = set(SecretIndex().entries()) | {KEY_NAME}
    for login in SecretIndex(data_dir() / LOGIN_INDEX).entries():
        provider, account = split_login(login)
        found |= {records.record_name(provider, account), records.access_name(provider, account)}
    return sorted(found)
