"""Fixtures for password-manager references: real ``pass`` stores, one per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import passstore


@pytest.fixture(scope="session")
def unlocked_pass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[passstore.PassStore]:
    """A store whose key has no passphrase: ``pass show`` works without a prompt."""
    if not passstore.available():
        pytest.fail("pass and gpg are needed: scripts/test installs them (apt: pass, gnupg)")
    with passstore.pass_store(tmp_path_factory.mktemp("pass")) as store:
        yield store


@pytest.fixture(scope="session")
def locked_pass(tmp_path_factory: pytest.TempPathFactory) -> Iterator[passstore.PassStore]:
    """A store whose key needs a passphrase that no gpg-agent has."""
    if not passstore.available():
        pytest.fail("pass and gpg are needed: scripts/test installs them (apt: pass, gnupg)")
    with passstore.pass_store(tmp_path_factory.mktemp("lpass"), passphrase="correct horse") as s:
        s.insert("work/api", "locked-value\n")
        s.stop_agent()  # inserting needs no passphrase, but make sure nothing is cached
        yield s
