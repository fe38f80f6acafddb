"""The detector on its own: every placement the issue names, and every hard negative."""

from __future__ import annotations

import json
import random

import pytest

from mcpcred.audit.secrets import Detector, is_placeholder, name_strength, redact
from tests.support import tokengen

RNG = random.Random(1234)
GH = tokengen.generate("github-pat", RNG)
HEX64 = "".join(RNG.choice("0123456789abcdef") for _ in range(64))
OPAQUE = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"  # no known prefix: found by name and shape
detector = Detector()


def kinds(value: str, name: str | None = None, role: str = "field") -> list[str]:
    return [h.kind for h in detector.scan(value, name, role)]


def spans(value: str, name: str | None = None, role: str = "field") -> list[str]:
    return [value[h.start : h.end] for h in detector.scan(value, name, role)]


@pytest.mark.parametrize(
    ("value", "name", "role", "expected"),
    [
        (GH, "GITHUB_PERSONAL_ACCESS_TOKEN", "env", GH),
        (OPAQUE, "BRAVE_API_KEY", "env", OPAQUE),
        (OPAQUE, "JIRA_API_TOKEN", "env", OPAQUE),
        ("hunter22", "DB_PASSWORD", "env", "hunter22"),
        (f"Bearer {OPAQUE}", "Authorization", "header", OPAQUE),
        (OPAQUE, "X-API-Key", "header", OPAQUE),
        (f"https://mcp.exa.ai/mcp?exaApiKey={OPAQUE}", None, "url", OPAQUE),
        (f"https://x.example.com/sse?api_key={OPAQUE}&v=1", None, "url", OPAQUE),
        (f"https://x.example.com/mcp?token={OPAQUE}", None, "url", OPAQUE),
        ("postgresql://app:pw4Xk9Qz@db:5432/app", None, "arg", "pw4Xk9Qz"),
        (f"https://mcp.zapier.com/api/mcp/s/{OPAQUE}Zk3/mcp", None, "url", OPAQUE + "Zk3"),
        (f"https://{GH}@github.com/org/repo.git", None, "arg", GH),
        (
            json.dumps({"Authorization": f"Bearer {OPAQUE}", "Notion-Version": "2022-06-28"}),
            "OPENAPI_MCP_HEADERS",
            "env",
            OPAQUE,
        ),
        (f"prefix {GH} suffix", None, "arg", GH),
        (OPAQUE, "bearer_token", "field", OPAQUE),
        (OPAQUE, "CLIENT_SECRET", "field", OPAQUE),
        (
            "3f2b8c1e-9a4d-4e7f-8b6a-1c2d3e4f5a6b",
            "EXA_API_KEY",
            "env",
            "3f2b8c1e-9a4d-4e7f-8b6a-1c2d3e4f5a6b",
        ),
        (HEX64, "SENTRY_AUTH_TOKEN", "env", HEX64),
    ],
)
def test_credentials_are_found_at_their_span(
    value: str, name: str | None, role: str, expected: str
) -> None:
    assert expected in spans(value, name, role)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        ("<YOUR_TOKEN>", "GITHUB_TOKEN"),
        ("your-api-key-here", "BRAVE_API_KEY"),
        ("xxxxxxxxxxxxxxxxxxxxxxxx", "API_KEY"),
        ("sk-...", "OPENAI_API_KEY"),
        ("REPLACE_ME", "API_KEY"),
        ("ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "GITHUB_TOKEN"),
        ("AKIAIOSFODNN7EXAMPLE", "AWS_ACCESS_KEY_ID"),
        ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_SECRET_ACCESS_KEY"),
        ("${env:GITHUB_TOKEN}", "GITHUB_TOKEN"),
        ("${input:github-token}", "GITHUB_TOKEN"),
        ("${GITHUB_TOKEN}", "GITHUB_TOKEN"),
        ("${GITHUB_TOKEN:-}", "GITHUB_TOKEN"),
        ("$GITHUB_TOKEN", "GITHUB_TOKEN"),
        ("%GITHUB_TOKEN%", "GITHUB_TOKEN"),
        ("op://Private/GitHub/token", "GITHUB_TOKEN"),
        ("mcpcred:secret/github-pat", "GITHUB_TOKEN"),
        ("${{ secrets.GITHUB_TOKEN }}", "GITHUB_TOKEN"),
        ("Bearer ${env:DOCS_TOKEN}", "Authorization"),
        ("Bearer $REMOTE_TOKEN", "Authorization"),
        ("T01234567", "SLACK_TEAM_ID"),
        ("3f2b8c1e-9a4d-4e7f-8b6a-1c2d3e4f5a6b", "WORKSPACE_ID"),
        ("3f2b8c1e-9a4d-4e7f-8b6a-1c2d3e4f5a6b", None),
        ("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "CONTENT_SHA256"),
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "IMAGE_DIGEST"),
        ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "TOKEN"),
        ("9fceb02d0ae598e95dc970b74767f19372d61af8", "GIT_COMMIT"),
        ("/Users/ann/.config/gcloud/key.json", "GOOGLE_APPLICATION_CREDENTIALS"),
        ("C:\\Users\\ann\\keys\\sa.json", "SERVICE_ACCOUNT_KEY_FILE"),
        ("~/.ssh/id_ed25519", "SSH_KEY_PATH"),
        ("repos,issues,pull_requests", "GITHUB_TOOLSETS"),
        ("https://gitlab.example.com/api/v4", "GITLAB_API_URL"),
        ("us-east-1", "AWS_REGION"),
        ("true", "API_KEY_ENABLED"),
        ("8080", "TOKEN_PORT"),
        ("ann@example.com", "JIRA_USERNAME"),
        ("pk_live_" + "51HxQvKLm3nP0qRsT2uVwXyZ", "STRIPE_PUBLISHABLE_KEY"),
        ("FIGMA_OAUTH_TOKEN", "bearer_token_env_var"),
        ("GITHUB_TOKEN", "GITHUB_TOKEN"),
        ("@modelcontextprotocol/server-github", None),
        ("production-environment-name", "API_KEY"),
        ("2022-06-28", "NOTION_VERSION"),
        ("v1.2.3", "TOKEN_VERSION"),
        ("api.example.com", "API_KEY_HOST"),
        ("https://example.com/oauth/token", "TOKEN_URL"),
        ("true", None),
        ("gpt-4o-mini", "OPENAI_MODEL"),
    ],
)
def test_hard_negatives_are_not_reported(value: str, name: str | None) -> None:
    assert kinds(value, name, "env") == []


def test_reference_inside_a_header_json_string_is_not_reported() -> None:
    value = json.dumps({"Authorization": "Bearer ${NOTION_TOKEN}"})
    assert kinds(value, "OPENAPI_MCP_HEADERS", "env") == []


def test_url_without_credentials_is_not_reported() -> None:
    for url in (
        "https://api.githubcopilot.com/mcp/",
        "https://mcp.example.com/mcp?version=2&mode=read",
        "http://localhost:3000/sse",
        "https://raw.githubusercontent.com/o/r/9fceb02d0ae598e95dc970b74767f19372d61af8/x.json",
        "postgresql://localhost:5432/app",
        "postgresql://user:${DB_PASSWORD}@db/app",
    ):
        assert kinds(url, None, "url") == [], url


@pytest.mark.parametrize(
    ("name", "strength"),
    [
        ("GITHUB_PERSONAL_ACCESS_TOKEN", 2),
        ("githubToken", 2),
        ("exaApiKey", 2),
        ("X-API-Key", 2),
        ("Authorization", 2),
        ("DB_PASSWORD", 3),
        ("PGPASS", 0),
        ("DB_PASS", 3),
        ("SLACK_TEAM_ID", 0),
        ("GITLAB_API_URL", 0),
        ("AWS_ACCESS_KEY_ID", 0),
        ("STRIPE_PUBLISHABLE_KEY", 0),
        ("TOKENIZERS_PARALLELISM", 0),
        ("KEYBOARD_LAYOUT", 0),
        ("SSH_KEY_PATH", 0),
        ("bearer_token_env_var", 0),
        ("SESSION", 1),
        (None, 0),
    ],
)
def test_name_strength(name: str | None, strength: int) -> None:
    assert name_strength(name) == strength


def test_placeholders() -> None:
    for value in ("<token>", "YOUR_KEY", "changeme", "***", "sk-proj-...", "TODO", "dummy-key"):
        assert is_placeholder(value), value
    assert not is_placeholder(OPAQUE)


def test_redaction_shows_at_most_a_short_prefix_and_the_length() -> None:
    shown = redact(GH)
    assert shown == f"{GH[:4]}\u2026({len(GH)} chars)"
    assert redact("abc12") == "a\u2026(5 chars)"
    assert redact("abc") == "\u2026(3 chars)"


def test_hits_carry_severity_and_context() -> None:
    [hit] = detector.scan(GH, "GITHUB_TOKEN", "env")
    assert hit.kind == "github-pat"
    assert str(hit.severity) == "high"
    assert hit.context == "env GITHUB_TOKEN"
