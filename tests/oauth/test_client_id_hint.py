"""``mcpcred login PROVIDER`` without a client id says exactly how to get one and where it goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcpcred.oauth.providers import BUILTIN
from tests.support.cli import run


def test_login_github_without_a_client_id_gives_the_steps(home: Path) -> None:
    config = home / "mcpcred-config.toml"
    result = run("login", "github", "--no-browser", env={"MCPCRED_CONFIG": str(config)})
    assert result.code == 2
    error, hint = result.stderr.splitlines()[:2]
    assert error == "error: GitHub needs a client id registered for mcpcred"
    for part in (
        "https://github.com/settings/apps/new",
        "Developer settings",
        '"Enable Device Flow"',
        "Client ID",
        "`mcpcred login github --client-id ID`",
        f'client-id = "ID" under [providers.github] in {config}',
        "docs/login.md#github",
    ):
        assert part in hint, part
    assert result.stdout == ""


@pytest.mark.parametrize("name", sorted(set(BUILTIN) - {"oidc"}))
def test_every_builtin_provider_says_how_to_register(name: str) -> None:
    """A provider added without registration steps would send users to a generic hint."""
    provider = BUILTIN[name]
    assert provider.register_steps.startswith(("create", "add", "register"))
    assert provider.register_url.split("/#")[0].split("/apps")[0] in provider.register_steps
    anchor = provider.register_steps.rsplit("docs/login.md#", 1)[1].rstrip(")")
    docs = (Path(__file__).resolve().parents[2] / "docs" / "login.md").read_text()
    headings = {
        line.lstrip("#")
        .strip()
        .lower()
        .replace(" ", "-")
        .replace("(", "")
        .replace(")", "")
        .replace(",", "")
        for line in docs.splitlines()
        if line.startswith("### ")
    }
    assert anchor in headings, anchor
