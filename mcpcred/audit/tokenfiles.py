"""OAuth tokens other tools keep in plain files: mcp-remote's ``~/.mcp-auth``.

mcp-remote (the usual stdio bridge in Claude Desktop, Cursor and others) saves
each server's OAuth tokens as plain JSON, ``<hash>_tokens.json`` under
``~/.mcp-auth/mcp-remote-<version>/`` (``MCP_REMOTE_CONFIG_DIR`` moves the
folder); older versions wrote them readable by every user. A refresh token
there is a long-lived credential to the user's account at that service, so a
machine scan reports each file, with the way out: ``mcpcred login
--import-mcp-remote`` takes the login over into the OS keychain, and ``mcpcred
wrap`` makes the client's entry use mcpcred's bridge instead of mcp-remote.

Only the token fields are read; the values never leave this module except as a
digest (for baselines) and a redacted prefix.
"""

from __future__ import annotations

import hashlib
import json
import os

from mcpcred.audit.secrets import redact
from mcpcred.host import Host
from mcpcred.models import Finding, Severity

RULE = "secret/mcp-remote-token-file"
TITLE = "OAuth tokens in mcp-remote's plain-text token file"
DESCRIPTION = (
    "mcp-remote keeps each remote server's OAuth access and refresh tokens as plain JSON in "
    "~/.mcp-auth/**/*_tokens.json (or under MCP_REMOTE_CONFIG_DIR). Anyone who can read the "
    "file can act as the user at that service until the refresh token is revoked; older "
    "versions wrote the files readable by every user. High with a refresh "
    "token or when others can read the file, medium for an access token alone."
)
FIX = (
    "Take the login over into the OS keychain with `mcpcred login --import-mcp-remote`, "
    "switch the client's entry to mcpcred's bridge with `mcpcred wrap CLIENT`, then delete "
    "the file"
)
MAX_FILES = 500
MAX_BYTES = 1024 * 1024
SUFFIX = "_tokens.json"


def folder(host: Host) -> str:
    """Where mcp-remote keeps its files on ``host``."""
    moved = host.var("MCP_REMOTE_CONFIG_DIR")
    return str(host.path(moved)) if moved else str(host.path(host.home, ".mcp-auth"))


def token_files(host: Host) -> list[str]:
    """Every ``*_tokens.json`` under mcp-remote's folder (bounded; links not followed)."""
    root = folder(host)
    found: list[str] = []
    if not os.path.isdir(root):
        return found
    for current, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(current, d)))
        for name in sorted(names):
            if name.endswith(SUFFIX):
                found.append(os.path.join(current, name))
                if len(found) >= MAX_FILES:
                    return found
    return found


def findings_for(path: str, display: str) -> list[Finding]:
    """The finding for one token file, if it holds a token (``display``: as shown)."""
    finding = _finding(path, display)
    return [] if finding is None else [finding]


def _finding(path: str, display: str) -> Finding | None:
    try:
        if os.path.islink(path):
            return None
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        return None
    if len(raw) > MAX_BYTES:
        return None
    try:
        text = raw.decode("utf-8")
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    refresh = data.get("refresh_token")
    access = data.get("access_token")
    token = next((t for t in (refresh, access) if isinstance(t, str) and t), None)
    if token is None:
        return None
    shared = os.name != "nt" and bool(mode & 0o044)
    severity = Severity.HIGH if (token is refresh or shared) else Severity.MEDIUM
    kind = "a refresh token" if token is refresh else "an access token"
    readable = f", readable by other users (mode {mode:o})" if shared else ""
    offset = text.find(json.dumps(token)[1:-1])
    before = text[: max(offset, 0)]
    line = before.count("\n") + 1
    column = len(before) - (before.rfind("\n") + 1) + 1
    return Finding(
        rule=RULE,
        severity=severity,
        path=display,
        line=line,
        column=column,
        message=f"mcp-remote keeps {kind} for a remote MCP server in plain text{readable}",
        client="mcp-remote",
        fix=FIX,
        evidence=redact(token),
        secret_digest=hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest(),
    )
