"""Fake but format-valid tokens for every kind in ``mcpcred.audit.tokens.FORMATS``.

Tests and the benchmark corpus need tokens that the matcher must find: right
prefix, alphabet and length, a correct checksum where the vendor has one, and a
decodable structure where the matcher checks one. Nothing here is a real
credential: every random part comes from the caller's ``random.Random``, so a
corpus is reproducible from its seed.

The generator deliberately does not call the matcher to decide what is valid
(that would make the tests prove nothing); it implements each vendor scheme on
its own and only avoids random parts that look like placeholders.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import random
import string
import zlib
from collections.abc import Callable

__all__ = ["CHECKSUM_KINDS", "KINDS", "corrupt", "generate", "random_string"]

DIGITS = string.digits
HEX = "0123456789abcdef"
UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
LETTERS = UPPER + LOWER
ALNUM = DIGITS + UPPER + LOWER  # GitHub's base62 order
B64URL = ALNUM + "-_"
B64 = ALNUM + "+/"
BASE32 = UPPER + "234567"
BASE36 = DIGITS + LOWER

# Substrings that mark a placeholder; a generated random part must not contain them.
_AVOID = (
    "example",
    "placeholder",
    "redacted",
    "changeme",
    "change_me",
    "notreal",
    "not_real",
    "your",
    "replace",
    "dummy",
    "sample",
    "fake",
    "insert",
)


def _plausible(body: str) -> bool:
    """Stricter than the matcher's placeholder test, so generated tokens always pass it."""
    lowered = body.lower()
    if any(word in lowered for word in _AVOID):
        return False
    run = 1
    for a, b in itertools.pairwise(body):
        run = run + 1 if a == b else 1
        if run >= 5:
            return False
    seq = 1
    for a, b in itertools.pairwise(lowered):
        ia, ib = BASE36.find(a), BASE36.find(b)
        seq = seq + 1 if ia != -1 and ib == ia + 1 else 1
        if seq >= 6:
            return False
    return len(set(body)) >= min(8, len(body) // 2)


def _rand(rng: random.Random, alphabet: str, n: int) -> str:
    """A random string that looks generated: plausible, and mixing the alphabet's classes."""
    classes = [c for c in (DIGITS, UPPER, LOWER) if any(ch in alphabet for ch in c)]
    if n < 8:
        classes = []
    while True:
        text = "".join(rng.choice(alphabet) for _ in range(n))
        if _plausible(text) and all(any(ch in c for ch in text) for c in classes):
            return text


def random_string(rng: random.Random, alphabet: str, n: int) -> str:
    """A random string over ``alphabet`` that does not look like a placeholder."""
    return _rand(rng, alphabet, n)


def _digits(rng: random.Random, n: int) -> str:
    while True:
        text = str(rng.randint(1, 9)) + "".join(rng.choice(DIGITS) for _ in range(n - 1))
        if _plausible(text):
            return text


def _base(n: int, alphabet: str, width: int) -> str:
    out = []
    while n:
        n, r = divmod(n, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out)).rjust(width, alphabet[0])


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("ascii"))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _until_plausible(rng: random.Random, make: Callable[[random.Random], str]) -> str:
    while True:
        token = make(rng)
        if _plausible(token):
            return token


# --- checksummed families -----------------------------------------------------------------


def _github_style(prefix: str) -> Callable[[random.Random], str]:
    """``<prefix>_`` + 30 base62 + base62(crc32(those 30)) in 6 chars (GitHub, npm)."""

    def make(rng: random.Random) -> str:
        while True:
            body = _rand(rng, ALNUM, 30)
            token = f"{prefix}_{body}{_base(_crc(body), ALNUM, 6)}"
            if _plausible(token[len(prefix) + 1 :]):
                return token

    return make


def _gitlab_routable(prefix: str) -> Callable[[random.Random], str]:
    """GitLab routable token: base64url(random + routing payload + its length), version, crc."""

    def make(rng: random.Random) -> str:
        while True:
            routing = f"c:1\no:{_base(rng.randint(1, 10**6), BASE36, 1)}"
            routing += f"\nu:{_base(rng.randint(1, 10**8), BASE36, 1)}"
            raw = rng.randbytes(16) + routing.encode() + bytes([len(routing)])
            payload = _b64url(raw)
            head = f"{prefix}{payload}.01.{_base(len(payload), BASE36, 2)}"
            token = head + _base(_crc(head), BASE36, 7)
            if _plausible(payload):
                return token

    return make


def _gitlab_legacy(prefix: str, alphabet: str = B64URL, n: int = 20) -> Callable[..., str]:
    return lambda rng: prefix + _rand(rng, alphabet, n)


def _atlassian(rng: random.Random) -> str:
    head = "ATATT3xFfGF0" + _rand(rng, B64URL, 171) + "="
    return head + f"{_crc(head):08X}"


def _grafana_sa(rng: random.Random) -> str:
    head = "glsa_" + _rand(rng, ALNUM, 32)
    return f"{head}_{_crc(head).to_bytes(4, 'little').hex()}"


def _cloudflare(rng: random.Random) -> str:
    body = _rand(rng, ALNUM, 40)
    return f"{rng.choice(['cfut', 'cfat', 'cfk'])}_{body}{_crc(body):08x}"


# --- structured families ----------------------------------------------------------------


def _jwt(rng: random.Random, claims: dict[str, object]) -> str:
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        _b64url(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64url(json.dumps(claims, separators=(",", ":")).encode())
    )
    key = rng.randbytes(32)
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64url(signature)}"


def _plain_jwt(rng: random.Random) -> str:
    iat = rng.randint(1_700_000_000, 1_800_000_000)
    claims: dict[str, object] = {
        "sub": _rand(rng, ALNUM, 16),
        "iss": rng.choice(["https://auth.example.net", "mcp-gateway", "https://login.acme.dev"]),
        "iat": iat,
        "exp": iat + 3600,
    }
    return _jwt(rng, claims)


def _supabase_service_role(rng: random.Random) -> str:
    iat = rng.randint(1_650_000_000, 1_750_000_000)
    claims: dict[str, object] = {
        "iss": "supabase",
        "ref": "".join(rng.choice(LOWER) for _ in range(20)),
        "role": "service_role",
        "iat": iat,
        "exp": iat + 10 * 365 * 86400,
    }
    return _jwt(rng, claims)


def _sentry_org(rng: random.Random) -> str:
    payload = {
        "iat": rng.randint(1_700_000_000, 1_800_000_000) + rng.random(),
        "url": "https://sentry.io",
        "region_url": rng.choice(["https://us.sentry.io", "https://de.sentry.io"]),
        "org": rng.choice(["acme", "mcp-tools", "northwind-labs"]),
    }
    while True:
        secret = _b64(rng.randbytes(32)).rstrip("=")
        if _plausible(secret):
            break
    return f"sntrys_{_b64(json.dumps(payload).encode())}_{secret}"


def _grafana_cloud(rng: random.Random) -> str:
    stack = rng.randint(100000, 999999)
    payload = {
        "o": str(rng.randint(100000, 999999)),
        "n": f"stack-{stack}-hm-read-mcp",
        "k": _rand(rng, ALNUM, 24),
        "m": {"r": rng.choice(["prod-us-east-0", "prod-eu-west-2"])},
    }
    return "glc_" + _b64(json.dumps(payload, separators=(",", ":")).encode())


def _onepassword(rng: random.Random) -> str:
    payload = {
        "signInAddress": "my.1password.com",
        "userAuth": {
            "method": "SRPg-4096",
            "alg": "PBES2g-HS256",
            "iterations": 650000,
            "salt": _b64url(rng.randbytes(16)),
        },
        "email": f"{_rand(rng, LOWER + DIGITS, 13)}@1passwordserviceaccounts.com",
        "srpX": rng.randbytes(32).hex(),
        "muk": {
            "alg": "A256GCM",
            "ext": True,
            "k": _b64url(rng.randbytes(32)),
            "key_ops": ["encrypt", "decrypt"],
            "kty": "oct",
            "kid": "mp",
        },
        "secretKey": "A3-" + "-".join(_rand(rng, UPPER + DIGITS, 6) for _ in range(6)),
        "throttleSecret": {"seed": rng.randbytes(32).hex(), "uuid": _rand(rng, UPPER + DIGITS, 26)},
        "deviceUuid": _rand(rng, LOWER + DIGITS, 26),
    }
    return "ops_" + _b64(json.dumps(payload, separators=(",", ":")).encode())


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# The index's host name, kept encoded as it appears at the start of every token.
_PYPI_LOCATION = base64.b64decode("cHlwaS5vcmc=")


def _pypi(rng: random.Random) -> str:
    """A macaroon in libmacaroons' v2 binary format, as the Python Package Index issues them."""

    def field(kind: int, value: bytes) -> bytes:
        return bytes([kind]) + _varint(len(value)) + value

    identifier = "-".join(rng.randbytes(n).hex() for n in (4, 2, 2, 2, 6)).encode()
    caveat = json.dumps({"version": 1, "permissions": "user"}).encode()
    if rng.random() < 0.5:
        project = rng.choice(["mcp-tools", "acme-client", "northwind"])
        caveat = json.dumps({"version": 1, "permissions": {"projects": [project]}}).encode()
    data = (
        b"\x02"
        + field(1, _PYPI_LOCATION)
        + field(2, identifier)
        + b"\x00"
        + field(2, caveat)
        + b"\x00"
        + b"\x00"
        + field(6, rng.randbytes(32))
    )
    return "pypi-" + _b64url(data)


def _bedrock(rng: random.Random) -> str:
    if rng.random() < 0.5:
        account = _digits(rng, 12)
        user = "BedrockAPIKey-" + _rand(rng, LOWER + DIGITS, 4)
        raw = f"{user}-at-{account}:{_rand(rng, B64, 60)}".encode()
        return "ABSK" + _b64(raw)
    access = "ASIA" + _rand(rng, BASE32, 16)
    query = (
        "bedrock.amazonaws.com/?Action=CallWithBearerToken"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
        f"&X-Amz-Credential={access}%2F20260101%2Fus-east-1%2Fbedrock%2Faws4_request"
        "&X-Amz-Date=20260101T120000Z&X-Amz-Expires=43200"
        f"&X-Amz-Security-Token={_b64(rng.randbytes(240))}"
        f"&X-Amz-Signature={rng.randbytes(32).hex()}&X-Amz-SignedHeaders=host&Version=1"
    )
    return "bedrock-api-key-" + _b64(query.encode())


def _private_key(rng: random.Random) -> str:
    label = rng.choice(["RSA PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY", "PRIVATE KEY"])
    body = _b64(rng.randbytes(rng.choice([121, 400, 1190])))
    width = 70 if label.startswith("OPENSSH") else 64
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    return f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----"


# --- everything else: prefix + random -----------------------------------------------------


def _simple(prefix: str, alphabet: str, n: int, suffix: str = "") -> Callable[..., str]:
    return lambda rng: prefix + _rand(rng, alphabet, n) + suffix


def _choice(*makers: Callable[[random.Random], str]) -> Callable[[random.Random], str]:
    return lambda rng: rng.choice(makers)(rng)


def _slack_bot(rng: random.Random) -> str:
    return f"xoxb-{_digits(rng, rng.randint(10, 13))}-{_digits(rng, 13)}-{_rand(rng, ALNUM, 24)}"


def _slack_user(rng: random.Random) -> str:
    ids = "-".join(_digits(rng, rng.randint(10, 13)) for _ in range(3))
    return f"xoxp-{ids}-{_rand(rng, HEX, 32)}"


def _slack_app(rng: random.Random) -> str:
    app = "A" + _rand(rng, UPPER + DIGITS, 10)
    return f"xapp-1-{app}-{_digits(rng, 13)}-{_rand(rng, HEX, 64)}"


def _slack_config(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return f"xoxe.xox{rng.choice('bp')}-1-{_rand(rng, ALNUM, 164)}"
    return f"xoxe-1-{_rand(rng, ALNUM, 146)}"


def _slack_legacy(rng: random.Random) -> str:
    if rng.random() < 0.5:
        ids = "-".join(_digits(rng, rng.randint(10, 12)) for _ in range(3))
        return f"xox{rng.choice('os')}-{ids}-{_rand(rng, HEX, 32)}"
    return f"xox{rng.choice('ar')}-2-{_rand(rng, ALNUM, 40)}"


def _slack_webhook(rng: random.Random) -> str:
    team = "T" + _rand(rng, UPPER + DIGITS, rng.randint(8, 10))
    hook = "B" + _rand(rng, UPPER + DIGITS, rng.randint(8, 10))
    return f"https://hooks.slack.com/services/{team}/{hook}/{_rand(rng, ALNUM, 24)}"


def _stripe(kind: str) -> Callable[[random.Random], str]:
    def make(rng: random.Random) -> str:
        mode = rng.choice(["live", "test"])
        if rng.random() < 0.5:
            return f"{kind}_{mode}_{_rand(rng, ALNUM, 24)}"
        return f"{kind}_{mode}_51{_rand(rng, ALNUM, 97)}"

    return make


def _openai(rng: random.Random) -> str:
    variant = rng.choice(["proj", "svcacct", "legacy"])
    if variant == "legacy":
        return f"sk-{_rand(rng, ALNUM, 20)}T3BlbkFJ{_rand(rng, ALNUM, 20)}"
    return f"sk-{variant}-{_rand(rng, B64URL, 74)}T3BlbkFJ{_rand(rng, B64URL, 74)}"


def _doppler(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return "dp.pt." + _rand(rng, ALNUM, 43)
    return f"dp.st.{rng.choice(['dev', 'prd', 'stg'])}." + _rand(rng, ALNUM, 40)


def _gitlab_ci_job(rng: random.Random) -> str:
    return f"glcbt-{_rand(rng, HEX, rng.randint(1, 3))}_{_rand(rng, B64URL, 20)}"


def _databricks(rng: random.Random) -> str:
    return "dapi" + _rand(rng, HEX, 32) + rng.choice(["", "-2", "-3"])


_GENERATORS: dict[str, Callable[[random.Random], str]] = {
    "github-pat": _github_style("ghp"),
    "github-oauth-token": _github_style("gho"),
    "github-user-token": _github_style("ghu"),
    "github-app-installation-token": _github_style("ghs"),
    "github-refresh-token": _github_style("ghr"),
    "github-fine-grained-pat": lambda rng: (
        f"github_pat_11{_rand(rng, UPPER + DIGITS, 20)}_{_rand(rng, ALNUM, 59)}"
    ),
    "gitlab-pat": _gitlab_routable("glpat-"),
    "gitlab-deploy-token": _gitlab_legacy("gldt-"),
    "gitlab-runner-token": _gitlab_routable("glrt-t1_"),
    "gitlab-pipeline-trigger-token": _gitlab_legacy("glptt-", HEX, 40),
    "gitlab-ci-job-token": _gitlab_ci_job,
    "gitlab-oauth-app-secret": _gitlab_legacy("gloas-", B64URL, 64),
    "gitlab-feed-token": _gitlab_legacy("glft-"),
    "gitlab-scim-token": _gitlab_legacy("glsoat-"),
    "slack-bot-token": _slack_bot,
    "slack-user-token": _slack_user,
    "slack-app-token": _slack_app,
    "slack-config-token": _slack_config,
    "slack-legacy-token": _slack_legacy,
    "slack-webhook-url": _slack_webhook,
    "notion-token": _choice(
        lambda rng: f"ntn_{_digits(rng, 11)}{_rand(rng, ALNUM, 35)}",
        _simple("secret_", ALNUM, 43),
    ),
    "linear-api-key": _simple("lin_api_", ALNUM, 40),
    "sentry-user-token": _simple("sntryu_", HEX, 64),
    "sentry-org-token": _sentry_org,
    "atlassian-api-token": _atlassian,
    "figma-token": _simple("figd_", B64URL, 40),
    "stripe-secret-key": _stripe("sk"),
    "stripe-restricted-key": _stripe("rk"),
    "shopify-access-token": lambda rng: (
        rng.choice(["shpat_", "shpca_", "shppa_"]) + _rand(rng, HEX, 32)
    ),
    "shopify-shared-secret": _simple("shpss_", HEX, 32),
    "google-api-key": _simple("AIzaSy", B64URL, 33),
    "aws-access-key-id": lambda rng: rng.choice(["AKIA", "ASIA"]) + _rand(rng, BASE32, 16),
    "aws-bedrock-api-key": _bedrock,
    "cloudflare-api-token": _cloudflare,
    "cloudflare-origin-ca-key": lambda rng: f"v1.0-{_rand(rng, HEX, 24)}-{_rand(rng, HEX, 146)}",
    "digitalocean-token": lambda rng: (
        rng.choice(["dop", "doo", "dor"]) + "_v1_" + _rand(rng, HEX, 64)
    ),
    "heroku-api-key": _simple("HRKU-AA", B64URL, 58),
    "vercel-token": lambda rng: rng.choice(["vcp_", "vci_", "vck_"]) + _rand(rng, B64URL, 56),
    "supabase-access-token": _simple("sbp_", HEX, 40),
    "supabase-secret-key": lambda rng: f"sb_secret_{_rand(rng, B64URL, 22)}_{_rand(rng, ALNUM, 8)}",
    "supabase-service-role-key": _supabase_service_role,
    "databricks-token": _databricks,
    "grafana-service-account-token": _grafana_sa,
    "grafana-cloud-token": _grafana_cloud,
    "newrelic-user-api-key": _simple("NRAK-", UPPER + DIGITS, 27),
    "doppler-token": _doppler,
    "onepassword-service-account-token": _onepassword,
    "docker-hub-token": _choice(
        _simple("dckr_pat_", B64URL, 27),
        _simple("dckr_oat_", B64URL, 32),
    ),
    "npm-token": _github_style("npm"),
    "pypi-token": _pypi,
    "sendgrid-api-key": lambda rng: f"SG.{_rand(rng, B64URL, 22)}.{_rand(rng, B64URL, 43)}",
    "twilio-api-key": _simple("SK", HEX, 32),
    "mailgun-api-key": _simple("key-", HEX, 32),
    "postman-api-key": lambda rng: f"PMAK-{_rand(rng, HEX, 24)}-{_rand(rng, HEX, 34)}",
    "openai-api-key": _openai,
    "openai-admin-key": lambda rng: (
        f"sk-admin-{_rand(rng, B64URL, 58)}T3BlbkFJ{_rand(rng, B64URL, 58)}"
    ),
    "anthropic-api-key": _simple("sk-ant-api03-", B64URL, 93, "AA"),
    "anthropic-admin-key": _simple("sk-ant-admin01-", B64URL, 93, "AA"),
    "anthropic-oauth-token": _simple("sk-ant-oat01-", B64URL, 93, "AA"),
    "openrouter-api-key": _simple("sk-or-v1-", HEX, 64),
    "xai-api-key": _simple("xai-", ALNUM, 80),
    "groq-api-key": _simple("gsk_", ALNUM, 52),
    "perplexity-api-key": _simple("pplx-", ALNUM, 48),
    "huggingface-token": _simple("hf_", LETTERS, 34),
    "replicate-api-token": _simple("r8_", ALNUM, 37),
    "tavily-api-key": _choice(_simple("tvly-dev-", ALNUM, 32), _simple("tvly-", ALNUM, 32)),
    "firecrawl-api-key": _simple("fc-", HEX, 32),
    "langsmith-api-key": lambda rng: (
        f"lsv2_{rng.choice(['pt', 'sk'])}_{_rand(rng, HEX, 32)}_{_rand(rng, HEX, 10)}"
    ),
    "jwt": _plain_jwt,
    "private-key": _private_key,
}

KINDS: frozenset[str] = frozenset(_GENERATORS)
"""Every kind ``generate`` supports (the same set as the matcher's FORMATS)."""

CHECKSUM_KINDS: frozenset[str] = frozenset(
    {
        "github-pat",
        "github-oauth-token",
        "github-user-token",
        "github-app-installation-token",
        "github-refresh-token",
        "npm-token",
        "gitlab-pat",
        "gitlab-runner-token",
        "atlassian-api-token",
        "grafana-service-account-token",
        "cloudflare-api-token",
    }
)
"""Kinds whose generated tokens carry a checksum that ``corrupt`` breaks."""


def generate(kind: str, rng: random.Random) -> str:
    """A valid fake token of ``kind`` (checksum and structure correct), deterministic in ``rng``."""
    try:
        make = _GENERATORS[kind]
    except KeyError:
        raise ValueError(f"no generator for token kind {kind!r}") from None
    return make(rng)


def _swap_char(token: str, index: int, alphabet: str) -> str:
    """Replace one character by the next one of its alphabet (always a different character)."""
    ch = token[index]
    replacement = alphabet[(alphabet.index(ch) + 1) % len(alphabet)]
    return token[:index] + replacement + token[index + 1 :]


def corrupt(token: str) -> str:
    """The token with one character changed so that its checksum or structure no longer holds.

        Checksummed tokens keep their shape (prefix, alphabet, length): only the
        checksum is wrong, which is what a typo or a hand-made "example" looks like.
        Structured tokens (JWT, macaroon, base64 JSON) get a character that breaks
        their decoding; anything else gets its prefix's first character in the other case
    (a private key block becomes a public one).
    """
    if token.startswith(("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_", "glsa_")):
        return _swap_char(token, token.index("_") + 3, ALNUM)
    for prefix in ("glpat-", "glrt-t1_"):
        if token.startswith(prefix):
            return _swap_char(token, len(prefix) + 2, B64URL)
    if token.startswith(("cfut_", "cfat_", "cfk_")):
        return _swap_char(token, token.index("_") + 3, ALNUM)
    if token.startswith("ATATT3"):
        return _swap_char(token, 15, B64URL)
    if token.startswith("eyJ"):
        # the header's first JSON characters become invalid: '{"' -> '|"'
        return "f" + token[1:]
    for prefix in ("pypi-", "ABSK", "bedrock-api-key-"):
        if token.startswith(prefix):
            # the payload no longer decodes to the vendor's header
            return prefix + "Z" + token[len(prefix) + 1 :]
    if token.startswith("-----BEGIN"):
        return token.replace("PRIVATE KEY", "PUBLIC KEY")
    if "hooks.slack.com" in token:
        return token.replace("hooks.slack.com", "Hooks.slack.com")
    first = token[0]
    return (first.lower() if first.isupper() else first.upper()) + token[1:]
