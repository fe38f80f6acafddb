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
from mcpcred.shim.resolve import resolver, wanted

HEADERS_USAGE = """usage: mcpcred headers [--server NAME] [--client ID] [--timeout SECONDS]
                       --header 'Name: value' [--header 'Name: value']...

Print the headers as one JSON object, with mcpcred: references in their values
resolved from the keychain (or a password manager), for a client's headers helper
(Claude Code's headersHelper); `mcpcred wrap` writes that entry. See docs/remote.md.

Example: mcpcred headers --server linear --header 'Authorization: Bearer mcpcred:secret/linear'
"""


def main(args: list[str]) -> int:
    """Print the headers as a JSON object; on failure one line on stderr, exit non-zero."""
    if args[:1] in (["-h"], ["--help"]):
        sys.stdout.write(HEADERS_USAGE)
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
        lookup = resolver(refs, options, os.environ) if refs else None
        out = {
            name: references.substitute(value, lookup) if lookup else value for name, value in pairs
        }
    except McpcredError as exc:
        hint = f" (hint: {exc.hint})" if exc.hint else ""
        sys.stderr.write(f"error: mcpcred headers: {exc.message}{hint}\n")
        return exc.exit_code
    sys.stdout.write(json.dumps(out) + "\n")
    return 0
