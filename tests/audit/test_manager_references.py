"""Issue 14 §2: references of password managers and other brokers are how secrets should be
written, so audit-config must not report them; a known token behind such a prefix still is one.

``keyring:mcpcred/exa/EXA_API_KEY`` (written by other brokers) was reported as a plaintext
secret before the fix; the test of the whole file through ``audit-config`` is first.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mcpcred.audit.secrets import Detector, is_reference
from tests.support import tokengen
from tests.support.cli import run

detector = Detector()

REFERENCES = [
    ("keyring:mcpcred/exa/EXA_API_KEY", "EXA_API_KEY"),
    ("keyring:github/token", "GITHUB_TOKEN"),
    ("keychain:github-token", "GITHUB_TOKEN"),
    ("vault:secret/data/app#api_key", "API_KEY"),
    ("vault:kv/app/db#password", "DB_PASSWORD"),
    ("sops:secrets.enc.yaml#github.token", "GITHUB_TOKEN"),
    ("infisical:prod/GITHUB_TOKEN", "GITHUB_TOKEN"),
    ("doppler:backend/prd/STRIPE_SECRET_KEY", "STRIPE_SECRET_KEY"),
    ("env:GITHUB_TOKEN", "GITHUB_TOKEN"),
    ("pass:Email/github.com", "GITHUB_TOKEN"),
    ("gopass:work/github/token", "GITHUB_TOKEN"),
    ("bw:github/password", "GITHUB_TOKEN"),
    ("op://Private/GitHub Token/credential", "GITHUB_TOKEN"),
    ("${env:GITHUB_TOKEN}", "GITHUB_TOKEN"),
    # mcpcred's own, the new kinds included (a 1Password name with spaces, a JSON argv)
    ("mcpcred:pass/Email/github.com", "GITHUB_TOKEN"),
    ("mcpcred:op/Private/GitHub Token/credential", "GITHUB_TOKEN"),
    ("mcpcred:bw/github/password", "GITHUB_TOKEN"),
    ("mcpcred:vault/secret/app#api_key", "API_KEY"),
    ('mcpcred:cmd/["secret-tool", "lookup", "service", "github"]', "GITHUB_TOKEN"),
    ("Bearer {{mcpcred:op/Private/GitHub Token/credential}}", "Authorization"),
]


def test_audit_config_does_not_report_a_keyring_reference(home: Path) -> None:
    """The regression as a user meets it: the whole file through the real command."""
    config = home / "mcp.json"
    env = {"EXA_API_KEY": "keyring:mcpcred/exa/EXA_API_KEY", "B": "env:GITHUB_TOKEN"}
    config.write_text(json.dumps({"mcpServers": {"exa": {"command": "npx", "env": env}}}))
    result = run("audit-config", str(config), "--format", "json")
    assert result.code == 0, result.stdout + result.stderr
    assert "keyring:" not in result.stdout
    assert json.loads(result.stdout)["findings"] == []


@pytest.mark.parametrize(("value", "name"), REFERENCES)
def test_a_manager_reference_is_clean(value: str, name: str) -> None:
    role = "header" if name == "Authorization" else "env"
    assert detector.scan(value, name, role) == []


@pytest.mark.parametrize(
    "prefix", ["env:", "keyring:", "vault:", "pass:", "sops:", "doppler:", "op://", "mcpcred:"]
)
def test_a_real_token_behind_a_reference_prefix_is_still_a_token(prefix: str) -> None:
    """A prefix must not launder a credential: a known token shape is reported wherever it is."""
    token = tokengen.generate("github-pat", random.Random(3))
    for value in (prefix + token, f"{prefix}team/{token}"):
        hits = detector.scan(value, "GITHUB_TOKEN", "env")
        assert [value[h.start : h.end] for h in hits] == [token], value


@pytest.mark.parametrize(
    "value",
    [
        "env:Kq9vZ2xP9mN4rT7wYb3L",  # not a variable name: a generated password
        "vault:Kq9vZ2xP9mN4rT7wYb3LpQ8s",
        "keyring:Zx81QmT0vB7nRk2LpW9yHs4d",
    ],
)
def test_a_random_string_behind_a_prefix_is_not_a_reference(value: str) -> None:
    assert not is_reference(value)
    assert detector.scan(value, "API_KEY", "env"), value


def test_mcpcred_without_a_kind_is_not_a_reference() -> None:
    """``mcpcred:`` followed by a generated string names nothing: it is checked as a literal."""
    value = "mcpcred:Kq9vZ2xP9mN4rT7wYb3LpQ8s"
    assert not is_reference(value)
    assert detector.scan(value, "API_KEY", "env")
