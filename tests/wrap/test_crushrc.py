"""Crush's crushrc under audit-config, wrap and unwrap.

Crush itself does not install here (its npm package downloads the binary from
GitHub releases), so the check that a rewritten script still works is made with
real Bash: the script is sourced with ``mcp`` defined as a function that prints
its arguments, and those arguments are read with Crush's own rules for ``mcp
add`` (``internal/shellconfig``: ``--args`` appended in order, ``--env K V``,
the last ``--command`` wins). That is the object Crush would build. The
keychain is the in-memory one, as in the contract suite; the shim reading the
reference is covered by the shim's own tests.
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mcpcred.clients import BY_ID
from mcpcred.errors import ConfigError
from mcpcred.host import Host
from mcpcred.keychain.index import SecretIndex
from mcpcred.keychain.store import SecretStore
from mcpcred.parsing.shell import MCP_FLAGS
from mcpcred.wrap import service
from mcpcred.wrap.plan import ShimSettings
from tests.support import tokengen
from tests.support.cli import run
from tests.wrap.test_contract import SHIM, _store, _unwrap, _wrap

SHIM_ARGS = ["shim", "--server", "NAME", "--client", "crush"]


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "mcpcred-data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(folder))
    return folder


def _crush_servers(script: Path) -> dict[str, dict[str, object]]:
    """The servers Crush would build from ``script``, with the arguments real Bash passes."""
    servers: dict[str, dict[str, object]] = {}
    for words in _bash_calls(script):
        assert words[0] == "add", words
        server = servers.setdefault(words[1], {"type": "stdio"})
        i = 2
        while i < len(words):
            key, how = MCP_FLAGS[words[i]]
            if how == "child":
                child = server.setdefault(key, {})
                assert isinstance(child, dict)
                child[words[i + 1]] = words[i + 2]
                i += 3
                continue
            if how == "append":
                items = server.setdefault(key, [])
                assert isinstance(items, list)
                items.append(words[i + 1])
            else:
                server[key] = words[i + 1]
            i += 2
    return servers


def _bash_calls(script: Path) -> list[list[str]]:
    """The arguments of each ``mcp`` call when real Bash sources ``script``."""
    bash = shutil.which("bash")
    if bash is None:  # pragma: no cover - Debian always has it
        pytest.fail("bash is needed to run the crushrc")
    prelude = (
        'mcp() { printf "%s\\0" "$@"; printf "\\n"; }\n'
        "provider() { :; }\npermissions() { :; }\noption() { :; }\n"
        'source "$1"\n'
    )
    done = subprocess.run(
        [bash, "-c", prelude, "bash", str(script)],
        capture_output=True,
        check=True,
        timeout=30,
        env={"PATH": "/usr/bin:/bin", "HOME": str(script.parent)},
    )
    calls = [line for line in done.stdout.split(b"\n") if line]
    return [[word.decode() for word in call.split(b"\0")[:-1]] for call in calls]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)
    return path


def test_a_wrapped_crushrc_still_runs_and_starts_the_shim(tmp_path: Path, data: Path) -> None:
    token = tokengen.generate("github-pat", random.Random("crushrc"))
    script = _write(
        tmp_path / "crushrc",
        "# my servers\n"
        "mcp add github \\\n"
        "  --command npx \\\n"
        "  --args -y --args '@modelcontextprotocol/server-github@2025.4.8' \\\n"
        f'  --env GITHUB_PERSONAL_ACCESS_TOKEN "{token}" \\\n'
        '  --env LOG_DIR "$HOME/logs"  # kept as the shell\'s\n'
        "mcp add plain --command uvx --args notes-mcp\n",
    )
    original = script.read_bytes()
    before = _crush_servers(script)
    store, index = _store(), SecretIndex(tmp_path / "index.json")

    outcome = _wrap("crush", script, store, index)

    text = script.read_text(encoding="utf-8")
    assert token not in text
    assert "# my servers\n" in text and '--env LOG_DIR "$HOME/logs"  # kept as the shell\'s' in text
    subprocess.run(["bash", "-n", str(script)], check=True, timeout=30)
    after = _crush_servers(script)
    for name in ("github", "plain"):
        shim = [a.replace("NAME", name) for a in SHIM_ARGS]
        assert after[name]["command"] == SHIM
        assert after[name]["args"] == [*shim, "--", before[name]["command"], *before[name]["args"]]  # type: ignore[misc]
    assert after["github"]["env"] == {
        "GITHUB_PERSONAL_ACCESS_TOKEN": "mcpcred:secret/github-pat",
        "LOG_DIR": f"{tmp_path}/logs",  # still expanded by the shell, untouched
    }
    assert store.get("github-pat") == token
    assert outcome.stored == ["github-pat"]

    _unwrap("crush", script, store)
    assert script.read_bytes() == original


def test_a_command_built_by_the_shell_is_left_as_it_is_with_the_reason(
    tmp_path: Path, data: Path
) -> None:
    token = tokengen.generate("notion-token", random.Random("dynamic"))
    text = f'mcp add notes --command "$HOME/bin/notes" --env NOTION_TOKEN {token}\n'
    script = _write(tmp_path / "crushrc", text)
    store, index = _store(), SecretIndex(tmp_path / "index.json")

    plans = service.plan_wrap(
        BY_ID["crush"], Host.current(), config=str(script), servers=[],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, index),
    )  # fmt: skip
    plan = plans[0].servers[0]
    assert plan.status == "unwrappable" and plan.changes == [] and plan.moves == []
    # audit-config does not send the user to a wrap that would leave it
    done = run("audit-config", "--format", "json", str(script))
    fixes = {f["fix"] for f in json.loads(done.stdout)["findings"] if f.get("server") == "notes"}
    assert fixes and all("wrap leaves this server because" in fix for fix in fixes), fixes
    doctor = run("doctor", "crush", env={"CRUSH_GLOBAL_CONFIG": str(tmp_path)})
    line = next(x for x in doctor.stdout.splitlines() if "crush/notes" in x)
    assert "fix: edit it by hand: its `mcp add` in crushrc builds" in line, doctor.stdout
    outcome = _wrap("crush", script, store, index)
    assert script.read_text(encoding="utf-8") == text
    assert outcome.stored == []
    assert any('"$HOME/bin/notes"' in note and "literal words" in note for note in plan.notes)


def test_args_with_another_option_among_them_come_back_byte_for_byte(
    tmp_path: Path, data: Path
) -> None:
    token = tokengen.generate("slack-bot-token", random.Random("among"))
    script = _write(
        tmp_path / ".crushrc",
        f"mcp add slack --command npx --args -y --env SLACK_BOT_TOKEN '{token}' "
        "--args @slack/mcp@1.0.0 --timeout 30\n",
    )
    original = script.read_bytes()
    before = _crush_servers(script)
    store, index = _store(), SecretIndex(tmp_path / "index.json")

    _wrap("crush", script, store, index)
    after = _crush_servers(script)
    assert after["slack"]["args"][-3:] == ["npx", *before["slack"]["args"]]  # type: ignore[index]
    assert after["slack"]["env"] == {"SLACK_BOT_TOKEN": "mcpcred:secret/slack-bot-token"}

    _unwrap("crush", script, store)
    assert script.read_bytes() == original


def test_one_server_in_two_mcp_add_commands_is_refused(tmp_path: Path, data: Path) -> None:
    token = tokengen.generate("github-pat", random.Random("twice"))
    text = f"mcp add gh --command npx --args gh-mcp\nmcp add gh --env GITHUB_TOKEN {token}\n"
    script = _write(tmp_path / "crushrc", text)
    store: SecretStore = _store()
    with pytest.raises(ConfigError) as caught:
        _wrap("crush", script, store, SecretIndex(tmp_path / "index.json"))
    assert "`mcp add gh` appears more than once" in caught.value.message
    assert script.read_text(encoding="utf-8") == text


def test_audit_config_finds_the_scripts_exports_provider_keys_and_servers(
    home: Path, project: Path
) -> None:
    rng = random.Random("audit")
    openai = tokengen.generate("openai-api-key", rng)
    github = tokengen.generate("github-pat", rng)
    anthropic = tokengen.generate("anthropic-api-key", rng)
    lines = [
        f"provider add openai --type openai --api-key {openai}",
        f'export ANTHROPIC_API_KEY="{anthropic}"',
        f"mcp add gh --command npx --args gh-mcp@1.0.0 --env GITHUB_TOKEN {github}",
        'provider add local --api-key "$(pass show local)"',
    ]
    _write(home / ".config" / "crush" / "crushrc", "\n".join(lines) + "\n")
    done = run("audit-config", "--format", "json", env={"XDG_CONFIG_HOME": str(home / ".config")})
    assert done.code != 0, done.stderr
    for secret in (openai, github, anthropic):
        assert secret not in done.stdout + done.stderr
    findings = [f for f in json.loads(done.stdout)["findings"] if f["rule"].startswith("secret/")]
    where = sorted((f["line"], f["column"], f["rule"], f.get("server")) for f in findings)
    assert where == [
        (1, lines[0].index(openai) + 1, "secret/openai-api-key", None),
        (2, lines[1].index(anthropic) + 1, "secret/anthropic-api-key", None),
        (3, lines[2].index(github) + 1, "secret/github-pat", "gh"),
    ]
    provider = next(f for f in findings if f["line"] == 1)
    assert "API key of provider 'openai'" in provider["message"]
    assert "$(pass show NAME)" in provider["fix"]  # a way out that is not wrap


def test_clients_lists_the_user_crushrc(home: Path, project: Path) -> None:
    script = _write(home / ".config" / "crush" / "crushrc", "mcp add a --command b\n")
    done = run("clients", "--json", env={"XDG_CONFIG_HOME": str(home / ".config")})
    assert done.code == 0, done.stderr
    crush = next(c for c in json.loads(done.stdout)["clients"] if c["id"] == "crush")
    files = {f["path"]: f for f in crush["files"]}
    assert files[str(script)]["format"] == "shell" and files[str(script)]["exists"]
    assert crush["servers"]["stdio"] == 1
    assert {str(project / ".crushrc"), str(project / "crushrc")} <= set(files)


def test_a_project_crushrc_is_found_by_the_walk(home: Path, project: Path) -> None:
    token = tokengen.generate("stripe-secret-key", random.Random("walk"))
    _write(project / ".crushrc", f"mcp add pay --command npx --env STRIPE_SECRET_KEY {token}\n")
    done = run("audit-config", "--format", "json")
    report = json.loads(done.stdout)
    rules = {(f["path"], f["rule"], f.get("client")) for f in report["findings"]}
    assert (".crushrc", "secret/stripe-secret-key", "crush") in rules, rules
    assert token not in done.stdout


def test_a_token_in_an_argument_becomes_a_reference_there_and_comes_back_as_it_was(
    tmp_path: Path, data: Path
) -> None:
    """``--args --api-key=sk-...``: the word holds ``{{mcpcred:secret/...}}`` (braces Bash does
    not expand, so it stays bare), the shim puts the value back at start-up."""
    token = tokengen.generate("openai-api-key", random.Random("argument"))
    script = _write(
        tmp_path / "crushrc",
        f"mcp add ai --command uvx --args ai-mcp@1.0 --args --api-key={token} --timeout 9\n",
    )
    original = script.read_bytes()
    store, index = _store(), SecretIndex(tmp_path / "index.json")

    _wrap("crush", script, store, index)

    text = script.read_text(encoding="utf-8")
    assert token not in text
    assert " --args --api-key={{mcpcred:secret/openai-api-key}} --timeout 9\n" in text
    after = _crush_servers(script)
    assert after["ai"]["args"][-3:] == [  # type: ignore[index]
        "uvx", "ai-mcp@1.0", "--api-key={{mcpcred:secret/openai-api-key}}"
    ]  # fmt: skip

    _unwrap("crush", script, store)
    assert script.read_bytes() == original


@pytest.mark.parametrize(
    "line",
    [
        "mcp add a --command x --args {{v}}\n",  # braces Bash leaves alone
        "mcp add a --command x --args {a,b}\n",  # brace expansion: not literal
        "mcp add a --command x --args x{1..2}\n",
    ],
)
def test_brace_words_are_literal_only_where_bash_leaves_them(line: str, tmp_path: Path) -> None:
    from mcpcred.parsing.shell import parse_crushrc

    script = _write(tmp_path / "crushrc", line)
    word = parse_crushrc(line).root.get("mcp").get("a").get("args").items[0]  # type: ignore[union-attr]
    bash_args = _bash_calls(script)[0][5:]  # add a --command x --args ...
    assert word.static == (bash_args == [word.value])  # type: ignore[union-attr]
    assert word.static == (line == "mcp add a --command x --args {{v}}\n")  # type: ignore[union-attr]


def test_bind_adds_an_env_flag_and_unwrap_takes_it_away(tmp_path: Path, data: Path) -> None:
    token = tokengen.generate("github-pat", random.Random("bind"))
    script = _write(
        tmp_path / "crushrc",
        "mcp add gh \\\n"
        "  --command npx --args gh-mcp@1.0.0 \\\n"
        f"  --env GITHUB_TOKEN {token} \\\n"
        "  --timeout 30\n",
    )
    original = script.read_bytes()
    store, index = _store(), SecretIndex(tmp_path / "index.json")
    plans = service.plan_wrap(
        BY_ID["crush"], Host.current(), config=str(script), servers=["gh"],
        settings=ShimSettings(SHIM, None, None, linux=True),
        namer=service.SecretNamer(store, index), binds={"GH_LOGIN": "mcpcred:oauth/github"},
    )  # fmt: skip
    service.execute_wrap(plans, store, index)

    env = _crush_servers(script)["gh"]["env"]
    assert env == {"GITHUB_TOKEN": "mcpcred:secret/github-pat", "GH_LOGIN": "mcpcred:oauth/github"}

    _unwrap("crush", script, store)
    assert script.read_bytes() == original
