"""``mcpcred headers``: print a remote server's HTTP headers with references resolved.

Remote MCP servers have no process to wrap; clients that can ask a command
for headers (Claude Code's ``headersHelper``) run this instead, and it prints
a JSON object of headers on stdout. The values come from the keychain at the
moment the client connects, so the file only holds references. Same fast path,
same keychain lookup and same error reporting as the shim.
"""

from __future__ import annotations

import json
import os
import sys

from mcpcred import references
from mcpcred.errors import McpcredError, ShimError
from mcpcred.shim.options import parse
from mcpcred.shim.resolve import resolve, wanted

USAGE = """usage: mcpcred headers [--server NAME] [--client ID] [--backend KEYRING_CLASS]
                       [--dbus-address ADDRESS] [--timeout SECONDS] [--allow-insecure-keyring]
                       --header 'Name: value' [--header 'Name: value']...

Print a remote MCP server's HTTP headers as one JSON object, with the mcpcred:secret/NAME
and mcpcred:oauth/NAME references in their values resolved from the keychain (and
mcpcred:pass/..., op/, bw/, vault/, cmd/ from those password managers: docs/stores.md).
Clients that ask a command for headers (Claude Code's headersHelper, Codex's
http_headers_helper) run it when they connect; `mcpcred wrap` writes these entries.
See docs/remote.md.

Example: mcpcred headers --server github --header 'Authorization: Bearer mcpcred:oauth/github'
"""


SERVER_URL_VARIABLE = "CLAUDE_CODE_MCP_SERVER_URL"


def _shown(url: str) -> str:
    """The server's URL as an error may show it: the bridge's form (origin and path, no
    query or user info), escaped, since the client took it from a file anyone may write."""
    from mcpcred.bridge.remote import shown_url
    from mcpcred.terminal import printable

    shown = printable(shown_url(url, url, lambda kind, name: ""))
    return shown if len(shown) <= 200 else "the server's URL"


def main(args: list[str]) -> int:
    """Print the headers as a JSON object; on failure one line on stderr, exit non-zero."""
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(USAGE)
        return 0
    try:
        options = parse(args, headers=True)
        pairs: list[tuple[str, str]] = []
        for header in options.headers:
            name, colon, value = header.partition(":")
            if not colon or not name.strip():
                raise ShimError(f"--header needs 'Name: value', got {name.strip()[:40]!r}")
            pairs.append((name.strip(), value.strip()))
        refs = wanted([v for _, v in pairs], {}, options.label())
        lookup = None
        if refs:
            # Claude Code names the server it asks headers for: a remote-server login's
            # token then goes only to the server it was issued for.
            server_url = os.environ.get(SERVER_URL_VARIABLE) or None
            found = resolve(refs, options, os.environ, audiences=server_url is not None)
            if server_url is not None:
                found.check_audiences(server_url, _shown(server_url))
            lookup = found.lookup
        out = {
            name: references.substitute(value, lookup) if lookup else value for name, value in pairs
        }
    except McpcredError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        sys.stderr.write(f"error: mcpcred headers: {exc.message}{hint}\n")
        return exc.exit_code
    sys.stdout.write(json.dumps(out) + "\n")
    return 0
