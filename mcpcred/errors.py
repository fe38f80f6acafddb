"""The one error tree of mcpcred, and the exit codes it maps to.

Every failure a user can cause or meet is an ``McpcredError``; the CLI edge
(``mcpcred.cli.run``) is the only place that turns one into ``error: ...`` /
``hint: ...`` lines on stderr and an exit code. Messages name things (a file, a
server, a rule) and never carry a secret value: they are printed, logged and
shown in CI output.

    McpcredError                  base: message + hint + exit_code
    ├── UsageError                2  bad options or arguments
    ├── ConfigError               3  a config file is missing, unreadable or malformed
    │   └── ParseError               a config file is not valid JSON/JSONC/TOML
    ├── SecretStoreError          5  the keychain (or the file store) cannot give or keep a secret
    │   ├── SecretNotFound           no such secret (``mcpcred secret set NAME`` fixes it)
    │   ├── SecretCorrupt            stored parts missing or not matching (a torn write)
    │   │   └── StoreFileCorrupt     the store file is damaged, or is not a store file
    │   │       ├── StoreFileTruncated  the store file ends early (a cut copy, a full disk)
    │   │       └── StoreFileTampered   its MAC fails: items removed, added or swapped
    │   ├── KeychainLocked           the keychain is locked and mcpcred may not prompt
    │   │   ├── FileStoreLocked      the file store's key: no agent, no MCPCRED_PASSPHRASE(_FILE)
    │   │   └── WrongPassphrase      the passphrase does not open the file store
    │   ├── KeychainUnavailable      no usable keychain (no D-Bus, no daemon, insecure backend)
    │   ├── KeychainTimeout          the keychain did not answer in time
    │   ├── StoreFileTooNew          the store file was written by a newer mcpcred
    │   ├── AgentUnsafe              the key agent's socket or folder is not private to the user
    │   ├── AgentUnavailable         the key agent cannot be started or does not answer
    │   └── ExternalSecretError      a password manager or cmd: reference gave no value
    │       ├── ExternalLocked           locked / signed out (op, bw, pass+gpg, Vault 403)
    │       ├── ExternalNotFound         no such entry or field
    │       └── ExternalUnavailable      the tool is missing, not set up or timed out
    ├── ShimError                 6  the shim cannot start the server (bad options, no program)
    ├── OAuthError                7  a login cannot give a token (network, provider, protocol)
    │   ├── LoginRequired            no login, or the provider refused it (log in again)
    │   └── LoginDenied              the user refused, or let the code expire, during ``login``
    └── ExportError               8  audit records cannot be sent to a collector or syslog receiver

Exit codes outside the tree: 0 ok; 1 a check found something (``audit-config`` at or
above ``--fail-on``, ``status`` a credential that does not resolve, ``log verify``,
``pins diff --exit-code``); 70 an unexpected exception (a bug, never bad input);
130 interrupted. The table users read is docs/cli.md.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_CONFIG = 3
EXIT_SECRET_STORE = 5
EXIT_SHIM = 6
EXIT_OAUTH = 7
EXIT_EXPORT = 8
EXIT_SOFTWARE = 70
EXIT_INTERRUPTED = 130


class McpcredError(Exception):
    """Base of every error mcpcred reports to a user; never raised directly."""

    exit_code = EXIT_SOFTWARE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(McpcredError):
    """The command line asks for something impossible or contradictory."""

    exit_code = EXIT_USAGE


class ConfigError(McpcredError):
    """A config file (a client's or mcpcred's own) cannot be used as asked."""

    exit_code = EXIT_CONFIG


class ParseError(ConfigError):
    """A file is not valid in its format; carries where, so findings can point at it."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int = 1,
        column: int = 1,
        hint: str | None = None,
    ) -> None:
        where = f"{path}:{line}:{column}: " if path else f"line {line}, column {column}: "
        super().__init__(where + message, hint=hint)
        self.reason = message
        self.path = path
        self.line = line
        self.column = column


class SecretStoreError(McpcredError):
    """The OS keychain cannot give or keep a secret; subclasses say why."""

    exit_code = EXIT_SECRET_STORE


class SecretNotFound(SecretStoreError):
    """No secret of that name is in the store in use.

    ``store`` names that store as a user knows it ("the keychain", "the file store
    (PATH)"): a user of the file store told "not in the keychain" looks in the wrong place.
    """

    def __init__(self, name: str, *, hint: str | None = None, store: str = "the keychain") -> None:
        super().__init__(
            f"secret '{name}' is not in {store}",
            hint=hint or f"store it with: mcpcred secret set {name}",
        )
        self.name = name
        self.store = store


class SecretCorrupt(SecretStoreError):
    """A chunked secret's parts are missing or do not match its header (a torn write)."""


class KeychainLocked(SecretStoreError):
    """The keychain (collection) is locked; unlocking needs the user, never the shim."""


class KeychainUnavailable(SecretStoreError):
    """No usable keychain: no backend, no D-Bus session, or a backend mcpcred refuses."""


class KeychainTimeout(SecretStoreError):
    """The keychain did not answer within the time limit."""


class ShimError(McpcredError):
    """The shim cannot start the server: bad shim arguments or no such program."""

    exit_code = EXIT_SHIM


class OAuthError(McpcredError):
    """A login cannot produce a token: the provider, the network or the protocol failed.

    Messages carry the provider's ``error`` code and description (they never
    hold a token) so that a user can search them in the provider's docs.
    """

    exit_code = EXIT_OAUTH

    def __init__(self, message: str, *, hint: str | None = None, error: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.error = error


class LoginRequired(OAuthError):
    """There is no usable login: never made, logged out, expired or revoked."""


class LoginDenied(OAuthError):
    """The user (or the provider on their behalf) refused or abandoned the login."""


def describe(exc: BaseException) -> str:
    """A one-line, value-free description of a failure, for a warning or a refusal.

    Our own errors say what happened without values; for anything else only
    the OS's words or the exception's type, since its message may quote data.
    """
    if isinstance(exc, McpcredError):
        return exc.message
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


# -- the encrypted file store (``mcpcred.keychain.filestore``) ------------------------------


class FileStoreLocked(KeychainLocked):
    """The file store needs its key and nothing can give it (no agent, no passphrase source)."""


class WrongPassphrase(KeychainLocked):
    """The passphrase given does not open the file store; told apart from a damaged file
    by the store's key check, so a typo never reads as corruption (or the reverse)."""


class StoreFileCorrupt(SecretCorrupt):
    """The store file is damaged or is not an mcpcred store file; nothing was changed."""


class StoreFileTruncated(StoreFileCorrupt):
    """The store file is shorter than its header says: a cut copy or a full disk."""


class StoreFileTooNew(SecretStoreError):
    """The store file has a format version this mcpcred does not know (written by a newer one)."""


class AgentUnsafe(SecretStoreError):
    """The key agent's socket or its folder is not private to this user, so it is never used.

    A socket owned by someone else, or one in a folder others can enter, could be
    an impostor collecting the keys offered to it; refusing is the only safe answer.
    """


class AgentUnavailable(SecretStoreError):
    """The key agent could not be started, or started but does not answer."""


class ExternalSecretError(SecretStoreError):
    """A password manager (``pass``, 1Password, Bitwarden, Vault) or a ``cmd:`` reference
    could not give its value; exit code 5 like the keychain, since it plays the same part.

    ``state`` is what ``mcpcred status --check`` shows for the reference.
    """

    state = "error"


class ExternalLocked(ExternalSecretError):
    """The manager is locked or signed out (``op`` signed out, ``bw`` locked, ``pass``
    without a gpg agent that has the passphrase, Vault answering 403 or sealed)."""

    state = "locked"


class ExternalNotFound(ExternalSecretError):
    """The manager answered, but has no such entry or field."""

    state = "missing"


class ExternalUnavailable(ExternalSecretError):
    """The manager's tool is not installed, not set up, or did not answer in time."""

    state = "unavailable"


class StoreFileTampered(StoreFileCorrupt):
    """The store file's MAC does not verify under its key: items were removed, added or
    swapped by someone who could write the file but has no key (an older whole copy put
    back is not detected; see docs/stores.md)."""


class ExportError(McpcredError):
    """Audit records could not be delivered to an OTLP collector or a syslog receiver.

    Raised by an export sink's ``send`` (the receiver is down, refused the batch,
    or the URL is unusable). The export worker keeps the records and tries again
    later; ``mcpcred log export`` reports it. Messages name the receiver by
    scheme, host and port only: never a header value or a URL's userinfo/query.
    """

    exit_code = EXIT_EXPORT
