"""Where the file store's key comes from, cheapest and safest first.

The key is derived from a passphrase with a memory-hard KDF (about 0.1 s), so
typing or deriving it on every server start would be slow and annoying. The
sources, in order:

1. ``mcpcred agent`` (a per-session process holding derived keys by key id),
2. the Linux kernel session keyring (``mcpcred store unlock`` puts the key there),
3. ``MCPCRED_PASSPHRASE`` (CI, containers: the secret store of the platform sets it),
4. ``MCPCRED_PASSPHRASE_FILE`` (a file only the user can read, e.g. a Docker secret),
5. in the CLI only, with a terminal: a prompt.

Sources 1 and 2 give a key (keyed by the non-secret key id, so a key for an
older passphrase is simply not found); 3 to 5 give a passphrase the caller
derives. This module is stdlib only: the shim imports it. ``agent`` and
``kernel`` are optional modules, imported only when asked, so a build without
them (or a platform without a kernel keyring) still works from 3 to 5.
"""

from __future__ import annotations

from mcpcred.errors import FileStoreLocked

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

PASSPHRASE_VAR = "MCPCRED_PASSPHRASE"  # noqa: S105 (a variable's name)
PASSPHRASE_FILE_VAR = "MCPCRED_PASSPHRASE_FILE"  # noqa: S105 (a variable's name)
_MAX_PASSPHRASE_FILE = 64 * 1024


def _optional(name: str) -> object:
    """``mcpcred.keychain.NAME`` if this build has it, else None (it is an optional part)."""
    # ``__import__`` rather than ``importlib.import_module``: importing importlib costs
    # the shim ~0.7 ms (it brings ``warnings``) on every start from the file store.
    try:
        return __import__(f"mcpcred.keychain.{name}", fromlist=["_"])
    except ImportError:
        return None


def cached_key(key_id: str, environ: Mapping[str, str]) -> tuple[str, bytes] | None:
    """``(where, key)`` from the agent or the kernel keyring, or None when neither has it.

    Errors from a hostile agent socket (another user's) propagate: that is worth a stop.
    """
    agent = _optional("agent")
    fetch = getattr(agent, "fetch_key", None)
    if fetch is not None:
        key = fetch(key_id, environ)
        if key:
            return "the mcpcred agent", bytes(key)
    kernel = _optional("kernel")
    fetch = getattr(kernel, "fetch_key", None)
    if fetch is not None:
        key = fetch(key_id)
        if key:
            return "the kernel keyring", bytes(key)
    return None


def offer(key_id: str, key: bytes, environ: Mapping[str, str], timeout_seconds: int) -> list[str]:
    """Hand a derived key to the agent and the kernel keyring; the names of those that took it."""
    took: list[str] = []
    agent = _optional("agent")
    give = getattr(agent, "offer_key", None)
    if give is not None:
        give(key_id, key, environ)
        took.append("the mcpcred agent")
    kernel = _optional("kernel")
    store = getattr(kernel, "store_key", None)
    if store is not None and store(key_id, key, timeout_seconds):
        took.append("the kernel keyring")
    return took


def forget(key_id: str | None, environ: Mapping[str, str]) -> list[str]:
    """Drop the key from the agent (all keys) and the kernel keyring; who was told."""
    told: list[str] = []
    agent = _optional("agent")
    drop = getattr(agent, "forget", None)
    if drop is not None:
        drop(environ)
        told.append("the mcpcred agent")
    kernel = _optional("kernel")
    drop_key = getattr(kernel, "forget", None)
    if drop_key is not None and key_id is not None:
        drop_key(key_id)
        told.append("the kernel keyring")
    return told


def passphrase(environ: Mapping[str, str]) -> tuple[str, str] | None:
    """``(where, passphrase)`` from ``MCPCRED_PASSPHRASE`` or ``MCPCRED_PASSPHRASE_FILE``.

    An empty variable counts as unset. The file's one trailing newline is
    dropped (``echo pass > file`` writes one). A file that cannot be read is an
    error naming the file, never a silent fall-through to a prompt.
    """
    value = environ.get(PASSPHRASE_VAR)
    if value:
        return PASSPHRASE_VAR, value
    path = environ.get(PASSPHRASE_FILE_VAR)
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            raw = handle.read(_MAX_PASSPHRASE_FILE + 1)
    except OSError as exc:
        raise FileStoreLocked(
            f"cannot read {PASSPHRASE_FILE_VAR} ({path}): {exc.strerror or type(exc).__name__}",
            hint=f"point {PASSPHRASE_FILE_VAR} at a readable file holding the passphrase",
        ) from None
    if len(raw) > _MAX_PASSPHRASE_FILE:
        raise FileStoreLocked(
            f"{PASSPHRASE_FILE_VAR} ({path}) is larger than 64 KiB: not a passphrase file",
            hint="the file must hold the passphrase only",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FileStoreLocked(
            f"{PASSPHRASE_FILE_VAR} ({path}) is not UTF-8 text",
            hint="the file must hold the passphrase only, as text",
        ) from None
    text = text[:-1] if text.endswith("\n") else text
    text = text[:-1] if text.endswith("\r") else text
    if not text:
        raise FileStoreLocked(
            f"{PASSPHRASE_FILE_VAR} ({path}) is empty",
            hint="write the store's passphrase into that file",
        )
    return f"{PASSPHRASE_FILE_VAR} ({path})", text


def have_passphrase(environ: Mapping[str, str]) -> bool:
    """Whether a passphrase source is set (without reading a file): the opt-in for CI."""
    return bool(environ.get(PASSPHRASE_VAR) or environ.get(PASSPHRASE_FILE_VAR))


def can_prompt() -> bool:
    """Whether a person can be asked: stdin and stderr are both terminals."""
    import sys

    try:
        return sys.stdin.isatty() and sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def prompt(text: str) -> str:
    """Ask for a passphrase without echo (the CLI only; the shim never prompts)."""
    import getpass

    return getpass.getpass(text)


def unset_hint() -> str:
    """What a user can do when the file store has no key source."""
    return (
        f"run `mcpcred store unlock` once per session, or set {PASSPHRASE_VAR} or "
        f"{PASSPHRASE_FILE_VAR} (CI, containers)"
    )
