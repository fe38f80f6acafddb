"""The credentials a repository's servers need: ``[credentials.NAME]`` in ``mcpcred.toml``.

A team commits its MCP client configs with references instead of values
(``mcpcred:secret/linear-key``, ``mcpcred:oauth/github``) and declares here
what each reference needs, so that ``mcpcred setup`` can walk a new member
through exactly those: a login, a secret to paste, or a password manager that
must answer. The table's name and kind give the reference the servers hold,
named the way the rest of mcpcred names credentials::

    [credentials.github]              # mcpcred:oauth/github
    kind = "oauth"                    # log in with a provider (mcpcred login)
    provider = "github"               # default: the table's name
    account = "work"                  # optional: mcpcred:oauth/github/work
    scopes = ["repo", "read:org"]     # optional: what to ask for
    client-id = "Iv23liExample"       # optional: the team's OAuth app (not a secret)
    flow = "device"                   # optional: device or pkce

    [credentials.sentry]              # mcpcred:oauth/sentry
    kind = "oauth"                    # a remote MCP server's own login (mcpcred login URL)
    server = "https://mcp.sentry.dev/mcp"

    [credentials.linear-key]          # mcpcred:secret/linear-key
    kind = "secret"                   # a secret the user pastes (mcpcred secret set)
    prompt = "Linear API key (Settings → API)"
    url = "https://linear.app/settings/api"

    [credentials.db]                  # mcpcred:op/Engineering/db/password
    kind = "secret"
    store = "op://Engineering/db/password"   # pass:PATH, bw:ITEM/FIELD, vault:MOUNT/PATH#FIELD

A ``store`` credential stays in the password manager the team already uses:
the servers hold the manager's reference and the shim asks the manager at every
start, so ``setup`` only checks that it answers. ``cmd:`` is refused here: a
cloned repository must not be able to make ``setup`` run a program of its
choosing. Likewise a provider's issuer or endpoints never come from a repository
(they decide where a login sends the user): only the user's own config file
(``[providers.NAME]``) or a built-in provider has them.

The file is untrusted text from a repository: every value is checked, unknown
keys are errors with one line naming them (a typo would otherwise skip a
credential silently), and the texts shown to the user (``prompt``, ``url``) are
bounded and escaped where they are printed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mcpcred import references
from mcpcred.errors import ConfigError
from mcpcred.oauth.providers import ALIASES, BUILTIN, FLOWS
from mcpcred.project_config import read_toml

OAUTH = "oauth"
SECRET = "secret"  # noqa: S105 (a credential kind)
KINDS = (OAUTH, SECRET)
_OAUTH_KEYS = frozenset({"kind", "provider", "account", "scopes", "client-id", "flow", "server"})
_PROVIDER_ONLY = ("provider", "account", "flow")  # a server's login discovers its own
_SECRET_KEYS = frozenset({"kind", "prompt", "url", "store"})
# Password managers a repository may name; cmd: would run a program the repository chose.
STORE_KINDS = (references.PASS, references.OP, references.BW, references.VAULT)
MAX_TEXT = 200  # characters of a prompt or a URL


@dataclass(frozen=True, slots=True)
class Credential:
    """One ``[credentials.NAME]`` table, checked.

    ``reference`` is what the servers' configs hold (``mcpcred:oauth/github``,
    ``mcpcred:secret/linear-key``, ``mcpcred:op/...``); ``ref_kind`` and ``ref_name``
    are its two parts, as ``references.find`` gives them.
    """

    name: str
    kind: str
    ref_kind: str
    ref_name: str
    provider: str | None = None
    account: str = references.DEFAULT_ACCOUNT
    scopes: tuple[str, ...] = ()
    client_id: str | None = None
    flow: str | None = None
    prompt: str | None = None
    url: str | None = None
    server: str | None = None  # a remote MCP server's URL: `mcpcred login URL --name NAME`

    @property
    def reference(self) -> str:
        """The whole reference a server's config holds for this credential."""
        return references.whole(self.ref_name, self.ref_kind)

    @property
    def external(self) -> bool:
        """Whether a password manager holds it (``store = ...``): checked, never stored."""
        return self.ref_kind in references.EXTERNAL

    def fix(self) -> str:
        """The command that sets this credential up by hand (named in error lines)."""
        if self.server is not None:
            import shlex

            return f"mcpcred login {shlex.quote(self.server)} --name {self.name}"
        if self.kind == OAUTH:
            account = (
                "" if self.account == references.DEFAULT_ACCOUNT else f" --account {self.account}"
            )
            return f"mcpcred login {self.provider}{account}"
        if self.external:
            return f"sign in to the password manager so that it answers {self.reference}"
        return f"mcpcred secret set {self.name}"


@dataclass(frozen=True, slots=True)
class ProjectCredentials:
    """Every declared credential of one ``mcpcred.toml``, in file order."""

    path: str
    credentials: tuple[Credential, ...]


def load(path: str) -> ProjectCredentials:
    """Read the ``[credentials]`` tables of ``path``; ``ConfigError`` (exit 3) names a mistake."""
    return parse(read_toml(path), path)


def parse(data: dict[str, Any], path: str) -> ProjectCredentials:
    """The checked ``[credentials]`` section of an already parsed ``mcpcred.toml``."""
    section = data.get("credentials", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: credentials must be tables: [credentials.NAME]")
    found: list[Credential] = []
    for name, table in section.items():
        found.append(_credential(path, name, table))
    seen: dict[str, str] = {}
    for credential in found:
        other = seen.setdefault(credential.reference, credential.name)
        if other != credential.name:
            raise ConfigError(
                f"{path}: [credentials.{credential.name}] and [credentials.{other}] both "
                f"declare {credential.reference}",
                hint="declare each credential once",
            )
    return ProjectCredentials(path, tuple(found))


def _credential(path: str, name: str, table: object) -> Credential:
    where = f"{path}: [credentials.{_shown(name)}]"
    if not references.valid_name(name):
        raise ConfigError(
            f"{path}: invalid credential name '{_shown(name)}'",
            hint="use 1-64 characters: a-z, 0-9, '.', '_', '-' (starting and ending with a "
            "letter or digit), e.g. linear-key",
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    kind = table.get("kind")
    if kind not in KINDS:
        shown = "missing" if kind is None else f"'{_shown(str(kind))}'"
        raise ConfigError(
            f'{where}: kind is {shown}; it must be "oauth" (a login) or "secret" '
            "(a value you paste, or a password manager's with store = ...)"
        )
    allowed = _OAUTH_KEYS if kind == OAUTH else _SECRET_KEYS
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ConfigError(
            f'{where}: unknown key(s) for kind = "{kind}": '
            + ", ".join(_shown(k) for k in unknown),
            hint=f"known keys: {', '.join(sorted(allowed))}",
        )
    if kind == OAUTH:
        return _oauth(where, name, table)
    return _secret(where, name, table)


def _oauth(where: str, name: str, table: dict[str, Any]) -> Credential:
    if "server" in table:
        return _server_login(where, name, table)
    provider = _text(table, "provider", where) or name
    if not references.valid_name(provider) or "." in provider:
        raise ConfigError(
            f"{where}: invalid provider name '{_shown(provider)}'",
            hint="a built-in provider (github, gitlab, google, entra, atlassian) or one "
            "described under [providers.NAME] in your own mcpcred config file",
        )
    provider = ALIASES.get(provider, provider)  # stored as `mcpcred login` stores it
    account = _text(table, "account", where) or references.DEFAULT_ACCOUNT
    if not references.valid_name(account):
        raise ConfigError(f"{where}: invalid account name '{_shown(account)}'", hint="e.g. work")
    flow = _text(table, "flow", where)
    if flow is not None and flow not in FLOWS:
        raise ConfigError(f'{where}: flow must be "device" or "pkce"')
    scopes = _scopes(where, table)
    client_id = _client_id(where, table)
    return Credential(
        name=name,
        kind=OAUTH,
        ref_kind=references.OAUTH,
        ref_name=references.login_name(provider, account),
        provider=provider,
        account=account,
        scopes=scopes,
        client_id=client_id,
        flow=flow,
    )


def _server_login(where: str, name: str, table: dict[str, Any]) -> Credential:
    """A remote MCP server's own login (MCP authorization): ``mcpcred:oauth/NAME``."""
    from mcpcred.errors import OAuthError
    from mcpcred.oauth.urls import check_endpoint

    given = [k for k in _PROVIDER_ONLY if k in table]
    if given:
        raise ConfigError(
            f"{where}: {', '.join(given)}: for a provider's login; a server's login "
            "(server = ...) discovers its own",
            hint="keep server (and scopes, client-id), or drop server for a provider",
        )
    if name in BUILTIN or name in ALIASES:
        raise ConfigError(
            f"{where}: '{name}' names a built-in provider; a server's login needs another name",
            hint=f"e.g. [credentials.{name}-mcp]",
        )
    server = _text(table, "server", where)
    assert server is not None  # noqa: S101 (the caller saw the key)
    try:
        check_endpoint(server, "server")
    except OAuthError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None
    return Credential(
        name=name,
        kind=OAUTH,
        ref_kind=references.OAUTH,
        ref_name=name,
        scopes=_scopes(where, table),
        client_id=_client_id(where, table),
        server=server,
    )


def _scopes(where: str, table: dict[str, Any]) -> tuple[str, ...]:
    if "scopes" not in table:
        return ()
    value = table["scopes"]
    items = value.split() if isinstance(value, str) else value
    if not isinstance(items, list) or not all(
        isinstance(s, str) and s and s.isprintable() and " " not in s for s in items
    ):
        raise ConfigError(f"{where}: scopes must be a list of scope names")
    return tuple(items)


def _client_id(where: str, table: dict[str, Any]) -> str | None:
    client_id = _text(table, "client-id", where)
    if client_id is not None and " " in client_id:
        raise ConfigError(f"{where}: client-id must be one word of at most {MAX_TEXT} characters")
    return client_id


def _secret(where: str, name: str, table: dict[str, Any]) -> Credential:
    prompt = _text(table, "prompt", where)
    url = _text(table, "url", where)
    if url is not None and not url.startswith(("https://", "http://")):
        raise ConfigError(f"{where}: url must start with https:// (it is shown to the user)")
    store = _text(table, "store", where)
    if store is None:
        return Credential(name, SECRET, references.SECRET, name, prompt=prompt, url=url)
    if prompt is not None:
        raise ConfigError(
            f"{where}: prompt is for a secret you paste; one with store = ... is read from "
            "the password manager",
            hint="drop prompt (url may stay: where to get access)",
        )
    kind, locator = _store(where, store)
    return Credential(name, SECRET, kind, locator, url=url)


def _store(where: str, store: str) -> tuple[str, str]:
    """``(kind, locator)`` of a ``store`` value, written as ``wrap --bind`` takes it."""
    if store.startswith("op://"):
        kind, locator = references.OP, store[len("op://") :]
    else:
        kind, _, locator = store.partition(":")
    if kind == references.CMD:
        raise ConfigError(
            f'{where}: store = "cmd:..." is not allowed in a project file (setup would run '
            "a program the repository chose)",
            hint="use pass:, op://, bw: or vault:, or bind cmd: yourself with mcpcred wrap --bind",
        )
    if kind not in STORE_KINDS:
        raise ConfigError(
            f"{where}: store must be a password manager's reference: op://VAULT/ITEM/FIELD, "
            "pass:PATH, bw:ITEM/FIELD or vault:MOUNT/PATH#FIELD"
        )
    problem = references.locator_problem(kind, locator)
    if problem is not None:
        raise ConfigError(f"{where}: the store reference cannot be used: {problem}")
    return kind, locator


def _text(table: dict[str, Any], key: str, where: str) -> str | None:
    """A key's value: a non-empty, printable string of at most ``MAX_TEXT`` characters."""
    if key not in table:
        return None
    value = table[key]
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_TEXT
        or not value.isprintable()
    ):
        raise ConfigError(
            f"{where}: {key} must be a non-empty line of text (at most {MAX_TEXT} characters)"
        )
    return value.strip()


def _shown(text: str) -> str:
    """A name from the file, cut and escaped for an error line."""
    from mcpcred.terminal import printable

    return printable(text[:64])
