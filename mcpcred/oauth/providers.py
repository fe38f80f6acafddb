"""Built-in provider profiles: where each provider's endpoints are, and what it gets wrong.

A profile is data. ``settings`` overlays what the user configured (a client
id, a tenant, a self-managed GitLab), and ``discovery`` fills endpoints from
an issuer's metadata for the generic provider. Endpoint templates use
``{base}`` (GitLab and GitHub hosts) and ``{tenant}`` (Entra ID).

The quirks matter at the token endpoint, including in the shim at refresh
time, so they are copied into the stored login record (``records``) rather
than looked up again: a profile can change between versions, a stored login
must keep working.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

# ruff: noqa: S106 (token_endpoint= is a URL, not a password)

DEVICE = "device"
PKCE = "pkce"
FLOWS = (DEVICE, PKCE)


@dataclass(frozen=True, slots=True)
class Quirks:
    """How a provider's token endpoint departs from RFC 6749."""

    # GitHub lists granted scopes with commas ("repo,gist").
    comma_scopes: bool = False
    # Entra ID v2 rejects RFC 8707 `resource` next to scopes (AADSTS901002).
    resource_indicators: bool = True
    # The code exchange needs the client secret even with PKCE (GitHub, Google, Atlassian).
    secret_for_code: bool = False


@dataclass(frozen=True, slots=True)
class Provider:
    """Everything needed to log in to one provider and to refresh its tokens."""

    name: str
    title: str
    flows: tuple[str, ...] = FLOWS  # preferred first
    scopes: tuple[str, ...] = ()
    issuer: str | None = None  # discovery (RFC 8414 / OIDC) when endpoints are missing
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    device_authorization_endpoint: str | None = None
    revocation_endpoint: str | None = None
    # Who the token belongs to, for `status`: a GET returning JSON with this field.
    identity_endpoint: str | None = None
    identity_field: str = "sub"
    client_id: str | None = None
    resource: str | None = None  # RFC 8707 resource indicator
    redirect_port: int = 0  # 0: an ephemeral port (RFC 8252 loopback)
    # A fixed loopback redirect URI the client is registered with (a pre-registered app made
    # for another MCP client): sent exactly as written, listened on at its port and path.
    redirect_uri: str | None = None
    # The metadata says authorization_response_iss_parameter_supported: a callback
    # without `iss` is then refused too (RFC 9207 §2.4), not only one with a wrong `iss`.
    iss_required: bool = False
    auth_params: tuple[tuple[str, str], ...] = ()  # extra authorization-request parameters
    quirks: Quirks = field(default_factory=Quirks)
    params: tuple[tuple[str, str], ...] = ()  # template values: base, tenant
    # Documentation, and `login`'s suggestions of what to bind the token to.
    env_vars: tuple[str, ...] = ()
    register_url: str = ""
    # How to get a client id, in one line: what ``login`` says when there is none.
    register_steps: str = ""
    rotates: str = "varies"
    lifetime: str = "varies"

    def with_params(self, **values: str) -> Provider:
        """The profile with template values set (``base``, ``tenant``)."""
        merged = dict(self.params)
        merged.update(values)
        return replace(self, params=tuple(sorted(merged.items())))

    def expanded(self) -> Provider:
        """The profile with ``{base}``/``{tenant}`` replaced in every endpoint."""
        values = dict(self.params)

        def fill(url: str | None) -> str | None:
            if url is None:
                return None
            for key, value in values.items():
                url = url.replace("{" + key + "}", value.rstrip("/"))
            return url

        return replace(
            self,
            issuer=fill(self.issuer),
            authorization_endpoint=fill(self.authorization_endpoint),
            token_endpoint=fill(self.token_endpoint),
            device_authorization_endpoint=fill(self.device_authorization_endpoint),
            revocation_endpoint=fill(self.revocation_endpoint),
            identity_endpoint=fill(self.identity_endpoint),
        )

    def available(self, flow: str) -> bool:
        """Whether ``flow`` can run now: listed, and its endpoint known."""
        if flow not in self.flows or self.token_endpoint is None:
            return False
        if flow == DEVICE:
            return self.device_authorization_endpoint is not None
        return self.authorization_endpoint is not None


GITHUB = Provider(
    name="github",
    title="GitHub",
    flows=(DEVICE, PKCE),
    scopes=("repo", "read:org"),
    authorization_endpoint="{base}/login/oauth/authorize",
    token_endpoint="{base}/login/oauth/access_token",
    device_authorization_endpoint="{base}/login/device/code",
    identity_endpoint="https://api.github.com/user",
    identity_field="login",
    # GitHub also answers form-encoded unless asked for JSON: mcpcred always asks, and
    # reads either (tokens.decode).
    quirks=Quirks(comma_scopes=True, resource_indicators=False, secret_for_code=True),
    params=(("base", "https://github.com"),),
    env_vars=("GITHUB_PERSONAL_ACCESS_TOKEN", "GITHUB_TOKEN", "GH_TOKEN"),
    register_url="https://github.com/settings/apps/new",
    register_steps=(
        "create a GitHub App at https://github.com/settings/apps/new (Settings > "
        "Developer settings > GitHub Apps > New GitHub App) with \"Enable Device Flow\" "
        "ticked, and copy its Client ID (docs/login.md#github)"
    ),
    rotates="yes (GitHub App user tokens: single-use refresh tokens)",
    lifetime="8 h access, 6 months refresh (GitHub App with token expiration); "
    "OAuth App tokens do not expire and have no refresh token",
)  # fmt: skip

GITLAB = Provider(
    name="gitlab",
    title="GitLab",
    flows=(DEVICE, PKCE),
    scopes=("api",),
    authorization_endpoint="{base}/oauth/authorize",
    token_endpoint="{base}/oauth/token",
    device_authorization_endpoint="{base}/oauth/authorize_device",
    revocation_endpoint="{base}/oauth/revoke",
    identity_endpoint="{base}/api/v4/user",
    identity_field="username",
    params=(("base", "https://gitlab.com"),),
    env_vars=("GITLAB_PERSONAL_ACCESS_TOKEN", "GITLAB_TOKEN"),
    register_url="https://gitlab.com/-/user_settings/applications",
    register_steps=(
        "add an application at https://gitlab.com/-/user_settings/applications (Edit "
        'profile > Applications), "Confidential" unticked, scope api, and copy its '
        "Application ID (docs/login.md#gitlab)"
    ),
    rotates="yes (each refresh returns a new refresh token)",
    lifetime="2 h access",
)

GOOGLE = Provider(
    name="google",
    title="Google",
    # The device flow only allows a short list of scopes (no Gmail, no full Drive).
    flows=(PKCE, DEVICE),
    scopes=("openid", "email"),
    authorization_endpoint="https://accounts.google.com/o/oauth2/v2/auth",
    token_endpoint="https://oauth2.googleapis.com/token",
    device_authorization_endpoint="https://oauth2.googleapis.com/device/code",
    revocation_endpoint="https://oauth2.googleapis.com/revoke",
    identity_endpoint="https://openidconnect.googleapis.com/v1/userinfo",
    identity_field="email",
    # A refresh token only comes with offline access, and only on a fresh consent.
    auth_params=(("access_type", "offline"), ("prompt", "consent")),
    quirks=Quirks(secret_for_code=True),
    env_vars=("GOOGLE_ACCESS_TOKEN", "GOOGLE_OAUTH_ACCESS_TOKEN"),
    register_url="https://console.cloud.google.com/apis/credentials",
    register_steps=(
        'create an OAuth client ID of type "Desktop app" at '
        "https://console.cloud.google.com/apis/credentials and copy its Client ID; Google"
        " also needs its secret: --client-secret-stdin (docs/login.md#google)"
    ),
    rotates="no (the refresh token stays valid until revoked or unused for 6 months)",
    lifetime="1 h access",
)

ENTRA = Provider(
    name="entra",
    title="Microsoft Entra ID",
    flows=(DEVICE, PKCE),
    scopes=("offline_access", "openid", "profile", "User.Read"),
    authorization_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
    token_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
    device_authorization_endpoint="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/devicecode",
    identity_endpoint="https://graph.microsoft.com/oidc/userinfo",
    identity_field="email",
    quirks=Quirks(resource_indicators=False),
    params=(("tenant", "common"),),
    env_vars=("AZURE_ACCESS_TOKEN", "MICROSOFT_ACCESS_TOKEN"),
    register_url="https://entra.microsoft.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
    register_steps=(
        "register an app at https://entra.microsoft.com/ (App registrations > New "
        'registration), set "Allow public client flows" to Yes, and copy its Application '
        "(client) ID (docs/login.md#microsoft-entra-id)"
    ),
    rotates="yes (each refresh returns a new refresh token)",
    lifetime="60-90 min access, 90 days refresh (sliding)",
)

ATLASSIAN = Provider(
    name="atlassian",
    title="Atlassian (Jira, Confluence)",
    flows=(PKCE,),
    scopes=("read:me", "read:jira-work", "read:confluence-content.all", "offline_access"),
    authorization_endpoint="https://auth.atlassian.com/authorize",
    token_endpoint="https://auth.atlassian.com/oauth/token",
    identity_endpoint="https://api.atlassian.com/me",
    identity_field="email",
    auth_params=(("audience", "api.atlassian.com"), ("prompt", "consent")),
    # Atlassian matches the callback URL exactly, port included.
    redirect_port=8765,
    quirks=Quirks(secret_for_code=True, resource_indicators=False),
    env_vars=("ATLASSIAN_OAUTH_ACCESS_TOKEN", "JIRA_PERSONAL_TOKEN", "CONFLUENCE_PERSONAL_TOKEN"),
    register_url="https://developer.atlassian.com/console/myapps/",
    register_steps=(
        "create an OAuth 2.0 integration at "
        "https://developer.atlassian.com/console/myapps/ with callback "
        "http://127.0.0.1:8765/callback, and copy its Client ID; Atlassian also needs its"
        " secret: --client-secret-stdin (docs/login.md#atlassian-jira-confluence)"
    ),
    rotates="yes (rotating refresh tokens, 90 days of inactivity)",
    lifetime="1 h access",
)

GENERIC = Provider(
    name="oidc",
    title="Any OpenID Connect / OAuth 2 server (--issuer URL, or endpoints in the config file)",
    flows=(DEVICE, PKCE),
    identity_field="preferred_username",
    rotates="depends on the server",
    lifetime="depends on the server",
)

BUILTIN: dict[str, Provider] = {
    p.name: p for p in (GITHUB, GITLAB, GOOGLE, ENTRA, ATLASSIAN, GENERIC)
}
ALIASES = {"microsoft": "entra", "azure": "entra", "jira": "atlassian", "confluence": "atlassian"}
