"""The catalog of known credential formats, and the matcher that finds them in a string.

Why a catalog and not entropy alone: a vendor prefix (``ghp_``, ``sk-ant-api03-``,
``xoxb-``) says *what* leaked, which tells the user what it grants and where to
revoke it, and several vendors add a checksum (GitHub, npm, GitLab routable
tokens, Atlassian, Grafana, Cloudflare) or a decodable structure (PyPI
macaroons, JWTs, Sentry org tokens) that lets us tell a live token from a
typo or a made-up example without ever calling the vendor. Everything here is
offline and stdlib only: ``audit-config`` must not send a secret anywhere.

The matcher runs on every string value of every config file scanned, so a
string without any known prefix must cost about a microsecond: one compiled
regular expression over the literal anchors of all formats decides whether
any format-specific pattern runs at all.

Matches are anchored on token boundaries: a token glued to a longer run of its
own characters (``xghp_...``, or one character too many) is not a match, because
that run is something else (a hash, an identifier) or a corrupted paste.
Vendor documentation examples and obvious placeholders (``AKIA...EXAMPLE``,
``ghp_xxxx...``, ``sk_test_YOUR_KEY``) are never reported; see
``is_documentation_example``.

Values are only matched, never logged or formatted here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = [
    "CHECKSUM_VALIDATED",
    "FORMATS",
    "STRUCTURE_VALIDATED",
    "TokenFormat",
    "TokenMatch",
    "find_tokens",
    "is_documentation_example",
    "may_hold_token",
]


@dataclass(frozen=True, slots=True)
class TokenFormat:
    """One kind of credential; ``kind`` is the stable rule id suffix (``secret/<kind>``)."""

    kind: str
    title: str
    severity: str  # "high" (a live credential) or "medium"
    description: str


@dataclass(frozen=True, slots=True)
class TokenMatch:
    """A validated token found in a string: ``text[start:end]`` is the token."""

    format: TokenFormat
    start: int
    end: int


# --- encodings and checksums --------------------------------------------------------------

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _encode_int(n: int, alphabet: str, width: int) -> str:
    base = len(alphabet)
    digits = []
    while n:
        n, r = divmod(n, base)
        digits.append(alphabet[r])
    return "".join(reversed(digits)).rjust(width, alphabet[0])


def _crc32(text: str) -> int:
    return zlib.crc32(text.encode("ascii", "replace"))


def _crc_base62_ok(token: str) -> bool:
    """GitHub's (and npm's) scheme: ``<prefix>_<30 random><6 base62 of crc32(random)>``."""
    return _encode_int(_crc32(token[4:-6]), _BASE62, 6) == token[-6:]


def _gitlab_routable_ok(token: str) -> bool:
    """GitLab routable tokens end with the base36 crc32 of everything before it (7 chars)."""
    return _encode_int(_crc32(token[:-7]), _BASE36, 7) == token[-7:]


def _atlassian_ok(token: str) -> bool:
    """Atlassian API tokens end with ``=`` + upper-case hex crc32 of everything before it."""
    return f"{_crc32(token[:-8]):08X}" == token[-8:]


def _grafana_sa_ok(token: str) -> bool:
    """Grafana service-account tokens: ``glsa_<32>_<hex of crc32("glsa_<32>"), little-endian>``."""
    return _crc32(token[:-9]).to_bytes(4, "little").hex() == token[-8:]


def _cloudflare_ok(token: str) -> bool:
    """Cloudflare scannable tokens: ``<prefix>_<40 chars><hex crc32 of those 40>``."""
    body = token[token.index("_") + 1 : -8]
    return f"{_crc32(body):08x}" == token[-8:]


def _b64decode(text: str) -> bytes | None:
    """Lenient base64 / base64url decoding (padding optional); None when not base64."""
    text = text.rstrip("=")
    if "-" in text or "_" in text:
        text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _json_object(data: bytes | None) -> dict[str, object] | None:
    if data is None:
        return None
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _jwt_parts(token: str) -> tuple[dict[str, object], dict[str, object]] | None:
    header_b64, payload_b64, _ = token.split(".", 2)
    header = _json_object(_b64decode(header_b64))
    if header is None or not isinstance(header.get("alg"), str):
        return None
    payload = _json_object(_b64decode(payload_b64))
    if payload is None:
        return None
    return header, payload


def _jwt_ok(token: str) -> bool:
    return _jwt_parts(token) is not None


def _supabase_service_role_ok(token: str) -> bool:
    parts = _jwt_parts(token)
    return parts is not None and parts[1].get("role") == "service_role"


# The first bytes of a macaroon from the Python Package Index (production or test
# instance): version 2, location field, identifier field. Kept base64-encoded, as
# they appear in tokens.
_PYPI_HEADERS = tuple(
    base64.urlsafe_b64decode(h) for h in ("AgEIcHlwaS5vcmcC", "AgENdGVzdC5weXBpLm9yZwI=")
)


def _pypi_ok(token: str) -> bool:
    """A PyPI token is ``pypi-`` + a base64url macaroon (v2 binary) from the Python Package Index.

    The macaroon starts with its location field and ends with the 32-byte
    signature field (type 6, length 32).
    """
    data = _b64decode(token[5:])
    return (
        data is not None
        and data.startswith(_PYPI_HEADERS)
        and len(data) >= 64
        and data[-34:-32] == b"\x06\x20"
    )


def _sentry_org_ok(token: str) -> bool:
    payload = token[len("sntrys_") : token.rindex("_")]
    obj = _json_object(_b64decode(payload))
    return obj is not None and "iat" in obj


def _b64_json_after_prefix(token: str) -> bool:
    return _json_object(_b64decode(token[token.index("_") + 1 :])) is not None


def _bedrock_ok(token: str) -> bool:
    if token.startswith("ABSK"):
        data = _b64decode(token[4:])
        return data is not None and data.startswith(b"BedrockAPIKey-") and b":" in data
    data = _b64decode(token[len("bedrock-api-key-") :])
    return data is not None and data.startswith(b"bedrock.amazonaws.com/")


_PK_NOISE = re.compile(r"\\[nrt]|[^A-Za-z0-9+/]")


def _private_key_ok(token: str) -> bool:
    """The block holds real base64: at least 64 characters of it, not one repeated filler."""
    base64_chars = _PK_NOISE.sub("", token.split("-----", 3)[2])
    return len(base64_chars) >= 64 and len(set(base64_chars)) >= 16


def _openai_marker_ok(token: str) -> bool:
    # "T3BlbkFJ" is base64 of "OpenAI"; every current key carries it mid-token.
    return "T3BlbkFJ" in token


def _digit_and_letter(body: str) -> bool:
    return any(c.isdigit() for c in body) and any(c.isalpha() for c in body)


def _mixed_case(body: str) -> bool:
    return any(c.isupper() for c in body) and any(c.islower() for c in body)


def _random_alnum(body: str) -> bool:
    """Broad alphabets (base62/base64url) need digits and both cases to look generated."""
    return _digit_and_letter(body) and _mixed_case(body)


# --- documentation examples and placeholders ------------------------------------------

# Published vendor examples that pass every shape check; never report them. Only
# the distinctive random part is kept, matched as a substring of a candidate.
_DOC_EXAMPLES = (
    "IOSFODNN7EXAMPLE",  # AWS access key id AKIA...
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS secret access key
    "4eC39HqLyjWDarjtT1zdp7dc",  # Stripe's docs test key (sk_test_...)
    "BQokikJOvBiI2HlWgH4olfQ2",  # Stripe's older docs test key
    "26PHem9AhJZvU623DfE1x4sd",  # Stripe's docs test/restricted key
    "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",  # jwt.io's sample signature
)

# Words that only placeholders contain. Short ones are checked in random bodies
# only: in a long base64 payload "your" or "fake" turns up by chance.
_PLACEHOLDER_MARKERS = ("example", "placeholder", "redacted", "changeme", "notreal", "<", "...")
_SHORT_MARKERS = ("your", "replace", "change_me", "dummy", "sample", "not_real", "fake", "insert")

# Ascending and keyboard runs that only a human types ("1234567890abcdef", "qwerty...").
_SEQUENCES = ("01234567", "12345678", "23456789", "abcdefgh", "bcdefghi", "qwertyui", "asdfghjk")
_SAME_RUN = re.compile(r"(.)\1{5}")
_HEAD = 64  # shape checks look at the start of the body: placeholders are fake throughout


def _literals(*words: str) -> Callable[[str], re.Match[str] | None]:
    """One search for any of ``words`` (plain substrings): what ``any(w in text ...)`` said,
    in one pass in C instead of a Python call per word."""
    return re.compile("|".join(re.escape(w) for w in words)).search


_DOC_EXAMPLE_SEARCH = _literals(*_DOC_EXAMPLES)
_MARKER_SEARCH = _literals(*_PLACEHOLDER_MARKERS)
_STRICT_SEARCH = {  # words -> the strict word and sequence checks in one search
    True: _literals(*_PLACEHOLDER_MARKERS, *_SHORT_MARKERS, *_SEQUENCES),
    False: _literals(*_SEQUENCES),
}


def _is_periodic(text: str) -> bool:
    """``abababab...`` / ``a1B2c3a1B2c3...``: a short unit repeated over the whole body.

    Only a period whose first character repeats the text's first can be one, so
    the slices are compared only there (random bodies rarely have one).
    """
    limit = min(12, len(text) // 3)
    if limit < 1:
        return False
    first = text[0]
    period = text.find(first, 1, limit + 1)
    while period != -1:
        if text[period:] == text[:-period]:
            return True
        period = text.find(first, period + 1, limit + 1)
    return False


def _looks_fake(body: str, *, strict: bool = True, words: bool = True) -> bool:
    """True when a token's random part is obviously made up.

    ``strict`` adds shape checks (runs, sequences, repetition, low diversity)
    that are right for random strings but wrong for structured payloads such as
    private keys or base64 JSON, which legitimately contain ``AAAAAA``.
    """
    lowered = body.lower()
    if not strict:
        return words and _MARKER_SEARCH(lowered) is not None
    if _STRICT_SEARCH[words](lowered) is not None:
        return True
    head = body[:_HEAD]
    if _SAME_RUN.search(head) or _is_periodic(head):
        return True
    return len(head) >= 12 and len(set(head)) <= 5


def is_documentation_example(value: str, *, words: bool = True) -> bool:
    """True for vendor documentation example keys and obvious placeholders.

    Such values must not be reported as leaked credentials: AWS's
    ``AKIAIOSFODNN7EXAMPLE``, Stripe's published test key, jwt.io's sample
    token, and any token whose random part is one repeated character,
    ``xxxx``, ``0000``, an ascending run such as ``1234567890abcdef``, or a word
    like EXAMPLE, your, replace. ``words=False`` skips the word checks, for
    callers that have already decided a value is random-looking (where such a
    word is a coincidence).
    """
    if _DOC_EXAMPLE_SEARCH(value) is not None:
        return True
    # Shape checks only on token-sized values: long base64 (keys, JWTs) may hold runs.
    return _looks_fake(value, strict=len(value) <= 100, words=words)


# --- the catalog -------------------------------------------------------------------------

_W = "A-Za-z0-9_"  # word characters: a token may not touch them on either side
_LEFT = r"(?<![A-Za-z0-9_-])"


class _Detector:
    """One format's matcher; its regex is compiled on first use.

    Compiling all ~70 patterns up front costs more than scanning a hundred
    config files, and most runs only ever need the prefilter.
    """

    __slots__ = ("_compiled", "anchors", "fmt", "has_body", "source", "strict", "validate")

    def __init__(
        self,
        fmt: TokenFormat,
        anchors: tuple[str, ...],
        source: str,
        validate: Callable[[str], bool] | None,
        strict: bool,  # strict placeholder checks on the "body" group
    ) -> None:
        self.fmt = fmt
        self.anchors = anchors
        self.source = source
        self.validate = validate
        self.strict = strict
        self._compiled: re.Pattern[str] | None = None
        self.has_body = "(?P<body>" in source

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex."""
        if self._compiled is None:
            self._compiled = re.compile(self.source)
        return self._compiled


def _tok(core: str, tail: str = "") -> str:
    """Wrap a token pattern in boundary checks; ``tail`` adds characters it may not touch."""
    return f"{_LEFT}(?:{core})(?![{_W}{tail}])"


_FORMATS: list[TokenFormat] = []
_DETECTORS: list[_Detector] = []


def _fmt(kind: str, title: str, severity: str, description: str) -> TokenFormat:
    fmt = TokenFormat(kind, title, severity, description)
    _FORMATS.append(fmt)
    return fmt


def _det(
    fmt: TokenFormat,
    anchors: Iterable[str],
    pattern: str,
    validate: Callable[[str], bool] | None = None,
    *,
    strict: bool = True,
) -> None:
    _DETECTORS.append(_Detector(fmt, tuple(anchors), pattern, validate, strict))


# GitHub ------------------------------------------------------------------------------------
_GH_REVOKE = "revoke it at github.com/settings/tokens (or the app's settings) and create a new one."
for _prefix, _kind, _title, _what in (
    (
        "ghp",
        "github-pat",
        "GitHub personal access token (classic)",
        "Acts as the user on every repository and org the token's scopes reach.",
    ),
    (
        "gho",
        "github-oauth-token",
        "GitHub OAuth access token",
        "Acts as the user for an OAuth app with the scopes the user granted.",
    ),
    (
        "ghu",
        "github-user-token",
        "GitHub App user-to-server token",
        "Acts as the user through a GitHub App, within the app's permissions.",
    ),
    (
        "ghs",
        "github-app-installation-token",
        "GitHub App installation token",
        "Acts as a GitHub App installation on the repositories it is installed on.",
    ),
    (
        "ghr",
        "github-refresh-token",
        "GitHub refresh token",
        "Mints new GitHub App user-to-server tokens.",
    ),
):
    _det(
        _fmt(_kind, _title, "high", f"{_what[:-1]}; {_GH_REVOKE}"),
        [f"{_prefix}_"],
        _tok(rf"{_prefix}_(?P<body>[A-Za-z0-9]{{36}})"),
        _crc_base62_ok,
    )
_det(
    _fmt(
        "github-fine-grained-pat",
        "GitHub fine-grained personal access token",
        "high",
        "Acts as the user on the repositories and permissions chosen for the token; " + _GH_REVOKE,
    ),
    ["github_pat_"],
    _tok(r"github_pat_(?P<body>[A-Za-z0-9]{22}_[A-Za-z0-9]{59})"),
)

# GitLab ------------------------------------------------------------------------------------
_ROUTABLE = r"[A-Za-z0-9_-]{27,300}\.(?:[0-9a-z]{2}\.)?[0-9a-z]{9}"
for _prefix, _kind, _title, _legacy, _what in (
    (
        "glpat-",
        "gitlab-pat",
        "GitLab personal access token",
        r"[A-Za-z0-9_-]{20}",
        "Acts as the user on the GitLab API, Git over HTTPS and the registry within its "
        "scopes; revoke it under User settings > Access tokens.",
    ),
    (
        "gldt-",
        "gitlab-deploy-token",
        "GitLab deploy token",
        r"[A-Za-z0-9_-]{20}",
        "Reads (or writes) a project's repository, packages or registry; revoke it under "
        "the project's Settings > Repository > Deploy tokens.",
    ),
    (
        "glrt-",
        "gitlab-runner-token",
        "GitLab runner authentication token",
        r"[A-Za-z0-9_-]{20}",
        "Registers as a runner and receives CI jobs with their secrets; reset it on the "
        "runner's page in CI/CD settings.",
    ),
    (
        "glptt-",
        "gitlab-pipeline-trigger-token",
        "GitLab pipeline trigger token",
        r"[0-9a-f]{40}",
        "Starts pipelines on a project, with its CI variables; revoke it under Settings > "
        "CI/CD > Pipeline trigger tokens.",
    ),
    (
        "glcbt-",
        "gitlab-ci-job-token",
        "GitLab CI/CD job token",
        r"(?:[0-9a-zA-Z]{1,5}_)?[A-Za-z0-9_-]{20}",
        "Acts for a running CI job on the projects its allowlist reaches; it expires with "
        "the job, but a leaked one should be cancelled with its job.",
    ),
    (
        "gloas-",
        "gitlab-oauth-app-secret",
        "GitLab OAuth application secret",
        r"[A-Za-z0-9_-]{64}",
        "Lets anyone impersonate the OAuth application; renew the secret on the "
        "application's settings page.",
    ),
    (
        "glft-",
        "gitlab-feed-token",
        "GitLab feed token",
        r"[A-Za-z0-9_-]{20}",
        "Reads the user's RSS/Atom and calendar feeds; reset it under User settings > "
        "Access tokens.",
    ),
    (
        "glsoat-",
        "gitlab-scim-token",
        "GitLab SCIM OAuth token",
        r"[A-Za-z0-9_-]{20}",
        "Provisions and deprovisions users of a GitLab group; reset it in the group's SAML "
        "SSO settings.",
    ),
):
    _f = _fmt(_kind, _title, "high", _what)
    _runner = r"(?:t\d_)?" if _prefix == "glrt-" else ""
    _det(
        _f,
        [_prefix],
        _tok(rf"{re.escape(_prefix)}{_runner}(?P<body>{_ROUTABLE})", "."),
        _gitlab_routable_ok,
    )
    _det(_f, [_prefix], _tok(rf"{re.escape(_prefix)}(?P<body>{_legacy})", "-"))

# Slack -------------------------------------------------------------------------------------
_SLACK_REVOKE = "revoke it on the app's OAuth & Permissions page at api.slack.com/apps."
_f = _fmt(
    "slack-bot-token",
    "Slack bot token",
    "high",
    "Reads and posts in every channel the bot is in; " + _SLACK_REVOKE,
)
_det(_f, ["xoxb-"], _tok(r"xoxb-(?P<body>[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24})", "-"))
_det(_f, ["xoxb-"], _tok(r"xoxb-(?P<body>[0-9]{8,14}-[A-Za-z0-9]{18,26})", "-"))
_det(
    _fmt(
        "slack-user-token",
        "Slack user token",
        "high",
        "Acts as the Slack user who installed the app, including their private messages; "
        + _SLACK_REVOKE,
    ),
    ["xoxp-"],
    _tok(r"xoxp-(?P<body>[0-9]{10,13}-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{28,34})", "-"),
)
_det(
    _fmt(
        "slack-app-token",
        "Slack app-level token",
        "high",
        "Opens Socket Mode connections and receives the app's events; revoke it on the app's "
        "Basic Information page at api.slack.com/apps.",
    ),
    ["xapp-"],
    _tok(r"xapp-\d-(?P<body>[A-Z0-9]{8,12}-[0-9]{10,14}-[A-Za-z0-9]{32,80})", "-"),
)
_f = _fmt(
    "slack-config-token",
    "Slack configuration token",
    "high",
    "Creates and reconfigures Slack apps in the workspace (access or refresh token); revoke "
    "it at api.slack.com/apps under Your App Configuration Tokens.",
)
_det(_f, ["xoxe.xox"], _tok(r"xoxe\.xox[bp]-\d-(?P<body>[A-Za-z0-9]{163,166})", "-"))
_det(_f, ["xoxe-"], _tok(r"xoxe-\d-(?P<body>[A-Za-z0-9]{146})", "-"))
_f = _fmt(
    "slack-legacy-token",
    "Slack legacy token",
    "high",
    "An old-style Slack workspace, user or refresh token with broad access; revoke it at "
    "api.slack.com/legacy or by removing the app.",
)
_det(
    _f,
    ["xoxo-", "xoxs-"],
    _tok(r"xox[os]-(?P<body>[0-9]{6,}-[0-9]{6,}-[0-9]{6,}-[A-Fa-f0-9]{16,64})", "-"),
)
_det(_f, ["xoxa-", "xoxr-"], _tok(r"xox[ar]-(?:\d-)?(?P<body>[A-Za-z0-9]{8,48})", "-"))
_det(
    _fmt(
        "slack-webhook-url",
        "Slack incoming webhook URL",
        "high",
        "Posts messages into a Slack channel without any other credential; remove the webhook "
        "on the app's Incoming Webhooks page.",
    ),
    ["hooks.slack.com"],
    _LEFT
    + r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/"
    + r"(?P<body>[A-Za-z0-9+/]{40,120})(?![A-Za-z0-9_+/])",
)

# Notion, Linear, Sentry, Atlassian, Figma ---------------------------------------------------
_f = _fmt(
    "notion-token",
    "Notion integration token",
    "high",
    "Reads and edits every Notion page and database shared with the integration; refresh it "
    "on the integration's page at notion.so/profile/integrations.",
)
_det(_f, ["ntn_"], _tok(r"ntn_(?P<body>[0-9]{11}[A-Za-z0-9]{35})"))
_det(_f, ["secret_"], _tok(r"secret_(?P<body>[A-Za-z0-9]{43})"), lambda t: _random_alnum(t[7:]))
_det(
    _fmt(
        "linear-api-key",
        "Linear API key",
        "high",
        "Acts as the Linear user on every team they can see; revoke it under Settings > "
        "Security & access > Personal API keys.",
    ),
    ["lin_api_"],
    _tok(r"lin_api_(?P<body>[A-Za-z0-9]{40})"),
)
_det(
    _fmt(
        "sentry-user-token",
        "Sentry user auth token",
        "high",
        "Acts as the Sentry user within the token's scopes, including event data; revoke it "
        "under User settings > Personal Tokens.",
    ),
    ["sntryu_"],
    _tok(r"sntryu_(?P<body>[a-f0-9]{64})"),
)
_det(
    _fmt(
        "sentry-org-token",
        "Sentry organization auth token",
        "high",
        "Uploads releases and source maps and reads org data; revoke it under Settings > "
        "Developer Settings > Organization Tokens.",
    ),
    ["sntrys_"],
    _LEFT
    + r"sntrys_eyJ[A-Za-z0-9+/]{20,600}={0,2}_(?P<body>[A-Za-z0-9+/]{43})(?![A-Za-z0-9_+/=-])",
    _sentry_org_ok,
)
_det(
    _fmt(
        "atlassian-api-token",
        "Atlassian API token",
        "high",
        "Acts as the Atlassian account on Jira and Confluence Cloud with the user's own "
        "permissions; revoke it at id.atlassian.com/manage-profile/security/api-tokens.",
    ),
    ["ATATT3"],
    _tok(r"ATATT3(?P<body>[A-Za-z0-9_-]{100,400})=[A-F0-9]{8}", "=-"),
    _atlassian_ok,
)
_det(
    _fmt(
        "figma-token",
        "Figma access token",
        "high",
        "Reads (and with write scopes, edits) every Figma file the user can open; revoke it "
        "under Settings > Security > Personal access tokens.",
    ),
    ["figd_", "figp_", "figr_", "figu_", "figo_", "figur_", "figuh_", "figor_", "figoh_"],
    _tok(r"fig(?:d|p|r|u|o|ur|uh|or|oh)_(?P<body>[A-Za-z0-9_-]{40,54})", "-"),
    lambda t: _random_alnum(t[t.index("_") + 1 :]),
)

# Payments and commerce ----------------------------------------------------------------------
_STRIPE_REVOKE = "roll it in the Stripe Dashboard under Developers > API keys."
_det(
    _fmt(
        "stripe-secret-key",
        "Stripe secret key",
        "high",
        "Full access to the Stripe account's API: charges, refunds, customers, payouts; "
        + _STRIPE_REVOKE,
    ),
    ["sk_live_", "sk_test_"],
    _tok(r"sk_(?:live|test)_(?P<body>[A-Za-z0-9]{20,247})"),
)
_det(
    _fmt(
        "stripe-restricted-key",
        "Stripe restricted key",
        "high",
        "Access to the Stripe resources chosen for the key; " + _STRIPE_REVOKE,
    ),
    ["rk_live_", "rk_test_"],
    _tok(r"rk_(?:live|test)_(?P<body>[A-Za-z0-9]{20,247})"),
)
_det(
    _fmt(
        "shopify-access-token",
        "Shopify access token",
        "high",
        "Admin API access to a Shopify store within the app's scopes; uninstall the app or "
        "rotate the token in the app's settings.",
    ),
    ["shpat_", "shpca_", "shppa_"],
    _tok(r"shp(?:at|ca|pa)_(?P<body>[a-fA-F0-9]{32})"),
)
_det(
    _fmt(
        "shopify-shared-secret",
        "Shopify app shared secret",
        "high",
        "Signs webhooks and OAuth requests as the Shopify app; rotate it in the Partner Dashboard.",
    ),
    ["shpss_"],
    _tok(r"shpss_(?P<body>[a-fA-F0-9]{32})"),
)

# Cloud and infrastructure ------------------------------------------------------------------
_det(
    _fmt(
        "google-api-key",
        "Google API key",
        "high",
        "Calls the Google APIs enabled for its project (Maps, Gemini, ...) billed to that "
        "project; delete or restrict it in Google Cloud console > APIs & Services > "
        "Credentials.",
    ),
    ["AIza"],
    _tok(r"AIza(?P<body>[A-Za-z0-9_-]{35})", "-"),
)
_det(
    _fmt(
        "aws-access-key-id",
        "AWS access key ID",
        "medium",
        "Identifies an AWS key pair; the secret access key is usually next to it; deactivate "
        "the key in IAM > Users > Security credentials.",
    ),
    ["AKIA", "ASIA", "ABIA", "ACCA"],
    _tok(r"(?:AKIA|ASIA|ABIA|ACCA)(?P<body>[A-Z2-7]{16})"),
)
_f = _fmt(
    "aws-bedrock-api-key",
    "Amazon Bedrock API key",
    "high",
    "Invokes Amazon Bedrock models billed to the AWS account; delete it in the Bedrock "
    "console under API keys (short-term keys expire on their own).",
)
_det(
    _f,
    ["ABSKQmVkcm9ja0FQSUtleS"],
    _tok(r"ABSK(?P<body>QmVkcm9ja0FQSUtleS[A-Za-z0-9+/]{90,400}={0,2})", "+/="),
    _bedrock_ok,
    strict=False,
)
_det(
    _f,
    ["bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t"],
    _tok(
        r"bedrock-api-key-(?P<body>YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{20,6000}={0,2})", "+/="
    ),
    _bedrock_ok,
    strict=False,
)
_det(
    _fmt(
        "cloudflare-api-token",
        "Cloudflare API token or key",
        "high",
        "Acts on the Cloudflare account or zones the token (or global key) covers; roll it "
        "under My Profile > API Tokens, or in the account's API Tokens page.",
    ),
    ["cfk_", "cfut_", "cfat_"],
    _tok(r"cf(?:k|ut|at)_(?P<body>[A-Za-z0-9]{40})[a-f0-9]{8}"),
    _cloudflare_ok,
)
_det(
    _fmt(
        "cloudflare-origin-ca-key",
        "Cloudflare Origin CA key",
        "high",
        "Issues and revokes Origin CA certificates for the account's zones; revoke it under "
        "My Profile > API Tokens > Origin CA Key.",
    ),
    ["v1.0-"],
    _tok(r"v1\.0-(?P<body>[a-f0-9]{24}-[a-f0-9]{146})", "-"),
)
_det(
    _fmt(
        "digitalocean-token",
        "DigitalOcean API token",
        "high",
        "Creates, changes and deletes droplets, databases and DNS on the DigitalOcean account "
        "(personal, OAuth or refresh token); delete it under API > Tokens.",
    ),
    ["dop_v1_", "doo_v1_", "dor_v1_"],
    _tok(r"do[por]_v1_(?P<body>[a-f0-9]{64})"),
)
_det(
    _fmt(
        "heroku-api-key",
        "Heroku API key",
        "high",
        "Acts as the Heroku user on all their apps, including config vars; revoke it under "
        "Account settings > Applications > Authorizations.",
    ),
    ["HRKU-AA"],
    _tok(r"HRKU-AA(?P<body>[A-Za-z0-9_-]{58})", "-"),
)
_det(
    _fmt(
        "vercel-token",
        "Vercel token",
        "high",
        "Deploys, reads environment variables and manages projects on the Vercel account or "
        "team; delete it under Account Settings > Tokens.",
    ),
    ["vcp_", "vci_", "vca_", "vcr_", "vck_"],
    _tok(r"vc[piark]_(?P<body>[A-Za-z0-9_-]{40,80})", "-"),
    lambda t: _random_alnum(t[4:]),
)
_det(
    _fmt(
        "supabase-access-token",
        "Supabase personal access token",
        "high",
        "Manages every Supabase project of the account through the Management API (the token "
        "the Supabase MCP server uses); revoke it under Account > Access Tokens.",
    ),
    ["sbp_"],
    _tok(r"sbp_(?P<body>[a-z0-9]{40})"),
    lambda t: _digit_and_letter(t[4:]),
)
_det(
    _fmt(
        "supabase-secret-key",
        "Supabase secret API key",
        "high",
        "Reads and writes a Supabase project's data, bypassing Row Level Security; delete it "
        "under Project Settings > API Keys.",
    ),
    ["sb_secret_"],
    _tok(r"sb_secret_(?P<body>[A-Za-z0-9_-]{24,100})", "-"),
    lambda t: _random_alnum(t[10:]),
)
_det(
    _fmt(
        "supabase-service-role-key",
        "Supabase service_role key (legacy JWT)",
        "high",
        "A JWT with role service_role: reads and writes a Supabase project's data, bypassing "
        "Row Level Security; rotate the project's JWT secret or move to the new API keys.",
    ),
    ["eyJ"],
    _tok(r"(?P<body>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)", ".-"),
    _supabase_service_role_ok,
    strict=False,
)
_det(
    _fmt(
        "databricks-token",
        "Databricks personal access token",
        "high",
        "Acts as the user on the Databricks workspace: clusters, jobs, data; revoke it under "
        "User Settings > Developer > Access tokens.",
    ),
    ["dapi"],
    _tok(r"dapi(?P<body>[a-f0-9]{32})(?:-\d)?", "-"),
)
_det(
    _fmt(
        "grafana-service-account-token",
        "Grafana service account token",
        "high",
        "Calls the Grafana API as a service account with its role; delete it under "
        "Administration > Service accounts.",
    ),
    ["glsa_"],
    _tok(r"glsa_(?P<body>[A-Za-z0-9]{32})_[a-f0-9]{8}"),
    _grafana_sa_ok,
)
_det(
    _fmt(
        "grafana-cloud-token",
        "Grafana Cloud access policy token",
        "high",
        "Reads or writes Grafana Cloud stacks (metrics, logs, traces) within its access "
        "policy; delete it under Administration > Cloud access policies.",
    ),
    ["glc_eyJ"],
    _tok(r"glc_(?P<body>eyJ[A-Za-z0-9+/]{40,800}={0,2})", "+/="),
    _b64_json_after_prefix,
    strict=False,
)
_det(
    _fmt(
        "newrelic-user-api-key",
        "New Relic user API key",
        "high",
        "Queries and configures the New Relic account through NerdGraph as the user; delete "
        "it under API keys in the New Relic UI.",
    ),
    ["NRAK-"],
    _tok(r"NRAK-(?P<body>[A-Z0-9]{27})"),
)
_det(
    _fmt(
        "doppler-token",
        "Doppler token",
        "high",
        "Reads (and may write) secrets stored in Doppler; revoke it in the Doppler dashboard "
        "(Tokens, Service Accounts or the config's Access page).",
    ),
    ["dp.pt.", "dp.st.", "dp.sa.", "dp.ct.", "dp.scim.", "dp.audit."],
    _tok(
        r"dp\.(?:pt|sa|ct|scim|audit|st(?:\.[a-z0-9_-]{2,35})?)\.(?P<body>[A-Za-z0-9]{40,44})",
    ),
)
_det(
    _fmt(
        "onepassword-service-account-token",
        "1Password service account token",
        "high",
        "Reads (and may write) the 1Password vaults granted to the service account; revoke it "
        "in 1Password under Developer > Service Accounts.",
    ),
    ["ops_eyJ"],
    _tok(r"ops_(?P<body>eyJ[A-Za-z0-9+/]{100,4000}={0,3})", "+/="),
    _b64_json_after_prefix,
    strict=False,
)
_det(
    _fmt(
        "docker-hub-token",
        "Docker Hub access token",
        "high",
        "Pushes and pulls images as the Docker Hub user or organization; delete it under "
        "Account settings > Personal access tokens.",
    ),
    ["dckr_pat_", "dckr_oat_"],
    _tok(r"dckr_pat_(?P<body>[A-Za-z0-9_-]{27})|dckr_oat_[A-Za-z0-9_-]{32}", "-"),
)
_det(
    _fmt(
        "npm-token",
        "npm access token",
        "high",
        "Publishes and unpublishes packages as the npm user; revoke it with npm token revoke "
        "or on the registry's Access Tokens page.",
    ),
    ["npm_"],
    _tok(r"npm_(?P<body>[A-Za-z0-9]{36})"),
    _crc_base62_ok,
)
_det(
    _fmt(
        "pypi-token",
        "PyPI API token",
        "high",
        "Uploads releases to the PyPI projects in its scope; remove it under Account settings "
        "> API tokens.",
    ),
    ["pypi-Ag"],
    _tok(r"pypi-(?P<body>Ag[A-Za-z0-9_-]{80,4000})", "-"),
    _pypi_ok,
    strict=False,
)

# Messaging, email, API platforms -------------------------------------------------------------
_det(
    _fmt(
        "sendgrid-api-key",
        "SendGrid API key",
        "high",
        "Sends email as the SendGrid account (and more, by scope); delete it under Settings > "
        "API Keys.",
    ),
    ["SG."],
    _tok(r"SG\.(?P<body>[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})", ".-"),
)
_det(
    _fmt(
        "twilio-api-key",
        "Twilio API key SID",
        "medium",
        "Identifies a Twilio API key; its secret is usually configured next to it; delete the "
        "key in the Twilio Console under API keys & tokens.",
    ),
    ["SK"],
    _tok(r"SK(?P<body>[0-9a-f]{32})"),
    lambda t: _digit_and_letter(t[2:]),
)
_det(
    _fmt(
        "mailgun-api-key",
        "Mailgun API key",
        "high",
        "Sends email and reads logs for the Mailgun account's domains; rotate it under API "
        "Security in the Mailgun control panel.",
    ),
    ["key-"],
    _tok(r"key-(?P<body>[a-f0-9]{32})"),
)
_det(
    _fmt(
        "postman-api-key",
        "Postman API key",
        "high",
        "Reads and changes the user's Postman workspaces, collections and environments "
        "(which often hold more secrets); revoke it under Settings > API keys.",
    ),
    ["PMAK-"],
    _tok(r"PMAK-(?P<body>[a-fA-F0-9]{24}-[a-fA-F0-9]{34})", "-"),
)

# AI providers and AI tooling ----------------------------------------------------------------
_f = _fmt(
    "openai-api-key",
    "OpenAI API key",
    "high",
    "Calls the OpenAI API billed to the project or organization; revoke it at "
    "platform.openai.com/api-keys.",
)
_det(
    _f,
    ["sk-proj-", "sk-svcacct-", "sk-None-"],
    _tok(
        r"sk-(?:proj|svcacct|None)-(?P<body>[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})",
        "-",
    ),
    _openai_marker_ok,
)
_det(_f, ["T3BlbkFJ"], _tok(r"sk-(?P<body>[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})"))
_det(
    _fmt(
        "openai-admin-key",
        "OpenAI admin API key",
        "high",
        "Manages the OpenAI organization: users, projects, keys and billing data; revoke it "
        "at platform.openai.com/settings/organization/admin-keys.",
    ),
    ["sk-admin-"],
    _tok(r"sk-admin-(?P<body>[A-Za-z0-9_-]{20,200}T3BlbkFJ[A-Za-z0-9_-]{20,200})", "-"),
    _openai_marker_ok,
)
_det(
    _fmt(
        "anthropic-api-key",
        "Anthropic API key",
        "high",
        "Calls the Claude API billed to the workspace; revoke it at "
        "console.anthropic.com/settings/keys.",
    ),
    ["sk-ant-"],
    _tok(r"sk-ant-api03-(?P<body>[A-Za-z0-9_-]{93})AA", "-"),
)
_det(
    _fmt(
        "anthropic-admin-key",
        "Anthropic Admin API key",
        "high",
        "Manages the Anthropic organization: members, workspaces and API keys; revoke it at "
        "console.anthropic.com/settings/admin-keys.",
    ),
    ["sk-ant-"],
    _tok(r"sk-ant-admin01-(?P<body>[A-Za-z0-9_-]{93})AA", "-"),
)
_det(
    _fmt(
        "anthropic-oauth-token",
        "Anthropic OAuth token (Claude subscription)",
        "high",
        "Uses the Claude Pro/Max subscription of the account that created it (e.g. a Claude "
        "Code setup-token); log out of the sessions at claude.ai/settings to revoke it.",
    ),
    ["sk-ant-"],
    _tok(r"sk-ant-o[ar]t01-(?P<body>[A-Za-z0-9_-]{80,120})", "-"),
)
_det(
    _fmt(
        "openrouter-api-key",
        "OpenRouter API key",
        "high",
        "Calls every model on OpenRouter billed to the account's credits; delete it at "
        "openrouter.ai/settings/keys.",
    ),
    ["sk-or-v1-"],
    _tok(r"sk-or-v1-(?P<body>[a-f0-9]{64})", "-"),
)
_det(
    _fmt(
        "xai-api-key",
        "xAI API key",
        "high",
        "Calls the xAI (Grok) API billed to the team; delete it in the xAI console under API Keys.",
    ),
    ["xai-"],
    _tok(r"xai-(?P<body>[A-Za-z0-9]{80})"),
)
_det(
    _fmt(
        "groq-api-key",
        "Groq API key",
        "high",
        "Calls the Groq inference API billed to the account; delete it at console.groq.com/keys.",
    ),
    ["gsk_"],
    _tok(r"gsk_(?P<body>[A-Za-z0-9]{52})"),
)
_det(
    _fmt(
        "perplexity-api-key",
        "Perplexity API key",
        "high",
        "Calls the Perplexity (Sonar) API billed to the account; revoke it under Settings > API.",
    ),
    ["pplx-"],
    _tok(r"pplx-(?P<body>[A-Za-z0-9]{48})"),
)
_det(
    _fmt(
        "huggingface-token",
        "Hugging Face access token",
        "high",
        "Reads (and with write scope, pushes to) the user's or org's models, datasets and "
        "Spaces; invalidate it in the account's Access Tokens settings on the Hub.",
    ),
    ["hf_", "api_org_"],
    _tok(r"(?:hf|api_org)_(?P<body>[A-Za-z0-9]{34})"),
    lambda t: _mixed_case(t[t.rindex("_") + 1 :]),
)
_det(
    _fmt(
        "replicate-api-token",
        "Replicate API token",
        "high",
        "Runs models and reads predictions billed to the Replicate account; revoke it at "
        "replicate.com/account/api-tokens.",
    ),
    ["r8_"],
    _tok(r"r8_(?P<body>[A-Za-z0-9_-]{37})", "-"),
    lambda t: _random_alnum(t[3:]),
)
_det(
    _fmt(
        "tavily-api-key",
        "Tavily API key",
        "high",
        "Runs Tavily web searches billed to the account; delete it at app.tavily.com.",
    ),
    ["tvly-"],
    _tok(r"tvly-(?:dev-|prod-)?(?P<body>[A-Za-z0-9]{20,40})", "-"),
)
_det(
    _fmt(
        "firecrawl-api-key",
        "Firecrawl API key",
        "high",
        "Runs Firecrawl scrapes and crawls billed to the account; rotate it at "
        "firecrawl.dev/app/api-keys.",
    ),
    ["fc-"],
    _tok(r"fc-(?P<body>[a-f0-9]{32})", "-"),
    lambda t: _digit_and_letter(t[3:]),
)
_det(
    _fmt(
        "langsmith-api-key",
        "LangSmith API key",
        "high",
        "Reads and writes LangSmith traces, datasets and prompts of the workspace; delete it "
        "under Settings > API Keys.",
    ),
    ["lsv2_"],
    _tok(r"lsv2_(?:pt|sk)_(?P<body>[a-f0-9]{32})_[a-f0-9]{10}"),
)

# Generic structures -------------------------------------------------------------------------
_det(
    _fmt(
        "jwt",
        "JSON Web Token",
        "medium",
        "A signed bearer token; it grants whatever its issuer accepts it for until it "
        "expires; revoke the session or rotate the signing key at the issuer.",
    ),
    ["eyJ"],
    _tok(r"(?P<body>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*)", ".-"),
    _jwt_ok,
    strict=False,
)
_PK_BODY = r"(?:[A-Za-z0-9+/=\s\\:,.()]|-(?!----))"  # base64 lines, PEM headers, escaped \n
_det(
    _fmt(
        "private-key",
        "Private key",
        "high",
        "A PEM/OpenSSH/PGP private key: whoever holds it can sign or decrypt as its owner; "
        "replace the key pair and remove the public key wherever it is trusted.",
    ),
    ["-----BEGIN"],
    r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"
    + rf"(?P<body>{_PK_BODY}{{64,20000}})"
    + r"(?:-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----)?",
    _private_key_ok,
    strict=False,
)

FORMATS: tuple[TokenFormat, ...] = tuple(_FORMATS)
"""Every known format, in a stable order (also the tie-break order for equal matches)."""

CHECKSUM_VALIDATED: frozenset[str] = frozenset(
    {
        "github-pat",
        "github-oauth-token",
        "github-user-token",
        "github-app-installation-token",
        "github-refresh-token",
        "npm-token",
        "atlassian-api-token",
        "grafana-service-account-token",
        "cloudflare-api-token",
    }
)
"""Kinds whose every match carries a verified CRC32 checksum.

GitLab routable tokens (``gitlab-*``) are also CRC-checked, but those kinds
still accept the older 20-character form, which has no checksum.
"""

STRUCTURE_VALIDATED: frozenset[str] = frozenset(
    {
        "pypi-token",
        "jwt",
        "supabase-service-role-key",
        "sentry-org-token",
        "grafana-cloud-token",
        "onepassword-service-account-token",
        "aws-bedrock-api-key",
        "openai-api-key",
        "openai-admin-key",
    }
)
"""Kinds whose matches must decode to the vendor's structure (macaroon, JSON, marker)."""

_PRIORITY = {fmt.kind: i for i, fmt in enumerate(FORMATS)}


# --- the prefilter -----------------------------------------------------------------------


def _pivot(anchor: str) -> int:
    """Where to wake up for an anchor: its first separator, else its first capital or digit.

    Typical config strings are lower-case words, paths and URLs; ``_``, ``.``
    and capitals are rare in them, so a search that only stops on those
    characters skips almost everything in C.
    """
    for i, ch in enumerate(anchor):
        if ch in "_-.":
            return i
    for i, ch in enumerate(anchor):
        if ch.isupper() or ch.isdigit():
            return i
    return 0


def _prefilter_pattern(anchors: Iterable[str]) -> str:
    """One regex true exactly where some anchor occurs: pivot char, then look-arounds.

    Alternatives are grouped by the pivot character and then by the character
    before it, so a pivot that belongs to no anchor is rejected after a handful
    of single-character checks.
    """
    by_pivot: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for anchor in anchors:
        i = _pivot(anchor)
        left, pivot, right = anchor[:i], anchor[i], anchor[i + 1 :]
        by_pivot.setdefault(pivot, {}).setdefault(left[-1:], []).append((left, right))
    alternatives = []
    for pivot, by_prev in sorted(by_pivot.items()):
        groups = []
        for prev, items in sorted(by_prev.items()):
            inner = "|".join(
                (f"(?<={re.escape(left + pivot)})" if len(left) > 1 else "")
                + (f"(?={re.escape(right)})" if right else "")
                for left, right in items
            )
            guard = f"(?<={re.escape(prev + pivot)})" if prev else ""
            groups.append(f"{guard}(?:{inner})")
        alternatives.append(re.escape(pivot) + "(?:" + "|".join(groups) + ")")
    return "|".join(alternatives)


_BY_ANCHOR: dict[str, tuple[_Detector, ...]] = {}
for _d in _DETECTORS:
    for _a in _d.anchors:
        _BY_ANCHOR[_a] = (*_BY_ANCHOR.get(_a, ()), _d)
_PREFILTER_SOURCE = _prefilter_pattern(_BY_ANCHOR)
_PREFILTER = re.compile(_PREFILTER_SOURCE).search
# Every match of the prefilter is one character, an anchor's pivot: iterating over them
# visits each place an anchor occurs, so the anchors present are found by checking the
# few that share the pivot (and the character before it) there, instead of searching
# the text for all ~100 anchors.
_PIVOTS = re.compile(_PREFILTER_SOURCE).finditer
_AT_PIVOT: dict[tuple[str, str], list[tuple[str, int, tuple[_Detector, ...]]]] = {}
for _a, _ds in _BY_ANCHOR.items():
    _i = _pivot(_a)
    _AT_PIVOT.setdefault((_a[_i - 1 : _i], _a[_i]), []).append((_a, _i, _ds))
_NO_ANCHORS: list[tuple[str, int, tuple[_Detector, ...]]] = []
_MIN_LENGTH = 20  # no known token is shorter than this


def _detectors_for(text: str) -> dict[int, _Detector]:
    """The detectors of every anchor that occurs in ``text`` (``_BY_ANCHOR``)."""
    found: dict[int, _Detector] = {}
    for match in _PIVOTS(text):
        at = match.start()
        pivot = text[at]
        near = _AT_PIVOT.get(("", pivot), _NO_ANCHORS)
        if at:
            near = near + _AT_PIVOT.get((text[at - 1], pivot), _NO_ANCHORS)
        for anchor, left, detectors in near:
            if at >= left and text.startswith(anchor, at - left):
                for det in detectors:
                    found[id(det)] = det
    return found


def may_hold_token(text: str) -> bool:
    """Whether ``find_tokens`` could find anything in ``text`` (long enough, an anchor in it)."""
    return len(text) >= _MIN_LENGTH and _PREFILTER(text) is not None


def find_tokens(text: str) -> list[TokenMatch]:
    """All validated, non-overlapping known tokens in ``text``, in order of position.

    Overlaps (a Slack ``xoxe.xoxp-`` token also contains ``xoxp-``, a Supabase
    service_role key is also a JWT) are resolved in favour of the match that
    starts first, then the longer one, then the format listed first in FORMATS.
    """
    if len(text) < _MIN_LENGTH or _PREFILTER(text) is None:
        return []
    candidates: list[tuple[int, int, int, TokenFormat]] = []
    for det in _detectors_for(text).values():
        for m in det.pattern.finditer(text):
            token = m.group()
            if det.validate is not None and not det.validate(token):
                continue
            body = m.group("body") if det.has_body and m.group("body") else token
            if _DOC_EXAMPLE_SEARCH(token) is not None:
                continue
            if _looks_fake(body, strict=det.strict):
                continue
            candidates.append((m.start(), m.end(), _PRIORITY[det.fmt.kind], det.fmt))
    if len(candidates) > 1:
        candidates.sort(key=lambda c: (c[0], c[0] - c[1], c[2]))
    matches: list[TokenMatch] = []
    last_end = -1
    for start, end, _, fmt in candidates:
        if start >= last_end:
            matches.append(TokenMatch(fmt, start, end))
            last_end = end
    return matches
