"""Issue 16: a guarded call through a real ``mcpcred shim`` (server-everything, the real
gnome-keyring) reaches a real OTLP receiver within a second, with nothing secret in it.

The shim finds ``[[log.export]]`` in the config and starts the export worker, which reads
the collector's header from the keychain; the receiver decodes what it gets with the
official ``opentelemetry-proto`` classes.
"""

# ruff: noqa: F811  (the test takes the imported ``guarded`` fixture as a parameter)
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.test_guard_e2e import (  # noqa: F401 - the fixture
    Guarded,
    call,
    cli_ok,
    guarded,
    run_session,
    shim_params,
)
from tests.support import keychain as real_keychain
from tests.support import mcp_parts, tokengen
from tests.support.export_session import delivery_script, stop_workers, wait_workers_gone
from tests.support.otlp_receiver import Receiver

if TYPE_CHECKING:
    pass

pytestmark = pytest.mark.slow

HEADER = "Bearer otel-header-value-7f3a91c2"


def test_a_guarded_call_reaches_the_collector_within_a_second(
    guarded: Guarded, tmp_path: Path
) -> None:
    token = tokengen.generate("github-pat", random.Random("export-e2e"))
    injected = tokengen.generate("github-pat", random.Random("export-e2e-injected"))
    real_keychain.store(guarded.entry_env, "mcpcred", "otel-token", HEADER)
    real_keychain.store(guarded.entry_env, "mcpcred", "gh", injected)
    receiver = Receiver(want_header=("authorization", HEADER)).start()
    guarded.write_config(
        '[servers.everything]\ndeny = ["get-env"]\n\n'
        f'[[log.export]]\nkind = "otlp"\nurl = "{receiver.url}"\n'
        'headers = { Authorization = "mcpcred:secret/otel-token" }\n'
    )
    params = shim_params(
        guarded,
        "everything",
        ["node", mcp_parts.everything_js(), "stdio"],
        env={"GITHUB_TOKEN": "mcpcred:secret/gh", "MCPCRED_EXPORT_IDLE": "1"},
    )

    def arrived(tool: str, count: int) -> bool:
        with receiver.lock:
            return sum(span.name == f"tools/call {tool}" for span in receiver.spans) >= count

    try:
        script = delivery_script(call, arrived, token)  # get-env is denied
        took, stderr = run_session(params, script, tmp_path / "err")
        assert took < 1.0, f"{took:.2f} s from the call to the collector"
        # the worker leaves by itself once no guarded shim runs and all is sent
        wait_workers_gone(guarded.runtime)
    finally:
        stop_workers(guarded.runtime)
        receiver.stop()

    assert "audit export not started" not in stderr, stderr
    everything = b"".join(receiver.raw)
    for secret in (token, injected, HEADER, token[:16], injected[:16]):
        assert secret.encode() not in everything, secret[:8]
    spans = {span.name: span for span in receiver.spans}
    echo = next(s for s in receiver.spans if s.name == "tools/call echo")
    assert echo.attributes["gen_ai.tool.name"] == "echo"
    assert echo.attributes["mcp.method.name"] == "tools/call"
    assert echo.attributes["mcpcred.server"] == "everything"
    assert echo.attributes["mcpcred.client"] == "test"
    assert echo.resource["service.name"] == "mcpcred"
    assert spans["tools/call get-env"].status_code == 2
    assert spans["tools/call get-env"].attributes["error.type"] == "denied"
    # `mcpcred log --json` and the export carry the same records, field for field
    shown = {
        json.loads(line)["seq"]: json.loads(line)
        for line in cli_ok("log", "--json", "-n", "0").stdout.splitlines()
    }
    bodies = {json.loads(str(log.body))["seq"]: json.loads(str(log.body)) for log in receiver.logs}
    assert bodies and set(bodies) <= set(shown)
    for seq, body in bodies.items():
        assert body == shown[seq]
    assert any(b.get("event") == "inject" for b in bodies.values())
