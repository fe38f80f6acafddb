"""Wrap and unwrap on the shapes only the newer clients have.

opencode's one argv array and ``environment``, Cline's nested ``transport``,
Goose's ``cmd``/``envs``/``uri``, Continue's list of servers, Amp's approval of
workspace entries: each is planned through the same machinery as every other
client, so these check the places where that machinery asks the adapter.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mcpcred.clients import BY_ID
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.parsing.jsonc import parse_jsonc
from mcpcred.parsing.yaml import parse_yaml
from mcpcred.wrap import service
from mcpcred.wrap.plan import ShimSettings
from tests.support import tokengen
from tests.support.memkeyring import MemoryKeyring

SHIM = "/opt/mcpcred/bin/mcpcred"
IMAGE = "ghcr.io/github/github-mcp-server@sha256:" + "a" * 64


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def token() -> str:
    return tokengen.generate("github-pat", random.Random(16))


def _wrap(
    client: str, path: Path, store: SecretStore, index: SecretIndex, **binds: str
) -> service.Outcome:
    plans = service.plan_wrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, index),
        binds=binds or None,
    )
    return service.execute_wrap(plans, store, index)


def _unwrap(client: str, path: Path, store: SecretStore) -> None:
    plans = service.plan_unwrap(
        BY_ID[client], Host.current(), config=str(path), servers=[], restore_secrets=True,
        store=store,
    )  # fmt: skip
    service.execute_unwrap(plans)


def test_opencode_docker_env_goes_to_environment_and_back(
    tmp_path: Path, data: Path, token: str
) -> None:
    path = tmp_path / "opencode.json"
    argv = ["docker", "run", "-i", "--rm", "-e", f"GITHUB_PERSONAL_ACCESS_TOKEN={token}", IMAGE]
    path.write_text(json.dumps({"mcp": {"gh": {"type": "local", "command": argv}}}, indent=2))
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")

    _wrap("opencode", path, store, index, GH_TOKEN="mcpcred:oauth/github")

    entry = parse_jsonc(path.read_text()).root.to_python()["mcp"]["gh"]  # type: ignore[index]
    assert token not in path.read_text()
    # the shim and the old argv, with -e NAME only, in the one command array
    assert entry["command"] == [
        SHIM, "shim", "--server", "gh", "--client", "opencode", "--",
        *argv[:5], "GITHUB_PERSONAL_ACCESS_TOKEN", IMAGE,
    ]  # fmt: skip
    # the value went to opencode's own variables object, not to an 'env' it would reject
    assert entry["environment"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcred:secret/github-pat",
        "GH_TOKEN": "mcpcred:oauth/github",
    }
    assert set(entry) == {"type", "command", "environment"}

    _unwrap("opencode", path, store)
    assert path.read_bytes() == original


def test_opencode_client_secret_given_by_env_reference_is_not_moved(
    tmp_path: Path, data: Path, token: str
) -> None:
    path = tmp_path / "opencode.json"
    remote = {
        "type": "remote",
        "url": "https://mcp.example.com/mcp",
        "headers": {"Authorization": f"Bearer {token}"},
        "oauth": {"clientId": "app", "clientSecret": "{env:APP_SECRET}"},
    }
    path.write_text(json.dumps({"mcp": {"r": remote}}))
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")
    plans = service.plan_wrap(
        BY_ID["opencode"],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )
    [server] = [s for p in plans for s in p.servers]
    # opencode fills {env:APP_SECRET} in itself: nothing to move, and its own sign-in
    # (the oauth block) is no thing a bridge can carry, so the entry is left as it is
    assert server.status == "unwrappable"
    assert [m.value for m in server.moves] == []
    assert "oauth" in " ".join(server.notes), server.notes
    assert not [p for p in plans if p.changed]


def test_cline_nested_transport_gets_the_docker_env_inside_it(
    tmp_path: Path, data: Path, token: str
) -> None:
    path = tmp_path / "cline_mcp_settings.json"
    argv = ["run", "-i", "--rm", "-e", f"GITHUB_PERSONAL_ACCESS_TOKEN={token}", IMAGE]
    entry = {"transport": {"type": "stdio", "command": "docker", "args": argv}, "timeout": 60}
    path.write_text(json.dumps({"mcpServers": {"gh": entry}}, indent=2))
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")

    _wrap("cline", path, store, index)

    wrapped = parse_jsonc(path.read_text()).root.to_python()["mcpServers"]["gh"]  # type: ignore[index]
    assert set(wrapped) == {"transport", "timeout"}  # nothing added next to transport
    transport = wrapped["transport"]
    assert transport["command"] == SHIM
    assert transport["args"][-3:] == ["-e", "GITHUB_PERSONAL_ACCESS_TOKEN", IMAGE]
    assert transport["env"] == {"GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcred:secret/github-pat"}

    _unwrap("cline", path, store)
    assert path.read_bytes() == original


def test_cline_entries_get_a_connect_timeout_the_shim_can_meet(
    tmp_path: Path, data: Path, token: str
) -> None:
    """Without ``timeout`` Cline drops a server that has not connected within 3 s: wrap adds
    60 s where there is none, keeps the user's own, and unwrap takes its own away."""
    path = tmp_path / "cline_mcp_settings.json"
    env = {"GITHUB_PERSONAL_ACCESS_TOKEN": token}
    servers = {
        "bare": {"transport": {"type": "stdio", "command": "npx", "args": ["gh"], "env": env}},
        "flat": {"command": "npx", "args": ["gh"], "env": env, "disabled": False},
        "own": {"command": "npx", "args": ["gh"], "env": env, "timeout": 5},
        "remote": {"url": "https://mcp.example.com/sse", "headers": {"Authorization": token}},
    }
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")

    _wrap("cline", path, store, index)

    wrapped = parse_jsonc(path.read_text()).root.to_python()["mcpServers"]  # type: ignore[index]
    timeouts = {name: entry.get("timeout") for name, entry in wrapped.items()}  # type: ignore[union-attr]
    assert timeouts == {"bare": 60, "flat": 60, "own": 5, "remote": 60}
    assert "timeout" not in wrapped["bare"]["transport"]  # type: ignore[index]

    _unwrap("cline", path, store)
    assert path.read_bytes() == original


def test_goose_bridge_entry_uses_cmd_and_drops_uri(tmp_path: Path, data: Path, token: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "extensions:\n"
        "  tracker:\n"
        "    enabled: true\n"
        "    type: streamable_http\n"
        "    name: tracker\n"
        "    uri: https://mcp.example.com/mcp\n"
        "    headers:\n"
        f"      Authorization: Bearer {token}\n"
        "    timeout: 300\n"
    )
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")
    _wrap("goose", path, store, index)
    entry = parse_yaml(path.read_text()).root.to_python()["extensions"]["tracker"]  # type: ignore[index]
    assert entry["type"] == "stdio" and entry["cmd"] == SHIM
    assert "uri" not in entry and "headers" not in entry and "command" not in entry
    assert {"enabled", "name", "timeout"} <= set(entry)
    assert entry["args"][-2:] == ["--transport", "http"]  # streamable_http
    _unwrap("goose", path, store)
    assert path.read_bytes() == original


def test_continue_bridge_entry_keeps_its_name(tmp_path: Path, data: Path, token: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "mcpServers:\n"
        "  - name: tracker\n"
        "    type: sse\n"
        "    url: https://mcp.example.com/sse\n"
        "    requestOptions:\n"
        "      headers:\n"
        f"        Authorization: Bearer {token}\n"
        "  - name: other\n"
        "    command: uvx\n"
        "    args: [other-mcp==1.0]\n"
    )
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")
    _wrap("continue", path, store, index)
    servers = parse_yaml(path.read_text()).root.to_python()["mcpServers"]  # type: ignore[index]
    assert [s["name"] for s in servers] == ["tracker", "other"]  # type: ignore[index]
    assert servers[0]["command"] == SHIM and "requestOptions" not in servers[0]  # type: ignore[index]
    assert servers[0]["args"][-2:] == ["--transport", "sse"]  # type: ignore[index]
    _unwrap("continue", path, store)
    assert path.read_bytes() == original


def test_amp_says_a_wrapped_workspace_entry_needs_approval_again(
    tmp_path: Path, data: Path, token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "proj"
    path = project / ".amp" / "settings.json"
    path.parent.mkdir(parents=True)
    entry = {"command": "npx", "args": ["-y", "pkg@1.0.0"], "env": {"GH": token}}
    path.write_text(json.dumps({"amp.mcpServers": {"gh": entry}}))
    monkeypatch.chdir(project)
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")
    plans = service.plan_wrap(
        BY_ID["amp"],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )
    [server] = [s for p in plans for s in p.servers]
    assert server.status == "wrap"
    assert "run `amp mcp approve gh`" in " ".join(server.notes)


def test_opencode_oauth_app_with_a_literal_secret_becomes_mcpcreds_login(
    tmp_path: Path, data: Path
) -> None:
    secret = "Zq8vN3xK7mP2wR9tY5uB1cD4eF6gH0jL"
    path = tmp_path / "opencode.json"
    app = {"clientId": "app", "clientSecret": secret, "scope": "read write",
           "redirectUri": "http://127.0.0.1:19876/cb"}  # fmt: skip
    remote = {"type": "remote", "url": "https://mcp.example.com/mcp", "oauth": app}
    path.write_text(json.dumps({"mcp": {"r": remote}}, indent=2))
    original = path.read_bytes()
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")

    outcome = _wrap("opencode", path, store, index)

    entry = parse_jsonc(path.read_text()).root.to_python()["mcp"]["r"]  # type: ignore[index]
    assert secret not in path.read_text()
    assert set(entry) == {"type", "command"}  # a local entry: no oauth, url or headers left
    assert entry["type"] == "local"
    assert entry["command"][-2:] == ["--header", "Authorization: Bearer {{mcpcred:oauth/r}}"]
    [plan] = [s for p in outcome.written for s in p.servers]
    kept = plan.record["oauth_client"]
    assert isinstance(kept, dict)
    assert kept["scopes"] == ["read", "write"]  # opencode's space-separated 'scope'
    assert kept["redirect_uri"] == "http://127.0.0.1:19876/cb"
    assert store.get(str(kept["secret"])) == secret

    _unwrap("opencode", path, store)
    assert path.read_bytes() == original


def test_goose_block_scalars_and_anchors(tmp_path: Path, data: Path, token: str) -> None:
    """A token in a ``|`` block scalar, and one behind an anchor two servers share."""
    slack = tokengen.generate("slack-bot-token", random.Random(4))
    path = tmp_path / "config.yaml"
    path.write_text(
        "common: &c\n"
        f"  T: {slack}\n"
        "extensions:\n"
        "  a:\n    type: stdio\n    cmd: npx\n    envs: *c\n"
        "  b:\n    type: stdio\n    cmd: uvx\n    envs: *c\n"
        "  c:\n    type: stdio\n    cmd: node\n    envs:\n      G: |\n"
        f"        {token}\n"
        "      H: plain\n"
    )
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "index.json")
    _wrap("goose", path, store, index)
    text = path.read_text()
    assert token not in text and slack not in text
    data_now = parse_yaml(text).root.to_python()
    # the anchor's value changed once, and both servers still share it
    assert "common: &c\n  T: mcpcred:secret/slack-bot-token\n" in text
    assert data_now["extensions"]["a"]["envs"] == {"T": "mcpcred:secret/slack-bot-token"}  # type: ignore[index]
    # the block scalar kept its line break, inside the reference's string
    assert data_now["extensions"]["c"]["envs"]["G"] == "{{mcpcred:secret/github-pat}}\n"  # type: ignore[index]
    assert "\n      H: plain\n" in text
    _unwrap("goose", path, store)
    restored = parse_yaml(path.read_text()).root.to_python()
    assert restored["extensions"]["c"]["envs"]["G"] == token + "\n"  # type: ignore[index]
    assert restored["common"] == {"T": slack}
