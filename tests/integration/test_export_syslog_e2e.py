"""Issue 16: a guarded call through a real ``mcpcred shim`` (server-everything, the real
gnome-keyring) reaches a real rsyslogd within a second, as RFC 5424 that rsyslog parses,
with nothing secret in it and the same fields as ``mcpcred log --json``.

The shim finds ``[[log.export]] kind = "syslog"`` in the config and starts the export
worker (``mcpcred.export.worker``), which builds the syslog sink from the URL.
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
from tests.support import rsyslog as rs
from tests.support.export_session import delivery_script, stop_workers

if TYPE_CHECKING:
    pass

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(rs.available() is not None, reason=str(rs.available())),
]

SD_ID = "mcpcred@32473"


@pytest.mark.parametrize("kind", ["tls", "udp"])
def test_a_guarded_call_reaches_rsyslog_within_a_second(
    guarded: Guarded, tmp_path: Path, kind: str
) -> None:
    token = tokengen.generate("github-pat", random.Random("syslog-e2e"))
    injected = tokengen.generate("github-pat", random.Random("syslog-e2e-injected"))
    real_keychain.store(guarded.entry_env, "mcpcred", "gh", injected)
    receiver = rs.Rsyslog.start(tmp_path / "rsyslog")
    table = f'[[log.export]]\nkind = "syslog"\nurl = "{receiver.url(kind)}"\n'
    if kind == "tls":
        table += f'ca_file = "{receiver.certs["ca"]}"\n'
    guarded.write_config('[servers.everything]\ndeny = ["get-env"]\n\n' + table)
    params = shim_params(
        guarded,
        "everything",
        ["node", mcp_parts.everything_js(), "stdio"],
        env={"GITHUB_TOKEN": "mcpcred:secret/gh", "MCPCRED_EXPORT_IDLE": "1"},
    )

    def arrived(tool: str, count: int) -> bool:
        found = 0
        for message in receiver.messages(kind, tool):
            params = message["parsed"].get(SD_ID, {})  # type: ignore[union-attr]
            found += params.get("event") == "call" and params.get("tool") == tool
        return found >= count

    try:
        script = delivery_script(call, arrived, token)  # get-env is denied
        took, stderr = run_session(params, script, tmp_path / "err")
        assert took < 1.0, f"{took:.2f} s from the call to rsyslog"
    finally:
        stop_workers(guarded.runtime)
        receiver.stop()

    assert "audit export not started" not in stderr, stderr
    raw = b"".join((receiver.folder / f"{kind}.jsonl").read_bytes().splitlines())
    for secret in (token, injected, token[:16], injected[:16]):
        assert secret.encode() not in raw, secret[:8]
    messages = receiver.messages(kind)
    assert all(m["version"] == "1" and m["app"] == "mcpcred" for m in messages)
    denied = [m for m in messages if m["parsed"][SD_ID].get("tool") == "get-env"]  # type: ignore[index]
    assert {m["severity"] for m in denied if m["msgid"] == "call"} == {"warning"}
    # `mcpcred log --json` and the export carry the same records, field for field
    shown = {
        json.loads(line)["seq"]: json.loads(line)
        for line in cli_ok("log", "--json", "-n", "0").stdout.splitlines()
    }
    sent = {int(m["parsed"][SD_ID]["seq"]): m for m in messages}  # type: ignore[index]
    assert sent and set(sent) <= set(shown)
    for seq, message in sent.items():
        params = message["parsed"][SD_ID]  # type: ignore[index]
        record = shown[seq]
        if "dropped" in params:  # UDP's 2048 bytes: whole fields from the end, never cut
            assert kind == "udp"
            assert len(params) - 1 + int(params["dropped"]) == len(record)
        else:
            assert set(params) == set(record)
        for key, value in record.items():
            if key in params:  # strings as they are, anything else as JSON
                sent_value = params[key] if isinstance(value, str) else json.loads(params[key])
                assert sent_value == value, key
        assert message["msgid"] == record["event"]
        assert message["timestamp"] == record["time"]
    assert any(m["msgid"] == "inject" for m in messages)
