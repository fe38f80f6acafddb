"""Which transport era a server speaks: the fallback order of the 2026-07-28 transport spec.

1. POST ``server/discover`` (with ``_meta`` and the modern headers): a result
   offering 2026-07-28 means the stateless era (``modern.Modern``).
2. Otherwise POST ``initialize`` without a session id -- the client's own, so the
   probe *is* the handshake and no extra session is made: success means the
   Streamable HTTP handshake era (``streamable.Streamable``).
3. If that fails with 400/404/405 (and no modern error), ``GET`` the URL expecting
   an ``endpoint`` event: legacy HTTP+SSE (``legacy_sse.LegacySse``).

401/403 are never era signals: the channel re-authenticates or fails the request.
``transport="http"`` skips step 3, ``"sse"`` goes straight to it. The verdict is
kept in memory for the life of the bridge (nothing is cached on disk).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from mcpcred.bridge import modern
from mcpcred.bridge.channel import Channel
from mcpcred.bridge.legacy_sse import LegacySse
from mcpcred.bridge.messages import Outbox
from mcpcred.bridge.streamable import Fallback, Streamable

Job = Callable[[], None]
PROBE_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": "mcpcred-probe",
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": modern.BRIDGE_INFO,
    },
}


class Era(Protocol):
    """What the facade needs from an era: route one client message, shut down."""

    def dispatch(self, msg: dict[str, Any], raw: bytes) -> Job | None: ...

    def close(self) -> None: ...


class Detector:
    """Finds the era on the first client message; remembers "not modern" across calls."""

    def __init__(
        self, channel: Channel, out: Outbox, warn: Callable[[str], None], transport: str
    ) -> None:
        self.channel = channel
        self.out = out
        self.warn = warn
        self.transport = transport
        self._not_modern = transport == "sse"
        self.candidate: Era | None = None  # the era being tried (its handshake answer may be out)

    def establish(self, msg: dict[str, Any]) -> tuple[Era | None, bool]:
        """``(era, consumed)``: the era (None when still unknown) and whether ``msg`` was handled.

        Raises ``Failure`` when the server cannot be reached or refuses us.
        """
        if not self._not_modern:
            discover = modern.probe(self.channel)
            if discover is not None:
                return modern.Modern(self.channel, self.out, self.warn, discover), False
            self._not_modern = True
        method = msg.get("method")
        if method == "server/discover" and "id" in msg:
            # a modern client probing a handshake-era server: "no such method" makes it
            # fall back to initialize, which then picks the transport
            self.out.error(msg["id"], "Method not found", code=-32601)
            return None, True
        if self.transport != "sse":
            era = Streamable(self.channel, self.out, self.warn)
            self.candidate = era
            is_init = method == "initialize" and "id" in msg
            try:
                era.open(msg if is_init else PROBE_INITIALIZE, swallow=not is_init)
            except Fallback:
                if self.transport == "http":
                    raise self.channel.fail(
                        "the server does not speak Streamable HTTP (initialize was refused);"
                        " try --transport sse"
                    ) from None
            else:
                return era, is_init
        sse = LegacySse(self.channel, self.out, self.warn)
        sse.connect()
        return sse, False
