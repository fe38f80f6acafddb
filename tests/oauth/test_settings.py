"""mcpcred's own config file as logins read it: ``settings.load`` and ``settings.provider``."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.errors import EXIT_CONFIG, EXIT_USAGE, ConfigError, OAuthError, UsageError
from mcpcred.oauth import providers, settings
from mcpcred.oauth.providers import DEVICE, PKCE, Provider
from mcpcred.oauth.settings import DEFAULT_SKEW, Settings


def write(tmp_path: Path, text: str) -> Path:
    """A config file with ``text`` in ``tmp_path``."""
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def configured(tmp_path: Path, text: str, name: str, **flags: object) -> Provider:
    """The profile ``name`` as a config file with ``text`` (and the flags) make it."""
    return settings.provider(name, settings.load(write(tmp_path, text)), **flags)  # type: ignore[arg-type]


def endpoints(profile: Provider) -> list[str]:
    """Every endpoint URL a profile has."""
    urls = [
        profile.authorization_endpoint,
        profile.token_endpoint,
        profile.device_authorization_endpoint,
        profile.revocation_endpoint,
        profile.identity_endpoint,
    ]
    return [url for url in urls if url is not None]


# --- load ---------------------------------------------------------------------------------


def test_missing_file_is_the_defaults(tmp_path: Path) -> None:
    """No file: default skew, no provider entries, the path kept for messages."""
    path = tmp_path / "absent.toml"
    loaded = settings.load(path)
    assert loaded.path == path
    assert loaded.refresh_skew == DEFAULT_SKEW == 300
    assert loaded.providers == {}


def test_empty_file_is_the_defaults(tmp_path: Path) -> None:
    """An empty file is as good as none."""
    loaded = settings.load(write(tmp_path, ""))
    assert loaded.refresh_skew == DEFAULT_SKEW
    assert loaded.providers == {}


def test_refresh_skew_is_read(tmp_path: Path) -> None:
    """``[oauth] refresh-skew`` sets how early tokens are refreshed."""
    assert settings.load(write(tmp_path, "[oauth]\nrefresh-skew = 120\n")).refresh_skew == 120
    assert settings.load(write(tmp_path, "[oauth]\nrefresh-skew = 0\n")).refresh_skew == 0
    assert settings.load(write(tmp_path, "[oauth]\nrefresh-skew = 86400\n")).refresh_skew == 86400


@pytest.mark.parametrize("value", ['"300"', "-1", "86401", "true", "1.5", "[300]"])
def test_refresh_skew_must_be_seconds(tmp_path: Path, value: str) -> None:
    """Strings, booleans, floats and out-of-range numbers are config errors."""
    with pytest.raises(ConfigError, match="refresh-skew") as caught:
        settings.load(write(tmp_path, f"[oauth]\nrefresh-skew = {value}\n"))
    assert caught.value.exit_code == EXIT_CONFIG


def test_unknown_section_is_named(tmp_path: Path) -> None:
    """A typo'd section is an error naming it, not silently ignored."""
    with pytest.raises(ConfigError, match="provider") as caught:
        settings.load(write(tmp_path, '[provider.github]\nclient-id = "x"\n'))
    assert "unknown section" in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG


def test_unknown_oauth_key_is_named(tmp_path: Path) -> None:
    """``refresh_skew`` (underscore) is not ``refresh-skew``."""
    with pytest.raises(ConfigError) as caught:
        settings.load(write(tmp_path, "[oauth]\nrefresh_skew = 10\n"))
    assert "refresh_skew" in caught.value.message
    assert "[oauth]" in caught.value.message
    assert caught.value.hint is not None and "refresh-skew" in caught.value.hint
    assert caught.value.exit_code == EXIT_CONFIG


def test_unknown_provider_key_is_named(tmp_path: Path) -> None:
    """A typo in a provider table could send a login elsewhere: it is an error."""
    path = write(tmp_path, '[providers.github]\nclient_id = "Iv1.x"\n')
    with pytest.raises(ConfigError) as caught:
        settings.load(path)
    assert "client_id" in caught.value.message
    assert "[providers.github]" in caught.value.message
    assert str(path) in caught.value.message
    assert caught.value.hint is not None and "client-id" in caught.value.hint
    assert caught.value.exit_code == EXIT_CONFIG


def test_client_secret_is_not_a_config_key(tmp_path: Path) -> None:
    """Secrets never live in the file: ``client-secret`` is an unknown key."""
    with pytest.raises(ConfigError, match="client-secret"):
        settings.load(write(tmp_path, '[providers.github]\nclient-secret = "s"\n'))


def test_invalid_toml_is_a_config_error(tmp_path: Path) -> None:
    """A syntax error says where the file is and that it is not TOML."""
    path = write(tmp_path, "[oauth\nrefresh-skew = \n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        settings.load(path)
    assert str(path) in caught.value.message
    assert caught.value.exit_code == EXIT_CONFIG


@pytest.mark.parametrize(
    "text", ['oauth = "x"\n', 'providers = "x"\n', '[providers]\ngithub = "x"\n']
)
def test_tables_must_be_tables(tmp_path: Path, text: str) -> None:
    """A section given as a plain value is refused."""
    with pytest.raises(ConfigError, match="must be a table"):
        settings.load(write(tmp_path, text))


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 are an error, not a crash."""
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe[oauth]")
    with pytest.raises(ConfigError, match="not valid TOML: not UTF-8 at byte 0") as caught:
        settings.load(path)
    assert "0xff" not in str(caught.value)  # nothing of the file's content


# --- provider -----------------------------------------------------------------------------


def test_builtin_profile_without_file(tmp_path: Path) -> None:
    """With no file, a built-in name gives its profile with templates filled."""
    github = settings.provider("github", settings.load(tmp_path / "none.toml"))
    assert github.name == "github"
    assert github.client_id is None
    assert github.token_endpoint == "https://github.com/login/oauth/access_token"
    assert github.device_authorization_endpoint == "https://github.com/login/device/code"
    assert all("{" not in url for url in endpoints(github))


def test_github_client_id_overlays_the_builtin(tmp_path: Path) -> None:
    """``[providers.github] client-id`` keeps every other part of the profile."""
    github = configured(tmp_path, '[providers.github]\nclient-id = "Iv23liExample"\n', "github")
    assert github.client_id == "Iv23liExample"
    assert github.quirks == providers.GITHUB.quirks
    assert github.scopes == providers.GITHUB.scopes
    assert github.authorization_endpoint == "https://github.com/login/oauth/authorize"


def test_entra_tenant_is_in_every_endpoint(tmp_path: Path) -> None:
    """A tenant replaces ``common`` in each tenant-scoped Entra endpoint."""
    text = '[providers.entra]\nclient-id = "00000000-0000-0000-0000-000000000000"\ntenant = "contoso.onmicrosoft.com"\n'
    entra = configured(tmp_path, text, "entra")
    tenant_scoped = [
        entra.authorization_endpoint,
        entra.token_endpoint,
        entra.device_authorization_endpoint,
    ]
    for url in tenant_scoped:
        assert url is not None
        assert url.startswith(
            "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/"
        )
    assert all("{tenant}" not in url and "/common/" not in url for url in endpoints(entra))


def test_entra_default_tenant_is_common(tmp_path: Path) -> None:
    """Without a tenant, Entra uses the multi-tenant ``common`` endpoints."""
    entra = settings.provider("entra", Settings())
    assert entra.token_endpoint == "https://login.microsoftonline.com/common/oauth2/v2.0/token"


def test_gitlab_base_url_moves_every_endpoint(tmp_path: Path) -> None:
    """A self-managed GitLab: all five endpoints move to its host."""
    text = '[providers.gitlab]\nclient-id = "abc"\nbase-url = "https://gitlab.example.com/"\n'
    gitlab = configured(tmp_path, text, "gitlab")
    urls = endpoints(gitlab)
    assert len(urls) == 5
    assert all(url.startswith("https://gitlab.example.com/") for url in urls), urls
    assert all("gitlab.com" not in url.replace("gitlab.example.com", "") for url in urls)
    assert gitlab.token_endpoint == "https://gitlab.example.com/oauth/token"
    assert gitlab.identity_endpoint == "https://gitlab.example.com/api/v4/user"


def test_custom_provider_with_issuer(tmp_path: Path) -> None:
    """A provider of one's own: the generic profile under its own name."""
    text = (
        "[providers.acme]\n"
        'issuer = "https://id.acme.dev/"\n'
        'client-id = "mcpcred"\n'
        'resource = "https://mcp.acme.dev/mcp"\n'
        'scopes = "openid offline_access"\n'
    )
    acme = configured(tmp_path, text, "acme")
    assert acme.name == "acme"
    assert acme.issuer == "https://id.acme.dev"
    assert acme.client_id == "mcpcred"
    assert acme.resource == "https://mcp.acme.dev/mcp"
    assert acme.scopes == ("openid", "offline_access")
    assert acme.flows == providers.GENERIC.flows
    assert acme.quirks == providers.GENERIC.quirks


def test_custom_provider_with_token_endpoint_only(tmp_path: Path) -> None:
    """Endpoints in the file are enough, no issuer needed."""
    text = (
        "[providers.acme]\n"
        'client-id = "mcpcred"\n'
        'token-endpoint = "https://id.acme.dev/token"\n'
        'device-authorization-endpoint = "https://id.acme.dev/device"\n'
        'scopes = ["a", "b"]\n'
    )
    acme = configured(tmp_path, text, "acme")
    assert acme.issuer is None
    assert acme.token_endpoint == "https://id.acme.dev/token"
    assert acme.scopes == ("a", "b")
    assert acme.available(DEVICE)
    assert not acme.available(PKCE)


def test_unknown_provider_without_issuer_asks_for_one(tmp_path: Path) -> None:
    """An unknown name with nothing to go on: a usage error pointing at ``--issuer``."""
    with pytest.raises(UsageError, match="unknown provider 'acme'") as caught:
        settings.provider("acme", settings.load(tmp_path / "none.toml"))
    assert caught.value.hint is not None
    assert "--issuer" in caught.value.hint
    assert "[providers.acme]" in caught.value.hint
    assert caught.value.exit_code == EXIT_USAGE


def test_configured_provider_without_issuer_or_endpoint_asks_for_one(tmp_path: Path) -> None:
    """A table with only a client id is not enough to find the server."""
    with pytest.raises(UsageError) as caught:
        configured(tmp_path, '[providers.acme]\nclient-id = "x"\n', "acme")
    assert caught.value.hint is not None and "--issuer" in caught.value.hint


def test_issuer_flag_makes_an_unknown_provider(tmp_path: Path) -> None:
    """``--issuer`` alone is enough for a name nobody configured."""
    acme = settings.provider("acme", Settings(), issuer="https://id.acme.dev/", client_id="c")
    assert acme.issuer == "https://id.acme.dev"
    assert acme.client_id == "c"


def test_flags_override_the_file(tmp_path: Path) -> None:
    """--issuer, --client-id, --scope and --resource win over the file."""
    text = (
        "[providers.acme]\n"
        'issuer = "https://file.example.com"\n'
        'client-id = "from-file"\n'
        'scopes = ["file"]\n'
        'resource = "https://file.example.com/mcp"\n'
    )
    acme = configured(
        tmp_path,
        text,
        "acme",
        issuer="https://flag.example.com",
        client_id="from-flag",
        scopes=["x", "y"],
        resource="https://flag.example.com/mcp",
    )
    assert acme.issuer == "https://flag.example.com"
    assert acme.client_id == "from-flag"
    assert acme.scopes == ("x", "y")
    assert acme.resource == "https://flag.example.com/mcp"


def test_flags_override_a_builtin(tmp_path: Path) -> None:
    """Flags also beat a built-in profile's scopes and the file's client id."""
    text = '[providers.github]\nclient-id = "from-file"\n'
    github = configured(tmp_path, text, "github", client_id="from-flag", scopes=["gist"])
    assert github.client_id == "from-flag"
    assert github.scopes == ("gist",)


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("token-endpoint", "http://evil.example.com/token"),
        ("authorization-endpoint", "http://evil.example.com/authorize"),
        ("issuer", "http://id.example.com"),
        ("token-endpoint", "https://evil.example.com/a b"),
        ("token-endpoint", "https://user:pw@evil.example.com/token"),
    ],
)
def test_unsafe_endpoint_in_the_file_is_refused(tmp_path: Path, key: str, url: str) -> None:
    """An endpoint that could leak a credential is refused before any login starts."""
    issuer = "" if key == "issuer" else 'issuer = "https://id.example.com"\n'
    text = f'[providers.acme]\nclient-id = "x"\n{issuer}{key} = "{url}"\n'
    with pytest.raises(OAuthError) as caught:
        configured(tmp_path, text, "acme")
    assert "acme" in caught.value.message


def test_unsafe_base_url_is_refused(tmp_path: Path) -> None:
    """A GitLab over plain http would send the code and tokens in the clear."""
    with pytest.raises(OAuthError, match="https"):
        configured(tmp_path, '[providers.gitlab]\nbase-url = "http://gitlab.internal"\n', "gitlab")


def test_loopback_http_endpoint_is_allowed(tmp_path: Path) -> None:
    """A local test server over http is fine."""
    text = '[providers.local]\nclient-id = "x"\ntoken-endpoint = "http://127.0.0.1:4000/token"\n'
    assert configured(tmp_path, text, "local").token_endpoint == "http://127.0.0.1:4000/token"


def test_unsafe_issuer_flag_is_refused(tmp_path: Path) -> None:
    """The --issuer flag is checked like the file."""
    with pytest.raises(OAuthError):
        settings.provider("acme", Settings(), issuer="http://id.example.com")


@pytest.mark.parametrize("alias", ["microsoft", "azure"])
def test_alias_resolves_to_entra(alias: str) -> None:
    """``microsoft`` and ``azure`` are the Entra profile under its own name."""
    profile = settings.provider(alias, Settings())
    assert profile.name == "entra"
    assert profile.title == providers.ENTRA.title
    assert profile.token_endpoint == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert profile.quirks == providers.ENTRA.quirks


def test_alias_uses_the_canonical_table(tmp_path: Path) -> None:
    """``[providers.entra]`` applies when the user types ``microsoft``."""
    text = '[providers.entra]\nclient-id = "cid"\ntenant = "contoso.onmicrosoft.com"\n'
    profile = configured(tmp_path, text, "microsoft")
    assert profile.client_id == "cid"
    assert (
        profile.token_endpoint is not None and "contoso.onmicrosoft.com" in profile.token_endpoint
    )


@pytest.mark.parametrize("table", ["microsoft", "azure"])
def test_an_alias_table_applies_to_the_canonical_name_too(tmp_path: Path, table: str) -> None:
    """A user's ``[providers.microsoft]`` is what ``entra`` means for them (a repository's
    ``mcpcred.toml`` and ``mcpcred setup`` name the canonical provider)."""
    text = f'[providers.{table}]\nclient-id = "cid"\ntenant = "contoso.onmicrosoft.com"\n'
    profile = configured(tmp_path, text, "entra")
    assert profile.name == "entra" and profile.client_id == "cid"
    assert profile.token_endpoint is not None and "contoso" in profile.token_endpoint
    # the name's own table wins over an alias's
    both = text + '\n[providers.entra]\nclient-id = "own"\n'
    assert configured(tmp_path, both, "entra").client_id == "own"


def test_flow_key_puts_that_flow_first(tmp_path: Path) -> None:
    """``flow = "pkce"`` reorders GitHub's flows; the other flow stays available."""
    github = configured(tmp_path, '[providers.github]\nflow = "pkce"\n', "github")
    assert github.flows == (PKCE, DEVICE)
    google = configured(tmp_path, '[providers.google]\nflow = "device"\n', "google")
    assert google.flows == (DEVICE, PKCE)


def test_unknown_flow_is_a_config_error(tmp_path: Path) -> None:
    """Only device and pkce exist."""
    with pytest.raises(ConfigError, match="flow must be one of"):
        configured(tmp_path, '[providers.github]\nflow = "implicit"\n', "github")


@pytest.mark.parametrize("value", ["-1", "65536", "true", '"8765"'])
def test_redirect_port_must_be_a_port(tmp_path: Path, value: str) -> None:
    """redirect-port is 0-65535."""
    with pytest.raises(ConfigError, match="redirect-port"):
        configured(tmp_path, f"[providers.atlassian]\nredirect-port = {value}\n", "atlassian")


def test_redirect_port_is_read(tmp_path: Path) -> None:
    """A port the provider matches exactly can be changed."""
    atlassian = configured(tmp_path, "[providers.atlassian]\nredirect-port = 9000\n", "atlassian")
    assert atlassian.redirect_port == 9000


@pytest.mark.parametrize(
    ("key", "value"),
    [("client-id", "5"), ("client-id", '"  "'), ("tenant", "[1]"), ("scopes", "[1, 2]")],
)
def test_values_must_have_the_right_type(tmp_path: Path, key: str, value: str) -> None:
    """Non-strings and blank strings are config errors naming the key."""
    with pytest.raises(ConfigError, match=key):
        configured(tmp_path, f"[providers.entra]\n{key} = {value}\n", "entra")


@pytest.mark.parametrize("name", ["Bad Name", "a.b", "GitHub", "", "a/b", "../x", "x" * 65])
def test_invalid_provider_names_are_usage_errors(name: str) -> None:
    """Provider names become keychain item names and file names: strictly limited."""
    with pytest.raises(UsageError, match="invalid provider name") as caught:
        settings.provider(name, Settings(), issuer="https://id.example.com")
    assert caught.value.exit_code == EXIT_USAGE
