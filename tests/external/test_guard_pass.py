"""A guarded server whose credential comes from ``pass``: the real MCP SDK client, the real
``server-everything`` (its ``get-env`` tool dumps the environment), a real gpg-backed store.
The value reaches the server, the client sees ``[redacted mcpcred:pass/PATH]`` and the audit
log never holds it: guard mode masks password-manager values like keychain ones."""

# ruff: noqa: F811  (the tests take the imported ``guarded`` fixture as a parameter)

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_guard_e2e import (  # noqa: F401 (guarded is a fixture)
    Called,
    Guarded,
    call,
    cli,
    events,
    guarded,
    log_texts,
    run_session,
    shim_params,
)
from tests.support import mcp_parts
from tests.support.passstore import PassStore

pytestmark = pytest.mark.slow

VALUE = "pass-guarded-Zq81vTn3Lw"


def test_a_pass_value_is_masked_for_the_model_and_the_log(
    guarded: Guarded, unlocked_pass: PassStore, tmp_path: Path
) -> None:
    unlocked_pass.insert("guard/token", VALUE + "\n")
    guarded.write_config("[servers.everything]\n")
    params = shim_params(
        guarded,
        "everything",
        ["node", mcp_parts.everything_js(), "stdio"],
        env={**unlocked_pass.env, "MY_TOKEN": "mcpcred:pass/guard/token"},
    )

    async def script(session: Any) -> Called:
        return await call(session, "get-env")

    dump, stderr = run_session(params, script, tmp_path / "err")
    assert not dump.is_error, dump
    env = json.loads(dump.text)
    assert env["MY_TOKEN"] == "[redacted mcpcred:pass/guard/token]", env.get("MY_TOKEN")
    assert VALUE not in dump.text + stderr
    for where, text in log_texts(guarded).items():
        assert VALUE not in text, where
    (injected,) = events(guarded, "everything", "inject")
    assert injected["credentials"] == ["pass/guard/token"]
    assert cli("log", "verify").returncode == 0
