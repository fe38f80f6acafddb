"""Shell completion: generated files are current, and real shells offer the right candidates.

bash is driven through its real completion function (``_mcpcred`` with COMP_WORDS,
COMP_CWORD, COMP_LINE and COMP_POINT, as readline sets them), fish through its own
``complete -C`` and zsh and PowerShell are checked for syntax. Every run goes through
``mcpcred __complete`` in a temp HOME with real client configs, so server, secret and
login names come from the files mcpcred really reads.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mcpcred.cli import complete, completions, shells

ROOT = Path(__file__).resolve().parent.parent
BIN = str(Path(sys.executable).parent)
SCRIPT = ROOT / "completions"


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = BIN + os.pathsep + env.get("PATH", "")
    env.update(extra)
    return env


def _split(line: str) -> list[str]:
    """Words as readline splits them (raw, quotes and backslashes kept): at unquoted blanks,
    and an unquoted '=' or ':' as a word of its own."""
    words: list[str] = []
    word = ""
    quote = ""
    chars = iter(line)
    for char in chars:
        if quote:
            word += char
            quote = "" if char == quote else quote
        elif char == "\\":
            word += char + next(chars, "")
        elif char in "'\"":
            word += char
            quote = char
        elif char.isspace() or char in "=:":
            if word:
                words.append(word)
            word = ""
            if char in "=:":
                words.append(char)
        else:
            word += char
    if word:
        words.append(word)
    return words


def bash_complete(line: str, cwd: Path | None = None) -> list[str]:
    """COMPREPLY of the real ``_mcpcred`` for the command line ``line`` (cursor at its end)."""
    words = _split(line)
    if line.endswith(" ") or not words:
        words.append("")
    literal = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
    program = (
        f"source '{SCRIPT / 'mcpcred.bash'}'; COMP_WORDS=({literal}); "
        f"COMP_CWORD={len(words) - 1}; COMP_LINE={shlex.quote(line)}; COMP_POINT={len(line)}; "
        '_mcpcred mcpcred "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"; '
        "printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    out = subprocess.run(
        ["bash", "--norc", "-c", program],
        capture_output=True,
        text=True,
        check=True,
        env=_env(),
        cwd=cwd,
        timeout=60,
    )
    return [w for w in out.stdout.splitlines() if w]


def _write(path: Path, document: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


@pytest.fixture
def configs(home: Path) -> None:
    """Claude Desktop with two servers, Claude Code with one: real files in the temp HOME."""
    _write(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        {
            "mcpServers": {
                "github": {"command": "npx", "args": ["server-github"]},
                "linear": {"command": "npx", "args": ["linear"]},
            }
        },
    )
    _write(home / ".claude.json", {"mcpServers": {"sentry": {"command": "sentry-mcp"}}})


# ---- generated files --------------------------------------------------------------------


def test_generated_files_are_current() -> None:
    for path, text in completions.generated().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.name}: run ./scripts/gen-completions"
        )


def _click_tree() -> dict[str, object]:
    import typer

    from mcpcred.cli.app import app

    def walk(command: object) -> dict[str, object]:
        subs = getattr(command, "commands", {})
        return {n: walk(c) for n, c in subs.items() if not c.hidden}

    return walk(typer.main.get_command(app))


def test_every_subcommand_at_every_level_is_offered() -> None:
    """The engine offers exactly the typer app's commands, at each level of nesting."""

    def check(path: list[str], expected: dict[str, object]) -> None:
        _, offered = complete.complete([*path, ""])
        names = [value for value, _ in offered]
        if expected:
            assert sorted(names) == sorted(expected), path
        for name, subs in expected.items():
            check([*path, name], subs)  # type: ignore[arg-type]

    tree = _click_tree()
    assert {"log", "pins", "secret", "store", "agent", "doctor"} <= set(tree)
    check([], tree)


def test_a_value_option_without_a_completion_decision_fails_generation() -> None:
    import typer

    probe = typer.Typer()

    @probe.command("probe")
    def _probe(colour: str = typer.Option("red", "--colour")) -> None:
        """A command whose --colour nobody described."""

    @probe.command("other")
    def _other() -> None:
        """Makes probe a group."""

    with pytest.raises(completions.Undecided, match="colour"):
        completions.build(typer.main.get_command(probe))


# ---- bash, through its real completion function -----------------------------------------


def test_bash_offers_subcommands_at_every_level() -> None:
    assert "audit-config" in bash_complete("mcpcred ")
    assert bash_complete("mcpcred au") == ["audit-config"]
    assert bash_complete("mcpcred pins ") == ["list", "diff", "accept", "forget"]
    assert bash_complete("mcpcred secret ") == ["set", "list", "rm", "show"]
    assert bash_complete("mcpcred log v") == ["verify"]
    assert bash_complete("mcpcred store ") == [
        "init",
        "status",
        "unlock",
        "passphrase",
        "lock",
        "migrate",
    ]
    assert bash_complete("mcpcred agent st") == ["start", "stop", "status"]
    assert bash_complete("mcpcred --debug pins a") == ["accept"]


def test_bash_offers_options_and_their_values() -> None:
    assert bash_complete("mcpcred audit-config --fo") == ["--format"]
    assert bash_complete("mcpcred audit-config --format ") == ["text", "json", "jsonl", "sarif"]
    assert bash_complete("mcpcred audit-config --format=s") == ["sarif"]
    assert bash_complete("mcpcred audit-config -f j") == ["json", "jsonl"]
    assert "--json" in bash_complete("mcpcred pins diff --")
    assert bash_complete("mcpcred store migrate --to ") == ["keychain", "file"]
    assert bash_complete("mcpcred guard cursor --on-change ") == ["warn", "block"]
    assert bash_complete("mcpcred guard cursor --preset git") == ["github-read-only"]
    assert bash_complete("mcpcred wrap cursor --transport s") == ["sse"]
    assert bash_complete("mcpcred log --event re") == ["request", "refresh", "restart"]
    assert bash_complete("mcpcred completion ") == ["install", *shells.SHELLS]
    assert bash_complete("mcpcred wrap cursor --bind ") == []  # free text: nothing made up


def test_bash_offers_client_ids_and_provider_names() -> None:
    clients = bash_complete("mcpcred wrap ")
    assert {"claude-desktop", "claude-code", "cursor", "vscode", "codex"} <= set(clients)
    assert bash_complete("mcpcred unwrap claude-d") == ["claude-desktop"]
    assert bash_complete("mcpcred doctor cu") == ["cursor"]
    assert bash_complete("mcpcred pins list --client ze") == ["zed"]
    assert bash_complete("mcpcred login git") == ["github", "gitlab"]
    assert "entra" in bash_complete("mcpcred login ")


def test_every_client_id_is_offered_where_a_client_is_named() -> None:
    """The twenty adapters, the newer ones included: completion reads the registry."""
    from mcpcred.clients import ADAPTERS

    ids = {adapter.id for adapter in ADAPTERS}
    assert len(ids) == 20
    for line in ("mcpcred wrap ", "mcpcred unwrap ", "mcpcred doctor "):
        assert ids <= set(bash_complete(line)), line
    assert bash_complete("mcpcred wrap cr") == ["crush"]
    assert sorted(bash_complete("mcpcred unwrap co")) == ["codex", "continue", "copilot-cli"]
    assert bash_complete("mcpcred pins list --client lm") == ["lm-studio"]


@pytest.mark.usefixtures("configs")
def test_bash_offers_server_names_from_the_users_configs() -> None:
    assert bash_complete("mcpcred wrap claude-desktop --server ") == ["github", "linear"]
    assert bash_complete("mcpcred wrap claude-desktop -s l") == ["linear"]
    assert bash_complete("mcpcred guard claude-code --server ") == ["sentry"]
    # no client on the line: every client's servers
    assert bash_complete("mcpcred log --server ") == ["github", "linear", "sentry"]
    assert bash_complete("mcpcred pins diff --client claude-code ") == ["sentry"]


def test_names_with_blanks_and_quotes_go_on_the_line_as_one_word(home: Path) -> None:
    _write(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        {"mcpServers": {"my server": {"command": "x"}, "it's": {"command": "y"}}},
    )
    line = "mcpcred wrap claude-desktop --server "
    assert sorted(bash_complete(line)) == ["it\\'s", "my\\ server"]
    assert bash_complete(line + "my\\ s") == ["my\\ server"]
    assert bash_complete(line + '"my') == ["my server"]  # inside quotes: as it is
    if shutil.which("fish"):
        program = f"source '{SCRIPT / 'mcpcred.fish'}'; complete -C '{line}my\\ '"
        out = subprocess.run(
            ["fish", "--no-config", "-c", program],
            capture_output=True,
            text=True,
            env=_env(),
            check=True,
            timeout=60,
        )
        assert out.stdout.split("\t")[0] == "my server"


def test_hostile_names_from_a_repository_config_cannot_run_or_draw(project: Path) -> None:
    """A cloned repository's .mcp.json names servers: a TAB must neither run nor print them."""
    _write(
        project / ".mcp.json",
        {
            "mcpServers": {
                "$(touch pwned)": {"command": "x"},
                "`touch pwned2`": {"command": "x"},
                "clear\x1b[2J": {"command": "x"},
                "two\nlines": {"command": "x"},
            }
        },
    )
    offered = bash_complete("mcpcred wrap claude-code --server ", cwd=project)
    assert sorted(offered) == ["\\$\\(touch\\ pwned\\)", "\\`touch\\ pwned2\\`"]
    assert not (project / "pwned").exists() and not (project / "pwned2").exists()


def test_bash_function_works_under_nounset_and_without_mcpcred_on_path() -> None:
    script = SCRIPT / "mcpcred.bash"
    program = (
        f"set -u; source '{script}'; COMP_WORDS=(mcpcred pins ''); COMP_CWORD=2; "
        "COMP_LINE='mcpcred pins '; COMP_POINT=13; _mcpcred; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    with_path = subprocess.run(
        ["bash", "--norc", "-c", program], capture_output=True, text=True, env=_env(), timeout=60
    )
    assert with_path.returncode == 0, with_path.stderr
    assert with_path.stdout.split() == ["list", "diff", "accept", "forget"]
    without = subprocess.run(
        ["bash", "--norc", "-c", program],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ["HOME"]},
        timeout=60,
    )
    assert without.returncode == 0, without.stderr
    assert without.stdout.strip() == ""
    assert without.stderr == ""


def test_bash_completes_file_paths_for_path_options(project: Path) -> None:
    (project / "mcp.json").write_text("{}")
    (project / "mcp-dir").mkdir()
    assert bash_complete("mcpcred wrap cursor --config mc", cwd=project) == ["mcp-dir", "mcp.json"]
    assert bash_complete("mcpcred audit-config --baseline m", cwd=project) == [
        "mcp-dir",
        "mcp.json",
    ]
    assert bash_complete("mcpcred audit-config mcp.", cwd=project) == ["mcp.json"]
    assert bash_complete("mcpcred wrap cursor --config=mcp.", cwd=project) == ["mcp.json"]


def test_bash_offers_secret_names_from_the_store_index(keychain: dict[str, str]) -> None:
    for name in ("github-pat", "gitlab-token"):
        stored = subprocess.run(
            [sys.executable, "-m", "mcpcred", "secret", "set", name, "--from-stdin"],
            input="value-that-never-shows\n",
            capture_output=True,
            text=True,
            env=_env(),
            check=False,
            timeout=60,
        )
        assert stored.returncode == 0, stored.stderr
    assert bash_complete("mcpcred secret show ") == ["github-pat", "gitlab-token"]
    assert bash_complete("mcpcred secret rm gitl") == ["gitlab-token"]
    assert "value-that-never-shows" not in " ".join(bash_complete("mcpcred secret show "))


def test_secret_names_never_touch_the_store(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A locked or absent store: names come from the index; nothing prompts or is started.

    No D-Bus, a store file that is locked, stdin closed: the engine still answers at
    once, from the index alone.
    """
    data = home / "data"
    _write(data / "secrets.json", {"secrets": {"api-key": {"created": "2026-01-01T00:00:00Z"}}})
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(data))
    monkeypatch.setenv("MCPCRED_STORE_FILE", str(home / "store.mcpcred"))
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent")
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mcpcred", "__complete", "secret", "show", ""],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=True,
    )
    assert out.stdout == "plain\napi-key\n"
    imported = out.stderr
    for module in ("keyring", "mcpcred.keychain", "typer", "rich", "secretstorage"):
        assert f" {module}\n" not in imported and f" {module}." not in imported, module


def test_login_names_come_from_the_login_index(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = home / "data"
    _write(data / "logins.json", {"secrets": {"github": {}, "github/work": {}, "gitlab": {}}})
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(data))
    assert bash_complete("mcpcred token git") == ["github", "github/work", "gitlab"]
    assert bash_complete("mcpcred logout github/") == ["github/work"]


def test_unsafe_or_broken_sources_offer_nothing(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name with a newline or escape sequence never reaches the command line; junk is quiet."""
    data = home / "data"
    monkeypatch.setenv("MCPCRED_DATA_DIR", str(data))
    _write(data / "secrets.json", {"secrets": {"ok": {}, "bad\nname": {}, "esc\x1b[2J": {}}})
    assert complete.complete(["secret", "show", ""])[1] == [("ok", "")]
    (data / "secrets.json").write_text("{not json")
    assert complete.complete(["secret", "show", ""]) == ("plain", [])
    _write(home / ".claude.json", ["not", "an", "object"])
    assert complete.complete(["wrap", "claude-code", "--server", ""]) == ("plain", [])


def test_complete_never_fails_loudly() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mcpcred", "__complete", "secret", "show", "--nope=", "x"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert out.returncode == 0
    assert out.stderr == ""


# ---- fish, zsh, PowerShell --------------------------------------------------------------


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
@pytest.mark.usefixtures("configs")
def test_fish_offers_the_same_candidates() -> None:
    def fish(line: str) -> list[str]:
        program = f"source '{SCRIPT / 'mcpcred.fish'}'; complete -C '{line}'"
        out = subprocess.run(
            ["fish", "--no-config", "-c", program],
            capture_output=True,
            text=True,
            env=_env(),
            check=True,
            timeout=60,
        )
        return [row.split("\t")[0] for row in out.stdout.splitlines()]

    assert sorted(fish("mcpcred pins ")) == ["accept", "diff", "forget", "list"]
    assert fish("mcpcred secret r") == ["rm"]
    assert fish("mcpcred wrap claude-desktop --server ") == ["github", "linear"]
    assert fish("mcpcred audit-config --format ") == ["json", "jsonl", "sarif", "text"]
    described = subprocess.run(
        [
            "fish",
            "--no-config",
            "-c",
            f"source '{SCRIPT / 'mcpcred.fish'}'; complete -C 'mcpcred st'",
        ],
        capture_output=True,
        text=True,
        env=_env(),
        check=True,
        timeout=60,
    ).stdout
    assert "status\tShow every server" in described


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|[\x07\x08\r]")


def zsh_screen(line: str, expect: str, cwd: Path) -> str:
    """What an interactive zsh (on a pty, compinit, our script) shows after ``line`` + TAB.

    Reads until ``expect`` appears (or 20 s pass), so a passing run is quick; returns the
    output with terminal escapes removed.
    """
    setup = f"PS1='%% '; autoload -Uz compinit; compinit -u -D; source '{SCRIPT / '_mcpcred'}'"
    return _screen(["zsh", "-f", "-i"], setup, line + "\t", expect, cwd)


def bash_screen(keys: str, expect: str, cwd: Path) -> str:
    """What an interactive bash (readline on a pty, our script) shows after typing ``keys``."""
    setup = f"PS1='$ '; bind 'set show-all-if-ambiguous on'; source '{SCRIPT / 'mcpcred.bash'}'"
    return _screen(["bash", "--norc", "--noprofile", "-i"], setup, keys, expect, cwd)


def _screen(argv: list[str], setup: str, keys: str, expect: str, cwd: Path) -> str:
    import pty
    import select
    import time

    env = _env(TERM="xterm", COLUMNS="200", LINES="50")
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the shell
        os.chdir(cwd)
        os.execve(shutil.which(argv[0]) or argv[0], argv, env)  # noqa: S606
    output = b""

    def read_until(marker: bytes) -> None:
        nonlocal output
        deadline = time.monotonic() + 20
        while marker not in output and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                try:
                    output += os.read(fd, 65536)
                except OSError:
                    return

    try:
        os.write(fd, f"{setup}; echo RE''ADY\n".encode())
        read_until(b"READY\r\n")
        output = b""
        os.write(fd, keys.encode())
        read_until(expect.encode())
        return ANSI.sub("", output.decode(errors="replace"))
    finally:
        os.write(fd, b"\x03exit\n")
        os.close(fd)
        os.waitpid(pid, 0)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
@pytest.mark.usefixtures("configs")
def test_zsh_offers_the_same_candidates(project: Path) -> None:
    listed = zsh_screen("mcpcred pins ", "forget", project)
    for name in ("accept", "diff", "forget", "list"):
        assert f"\n{name}" in listed, listed
    assert "-- Show pending tool changes" in listed  # descriptions shown
    assert "mcpcred secret show" in zsh_screen("mcpcred secret sh", "show", project)
    servers = zsh_screen("mcpcred wrap claude-desktop --server ", "linear", project)
    assert "github" in servers and "linear" in servers and "sentry" not in servers
    (project / "mcp.json").write_text("{}")
    assert "--config mcp.json" in zsh_screen("mcpcred wrap cursor --config mc", "json", project)
    assert "--config=mcp.json" in zsh_screen("mcpcred wrap cursor --config=mcp.", "json", project)


def test_bash_on_a_real_terminal(home: Path, project: Path) -> None:
    """Through readline itself: its word splitting at '=', its quoting, its listing."""
    _write(
        home / ".config" / "Claude" / "claude_desktop_config.json",
        {"mcpServers": {"my server": {"command": "x"}, "plain": {"command": "y"}}},
    )
    assert "mcpcred secret show " in bash_screen("mcpcred secret sh\t", "show ", project)
    assert "--format=sarif " in bash_screen("mcpcred audit-config --format=s\t", "sarif ", project)
    listed = bash_screen("mcpcred pins \t", "forget", project)
    assert all(name in listed for name in ("accept", "diff", "forget", "list")), listed
    line = bash_screen("mcpcred wrap claude-desktop --server my\t", "my\\ server", project)
    assert "--server my\\ server" in line, line


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_parses() -> None:
    out = subprocess.run(
        ["zsh", "-n", str(SCRIPT / "_mcpcred")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr


def test_powershell_script_is_balanced_and_registers_the_completer() -> None:
    text = shells.script("powershell")
    assert "Register-ArgumentCompleter -Native -CommandName mcpcred" in text
    for opening, closing in ("{}", "()", "[]"):
        assert text.count(opening) == text.count(closing), opening
    assert '"--current=$wordToComplete"' in text
    assert complete.main(["--current=pi"]) == 0


def test_current_word_passed_apart_is_the_one_completed(capsys: pytest.CaptureFixture[str]) -> None:
    complete.main(["--current=", "pins"])
    expected = complete.render(*complete.complete(["pins", ""]))
    assert capsys.readouterr().out == expected


# ---- printing and installing ------------------------------------------------------------


def test_a_tab_loads_only_what_its_candidates_need() -> None:
    """Every TAB starts Python: subcommands and options come from the generated tree alone,
    server names add the client adapters and parsers, never the audit or a framework."""
    program = (
        "import sys; from mcpcred._entry import main; main(sys.argv[1:]); "
        "sys.stderr.write(' '.join(sorted(sys.modules)))"
    )

    def loaded(*words: str) -> set[str]:
        out = subprocess.run(
            [sys.executable, "-c", program, "__complete", *words],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return set(out.stderr.split())

    heavy = {"typer", "click", "rich", "keyring", "httpx", "authlib", "tomlkit", "json"}
    static = loaded("pins", "")
    assert not heavy & static, heavy & static
    assert not {m for m in static if m.startswith(("mcpcred.clients", "mcpcred.audit"))}
    servers = loaded("wrap", "claude-desktop", "--server", "")
    assert "mcpcred.clients" in servers
    assert not (heavy - {"json"}) & servers
    assert not {m for m in servers if m.startswith("mcpcred.audit")}, "the audit is not needed"


def test_printing_a_script_needs_no_cli_framework() -> None:
    program = (
        "import sys; from mcpcred._entry import main; main(['completion', 'bash']); "
        "assert not {'typer', 'click', 'rich'} & set(sys.modules), sorted(sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=30
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == shells.script("bash")


def test_unknown_shell_is_a_usage_error() -> None:
    for args in (["completion", "tcsh"], ["completion", "install", "tcsh"]):
        out = subprocess.run(
            [sys.executable, "-m", "mcpcred", *args], capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 2
        assert out.stderr.startswith("error: unknown shell 'tcsh'")


def _install(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcpcred", "completion", "install", *args],
        capture_output=True,
        text=True,
        env=_env(HOME=str(home), **env),
        timeout=30,
        check=False,
    )


def test_install_bash_is_idempotent_and_a_new_shell_has_it(home: Path) -> None:
    first = _install(home, SHELL="/bin/bash")
    assert first.returncode == 0, first.stderr
    script_path = home / ".local/share/bash-completion/completions/mcpcred"
    assert f"wrote {script_path}" in first.stderr
    assert f"added 2 lines to {home / '.bashrc'}" in first.stderr
    again = _install(home, "bash")
    assert f"unchanged: {script_path}" in again.stderr
    assert "already sources it" in again.stderr
    assert (home / ".bashrc").read_text().count(shells.MARKER) == 1
    interactive = subprocess.run(
        ["bash", "-i", "-c", "complete -p mcpcred"],
        capture_output=True,
        text=True,
        env=_env(HOME=str(home)),
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
    )
    assert "complete -F _mcpcred mcpcred" in interactive.stdout, interactive.stderr


def test_install_appends_to_an_existing_rc_and_keeps_it(home: Path) -> None:
    rc = home / ".bashrc"
    rc.write_text("alias ll='ls -l'")  # no trailing newline
    real = home / "dotfiles" / "bashrc"
    real.parent.mkdir()
    rc.rename(real)
    rc.symlink_to(real)
    assert _install(home, "bash").returncode == 0
    assert rc.is_symlink()
    assert real.read_text().startswith("alias ll='ls -l'\n" + shells.MARKER + "\n")


def test_install_where_it_cannot_write_is_one_line_and_exit_3(home: Path) -> None:
    (home / ".bashrc").mkdir()  # an rc "file" that is a folder
    out = _install(home, "bash")
    assert out.returncode == 3, out.stderr
    lines = out.stderr.splitlines()
    assert lines[0].startswith("error: cannot install bash completion: ")
    assert ".bashrc" in lines[0]
    assert (
        lines[1]
        == 'hint: or add `eval "$(mcpcred completion bash)"` to your shell\'s rc file yourself'
    )
    assert "Traceback" not in out.stderr


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_install_fish_is_autoloaded(home: Path) -> None:
    done = _install(home, SHELL="/usr/bin/fish")
    assert done.returncode == 0, done.stderr
    assert (home / ".config/fish/completions/mcpcred.fish").read_text() == shells.script("fish")
    out = subprocess.run(
        ["fish", "-c", "complete -C 'mcpcred secret l'"],
        capture_output=True,
        text=True,
        env=_env(HOME=str(home)),
        timeout=60,
        check=False,
    )
    assert out.stdout.split("\t")[0] == "list", out.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_install_zsh_registers_the_function(home: Path) -> None:
    assert _install(home, "zsh").returncode == 0
    out = subprocess.run(
        ["zsh", "-i", "-c", "print -r -- $_comps[mcpcred]"],
        capture_output=True,
        text=True,
        env=_env(HOME=str(home)),
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert out.stdout.strip() == "_mcpcred", out.stderr


def test_install_without_a_known_shell_says_how(home: Path) -> None:
    out = _install(home, SHELL="/bin/tcsh")
    assert out.returncode == 2
    assert "cannot tell which shell" in out.stderr
    assert "mcpcred completion install bash|zsh|fish|powershell" in out.stderr


def test_powershell_install_targets_the_profile(home: Path) -> None:
    done = _install(home, "powershell")
    assert done.returncode == 0, done.stderr
    profile = home / ".config/powershell/Microsoft.PowerShell_profile.ps1"
    assert shells.MARKER in profile.read_text()
    assert (home / ".local/share/mcpcred/mcpcred.ps1").read_text() == shells.script("powershell")
