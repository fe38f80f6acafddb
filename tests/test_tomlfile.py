"""mcpcred's own TOML files: one reading, one wording for what is wrong with them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred import tomlfile
from mcpcred.errors import ConfigError


def test_an_unknown_key_is_named_with_the_known_ones() -> None:
    with pytest.raises(ConfigError) as caught:
        tomlfile.check_keys(
            {"deny": [], "denny": [], "zz": 1}, {"allow", "deny"}, "c.toml: [servers.gh]"
        )
    assert caught.value.message == "c.toml: [servers.gh]: unknown key(s): denny, zz"
    assert caught.value.hint == "known keys: allow, deny"
    assert caught.value.exit_code == 3


def test_known_keys_pass() -> None:
    tomlfile.check_keys({"deny": []}, {"allow", "deny"}, "c.toml: [servers.gh]")


def test_a_huge_unknown_key_is_cut_in_the_message() -> None:
    with pytest.raises(ConfigError) as caught:
        tomlfile.check_keys({"k" * 10_000: 1}, {"allow"}, "c.toml: [log]")
    assert len(caught.value.message) < 200


def test_invalid_toml_names_the_file_and_where(tmp_path: Path) -> None:
    path = tmp_path / "mcpcred.toml"
    path.write_bytes(b'[audit]\nfail-on = "high\n')
    with pytest.raises(ConfigError, match=r"mcpcred\.toml: not valid TOML: .*line 2"):
        tomlfile.read(str(path))


def test_non_utf8_says_where_not_which_byte(tmp_path: Path) -> None:
    path = tmp_path / "mcpcred.toml"
    path.write_bytes(b'token = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as caught:
        tomlfile.read(str(path))
    assert caught.value.message.endswith("not valid TOML: not UTF-8 at byte 9")
    assert "xff" not in caught.value.message and "\xff" not in caught.value.message


def test_a_missing_file_is_empty_only_when_allowed(tmp_path: Path) -> None:
    assert tomlfile.read(str(tmp_path / "absent.toml"), missing_ok=True) == {}
    with pytest.raises(ConfigError, match=r"cannot read .*absent\.toml: No such file"):
        tomlfile.read(str(tmp_path / "absent.toml"))
