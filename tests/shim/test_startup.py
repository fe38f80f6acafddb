"""Start-up where ``keyrings.alt`` sits beside ``keyring``: the shim's direct path, always.

With ``keyrings.alt`` installed, keyring's discovery returns its ``ChainerBackend``. Before
issue 14, wrap recorded that chainer in every entry, and the shim then ran keyring's whole
discovery on each server start: ~200 ms more, ~15 subprocesses (``ldconfig``, ``gcc``,
``ld`` from the macOS backend's ``find_library``) and up to 28 D-Bus connections with five
secrets. These tests run the real thing: ``keyrings.alt`` installed (outside .venv, see
``tests/support/startup.py``), gnome-keyring on a private bus, and an audit-hook probe in
the shim process that records every connection, subprocess and exec.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mcpcred.host import Host
from mcpcred.keychain import CHAINER
from mcpcred.keychain.store import SecretStore
from mcpcred.wrap.service import shim_settings
from tests.support import keychain as real_keychain
from tests.support.memkeyring import MemoryKeyring
from tests.support.startup import LOG_VAR, install_keyrings_alt, probed, write_probe

MCPCRED = str(Path(sys.executable).parent / "mcpcred")
REPORT = "import json, os; print(json.dumps(dict(os.environ)))"
SECRET_SERVICE = "keyring.backends.SecretService.Keyring"
FILE_STORE = "mcpcred.keychain.filekeyring.FileKeyring"


@pytest.fixture(scope="session")
def keyrings_alt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding ``keyrings.alt``, installed once per session."""
    return install_keyrings_alt(tmp_path_factory.mktemp("keyrings-alt"))


@pytest.fixture
def probe(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(folder with the probe's sitecustomize, the log it writes)."""
    yield write_probe(tmp_path / "probe"), tmp_path / "probe.log"


# -- which backend is recorded (fakes: keyring's chainer and its children) -----------------


def _backend(module: str, name: str, base: type = MemoryKeyring) -> Any:
    return type(name, (base,), {"__module__": module})()


def _chainer(*children: Any) -> Any:
    chainer = _backend("keyring.backends.chainer", "ChainerBackend")
    chainer.backends = list(children)
    return chainer


@pytest.mark.parametrize(
    ("os_name", "child", "recorded"),
    [
        ("linux", SECRET_SERVICE, None),  # the default is never recorded
        ("macos", "keyring.backends.macOS.Keyring", None),
        ("windows", "keyring.backends.Windows.WinVaultKeyring", None),
        ("linux", FILE_STORE, FILE_STORE),
        ("linux", "keyring.backends.kwallet.DBusKeyring", "keyring.backends.kwallet.DBusKeyring"),
    ],
)
def test_wrap_records_the_concrete_backend_never_the_chainer(
    os_name: str, child: str, recorded: str | None
) -> None:
    module, _, name = child.rpartition(".")
    plaintext = _backend("keyrings.alt.file", "PlaintextKeyring")
    # The plain-text backend first: the store must skip it, not write secrets into it.
    store = SecretStore(_chainer(plaintext, _backend(module, name)), env={})
    assert store.backend_name == child
    settings = shim_settings(Host(os_name, {}, "/home/a", "/home/a"), store.backend_name)
    assert settings.backend == recorded
    args = settings.args("gh", "cursor")
    assert CHAINER not in args
    assert ("--backend" in args) == (recorded is not None)


def test_a_chainer_id_is_never_recorded_even_if_handed_over() -> None:
    settings = shim_settings(Host("linux", {}, "/home/a", "/home/a"), CHAINER)
    assert settings.backend is None
    assert "--backend" not in settings.args("gh", "cursor")


def test_a_chainer_of_plain_text_backends_only_is_still_refused() -> None:
    from mcpcred.errors import KeychainUnavailable

    store = SecretStore(_chainer(_backend("keyrings.alt.file", "PlaintextKeyring")), env={})
    with pytest.raises(KeychainUnavailable, match="plain text"):
        store.get("x")


def test_an_opted_in_plain_text_chainer_records_its_child_and_the_opt_in(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only plain-text children and MCPCRED_ALLOW_INSECURE_KEYRING=1: the child, said aloud."""
    monkeypatch.setattr("mcpcred.keychain.store._warned", False)
    plaintext = _backend("keyrings.alt.file", "PlaintextKeyring")
    store = SecretStore(_chainer(plaintext), env={"MCPCRED_ALLOW_INSECURE_KEYRING": "1"})
    assert store.backend_name == "keyrings.alt.file.PlaintextKeyring"
    host = Host("linux", {"MCPCRED_ALLOW_INSECURE_KEYRING": "1"}, "/home/a", "/home/a")
    args = shim_settings(host, store.backend_name).args("gh", "cursor")
    assert args[args.index("--backend") + 1] == "keyrings.alt.file.PlaintextKeyring"
    assert "--allow-insecure-keyring" in args


# -- the real thing: keyrings.alt installed, gnome-keyring, the probe -----------------------


def _env(keychain: dict[str, str], *paths: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, **keychain, **extra}
    env["PYTHONPATH"] = os.pathsep.join(str(p) for p in paths)
    return env


def _keyring_picks(env: dict[str, str]) -> str:
    code = "import keyring; k = keyring.get_keyring(); print(type(k).__module__, type(k).__name__)"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
        check=True,
    )  # fmt: skip
    return ".".join(result.stdout.split())


def _server_env(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    env: dict[str, str] = json.loads(result.stdout)
    return env


def test_wrap_with_keyrings_alt_records_no_backend_and_the_entry_starts_directly(
    keychain: dict[str, str], keyrings_alt: Path, probe: tuple[Path, Path], home: Path
) -> None:
    env = _env(keychain, keyrings_alt)
    assert _keyring_picks(env) == CHAINER  # the situation of the issue, for real
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    config = home / ".cursor" / "mcp.json"
    config.parent.mkdir()
    server = {"command": "npx", "args": ["-y", "server-github"], "env": {"GH_TOKEN": token}}
    config.write_text(json.dumps({"mcpServers": {"github": server}}))
    wrapped = subprocess.run(
        [MCPCRED, "wrap", "cursor", "--yes"], env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert wrapped.returncode == 0, wrapped.stderr
    entry = json.loads(config.read_text())["mcpServers"]["github"]
    assert "--backend" not in entry["args"], entry["args"]
    assert CHAINER not in json.dumps(entry)
    assert token not in config.read_text()

    # The entry as the client starts it, with a server that reports its environment.
    folder, log = probe
    shim = entry["args"][: entry["args"].index("--") + 1]
    result = subprocess.run(
        [entry["command"], *shim, sys.executable, "-c", REPORT],
        env=_env(keychain, folder, keyrings_alt, **entry["env"], **{LOG_VAR: str(log)}),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert _server_env(result)["GH_TOKEN"] == token
    seen = probed(log)
    assert seen.spawns == []
    assert seen.connections_to(keychain["XDG_RUNTIME_DIR"] + "/bus") == 1
    assert not {m for m in seen.modules if m.split(".")[0] in ("keyring", "keyrings")}


@pytest.mark.parametrize("how", ["--backend", "PYTHON_KEYRING_BACKEND"])
def test_an_old_chainer_entry_takes_the_direct_path_with_five_secrets(
    keychain: dict[str, str], keyrings_alt: Path, probe: tuple[Path, Path], how: str
) -> None:
    names = [f"five-{i}" for i in range(5)]
    for index, name in enumerate(names):
        real_keychain.store(keychain, "mcpcred", name, f"value-{index}")
    refs = {f"T{i}": f"mcpcred:secret/{name}" for i, name in enumerate(names)}
    folder, log = probe
    env = _env(keychain, folder, keyrings_alt, **refs, **{LOG_VAR: str(log)})
    args = ["shim", "--server", "five"]
    if how == "--backend":
        args += ["--backend", CHAINER]
    else:
        env["PYTHON_KEYRING_BACKEND"] = CHAINER
    result = subprocess.run(
        [MCPCRED, *args, "--", sys.executable, "-c", REPORT], env=env, capture_output=True,
        text=True, timeout=60, check=False,
    )  # fmt: skip
    got = _server_env(result)
    assert [got[f"T{i}"] for i in range(5)] == [f"value-{i}" for i in range(5)]
    seen = probed(log)
    assert seen.spawns == [], seen.spawns  # no ldconfig, gcc, ld: no keyring discovery
    assert seen.connections_to(keychain["XDG_RUNTIME_DIR"] + "/bus") == 1
    assert len(seen.connects) == 1, seen.connects
    assert seen.execs == [repr(sys.executable)]
    assert not {m for m in seen.modules if m.split(".")[0] in ("keyring", "keyrings")}
    assert "mcpcred.keychain.dbuswire" in seen.modules  # it read the Secret Service itself
    assert not {m for m in seen.modules if m.split(".")[0] == "jeepney"}


# -- an old chainer entry where the Secret Service is not what served ---------------------

_WALLET = '''"""A keyring backend that is not the Secret Service (like KWallet): values in a JSON file."""
import contextlib
import json
import os

from keyring.backend import KeyringBackend


class Wallet(KeyringBackend):
    priority = 4.9

    def _load(self):
        try:
            with open(os.environ["FAKE_WALLET"]) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def get_password(self, service, username):
        return self._load().get(service + "/" + username)

    def set_password(self, service, username, password):
        items = self._load()
        items[service + "/" + username] = password
        with open(os.environ["FAKE_WALLET"], "w") as f:
            json.dump(items, f)

    def delete_password(self, service, username):
        raise NotImplementedError
'''


def _wallet_package(folder: Path) -> Path:
    """A package registering ``fakewallet.Wallet`` through keyring's entry point group."""
    (folder / "fakewallet").mkdir(parents=True)
    (folder / "fakewallet" / "__init__.py").write_text(_WALLET)
    info = folder / "fakewallet-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakewallet\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[keyring.backends]\nfakewallet = fakewallet\n")
    return folder


def test_an_old_chainer_entry_still_works_where_another_backend_served(
    keyrings_alt: Path, tmp_path: Path
) -> None:
    """A bus without the Secret Service, a KWallet-like backend: the chainer's way, as before."""
    wallet = _wallet_package(tmp_path / "wallet")
    with real_keychain.bare_session_bus() as (bus_env, _):
        env = _env(bus_env, wallet, keyrings_alt, FAKE_WALLET=str(tmp_path / "wallet.json"))
        assert _keyring_picks(env) == CHAINER
        stored = subprocess.run(
            [MCPCRED, "secret", "set", "w", "--from-stdin"], env=env, input="wallet-value",
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert stored.returncode == 0, stored.stderr
        assert "in the keychain (fakewallet.Wallet)" in stored.stderr  # concrete, not the chainer
        result = subprocess.run(
            [MCPCRED, "shim", "--backend", CHAINER, "--", sys.executable, "-c", REPORT],
            env={**env, "T": "mcpcred:secret/w"}, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert _server_env(result)["T"] == "wallet-value"


@pytest.mark.parametrize("bus", ["none", "bare"])
def test_an_old_chainer_entry_with_no_keychain_reports_the_direct_error(
    keyrings_alt: Path, tmp_path: Path, bus: str
) -> None:
    """Only keyrings.alt behind the chainer: the error says what to fix, not 'plain text'."""
    with contextlib.ExitStack() as stack:
        bus_env: dict[str, str] = {}
        if bus == "bare":
            bus_env, _ = stack.enter_context(real_keychain.bare_session_bus())
        env = {k: v for k, v in _env(bus_env, keyrings_alt).items() if k != "XDG_RUNTIME_DIR"}
        if bus == "none":
            env.pop("DBUS_SESSION_BUS_ADDRESS", None)
        result = subprocess.run(
            [MCPCRED, "shim", "--backend", CHAINER, "--", "true"], env={**env, "T": "mcpcred:secret/x"},
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
    assert result.returncode == 5
    expected = "no D-Bus session bus" if bus == "none" else "no Secret Service on the session bus"
    assert expected in result.stderr, result.stderr
    assert "plain text" not in result.stderr
