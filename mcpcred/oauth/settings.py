"""mcpcred's own config file, as far as logins read it.

The file (``config.toml`` in the platform's user config folder;
``MCPCRED_CONFIG`` moves it) holds no secrets, only where providers are and
which client id to use::

    [oauth]
    refresh-skew = 300          # refresh tokens that expire within this many seconds

    [providers.github]
    client-id = "Iv23liExample"

    [providers.entra]
    client-id = "00000000-0000-0000-0000-000000000000"
    tenant = "contoso.onmicrosoft.com"

    [providers.acme]            # a provider of your own
    issuer = "https://id.acme.dev"       # discovered (RFC 8414 / OIDC)
    client-id = "mcpcred"
    resource = "https://mcp.acme.dev/mcp"

A client secret never goes here: ``mcpcred login --client-secret-stdin``
keeps it in the keychain with the login. Unknown keys are errors, so a typo
cannot silently send a login to the wrong place.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mcpcred import tomlfile
from mcpcred.errors import ConfigError, UsageError
from mcpcred.oauth import providers
from mcpcred.oauth.providers import FLOWS, Provider
from mcpcred.oauth.urls import check_endpoint

DEFAULT_SKEW = 300
_OAUTH_KEYS = frozenset({"refresh-skew"})
_ENDPOINTS = {
    "authorization-endpoint": "authorization_endpoint",
    "token-endpoint": "token_endpoint",
    "device-authorization-endpoint": "device_authorization_endpoint",
    "revocation-endpoint": "revocation_endpoint",
    "identity-endpoint": "identity_endpoint",
}
_PROVIDER_KEYS = frozenset(
    {
        "issuer",
        "client-id",
        "scopes",
        "flow",
        "resource",
        "redirect-port",
        "base-url",
        "tenant",
        "identity-field",
        "title",
        "env-vars",
        *_ENDPOINTS,
    }
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The parsed file; an absent file is the defaults."""

    path: Path | None = None
    refresh_skew: int = DEFAULT_SKEW
    providers: dict[str, dict[str, Any]] = field(default_factory=dict)


def load(path: Path) -> Settings:
    """Read and check the config file at ``path``; ``ConfigError`` if it is unusable."""
    raw = tomlfile.read_bytes(str(path), missing_ok=True)
    if raw is None:
        return Settings(path=path)
    data = tomlfile.loads(str(path), raw)
    unknown = set(data) - {"oauth", "providers", "servers"}
    if unknown:
        raise ConfigError(f"{path}: unknown section(s): {', '.join(sorted(unknown))}")
    oauth = _table(data.get("oauth", {}), path, "[oauth]")
    _only(oauth, _OAUTH_KEYS, path, "[oauth]")
    skew = oauth.get("refresh-skew", DEFAULT_SKEW)
    if not isinstance(skew, int) or isinstance(skew, bool) or not 0 <= skew <= 86400:
        raise ConfigError(f"{path}: [oauth] refresh-skew must be a number of seconds (0-86400)")
    entries: dict[str, dict[str, Any]] = {}
    for name, entry in _table(data.get("providers", {}), path, "[providers]").items():
        where = f"[providers.{name}]"
        table = _table(entry, path, where)
        _only(table, _PROVIDER_KEYS, path, where)
        entries[name] = table
    return Settings(path=path, refresh_skew=skew, providers=entries)


def provider(
    name: str,
    settings: Settings,
    *,
    issuer: str | None = None,
    client_id: str | None = None,
    scopes: list[str] | None = None,
    resource: str | None = None,
) -> Provider:
    """The profile for ``name``: built-in or configured, overlaid by the file and the flags."""
    from mcpcred import references

    if not references.valid_name(name) or "." in name:
        raise UsageError(
            f"invalid provider name {name!r}",
            hint="provider names are lower-case letters, digits, '-' and '_'",
        )
    canonical = providers.ALIASES.get(name, name)
    entry = entry_for(name, settings)
    base = providers.BUILTIN.get(canonical)
    if base is None:
        if not (issuer or entry.get("issuer") or entry.get("token-endpoint")):
            known = ", ".join(providers.BUILTIN)
            where = settings.path or "mcpcred's config file"
            raise UsageError(
                f"unknown provider {name!r} (built in: {known})",
                hint=f"pass --issuer URL, or describe it under [providers.{name}] in {where}",
            )
        base = replace(providers.GENERIC, name=name, title=name)
    else:
        base = replace(base, name=name if name in settings.providers else canonical)
    profile = _overlay(base, entry, settings.path)
    if issuer:
        profile = replace(profile, issuer=issuer.rstrip("/"))
    if client_id:
        profile = replace(profile, client_id=client_id)
    if scopes:
        profile = replace(profile, scopes=tuple(scopes))
    if resource:
        profile = replace(profile, resource=resource)
    profile = profile.expanded()
    for what, url in (
        ("issuer", profile.issuer),
        ("authorization endpoint", profile.authorization_endpoint),
        ("token endpoint", profile.token_endpoint),
        ("device authorization endpoint", profile.device_authorization_endpoint),
        ("revocation endpoint", profile.revocation_endpoint),
        ("identity endpoint", profile.identity_endpoint),
    ):
        if url is not None:
            check_endpoint(url, f"{name} {what}")
    return profile


def entry_for(name: str, settings: Settings) -> dict[str, Any]:
    """The user's ``[providers.*]`` table for ``name``, whichever alias it is kept under.

    A user who wrote ``[providers.microsoft]`` means it for ``entra`` too (a repository's
    ``mcpcred.toml`` names the canonical provider): its own name first, then the
    canonical one, then the other aliases of the same provider in a fixed order.
    """
    canonical = providers.ALIASES.get(name, name)
    names = [name, canonical, *sorted(a for a, c in providers.ALIASES.items() if c == canonical)]
    for candidate in dict.fromkeys(names):
        entry = settings.providers.get(candidate)
        if entry:
            return entry
    return {}


def _overlay(base: Provider, entry: dict[str, Any], path: Path | None) -> Provider:
    where = f"{path}: [providers.{base.name}]"
    changes: dict[str, Any] = {}
    for key, attribute in _ENDPOINTS.items():
        if key in entry:
            changes[attribute] = _string(entry[key], where, key)
    if "issuer" in entry:
        changes["issuer"] = _string(entry["issuer"], where, "issuer").rstrip("/")
    if "client-id" in entry:
        changes["client_id"] = _string(entry["client-id"], where, "client-id")
    if "resource" in entry:
        changes["resource"] = _string(entry["resource"], where, "resource")
    if "title" in entry:
        changes["title"] = _string(entry["title"], where, "title")
    if "identity-field" in entry:
        changes["identity_field"] = _string(entry["identity-field"], where, "identity-field")
    if "env-vars" in entry:
        names = entry["env-vars"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"{where}: env-vars must be a list of variable names")
        changes["env_vars"] = tuple(names)
    if "scopes" in entry:
        scopes = entry["scopes"]
        if isinstance(scopes, str):
            scopes = scopes.split()
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            raise ConfigError(f"{where}: scopes must be a list of strings")
        changes["scopes"] = tuple(scopes)
    if "flow" in entry:
        flow = entry["flow"]
        if flow not in FLOWS:
            raise ConfigError(f"{where}: flow must be one of {', '.join(FLOWS)}")
        changes["flows"] = (flow, *(f for f in base.flows if f != flow))
    if "redirect-port" in entry:
        port = entry["redirect-port"]
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise ConfigError(f"{where}: redirect-port must be a port number (0 for any)")
        changes["redirect_port"] = port
    profile = replace(base, **changes)
    params = {}
    if "base-url" in entry:
        params["base"] = _string(entry["base-url"], where, "base-url")
    if "tenant" in entry:
        params["tenant"] = _string(entry["tenant"], where, "tenant")
    return profile.with_params(**params) if params else profile


def _table(value: object, path: Path, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {where} must be a table")
    return value


def _only(table: dict[str, Any], allowed: frozenset[str], path: Path, where: str) -> None:
    tomlfile.check_keys(table, allowed, f"{path}: {where}")


def _string(value: object, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key} must be a non-empty string")
    return value.strip()
