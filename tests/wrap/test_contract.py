"""The contract every client adapter meets under wrap and unwrap.

For each client's fixture (comments, unknown keys, remote servers, legacy
shapes included), and for CRLF and BOM variants of it:

- an empty edit is byte-identical;
- wrap leaves no secret value in the file or the backup, starts every stdio
  server through the shim, and keeps everything else (comments, other keys);
- a second wrap changes nothing;
- unwrap --restore-secrets gives back the original bytes; plain unwrap gives
  back the original commands and keeps references.

The keychain here is an in-memory keyring backend: these tests are about the
files. The real keychain is exercised in tests/wrap/test_wrap_real.py.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from mcpcred import references
from mcpcred.clients import BY_ID
from mcpcred.clients.base import is_wrapped
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.wrap import edit, files, service
from mcpcred.wrap.plan import ShimSettings
from tests.support.fixtures import render, value_for
from tests.support.memkeyring import MemoryKeyring

SHIM = "/opt/mcpcred/bin/mcpcred"

CLAUDE_CODE = """{
  "numStartups": 12,
  "mcpServers": {
    "sentry": {
      "type": "stdio",
      "command": "npx",
      "args": ["-y", "@sentry/mcp-server@0.20.0"],
      "env": {"SENTRY_ACCESS_TOKEN": "{{SENTRY_TOKEN}}"}
    },
    "linear": {
      "type": "http",
      "url": "https://mcp.linear.app/mcp",
      "headers": {"Authorization": "Bearer {{GENERIC_KEY}}", "X-Team": "core"}
    }
  },
  "projects": {
    "/work/app": {
      "allowedTools": [],
      "mcpServers": {
        "stripe": {"command": "npx", "args": ["-y", "@stripe/mcp@0.2.4", "--api-key={{STRIPE_KEY}}"]}
      }
    }
  },
  "tipsHistory": {"x": 1}
}
"""

CASES = [
    ("claude-desktop", "claude-desktop/claude_desktop_config.json"),
    ("claude-code", "claude-code/.claude.json"),
    ("cursor", "cursor/mcp.json"),
    ("vscode", "vscode/mcp.json"),
    ("vscode", "vscode/settings.json"),
    ("windsurf", "windsurf/mcp_config.json"),
    ("zed", "zed/settings.json"),
    ("codex", "codex/config.toml"),
    ("gemini-cli", "gemini-cli/settings.json"),
    ("opencode", "opencode/opencode.jsonc"),
    ("copilot-cli", "copilot-cli/mcp-config.json"),
    ("cline", "cline/cline_mcp_settings.json"),
    ("kiro", "kiro/mcp.json"),
    ("amp", "amp/settings.json"),
    ("crush", "crush/crush.json"),
    ("crush", "crush/crushrc"),
    ("roo-code", "roo-code/mcp_settings.json"),
    ("amazon-q", "amazon-q/mcp.json"),
    ("lm-studio", "lm-studio/mcp.json"),
    ("jetbrains", "jetbrains/mcp.json"),
    ("goose", "goose/config.yaml"),
    ("continue", "continue/config.yaml"),
]
# TOML forbids a BOM, so Codex has no BOM variant.
MATRIX = [
    (client, relative, variant)
    for client, relative in CASES
    for variant in ("as-is", "crlf", "bom")
    if not (variant == "bom" and relative.endswith(".toml"))
]


def _materialise(relative: str, variant: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    target = tmp_path / "cfg" / Path(relative).name
    target.parent.mkdir(parents=True, exist_ok=True)
    if relative.startswith("claude-code/"):
        rng = random.Random(11)
        values: dict[str, str] = {}

        def fill(match: re.Match[str]) -> str:
            values.setdefault(match.group(1), value_for(match.group(1), rng))
            return values[match.group(1)]

        target.write_text(re.sub(r"\{\{([A-Z_]+)\}\}", fill, CLAUDE_CODE), encoding="utf-8")
    else:
        values = render(relative, target)
    raw = target.read_bytes()
    if variant == "crlf":
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    elif variant == "bom" and not raw.startswith(b"\xef\xbb\xbf"):
        raw = b"\xef\xbb\xbf" + raw
    target.write_bytes(raw)
    return target, values


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def _store() -> SecretStore:
    return SecretStore(MemoryKeyring())


def _wrap(client: str, path: Path, store: SecretStore, index: SecretIndex) -> service.Outcome:
    settings = ShimSettings(SHIM, None, None, linux=True)
    plans = service.plan_wrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        settings=settings,
        namer=service.SecretNamer(store, index),
    )
    return service.execute_wrap(plans, store, index)


def _unwrap(client: str, path: Path, store: SecretStore | None) -> service.Outcome:
    plans = service.plan_unwrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        restore_secrets=store is not None,
        store=store,
    )
    return service.execute_unwrap(plans)


def _entries(client: str, path: Path):  # type: ignore[no-untyped-def]
    snapshot = files.read(str(path))
    location = service.locations(BY_ID[client], Host.current(), str(path))[0]
    return BY_ID[client].servers(snapshot.document, location)


@pytest.mark.parametrize(("client", "relative", "variant"), MATRIX)
def test_empty_edit_is_byte_identical(
    client: str, relative: str, variant: str, tmp_path: Path
) -> None:
    path, _ = _materialise(relative, variant, tmp_path)
    snapshot = files.read(str(path))
    assert edit.apply(snapshot.document, []).encode("utf-8") == path.read_bytes()


@pytest.mark.parametrize(("client", "relative", "variant"), MATRIX)
def test_wrap_then_unwrap_restores_the_original_bytes(
    client: str, relative: str, variant: str, tmp_path: Path, data: Path
) -> None:
    path, values = _materialise(relative, variant, tmp_path)
    original = path.read_bytes()
    store, index = _store(), SecretIndex(tmp_path / "index.json")

    outcome = _wrap(client, path, store, index)

    wrapped = path.read_bytes()
    text = wrapped.decode("utf-8")
    # no secret value is left in the file or in the backup
    for marker, value in values.items():
        # remote entries too: a header helper or the bridge takes every credential
        assert value not in text, f"{marker} left in {path.name}"
        for backup in outcome.backups:
            assert value not in backup.read_text(encoding="utf-8"), f"{marker} left in backup"
    for backup in outcome.backups:
        assert backup.stat().st_mode & 0o777 == 0o600
    # line endings and BOM kept
    if variant == "crlf":
        assert b"\n" not in wrapped.replace(b"\r\n", b"")
    if variant == "bom" or original.startswith(b"\xef\xbb\xbf"):
        assert wrapped.startswith(b"\xef\xbb\xbf")
    # comments survive
    for line in original.decode("utf-8-sig").splitlines():
        if line.strip().startswith(("//", "#")):
            assert line in text
    # every stdio server is wrapped
    for entry in _entries(client, path):
        if entry.transport == "stdio" and entry.command is not None:
            assert is_wrapped(entry), entry.name
    # a second wrap changes nothing
    again = _wrap(client, path, store, index)
    assert again.written == []
    assert path.read_bytes() == wrapped

    _unwrap(client, path, store)

    # every format, TOML included: remote entries come back from the record's exact text
    assert path.read_bytes() == original


@pytest.mark.parametrize(("client", "relative"), CASES)
def test_unwrap_without_values_never_starts_a_server_with_references(
    client: str, relative: str, tmp_path: Path, data: Path
) -> None:
    """Servers without references go back to their command; the others stay wrapped."""
    path, _ = _materialise(relative, "as-is", tmp_path)
    before = {e.name: (e.command_text(), e.transport) for e in _entries(client, path)}
    store, index = _store(), SecretIndex(tmp_path / "index.json")
    outcome = _wrap(client, path, store, index)
    wrapped = path.read_text(encoding="utf-8-sig")
    # values also used by a server that cannot be wrapped stay there, by design
    moved = {m.value for p in outcome.written for m in p.moves if m.value not in wrapped}
    with_refs = {s.name for p in outcome.written for s in p.servers if s.moves}

    plans = service.plan_unwrap(
        BY_ID[client], Host.current(), config=str(path), servers=[], restore_secrets=False,
        store=None,
    )  # fmt: skip
    service.execute_unwrap(plans)

    text = path.read_text(encoding="utf-8-sig")
    for value in moved:
        assert value not in text
    helper = BY_ID[client].header_helper
    for entry in _entries(client, path):
        mentions = references.find_all(json.dumps(entry.node.to_python()))
        resolved = is_wrapped(entry) or bool(helper and helper in entry.node)
        assert resolved or not mentions, entry.name  # never a literal reference
        if entry.name in with_refs:
            assert resolved, entry.name
        else:
            assert (entry.command_text(), entry.transport) == before[entry.name]
    kept = {s.name for p in plans for s in p.servers if s.status == "kept"}
    assert kept == with_refs


def test_a_secret_used_twice_is_stored_once(tmp_path: Path, data: Path) -> None:
    token = render("claude-desktop/claude_desktop_config.json", tmp_path / "x.json")["GITHUB_PAT"]
    config = tmp_path / "claude_desktop_config.json"
    config.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "a": {"command": "npx", "args": ["a"], "env": {"GITHUB_TOKEN": token}},
                    "b": {"command": "npx", "args": ["b"], "env": {"GH_TOKEN": token}},
                }
            }
        ),
        encoding="utf-8",
    )
    store, index = _store(), SecretIndex(tmp_path / "index.json")
    outcome = _wrap("claude-desktop", config, store, index)
    assert outcome.stored == ["github-pat"]
    entries = {e.name: e for e in _entries("claude-desktop", config)}
    for name in ("a", "b"):
        env = {k.name: v.to_python() for k, v in entries[name].env}
        assert list(env.values()) == ["mcpcred:secret/github-pat"]
    # a second client's config with the same token reuses the stored entry
    other = tmp_path / "mcp.json"
    other.write_text(json.dumps({"mcpServers": {"c": {"command": "x", "env": {"T": token}}}}))
    second = _wrap("cursor", other, store, index)
    assert second.stored == []
    assert second.reused == ["github-pat"]
