"""``WWW-Authenticate: Bearer ...`` challenges of MCP servers (RFC 6750 §3, RFC 9728 §5.1).

Standard library only: the bridge reads a 403 ``insufficient_scope`` or a 401 on its
hot path and must not pull in httpx for it; ``mcpcred login URL`` reads the first 401.
A challenge tells a client where the server's protected-resource metadata is
(``resource_metadata``) and which scopes the request needs (``scope``); both are
optional. ``error`` is not trusted to mean anything (the MCP SDK says
``invalid_token`` even when no token was sent).
"""

from __future__ import annotations

import re

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')


class Challenge:
    """The Bearer challenge's parameters that MCP authorization uses."""

    __slots__ = ("error", "resource_metadata", "scopes")

    def __init__(
        self,
        *,
        resource_metadata: str | None = None,
        scopes: tuple[str, ...] = (),
        error: str | None = None,
    ) -> None:
        self.resource_metadata = resource_metadata
        self.scopes = scopes
        self.error = error

    @property
    def insufficient_scope(self) -> bool:
        """A 403 step-up challenge: the token is good but lacks ``scopes``."""
        return self.error == "insufficient_scope"


def parse(header: str | None) -> Challenge | None:
    """The ``Bearer`` challenge in a ``WWW-Authenticate`` value; None when there is none.

    Other schemes in the same header (``Basic realm=...``, ``DPoP ...``) are skipped.
    """
    if not header:
        return None
    match = re.search(r"(?:^|,)\s*Bearer(?:\s+|$)", header, re.IGNORECASE)
    if match is None:
        return None
    params: dict[str, str] = {}
    rest = header[match.end() :]
    position = 0
    while position < len(rest):
        found = _PARAM.match(rest, position)
        if found is None or found.end() == position:
            break
        if re.match(r"\s*[A-Za-z0-9_-]+\s+[A-Za-z0-9_-]", rest[found.start() :]):
            break  # the next scheme starts here
        key = found.group(1).lower()
        value = found.group(2) if found.group(2) is not None else found.group(3)
        params.setdefault(key, re.sub(r"\\(.)", r"\1", value or ""))
        position = found.end()
    return Challenge(
        resource_metadata=params.get("resource_metadata") or None,
        scopes=tuple(params.get("scope", "").split()),
        error=params.get("error") or None,
    )


def step_up_message(login: str, challenge: Challenge) -> str:
    """The one line a client is shown for a 403 ``insufficient_scope``: what to run."""
    scopes = " ".join(challenge.scopes)
    if not scopes:
        return f"the server refused the call: the {login} login lacks a scope it needs"
    shown = scopes if len(challenge.scopes) == 1 else f'"{scopes}"'
    return (
        f"the server needs scope {scopes} for this call "
        f"(step-up): run mcpcred login {login} --scope {shown}"
    )
