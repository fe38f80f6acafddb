"""The shim's own command line and the reference syntax (pure functions)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mcpcred import references
from mcpcred.errors import ShimError
from mcpcred.shim.options import parse
from mcpcred.shim.resolve import wanted


def test_options_before_the_double_dash_and_the_command_after_it() -> None:
    options = parse(
        [
            "--server",
            "gh",
            "--client=codex",
            "--dbus-address",
            "unix:path=/x",
            "--",
            "npx",
            "--server",
            "y",
        ]
    )
    assert options.server == "gh"
    assert options.client == "codex"
    assert options.dbus_address == "unix:path=/x"
    # the server's own options are never read as the shim's
    assert options.command == ["npx", "--server", "y"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--server", "x"], "needs a server command"),
        (["--server"], "needs a value"),
        (["--bogus", "--", "true"], "unknown shim option"),
        (
            [
                "--",
            ],
            "needs a server command",
        ),
    ],
)
def test_bad_shim_command_lines_are_errors(args: list[str], message: str) -> None:
    with pytest.raises(ShimError, match=message):
        parse(args)


@pytest.mark.parametrize("value", ["0", "-1", "abc", "601"])
def test_timeout_must_be_a_sane_number(value: str) -> None:
    options = parse(["--timeout", value, "--", "true"])
    with pytest.raises(ShimError):
        _ = options.timeout_seconds


def test_whole_and_embedded_references() -> None:
    assert references.find("mcpcred:secret/github-pat") == [("secret", "github-pat")]
    text = "postgres://u:{{mcpcred:secret/db.pw}}@h/{{mcpcred:secret/db.pw}}?k={{mcpcred:secret/k}}"
    assert references.find(text) == [("secret", "db.pw"), ("secret", "k")]
    values = {"db.pw": "p@ss", "k": "v"}
    assert references.substitute(text, lambda _k, n: values[n]) == "postgres://u:p@ss@h/p@ss?k=v"
    # a whole-value reference is not re-read as embedded, and plain text is untouched
    assert references.substitute("mcpcred:secret/k", lambda _k, n: values[n]) == "v"
    assert references.substitute("no refs here", lambda _k, n: "X") == "no refs here"


@pytest.mark.parametrize(
    "name", ["GitHub", "-lead", "trail-", "", "a" * 65, "white space", "x#1", "ü"]
)
def test_invalid_secret_names(name: str) -> None:
    assert not references.valid_name(name)


@pytest.mark.parametrize("name", ["a", "github-pat", "db.password", "x_1", "a" * 64])
def test_valid_secret_names(name: str) -> None:
    assert references.valid_name(name)


def test_malformed_references_stop_the_server() -> None:
    with pytest.raises(ShimError, match="malformed"):
        wanted([], {"TOKEN": "mcpcred:secret/Bad Name"})
    with pytest.raises(ShimError, match="malformed"):
        wanted(["--token={{mcpcred:secret/}}"], {})


def test_unknown_reference_kinds_stop_the_server() -> None:
    with pytest.raises(ShimError, match="cannot resolve"):
        wanted([], {"TOKEN": "mcpcred:keepass/github"})


def test_oauth_references_name_a_provider_and_an_optional_account() -> None:
    env = {"A": "mcpcred:oauth/github", "B": "Bearer {{mcpcred:oauth/gitlab/work}}"}
    assert wanted([], env) == [("oauth", "github"), ("oauth", "gitlab/work")]
    assert references.split_login("github") == ("github", "default")
    assert references.split_login("gitlab/work") == ("gitlab", "work")
    assert references.login_name("gitlab", "work") == "gitlab/work"
    assert references.login_name("github", "default") == "github"


@pytest.mark.parametrize(
    "value", ["mcpcred:secret/a/b", "x={{mcpcred:secret/team/pat}}", "mcpcred:oauth/a/b/c"]
)
def test_only_oauth_references_have_an_account_part(value: str) -> None:
    with pytest.raises(ShimError, match="malformed"):
        wanted([value], {})


def test_references_are_collected_once_in_order() -> None:
    env = {"A": "mcpcred:secret/a", "B": "x-{{mcpcred:secret/b}}-{{mcpcred:secret/a}}"}
    assert wanted(["{{mcpcred:secret/c}}"], env) == [
        ("secret", "a"),
        ("secret", "b"),
        ("secret", "c"),
    ]


def test_a_stuck_creator_of_a_keychain_item_is_a_shim_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``Keychain.ensure`` waits for the process creating the item, then names what is stuck."""
    from mcpcred.oauth.lock import held
    from mcpcred.shim.resolve import Keychain

    monkeypatch.setenv("MCPCRED_RUNTIME_DIR", str(tmp_path))
    options = parse(["--timeout", "0.2", "--", "server"])
    backend = {"PYTHON_KEYRING_BACKEND": "tests.support.memkeyring.MemoryKeyring"}
    keychain = Keychain(options, backend)
    made: list[str] = []
    stuck = pytest.raises(ShimError, match="creating the keychain item 'audit:key'")
    with held(tmp_path / "audit-key.lock", timeout=1, what="test"), stuck:
        keychain.ensure("audit:key", lambda: made.append("x") or "value")
    assert made == []
    assert keychain.ensure("audit:key", lambda: "value") == "value"


# -- the bridge entry: --url instead of a command ------------------------------------------


def test_a_bridge_entry_parses_url_headers_transport_and_allow_http() -> None:
    options = parse(
        [
            "--server", "linear", "--client", "claude-desktop",
            "--url", "https://mcp.example/mcp?key={{mcpcred:secret/k}}",
            "--header", "Authorization: Bearer {{mcpcred:oauth/linear}}",
            "--header=X-Team: a:b",
            "--transport", "sse", "--allow-http",
        ]
    )  # fmt: skip
    assert options.url == "https://mcp.example/mcp?key={{mcpcred:secret/k}}"
    assert options.headers == ["Authorization: Bearer {{mcpcred:oauth/linear}}", "X-Team: a:b"]
    assert options.transport == "sse" and options.allow_http and options.command == []
    assert parse(["--url=https://x/mcp"]).transport == "auto"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--url", "https://x/mcp", "--", "npx", "srv"], "either --url .* or a command"),
        (["--url", ""], "--url needs the remote server's URL"),
        (["--url", "https://x/mcp", "--transport", "websocket"], "--transport must be one of"),
        (["--url", "https://x/mcp", "--header", "NoColon"], "needs 'Name: value'"),
        (["--url", "https://x/mcp", "--header", "Bad Name: v"], "not a valid HTTP header name"),
        (["--url", "https://x/mcp", "--header", "X: a\r\nEvil: b"], "holds a line break"),
        (["--url", "https://x/mcp", "--header"], "--header needs a value"),
        (["--header", "X: y", "--", "true"], "need --url"),
        (["--allow-http", "--", "true"], "need --url"),
        (["--transport", "http", "--", "true"], "need --url"),
        (["--url"], "needs a value"),
        (["--url", "https://x/mcp", "--header", "A: 1", "--header", "a: 2"], "more than once"),
    ],
)
def test_bad_bridge_entries_are_one_line_errors(args: list[str], message: str) -> None:
    with pytest.raises(ShimError, match=message) as caught:
        parse(args)
    assert "\n" not in caught.value.message


def test_header_values_are_never_quoted_back_in_errors() -> None:
    with pytest.raises(ShimError) as caught:
        parse(["--url", "https://x/mcp", "--header", "X-Key: hunter2-value\nInjected: 1"])
    assert "hunter2" not in caught.value.message and "X-Key" in caught.value.message


def test_mcpcred_headers_refuses_bridge_options() -> None:
    with pytest.raises(ShimError, match="unknown option '--url'"):
        parse(["--url", "https://x/mcp"], headers=True)
    with pytest.raises(ShimError, match="--allow-http"):
        parse(["--allow-http", "--header", "A: b"], headers=True)


# The shim tells plain references apart without ``re`` (``references._plain``,
# ``valid_name``); these must agree with the patterns they stand in for.
_ALPHABET = "abcz09._-/:{}AZ \n\x00é"
_PIECES = ["mcpcred:", "secret/", "oauth/", "pass/", "bw/", "{{", "}}", "a", "gh/work", "-x"]


@given(
    st.lists(
        st.one_of(st.sampled_from(_PIECES), st.text(alphabet=_ALPHABET, max_size=6)),
        max_size=6,
    ).map("".join)
)
@settings(max_examples=2000, deadline=None)
def test_the_plain_checks_agree_with_the_patterns(value: str) -> None:
    whole = re.match(rf"^mcpcred:(?P<kind>[a-z]+)/(?P<name>{references._REF_NAME})$", value)
    plain = references._plain(value)
    if plain is not None:  # never a match the pattern would not make
        assert whole is not None and plain == (whole["kind"], whole["name"])
    elif whole is not None:  # and only those left to the patterns that need them
        assert value.endswith("\n") or value.startswith(references._EXT_MARKS)
    assert references.valid_name(value) == bool(re.fullmatch(references.NAME_PATTERN, value))


def test_a_start_with_plain_references_compiles_no_pattern() -> None:
    code = (
        "import sys\n"
        "from mcpcred import references\n"
        "from mcpcred.shim.resolve import wanted, _substituted\n"
        "env = {'A': 'mcpcred:secret/gh-pat', 'B': 'plain', 'C': 'mcpcred:oauth/gh/work'}\n"
        "refs = wanted(['srv', '--flag', 'x'], env)\n"
        "values = {'gh-pat': 'v1', 'gh/work': 'v2'}\n"
        "argv, out = _substituted(['srv', '--flag'], env, lambda kind, name: values[name])\n"
        "assert refs == [('secret', 'gh-pat'), ('oauth', 'gh/work')], refs\n"
        "assert out == {'A': 'v1', 'B': 'plain', 'C': 'v2'}, out\n"
        "print(sorted(references._COMPILED), 're' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "False"]


def test_a_name_with_a_trailing_newline_is_not_valid() -> None:
    # ``re``'s ``$`` matches before a final newline: the pattern accepted "gh\n"
    assert not references.valid_name("gh\n")
    assert references.valid_name("gh")
