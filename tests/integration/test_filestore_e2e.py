"""The encrypted file store end to end: the real CLI, the real shim, a real server process.

Covers the machines with no keychain (a container-like run: no D-Bus, an empty
``XDG_RUNTIME_DIR``, ``MCPCRED_PASSPHRASE`` set), the opt-in on a machine that has
one (``store init --file``), migration both ways with the real gnome-keyring, and
the failures a user meets (wrong passphrase, cut file, newer format) as one line
and exit code 5, with the passphrase and values nowhere in argv, output or files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpcred.keychain import FILE_STORE
from tests.support import keychain as real_keychain
from tests.support.headless import REPORT, converse, headless, run_cli

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
TOKEN = "ghp_Zq8rT2vLx9Wq8rT2vLx9KpZq8rT2vLx9Wq8r"
PASSPHRASE = "tr0ub4dor & three"
NAME = "echo-github-personal-access-token"


def _config(home: Path) -> Path:
    path = home / ".config" / "Claude" / "claude_desktop_config.json"
    path.parent.mkdir(parents=True)
    server = {"command": sys.executable, "args": ["-c", REPORT]}
    server["env"] = {"GITHUB_PERSONAL_ACCESS_TOKEN": TOKEN}  # type: ignore[assignment]
    path.write_text(json.dumps({"mcpServers": {"echo": server}}, indent=2) + "\n")
    return path


def _start(config: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start the server as Claude Desktop would: the config's command, args and env."""
    entry = json.loads(config.read_text())["mcpServers"]["echo"]
    return subprocess.run(
        [entry["command"], *entry["args"]],
        env={**env, **entry.get("env", {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _store_file(home: Path) -> Path:
    return home / ".local" / "share" / "mcpcred" / "store.enc"


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def test_container_wrap_and_shim_work_end_to_end_with_a_passphrase_variable(home: Path) -> None:
    config = _config(home)
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    wrapped = run_cli("wrap", "claude-desktop", "--yes", env=env)
    assert wrapped.returncode == 0, wrapped.stderr
    entry = json.loads(config.read_text())["mcpServers"]["echo"]
    assert entry["args"][entry["args"].index("--backend") + 1] == FILE_STORE
    assert TOKEN not in config.read_text()
    store = _store_file(home)
    assert store.stat().st_mode & 0o777 == 0o600
    assert TOKEN.encode() not in store.read_bytes()
    assert PASSPHRASE.encode() not in store.read_bytes()

    before = _snapshot(home)
    started = _start(config, env)
    assert started.returncode == 0, started.stderr
    assert _snapshot(home) == before  # a server start writes nothing (a read-only home is fine)
    seen = json.loads(started.stdout)
    assert seen["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == TOKEN
    assert "MCPCRED_PASSPHRASE" not in seen["env"]  # the server never gets the passphrase
    assert PASSPHRASE not in " ".join(seen["argv"])

    status = run_cli("status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    document = json.loads(status.stdout)
    assert document["store"]["store"] == "file"
    (server,) = document["servers"]
    assert server["credentials"][0]["state"] == "ok"

    # The same start without the passphrase fails fast with one line naming the fixes.
    locked = _start(config, headless(home))
    assert locked.returncode != 0
    assert "is locked" in locked.stderr and "MCPCRED_PASSPHRASE" in locked.stderr
    assert TOKEN not in locked.stdout + locked.stderr


def test_the_shim_reads_the_file_store_without_keyring_or_subprocesses(home: Path) -> None:
    from mcpcred.keychain.filestore import SERVICE, FileStore

    FileStore(str(_store_file(home)), {"MCPCRED_PASSPHRASE": PASSPHRASE}).set(SERVICE, "a", "1")
    probe = (
        "import json, subprocess, sys\n"
        "from mcpcred.shim.options import parse\n"
        "from mcpcred.shim.resolve import resolve\n"
        "import os\n"
        f"options = parse(['--backend', {FILE_STORE!r}, '--', 'x'])\n"
        "found = resolve([('secret', 'a')], options, os.environ)\n"
        "print(json.dumps({'value': found.values['a'], 'modules': sorted(sys.modules)}))\n"
    )
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["value"] == "1"
    banned = ("keyring", "secretstorage", "jeepney", "typer", "rich", "httpx", "platformdirs")
    assert not [m for m in result["modules"] if m.split(".")[0] in banned]


def test_store_init_unlock_status_and_the_failures_through_the_cli(home: Path) -> None:
    secret_file = home / "passphrase"
    secret_file.write_text(PASSPHRASE + "\n")
    secret_file.chmod(0o600)
    env = headless(home, MCPCRED_PASSPHRASE_FILE=str(secret_file))
    none = run_cli("store", "status", env=headless(home))
    assert "store: none" in none.stdout and "mcpcred store init --file" in none.stdout

    created = run_cli("store", "init", "--file", env=env)
    assert created.returncode == 0, created.stderr
    again = run_cli("store", "init", "--file", env=env)
    assert again.returncode == 5 and "already exists" in again.stderr
    stored = run_cli("secret", "set", "api", "--from-stdin", env=env, stdin=TOKEN + "\n")
    assert stored.returncode == 0, stored.stderr
    status = run_cli("store", "status", env=headless(home))  # status needs no passphrase
    assert status.returncode == 0, status.stderr
    assert "encrypted file store" in status.stdout and "secrets: 1" in status.stdout
    assert "the store file" in status.stdout and "exists" in status.stdout

    wrong = run_cli("secret", "rm", "api", env=headless(home, MCPCRED_PASSPHRASE="not it"))
    assert wrong.returncode == 5
    assert wrong.stderr.startswith("error: the passphrase from MCPCRED_PASSPHRASE does not open")
    assert "not it" not in wrong.stderr
    locked = run_cli("store", "unlock", env=headless(home))  # no terminal, no variable
    assert locked.returncode == 2 and "no terminal" in locked.stderr

    store = _store_file(home)
    good = store.read_bytes()
    store.write_bytes(good[: len(good) // 2])
    cut = run_cli("secret", "set", "other", "--from-stdin", env=env, stdin="v")
    assert cut.returncode == 5 and "cut short" in cut.stderr
    assert len(store.read_bytes()) == len(good) // 2  # nothing overwritten
    store.write_bytes(good.replace(b"mcpcred-store 2 ", b"mcpcred-store 9 ", 1))
    newer = run_cli("secret", "rm", "api", env=env)
    assert newer.returncode == 5 and "format version 9" in newer.stderr
    for result in (wrong, cut, newer):
        assert TOKEN not in result.stdout + result.stderr
        assert PASSPHRASE not in result.stdout + result.stderr


def test_migrate_to_the_keychain_and_back_verifies_and_moves_everything(
    keychain: dict[str, str], home: Path
) -> None:
    env = {**os.environ, "MCPCRED_PASSPHRASE": PASSPHRASE}
    long = "L" * 2600  # stored in parts
    assert run_cli("store", "init", "--file", env=env).returncode == 0
    for name, value in (("short", TOKEN), ("long", long)):
        done = run_cli("secret", "set", name, "--from-stdin", env=env, stdin=value)
        assert done.returncode == 0, done.stderr
        assert "FileKeyring" in done.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "short") is None

    back = run_cli("store", "migrate", "--to", "keychain", env=env)
    assert back.returncode == 0, back.stderr
    assert not _store_file(home).exists()
    assert real_keychain.lookup(keychain, "mcpcred", "short") == TOKEN
    shown = run_cli("store", "status", "--json", env=env)
    assert json.loads(shown.stdout)["store"] == "keychain"

    there = run_cli("store", "migrate", "--to", "file", env=env)
    assert there.returncode == 0, there.stderr
    assert real_keychain.lookup(keychain, "mcpcred", "short") is None
    assert real_keychain.lookup(keychain, "mcpcred", "long") is None
    assert TOKEN.encode() not in _store_file(home).read_bytes()
    assert not [p for p in _store_file(home).parent.iterdir() if p.name.endswith((".new", ".tmp"))]
    from mcpcred.keychain.filestore import FileStore

    values = FileStore(str(_store_file(home)), env).read(["short", "long"])
    assert values == {"short": TOKEN, "long": long}


@pytest.mark.parametrize("target", ["keychain", "file"])
def test_migrate_without_a_keychain_refuses_before_moving_anything(home: Path, target: str) -> None:
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("secret", "set", "api", "--from-stdin", env=env, stdin="v").returncode == 0
    before = _store_file(home).read_bytes()
    refused = run_cli("store", "migrate", "--to", target, env=env)
    assert refused.returncode == 5, refused.stderr
    assert _store_file(home).read_bytes() == before


def test_prompts_at_a_terminal_init_twice_then_one_prompt_per_command(home: Path) -> None:
    env = headless(home)
    code, out = converse(
        ["store", "init", "--file"],
        [("new passphrase for", PASSPHRASE), ("the same passphrase again", PASSPHRASE + "x")],
        env,
    )
    assert code == 2 and "the two passphrases differ" in out
    assert not _store_file(home).exists()
    code, out = converse(
        ["store", "init", "--file"],
        [("new passphrase for", PASSPHRASE), ("the same passphrase again", PASSPHRASE)],
        env,
    )
    assert code == 0, out
    assert out.count("<asked>") == 2 and PASSPHRASE not in out  # never echoed

    code, out = converse(
        ["secret", "set", "api"],
        [("value for api", TOKEN), ("passphrase for the mcpcred store", PASSPHRASE)],
        env,
    )
    assert code == 0, out
    assert "passphrase for the mcpcred store" not in out  # asked once for get, set and more
    assert TOKEN not in out and PASSPHRASE not in out
    from mcpcred.keychain.filestore import FileStore

    assert FileStore(str(_store_file(home)), {"MCPCRED_PASSPHRASE": PASSPHRASE}).read(["api"]) == {
        "api": TOKEN
    }

    code, out = converse(
        ["secret", "set", "other"],
        [("value for other", "v"), ("passphrase for the mcpcred store", "wrong one")],
        env,
    )
    assert code == 5 and "the passphrase from the prompt does not open" in out


SLOW_TYPIST = """
import sys
from mcpcred.errors import McpcredError
from mcpcred.keychain.filekeyring import FileKeyring
from mcpcred.keychain.store import SecretStore

store = SecretStore(FileKeyring(), timeout=float(sys.argv[1]))
try:
    print("read", store.get("api") == sys.argv[2])
    store.set("second", "v")
    print("wrote")
except McpcredError as exc:
    print("error:", exc.message)
    raise SystemExit(5)
"""


def test_a_slow_typist_at_the_passphrase_prompt_never_meets_the_keychain_time_limit(
    home: Path,
) -> None:
    """The prompt runs in the caller's thread before the timed keyring call: answering
    after 3 s against a 1 s limit works (the CLI's limit is 20 s, the same code path)."""
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("secret", "set", "api", "--from-stdin", env=env, stdin=TOKEN).returncode == 0
    program = [sys.executable, "-c", SLOW_TYPIST, "1.0", TOKEN]
    code, out = converse(
        [],
        [("passphrase for the mcpcred store", PASSPHRASE)],
        headless(home),
        pause=3.0,
        program=program,
    )
    assert code == 0, out
    assert "read True" in out and "wrote" in out and "did not answer within" not in out
    assert out.count("<asked>") == 1  # one prompt for the read and the write
    assert TOKEN not in out and PASSPHRASE not in out
    from mcpcred.keychain.filestore import FileStore

    stored = FileStore(str(_store_file(home)), {"MCPCRED_PASSPHRASE": PASSPHRASE})
    assert stored.read(["second"]) == {"second": "v"}


def test_the_store_never_prompts_inside_the_timed_call(home: Path) -> None:
    """Even a FileKeyring used without ``mcpcred_unlock`` (a caller that skips SecretStore) fails
    with "locked" inside the timed call instead of prompting there."""
    from mcpcred.errors import FileStoreLocked
    from mcpcred.keychain.filekeyring import FileKeyring
    from mcpcred.keychain.filestore import SERVICE, FileStore

    path = str(_store_file(home))
    FileStore(path, {"MCPCRED_PASSPHRASE": PASSPHRASE}).set(SERVICE, "api", "v")
    asked: list[str] = []
    backend = FileKeyring(FileStore(path, {}, ask=lambda text: asked.append(text) or PASSPHRASE))
    with pytest.raises(FileStoreLocked):
        backend.get_password(SERVICE, "api")
    assert asked == []
    backend.mcpcred_unlock()
    assert len(asked) == 1
    assert backend.get_password(SERVICE, "api") == "v"


def test_wrapped_servers_follow_the_store_through_migrations_without_a_rewrap(
    keychain: dict[str, str], home: Path
) -> None:
    """wrap on the keychain records no backend; wrap on the file store records it. Either
    way the shim finds the secret after `store migrate` moved it, in both directions."""
    env = {**os.environ, "MCPCRED_PASSPHRASE": PASSPHRASE}
    config = _config(home)
    assert run_cli("wrap", "claude-desktop", "--yes", env=env).returncode == 0
    assert "--backend" not in json.loads(config.read_text())["mcpServers"]["echo"]["args"]
    assert run_cli("store", "migrate", "--to", "file", env=env).returncode == 0
    assert real_keychain.lookup(keychain, "mcpcred", NAME) is None
    started = _start(config, env)
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == TOKEN

    second = home / ".cursor" / "mcp.json"  # wrapped while the file store is in use
    second.parent.mkdir()
    entry = {"command": sys.executable, "args": ["-c", REPORT], "env": {"OTHER_TOKEN": TOKEN}}
    second.write_text(json.dumps({"mcpServers": {"echo": entry}}))
    assert run_cli("wrap", "cursor", "--yes", env=env).returncode == 0
    recorded = json.loads(second.read_text())["mcpServers"]["echo"]
    assert FILE_STORE in recorded["args"]

    assert run_cli("store", "migrate", "--to", "keychain", env=env).returncode == 0
    assert not _store_file(home).exists()
    for path, var in ((config, "GITHUB_PERSONAL_ACCESS_TOKEN"), (second, "OTHER_TOKEN")):
        started = _start(path, dict(os.environ))  # no passphrase needed any more
        assert started.returncode == 0, started.stderr
        assert json.loads(started.stdout)["env"][var] == TOKEN


def test_a_recorded_file_store_whose_file_is_missing_says_so_without_a_keychain(
    home: Path,
) -> None:
    config = _config(home)
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("wrap", "claude-desktop", "--yes", env=env).returncode == 0
    _store_file(home).rename(home / "elsewhere.enc")
    failed = _start(config, env)
    assert failed.returncode != 0
    assert "there is no store file at" in failed.stderr
    assert "MCPCRED_STORE_FILE" in failed.stderr
    moved = _start(config, {**env, "MCPCRED_STORE_FILE": str(home / "elsewhere.enc")})
    assert moved.returncode == 0, moved.stderr


def test_concurrent_server_starts_while_the_cli_writes_all_get_their_value(home: Path) -> None:
    """Readers never see a half-written file: the store is replaced atomically."""
    config = _config(home)
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("wrap", "claude-desktop", "--yes", env=env).returncode == 0
    entry = json.loads(config.read_text())["mcpServers"]["echo"]
    starts = [
        subprocess.Popen(
            [entry["command"], *entry["args"]],
            env={**env, **entry["env"]},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for index in range(6):
        wrote = run_cli("secret", "set", f"churn-{index}", "--from-stdin", env=env, stdin="v" * 900)
        assert wrote.returncode == 0, wrote.stderr
    for process in starts:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err
        assert json.loads(out)["env"]["GITHUB_PERSONAL_ACCESS_TOKEN"] == TOKEN
    from mcpcred.keychain.filestore import FileStore

    names = FileStore(str(_store_file(home)), {}).names()
    assert names == sorted([NAME, *(f"churn-{i}" for i in range(6))])


def test_the_guard_key_is_created_once_in_the_file_store_by_concurrent_shims(home: Path) -> None:
    """``Keychain.ensure`` (the audit log's key on a guarded start) through the file store."""
    probe = (
        "import os, secrets\n"
        "from mcpcred.shim.options import parse\n"
        "from mcpcred.shim.resolve import Keychain\n"
        f"chain = Keychain(parse(['--backend', {FILE_STORE!r}, '--', 'x']), os.environ)\n"
        "print(chain.ensure('audit:key', lambda: secrets.token_hex(16)))\n"
    )
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    from mcpcred.keychain.filestore import SERVICE, FileStore

    FileStore(str(_store_file(home)), env).set(SERVICE, "other", "kept")
    runs = [
        subprocess.Popen([sys.executable, "-c", probe], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    keys = {process.communicate(timeout=60)[0].strip() for process in runs}
    assert all(process.returncode == 0 for process in runs)
    assert len(keys) == 1 and len(next(iter(keys))) == 32
    store = FileStore(str(_store_file(home)), env)
    assert store.names() == ["audit:key", "other"]
    assert store.read(["audit:key", "other"]) == {"audit:key": next(iter(keys)), "other": "kept"}


def test_changing_the_passphrase_at_a_terminal(home: Path) -> None:
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("secret", "set", "api", "--from-stdin", env=env, stdin=TOKEN).returncode == 0
    code, out = converse(
        ["store", "passphrase"],
        [
            ("passphrase for the mcpcred store", PASSPHRASE),
            ("new passphrase for", "second passphrase"),
            ("the same passphrase again", "second passphrase"),
        ],
        headless(home),
    )
    assert code == 0, out
    assert "changed the passphrase" in out and "second passphrase" not in out
    old = run_cli("secret", "rm", "api", env=env)
    assert old.returncode == 5 and "does not open" in old.stderr
    from mcpcred.keychain.filestore import FileStore

    new = {"MCPCRED_PASSPHRASE": "second passphrase"}
    assert FileStore(str(_store_file(home)), new).read(["api"]) == {"api": TOKEN}
    piped = run_cli("store", "passphrase", env=env)
    assert piped.returncode == 2 and "no terminal" in piped.stderr


def test_an_item_deleted_without_the_key_stops_the_cli_and_the_shim_with_one_line(
    home: Path,
) -> None:
    from mcpcred.keychain.filestore import SERVICE, parse

    config = _config(home)
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("wrap", "claude-desktop", "--yes", env=env).returncode == 0
    assert run_cli("secret", "set", "other", "--from-stdin", env=env, stdin="v").returncode == 0
    path = _store_file(home)
    doc = parse(path.read_bytes(), str(path))
    del doc.items[SERVICE]["other"]  # someone who can write the file, without the key
    path.write_bytes(doc.encode())
    tampered = path.read_bytes()
    for result in (
        _start(config, env),
        run_cli("secret", "set", "third", "--from-stdin", env=env, stdin="v"),
    ):
        assert result.returncode == 5, result.stderr
        lines = [ln for ln in result.stderr.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1 and "its MAC does not match" in lines[0], result.stderr
        assert TOKEN not in result.stdout + result.stderr
    assert path.read_bytes() == tampered


def test_errors_name_the_file_store_and_its_path_never_the_keychain(home: Path) -> None:
    """A user of the file store told "not in the keychain" would look in the wrong place."""
    config = _config(home)
    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("wrap", "claude-desktop", "--yes", env=env).returncode == 0
    where = f"the file store ({_store_file(home)})"
    missing = run_cli("secret", "rm", "absent", "--yes", env=env)
    assert missing.returncode == 5
    assert f"secret 'absent' is not in {where}" in missing.stderr
    assert "keychain" not in missing.stderr
    wrapped = home / ".cursor" / "mcp.json"
    wrapped.parent.mkdir()
    entry = {"command": sys.executable, "args": ["-c", REPORT], "env": {"OTHER_TOKEN": TOKEN}}
    wrapped.write_text(json.dumps({"mcpServers": {"echo": entry}}))
    again = run_cli("wrap", "cursor", "--yes", env=env)
    assert again.returncode == 0, again.stderr
    assert f"(already in {where})" in again.stderr
    assert f"env OTHER_TOKEN -> file store as '{NAME}'" in again.stderr
    stored = run_cli("secret", "set", "fresh", "--from-stdin", env=env, stdin="v")
    assert f"stored secret 'fresh' in {where} ({FILE_STORE})" in stored.stderr
    run_cli("secret", "rm", NAME, "--yes", env=env)
    started = _start(config, env)  # the shim, reading the file directly
    assert started.returncode == 5
    assert f"secret '{NAME}' is not in {where}" in started.stderr
    assert "not in the keychain" not in started.stderr


def test_ctrl_c_at_the_passphrase_prompt_leaves_the_terminal_echoing(home: Path) -> None:
    """The prompt runs in the main thread: Ctrl-C ends mcpcred (exit 130) and getpass
    restores echo. (From a worker thread, exit would kill it with echo still off.)"""
    import pty
    import select

    env = headless(home, MCPCRED_PASSPHRASE=PASSPHRASE)
    assert run_cli("secret", "set", "api", "--from-stdin", env=env, stdin=TOKEN).returncode == 0
    script = f'trap : INT; {MCPCRED} secret show api --reveal; echo "exit=$?"; stty -a'
    pid, fd = pty.fork()
    if pid == 0:  # pragma: no cover - the child becomes the shell
        os.execve("/bin/sh", ["/bin/sh", "-c", script], headless(home))  # noqa: S606
    output = b""
    interrupted = False
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        output += data
        if not interrupted and b"passphrase for the mcpcred store" in output:
            os.write(fd, b"\x03")  # Ctrl-C, as typed
            interrupted = True
    os.close(fd)
    os.waitpid(pid, 0)
    text = output.decode(errors="replace")
    assert interrupted, text
    assert "exit=130" in text, text
    settings = text[text.index("exit=130") :].split()
    assert "echo" in settings and "-echo" not in settings, text
    assert TOKEN not in text
