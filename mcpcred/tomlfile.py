"""Reading mcpcred's own TOML files (the user's config.toml, a project's mcpcred.toml).

Every reader used to open, decode and parse on its own, each with its own
wording for the same two failures. One place now says them: ``cannot read
PATH: REASON`` and ``PATH: not valid TOML: WHERE`` (``tomllib`` names a line and
column, never the text), both ``ConfigError`` (exit 3). Standard library only:
the shim reads the user's config through here on a guarded server's start.
"""

from __future__ import annotations

from mcpcred.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: every shim start imports this module (guard settings)
    from collections.abc import Collection, Mapping

__all__ = ["check_keys", "loads", "read", "read_bytes"]


def read_bytes(path: str, *, missing_ok: bool = False) -> bytes | None:
    """The file's bytes; None for a missing file when ``missing_ok``."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ConfigError(f"cannot read {path}: No such file or directory") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None


def loads(path: str, data: bytes, hint: str | None = None) -> dict[str, object]:
    """``data`` (the bytes of ``path``) parsed as TOML."""
    import tomllib

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # its own text quotes the byte: say only where
        raise ConfigError(
            f"{path}: not valid TOML: not UTF-8 at byte {exc.start}", hint=hint
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint=hint) from None


def read(path: str, *, missing_ok: bool = False, hint: str | None = None) -> dict[str, object]:
    """The whole file at ``path`` as TOML; ``{}`` for a missing file when ``missing_ok``."""
    data = read_bytes(path, missing_ok=missing_ok)
    return {} if data is None else loads(path, data, hint)


def check_keys(table: Mapping[str, object], known: Collection[str], where: str) -> None:
    """Refuse a table holding a key mcpcred does not know, naming it and the known ones.

    A misspelt key (``denny = [...]``, ``fail_on``) read as "not set" would quietly
    turn a setting off, a guard's deny list among them: an error is the only safe
    reading. ``where`` names the file and the table (``PATH: [servers.gh]``)."""
    unknown = set(table) - set(known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s): {', '.join(sorted(key[:64] for key in unknown))}",
            hint=f"known keys: {', '.join(sorted(known))}",
        )
