"""A labelled corpus of MCP client config files, for measuring secret detection.

Every file is built from server entries shaped like the ones MCP servers'
READMEs tell people to paste (GitHub, Slack, Notion, Stripe, Postgres,
Atlassian, AWS, Exa, Tavily, Sentry, Figma, Supabase, mcp-remote...), written
in each client's own format and location:

- Claude Desktop ``claude_desktop_config.json`` (strict JSON, remote servers via
  ``mcp-remote``), Claude Code ``.mcp.json`` and ``~/.claude.json`` (top level and
  ``projects.<path>.mcpServers``), Cursor ``.cursor/mcp.json`` (``auth``),
  VS Code ``.vscode/mcp.json`` (``servers`` + ``inputs``, JSONC), Windsurf
  ``mcp_config.json`` (``serverUrl``), Zed ``settings.json`` (``context_servers``,
  current and legacy shapes, extension settings), Codex ``config.toml``
  (``[mcp_servers.X]``, ``env``, ``http_headers``, inline tables), Gemini CLI
  ``.gemini/settings.json`` (``httpUrl``), and two generic ``mcpServers`` files
  (Cline, Roo Code).

Each credential slot is filled either with a real-looking credential (a
format-valid token from ``tests/support/tokengen.py``, or an opaque key, UUID
key or password under a realistic name) or with a hard negative: a
placeholder, a reference the client or a secret manager resolves, or a
non-secret value that looks random (ids, digests, SHAs, publishable keys...).
Every file carries its labels: the exact ``(relative path, value)`` pairs that
are real credentials, and the hard negatives it contains.

Everything comes from one ``random.Random(seed)``: the same seed gives the same
files, byte for byte. Nothing here is a real credential.

Run ``python benchmarks/corpus.py OUT`` to write a corpus and its labels
(``OUT/corpus`` and ``OUT/labels.json``).
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import re
import string
import sys
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

from tests.support import tokengen  # noqa: E402

__all__ = ["ConfigFile", "Corpus", "Label", "Negative", "build", "encodings", "main"]

DIGITS = string.digits
HEX = "0123456789abcdef"
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
ALNUM = DIGITS + UPPER + LOWER
B64 = ALNUM + "+/"
B64URL = ALNUM + "-_"
PASSWORD_CHARS = ALNUM + "!@#^&*-_.+=~"

# Words no generated random value may contain: they mark placeholders.
_AVOID = (
    "example",
    "placeholder",
    "redacted",
    "changeme",
    "change_me",
    "notreal",
    "your",
    "replace",
    "dummy",
    "sample",
    "fake",
    "insert",
    "xxxx",
)


# --- labels -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """A real credential in a file: ``value`` is exactly the secret's text."""

    path: str  # relative, POSIX separators
    value: str
    kind: str  # a tokengen kind, or opaque / uuid-key / password / url-password / url-path
    placement: str  # how it sits in the entry: env, arg-eq, docker-env, header, url-query...
    name: str  # the env var, flag, header or key it sits under ("" for none)


@dataclass(frozen=True, slots=True)
class Negative:
    """A value that must not be reported: a placeholder, reference or non-secret."""

    path: str
    value: str
    category: str  # placeholder, reference, identifier, digest, path, config, ...
    name: str


@dataclass(slots=True)
class ConfigFile:
    """One generated config file with its labels."""

    path: str
    client: str
    text: str
    secrets: list[Label] = field(default_factory=list)
    negatives: list[Negative] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        """The bytes written to disk (the text is kept exactly, CRLF and BOM included)."""
        return self.text.encode("utf-8")


@dataclass(slots=True)
class Corpus:
    """A set of generated files and their ground truth."""

    seed: int
    files: list[ConfigFile]

    @property
    def secrets(self) -> list[Label]:
        """Every labelled credential, one per distinct ``(path, value)``."""
        seen: set[tuple[str, str]] = set()
        out: list[Label] = []
        for file in self.files:
            for label in file.secrets:
                if (label.path, label.value) not in seen:
                    seen.add((label.path, label.value))
                    out.append(label)
        return out

    @property
    def negatives(self) -> list[Negative]:
        """Every hard negative, one per distinct ``(path, value)``."""
        seen: set[tuple[str, str]] = set()
        out: list[Negative] = []
        for file in self.files:
            for negative in file.negatives:
                if (negative.path, negative.value) not in seen:
                    seen.add((negative.path, negative.value))
                    out.append(negative)
        return out

    def write(self, root: Path) -> None:
        """Write every file under ``root``."""
        for file in self.files:
            target = root / file.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(file.data)

    def labels_document(self) -> dict[str, object]:
        """Ground truth as JSON-ready data (contains the fake secret values)."""
        return {
            "seed": self.seed,
            "files": len(self.files),
            "secrets": [
                {
                    "path": s.path,
                    "value": s.value,
                    "kind": s.kind,
                    "placement": s.placement,
                    "name": s.name,
                }
                for s in self.secrets
            ],
            "negatives": [
                {"path": n.path, "value": n.value, "category": n.category, "name": n.name}
                for n in self.negatives
            ],
        }

    def stats(self) -> dict[str, object]:
        """Counts for a summary line."""
        secrets = self.secrets
        return {
            "files": len(self.files),
            "secrets": len(secrets),
            "negatives": len(self.negatives),
            "clients": dict(Counter(f.client for f in self.files)),
            "kinds": dict(Counter(s.kind for s in secrets)),
            "placements": dict(Counter(s.placement for s in secrets)),
            "negative_categories": dict(Counter(n.category for n in self.negatives)),
        }


# --- random values ------------------------------------------------------------------------


class Values:
    """Random but plausible values, all drawn from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, items: Iterable[str]) -> str:
        return self.rng.choice(list(items))

    def text(self, alphabet: str, n: int) -> str:
        """A random string that looks generated: no placeholder words, mixed classes."""
        classes = [c for c in (DIGITS, UPPER, LOWER) if any(ch in alphabet for ch in c)]
        while True:
            out = "".join(self.rng.choice(alphabet) for _ in range(n))
            lowered = out.lower()
            if any(word in lowered for word in _AVOID):
                continue
            if n >= 8 and not all(any(ch in c for ch in out) for c in classes):
                continue
            if re.search(r"(.)\1{4}", out):
                continue
            return out

    def hex(self, n: int) -> str:
        return self.text(HEX, n)

    def digits(self, n: int) -> str:
        return str(self.rng.randint(1, 9)) + "".join(self.rng.choice(DIGITS) for _ in range(n - 1))

    def uuid(self) -> str:
        raw = self.hex(32)
        variant = self.rng.choice("89ab")
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-{variant}{raw[17:20]}-{raw[20:]}"

    def password(self) -> str:
        style = self.rng.random()
        if style < 0.5:
            return self.text(PASSWORD_CHARS, self.rng.randint(12, 24))
        if style < 0.8:
            return self.text(ALNUM, self.rng.randint(10, 20))
        word = self.pick(["Harbor", "Quartz", "Maple", "Falcon", "Cobalt", "Juniper", "Orbit"])
        return f"{word}{self.rng.randint(10, 9999)}{self.pick('!#@*.')}{self.pick(UPPER)}"

    def token(self, kind: str) -> str:
        return tokengen.generate(kind, self.rng)

    def semver(self) -> str:
        return f"{self.rng.randint(0, 3)}.{self.rng.randint(0, 20)}.{self.rng.randint(0, 9)}"

    def sha(self) -> str:
        return self.hex(40)

    def sha256(self) -> str:
        return self.hex(64)

    def email(self) -> str:
        user = self.pick(["alice", "bob", "carol", "dev", "ops", "j.smith", "m.garcia"])
        domain = self.pick(["acme.io", "northwind.dev", "contoso.com", "initech.net"])
        return f"{user}@{domain}"

    def slug(self) -> str:
        first = self.pick(["acme", "northwind", "contoso", "initech", "globex", "umbrella"])
        return f"{first}-{self.pick(['labs', 'platform', 'data', 'web', 'infra'])}"


# --- opaque credentials (no vendor prefix the matcher knows) --------------------------------

OpaqueMaker = Callable[[Values], str]


def _opaque_makers() -> dict[str, tuple[tuple[str, ...], OpaqueMaker, str]]:
    """Name -> (env names, value maker, kind) for keys with no catalogued format."""

    def discord(v: Values) -> str:
        ident = base64.b64encode(v.digits(18).encode()).decode().rstrip("=")
        return f"{ident}.{v.text(B64URL, 6)}.{v.text(B64URL, 38)}"

    def azure(v: Values) -> str:
        return f"{v.text(ALNUM, 3)}8Q~{v.text(ALNUM + '_~.-', 34)}"

    def asana(v: Values) -> str:
        return f"2/{v.digits(16)}/{v.digits(16)}:{v.hex(32)}"

    def aws_session(v: Values) -> str:
        return "IQoJb3JpZ2luX2Vj" + v.text(B64, v.rng.randint(280, 360)) + "=="

    return {
        "brave": (("BRAVE_API_KEY",), lambda v: "BSA" + v.text(ALNUM, 28), "opaque"),
        "exa": (("EXA_API_KEY",), lambda v: v.uuid(), "uuid-key"),
        "context7": (("CONTEXT7_API_KEY",), lambda v: "ctx7sk-" + v.uuid(), "opaque"),
        "apify": (("APIFY_TOKEN",), lambda v: "apify_api_" + v.text(ALNUM, 36), "opaque"),
        "jina": (("JINA_API_KEY",), lambda v: "jina_" + v.hex(32) + v.text(ALNUM, 28), "opaque"),
        "elevenlabs": (("ELEVENLABS_API_KEY",), lambda v: "sk_" + v.hex(48), "opaque"),
        "mistral": (("MISTRAL_API_KEY",), lambda v: v.text(ALNUM, 32), "opaque"),
        "deepseek": (("DEEPSEEK_API_KEY",), lambda v: "sk-" + v.hex(32), "opaque"),
        "serper": (("SERPER_API_KEY",), lambda v: v.hex(40), "opaque"),
        "serpapi": (("SERPAPI_API_KEY", "SERP_API_KEY"), lambda v: v.hex(64), "opaque"),
        "airtable": (
            ("AIRTABLE_API_KEY", "AIRTABLE_TOKEN"),
            lambda v: f"pat{v.text(ALNUM, 14)}.{v.hex(64)}",
            "opaque",
        ),
        "todoist": (("TODOIST_API_TOKEN",), lambda v: v.hex(40), "opaque"),
        "trello": (
            ("TRELLO_TOKEN",),
            lambda v: "ATTA" + v.hex(64) + v.text(UPPER + DIGITS, 8),
            "opaque",
        ),
        "clickup": (
            ("CLICKUP_API_KEY",),
            lambda v: f"pk_{v.digits(8)}_{v.text(UPPER + DIGITS, 32)}",
            "opaque",
        ),
        "discord": (("DISCORD_TOKEN", "DISCORD_BOT_TOKEN"), discord, "opaque"),
        "telegram": (
            ("TELEGRAM_BOT_TOKEN",),
            lambda v: f"{v.digits(10)}:AA{v.text(B64URL, 33)}",
            "opaque",
        ),
        "obsidian": (("OBSIDIAN_API_KEY",), lambda v: v.hex(64), "opaque"),
        "datadog": (("DD_API_KEY", "DATADOG_API_KEY"), lambda v: v.hex(32), "opaque"),
        "datadog-app": (("DD_APP_KEY", "DATADOG_APP_KEY"), lambda v: v.hex(40), "opaque"),
        "neon": (("NEON_API_KEY",), lambda v: "napi_" + v.text(LOWER + DIGITS, 64), "opaque"),
        "resend": (
            ("RESEND_API_KEY",),
            lambda v: f"re_{v.text(ALNUM, 8)}_{v.text(ALNUM, 24)}",
            "opaque",
        ),
        "browserbase": (
            ("BROWSERBASE_API_KEY",),
            lambda v: "bb_live_" + v.text(B64URL, 27),
            "opaque",
        ),
        "twilio-secret": (
            ("TWILIO_API_SECRET", "TWILIO_AUTH_TOKEN"),
            lambda v: v.text(ALNUM, 32),
            "opaque",
        ),
        "aws-secret": (("AWS_SECRET_ACCESS_KEY",), lambda v: v.text(B64, 40), "opaque"),
        "aws-session": (("AWS_SESSION_TOKEN",), aws_session, "opaque"),
        "google-oauth": (
            ("GOOGLE_CLIENT_SECRET", "GOOGLE_OAUTH_CLIENT_SECRET"),
            lambda v: "GOCSPX-" + v.text(B64URL, 28),
            "opaque",
        ),
        "azure-openai": (("AZURE_OPENAI_API_KEY",), lambda v: v.hex(32), "opaque"),
        "azure-secret": (("AZURE_CLIENT_SECRET",), azure, "opaque"),
        "asana": (("ASANA_ACCESS_TOKEN",), asana, "opaque"),
        "hubspot": (
            ("PRIVATE_APP_ACCESS_TOKEN", "HUBSPOT_ACCESS_TOKEN"),
            lambda v: f"pat-{v.pick(['na1', 'eu1'])}-{v.uuid()}",
            "opaque",
        ),
        "openweather": (("OPENWEATHER_API_KEY", "WEATHER_API_KEY"), lambda v: v.hex(32), "opaque"),
        "alphavantage": (
            ("ALPHA_VANTAGE_API_KEY",),
            lambda v: v.text(UPPER + DIGITS, 16),
            "opaque",
        ),
        "posthog": (("POSTHOG_API_KEY",), lambda v: "phx_" + v.text(ALNUM, 43), "opaque"),
        "mem0": (("MEM0_API_KEY",), lambda v: "m0-" + v.text(ALNUM, 40), "opaque"),
        "cohere": (("COHERE_API_KEY", "CO_API_KEY"), lambda v: v.text(ALNUM, 40), "opaque"),
        "voyage": (("VOYAGE_API_KEY",), lambda v: "pa-" + v.text(B64URL, 43), "opaque"),
        "together": (("TOGETHER_API_KEY",), lambda v: v.hex(64), "opaque"),
        "algolia": (("ALGOLIA_API_KEY", "ALGOLIA_ADMIN_API_KEY"), lambda v: v.hex(32), "opaque"),
        "qdrant": (("QDRANT_API_KEY",), lambda v: v.text(B64URL, 36), "opaque"),
        "generic": (
            ("API_KEY", "MCP_API_KEY", "AUTH_TOKEN", "ACCESS_TOKEN", "SECRET_KEY", "APP_SECRET"),
            lambda v: v.text(ALNUM, v.rng.randint(32, 40)),
            "opaque",
        ),
        "generic-uuid": (
            ("API_KEY", "SERVICE_API_KEY", "MCP_API_KEY", "PERIGON_API_KEY", "SMITHERY_API_KEY"),
            lambda v: v.uuid(),
            "uuid-key",
        ),
    }


OPAQUE = _opaque_makers()
_OPAQUE_SERVER_NAMES = {
    "datadog-app": "datadog",
    "twilio-secret": "twilio",
    "aws-secret": "aws",
    "aws-session": "aws",
    "google-oauth": "google-workspace",
    "azure-secret": "azure",
}


# --- vendors with a catalogued token format -----------------------------------------------

# kind, server name, launcher ("tool:package"); indented: env names, flags ("-" for none)
_VENDOR_TABLE = """
github-pat                        github           npx:@modelcontextprotocol/server-github
    GITHUB_PERSONAL_ACCESS_TOKEN,GITHUB_TOKEN,GH_TOKEN      --github-token,--token
github-oauth-token                github           npx:@modelcontextprotocol/server-github
    GITHUB_TOKEN                                            --token
github-user-token                 github-app       npx:github-app-mcp
    GITHUB_USER_TOKEN                                       --user-token
github-app-installation-token     github-bot       docker:ghcr.io/github/github-mcp-server
    GITHUB_PERSONAL_ACCESS_TOKEN,GITHUB_INSTALLATION_TOKEN  --token
github-refresh-token              github-app       npx:github-app-mcp
    GITHUB_REFRESH_TOKEN                                    --refresh-token
github-fine-grained-pat           github           docker:ghcr.io/github/github-mcp-server
    GITHUB_PERSONAL_ACCESS_TOKEN                            --gh-token
gitlab-pat                        gitlab           npx:@modelcontextprotocol/server-gitlab
    GITLAB_PERSONAL_ACCESS_TOKEN,GITLAB_TOKEN               --token
gitlab-deploy-token               gitlab-registry  npx:@zereight/mcp-gitlab
    GITLAB_DEPLOY_TOKEN                                     --deploy-token
gitlab-runner-token               gitlab-runner    uvx:gitlab-runner-mcp
    GITLAB_RUNNER_TOKEN,CI_RUNNER_TOKEN                     --runner-token
gitlab-pipeline-trigger-token     gitlab-ci        uvx:gitlab-ci-mcp
    GITLAB_TRIGGER_TOKEN                                    --trigger-token
gitlab-ci-job-token               gitlab-ci        uvx:gitlab-ci-mcp
    CI_JOB_TOKEN                                            --job-token
gitlab-oauth-app-secret           gitlab-oauth     npx:@zereight/mcp-gitlab
    GITLAB_OAUTH_CLIENT_SECRET,GITLAB_APP_SECRET            --client-secret
gitlab-feed-token                 gitlab-feed      npx:@zereight/mcp-gitlab
    GITLAB_FEED_TOKEN                                       --feed-token
gitlab-scim-token                 gitlab-scim      uvx:gitlab-scim-mcp
    GITLAB_SCIM_TOKEN                                       --scim-token
slack-bot-token                   slack            npx:@modelcontextprotocol/server-slack
    SLACK_BOT_TOKEN                                         --bot-token
slack-user-token                  slack            npx:slack-mcp-server
    SLACK_MCP_XOXP_TOKEN,SLACK_USER_TOKEN                   --user-token
slack-app-token                   slack-socket     npx:slack-mcp-server
    SLACK_APP_TOKEN                                         --app-token
slack-config-token                slack-admin      uvx:slack-admin-mcp
    SLACK_CONFIG_TOKEN                                      --config-token
slack-legacy-token                slack-legacy     npx:slack-mcp-server
    SLACK_TOKEN,SLACK_LEGACY_TOKEN                          --token
slack-webhook-url                 slack-notify     npx:slack-webhook-mcp
    SLACK_WEBHOOK_URL,SLACK_WEBHOOK                         --webhook-url
notion-token                      notion           npx:@notionhq/notion-mcp-server
    NOTION_TOKEN,NOTION_API_KEY                             --notion-token
linear-api-key                    linear           npx:linear-mcp-server
    LINEAR_API_KEY                                          --api-key
sentry-user-token                 sentry           npx:@sentry/mcp-server
    SENTRY_ACCESS_TOKEN,SENTRY_AUTH_TOKEN                   --access-token
sentry-org-token                  sentry           npx:@sentry/mcp-server
    SENTRY_AUTH_TOKEN                                       --access-token
atlassian-api-token               mcp-atlassian    uvx:mcp-atlassian
    JIRA_API_TOKEN,CONFLUENCE_API_TOKEN                     --jira-token,--confluence-token
figma-token                       figma            npx:figma-developer-mcp
    FIGMA_API_KEY                                           --figma-api-key
stripe-secret-key                 stripe           npx:@stripe/mcp
    STRIPE_SECRET_KEY,STRIPE_API_KEY                        --api-key
stripe-restricted-key             stripe           npx:@stripe/mcp
    STRIPE_SECRET_KEY,STRIPE_RESTRICTED_KEY                 --api-key
shopify-access-token              shopify          npx:shopify-mcp
    SHOPIFY_ACCESS_TOKEN                                    --accessToken
shopify-shared-secret             shopify          npx:shopify-mcp
    SHOPIFY_API_SECRET,SHOPIFY_CLIENT_SECRET                --api-secret
google-api-key                    google-maps      npx:@modelcontextprotocol/server-google-maps
    GOOGLE_MAPS_API_KEY,GEMINI_API_KEY,GOOGLE_API_KEY       --api-key
aws-access-key-id                 aws              uvx:awslabs.aws-api-mcp-server
    AWS_ACCESS_KEY_ID                                       --access-key-id
aws-bedrock-api-key               bedrock          uvx:awslabs.bedrock-kb-retrieval-mcp-server
    AWS_BEARER_TOKEN_BEDROCK                                --bearer-token
cloudflare-api-token              cloudflare       npx:@cloudflare/mcp-server-cloudflare
    CLOUDFLARE_API_TOKEN                                    --api-token
cloudflare-origin-ca-key          cloudflare-ssl   npx:@cloudflare/mcp-server-cloudflare
    CLOUDFLARE_ORIGIN_CA_KEY                                --origin-ca-key
digitalocean-token                digitalocean     npx:@digitalocean/mcp
    DIGITALOCEAN_API_TOKEN                                  --token
heroku-api-key                    heroku           npx:@heroku/mcp-server
    HEROKU_API_KEY                                          --api-key
vercel-token                      vercel           npx:vercel-mcp
    VERCEL_TOKEN,VERCEL_API_TOKEN                           --token
supabase-access-token             supabase         npx:@supabase/mcp-server-supabase
    SUPABASE_ACCESS_TOKEN                                   --access-token
supabase-secret-key               supabase-db      npx:supabase-mcp
    SUPABASE_SECRET_KEY                                     --secret-key
supabase-service-role-key         supabase-db      npx:supabase-mcp
    SUPABASE_SERVICE_ROLE_KEY,SUPABASE_KEY                  --service-role-key
databricks-token                  databricks       uvx:databricks-mcp
    DATABRICKS_TOKEN                                        --token
grafana-service-account-token     grafana          docker:mcp/grafana
    GRAFANA_SERVICE_ACCOUNT_TOKEN,GRAFANA_API_KEY           --token
grafana-cloud-token               grafana-cloud    uvx:grafana-cloud-mcp
    GRAFANA_CLOUD_TOKEN,GRAFANA_CLOUD_ACCESS_POLICY_TOKEN   --cloud-token
newrelic-user-api-key             newrelic         npx:newrelic-mcp-server
    NEW_RELIC_API_KEY                                       --api-key
doppler-token                     doppler          npx:@dopplerhq/mcp-server
    DOPPLER_TOKEN                                           --token
onepassword-service-account-token 1password        npx:@1password/mcp-server
    OP_SERVICE_ACCOUNT_TOKEN                                --service-account-token
docker-hub-token                  dockerhub        npx:@docker/hub-mcp
    HUB_PAT_TOKEN,DOCKER_HUB_TOKEN                          --pat
npm-token                         npm              npx:npm-mcp-server
    NPM_TOKEN                                               --npm-token
pypi-token                        pypi             uvx:pypi-mcp
    PYPI_API_TOKEN,UV_PUBLISH_TOKEN                         --pypi-token
sendgrid-api-key                  sendgrid         npx:sendgrid-mcp
    SENDGRID_API_KEY                                        --api-key
twilio-api-key                    twilio           npx:@twilio-alpha/mcp
    TWILIO_API_KEY                                          --api-key
mailgun-api-key                   mailgun          npx:@mailgun/mcp-server
    MAILGUN_API_KEY                                         --api-key
postman-api-key                   postman          npx:@postman/postman-mcp-server
    POSTMAN_API_KEY                                         --api-key
openai-api-key                    openai           uvx:openai-mcp
    OPENAI_API_KEY                                          --openai-api-key,--api-key
openai-admin-key                  openai-admin     uvx:openai-usage-mcp
    OPENAI_ADMIN_KEY                                        --admin-key
anthropic-api-key                 claude           npx:claude-code-mcp
    ANTHROPIC_API_KEY                                       --anthropic-api-key
anthropic-admin-key               anthropic-admin  uvx:anthropic-admin-mcp
    ANTHROPIC_ADMIN_KEY                                     --admin-key
anthropic-oauth-token             claude-agent     npx:claude-agent-mcp
    CLAUDE_CODE_OAUTH_TOKEN                                 --oauth-token
openrouter-api-key                openrouter       npx:openrouter-mcp
    OPENROUTER_API_KEY                                      --api-key
xai-api-key                       grok             npx:grok-mcp
    XAI_API_KEY                                             --api-key
groq-api-key                      groq             uvx:groq-mcp
    GROQ_API_KEY                                            --api-key
perplexity-api-key                perplexity-ask   npx:server-perplexity-ask
    PERPLEXITY_API_KEY                                      --api-key
huggingface-token                 huggingface      uvx:huggingface-mcp-server
    HF_TOKEN,HUGGINGFACE_TOKEN                              --hf-token
replicate-api-token               replicate        npx:replicate-mcp
    REPLICATE_API_TOKEN                                     --api-token
tavily-api-key                    tavily           npx:tavily-mcp
    TAVILY_API_KEY                                          --api-key
firecrawl-api-key                 firecrawl        npx:firecrawl-mcp
    FIRECRAWL_API_KEY                                       --api-key
langsmith-api-key                 langsmith        uvx:langsmith-mcp-server
    LANGSMITH_API_KEY                                       --api-key
jwt                               gateway          npx:mcp-gateway-client
    MCP_AUTH_TOKEN,API_JWT,HASS_TOKEN                       --auth-token
private-key                       ssh              npx:ssh-mcp
    SSH_PRIVATE_KEY,GITHUB_APP_PRIVATE_KEY,SNOWFLAKE_PRIVATE_KEY  -
"""


def _vendors() -> dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    out: dict[str, tuple[str, str, tuple[str, ...], tuple[str, ...]]] = {}
    head: list[str] = []
    for line in _VENDOR_TABLE.strip().splitlines():
        if not line.startswith(" "):
            head = line.split()
            continue
        names, flags = line.split()
        kind, server, launcher = head
        out[kind] = (
            server,
            launcher,
            tuple(names.split(",")),
            () if flags == "-" else tuple(flags.split(",")),
        )
    return out


# kind -> (server name, launcher, env names, flag names)
VENDORS = _vendors()

# Kinds that only make sense in some places (a PEM block is not a URL parameter).
_KIND_PLACEMENTS: dict[str, dict[str, int]] = {
    "private-key": {"env": 1},
    "slack-webhook-url": {"env": 8, "arg-eq": 2},
}

_REMOTE_HOSTS = {
    "github": "https://api.githubcopilot.com/mcp/",
    "linear": "https://mcp.linear.app/sse",
    "sentry": "https://mcp.sentry.dev/mcp",
    "notion": "https://mcp.notion.com/mcp",
    "stripe": "https://mcp.stripe.com",
    "vercel": "https://mcp.vercel.com",
    "figma": "https://mcp.figma.com/mcp",
    "cloudflare": "https://observability.mcp.cloudflare.com/sse",
    "supabase": "https://mcp.supabase.com/mcp",
    "huggingface": "https://huggingface.co/mcp",
}


# --- hard negatives -----------------------------------------------------------------------


def _placeholder(v: Values, name: str, kind: str | None) -> str:
    """A placeholder of the kind READMEs print where the user should paste a secret."""
    lower = name.lower()
    options = [
        f"<YOUR_{name}>",
        "<YOUR_TOKEN>",
        "your-api-key-here",
        f"your_{lower}_here",
        f"YOUR_{name}",
        "xxxxxxxxxxxxxxxxxxxxxxxx",
        "REPLACE_ME",
        "changeme",
        "<paste-your-token-here>",
        "TODO",
        "insert-your-key",
        "...",
        "[YOUR_API_KEY]",
        "<token>",
        "your-token",
    ]
    by_kind = {
        "github": [
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "github_pat_...",
        ],
        "gitlab": ["glpat-xxxxxxxxxxxxxxxxxxxx", "glpat-YOUR_TOKEN"],
        "slack": [
            "xoxb-your-bot-token",
            "xoxp-...",
            "xoxb-xxxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx",
        ],
        "openai": [
            "sk-...",
            "sk-proj-...",
            "sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sk-your-openai-key",
        ],
        "anthropic": ["sk-ant-...", "sk-ant-api03-xxxxxxxxxxxx"],
        "stripe": [
            "sk_test_...",
            "sk_live_YOUR_SECRET_KEY",
            "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx",
            "rk_live_...",
        ],
        "aws": ["AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"],
        "notion": [
            "ntn_****",
            "secret_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "ntn_your_integration_token",
        ],
        "tavily": ["tvly-YOUR_API_KEY", "tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        "firecrawl": ["fc-YOUR_API_KEY", "fc-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"],
        "figma": ["YOUR-KEY", "figd_..."],
        "google": ["AIza...", "AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"],
        "brave": ["BSA...", "your_brave_api_key"],
    }
    if kind:
        for prefix, values in by_kind.items():
            if kind.startswith(prefix) and v.rng.random() < 0.6:
                return v.pick(values)
    return v.pick(options)


def _reference(v: Values, name: str, client: str) -> str:
    """A reference a client or a secret manager resolves at spawn time."""
    lower = name.lower()
    by_client = {
        "vscode": [f"${{input:{lower}}}", f"${{env:{name}}}"],
        "cursor": [f"${{env:{name}}}"],
        "windsurf": [f"${{env:{name}}}"],
        "claude-code": [f"${{{name}}}", f"${{{name}:-}}"],
        "gemini-cli": [f"${name}", f"${{{name}}}", f"%{name}%"],
    }
    common = [
        f"op://Private/{lower.replace('_', '-')}/credential",
        f"mcpcred:secret/{lower.replace('_', '-')}",
        f"${{{{ secrets.{name} }}}}",
        f"${{{name}}}",
        f"${name}",
        f"${{env:{name}}}",
    ]
    own = by_client.get(client, [])
    if own and v.rng.random() < 0.65:
        return v.pick(own)
    return v.pick(common)


# --- server entries -----------------------------------------------------------------------


@dataclass(slots=True)
class Server:
    """One server entry, client-neutral; ``render_*`` turn it into each client's shape."""

    name: str
    command: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    sse: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)
    zed_settings: dict[str, object] | None = None  # a Zed extension entry
    bearer_token: str | None = None  # Codex inline bearer_token
    secrets: list[tuple[str, str, str, str]] = field(
        default_factory=list
    )  # value, kind, where, name
    negatives: list[tuple[str, str, str]] = field(default_factory=list)  # value, category, name

    @property
    def remote(self) -> bool:
        return self.url is not None and self.command is None


class Builder:
    """Fills credential slots of server entries and records what went where."""

    def __init__(self, rng: random.Random, client: str) -> None:
        self.v = Values(rng)
        self.rng = rng
        self.client = client
        # True while building a server copied from a README: no slot gets a real credential
        self.template = False

    # -- slots ---------------------------------------------------------------------
    def secret(self, server: Server, value: str, kind: str, where: str, name: str) -> str:
        server.secrets.append((value, kind, where, name))
        return value

    def negative(self, server: Server, value: str, category: str, name: str) -> str:
        if value.strip():
            server.negatives.append((value, category, name))
        return value

    def slot(
        self,
        server: Server,
        name: str,
        make: Callable[[], str],
        kind: str,
        where: str,
        p_secret: float = 0.8,
    ) -> tuple[str, bool]:
        """A credential slot: a real credential, or a placeholder or reference instead."""
        if self.template:
            p_secret = 0.0
        roll = self.rng.random()
        if roll < p_secret:
            return self.secret(server, make(), kind, where, name), True
        if roll < p_secret + (1 - p_secret) / 2:
            return self.negative(
                server, _placeholder(self.v, name, kind), "placeholder", name
            ), False
        return self.negative(
            server, _reference(self.v, name, self.client), "reference", name
        ), False

    # -- launchers -----------------------------------------------------------------
    def launch(self, server: Server, launcher: str) -> None:
        """Set command and args for ``tool:package``, pinned or not."""
        tool, _, package = launcher.partition(":")
        v = self.v
        if tool == "npx":
            version = v.pick(
                [
                    "",
                    "",
                    "@latest",
                    "@" + v.semver(),
                ]
            )
            spec = package + version
            server.command = v.pick(["npx", "npx", "npx", "bunx", "pnpx"])
            server.args = ["-y", spec]
            self.negative(server, spec, "package", "args")
        elif tool == "uvx":
            version = v.pick(
                [
                    "",
                    "",
                    "==" + v.semver(),
                    "@latest",
                ]
            )
            spec = package + version
            server.command = "uvx"
            server.args = [spec]
            self.negative(server, spec, "package", "args")
        elif tool == "docker":
            image = self.image(server, package)
            server.command = "docker"
            server.args = ["run", "-i", "--rm", image]
        else:
            server.command = tool
            server.args = [package]

    def image(self, server: Server, name: str) -> str:
        roll = self.rng.random()
        if roll < 0.25:
            digest = self.v.sha256()
            self.negative(server, "sha256:" + digest, "digest", "image")
            return f"{name}@sha256:{digest}"
        if roll < 0.5:
            return f"{name}:v{self.v.semver()}"
        return name

    # -- placements ----------------------------------------------------------------
    def place(
        self,
        server: Server,
        kind: str,
        make: Callable[[], str],
        names: tuple[str, ...],
        flags: tuple[str, ...],
        *,
        p_secret: float = 0.8,
        placements: dict[str, int] | None = None,
    ) -> None:
        """Put one credential (or its stand-in) somewhere in ``server``."""
        name = self.v.pick(names)
        weights = placements or {
            "env": 46,
            "arg-eq": 9,
            "arg-sep": 7,
            "docker-env": 7,
            "env-command": 2,
            "header-bearer": 8,
            "header-key": 5,
            "mcp-remote-header": 6,
            "url-query": 4,
            "json-string": 3,
            "auth-header-env": 3,
        }
        if not flags:
            weights = {k: w for k, w in weights.items() if k in {"env", "docker-env"}}
        if kind in _KIND_PLACEMENTS:
            weights = _KIND_PLACEMENTS[kind]
        if server.command == "docker":
            weights = {k: w for k, w in weights.items() if k != "env-command"}
        placement = self.pick_weighted(weights)
        v = self.v
        value, is_secret = self.slot(server, name, make, kind, placement, p_secret)
        if not is_secret:
            placement = "env" if placement in {"json-string", "auth-header-env"} else placement
        record_where = server.secrets[-1] if is_secret else None

        def relabel(where: str, label_name: str) -> None:
            if record_where is not None:
                server.secrets[-1] = (record_where[0], record_where[1], where, label_name)

        if placement == "env":
            server.env[name] = value
        elif placement == "arg-eq":
            flag = v.pick(flags)
            server.args.append(f"{flag}={value}")
            relabel(placement, flag)
        elif placement == "arg-sep":
            flag = v.pick(flags)
            server.args += [flag, value]
            relabel(placement, flag)
        elif placement == "docker-env":
            self.dockerize(server)
            style = self.rng.random()
            insert = ["-e", f"{name}={value}"] if style < 0.7 else [f"--env={name}={value}"]
            if style >= 0.9:
                insert = ["--env", f"{name}={value}"]
            at = server.args.index("--rm") + 1 if "--rm" in server.args else 2
            server.args[at:at] = insert
        elif placement == "env-command":
            original = [server.command or "npx", *server.args]
            server.command = "env"
            server.args = [f"{name}={value}", *original]
        elif placement in {"header-bearer", "header-key", "mcp-remote-header", "url-query"}:
            self.remotize(server)
            if placement == "header-bearer":
                server.headers["Authorization"] = f"Bearer {value}"
                relabel(placement, "Authorization")
            elif placement == "header-key":
                header = v.pick(
                    [
                        "X-API-Key",
                        "x-api-key",
                        "Api-Key",
                        f"X-{server.name.title().replace('-', '')}-Token",
                        name,
                    ]
                )
                server.headers[header] = value
                relabel(placement, header)
            elif placement == "mcp-remote-header":
                sep = v.pick([": ", ":"])
                server.command = v.pick(["npx", "npx", "bunx"])
                server.args = [
                    "-y",
                    "mcp-remote",
                    server.url or "",
                    "--header",
                    f"Authorization{sep}Bearer {value}",
                ]
                server.url = None
                relabel(placement, "Authorization")
            else:
                param = v.pick(
                    [
                        "api_key",
                        "apiKey",
                        "token",
                        "key",
                        "access_token",
                        f"{server.name.replace('-', '')}ApiKey",
                    ]
                )
                base = server.url or ""
                join = "&" if "?" in base else "?"
                server.url = f"{base}{join}{param}={value}"
                relabel(placement, param)
        elif placement == "json-string":
            holder = v.pick(["OPENAPI_MCP_HEADERS", "MCP_HEADERS", "HTTP_HEADERS"])
            header = v.pick(["Authorization", "X-API-Key"])
            inner = f"Bearer {value}" if header == "Authorization" else value
            payload: dict[str, str] = {header: inner}
            if holder == "OPENAPI_MCP_HEADERS":
                payload["Notion-Version"] = "2022-06-28"
            server.env[holder] = json.dumps(payload)
            relabel(placement, f"{holder}.{header}")
        elif placement == "auth-header-env":
            self.remotize(server)
            server.command = "npx"
            server.args = [
                "-y",
                "mcp-remote",
                server.url or "",
                "--header",
                "Authorization:${AUTH_HEADER}",
            ]
            self.negative(server, "Authorization:${AUTH_HEADER}", "reference", "--header")
            server.url = None
            server.env["AUTH_HEADER"] = f"Bearer {value}"
            relabel(placement, "AUTH_HEADER")

    def pick_weighted(self, weights: dict[str, int]) -> str:
        keys = list(weights)
        return self.rng.choices(keys, weights=[weights[k] for k in keys])[0]

    def dockerize(self, server: Server) -> None:
        if server.command == "docker":
            return
        server.command = "docker"
        image = self.image(server, f"mcp/{server.name}")
        server.args = ["run", "-i", "--rm", image]

    def remotize(self, server: Server) -> None:
        if server.remote:
            return
        server.command = None
        server.args = []
        url = (
            _REMOTE_HOSTS.get(server.name) or f"https://mcp.{server.name.replace('_', '-')}.dev/mcp"
        )
        server.url = url
        server.sse = url.endswith("/sse")
        for name in list(server.env):
            if name not in {n for _, _, _, n in server.secrets}:
                del server.env[name]


# --- noise: non-secret settings that look like ids, hashes or keys -------------------------


def _noise(b: Builder, server: Server, count: int) -> None:
    v = b.v
    makers: list[tuple[str, Callable[[], str], str]] = [
        ("SLACK_TEAM_ID", lambda: "T" + v.text(UPPER + DIGITS, 8), "identifier"),
        (
            "SLACK_CHANNEL_IDS",
            lambda: ",".join("C0" + v.text(UPPER + DIGITS, 9) for _ in range(2)),
            "identifier",
        ),
        (
            "GITHUB_TOOLSETS",
            lambda: v.pick(["repos,issues,pull_requests", "all", "context,actions,code_security"]),
            "config",
        ),
        (
            "GITLAB_API_URL",
            lambda: v.pick(["https://gitlab.com/api/v4", "https://gitlab.acme.io/api/v4"]),
            "url",
        ),
        ("NOTION_PAGE_ID", lambda: v.uuid(), "identifier"),
        ("NOTION_DATABASE_ID", lambda: v.hex(32), "identifier"),
        ("CLOUDFLARE_ACCOUNT_ID", lambda: v.hex(32), "identifier"),
        ("JIRA_PROJECT_ID", lambda: v.uuid(), "identifier"),
        ("TENANT_ID", lambda: v.uuid(), "identifier"),
        ("AZURE_CLIENT_ID", lambda: v.uuid(), "identifier"),
        (
            "GOOGLE_CLIENT_ID",
            lambda: f"{v.digits(12)}-{v.text(LOWER + DIGITS, 32)}.apps.googleusercontent.com",
            "identifier",
        ),
        ("AIRTABLE_BASE_ID", lambda: "app" + v.text(ALNUM, 14), "identifier"),
        ("TWILIO_ACCOUNT_SID", lambda: "AC" + v.hex(32), "identifier"),
        ("NEW_RELIC_ACCOUNT_ID", lambda: v.digits(7), "identifier"),
        ("SENTRY_ORG", lambda: v.slug(), "config"),
        ("GIT_COMMIT_SHA", lambda: v.sha(), "digest"),
        ("CONFIG_SHA256", lambda: v.sha256(), "digest"),
        ("IMAGE_DIGEST", lambda: "sha256:" + v.sha256(), "digest"),
        (
            "AWS_REGION",
            lambda: v.pick(["us-east-1", "eu-west-1", "ap-southeast-2", "eu-central-1"]),
            "config",
        ),
        ("AWS_PROFILE", lambda: v.pick(["default", "dev", "prod-readonly"]), "config"),
        ("LOG_LEVEL", lambda: v.pick(["info", "debug", "warn"]), "config"),
        ("NODE_ENV", lambda: "production", "config"),
        ("READ_ONLY", lambda: v.pick(["true", "false", "1"]), "config"),
        ("PORT", lambda: str(b.rng.choice([3000, 5432, 8080, 8931])), "config"),
        ("JIRA_USERNAME", lambda: v.email(), "email"),
        ("GIT_AUTHOR_EMAIL", lambda: v.email(), "email"),
        ("STRIPE_PUBLISHABLE_KEY", lambda: "pk_live_" + v.text(ALNUM, 99), "publishable-key"),
        (
            "NEXT_PUBLIC_SUPABASE_ANON_KEY_PUBLIC",
            lambda: "pk_test_" + v.text(ALNUM, 24),
            "publishable-key",
        ),
        (
            "GOOGLE_APPLICATION_CREDENTIALS",
            lambda: v.pick(
                [
                    "/Users/alice/.config/gcloud/service-account.json",
                    "C:\\Users\\bob\\keys\\sa.json",
                    "~/keys/mcp-sa.json",
                ]
            ),
            "path",
        ),
        ("SSH_KEY_PATH", lambda: v.pick(["~/.ssh/id_ed25519", "/home/dev/.ssh/id_rsa"]), "path"),
        ("GITHUB_TOKEN_FILE", lambda: "/run/secrets/github_token", "path"),
        ("PASSWORD_FILE", lambda: "/run/secrets/db_password", "path"),
        ("API_KEY_HEADER", lambda: "X-API-Key", "config"),
        ("TOKEN_ENV_VAR", lambda: v.pick(["GITHUB_TOKEN", "MY_TOKEN"]), "env-var-name"),
        ("JWT_ALGORITHM", lambda: "HS256", "config"),
        ("TOKEN_TTL", lambda: "3600", "config"),
        ("NOTION_VERSION", lambda: "2022-06-28", "config"),
        ("OPENAI_MODEL", lambda: v.pick(["gpt-4o", "gpt-5-mini", "o4-mini"]), "config"),
        ("ANTHROPIC_MODEL", lambda: v.pick(["claude-sonnet-4-5", "claude-opus-4-1"]), "config"),
        (
            "ALLOWED_DIRECTORIES",
            lambda: v.pick(["/Users/alice/projects,/srv/scratch", "/srv/data"]),
            "path",
        ),
        ("SUPABASE_URL", lambda: f"https://{v.text(LOWER, 20)}.supabase.co", "url"),
        (
            "DATABRICKS_HOST",
            lambda: f"https://dbc-{v.hex(8)}-{v.hex(4)}.cloud.databricks.com",
            "url",
        ),
        ("GRAFANA_URL", lambda: "https://grafana.acme.io", "url"),
        ("SENTRY_HOST", lambda: "sentry.acme.io", "config"),
        ("MAILGUN_DOMAIN", lambda: "mg.acme.io", "config"),
        ("DD_SITE", lambda: v.pick(["datadoghq.com", "datadoghq.eu"]), "config"),
        ("SESSION_TIMEOUT", lambda: "1800", "config"),
        ("KMS_KEY_ID", lambda: v.uuid(), "identifier"),
        (
            "ENCRYPTION_KEY_ID",
            lambda: "arn:aws:kms:us-east-1:" + v.digits(12) + ":key/" + v.uuid(),
            "identifier",
        ),
        ("GPG_KEY_FINGERPRINT", lambda: v.hex(40).upper(), "digest"),
        ("CACHE_DIR", lambda: "~/.cache/mcp", "path"),
        (
            "PUPPETEER_LAUNCH_OPTIONS",
            lambda: '{"headless": true, "args": ["--no-sandbox"]}',
            "config",
        ),
        ("NODE_OPTIONS", lambda: "--max-old-space-size=4096", "config"),
        ("BUILD_ID", lambda: v.text(ALNUM, 20), "identifier"),
        ("REQUEST_ID_HEADER", lambda: "X-Request-Id", "config"),
        ("SECRET_NAME", lambda: "prod/mcp/github", "config"),
        ("USE_PRIVATE_REGISTRY", lambda: "false", "config"),
        (
            "PUBLIC_KEY",
            lambda: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI" + v.text(B64, 43) + " dev@laptop",
            "public-key",
        ),
    ]
    for name, make, category in b.rng.sample(makers, count):
        if name in server.env:
            continue
        server.env[name] = b.negative(server, make(), category, name)


def _arg_noise(b: Builder, server: Server) -> None:
    """Non-secret flags with random-looking values."""
    v = b.v
    options: list[tuple[str, Callable[[], str], str]] = [
        ("--project-ref", lambda: v.text(LOWER, 20), "identifier"),
        ("--revision", lambda: v.sha(), "digest"),
        ("--commit", lambda: v.sha()[:12], "digest"),
        ("--workspace-id", lambda: v.uuid(), "identifier"),
        ("--region", lambda: v.pick(["us-east-1", "eu-west-2"]), "config"),
        ("--stripe-account", lambda: "acct_1" + v.text(ALNUM, 15), "identifier"),
        ("--publishable-key", lambda: "pk_live_" + v.text(ALNUM, 24), "publishable-key"),
        ("--port", lambda: str(b.rng.choice([3000, 8080, 9000])), "config"),
        ("--checksum", lambda: "sha256:" + v.sha256(), "digest"),
        ("--profile", lambda: v.pick(["work", "default", "cheerful-otter-x7"]), "config"),
        ("--org-id", lambda: "org-" + v.text(ALNUM, 24), "identifier"),
        ("--token-file", lambda: "/run/secrets/mcp_token", "path"),
        ("--password-file", lambda: "~/.config/mcp/db.pass", "path"),
    ]
    flag, make, category = b.rng.choice(options)
    value = b.negative(server, make(), category, flag)
    if b.rng.random() < 0.5:
        server.args.append(f"{flag}={value}")
    else:
        server.args += [flag, value]


# --- recipes: one server entry each -------------------------------------------------------

Recipe = Callable[[Builder], Server]


def vendor_server(b: Builder, kind: str) -> Server:
    """A server for a vendor whose tokens have a catalogued format."""
    name, launcher, names, flags = VENDORS[kind]
    server = Server(name)
    b.launch(server, launcher)
    b.place(server, kind, lambda: b.v.token(kind), names, flags)
    return server


def opaque_server(b: Builder, vendor: str) -> Server:
    """A server whose key has no known prefix: judged by the name it sits under."""
    names, make, kind = OPAQUE[vendor]
    if vendor in {"generic", "generic-uuid"}:
        server = Server(b.v.pick(["internal-api", "acme-tools", "kb-search", "crm"]))
    else:
        server = Server(_OPAQUE_SERVER_NAMES.get(vendor, vendor))
    b.launch(server, f"npx:{b.v.pick(['@acme/', ''])}{server.name}-mcp")
    flags = ("--api-key", "--token", "--key", "--access-token")
    b.place(server, kind, lambda: make(b.v), names, flags)
    if vendor == "aws-secret" and not server.remote and not b.template and b.rng.random() < 0.8:
        key_id = b.v.token("aws-access-key-id")
        server.env["AWS_ACCESS_KEY_ID"] = b.secret(
            server, key_id, "aws-access-key-id", "env", "AWS_ACCESS_KEY_ID"
        )
    return server


def github_docker(b: Builder) -> Server:
    """The official github-mcp-server README: docker with -e NAME and env holding the value."""
    server = Server("github")
    server.command = "docker"
    image = b.image(server, "ghcr.io/github/github-mcp-server")
    server.args = ["run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN", image]
    kind = b.v.pick(["github-pat", "github-fine-grained-pat"])
    value, _ = b.slot(server, "GITHUB_PERSONAL_ACCESS_TOKEN", lambda: b.v.token(kind), kind, "env")
    server.env["GITHUB_PERSONAL_ACCESS_TOKEN"] = value
    if b.rng.random() < 0.5:
        server.args[4:4] = ["-e", "GITHUB_TOOLSETS"]
        server.env["GITHUB_TOOLSETS"] = b.negative(
            server, "repos,issues,pull_requests,actions", "config", "GITHUB_TOOLSETS"
        )
    if b.rng.random() < 0.3:
        server.env["GITHUB_HOST"] = b.negative(
            server, "https://github.acme.io", "url", "GITHUB_HOST"
        )
    return server


def github_remote(b: Builder) -> Server:
    server = Server("github")
    server.url = "https://api.githubcopilot.com/mcp/"
    kind = b.v.pick(["github-pat", "github-fine-grained-pat", "github-oauth-token"])
    value, _ = b.slot(server, "Authorization", lambda: b.v.token(kind), kind, "header-bearer")
    server.headers["Authorization"] = f"Bearer {value}"
    return server


def slack(b: Builder) -> Server:
    server = Server("slack")
    b.launch(server, "npx:@modelcontextprotocol/server-slack")
    value, _ = b.slot(
        server, "SLACK_BOT_TOKEN", lambda: b.v.token("slack-bot-token"), "slack-bot-token", "env"
    )
    server.env["SLACK_BOT_TOKEN"] = value
    team = "T" + b.v.text(UPPER + DIGITS, 8)
    server.env["SLACK_TEAM_ID"] = b.negative(server, team, "identifier", "SLACK_TEAM_ID")
    if b.rng.random() < 0.5:
        ids = ",".join("C0" + b.v.text(UPPER + DIGITS, 9) for _ in range(b.rng.randint(1, 3)))
        server.env["SLACK_CHANNEL_IDS"] = b.negative(server, ids, "identifier", "SLACK_CHANNEL_IDS")
    return server


def brave(b: Builder) -> Server:
    server = Server("brave-search")
    b.launch(server, "npx:@modelcontextprotocol/server-brave-search")
    _, make, kind = OPAQUE["brave"]
    value, _ = b.slot(server, "BRAVE_API_KEY", lambda: make(b.v), kind, "env")
    server.env["BRAVE_API_KEY"] = value
    return server


def notion(b: Builder) -> Server:
    """Notion's official server takes its token as JSON headers inside an env var."""
    server = Server("notionApi" if b.rng.random() < 0.5 else "notion")
    b.launch(server, "npx:@notionhq/notion-mcp-server")
    roll = b.rng.random()
    if roll < 0.6:
        value, secret = b.slot(
            server,
            "Authorization",
            lambda: b.v.token("notion-token"),
            "notion-token",
            "json-string",
        )
        if secret:
            server.secrets[-1] = (
                value,
                "notion-token",
                "json-string",
                "OPENAPI_MCP_HEADERS.Authorization",
            )
        payload = {"Authorization": f"Bearer {value}", "Notion-Version": "2022-06-28"}
        server.env["OPENAPI_MCP_HEADERS"] = json.dumps(payload)
    else:
        value, _ = b.slot(
            server, "NOTION_TOKEN", lambda: b.v.token("notion-token"), "notion-token", "env"
        )
        server.env["NOTION_TOKEN"] = value
    return server


def stripe(b: Builder) -> Server:
    """Stripe's README: the key as ``--api-key=`` next to ``--tools=all``."""
    server = Server("stripe")
    server.command = "npx"
    server.args = ["-y", "@stripe/mcp", "--tools=all"]
    kind = b.v.pick(["stripe-secret-key", "stripe-restricted-key"])
    value, _ = b.slot(server, "--api-key", lambda: b.v.token(kind), kind, "arg-eq")
    server.args.append(f"--api-key={value}")
    if b.rng.random() < 0.3:
        _arg_noise(b, server)
    return server


_DB_URLS = [
    ("postgresql", 5432, "/app"),
    ("postgres", 5432, "/analytics?sslmode=require"),
    ("mysql", 3306, "/shop"),
    ("mongodb+srv", None, "/?retryWrites=true&w=majority"),
    ("redis", 6379, "/0"),
]


def _db_url(b: Builder, server: Server, name: str, postgres_only: bool = False) -> str:
    v = b.v
    scheme, port, path = b.rng.choice(_DB_URLS[:2] if postgres_only else _DB_URLS)
    host = v.pick(
        [
            "localhost",
            "db.internal",
            "prod-db.acme.io",
            f"cluster0.{v.text(LOWER + DIGITS, 5)}.mongodb.net",
        ]
    )
    user = v.pick(["postgres", "app", "readonly", "admin", "mcp_user", "default"])
    roll = 0.75 if b.template else b.rng.random()
    if roll < 0.72:
        password = b.secret(
            server,
            v.password().replace("@", "-").replace("#", "-"),
            "url-password",
            "url-password",
            name,
        )
    elif roll < 0.82:
        password = b.negative(
            server,
            v.pick(["password", "<password>", "YOUR_PASSWORD", "changeme"]),
            "placeholder",
            name,
        )
    elif roll < 0.92:
        password = b.negative(
            server,
            v.pick(["${PGPASSWORD}", "${env:DB_PASSWORD}", "$DB_PASSWORD"]),
            "reference",
            name,
        )
    else:
        url = f"{scheme}://{host}{':' + str(port) if port else ''}{path}"
        return b.negative(server, url, "url", name)
    return f"{scheme}://{user}:{password}@{host}{':' + str(port) if port else ''}{path}"


def postgres(b: Builder) -> Server:
    """The reference Postgres server takes the connection URL as a positional argument."""
    server = Server("postgres")
    b.launch(server, "npx:@modelcontextprotocol/server-postgres")
    server.args.append(_db_url(b, server, "args", postgres_only=True))
    return server


def database_env(b: Builder) -> Server:
    server = Server(b.v.pick(["db", "database", "mongodb", "redis", "postgres-mcp"]))
    b.launch(
        server, b.v.pick(["npx:mongodb-mcp-server", "uvx:postgres-mcp", "npx:@redis/mcp-redis"])
    )
    name = b.v.pick(
        [
            "DATABASE_URL",
            "POSTGRES_URL",
            "MDB_MCP_CONNECTION_STRING",
            "MONGODB_URI",
            "REDIS_URL",
            "DATABASE_URI",
        ]
    )
    server.env[name] = _db_url(b, server, name)
    return server


def mysql(b: Builder) -> Server:
    server = Server("mysql")
    b.launch(server, "uvx:mysql_mcp_server")
    server.env["MYSQL_HOST"] = "localhost"
    server.env["MYSQL_PORT"] = "3306"
    server.env["MYSQL_USER"] = b.negative(
        server, b.v.pick(["root", "app_rw", "readonly"]), "config", "MYSQL_USER"
    )
    name = b.v.pick(["MYSQL_PASSWORD", "MYSQL_PASS", "DB_PASSWORD", "PGPASSWORD"])
    value, _ = b.slot(server, name, b.v.password, "password", "env")
    server.env[name] = value
    server.env["MYSQL_DATABASE"] = b.v.pick(["shop", "analytics", "app"])
    return server


def atlassian(b: Builder) -> Server:
    """mcp-atlassian's README: docker -e NAME for each variable, values in env."""
    server = Server("mcp-atlassian")
    site = b.v.pick(["acme", "northwind", "contoso"])
    if b.rng.random() < 0.6:
        server.command = "docker"
        names = [
            "CONFLUENCE_URL",
            "CONFLUENCE_USERNAME",
            "CONFLUENCE_API_TOKEN",
            "JIRA_URL",
            "JIRA_USERNAME",
            "JIRA_API_TOKEN",
        ]
        server.args = ["run", "-i", "--rm"]
        for name in names:
            server.args += ["-e", name]
        server.args.append(b.image(server, "ghcr.io/sooperset/mcp-atlassian"))
        server.env["CONFLUENCE_URL"] = f"https://{site}.atlassian.net/wiki"
        server.env["CONFLUENCE_USERNAME"] = b.negative(
            server, b.v.email(), "email", "CONFLUENCE_USERNAME"
        )
        value, _ = b.slot(
            server,
            "CONFLUENCE_API_TOKEN",
            lambda: b.v.token("atlassian-api-token"),
            "atlassian-api-token",
            "env",
        )
        server.env["CONFLUENCE_API_TOKEN"] = value
        server.env["JIRA_URL"] = f"https://{site}.atlassian.net"
        server.env["JIRA_USERNAME"] = b.negative(server, b.v.email(), "email", "JIRA_USERNAME")
        value, _ = b.slot(
            server,
            "JIRA_API_TOKEN",
            lambda: b.v.token("atlassian-api-token"),
            "atlassian-api-token",
            "env",
        )
        server.env["JIRA_API_TOKEN"] = value
    else:
        server.command = "uvx"
        server.args = ["mcp-atlassian", f"--jira-url=https://{site}.atlassian.net"]
        email = b.negative(server, b.v.email(), "email", "--jira-username")
        server.args += ["--jira-username", email]
        value, _ = b.slot(
            server,
            "--jira-token",
            lambda: b.v.token("atlassian-api-token"),
            "atlassian-api-token",
            "arg-sep",
        )
        server.args += ["--jira-token", value]
    return server


def aws(b: Builder) -> Server:
    server = Server(b.v.pick(["aws", "aws-api", "awslabs.core-mcp-server"]))
    b.launch(server, b.v.pick(["uvx:awslabs.aws-api-mcp-server", "uvx:awslabs.core-mcp-server"]))
    value, _ = b.slot(
        server,
        "AWS_ACCESS_KEY_ID",
        lambda: b.v.token("aws-access-key-id"),
        "aws-access-key-id",
        "env",
    )
    server.env["AWS_ACCESS_KEY_ID"] = value
    _, make, kind = OPAQUE["aws-secret"]
    value, _ = b.slot(server, "AWS_SECRET_ACCESS_KEY", lambda: make(b.v), kind, "env")
    server.env["AWS_SECRET_ACCESS_KEY"] = value
    if b.rng.random() < 0.25:
        _, make, kind = OPAQUE["aws-session"]
        value, _ = b.slot(server, "AWS_SESSION_TOKEN", lambda: make(b.v), kind, "env")
        server.env["AWS_SESSION_TOKEN"] = value
    server.env["AWS_REGION"] = b.negative(
        server, b.v.pick(["us-east-1", "eu-west-1"]), "config", "AWS_REGION"
    )
    if b.rng.random() < 0.3:
        server.env["FASTMCP_LOG_LEVEL"] = "ERROR"
    return server


def exa(b: Builder) -> Server:
    """Exa: a UUID key, in the hosted URL's query or in EXA_API_KEY."""
    server = Server("exa")
    if b.rng.random() < 0.5:
        value, _ = b.slot(server, "exaApiKey", b.v.uuid, "uuid-key", "url-query")
        server.url = f"https://mcp.exa.ai/mcp?exaApiKey={value}"
    else:
        b.launch(server, "npx:exa-mcp-server")
        value, _ = b.slot(server, "EXA_API_KEY", b.v.uuid, "uuid-key", "env")
        server.env["EXA_API_KEY"] = value
    return server


def tavily(b: Builder) -> Server:
    server = Server("tavily-remote-mcp" if b.rng.random() < 0.5 else "tavily-mcp")
    if server.name == "tavily-remote-mcp":
        value, _ = b.slot(
            server,
            "tavilyApiKey",
            lambda: b.v.token("tavily-api-key"),
            "tavily-api-key",
            "url-query",
        )
        url = f"https://mcp.tavily.com/mcp/?tavilyApiKey={value}"
        if b.rng.random() < 0.5:
            server.command = "npx"
            server.args = ["-y", "mcp-remote", url]
        else:
            server.url = url
    else:
        b.launch(server, "npx:tavily-mcp")
        value, _ = b.slot(
            server, "TAVILY_API_KEY", lambda: b.v.token("tavily-api-key"), "tavily-api-key", "env"
        )
        server.env["TAVILY_API_KEY"] = value
    return server


def firecrawl(b: Builder) -> Server:
    server = Server("firecrawl-mcp")
    if b.rng.random() < 0.3:
        value, secret = b.slot(
            server,
            "url-path",
            lambda: b.v.token("firecrawl-api-key"),
            "firecrawl-api-key",
            "url-path",
        )
        if not secret:
            value = b.negative(server, "{FIRECRAWL_API_KEY}", "placeholder", "url-path")
        server.url = f"https://mcp.firecrawl.dev/{value}/v2/sse"
        server.sse = True
    else:
        b.launch(server, "npx:firecrawl-mcp")
        value, _ = b.slot(
            server,
            "FIRECRAWL_API_KEY",
            lambda: b.v.token("firecrawl-api-key"),
            "firecrawl-api-key",
            "env",
        )
        server.env["FIRECRAWL_API_KEY"] = value
    return server


def sentry(b: Builder) -> Server:
    server = Server("sentry")
    server.command = "npx"
    server.args = ["@sentry/mcp-server@latest"]
    kind = b.v.pick(["sentry-user-token", "sentry-org-token"])
    value, _ = b.slot(server, "--access-token", lambda: b.v.token(kind), kind, "arg-eq")
    server.args.append(f"--access-token={value}")
    if b.rng.random() < 0.4:
        server.args.append("--host=sentry.acme.io")
    return server


def figma(b: Builder) -> Server:
    """Framelink's README: ``--figma-api-key=KEY --stdio``."""
    server = Server(b.v.pick(["Framelink Figma MCP", "figma"]))
    server.command = "npx"
    server.args = ["-y", "figma-developer-mcp"]
    value, _ = b.slot(
        server, "--figma-api-key", lambda: b.v.token("figma-token"), "figma-token", "arg-eq"
    )
    server.args += [f"--figma-api-key={value}", "--stdio"]
    return server


def supabase(b: Builder) -> Server:
    server = Server("supabase")
    server.command = "npx"
    server.args = ["-y", "@supabase/mcp-server-supabase@latest", "--read-only"]
    ref = b.negative(server, b.v.text(LOWER, 20), "identifier", "--project-ref")
    server.args.append(f"--project-ref={ref}")
    value, _ = b.slot(
        server,
        "--access-token",
        lambda: b.v.token("supabase-access-token"),
        "supabase-access-token",
        "arg-sep",
    )
    if b.rng.random() < 0.5:
        server.args += ["--access-token", value]
    else:
        server.env["SUPABASE_ACCESS_TOKEN"] = value
        if server.secrets and server.secrets[-1][0] == value:
            server.secrets[-1] = (value, "supabase-access-token", "env", "SUPABASE_ACCESS_TOKEN")
    return server


def context7(b: Builder) -> Server:
    server = Server("context7")
    _, make, kind = OPAQUE["context7"]
    if b.rng.random() < 0.5:
        server.url = "https://mcp.context7.com/mcp"
        value, _ = b.slot(server, "CONTEXT7_API_KEY", lambda: make(b.v), kind, "header-key")
        server.headers["CONTEXT7_API_KEY"] = value
    else:
        server.command = "npx"
        server.args = ["-y", "@upstash/context7-mcp"]
        value, _ = b.slot(server, "--api-key", lambda: make(b.v), kind, "arg-sep")
        server.args += ["--api-key", value]
    return server


def smithery(b: Builder) -> Server:
    """Smithery's CLI launcher: a UUID under ``--key``."""
    server = Server(b.v.pick(["smithery-exa", "smithery-ai-server-sequential-thinking", "toolbox"]))
    server.command = "npx"
    server.args = [
        "-y",
        "@smithery/cli@latest",
        "run",
        b.v.pick(["exa", "@smithery/toolbox", "@upstash/context7-mcp"]),
    ]
    value, _ = b.slot(server, "--key", b.v.uuid, "uuid-key", "arg-sep")
    server.args += ["--key", value]
    if b.rng.random() < 0.5:
        profile = b.negative(
            server, b.v.pick(["cheerful-otter-x7kq2p", "brave-koala-9mt3vd"]), "config", "--profile"
        )
        server.args += ["--profile", profile]
    return server


def zapier(b: Builder) -> Server:
    """Zapier's personal MCP URL: the path segment is the credential."""
    server = Server("zapier")
    value, secret = b.slot(
        server, "url-path", lambda: b.v.text(B64URL, b.rng.randint(44, 64)), "url-path", "url-path"
    )
    if not secret:
        value = b.negative(server, "YOUR_ZAPIER_MCP_KEY", "placeholder", "url-path")
    server.url = f"https://mcp.zapier.com/api/mcp/s/{value}/mcp"
    return server


def gateway_jwt(b: Builder) -> Server:
    server = Server(b.v.pick(["gateway", "internal-gateway", "home-assistant"]))
    if server.name == "home-assistant":
        server.url = "https://homeassistant.local:8123/mcp_server/sse"
        server.sse = True
    else:
        server.url = "https://mcp-gateway.acme.io/mcp"
    value, _ = b.slot(server, "Authorization", lambda: b.v.token("jwt"), "jwt", "header-bearer")
    server.headers["Authorization"] = f"Bearer {value}"
    return server


def oauth_client(b: Builder) -> Server:
    """Static OAuth clients (Cursor ``auth``, Gemini/Zed ``oauth``): the client secret."""
    if b.client not in {"cursor", "gemini-cli", "zed", "claude-desktop"}:
        return context7(b)
    server = Server(b.v.pick(["google-workspace", "box", "atlassian-remote", "acme-crm"]))
    server.url = f"https://mcp.{server.name}.dev/mcp"
    _, make, kind = OPAQUE[b.v.pick(["google-oauth", "azure-secret", "generic"])]
    client_id = b.negative(server, b.v.uuid(), "identifier", "CLIENT_ID")
    if b.client == "cursor":
        value, _ = b.slot(server, "CLIENT_SECRET", lambda: make(b.v), kind, "auth")
        scopes = ["read", "write"]
        server.extra["auth"] = {"CLIENT_ID": client_id, "CLIENT_SECRET": value, "scopes": scopes}
    elif b.client == "claude-desktop":
        # mcp-remote's --static-oauth-client-info takes the client as JSON in an argument
        value, _ = b.slot(server, "client_secret", lambda: make(b.v), kind, "json-arg")
        info = json.dumps({"client_id": client_id, "client_secret": value})
        server.command = "npx"
        server.args = ["-y", "mcp-remote", server.url or "", "--static-oauth-client-info", info]
        server.url = None
    elif b.client == "gemini-cli":
        value, _ = b.slot(server, "clientSecret", lambda: make(b.v), kind, "auth")
        server.extra["oauth"] = {"enabled": True, "clientId": client_id, "clientSecret": value}
    else:
        value, _ = b.slot(server, "client_secret", lambda: make(b.v), kind, "auth")
        server.extra["oauth"] = {"client_id": client_id, "client_secret": value}
    return server


def git_remote(b: Builder) -> Server:
    """Credentials inside a URL's userinfo or an HTTP Basic header."""
    if b.rng.random() < 0.5:
        server = Server("git")
        b.launch(server, "uvx:mcp-server-git")
        kind = b.v.pick(["github-pat", "github-app-installation-token", "gitlab-pat"])
        host = "github.com" if kind.startswith("github") else "gitlab.com"
        user = "x-access-token" if kind == "github-app-installation-token" else "oauth2"
        value, _ = b.slot(server, "--repository-url", lambda: b.v.token(kind), kind, "url-password")
        server.args += ["--repository-url", f"https://{user}:{value}@{host}/acme/app.git"]
        return server
    server = Server(b.v.pick(["jira-dc", "confluence-dc", "elasticsearch"]))
    server.url = f"https://{server.name}.acme.io/mcp"

    def basic() -> str:
        raw = f"{b.v.email()}:{b.v.password()}".encode()
        return base64.b64encode(raw).decode()

    value, _ = b.slot(server, "Authorization", basic, "basic-auth", "header-basic")
    server.headers["Authorization"] = f"Basic {value}"
    return server


def no_secret(b: Builder) -> Server:
    """Servers that need no credential: paths, packages, versions only."""
    v = b.v
    choice = v.pick(
        [
            "filesystem",
            "fetch",
            "memory",
            "sequential-thinking",
            "playwright",
            "git",
            "time",
            "puppeteer",
        ]
    )
    server = Server(choice)
    if choice == "filesystem":
        b.launch(server, "npx:@modelcontextprotocol/server-filesystem")
        for path in b.rng.sample(
            [
                "/Users/alice/Desktop",
                "/Users/alice/Downloads",
                "/home/dev/projects",
                "C:\\Users\\bob\\Documents",
                "~/code",
            ],
            2,
        ):
            server.args.append(b.negative(server, path, "path", "args"))
    elif choice == "fetch":
        b.launch(server, "uvx:mcp-server-fetch")
    elif choice == "memory":
        b.launch(server, "npx:@modelcontextprotocol/server-memory")
        server.env["MEMORY_FILE_PATH"] = b.negative(
            server, "/Users/alice/.mcp/memory.jsonl", "path", "MEMORY_FILE_PATH"
        )
    elif choice == "sequential-thinking":
        b.launch(server, "npx:@modelcontextprotocol/server-sequential-thinking")
    elif choice == "playwright":
        b.launch(server, "npx:@playwright/mcp")
        server.args += ["--browser", "chromium", "--headless"]
    elif choice == "git":
        b.launch(server, "uvx:mcp-server-git")
        server.args += [
            "--repository",
            b.negative(server, "/home/dev/projects/app", "path", "--repository"),
        ]
    elif choice == "time":
        b.launch(server, "uvx:mcp-server-time")
        server.args.append("--local-timezone=Europe/Paris")
    else:
        b.launch(server, "npx:@modelcontextprotocol/server-puppeteer")
        server.env["PUPPETEER_LAUNCH_OPTIONS"] = '{"headless": true}'
    return server


SPECIAL: list[tuple[Recipe, int]] = [
    (github_docker, 6),
    (github_remote, 4),
    (slack, 4),
    (brave, 4),
    (notion, 4),
    (stripe, 3),
    (postgres, 4),
    (database_env, 3),
    (mysql, 2),
    (atlassian, 3),
    (aws, 3),
    (exa, 3),
    (tavily, 3),
    (firecrawl, 2),
    (sentry, 2),
    (figma, 2),
    (supabase, 2),
    (context7, 2),
    (smithery, 2),
    (zapier, 1),
    (gateway_jwt, 2),
    (oauth_client, 2),
    (git_remote, 2),
]


# --- client documents -----------------------------------------------------------------------


def _stdio_entry(server: Server, with_type: str | None = None) -> dict[str, object]:
    entry: dict[str, object] = {}
    if with_type:
        entry["type"] = with_type
    entry["command"] = server.command
    if server.args:
        entry["args"] = list(server.args)
    if server.env:
        entry["env"] = dict(server.env)
    return entry


def _as_mcp_remote(b: Builder, server: Server) -> Server:
    """Claude Desktop has no remote entries in its file: people bridge with mcp-remote."""
    if not server.remote or server.extra:
        return server
    args = ["-y", "mcp-remote", server.url or ""]
    for header, value in server.headers.items():
        args += ["--header", f"{header}:{b.v.pick([' ', ''])}{value}"]
    return Server(
        server.name,
        "npx",
        args,
        dict(server.env),
        secrets=server.secrets,
        negatives=server.negatives,
    )


def entry_for(b: Builder, server: Server, client: str) -> dict[str, object]:
    """The server as ``client`` writes it."""
    rng = b.rng
    if client == "claude-desktop":
        server = _as_mcp_remote(b, server)
    if server.remote:
        url_key = {
            "windsurf": "serverUrl",
            "gemini-cli": "httpUrl" if not server.sse else "url",
        }.get(client, "url")
        entry: dict[str, object] = {}
        if client in {"claude-code", "vscode"} or (client == "cursor" and rng.random() < 0.3):
            entry["type"] = "sse" if server.sse else "http"
        entry[url_key] = server.url
        if server.headers:
            entry["headers"] = dict(server.headers)
        entry.update(server.extra)
        return entry
    typed = "stdio" if client in {"vscode", "claude-code"} and rng.random() < 0.7 else None
    entry = _stdio_entry(server, typed)
    if client == "zed":
        if rng.random() < 0.35:
            nested: dict[str, object] = {"path": server.command, "args": list(server.args)}
            if server.env:
                nested["env"] = dict(server.env)
            entry = {"command": nested, "settings": {}}
            if rng.random() < 0.5:
                entry = {"source": "custom", **entry}
        elif rng.random() < 0.4:
            entry = {"source": "custom", **entry}
    if client in {"cline", "roo"}:
        entry["disabled"] = False
        entry["autoApprove" if client == "cline" else "alwaysAllow"] = []
    if client == "gemini-cli" and rng.random() < 0.3:
        entry["timeout"] = 30000
        entry["trust"] = False
    if client == "vscode" and rng.random() < 0.15:
        entry["envFile"] = "${workspaceFolder}/.env"
    entry.update(server.extra)
    return entry


# --- serialisers ------------------------------------------------------------------------------


def _dump_json(doc: object, indent: int = 2) -> str:
    return json.dumps(doc, indent=indent, ensure_ascii=False) + "\n"


def _jsonc(value: object, level: int, comments: dict[str, str], trailing: bool) -> str:
    pad = "  " * (level + 1)
    end = "  " * level
    if isinstance(value, dict):
        if not value:
            return "{}"
        parts = []
        items = list(value.items())
        for i, (key, item) in enumerate(items):
            comma = "," if i < len(items) - 1 or trailing else ""
            comment = comments.get(key) if isinstance(key, str) else None
            prefix = f"{pad}// {comment}\n" if comment else ""
            body = _jsonc(item, level + 1, comments, trailing)
            parts.append(f"{prefix}{pad}{json.dumps(key, ensure_ascii=False)}: {body}{comma}")
        return "{\n" + "\n".join(parts) + "\n" + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        if (
            all(isinstance(x, str | int | float | bool) for x in value)
            and sum(len(str(x)) for x in value) < 70
        ):
            return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in value) + "]"
        rendered = [
            pad
            + _jsonc(x, level + 1, comments, trailing)
            + ("," if i < len(value) - 1 or trailing else "")
            for i, x in enumerate(value)
        ]
        return "[\n" + "\n".join(rendered) + "\n" + end + "]"
    return json.dumps(value, ensure_ascii=False)


def dump_jsonc(
    doc: dict[str, object], comments: dict[str, str], header: str | None, trailing: bool
) -> str:
    text = _jsonc(doc, 0, comments, trailing) + "\n"
    return (f"// {header}\n" if header else "") + text


_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_key(key: str) -> str:
    return key if _BARE.match(key) else json.dumps(key, ensure_ascii=False)


def _toml_value(value: object, rng: random.Random) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        if "'" not in value and "\n" not in value and rng.random() < 0.15:
            return f"'{value}'"
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(x, rng) for x in value) + "]"
    if isinstance(value, dict):
        return (
            "{ "
            + ", ".join(f"{_toml_key(k)} = {_toml_value(x, rng)}" for k, x in value.items())
            + " }"
        )
    raise TypeError(type(value))


def dump_codex(b: Builder, servers: list[Server]) -> str:
    rng = b.rng
    lines = ["# Codex configuration"]
    lines.append(f'model = "{b.v.pick(["gpt-5-codex", "gpt-5", "o4-mini"])}"')
    lines.append(f'approval_policy = "{b.v.pick(["on-request", "never", "untrusted"])}"')
    if rng.random() < 0.5:
        lines.append('sandbox_mode = "workspace-write"')
    for server in servers:
        key = f"mcp_servers.{_toml_key(server.name)}"
        lines += ["", f"[{key}]"]
        sub: list[tuple[str, dict[str, str]]] = []
        if server.remote:
            lines.append(f"url = {_toml_value(server.url, rng)}")
            if server.bearer_token is not None:
                lines.append(f"bearer_token = {json.dumps(server.bearer_token)}")
            elif rng.random() < 0.4:
                var = b.v.pick(["MY_TOKEN", f"{server.name.upper().replace('-', '_')}_TOKEN"])
                b.negative(server, var, "env-var-name", "bearer_token_env_var")
                lines.append(f'bearer_token_env_var = "{var}"')
            if server.headers:
                if rng.random() < 0.6:
                    lines.append(f"http_headers = {_toml_value(server.headers, rng)}")
                else:
                    sub.append(("http_headers", server.headers))
            if rng.random() < 0.2:
                b.negative(server, "EXA_API_KEY", "env-var-name", "env_http_headers")
                lines.append('env_http_headers = { "X-Api-Key" = "EXA_API_KEY" }')
        else:
            lines.append(f"command = {_toml_value(server.command, rng)}")
            if server.args:
                lines.append(f"args = {_toml_value(server.args, rng)}")
            if server.env:
                if rng.random() < 0.5:
                    lines.append(f"env = {_toml_value(server.env, rng)}")
                else:
                    sub.append(("env", server.env))
            if rng.random() < 0.2:
                lines.append('env_vars = ["HOME", "PATH"]')
        if rng.random() < 0.3:
            lines.append(f"startup_timeout_sec = {rng.choice([10, 20, 30])}")
        for name, table in sub:
            lines += ["", f"[{key}.{name}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(x, rng)}" for k, x in table.items()]
    if rng.random() < 0.5:
        lines += ["", '[projects."/Users/alice/code/app"]', 'trust_level = "trusted"']
    return "\n".join(lines) + "\n"


# --- files ------------------------------------------------------------------------------------

# client -> (weight, relative locations it may be written to; {home} / {proj} are filled in)
CLIENTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "claude-desktop": (14, ("{home}/.config/Claude/claude_desktop_config.json",)),
    "claude-code": (10, ("{proj}/.mcp.json",)),
    "claude-code-user": (7, ("{home}/.claude.json",)),
    "cursor": (13, ("{proj}/.cursor/mcp.json", "{home}/.cursor/mcp.json")),
    "vscode": (12, ("{proj}/.vscode/mcp.json",)),
    "windsurf": (
        8,
        ("{home}/.codeium/windsurf/mcp_config.json", "{proj}/.windsurf/mcp_config.json"),
    ),
    "zed": (7, ("{proj}/.zed/settings.json", "{home}/.config/zed/settings.json")),
    "codex": (10, ("{home}/.codex/config.toml", "{proj}/.codex/config.toml")),
    "gemini-cli": (9, ("{home}/.gemini/settings.json", "{proj}/.gemini/settings.json")),
    "cline": (
        3,
        (
            "{home}/.config/Code/User/globalStorage/saoudrizwan.claude-dev/settings/cline_mcp_settings.json",
        ),
    ),
    "roo": (2, ("{proj}/.roo/mcp.json",)),
}


class _KindQueue:
    """Cycles through every token kind and opaque vendor so each is covered evenly."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.kinds: list[str] = []
        self.opaque: list[str] = []

    def next_kind(self) -> str:
        if not self.kinds:
            self.kinds = sorted(VENDORS)
            self.rng.shuffle(self.kinds)
        return self.kinds.pop()

    def next_opaque(self) -> str:
        if not self.opaque:
            self.opaque = sorted(OPAQUE)
            self.rng.shuffle(self.opaque)
        return self.opaque.pop()


def _servers(b: Builder, queue: _KindQueue, count: int) -> list[Server]:
    servers: list[Server] = []
    names: set[str] = set()
    recipes = [r for r, _ in SPECIAL]
    weights = [w for _, w in SPECIAL]
    for _ in range(count):
        roll = b.rng.random()
        b.template = 0.80 <= roll < 0.92
        if roll < 0.36 or 0.80 <= roll < 0.85:
            server = vendor_server(b, queue.next_kind())
        elif roll < 0.56 or 0.85 <= roll < 0.88:
            server = opaque_server(b, queue.next_opaque())
        elif roll < 0.92:
            server = b.rng.choices(recipes, weights=weights)[0](b)
        else:
            server = no_secret(b)
        b.template = False
        if b.rng.random() < 0.45:
            _noise(b, server, b.rng.randint(1, 3))
        if server.command and b.rng.random() < 0.15:
            _arg_noise(b, server)
        if (
            b.client == "codex"
            and server.remote
            and server.headers.get("Authorization", "").startswith("Bearer ")
            and b.rng.random() < 0.3
        ):
            value = server.headers.pop("Authorization").removeprefix("Bearer ")
            server.bearer_token = value
            server.secrets = [
                (s[0], s[1], "bearer_token" if s[0] == value else s[2], s[3])
                for s in server.secrets
            ]
        base, n = server.name, 2
        while server.name in names:
            server.name = f"{base}-{n}"
            n += 1
        names.add(server.name)
        servers.append(server)
    return servers


def _zed_extension(b: Builder) -> Server:
    """A Zed extension entry: only ``settings``, sometimes holding the extension's key."""
    ext, kind, key = b.v.pick(
        [
            ("mcp-server-github", "github-pat", "github_personal_access_token"),
            ("mcp-server-context7", "context7", "context7_api_key"),
            ("mcp-server-brave-search", "brave", "brave_api_key"),
            ("mcp-server-linear", "linear-api-key", "api_key"),
        ]
    )
    server = Server(ext)
    if kind in OPAQUE:
        _, make, label_kind = OPAQUE[kind]
        value, _ = b.slot(server, key, lambda: make(b.v), label_kind, "zed-extension")
    else:
        value, _ = b.slot(server, key, lambda: b.v.token(kind), kind, "zed-extension")
    server.zed_settings = {key: value}
    return server


def _vscode_inputs(b: Builder, servers: list[Server]) -> list[dict[str, object]]:
    inputs = []
    for server in servers:
        for name, value in server.env.items():
            if value.startswith("${input:"):
                ident = value[len("${input:") : -1]
                inputs.append(
                    {
                        "type": "promptString",
                        "id": ident,
                        "description": f"{name} for {server.name}",
                        "password": True,
                    }
                )
    if not inputs and b.rng.random() < 0.5:
        inputs.append(
            {"type": "promptString", "id": "api-key", "description": "API key", "password": True}
        )
    return inputs


def _claude_user_doc(
    b: Builder, servers: list[Server], out: list[tuple[str, str, str]]
) -> dict[str, object]:
    """``~/.claude.json``: account data plus user and per-project servers."""
    v = b.v
    user_id = v.sha256()
    account = v.uuid()
    org = v.uuid()
    out += [
        (user_id, "outside-server", "userID"),
        (account, "outside-server", "accountUuid"),
        (org, "outside-server", "organizationUuid"),
    ]
    split = b.rng.randint(0, len(servers))
    top, local = servers[:split], servers[split:]
    projects: dict[str, object] = {}
    chunk = max(1, len(local) // 2 or 1)
    for i in range(0, len(local), chunk):
        path = (
            v.pick(["/Users/alice/code/", "/home/dev/src/", "/Users/bob/work/"])
            + v.pick(["api", "web", "infra", "mcp-playground"])
            + str(i)
        )
        session = v.uuid()
        out.append((session, "outside-server", "lastSessionId"))
        projects[path] = {
            "allowedTools": [],
            "history": [
                {
                    "display": v.pick(["fix the failing tests", "add a README", "/mcp"]),
                    "pastedContents": {},
                }
            ],
            "mcpContextUris": [],
            "mcpServers": {s.name: entry_for(b, s, "claude-code") for s in local[i : i + chunk]},
            "enabledMcpjsonServers": [],
            "disabledMcpjsonServers": [],
            "hasTrustDialogAccepted": True,
            "lastSessionId": session,
        }
    return {
        "numStartups": b.rng.randint(3, 400),
        "installMethod": v.pick(["npm-global", "native", "homebrew"]),
        "autoUpdates": True,
        "userID": user_id,
        "firstStartTime": "2025-0" + str(b.rng.randint(1, 9)) + "-12T09:14:03.201Z",
        "oauthAccount": {
            "accountUuid": account,
            "emailAddress": v.email(),
            "organizationUuid": org,
            "organizationName": v.slug(),
        },
        "projects": projects,
        "mcpServers": {s.name: entry_for(b, s, "claude-code") for s in top},
    }


def render_file(
    b: Builder, client: str, servers: list[Server]
) -> tuple[str, list[tuple[str, str, str]]]:
    """The file text and extra negatives (values outside server entries)."""
    rng = b.rng
    extra: list[tuple[str, str, str]] = []
    comments = {
        s.name: b.v.pick(
            [f"{s.name} server", "added by hand", "TODO: move to keychain", "from the README"]
        )
        for s in servers
        if rng.random() < 0.3
    }
    if client == "claude-desktop":
        doc: dict[str, object] = {"mcpServers": {s.name: entry_for(b, s, client) for s in servers}}
        if rng.random() < 0.3:
            doc["globalShortcut"] = "Alt+Space"
        text = _dump_json(doc, rng.choice([2, 2, 4]))
        if rng.random() < 0.1:
            text = text.replace("\n", "\r\n")
        if rng.random() < 0.03:
            text = "\ufeff" + text
        return text, extra
    if client == "claude-code":
        return _dump_json({"mcpServers": {s.name: entry_for(b, s, client) for s in servers}}), extra
    if client == "claude-code-user":
        return _dump_json(_claude_user_doc(b, servers, extra)), extra
    if client in {"cursor", "windsurf", "cline", "roo"}:
        return _dump_json({"mcpServers": {s.name: entry_for(b, s, client) for s in servers}}), extra
    if client == "vscode":
        doc = {}
        inputs = _vscode_inputs(b, servers)
        if inputs:
            doc["inputs"] = inputs
        doc["servers"] = {s.name: entry_for(b, s, client) for s in servers}
        return dump_jsonc(
            doc,
            comments,
            b.v.pick(
                [
                    "MCP servers for this workspace",
                    "See https://code.visualstudio.com/docs/copilot/chat/mcp-servers",
                    None,
                ]
            ),
            rng.random() < 0.6,
        ), extra
    if client == "gemini-cli":
        doc = {}
        if rng.random() < 0.6:
            doc["theme"] = b.v.pick(["GitHub", "Default", "Dracula"])
            doc["selectedAuthType"] = b.v.pick(["oauth-personal", "gemini-api-key"])
        doc["mcpServers"] = {s.name: entry_for(b, s, client) for s in servers}
        return dump_jsonc(
            doc, comments, b.v.pick(["Gemini CLI settings", None]), rng.random() < 0.2
        ), extra
    if client == "zed":
        context: dict[str, object] = {}
        for s in servers:
            context[s.name] = (
                {"settings": s.zed_settings}
                if s.zed_settings is not None
                else entry_for(b, s, client)
            )
        doc = {
            "theme": b.v.pick(["One Dark", "Ayu Dark", "Gruvbox Dark"]),
            "ui_font_size": 16,
            "buffer_font_size": 15,
            "agent": {"default_model": {"provider": "zed.dev", "model": "claude-sonnet-4"}},
            "context_servers": context,
        }
        header = (
            "Zed settings\n//\n// For information on how to configure Zed, see the Zed\n"
            "// documentation: https://zed.dev/docs/configuring-zed"
        )
        return dump_jsonc(doc, comments, header, rng.random() < 0.7), extra
    if client == "codex":
        return dump_codex(b, servers), extra
    raise ValueError(client)


def encodings(value: str) -> set[str]:
    """How a value may appear in a file: JSON / TOML basic string, or raw (TOML literal)."""
    return {json.dumps(value, ensure_ascii=False)[1:-1], value}


def _check(path: str, text: str) -> None:
    """Generated files must be valid in their own syntax (strict JSON where the client wants it)."""
    body = text.lstrip("\ufeff")
    if path.endswith(".toml"):
        tomllib.loads(body)
    elif (
        path.endswith(
            (".mcp.json", "claude_desktop_config.json", ".claude.json", "mcp_config.json")
        )
        or "/.cursor/" in path
    ):
        json.loads(body)


def build(files: int, seed: int = 1, *, servers_per_file: tuple[int, int] = (2, 6)) -> Corpus:
    """Generate ``files`` config files deterministically from ``seed``."""
    rng = random.Random(seed)
    queue = _KindQueue(rng)
    clients = list(CLIENTS)
    weights = [CLIENTS[c][0] for c in clients]
    out: list[ConfigFile] = []
    used: set[str] = set()
    home_n = proj_n = 0
    while len(out) < files:
        client = rng.choices(clients, weights=weights)[0]
        location = rng.choice(CLIENTS[client][1])
        if "{home}" in location:
            home_n += 1 if rng.random() < 0.5 or home_n == 0 else 0
            path = location.format(home=f"users/u{home_n:04d}")
        else:
            proj_n += 1 if rng.random() < 0.6 or proj_n == 0 else 0
            path = location.format(proj=f"projects/p{proj_n:04d}")
        if path in used:
            continue
        used.add(path)
        adapter = "claude-code" if client == "claude-code-user" else client
        b = Builder(rng, adapter)
        servers = _servers(b, queue, rng.randint(*servers_per_file))
        if client == "zed" and rng.random() < 0.4:
            servers.append(_zed_extension(b))
        text, extra = render_file(b, client, servers)
        _check(path, text)
        file = ConfigFile(path, adapter, text)
        present = text
        for server in servers:
            for value, kind, where, name in server.secrets:
                if not any(e in present for e in encodings(value)):
                    raise AssertionError(f"{path}: labelled value of {kind} not written")
                file.secrets.append(Label(path, value, kind, where, name))
            for value, category, name in server.negatives:
                if any(e in present for e in encodings(value)):
                    file.negatives.append(Negative(path, value, category, name))
        file.negatives += [Negative(path, value, cat, name) for value, cat, name in extra]
        secret_values = {s.value for s in file.secrets}
        file.negatives = [n for n in file.negatives if n.value not in secret_values]
        out.append(file)
    return Corpus(seed, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="directory to write corpus/ and labels.json into")
    parser.add_argument("--files", type=int, default=400)
    parser.add_argument("--seed", type=int, default=20250101)
    args = parser.parse_args(argv)
    corpus = build(args.files, args.seed)
    corpus.write(args.out / "corpus")
    (args.out / "labels.json").write_text(json.dumps(corpus.labels_document(), indent=1) + "\n")
    stats = corpus.stats()
    print(
        f"{stats['files']} files, {stats['secrets']} labelled secrets, "
        f"{stats['negatives']} hard negatives"
    )
    print("clients:", json.dumps(stats["clients"], sort_keys=True))
    print("placements:", json.dumps(stats["placements"], sort_keys=True))
    print("negatives:", json.dumps(stats["negative_categories"], sort_keys=True))
    kinds = stats["kinds"]
    assert isinstance(kinds, dict)
    missing = sorted(set(tokengen.KINDS) - set(kinds))
    print(
        f"token kinds covered: {len(set(kinds) & set(tokengen.KINDS))}/{len(tokengen.KINDS)}"
        + (f" (missing: {', '.join(missing)})" if missing else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
