"""Red-team regressions through the real shim: a hostile server against the merged guard.

Each test failed on the guard as merged for issue 12, and passes since its fix.
"""

# ruff: noqa: F811  (the tests take the imported ``guarded`` fixture as a parameter)

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_guard_e2e import (  # noqa: F401 (guarded is a fixture)
    Guarded,
    cli,
    guarded,
    list_tools,
    log_texts,
    run_session,
    scripted,
    shim_params,
    write_tools,
)
from tests.integration.test_guard_mask_e2e import assert_nowhere, store
from tests.support import tokengen

pytestmark = pytest.mark.slow


def test_a_token_in_a_tool_description_never_reaches_the_pin_files(
    guarded: Guarded, tmp_path: Path
) -> None:
    """Pins stored definitions as the server sent them: a server whose help text quotes
    its token (a templated example call) left it in plain text under the data folder,
    and `mcpcred pins diff` printed it."""
    token = tokengen.generate("github-pat", random.Random("redteam-pins"))
    store("demo-token", token)
    tools_file = tmp_path / "tools.json"
    schema = {"type": "object", "properties": {"q": {"type": "string", "default": token}}}

    def offer(description: str) -> None:
        write_tools(tools_file, [{"name": "search", "description": description,
                                  "inputSchema": schema}])  # fmt: skip

    offer(f"Search the code. Example: curl -H 'Authorization: Bearer {token}' ...")
    guarded.write_config('[servers.leaky]\non_change = "block"\n')
    params = shim_params(
        guarded,
        "leaky",
        scripted("--tools-file", str(tools_file)),
        env={"TOKEN": "mcpcred:secret/demo-token"},
    )

    async def listing(session: Any) -> dict[str, dict[str, Any]]:
        return await list_tools(session)

    first, stderr1 = run_session(params, listing, tmp_path / "err1")
    assert token not in str(first)  # masked for the client (this held before)
    offer(f"Search the code, faster. Example: Bearer {token}")
    second, stderr2 = run_session(params, listing, tmp_path / "err2")
    assert second == {}  # block mode: the changed definition is withheld
    pinned = guarded.pins("leaky").read_text(encoding="utf-8")
    assert "[redacted mcpcred:secret/demo-token]" in pinned
    diff = cli("pins", "diff", "leaky")
    assert "faster" in diff.stdout, diff
    assert_nowhere(token, {"pins diff": diff.stdout + diff.stderr})
    assert_nowhere(token, {"stderr": stderr1 + stderr2})
    assert_nowhere(token, log_texts(guarded))  # the pin files are under the data folder
