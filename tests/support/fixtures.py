"""Client config fixtures with freshly generated credentials.

Fixture files under ``tests/fixtures/configs`` hold ``{{NAME}}`` markers instead
of credentials, so the repository itself contains no token-shaped strings; a
test renders them with valid (checksummed) fake tokens and gets back which
value went where.
"""

from __future__ import annotations

import random
import re
import shutil
import string
from pathlib import Path

from tests.support import tokengen

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "configs"

TOKEN_KINDS = {
    "GITHUB_PAT": "github-pat",
    "SENTRY_TOKEN": "sentry-user-token",
    "STRIPE_KEY": "stripe-secret-key",
    "NOTION_TOKEN": "notion-token",
    "SLACK_BOT": "slack-bot-token",
    "GITLAB_PAT": "gitlab-pat",
    "FIGMA_TOKEN": "figma-token",
    "OPENAI_KEY": "openai-api-key",
}
_MARKER = re.compile(r"\{\{([A-Z_]+)\}\}")


def value_for(name: str, rng: random.Random) -> str:
    """A realistic credential for a marker name."""
    if name in TOKEN_KINDS:
        return tokengen.generate(TOKEN_KINDS[name], rng)
    alphabet = string.ascii_letters + string.digits
    if name == "DB_PASSWORD":
        return "".join(rng.choice(alphabet) for _ in range(14))
    if name == "EXA_KEY":
        hexdigits = "0123456789abcdef"
        raw = "".join(rng.choice(hexdigits) for _ in range(32))
        return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-a{raw[17:20]}-{raw[20:]}"
    if name == "BRAVE_KEY":
        return "BSA" + "".join(rng.choice(alphabet) for _ in range(28))
    return "".join(rng.choice(alphabet) for _ in range(32))


def render(relative: str, destination: Path, seed: int = 7) -> dict[str, str]:
    """Copy one fixture to ``destination`` with its markers filled; return marker -> value."""
    rng = random.Random(seed)
    source = FIXTURES / relative
    raw = source.read_bytes()
    values: dict[str, str] = {}

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            values[name] = value_for(name, rng)
        return values[name]

    text = _MARKER.sub(fill, raw.decode("utf-8"))
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(text.encode("utf-8"))
    shutil.copymode(source, destination)
    return values
