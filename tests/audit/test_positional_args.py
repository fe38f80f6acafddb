"""Issue 12 §6: a credential passed as a bare argument is found without a known prefix.

Servers such as Neon (``start KEY``), Upstash (``run EMAIL KEY``) and Twilio
(``SID/KEY:SECRET``) take their credential by position; other servers take a
random key after their package or a short ``-k`` flag. Before the fix only a
value with a vendor prefix was reported there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcpcred.audit.scan import scan
from mcpcred.audit.secrets import scrambled
from mcpcred.host import Host
from mcpcred.models import Finding

NEON = "napi_k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7i8o9p0z8x7c6v5b4n3m2l1k0j9h8g7"
KEY = "q7Vt2LmX9sRb4KdZ1wYc8NfJ3hPg6TaE"
UPSTASH = "0b6c1e2f-93a4-4d5e-8f70-1a2b3c4d5e6f"
TWILIO = "AC5e91c07b3fd26a84e1097c3b5da4f28e/SKb3e07f91c2d84a6f5e1d0c9b8a7f6e5d:Zq8Lm2Xv7Rt4Kp9W"


def _secrets(project: Path, command: str, args: list[str]) -> list[Finding]:
    config = {"mcpServers": {"svc": {"command": command, "args": args}}}
    (project / ".mcp.json").write_text(json.dumps(config, indent=2))
    findings = scan([str(project)], Host.current()).findings
    return [f for f in findings if f.rule.startswith("secret/")]


@pytest.mark.parametrize(
    ("command", "args", "evidence_prefix"),
    [
        ("npx", ["-y", "@neondatabase/mcp-server-neon@0.6.1", "start", NEON], "napi"),
        ("mcp-server-neon", ["start", NEON], "napi"),
        ("node", ["/opt/mcp-server-neon/dist/index.js", "init", NEON], "napi"),
        ("npx", ["-y", "@upstash/mcp-server@0.1.0", "run", "ann@acme.io", UPSTASH], "0b6c"),
        ("npx", ["-y", "@twilio-alpha/mcp@0.3.0", TWILIO], "Zq8L"),
        ("npx", ["-y", "acme-mcp-server@1.2.0", KEY], "q7Vt"),
        ("npx", ["-y", "acme-mcp-server@1.2.0", "start", KEY], "q7Vt"),
        ("npx", ["-y", "acme-mcp-server@1.2.0", "start", "k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7"], "k3j4"),
        ("uvx", ["acme-mcp==1.0", "-k", KEY], "q7Vt"),
        ("docker", ["run", "-i", "--rm", "acme/mcp@sha256:" + "ab" * 32, KEY], "q7Vt"),
        ("node", ["server.js", "--verbose", KEY], "q7Vt"),
    ],
)
def test_a_bare_credential_argument_is_found(
    command: str, args: list[str], evidence_prefix: str, project: Path
) -> None:
    found = [f for f in _secrets(project, command, args) if f.rule == "secret/generic-secret"]
    assert len(found) == 1
    assert found[0].evidence is not None and found[0].evidence.startswith(evidence_prefix[:1])
    assert KEY not in found[0].message and NEON not in found[0].message


@pytest.mark.parametrize(
    ("command", "args", "rule"),
    [
        ("npx", ["-y", "@smithery/cli@1.2.0", "run", "@acme/mcp", "--key", NEON], "generic-secret"),
        ("npx", ["-y", "acme-mcp@1.0.0", f"--token={NEON}"], "generic-secret"),
        (
            "npx",
            ["-y", "acme-mcp@1.0.0", "--config", json.dumps({"apiKey": KEY})],
            "authorization-header",  # a JSON key names its value like a header
        ),
    ],
)
def test_flags_name_the_value_after_them(
    command: str, args: list[str], rule: str, project: Path
) -> None:
    assert [f.rule for f in _secrets(project, command, args)] == [f"secret/{rule}"]


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("npx", ["-y", "@cloudflare/mcp-server-cloudflare@0.2.0", "run", "0" * 8 + "a1b2c3d4" * 3]),
        ("npx", ["-y", "@twilio-alpha/mcp@0.3.0", "--workspace-id", UPSTASH]),
        ("npx", ["-y", "acme-mcp-server@1.2.0", "--project-id", KEY]),
        ("npx", ["-y", "acme-mcp-server@1.2.0", "MyProjectName2024Final"]),
        ("npx", ["-y", "acme-mcp-server@1.2.0", "run", "my-project-name-2024-final"]),
        ("npx", ["-y", "@smithery/cli@1.2.0", "run", "@upstash/context7-mcp"]),
        ("docker", ["run", "-i", "node20-alpine3-slim-build2024", "serve"]),
        ("npx", ["-y", "@modelcontextprotocol/server-filesystem@2025.8.21", "/Users/ann/Code"]),
        ("uvx", ["mcp-server-git==0.6.2", "--repository", "./repo"]),
        ("npx", ["-y", "@neondatabase/mcp-server-neon@0.6.1", "start", "${NEON_API_KEY}"]),
    ],
)
def test_bare_arguments_that_are_not_credentials(
    command: str, args: list[str], project: Path
) -> None:
    assert [f for f in _secrets(project, command, args) if f.rule == "secret/generic-secret"] == []


def test_scrambled_tells_keys_from_identifiers() -> None:
    assert scrambled(KEY)
    assert not scrambled("MyAwesomeServer2025Beta")
    assert not scrambled("ProdDatabaseReplica01West")
    assert not scrambled("0123456789abcdef0123456789abcdef")
    assert scrambled("napi_k3j4h5g6f7d8s9a0q1w2e3r4t5y6u7i8o9p0")
    assert not scrambled("my-project-name-2024-final")
    assert not scrambled("ubuntu-22.04-server-amd64")
