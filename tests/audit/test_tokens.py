"""The known-format catalog: every kind is found where configs put it, nothing else is.

Assertions compare (kind, start, end) tuples rather than strings, so a failing
test never prints a token beyond what pytest shows for those tuples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid

import pytest

from mcpcred.audit import tokens
from mcpcred.audit.tokens import FORMATS, find_tokens, is_documentation_example
from tests.support import tokengen

KINDS = sorted(f.kind for f in FORMATS)
SEEDS = (1, 2, 3)

CONTEXTS = {
    "standalone": "{}",
    "bearer": "Bearer {}",
    "url-query": "https://mcp.example.com/sse?api_key={}&region=eu",
    "json-in-string": '{{"Authorization":"Bearer {}"}}',
    "flag": "--api-key={}",
    "env-line": "export SERVICE_TOKEN={}\n",
}


def spans(text: str) -> list[tuple[str, int, int]]:
    return [(m.format.kind, m.start, m.end) for m in find_tokens(text)]


def kinds_in(text: str) -> set[str]:
    return {m.format.kind for m in find_tokens(text)}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


# --- the catalog itself ------------------------------------------------------------------


def test_kinds_are_unique_rule_ids() -> None:
    assert len(KINDS) == len(set(KINDS))
    assert len(KINDS) >= 40
    for fmt in FORMATS:
        assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", fmt.kind), fmt.kind
        assert fmt.severity in {"high", "medium"}, fmt.kind
        assert fmt.title and not fmt.title.endswith("."), fmt.kind
        assert fmt.description.endswith("."), fmt.kind
        assert not re.search(r"\.\s+[A-Z]", fmt.description), f"{fmt.kind}: one sentence"


def test_generator_covers_exactly_the_catalog() -> None:
    assert set(KINDS) == tokengen.KINDS


def test_checksum_sets_name_real_kinds() -> None:
    kinds = set(KINDS)
    assert kinds >= tokens.CHECKSUM_VALIDATED | tokens.STRUCTURE_VALIDATED
    assert kinds >= tokengen.CHECKSUM_KINDS >= tokens.CHECKSUM_VALIDATED


def test_medium_severity_is_for_identifiers_and_generic_bearer_tokens() -> None:
    medium = {f.kind for f in FORMATS if f.severity == "medium"}
    assert medium == {"jwt", "aws-access-key-id", "twilio-api-key"}


def test_generation_is_deterministic() -> None:
    for kind in KINDS:
        assert tokengen.generate(kind, random.Random(7)) == tokengen.generate(
            kind, random.Random(7)
        ), kind


def test_generate_rejects_unknown_kind() -> None:
    with pytest.raises(ValueError, match="no generator"):
        tokengen.generate("no-such-kind", random.Random(0))


# --- every kind is found, in every place a config puts it ---------------------------------


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_generated_token_is_found_in_context(kind: str, context: str) -> None:
    template = CONTEXTS[context]
    for seed in SEEDS:
        token = tokengen.generate(kind, random.Random(f"{kind}/{seed}"))
        text = template.format(token)
        start = text.index(token)
        assert spans(text) == [(kind, start, start + len(token))]


@pytest.mark.parametrize("kind", KINDS)
def test_generated_token_is_not_a_documentation_example(kind: str) -> None:
    for seed in SEEDS:
        token = tokengen.generate(kind, random.Random(f"{kind}/{seed}"))
        assert not is_documentation_example(token)


@pytest.mark.parametrize("kind", KINDS)
def test_many_seeds_standalone(kind: str) -> None:
    rng = random.Random(kind)
    for _ in range(25):
        token = tokengen.generate(kind, rng)
        assert spans(token) == [(kind, 0, len(token))]


def test_two_tokens_in_one_string_are_both_found_in_order() -> None:
    rng = random.Random(11)
    first = tokengen.generate("github-pat", rng)
    second = tokengen.generate("anthropic-api-key", rng)
    text = f"GITHUB={first} ANTHROPIC={second}"
    a, b = text.index(first), text.index(second)
    assert spans(text) == [
        ("github-pat", a, a + len(first)),
        ("anthropic-api-key", b, b + len(second)),
    ]


def test_legacy_gitlab_tokens_without_checksum_are_found() -> None:
    rng = random.Random(5)
    for prefix, kind in (
        ("glpat-", "gitlab-pat"),
        ("glrt-", "gitlab-runner-token"),
        ("gldt-", "gitlab-deploy-token"),
    ):
        token = prefix + tokengen.random_string(rng, tokengen.B64URL, 20)
        assert spans(token) == [(kind, 0, len(token))]


def test_private_key_in_raw_json_with_escaped_newlines() -> None:
    key = tokengen.generate("private-key", random.Random(3))
    escaped = json.dumps({"key": key})  # newlines become the two characters \n
    start = escaped.index("-----BEGIN")
    end = escaped.index("KEY-----", escaped.index("-----END")) + len("KEY-----")
    assert spans(escaped) == [("private-key", start, end)]


def test_truncated_private_key_is_still_found() -> None:
    key = tokengen.generate("private-key", random.Random(4))
    truncated = key[: key.index("-----END")]
    assert kinds_in(truncated) == {"private-key"}


def test_supabase_anon_jwt_is_a_plain_jwt() -> None:
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    payload = b64url(b'{"iss":"supabase","ref":"qwkdmzpbxlrnhvtjcagf","role":"anon"}')
    signature = b64url(hashlib.sha256(b"anon").digest())
    assert kinds_in(f"{header}.{payload}.{signature}") == {"jwt"}


def test_overlapping_formats_report_one_match() -> None:
    config_token = tokengen.generate("slack-config-token", random.Random(2))
    assert len(find_tokens(config_token)) == 1
    service_role = tokengen.generate("supabase-service-role-key", random.Random(2))
    assert spans(service_role) == [("supabase-service-role-key", 0, len(service_role))]


# --- checksums and structure ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(tokengen.CHECKSUM_KINDS))
def test_corrupted_checksum_is_not_that_kind(kind: str) -> None:
    rng = random.Random(f"corrupt/{kind}")
    for _ in range(25):
        token = tokengen.generate(kind, rng)
        broken = tokengen.corrupt(token)
        assert len(broken) == len(token)
        assert sum(a != b for a, b in zip(token, broken, strict=True)) == 1
        assert kind not in kinds_in(broken)
        assert kind not in kinds_in(f"Bearer {broken}")


@pytest.mark.parametrize("kind", KINDS)
def test_corrupted_token_is_not_that_kind(kind: str) -> None:
    token = tokengen.generate(kind, random.Random(f"corrupt-any/{kind}"))
    assert kind not in kinds_in(tokengen.corrupt(token))


def test_random_ghp_string_with_wrong_checksum_is_not_reported() -> None:
    rng = random.Random(9)
    misses = 0
    for _ in range(200):
        body = "".join(rng.choice(tokengen.ALNUM) for _ in range(36))
        misses += not find_tokens("ghp_" + body)
    assert misses == 200


def test_jwt_needs_a_json_header_with_alg() -> None:
    payload = b64url(b'{"sub":"u-83","iat":1767225600}')
    signature = b64url(hashlib.sha256(b"sig").digest())
    no_alg = b64url(b'{"typ":"JWT","kid":"k1"}')
    assert find_tokens(f"{no_alg}.{payload}.{signature}") == []
    not_json = "eyJ" + b64url(b"not json at all, just text")[3:]
    assert find_tokens(f"{not_json}.{payload}.{signature}") == []


def test_pypi_prefix_without_a_macaroon_is_not_reported() -> None:
    rng = random.Random(1)
    tail = "".join(rng.choice(tokengen.B64URL) for _ in range(150))
    assert find_tokens("pypi-AgEIcHlwaS5vcmc" + tail) == []


def test_sentry_org_token_needs_its_json_payload() -> None:
    rng = random.Random(1)
    secret = "".join(rng.choice(tokengen.ALNUM) for _ in range(43))
    payload = base64.b64encode(b'["iat", 1767225600]').decode()
    assert find_tokens(f"sntrys_eyJ{payload[3:]}_{secret}") == []


def test_openai_project_key_needs_its_marker() -> None:
    rng = random.Random(1)
    body = "".join(rng.choice(tokengen.B64URL) for _ in range(156))
    assert find_tokens("sk-proj-" + body) == []


# --- boundaries ----------------------------------------------------------------------------

# Formats of fixed length: one more word character makes the run something else.
FIXED_LENGTH = [
    "github-pat",
    "github-fine-grained-pat",
    "npm-token",
    "aws-access-key-id",
    "google-api-key",
    "anthropic-api-key",
    "linear-api-key",
    "sentry-user-token",
    "openrouter-api-key",
    "groq-api-key",
    "perplexity-api-key",
    "huggingface-token",
    "shopify-access-token",
    "digitalocean-token",
    "twilio-api-key",
    "postman-api-key",
    "cloudflare-api-token",
    "grafana-service-account-token",
    "firecrawl-api-key",
    "sendgrid-api-key",
]


# Private keys and webhook URLs are delimited by their own markers, not by word boundaries.
@pytest.mark.parametrize(
    "kind", [k for k in KINDS if k not in {"private-key", "slack-webhook-url"}]
)
def test_token_glued_to_a_word_is_not_matched(kind: str) -> None:
    token = tokengen.generate(kind, random.Random(f"glued/{kind}"))
    assert kind not in kinds_in("x" + token)
    assert kind not in kinds_in("9" + token)


@pytest.mark.parametrize("kind", FIXED_LENGTH)
def test_one_character_too_many_is_not_matched(kind: str) -> None:
    token = tokengen.generate(kind, random.Random(f"long/{kind}"))
    assert kind not in kinds_in(token + "Q")
    assert kind not in kinds_in(token + "7")


@pytest.mark.parametrize("kind", FIXED_LENGTH)
def test_one_character_too_few_is_not_matched(kind: str) -> None:
    token = tokengen.generate(kind, random.Random(f"short/{kind}"))
    assert kind not in kinds_in(token[:-1])


# --- negatives -----------------------------------------------------------------------------

PLACEHOLDERS = [
    "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "ghp_XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "ghp_" + "0" * 36,
    "ghp_1234567890abcdefghijklmnopqrstuvwxyz",
    "github_pat_" + "x" * 22 + "_" + "x" * 59,
    "npm_" + "x" * 36,
    "sk-...",
    "sk-proj-...",
    "sk-ant-api03-...",
    "<YOUR_TOKEN>",
    "Bearer <YOUR_TOKEN>",
    "sk_test_YOUR_KEY",
    "sk_live_YOUR_SECRET_KEY_HERE_1234",
    "sk_test_" + "x" * 24,
    "xoxb-your-bot-token",
    "xoxb-1234567890-1234567890123-abcdefghijklmnopqrstuvwx",
    "glpat-xxxxxxxxxxxxxxxxxxxx",
    "glpat-XXXXXXXXXXX-XXXXXXXX",
    "AIzaSyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "AKIAXXXXXXXXXXXXXXXX",
    "lin_api_" + "x" * 40,
    "tvly-YOUR_API_KEY",
    "tvly-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "fc-YOUR_API_KEY",
    "fc-" + "0" * 32,
    "ntn_00000000000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "hf_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "pplx-" + "a" * 48,
    "sntryu_" + "0" * 64,
    "dop_v1_" + "0123456789abcdef" * 4,
    "SK" + "0" * 32,
    "xai-" + "YourXaiApiKeyGoesHere" * 4,
    "sk-or-v1-" + "abcdef0123456789" * 4,
    "cfut_" + "a1B2c3D4e5" * 4 + "0123abcd",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
    "-----BEGIN RSA PRIVATE KEY-----\nYOUR PRIVATE KEY HERE\n-----END RSA PRIVATE KEY-----",
    "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "A" * 400 + "\n-----END OPENSSH PRIVATE KEY-----",
    "${GITHUB_PERSONAL_ACCESS_TOKEN}",
    "${input:github_token}",
    "your-api-key-here",
]

DOCUMENTATION_EXAMPLES = [
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "sk_test_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "sk_test_" + "BQokikJOvBiI2HlWgH4olfQ2",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
    ".eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ"
    ".SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
]

ORDINARY = [
    # package names and commands
    "@modelcontextprotocol/server-github",
    "@modelcontextprotocol/server-filesystem",
    "@notionhq/notion-mcp-server",
    "@sentry/mcp-server@latest",
    "@supabase/mcp-server-supabase@latest",
    "@stripe/mcp --tools=all",
    "firecrawl-mcp",
    "tavily-mcp@0.1.4",
    "containers.example.com/github/github-mcp-server:v1.2.0",
    "docker run -i --rm -e GITHUB_PERSONAL_ACCESS_TOKEN github/github-mcp-server",
    "uvx mcp-server-fetch --ignore-robots-txt",
    # paths
    "/Users/alice/Library/Application Support/Claude/claude_desktop_config.json",
    "C:\\Users\\bob\\AppData\\Roaming\\Code\\User\\mcp.json",
    "~/.codex/config.toml",
    "/opt/homebrew/lib/node_modules/@playwright/mcp/cli.js",
    # URLs
    "https://api.githubcopilot.com/mcp/",
    "https://mcp.sentry.dev/mcp",
    "https://mcp.linear.app/sse",
    "https://mcp.exa.ai/mcp?exaApiKey=${EXA_API_KEY}",
    "https://hooks.slack.com/services",
    "postgresql://localhost:5432/app",
    # words that contain a prefix
    "secret_key_base",
    "client_secret_basic",
    "ASIA-PACIFIC mirror",
    "SKU-1234567890",
    "key-value store for the cache",
    "fc-barcelona-supporters-club",
    "the task-proj-manager service",
    "hf_transfer enabled",
    "npm_config_registry",
    "github_pat_goes_here",
    "dp.pt.example",
    "api_org_name",
    "Rotate the GitHub personal access token every 90 days",
    "ASK-THE-DESK-FIRST-BEFORE-DEPLOYING",
    "glpat-",
    "pk_live_",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
def test_placeholders_are_not_tokens(value: str) -> None:
    assert find_tokens(value) == []


@pytest.mark.parametrize("value", DOCUMENTATION_EXAMPLES)
def test_documentation_examples_are_recognized_and_not_reported(value: str) -> None:
    assert is_documentation_example(value)
    assert find_tokens(value) == []
    assert find_tokens(f"Bearer {value}") == []


def test_github_docs_example_fails_its_checksum() -> None:
    example = "gho_" + "16C7e42F292c6912E7710c838347Ae178B4a"
    assert find_tokens(example) == []


@pytest.mark.parametrize(
    "value",
    [
        "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "sk_test_YOUR_KEY",
        "0000000000000000",
        "1234567890abcdef",
        "replace-me-with-your-token",
        "EXAMPLE",
    ],
)
def test_obvious_placeholders_are_documentation_examples(value: str) -> None:
    assert is_documentation_example(value)


@pytest.mark.parametrize("value", ORDINARY)
def test_ordinary_config_strings_are_not_tokens(value: str) -> None:
    assert find_tokens(value) == []


def test_publishable_keys_are_not_secrets() -> None:
    rng = random.Random(2)
    for prefix in ("pk_live_", "pk_test_", "sb_publishable_"):
        for length in (24, 99):
            key = prefix + "".join(rng.choice(tokengen.ALNUM) for _ in range(length))
            assert find_tokens(key) == []
            assert find_tokens(f"--publishable-key={key}") == []


def test_ids_digests_and_hashes_are_not_tokens() -> None:
    rng = random.Random(3)
    for _ in range(200):
        data = rng.randbytes(32)
        values = [
            str(uuid.UUID(int=rng.getrandbits(128))),
            hashlib.sha256(data).hexdigest(),
            "sha256:" + hashlib.sha256(data).hexdigest(),
            "containers.example.com/org/image@sha256:" + hashlib.sha256(data).hexdigest(),
            hashlib.sha1(data, usedforsecurity=False).hexdigest(),  # a git SHA's shape
            hashlib.md5(data, usedforsecurity=False).hexdigest(),
            base64.b64encode(data).decode(),
        ]
        for value in values:
            assert find_tokens(value) == []


def test_short_and_empty_strings() -> None:
    assert find_tokens("") == []
    assert find_tokens("ghp_") == []
    assert find_tokens("AKIA") == []
