"""``keychain.direct``: the read-only Secret Service view of ``status`` and ``wrap --dry-run``.

It must answer exactly as ``SecretStore`` (keyring's discovery) does, and step aside
(``None``) whenever only keyring can tell which store is in use; the CLI commands that use
it must start no process and import no keyring.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcpcred.errors import SecretNotFound, SecretStoreError
from mcpcred.keychain import SECRET_SERVICE
from mcpcred.keychain.direct import DirectSecretService, keyring_config, open_direct
from mcpcred.keychain.store import SecretStore
from tests.support.startup import probed, write_probe

LONG = "v" * 5000  # longer than one Secret Service item holds: stored in parts


def _open() -> DirectSecretService:
    direct = open_direct(os.environ)
    assert direct is not None
    return direct


def test_reads_what_secret_store_reads(keychain: dict[str, str]) -> None:
    store = SecretStore()
    store.set("short", "value-1")
    store.set("long", LONG)
    direct = _open()
    try:
        assert direct.backend_name == store.backend_name == SECRET_SERVICE
        assert direct.where == store.where
        for name in ("short", "long"):
            assert direct.get(name) == store.get(name)
        for name in ("short", "long", "absent", "long#1"):
            assert direct.exists(name) == store.exists(name), name
        with pytest.raises(SecretNotFound) as found:
            direct.get("absent")
        assert found.value.message == "secret 'absent' is not in the keychain"
        assert direct.choice.kind == "keychain"
        assert direct.vault().read(["short", "absent"]) == {"short": "value-1"}
    finally:
        direct.close()


def test_never_writes(keychain: dict[str, str]) -> None:
    direct = _open()
    try:
        with pytest.raises(SecretStoreError):
            direct.set("x", "y")
        assert not SecretStore().exists("x")
    finally:
        direct.close()


@pytest.mark.parametrize("case", ["other backend", "store file", "keyring config", "no bus"])
def test_steps_aside_when_only_keyring_can_tell(
    keychain: dict[str, str], home: Path, tmp_path: Path, case: str
) -> None:
    env = dict(os.environ)
    if case == "other backend":
        env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
    elif case == "store file":
        env["MCPCRED_STORE_FILE"] = str(tmp_path / "store.enc")
        (tmp_path / "store.enc").write_bytes(b"x")
    elif case == "keyring config":
        path = Path(keyring_config(env))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("[backend]\ndefault-keyring=keyring.backends.null.Keyring\n")
    else:
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path / 'no-bus'}"
    assert open_direct(env) is None


def test_the_secret_service_named_in_the_environment_is_direct(keychain: dict[str, str]) -> None:
    direct = open_direct({**os.environ, "PYTHON_KEYRING_BACKEND": SECRET_SERVICE})
    assert direct is not None
    assert "PYTHON_KEYRING_BACKEND names it" in direct.choice.reason
    direct.close()


def _run_probed(args: list[str], tmp_path: Path, cwd: Path) -> tuple[dict[str, object], list[str]]:
    log = tmp_path / "probe.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(write_probe(tmp_path / "probe"))
    env["MCPCRED_TEST_PROBE_LOG"] = str(log)
    code = (
        "import contextlib, io, json, sys\n"
        "from mcpcred._entry import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    rc = main({args!r})\n"
        "sys.stderr.write(json.dumps({'rc': rc, 'out': out.getvalue(), 'modules': sorted(sys.modules)}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    found = json.loads(result.stderr.splitlines()[-1])
    return found, probed(log).spawns


def test_status_and_dry_run_start_no_process_and_load_no_keyring(
    keychain: dict[str, str], home: Path, project: Path, tmp_path: Path
) -> None:
    SecretStore().set("api-token", "value-1")
    (home / ".cursor").mkdir()
    (home / ".cursor" / "mcp.json").write_text(
        json.dumps(
            {
                "mcpServers": {
                    "plain": {
                        "command": "node",
                        "env": {"TOKEN": "ghp_" + "a1B2c3D4" * 4 + "e5F6"},
                    },
                    "wrapped": {
                        "command": "/usr/bin/mcpcred",
                        "args": ["shim", "--server", "wrapped", "--", "node"],
                        "env": {"A": "mcpcred:secret/api-token", "B": "mcpcred:secret/gone"},
                    },
                }
            }
        )
    )
    status, spawns = _run_probed(["status", "--json"], tmp_path / "s", project)
    assert spawns == []
    assert "keyring" not in {m.split(".")[0] for m in status["modules"]}  # type: ignore[union-attr]
    document = json.loads(str(status["out"]))
    assert document["keychain"] == SECRET_SERVICE
    states = {c["reference"]: c["state"] for row in document["servers"] for c in row["credentials"]}
    assert states == {"mcpcred:secret/api-token": "ok", "mcpcred:secret/gone": "missing"}
    dry, spawns = _run_probed(["wrap", "cursor", "--dry-run"], tmp_path / "w", project)
    assert dry["rc"] == 0
    assert spawns == []
    assert "keyring" not in {m.split(".")[0] for m in dry["modules"]}  # type: ignore[union-attr]


def test_a_bus_without_the_secret_service_falls_back_to_keyring(home: Path, project: Path) -> None:
    """OpenSession fails: open_direct steps aside and status says what keyring says."""
    from tests.support import keychain as real_keychain

    with real_keychain.bare_session_bus() as (bus_env, _daemon_env):
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        env.update(bus_env)
        assert open_direct(env) is None
        result = subprocess.run(
            [sys.executable, "-m", "mcpcred", "status", "--json"],
            env=env, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        document = json.loads(result.stdout)
        assert document["keychain"].startswith("unavailable: ")
        assert document["store"]["store"] == "none"


def test_a_locked_keychain_is_seen_without_a_prompt(home: Path, project: Path) -> None:
    """A locked item exists (a search), reading it is KeychainLocked; status never prompts."""
    from mcpcred.errors import KeychainLocked
    from tests.support import keychain as real_keychain

    with real_keychain.real_secret_service("locked-pass") as keychain_env:
        real_keychain.store(keychain_env, "mcpcred", "x", "value")
        real_keychain.lock_login(keychain_env)
        env = {k: v for k, v in os.environ.items() if k != "PYTHON_KEYRING_BACKEND"}
        env.update(keychain_env)
        direct = open_direct(env)
        assert direct is not None
        try:
            assert direct.exists("x") and not direct.exists("y")
            with pytest.raises(KeychainLocked):
                direct.get("x")
        finally:
            direct.close()
        (home / ".cursor").mkdir()
        (home / ".cursor" / "mcp.json").write_text(
            json.dumps({"mcpServers": {"s": {"command": "/usr/bin/mcpcred", "args": [
                "shim", "--server", "s", "--", "node"], "env": {"T": "mcpcred:secret/x"}}}})
        )  # fmt: skip
        states = {}
        for check in ([], ["--check"]):
            result = subprocess.run(
                [sys.executable, "-m", "mcpcred", "status", "--json", *check],
                env=env, capture_output=True, text=True, timeout=60, check=False,
                stdin=subprocess.DEVNULL,
            )  # fmt: skip
            document = json.loads(result.stdout)
            (row,) = document["servers"]
            states[bool(check)] = row["credentials"][0]["state"]
        assert states == {False: "ok", True: "locked"}
