"""Deciding whether one string from an MCP config is a plaintext credential.

The detector looks at a value together with the name it sits under (an env
var, a header, a ``--flag``, a URL query parameter, a JSON key), because the
same 40 characters are a secret under ``GITHUB_TOKEN`` and a commit hash under
``GIT_SHA``. In order, a value is:

1. stripped of references the client or a secret manager resolves later
   (``${env:X}``, ``${input:x}``, ``${X}``, ``$X``, ``%X%``, ``op://``,
   ``mcpcred:``, ``${{ secrets.X }}``, and as a whole value the prefixes other
   tools and brokers write: ``keyring:SERVICE/USER``, ``vault:PATH#FIELD``,
   ``env:VAR``, ``pass:``, ``sops:``, ``infisical:``, ``doppler:``...): those are
   how secrets should be written;
2. searched for known token formats (``tokens``), checksum-validated, in the
   whole value: a prefix never launders a token (``env:ghp_...`` is a token);
3. taken apart when it is a URL (password in userinfo, secret-named query
   parameters, a random-looking path segment) or JSON inside a string;
4. judged by shape when its name says it holds a credential: placeholders,
   paths, ids, digests, variable names and words are not secrets; random
   strings are.

A ``Hit`` carries the secret text so that callers can hash it for baselines;
nothing here formats or prints a value, and ``redact`` is the only way one is
shown (a short prefix and a length).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from mcpcred.audit import tokens
from mcpcred.models import Severity

# --- references: written in place of a secret, resolved at spawn time -------
# Delimited forms: unambiguous wherever they stand, so they are masked anywhere.
_REFERENCE = re.compile(
    r"\$\{\{[^}]*\}\}"  # ${{ secrets.NAME }} (Continue, GitHub Actions)
    r"|\$\{[^}]*\}"  # ${VAR} ${env:VAR} ${input:id} ${VAR:-default}
    r"|\{\{[^}]*\}\}"  # {{ template }}, {{mcpcred:secret/x}}
    r"|\{(?:env|file):[^{}\s]+\}"  # {env:VAR} {file:path} (opencode)
    r"|\bop://\S+"  # 1Password secret reference
    r"|\bmcpcred:[a-z]+/\S+"  # mcpcred's own reference (mcpcred:KIND/...)
    r"|\b(?:keychain|keyring|vault|env|secret|oauth)://\S+"
)
# Prefixed forms other tools and brokers resolve (``keyring:mcpcred/exa/EXA_API_KEY``,
# ``vault:secret/app#key``): references only as a whole value, and only when what follows
# the prefix reads as a locator (names, not a generated string: see ``_locator``).
_PREFIXED = re.compile(
    r"(?P<prefix>keyring|keychain|vault|bao|openbao|sops|infisical|doppler|env|pass|gopass|bw|"
    r"bws|lpass):(?P<locator>[^\s/][^\s]*)"
)
_OP_WHOLE = re.compile(r"op://[^/\s][^/]*/[^/]+/[^/].*")  # 1Password names may have spaces
_LOCATOR_PART = re.compile(r"[/#.:@]+")
# Bare forms: ``$VAR`` and ``%VAR%`` are references only when they are the whole
# value. ``Kq$vZ2$xP9`` is a password with dollar signs, not two variables.
_BARE_REFERENCE = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%")
_ANGLE_PLACEHOLDER = re.compile(r"<[^<>]{1,64}>|\[[A-Za-z_ -]{2,40}\]")

_PLACEHOLDER_WORDS = (
    "your", "replace", "changeme", "change-me", "change_me", "placeholder", "example",
    "dummy", "insert", "todo", "fixme", "redacted", "xxxx", "****", "....", "\u2026",
    "paste", "sample", "fake", "secret_here", "secret-here", "key_here", "key-here",
    "token_here", "token-here", "here>", "goes-here", "goes_here", "mytoken", "my-token",
    "my_token", "my-api-key", "my_api_key", "myapikey", "api-key-here", "tbd", "<", ">",
    "put-your", "put_your", "enter-your", "enter_your", "fill-in", "fill_in",
)  # fmt: skip
_PLACEHOLDER_EXACT = frozenset(
    {
        "null", "none", "undefined", "nil", "true", "false", "yes", "no", "on", "off", "secret",
        "password", "token", "apikey", "api_key", "api-key", "key", "foo", "bar", "baz",
        "foobar", "test", "testing", "admin", "root", "user", "default", "empty", "string",
        "required", "optional", "unset", "blank", "sk-", "pat",
    }
)  # fmt: skip
# Any placeholder word in a string, and any with no letter or digit touching it (a word
# that stands on its own), each as one search over all the words.
_PLACEHOLDER_SEARCH = re.compile("|".join(re.escape(w) for w in _PLACEHOLDER_WORDS)).search
_PLACEHOLDER_BOUNDED = re.compile(
    r"(?<![^\W_])(?:" + "|".join(re.escape(w) for w in _PLACEHOLDER_WORDS) + r")(?![^\W_])"
).search
_SAME_CHAR = re.compile(r"^(.)\1+$")
_FILLER = re.compile(r"^[xX*.\-_0#]+$")
_ELLIPSIS = re.compile(r"(?:\.\.\.|\u2026)$")
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


# Character classes of a string. ``str.isdigit`` / ``isupper`` / ``islower`` agree with
# these ASCII ranges on ASCII text, where one regex search in C replaces a Python loop
# over the characters; other text takes the loop (``tests/audit/test_fast_path.py``).
_ASCII_DIGIT = re.compile(r"[0-9]").search
_ASCII_UPPER = re.compile(r"[A-Z]").search
_ASCII_LOWER = re.compile(r"[a-z]").search
# ``\s`` is ``str.isspace`` and ``[^\W_]`` is ``str.isalnum``, character for character.
_WHITESPACE = re.compile(r"\s").search


def _has_digit(text: str) -> bool:
    if text.isascii():
        return _ASCII_DIGIT(text) is not None
    return any(c.isdigit() for c in text)


def _has_upper(text: str) -> bool:
    if text.isascii():
        return _ASCII_UPPER(text) is not None
    return any(c.isupper() for c in text)


def _has_lower(text: str) -> bool:
    if text.isascii():
        return _ASCII_LOWER(text) is not None
    return any(c.islower() for c in text)


def _is_variable_name(text: str) -> bool:
    """``GITHUB_TOKEN`` names a variable; ``QB5K7ZP4M1RT9X2N`` is an upper-case key."""
    return bool(_ENV_NAME.match(text)) and ("_" in text or not _has_digit(text))


_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_DIGEST = re.compile(r"^(?:sha(?:1|224|256|384|512)|md5|blake2b?)[:-]", re.IGNORECASE)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DOMAIN = re.compile(r"^(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+(?:[-+][\w.]+)?$")
_PATH_LIKE = re.compile(r"^(?:/|~|\.{1,2}[/\\]|[A-Za-z]:[\\/]|\\\\|(?:\$[A-Za-z_]\w*|%\w+%)[/\\])")
_FILE_EXT = re.compile(
    r"\.(?:json|pem|key|crt|cer|p12|pfx|txt|env|ya?ml|toml|ini|db|sqlite)$", re.I
)
_SCHEME = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{1,20}://")
_HOST_LIKE = re.compile(r"[A-Za-z0-9._~%\[\]:,-]+(?:[/?#]|$)")
_PORT = re.compile(r"\d{1,5}")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_AUTH_SCHEME = re.compile(r"^(?:bearer|basic|token|bot|apikey|api-key|key|digest)\s+", re.I)

# --- names ------------------------------------------------------------------
_PASSWORD_WORDS = frozenset({"PASSWORD", "PASSWD", "PWD", "PASS", "PASSPHRASE", "PASSCODE"})
_STRONG_WORDS = frozenset(
    {
        "TOKEN", "SECRET", "APIKEY", "PAT", "AUTHORIZATION", "CREDENTIAL", "CREDENTIALS",
        "COOKIE", "ACCESSKEY", "PRIVATEKEY", "SECRETKEY", "AUTHTOKEN", "ACCESSTOKEN",
        "BEARER", "KEY", "SIGNATURE", "PASSKEY", "CLIENTSECRET", "DSN",
    }
)  # fmt: skip
_WEAK_WORDS = frozenset({"AUTH", "SESSION", "SIG", "PRIVATE", "CERT"})
# A name ending in one of these describes a secret, it does not hold one.
_NOT_SECRET_LAST = frozenset(
    {
        "ID", "IDS", "URL", "URI", "HOST", "HOSTNAME", "PATH", "FILE", "FILES", "DIR", "NAME",
        "TYPE", "PREFIX", "HEADER", "VAR", "ENDPOINT", "REGION", "VERSION", "FORMAT", "LENGTH",
        "TTL", "EXPIRY", "EXPIRES", "EXPIRATION", "AT", "COUNT", "LIMIT", "MODE", "SCOPE",
        "SCOPES", "USER", "USERNAME", "EMAIL", "ACCOUNT", "PORT", "ENABLED", "DISABLED",
        "TIMEOUT", "LOCATION", "STORE", "PROVIDER", "HELPER", "COMMAND", "ALGORITHM", "KIND",
        "FIELD", "PARAM", "LABEL", "HINT", "DESCRIPTION", "SIZE", "INTERVAL", "RETRIES",
        "METHOD", "ISSUER", "AUDIENCE", "PATTERN", "REF", "SERVICE", "SOURCE", "FINGERPRINT",
        "THUMBPRINT", "KEYID", "FPR",
    }
)  # fmt: skip
_NOT_SECRET_ANY = frozenset({"PUBLIC", "PUBLISHABLE", "PUB", "HASH", "SHA", "DIGEST", "CHECKSUM"})
_SHORT_QUERY_NAMES = frozenset(
    {"key", "token", "apikey", "api_key", "access_token", "auth", "code", "sig", "secret"}
)

WEAK, STRONG, PASSWORD = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Hit:
    """A credential found inside one string; ``start``/``end`` index that string."""

    kind: str
    title: str
    severity: Severity
    start: int
    end: int
    secret: str
    context: str


@lru_cache(maxsize=1024)
def name_strength(name: str | None) -> int:
    """0 when a name does not suggest a credential, else WEAK, STRONG or PASSWORD.

    Remembered per name (it depends on nothing else): guard mode redacts the
    arguments of every request before forwarding it, and a session repeats
    its argument names while their values change (benchmarks/bench_guard.py).
    """
    if not name:
        return 0
    spaced = _CAMEL.sub("_", name.strip().lstrip("-"))
    words = [w for w in re.split(r"[^A-Za-z0-9]+", spaced.upper()) if w]
    if not words or words[-1] in _NOT_SECRET_LAST or _NOT_SECRET_ANY.intersection(words):
        return 0
    joined = "".join(words)
    if _PASSWORD_WORDS.intersection(words) or joined.endswith("PASSWORD"):
        return PASSWORD
    if _STRONG_WORDS.intersection(words) or joined.endswith(("TOKEN", "SECRET", "APIKEY")):
        return STRONG
    if _WEAK_WORDS.intersection(words):
        return WEAK
    return 0


@lru_cache(maxsize=1024)
def _names_non_secret(name: str | None) -> bool:
    """Whether a name says what a value is, and it is not a credential (``--project-id``)."""
    if not name:
        return False
    words = [w for w in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub("_", name).upper()) if w]
    return bool(words) and (
        words[-1] in _NOT_SECRET_LAST or bool(_NOT_SECRET_ANY.intersection(words))
    )


# What a string under a name that says nothing must contain for ``Detector`` to report it
# (besides a known token's anchor): a URL, JSON (``{``/``[``), or an auth scheme and the
# whitespace after it (``Bearer <random>``), looked for in the masked text the checks see.
_AUTH_WORD = re.compile(r"(?:bearer|basic|token|bot|apikey|api-key|key|digest)\s", re.I).search
_KEY_HEADERS = frozenset({"x-api-key", "api-key"})  # header names that hold a key as such
_SCRAMBLED_MIN = 20  # the shortest string ``scrambled`` accepts (a bare argument's key)


def _says_nothing(value: str, masked: str, name: str | None, role: str) -> bool:
    """True when ``Detector`` cannot report ``value``: the quick answer for most strings.

    Under a name that says nothing (``npx``, ``-y``, a package, a path), only a known
    token, a URL, JSON or an auth scheme (each needs a character or word checked here)
    or a bare argument shaped like a key (``scrambled``) makes a string a credential; this
    looks for those in a few C-level searches before ``_scan`` runs its checks one by
    one. ``tests/audit/test_fast_path.py`` checks that it never hides a hit.
    """
    return (
        not name_strength(name)
        and (
            role != "positional"
            or len(value) < _SCRAMBLED_MIN
            or not _KEY_CHARS.fullmatch(masked.strip())
        )
        and not (role == "header" and name is not None and name.lower() in _KEY_HEADERS)
        and "://" not in masked
        and "{" not in masked
        and "[" not in masked
        and (_WHITESPACE(masked) is None or _AUTH_WORD(masked) is None)
        and not tokens.may_hold_token(value)
    )


# One regex search instead of a generator over the characters: these two run on
# every string of every server entry (~16 times per file).
_MASKABLE = re.compile(r"[${<\[:]").search
_REFERENCE_MARK = re.compile(r"[${%:]").search


def mask_references(value: str) -> str:
    """The value with every delimited reference and angle-bracket placeholder blanked out.

    Bare ``$VAR`` / ``%VAR%`` stay: they count only as a whole value (``is_reference``).
    """
    if _MASKABLE(value) is None:
        return value
    masked = _REFERENCE.sub(lambda m: " " * len(m.group()), value)
    return _ANGLE_PLACEHOLDER.sub(lambda m: " " * len(m.group()), masked)


def is_reference(value: str) -> bool:
    """True when all of ``value`` is references (an auth scheme such as ``Bearer`` aside).

    A reference is how a secret should be written, so such a value holds no
    literal. Bare ``$VAR``/``%VAR%`` count only when they are the whole value:
    glued to other characters (``Kq$vZ2$xP9``) a dollar sign is part of a password.
    """
    if _REFERENCE_MARK(value) is None:
        return False  # every reference form has one of these
    text = value.strip()
    scheme = _AUTH_SCHEME.match(text)
    if scheme is not None:
        text = text[scheme.end() :].strip()
    if not text:
        return False
    if _BARE_REFERENCE.fullmatch(text):
        return _reads_as_variable(text.strip("$%"))
    prefixed = _PREFIXED.fullmatch(text)
    if prefixed is not None:
        return _locator(prefixed["prefix"], prefixed["locator"])
    if _OP_WHOLE.fullmatch(text):
        return _locator("op", text[len("op://") :])
    if text.startswith("mcpcred:") and _own_reference(text):
        return True
    return not _REFERENCE.sub("", text).strip()


def _locator(prefix: str, locator: str) -> bool:
    """Whether ``locator`` names where a secret is, rather than being one.

    ``env:`` takes a variable's name; the others a path of names. A part that
    is a generated string (``scrambled``) makes the whole a literal: a prefix
    must not hide a password (``vault:Kq9vZ2xP9mN4rT7wYb3L``).
    """
    if prefix == "env":
        return _is_identifier(locator) and _reads_as_variable(locator)
    parts = [p for p in _LOCATOR_PART.split(locator) if p]
    return bool(parts) and not any(scrambled(p) for p in parts)


def _is_identifier(text: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text))


def _own_reference(text: str) -> bool:
    """A whole mcpcred reference, the password-manager kinds (free-text locators) included."""
    from mcpcred import references

    return bool(references.find(text)) and references.malformed(text) is None


def _reads_as_variable(name: str) -> bool:
    """Whether the NAME of a whole-value ``$NAME`` / ``%NAME%`` reads as a variable's name.

    ``$PGPASSWORD``, ``$db_password`` and ``$GithubToken`` are written to be expanded;
    ``$Kq9vZ2xP9mN4`` and ``$ecretPass1`` mix upper and lower case with digits, as a
    generated or chosen password does, and no client that leaves ``$`` alone (Claude
    Desktop, Cursor, Zed...) would give the server anything but that text.
    """
    mixed = any(c.isupper() for c in name) and any(c.islower() for c in name)
    return not (mixed and any(c.isdigit() for c in name)) and not scrambled(name)


def is_placeholder(value: str, name: str | None = None) -> bool:
    """True for values that stand in for a secret in docs and templates."""
    text = value.strip()
    lowered = text.lower()
    if not text or lowered in _PLACEHOLDER_EXACT:
        return True
    if _SAME_CHAR.match(text) or _FILLER.match(text) or _ELLIPSIS.search(text):
        return True
    random_looking = _random_looking(text)
    if random_looking:
        # A random key can contain "todo" or "fake" by chance; only a word that
        # stands on its own (between separators) marks a placeholder then.
        if _PLACEHOLDER_BOUNDED(lowered) is not None:
            return True
    elif _PLACEHOLDER_SEARCH(lowered) is not None:
        return True
    if name and lowered.replace("-", "_") == name.lower().replace("-", "_"):
        return True
    return tokens.is_documentation_example(text, words=not random_looking)


def _random_looking(text: str) -> bool:
    """Long, mixed-case, with digits and high entropy: the shape of a generated key."""
    return (
        len(text) >= 16
        and _has_digit(text)
        and _has_upper(text)
        and _has_lower(text)
        and entropy(text) >= 3.5
    )


_KEY_CHARS = re.compile(r"[A-Za-z0-9_+/=-]+")


def scrambled(text: str) -> bool:
    """A generated key rather than a name: long, random, and switching character class often.

    ``MyProject2024Final`` is mixed-case with digits too, but reads as words; a
    random base62 string changes between upper, lower and digit at about 62% of
    its positions (words: at their edges only). A single-case key (base36, such
    as ``napi_...``) changes between letter and digit at about 40%. Hex is left
    out: it is what ids and digests are made of.
    """
    if len(text) < _SCRAMBLED_MIN or not _KEY_CHARS.fullmatch(text) or entropy(text) < 4.0:
        return False
    # From here ``text`` is ASCII (``_KEY_CHARS``): the classes are the ASCII ranges.
    if _ASCII_DIGIT(text) is None or _ASCII_ALPHA(text) is None:
        return False
    if _HEX.match(text.replace("-", "")):
        return False
    if _random_looking(text):
        kinds = text.translate(_CASE_KINDS)  # upper, lower, digit, other
        ratio = 0.45
    else:
        # Separators make kebab-case names (``my-project-2024-final``) look busy.
        alnum = _ASCII_NON_ALNUM.sub("", text)
        if len(text) < 24 or len(text) - len(alnum) > 2:
            return False
        text = alnum
        kinds = text.translate(_ALPHA_KINDS)  # letter, digit
        ratio = 0.25
    switches = sum(map(str.__ne__, kinds, kinds[1:]))
    return switches >= ratio * (len(text) - 1)


_ASCII_ALPHA = re.compile(r"[A-Za-z]").search
_ASCII_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")
_UPPER, _LOWER, _DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz", "0123456789"
# A key character's kind as one character: upper, lower, digit, other (``_KEY_CHARS``)...
_CASE_KINDS = str.maketrans(
    _UPPER + _LOWER + _DIGITS + "_+/=-", "0" * 26 + "1" * 26 + "2" * 10 + "3" * 5
)
# ... and letter or digit
_ALPHA_KINDS = str.maketrans(_UPPER + _LOWER + _DIGITS, "0" * 52 + "1" * 10)


_TERMS: dict[int, list[float]] = {}  # length -> the entropy term of each count, 0..length
_TERMS_MAX = 128  # longest string whose terms are kept (a few hundred KiB at most)


def entropy(text: str) -> float:
    """Shannon entropy in bits per character.

    The sum runs over the same terms in the same order as
    ``-sum(n / length * log2(n / length) for n in Counter(text).values())``, so the
    value is the same float to the last bit (callers compare it with thresholds);
    short strings take their terms from a table and count characters in C.
    """
    if not text:
        return 0.0
    length = len(text)
    counts = map(text.count, dict.fromkeys(text))  # Counter's order: first occurrence
    if length > _TERMS_MAX:
        return -sum(n / length * math.log2(n / length) for n in counts)
    terms = _TERMS.get(length)
    if terms is None:
        terms = [0.0] + [n / length * math.log2(n / length) for n in range(1, length + 1)]
        _TERMS[length] = terms
    return -sum(map(terms.__getitem__, counts))


def looks_secret(value: str, strength: int, name: str | None = None) -> bool:
    """Judge a value found under a credential-like name by its shape alone."""
    text = value.strip()
    if not text or strength == 0 or _WHITESPACE(text) is not None:
        return False
    if is_placeholder(text, name):
        return False
    if strength == PASSWORD:
        return len(text) >= 4 and not _PATH_LIKE.match(text) and not _is_variable_name(text)
    if len(text) < 8:
        return False
    if (
        _is_variable_name(text)
        or _NUMBER.match(text)
        or (_PATH_LIKE.match(text) and not (_random_looking(text) and text.count("/") <= 2))
        or _FILE_EXT.search(text)
        or _EMAIL.match(text)
        or _DOMAIN.match(text)
        or _VERSION.match(text)
        or _DIGEST.match(text)
        or "://" in text
    ):
        return False
    if _UUID.match(text):
        return strength >= STRONG
    if not (_has_digit(text) or (_has_upper(text) and _has_lower(text))):
        return False  # words and kebab-case identifiers
    if _HEX.match(text):
        return len(text) >= 16 and strength >= STRONG
    minimum = 3.0 if strength >= STRONG else 3.5
    return len(text) >= (10 if strength >= STRONG else 16) and entropy(text) >= minimum


def redact(secret: str) -> str:
    """How a secret may be shown: a short prefix and its length, never more."""
    keep = min(4, len(secret) // 4)
    return f"{secret[:keep]}\u2026({len(secret)} chars)"


def _generic(kind: str, strength: int) -> tuple[str, str, Severity]:
    severity = Severity.HIGH if strength >= STRONG else Severity.MEDIUM
    titles = {
        "generic-secret": "Credential under a secret-like name",
        "password": "Password",
        "url-password": "Password in a URL",
        "url-query-secret": "Credential in a URL query parameter",
        "url-path-secret": "Credential in a URL path",
        "authorization-header": "Credential in an HTTP header",
    }
    return kind, titles[kind], severity


class Detector:
    """Finds credentials in strings; stateless, so one instance serves a whole scan."""

    def scan(self, value: str, name: str | None = None, role: str = "field") -> list[Hit]:
        """Hits in ``value`` found under ``name`` (env var, header, flag, key...).

        ``role`` is one of ``env``, ``header``, ``arg``, ``url``, ``command``, ``field``.
        """
        return self._scan(value, name, role, 0)

    def _tokens(self, value: str, name: str | None, role: str) -> list[Hit]:
        """Known token formats anywhere in ``value`` (references included)."""
        return [
            Hit(
                m.format.kind,
                m.format.title,
                Severity.HIGH if m.format.severity == "high" else Severity.MEDIUM,
                m.start,
                m.end,
                value[m.start : m.end],
                _describe(name, role),
            )
            for m in tokens.find_tokens(value)
        ]

    def _scan(self, value: str, name: str | None, role: str, depth: int) -> list[Hit]:
        if len(value) < 3:
            return []
        masked = mask_references(value)
        if _says_nothing(value, masked, name, role):
            return []
        if is_reference(value) or not masked.strip():
            # a reference names a secret, but a known token written into one is still a token
            return self._tokens(value, name, role)
        hits = self._tokens(value, name, role)
        stripped = masked.strip()
        if depth == 0 and stripped[:1] in "{[" and stripped[-1:] in "}]":
            hits.extend(self._embedded_json(value, hits))
        if "://" in masked:
            # Every URL, nested ones too (``?next=postgres://u:p@h``); overlaps go.
            for scheme in _SCHEME.finditer(masked):
                parts = parse_url(value, scheme.start())
                hits.extend(h for h in self._url(value, parts) if not _overlaps(h, hits))
        if hits:
            return hits
        strength = name_strength(name)
        if role == "header" and strength == 0 and name and name.lower() in _KEY_HEADERS:
            strength = STRONG
        if strength == 0 and _AUTH_SCHEME.match(masked.strip()):
            strength = STRONG  # "Bearer <random>" is a credential whatever it is called
        if strength == 0:
            if role == "positional" and not _names_non_secret(name):
                return self._positional(value, masked)
            return []
        start = len(masked) - len(masked.lstrip())
        candidate = masked.strip()
        auth = _AUTH_SCHEME.match(candidate)
        if auth is not None:
            start += auth.end()
            candidate = candidate[auth.end() :].strip()
        end = start + len(candidate)
        if strength == PASSWORD and is_weak_default(candidate):
            return [_weak_hit(start, end, value[start:end], _describe(name, role), None)]
        if not looks_secret(candidate, strength, name):
            return []
        if role == "header" or auth is not None:
            kind = "authorization-header"
        elif strength == PASSWORD:
            kind = "password"
        else:
            kind = "generic-secret"
        kind, title, severity = _generic(kind, strength)
        return [Hit(kind, title, severity, start, end, value[start:end], _describe(name, role))]

    def _positional(self, value: str, masked: str) -> list[Hit]:
        """A bare argument with no name: a credential only if it is a scrambled key.

        Servers such as ``SERVER start KEY`` take their key by position; without a
        name, only a value that cannot be a word, identifier or path counts.
        """
        candidate = masked.strip()
        if not scrambled(candidate) or not looks_secret(candidate, STRONG):
            return []
        start = len(masked) - len(masked.lstrip())
        end = start + len(candidate)
        context = _describe(None, "positional")  # the flag before it, if any, is not its name
        secret = value[start:end]
        return [
            Hit(
                "generic-secret",
                "Credential in a bare argument",
                Severity.MEDIUM,
                start,
                end,
                secret,
                context,
            )
        ]

    def _embedded_json(self, value: str, existing: list[Hit]) -> list[Hit]:
        """Credentials in a JSON document passed as one string (``--config '{...}'``).

        Every member counts, a repeated key's hidden one too (the string is in the file
        whatever its reader keeps). Each leaf is located as a whole JSON string token,
        after the previous leaf of the same text: a plain text search would find the
        value inside an earlier, longer one (``"user": "Kq9x..."``), and wrap would then
        replace that instead and leave the credential in the file.
        """
        try:
            data = json.loads(value, object_pairs_hook=_Pairs)
        except (ValueError, RecursionError):
            return []
        out: list[Hit] = []
        cursor: dict[str, int] = {}
        for key, leaf in _leaves(data, None):
            start, end = 0, len(value)  # not found as written: the whole string
            exact = False
            for token in dict.fromkeys((json.dumps(leaf, ensure_ascii=False), json.dumps(leaf))):
                at = value.find(token, cursor.get(token, 0))
                if at >= 0:
                    cursor[token] = at + len(token)
                    start, end = at + 1, at + len(token) - 1  # inside the quotes
                    exact = value[start:end] == leaf  # no escape sequence in it
                    break
            for hit in self._scan(leaf, key, "header" if key else "field", 1):
                # The span and the secret are the text as written: the shim puts the stored
                # value back there, so an escaped one (\" \\ \u00e9) must be stored escaped.
                where = (start + hit.start, start + hit.end) if exact else (start, end)
                shifted = Hit(
                    hit.kind,
                    hit.title,
                    hit.severity,
                    *where,
                    value[where[0] : where[1]],
                    f"JSON key {key}" if key else "JSON value",
                )
                if not _overlaps(shifted, existing + out):
                    out.append(shifted)
        return out

    def _url(self, value: str, parts: UrlParts) -> list[Hit]:
        out: list[Hit] = []
        if parts.password is not None:
            start, end = parts.password
            password = value[start:end]
            user = value[parts.user[0] : parts.user[1]] if parts.user else None
            host = value[parts.host[0] : parts.host[1]]
            if is_weak_default(password, user):
                out.append(_weak_hit(start, end, password, "URL userinfo", host))
            elif password.strip() and not is_reference(password) and not is_placeholder(password):
                kind, title, severity = _generic("url-password", PASSWORD)
                out.append(Hit(kind, title, severity, start, end, password, "URL userinfo"))
        if parts.query is not None:
            position, query_end = parts.query
            for part in value[position:query_end].split("&"):
                key, sep, raw = part.partition("=")
                value_start = position + len(key) + len(sep)
                position += len(part) + 1
                if not sep or not raw.strip() or is_reference(raw):
                    continue
                strength = name_strength(key)
                if strength == 0 and key.lower() in _SHORT_QUERY_NAMES:
                    strength = STRONG
                if strength == PASSWORD and is_weak_default(_unquote(raw)):
                    host = value[parts.host[0] : parts.host[1]]
                    end = value_start + len(raw)
                    out.append(_weak_hit(value_start, end, raw, f"URL query {key}", host))
                elif strength and looks_secret(_unquote(raw), strength, key):
                    kind, title, severity = _generic("url-query-secret", strength)
                    end = value_start + len(raw)
                    out.append(
                        Hit(
                            kind,
                            title,
                            severity,
                            value_start,
                            end,
                            value[value_start:end],
                            f"URL query {key}",
                        )
                    )
        position, path_end = parts.path
        if path_end > position:
            for segment in value[position:path_end].split("/"):
                seg_start = position
                position += len(segment) + 1
                if _random_segment(segment):
                    kind, title, _ = _generic("url-path-secret", WEAK)
                    out.append(
                        Hit(
                            kind,
                            title,
                            Severity.MEDIUM,
                            seg_start,
                            seg_start + len(segment),
                            segment,
                            "URL path",
                        )
                    )
        return out


@dataclass(frozen=True, slots=True)
class UrlParts:
    """Spans (start, end) of a URL's parts inside the string it was found in."""

    user: tuple[int, int] | None
    password: tuple[int, int] | None
    host: tuple[int, int]
    path: tuple[int, int]
    query: tuple[int, int] | None


def parse_url(text: str, start: int = 0) -> UrlParts:
    """Split the URL whose scheme starts at ``start``, the way database drivers read it.

    Userinfo ends at the last ``@`` of the authority (urllib, redis-py,
    urllib3), so ``p@ss`` stays one password. Drivers that read a password up to
    the ``@`` (libpq, SQLAlchemy's ``make_url``) also accept unencoded ``/``,
    ``?`` and ``#`` in it, where a generic URL parser would end the authority:
    when the authority holds no ``@`` but a later ``@`` is followed by a host,
    and what precedes it is ``user:password`` rather than ``host:port``, the
    password runs up to that ``@``. The URL ends at whitespace.
    """
    scheme = _SCHEME.match(text, start)
    begin = scheme.end() if scheme is not None else start
    space = _WHITESPACE(text, begin)
    segment = text[begin : space.start() if space is not None else len(text)]
    authority_end = _first(_AUTHORITY_END, segment, 0)
    at = segment.rfind("@", 0, authority_end)
    late = segment.rfind("@")
    if late > authority_end and _HOST_LIKE.match(segment, late + 1):
        colon = segment.find(":", 0, late)
        user_part = segment[:colon]
        password_head = segment[colon + 1 : authority_end]
        userinfo = colon >= 0 and not any(c in user_part for c in "/?#@")
        if at < 0:
            # user:pa/ss@host: the authority a URL parser sees ends inside the password.
            if userinfo and not _PORT.fullmatch(password_head):
                at = late
        elif userinfo:
            # user:p@ss/w@db.acme.io: the first "host" is no host, the last one is.
            near = host_name(segment[at + 1 : authority_end])
            far_end = _first(_AUTHORITY_END, segment, late + 1)
            far = host_name(segment[late + 1 : far_end])
            between = segment[at + 1 : late]
            if _bare_word(near) and not _bare_word(far) and not any(c in between for c in "?=&"):
                at = late
    user = password = None
    host_start = 0
    if at >= 0:
        colon = segment.find(":", 0, at)
        user = (begin, begin + (colon if colon >= 0 else at))
        if colon >= 0:
            password = (begin + colon + 1, begin + at)
        host_start = at + 1
    host_end = _first(_AUTHORITY_END, segment, host_start)
    path_end = _first(_PATH_END, segment, host_end)
    query = None
    if path_end < len(segment) and segment[path_end] == "?":
        query_end = segment.find("#", path_end)
        query = (begin + path_end + 1, begin + (query_end if query_end >= 0 else len(segment)))
    return UrlParts(
        user,
        password,
        (begin + host_start, begin + host_end),
        (begin + host_end, begin + path_end),
        query,
    )


_AUTHORITY_END = re.compile(r"[/?#]").search
_PATH_END = re.compile(r"[?#]").search


def _first(search: Callable[[str, int], re.Match[str] | None], text: str, start: int) -> int:
    """Where ``search`` first matches in ``text`` from ``start``, else ``len(text)``."""
    found = search(text, start)
    return found.start() if found is not None else len(text)


def _bare_word(host: str) -> bool:
    """A "host" with no dot that is not a local name: a fragment of a password."""
    return bool(host) and "." not in host and ":" not in host and not is_local_host(host)


# Passwords that ship as defaults or in tutorials: whoever guesses them gets in,
# but they are rarely a leaked secret, so they get their own, lower-graded rule.
_WEAK_DEFAULTS = frozenset(
    {
        "postgres", "postgresql", "password", "passw0rd", "p@ssw0rd", "p@ssword", "pass",
        "pass123", "password1", "password123", "mypass", "mypassword", "my-password",
        "my_password", "changeme", "change-me", "change_me", "changeit", "admin", "admin123",
        "administrator", "root", "toor", "secret", "secret123", "supersecret", "example",
        "test", "test123", "testing", "demo", "guest", "default", "user", "123456", "1234",
        "12345", "12345678", "qwerty", "letmein", "welcome", "mysql", "redis", "mongo",
        "mongodb", "neo4j", "sa", "pwd", "dbpassword", "db_password", "pgpassword",
        "minioadmin", "rabbitmq", "elastic", "clickhouse", "mariadb", "oracle", "foobar",
    }
)  # fmt: skip
_LOCAL_HOST = re.compile(
    r"^(?:localhost|[\w.-]*\.localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1|0\.0\.0\.0"
    r"|host\.docker\.internal|host\.containers\.internal)$",
    re.I,
)
_PLACEHOLDER_HOST = re.compile(
    r"^(?:(?:[\w-]+\.)*example(?:\.(?:com|org|net))?"  # example.com and its subdomains
    r"|[\w.-]+\.(?:test|invalid|example)"  # reserved documentation TLDs (RFC 2606)
    r"|your[\w.-]*|[\w.-]*[-_.]your[-_.][\w.-]*"  # your-server, yourdomain.com, api.your-org
    r"|my[-_]?(?:server|host|domain|instance|company|org|app|api|mcp)[\w-]*(?:\.[\w.-]+)?"
    r"|host|hostname|server|domain|server[-_]ip|ip[-_]address"
    r"|(?:192\.0\.2|198\.51\.100|203\.0\.113)\.\d{1,3}"  # documentation networks
    r"|<[^>]*>|\{[^}]*\}|\$\{[^}]*\}|\$[A-Za-z_]\w*|%\w+%|\[[^\]]*\]|x+(?:\.x+)*)$",
    re.I,
)


def host_name(host: str) -> str:
    """A URL's host without a port or brackets around an IPv6 literal's port."""
    text = host.strip().rsplit("@", 1)[-1]
    if text.startswith("["):
        return text[: text.find("]") + 1] if "]" in text else text
    return text.partition(":")[0] if text.count(":") <= 1 else text


def is_local_host(host: str) -> bool:
    """Loopback (or the container host): traffic that never leaves the machine."""
    return bool(_LOCAL_HOST.match(host_name(host)))


def is_placeholder_host(host: str) -> bool:
    """A documentation host (example.com, your-server, <host>, {host}, ${HOST}...)."""
    name = host_name(host)
    return not name or bool(_PLACEHOLDER_HOST.match(name))


def is_weak_default(value: str, user: str | None = None) -> bool:
    """A tutorial or vendor default password (``postgres``, ``mypass``, ``changeme``...).

    ``user`` is the account or variable name it belongs to: a password equal
    to its user name (``neo4j:neo4j``) is a default too.
    """
    text = value.strip().lower()
    if not text:
        return False
    if text in _WEAK_DEFAULTS:
        return True
    return user is not None and text == user.strip().lower() and len(text) <= 16


def _weak_hit(start: int, end: int, secret: str, context: str, host: str | None) -> Hit:
    """A weak default: low on a local or documentation host (or none), medium elsewhere."""
    remote = host is not None and not is_local_host(host) and not is_placeholder_host(host)
    severity = Severity.MEDIUM if remote else Severity.LOW
    return Hit(
        "weak-default-credential", "Weak default credential", severity, start, end, secret, context
    )


def _random_segment(segment: str) -> bool:
    if len(segment) < 24 or not re.fullmatch(r"[A-Za-z0-9_\-+=.~]+", segment):
        return False
    if _UUID.match(segment) or _HEX.match(segment) or is_placeholder(segment):
        return False
    # ASCII from here (the fullmatch above)
    return (
        _ASCII_DIGIT(segment) is not None
        and _ASCII_UPPER(segment) is not None
        and _ASCII_LOWER(segment) is not None
        and entropy(segment) >= 4.0
    )


def _unquote(text: str) -> str:
    from urllib.parse import unquote

    return unquote(text)


class _Pairs(list[tuple[str, object]]):
    """A JSON object's members in order, repeated keys included (``object_pairs_hook``)."""


def _leaves(data: object, key: str | None) -> list[tuple[str | None, str]]:
    if isinstance(data, str):
        return [(key, data)]
    if isinstance(data, _Pairs):
        return [leaf for k, v in data for leaf in _leaves(v, str(k))]
    if isinstance(data, dict):
        return [leaf for k, v in data.items() for leaf in _leaves(v, str(k))]
    if isinstance(data, list):
        return [leaf for item in data for leaf in _leaves(item, key)]
    return []


def _overlaps(hit: Hit, others: list[Hit]) -> bool:
    return any(hit.start < o.end and o.start < hit.end for o in others)


def _describe(name: str | None, role: str) -> str:
    if role == "env" and name:
        return f"env {name}"
    if role == "header" and name:
        return f"header {name}"
    if role == "arg":
        return f"argument {name}" if name else "argument"
    if role == "positional":
        return f"positional argument ({name})" if name else "positional argument"
    if role == "url":
        return "URL"
    if role == "command":
        return "command"
    return f"field {name}" if name else "value"
