"""Red-team regressions through the real shim: a hostile server against the merged guard.

Each test failed on the guard as merged for issue 12, and passes since its fix.
"""

# ruff: noqa: F811  (the tests take the imported ``guarded`` fixture as a parameter)

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.guard.test_relay_robustness import Guarded as RobustGuarded
from tests.guard.test_relay_robustness import guarded as robust  # noqa: F401 (a fixture)
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
from tests.support.scripted_server import encode

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


def test_a_prompt_injected_client_cannot_slip_calls_past_the_policy_or_the_log(
    robust: Callable[..., RobustGuarded],
) -> None:
    """Through the real shim (deny delete_*): each of these reached the server before."""
    from tests.guard.test_relay_robustness import audit_lines

    shim = robust()
    shim.initialize()
    sneaky = [
        # a nested batch: passed on unchecked, with the client's own id
        [[{"jsonrpc": "2.0", "id": 31, "method": "tools/call",
           "params": {"name": "delete_thing", "arguments": {"name": "alpha"}}}]],
        # a tool name that is not a string
        {"jsonrpc": "2.0", "id": 32, "method": "tools/call",
         "params": {"name": ["delete_thing"], "arguments": {"name": "alpha"}}},
        # an allowed call as a notification: it ran on a generic server, with no record
        {"jsonrpc": "2.0", "method": "tools/call",
         "params": {"name": "get_thing", "arguments": {"name": "beta"}}},
    ]  # fmt: skip
    for message in sneaky:
        shim.send(encode(message))
    for request_id in (31, 32):
        answer, _ = shim.client.answer_to(request_id, 10)
        assert "error" in answer or answer["result"]["isError"] is True, answer
    listed = shim.call("after", "list_things", {})
    assert "alpha" in listed["result"]["content"][0]["text"]
    received = shim.received.read_bytes()
    assert b"delete_thing" not in received and b"get_thing" not in received
    shim.stdin.close()
    shim.wait(10)
    records = audit_lines(shim.folder.parent)
    noted = [r for r in records if r.get("tool") == "get_thing"]
    assert [r["outcome"] for r in noted] == ["denied"], noted
    assert any(r["event"] == "malformed" for r in records)
