"""What every wrapped entry tells the shim, decided once per run from the machine."""

from __future__ import annotations

import os

from mcpcred.host import Host
from mcpcred.wrap.service import shim_settings


def _host(**env: str) -> Host:
    return Host("linux", env, "/home/a", "/home/a")


def test_default_backend_and_standard_bus_are_not_recorded() -> None:
    uid = os.getuid()
    settings = shim_settings(
        _host(DBUS_SESSION_BUS_ADDRESS=f"unix:path=/run/user/{uid}/bus"),
        "keyring.backends.SecretService.Keyring",
    )
    assert os.path.isabs(settings.executable)
    assert settings.args("gh", "cursor") == ["shim", "--server", "gh", "--client", "cursor", "--"]


def test_a_private_bus_is_recorded_without_its_guid() -> None:
    settings = shim_settings(
        _host(DBUS_SESSION_BUS_ADDRESS="unix:path=/tmp/dbus-x1,guid=0123abcd"), None
    )
    assert settings.dbus_address == "unix:path=/tmp/dbus-x1"
    assert "--dbus-address" in settings.args("gh", "cursor")


def test_an_opted_in_insecure_backend_is_passed_on() -> None:
    backend = "keyrings.alt.file.PlaintextKeyring"
    settings = shim_settings(_host(MCPCRED_ALLOW_INSECURE_KEYRING="1"), backend)
    args = settings.args("gh", "cursor")
    assert args[args.index("--backend") + 1] == backend
    assert "--allow-insecure-keyring" in args
    assert "--allow-insecure-keyring" not in shim_settings(_host(), backend).args("gh", "x")


def test_other_oses_record_no_bus() -> None:
    host = Host("macos", {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"}, "/Users/a", "/Users/a")
    settings = shim_settings(host, "keyring.backends.macOS.Keyring")
    assert settings.dbus_address is None
    assert settings.backend is None
    assert not settings.linux


def test_data_folders_are_private_all_the_way_down(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mcpcred.paths import data_dir, private_dir

    monkeypatch.setenv("MCPCRED_DATA_DIR", str(tmp_path / "a" / "b"))
    folder = private_dir(data_dir() / "backups" / "cursor")
    for path in (tmp_path / "a", tmp_path / "a" / "b", folder.parent, folder):
        assert path.stat().st_mode & 0o777 == 0o700, path
