"""Planning bridge entries: mcp-remote command lines, edge cases, what is left and why."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from mcpcred.clients import BY_ID
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.wrap import bridge, service
from mcpcred.wrap.plan import ShimSettings
from tests.support import tokengen
from tests.support.memkeyring import MemoryKeyring

SHIM = "/opt/mcpcred"


def _plan(tmp_path: Path, client: str, servers: dict[str, Any]) -> service.FilePlan:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"mcpServers": servers}, indent=2))
    store = SecretStore(MemoryKeyring())
    (plan,) = service.plan_wrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, SecretIndex(tmp_path / "i.json")),
    )
    return plan


def _entry(plan: service.FilePlan, name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(plan.new_text)["mcpServers"][name]
    return result


@pytest.mark.parametrize(
    ("command", "args", "url_index"),
    [
        ("npx", ["-y", "mcp-remote", "https://a.example/mcp"], 2),
        ("npx", ["mcp-remote@0.1.29", "https://a.example/mcp", "9876"], 1),
        ("cmd", ["/c", "npx", "-y", "mcp-remote", "https://a.example/mcp"], 4),
        ("/usr/local/bin/mcp-remote", ["https://a.example/mcp", "--debug"], 0),
        ("bunx.cmd", ["mcp-remote", "https://a.example/mcp", "--host", "127.0.0.1"], 1),
    ],
)
def test_mcp_remote_command_lines_are_read(command: str, args: list[str], url_index: int) -> None:
    parsed = bridge.parse_mcp_remote(command, list(args))
    assert isinstance(parsed, bridge.McpRemote)
    assert parsed.url == url_index


@pytest.mark.parametrize(
    ("command", "args", "reason"),
    [
        ("npx", ["mcp-remote", "https://a/mcp", "--static-oauth-client-info", "{}"], "option"),
        ("npx", ["mcp-remote", "https://a/mcp", "--transport", "websocket"], "--transport"),
        ("npx", ["mcp-remote", "--header", "A: b", "https://a/mcp"], "URL does not come"),
        ("npx", ["mcp-remote", "ftp://a"], "not an http(s) URL"),
        ("npx", ["mcp-remote", "https://a/mcp", "--header", "nocolon"], "'Name: value'"),
        ("npx", ["mcp-remote", "https://a/mcp", None], "not a string"),
        ("npx", ["mcp-remote"], "no URL"),
    ],
)
def test_mcp_remote_options_the_bridge_lacks_are_named(
    command: str, args: list[str | None], reason: str
) -> None:
    parsed = bridge.parse_mcp_remote(command, args)
    assert isinstance(parsed, str) and reason in parsed


@pytest.mark.parametrize(
    ("command", "args"),
    [("npx", ["-y", "@modelcontextprotocol/server-github"]), ("node", ["mcp-remote.js"])],
)
def test_other_commands_are_not_mcp_remote(command: str, args: list[str | None]) -> None:
    assert bridge.parse_mcp_remote(command, args) is None


def test_a_whole_reference_inside_a_longer_header_becomes_embedded(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(1))
    servers = {
        "gh": {
            "command": "npx",
            "args": ["mcp-remote", "https://api.example.com/mcp", "--header",
                     "Authorization: Bearer ${GH}"],
            "env": {"GH": token, "NODE_OPTIONS": "--max-old-space-size=512"},
        }
    }  # fmt: skip
    plan = _plan(tmp_path, "claude-desktop", servers)
    entry = _entry(plan, "gh")
    assert token not in plan.new_text
    args = entry["args"]
    assert args[args.index("--header") + 1] == "Authorization: Bearer {{mcpcred:secret/github-pat}}"
    assert entry["env"] == {"NODE_OPTIONS": "--max-old-space-size=512"}  # unused stays


def test_mcp_remote_that_cannot_be_bridged_is_wrapped_as_a_command(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(2))
    servers = {
        "gh": {
            "command": "npx",
            "args": ["mcp-remote", "https://api.example.com/mcp", "--header",
                     "Authorization:${FROM_SHELL}", "--resource", "https://x"],
            "env": {"OTHER": token},
        },
        "var": {
            "command": "npx",
            "args": ["mcp-remote", "https://api.example.com/mcp", "--header",
                     "Authorization:${FROM_SHELL}"],
            "env": {"OTHER": token},
        },
    }  # fmt: skip
    plan = _plan(tmp_path, "claude-desktop", servers)
    notes = {s.name: " ".join(s.notes) for s in plan.servers}
    assert "--resource has no equivalent in the bridge" in notes["gh"]
    assert "takes a variable from the client's environment" in notes["var"]
    for name in ("gh", "var"):
        entry = _entry(plan, name)
        assert entry["args"][entry["args"].index("--") + 1] == "npx"  # the command, wrapped
        assert entry["env"]["OTHER"] == "mcpcred:secret/github-pat"
    assert token not in plan.new_text


def test_plain_http_to_another_host_keeps_working_and_says_so(tmp_path: Path) -> None:
    key = tokengen.random_string(random.Random(3), "abcdefghijklmnopqrstuvwxyz0123456789", 32)
    servers = {
        "lan": {"url": f"http://mcp.internal.example:8080/mcp?api_key={key}"},
        "local": {"url": f"http://127.0.0.1:8080/mcp?api_key={key}"},
    }
    plan = _plan(tmp_path, "cursor", servers)
    lan, local = _entry(plan, "lan")["args"], _entry(plan, "local")["args"]
    assert lan[-1] == "--allow-http" and "--allow-http" not in local
    notes = {s.name: " ".join(s.notes) for s in plan.servers}
    assert "travels unencrypted" in notes["lan"] and "unencrypted" not in notes["local"]


def test_a_header_that_is_not_a_string_leaves_the_entry_whole(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(4))
    servers = {"x": {"url": "https://x.example/mcp", "headers": {"A": f"Bearer {token}", "N": 3}}}
    plan = _plan(tmp_path, "windsurf", servers)
    (server,) = plan.servers
    assert server.status == "unwrappable" and not server.moves and not plan.changed
    assert "header N is not a string" in server.notes[0]


def test_login_names_follow_the_reference_pattern() -> None:
    assert bridge.login_name("My Notion!") == "my-notion"
    assert bridge.login_name("linear.app") == "linear.app"
    assert bridge.login_name("***") == "remote"
    assert len(bridge.login_name("a" * 200)) == 60
    # a built-in provider's name is its own login; a server's login gets -mcp (mcpcred login)
    assert bridge.login_name("GitHub") == "github-mcp"
    assert bridge.login_name("jira") == "jira-mcp"


@pytest.mark.parametrize(
    ("url", "needs"),
    [
        ("http://localhost:3000/mcp", False),
        ("http://127.0.0.5/mcp", False),
        ("http://[::1]:8/mcp", False),
        ("http://user:pw@example.com/mcp", True),
        ("https://example.com/mcp", False),
        ("HTTP://Example.com", True),
    ],
)
def test_allow_http_is_needed_off_loopback_only(url: str, needs: bool) -> None:
    assert bridge.needs_allow_http(url) is needs


@pytest.mark.parametrize(
    ("url", "headers", "reason"),
    [
        ("unix:///run/mcp.sock", {"Authorization": "Bearer {t}"}, "not http:// or https://"),
        ("https://x.example/mcp", {"X:Y": "Bearer {t}"}, "is not one HTTP allows"),
        ("https://x.example/mcp", {"A": "Bearer {t}", "B": "v\r\nInjected: 1"}, "line break"),
    ],
)
def test_what_the_bridge_could_not_send_as_is_stays_in_the_file(
    tmp_path: Path, url: str, headers: dict[str, str], reason: str
) -> None:
    token = tokengen.generate("github-pat", random.Random(5))
    filled = {k: v.replace("{t}", token) for k, v in headers.items()}
    plan = _plan(tmp_path, "cursor", {"x": {"url": url, "headers": filled}})
    (server,) = plan.servers
    assert server.status == "unwrappable" and not plan.changed and not server.moves
    assert reason in server.notes[0]


def test_only_an_mcp_remote_entry_without_headers_signs_in_with_oauth(tmp_path: Path) -> None:
    token = tokengen.generate("github-pat", random.Random(6))
    servers = {
        "oauth": {"command": "npx", "args": ["mcp-remote", "https://a.example/mcp"],
                  "env": {"UNUSED_TOKEN": token}},
        "keyed": {"command": "npx", "args": ["mcp-remote", "https://b.example/mcp",
                                             "--header", "X-Team: core"]},
    }  # fmt: skip
    plan = _plan(tmp_path, "claude-desktop", servers)
    oauth, keyed = _entry(plan, "oauth")["args"], _entry(plan, "keyed")["args"]
    assert "Authorization: Bearer {{mcpcred:oauth/oauth}}" in oauth
    assert [a for a in keyed if a.startswith("Authorization")] == []
    assert token not in plan.new_text


def test_unwrap_keeps_a_bridge_entry_whose_url_was_edited_since_wrap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The record holds the entry before wrap: writing it back would undo the user's edit."""
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))
    token = tokengen.generate("github-pat", random.Random(9))
    path = tmp_path / "config.json"
    remote = {"url": "https://old.example/mcp", "headers": {"Authorization": f"Bearer {token}"}}
    path.write_text(json.dumps({"mcpServers": {"x": remote}}, indent=2))
    store, index = SecretStore(MemoryKeyring()), SecretIndex(tmp_path / "i.json")
    plans = service.plan_wrap(
        BY_ID["cursor"], Host.current(), config=str(path), servers=[],
        settings=ShimSettings(SHIM + "/mcpcred", None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )  # fmt: skip
    service.execute_wrap(plans, store, index)
    edited = path.read_text().replace("https://old.example/mcp", "https://new.example/mcp")
    path.write_text(edited)
    (plan,) = service.plan_unwrap(
        BY_ID["cursor"], Host.current(), config=str(path), servers=[], restore_secrets=True,
        store=store,
    )  # fmt: skip
    (server,) = plan.servers
    assert server.status == "kept" and not plan.changed
    assert "https://old.example -> https://new.example" in server.notes[0]


# -- a pre-registered OAuth app in the entry (the client's own sign-in) -------------------

APP_SHAPES = [
    # client, container, the entry with SECRET where the client secret goes, the block key
    ("zed", "context_servers",
     {"url": "https://api.example.com/mcp/", "enabled": True,
      "oauth": {"client_id": "Iv23app", "client_secret": "SECRET"}}, "oauth"),
    ("cursor", "mcpServers",
     {"url": "https://api.example.com/mcp/",
      "auth": {"CLIENT_ID": "Iv23app", "CLIENT_SECRET": "SECRET"}}, "auth"),
    ("gemini-cli", "mcpServers",
     {"httpUrl": "https://api.example.com/mcp/",
      "oauth": {"enabled": True, "clientId": "Iv23app", "clientSecret": "SECRET"}}, "oauth"),
    # Claude Code's documented block has no secret; one a user put there moves all the same
    ("claude-code", "mcpServers",
     {"type": "http", "url": "https://api.example.com/mcp/",
      "oauth": {"clientId": "Iv23app", "clientSecret": "SECRET"}}, "oauth"),
]  # fmt: skip


def _app_plan(
    tmp_path: Path, client: str, key: str, entry: dict[str, Any], secret: str
) -> tuple[service.FilePlan, dict[str, Any] | None]:
    text = json.dumps({key: {"gh": entry}}, indent=2).replace('"SECRET"', json.dumps(secret))
    path = tmp_path / "config.json"
    path.write_text(text)
    store = SecretStore(MemoryKeyring())
    (plan,) = service.plan_wrap(
        BY_ID[client],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, SecretIndex(tmp_path / "i.json")),
    )
    servers = json.loads(plan.new_text)[key]
    return plan, servers.get("gh")


def _secret(seed: int) -> str:
    return tokengen.random_string(random.Random(seed), "abcdefghijklmnopqrstuvwxyz0123456789", 40)


@pytest.mark.parametrize(("client", "key", "entry", "block"), APP_SHAPES, ids=lambda v: str(v))
def test_an_oauth_app_secret_moves_and_the_app_is_left_for_login(
    tmp_path: Path, client: str, key: str, entry: dict[str, Any], block: str
) -> None:
    secret = _secret(7)
    plan, new = _app_plan(tmp_path, client, key, entry, secret)
    (server,) = plan.servers
    assert server.status == "wrap", server.notes
    (move,) = server.moves
    assert move.value == secret and move.where.startswith(block)
    assert secret not in plan.new_text and secret not in plan.backup_text
    assert new is not None and block not in new and new["command"] == SHIM
    args = new["args"]
    assert args[args.index("--url") + 1] == "https://api.example.com/mcp/"
    assert "Authorization: Bearer {{mcpcred:oauth/gh}}" in args
    # Gemini CLI is redirected to its fixed http://localhost:7777/oauth/callback, which an
    # app made for it is registered with: so will the login be
    redirect = (
        {"redirect_uri": "http://localhost:7777/oauth/callback"} if client == "gemini-cli" else {}
    )
    assert server.record["oauth_client"] == {
        "url": "https://api.example.com/mcp/",
        "client_id": "Iv23app",
        "secret": move.name,
        "login": "gh",
        **redirect,
    }
    # what unwrap writes back: the block, its secret a reference to the moved value
    original = server.record["original"]
    assert isinstance(original, dict) and isinstance(original["value"], dict)
    assert original["value"][block] == {
        k: f"mcpcred:secret/{move.name}" if v == "SECRET" else v for k, v in entry[block].items()
    }
    assert any("mcpcred login https://api.example.com/mcp/ --name gh" in n for n in server.notes)


@pytest.mark.parametrize(
    ("client", "key", "entry", "reason"),
    [
        ("cursor", "mcpServers",
         {"url": "https://a.example/mcp",
          "auth": {"CLIENT_ID": "app", "CLIENT_SECRET": "SECRET", "scopes": ["repo", 3]}},
         "sets scopes that are not scope names"),
        ("cursor", "mcpServers",
         {"url": "https://a.example/mcp",
          "auth": {"CLIENT_ID": "app", "CLIENT_SECRET": "SECRET", "scopes": "repo"}},
         "sets scopes that are not scope names"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET", "tokenUrl": "https://t/"}},
         "also sets tokenUrl, which mcpcred login does not take (fixed endpoints"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET", "scopes": ["a b"]}},
         "not scope names"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET", "audiences": ["api://x"]}},
         "an 'audience' parameter"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET",
                    "redirectUri": "https://app.example/oauth/callback"}},
         "sets redirectUri to a redirect mcpcred login cannot receive"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET",
                    "redirectUri": "http://localhost/oauth/callback"}},  # port 80: no
         "sets redirectUri to a redirect"),
        ("gemini-cli", "mcpServers",
         {"url": "https://a.example/sse",
          "oauth": {"clientId": "app", "clientSecret": "SECRET", "tokenParamName": "t"}},
         "Authorization header"),
        ("claude-code", "mcpServers",
         {"type": "http", "url": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET", "callbackPort": "8080"}},
         "sets callbackPort to a redirect mcpcred login cannot receive"),
        ("claude-code", "mcpServers",
         {"type": "http", "url": "https://a.example/mcp",
          "oauth": {"clientId": "app", "clientSecret": "SECRET",
                    "authServerMetadataUrl": "https://auth.example/.well-known/x"}},
         "overrides discovery"),
        ("zed", "context_servers",
         {"url": "https://a.example/mcp", "oauth": {"client_secret": "SECRET"}},
         "no client id"),
        ("zed", "context_servers",
         {"url": "https://a.example/mcp", "headers": {"Authorization": "Bearer x"},
          "oauth": {"client_id": "app", "client_secret": "SECRET"}},
         "sends an Authorization header"),
        ("gemini-cli", "mcpServers",
         {"httpUrl": "https://a.example/mcp", "authProviderType": "google_credentials",
          "oauth": {"clientId": "app", "clientSecret": "SECRET"}},
         "authProviderType"),
    ],
)  # fmt: skip
def test_an_oauth_app_the_bridge_cannot_stand_in_for_stays_and_says_why(
    tmp_path: Path, client: str, key: str, entry: dict[str, Any], reason: str
) -> None:
    secret = _secret(8)
    plan, new = _app_plan(tmp_path, client, key, entry, secret)
    (server,) = plan.servers
    assert server.status == "unwrappable"
    assert not server.moves and "oauth_client" not in server.record
    assert any(reason in n for n in server.notes), server.notes
    assert new is not None and json.dumps(new).count(secret) == 1  # left as it was


def test_a_client_secret_from_a_variable_is_not_moved(tmp_path: Path) -> None:
    entry = {
        "url": "https://a.example/mcp",
        "auth": {"CLIENT_ID": "app", "CLIENT_SECRET": "SECRET"},
    }
    plan, new = _app_plan(tmp_path, "cursor", "mcpServers", entry, "${env:GH_SECRET}")
    (server,) = plan.servers
    assert not server.moves and server.status in ("remote", "unwrappable")
    assert new is not None and new["auth"]["CLIENT_SECRET"] == "${env:GH_SECRET}"


@pytest.mark.parametrize(
    ("client", "entry", "block"),
    [
        ("cursor",
         {"url": "https://api.example.com/mcp/",
          "auth": {"CLIENT_ID": "Iv23app", "CLIENT_SECRET": "SECRET",
                   "scopes": ["repo", "read:org", "repo"]}}, "auth"),
        ("gemini-cli",
         {"httpUrl": "https://api.example.com/mcp/",
          "oauth": {"enabled": True, "clientId": "Iv23app", "clientSecret": "SECRET",
                    "scopes": ["repo", "read:org"],
                    "registrationUrl": "https://a.example/reg"}}, "oauth"),
        ("claude-code",
         {"type": "http", "url": "https://api.example.com/mcp/",
          "oauth": {"clientId": "Iv23app", "clientSecret": "SECRET",
                    "scopes": "repo  read:org"}}, "oauth"),
    ],
)  # fmt: skip
def test_an_oauth_apps_scopes_go_with_it_to_login(
    tmp_path: Path, client: str, entry: dict[str, Any], block: str
) -> None:
    """Cursor and Gemini CLI ask for the scopes the block sets instead of the server's, and
    so will ``mcpcred login``: they are kept with the app (a list, or Claude Code's string)."""
    secret = _secret(9)
    plan, new = _app_plan(tmp_path, client, "mcpServers", entry, secret)
    (server,) = plan.servers
    assert server.status == "wrap", server.notes
    assert secret not in plan.new_text
    assert new is not None and block not in new
    app = server.record["oauth_client"]
    assert isinstance(app, dict) and app["scopes"] == ["repo", "read:org"]
    assert any("with the scopes it set (repo read:org)" in n for n in server.notes)
    original = server.record["original"]
    assert isinstance(original, dict) and isinstance(original["value"], dict)
    assert original["value"][block]["scopes"] == entry[block]["scopes"]  # unwrap gives it back


def test_claude_codes_own_oauth_block_has_nothing_to_move(tmp_path: Path) -> None:
    """Claude Code's documented ``oauth`` ({clientId, callbackPort, scopes}) holds no secret:
    the entry stays as it is, remote, and Claude Code signs in itself."""
    entry = {
        "type": "http",
        "url": "https://api.example.com/mcp/",
        "oauth": {"clientId": "Iv23app", "callbackPort": 8080, "scopes": "repo"},
    }
    plan, new = _app_plan(tmp_path, "claude-code", "mcpServers", entry, "unused")
    (server,) = plan.servers
    assert server.status == "remote" and not server.moves and not plan.changed
    assert new == entry


@pytest.mark.parametrize(
    ("client", "entry", "redirect"),
    [
        ("gemini-cli",
         {"httpUrl": "https://api.example.com/mcp/",
          "oauth": {"clientId": "Iv23app", "clientSecret": "SECRET",
                    "redirectUri": "http://127.0.0.1:8123/cb/gemini"}},
         "http://127.0.0.1:8123/cb/gemini"),
        ("claude-code",
         {"type": "http", "url": "https://api.example.com/mcp/",
          "oauth": {"clientId": "Iv23app", "clientSecret": "SECRET", "callbackPort": 3118}},
         "http://localhost:3118/callback"),
        # no callbackPort: Claude Code listens on any port, and so may the login
        ("claude-code",
         {"type": "http", "url": "https://api.example.com/mcp/",
          "oauth": {"clientId": "Iv23app", "clientSecret": "SECRET"}}, None),
    ],
)  # fmt: skip
def test_the_redirect_an_app_is_registered_with_goes_with_it_to_login(
    tmp_path: Path, client: str, entry: dict[str, Any], redirect: str | None
) -> None:
    secret = _secret(10)
    plan, new = _app_plan(tmp_path, client, "mcpServers", entry, secret)
    (server,) = plan.servers
    assert server.status == "wrap", server.notes
    app = server.record["oauth_client"]
    assert isinstance(app, dict) and app.get("redirect_uri") == redirect
    assert secret not in plan.new_text
    assert new is not None and "oauth" not in new  # the block (and its redirect) went


def test_unwrap_that_cannot_delete_a_kept_app_says_so_and_does_not_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files are written before the app kept for login is deleted: a keychain that
    refuses then is a warning with the server's URL, not a failed run (and no secret)."""
    from types import SimpleNamespace

    from mcpcred.errors import SecretStoreError
    from mcpcred.wrap.plan import Change, ServerPlan

    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "data"))

    class Refusing:
        def __init__(self) -> None:
            self.deleted: list[str] = []

        def delete(self, name: str) -> None:
            self.deleted.append(name)
            if "locked" in name:
                raise SecretStoreError("the keychain is locked")

    server = ServerPlan("gh", "unwrap", changes=[Change("set", ("x",), {})])
    server.record["oauth_client"] = {"url": "https://locked.example/mcp"}
    other = ServerPlan("ok", "unwrap", changes=[Change("set", ("y",), {})])
    other.record["oauth_client"] = {"url": "https://ok.example/mcp"}
    written = [SimpleNamespace(servers=[server, other])]
    store = Refusing()
    forgotten, kept = service._forget_oauth_apps(written, store)  # type: ignore[arg-type]
    assert forgotten == ["https://ok.example/mcp"]
    assert kept == [("https://locked.example/mcp", "the keychain is locked")]
    assert store.deleted == [
        "oauth-client-for:https://locked.example/mcp",
        "oauth-client-for:https://ok.example/mcp",
    ]


def test_a_codex_headers_section_that_all_moved_goes_without_a_blank_line_left(
    tmp_path: Path,
) -> None:
    """The header goes to ``http_headers_helper``; its ``[…http_headers]`` section goes too,
    and at the end of the file it leaves no blank last line behind (unwrap writes the entry
    back as it was: a stray line break would make the file one byte off)."""
    secret = _secret(11)
    path = tmp_path / "config.toml"
    path.write_text(
        "# codex\n[mcp_servers.linear]\n"
        'url = "https://mcp.example.com/mcp"\n\n'
        "[mcp_servers.linear.http_headers]\n"
        f'Authorization = "Bearer {secret}"\n'
    )
    store = SecretStore(MemoryKeyring())
    (plan,) = service.plan_wrap(
        BY_ID["codex"],
        Host.current(),
        config=str(path),
        servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, SecretIndex(tmp_path / "i.json")),
    )
    assert secret not in plan.new_text and "http_headers]" not in plan.new_text
    assert "http_headers =" not in plan.new_text  # no empty inline table either
    assert plan.new_text.endswith('"\n') and not plan.new_text.endswith("\n\n")
    assert "http_headers_helper = " in plan.new_text
