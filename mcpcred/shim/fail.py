"""Failing so the user sees why: one stderr line, and a JSON-RPC error in the client.

A client that starts a server and gets no ``initialize`` answer shows a bare
"server disconnected"; most users never find the server's stderr. So when the
shim cannot start the server, it reads the client's first request and, if it
is ``initialize``, answers it with an error carrying the same message, then
exits. It waits a bounded time and never blocks on a terminal.
"""

from __future__ import annotations

import os
import sys

from mcpcred.errors import McpcredError

JSONRPC_SERVER_ERROR = -32000
WAIT_SECONDS = 5.0


def report(error: McpcredError, label: str | None = None) -> int:
    """Tell the user and the client; return the exit code."""
    text = f"mcpcred shim: {label}: {error.message}" if label else f"mcpcred shim: {error.message}"
    if error.hint:
        text += f" (hint: {error.hint})"
    from mcpcred.terminal import printable  # only failures need it

    text = printable(text)  # the label and the message name servers from the client's config
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()
    import json  # only failures need it

    request_id = _initialize_id()
    if request_id is not None:
        answer = {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": JSONRPC_SERVER_ERROR, "message": text},
        }
        try:
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
        except OSError:
            pass
    return error.exit_code


def _initialize_id() -> object | None:
    """The id of the client's ``initialize`` request, if one arrives soon."""
    try:
        if sys.stdin is None or sys.stdin.isatty():
            return None
        line = _read_line(WAIT_SECONDS)
    except (OSError, ValueError):
        return None
    if not line:
        return None
    import json

    try:
        message = json.loads(line)
    except ValueError:
        return None
    if isinstance(message, dict) and message.get("method") == "initialize" and "id" in message:
        request_id: object = message["id"]
        return request_id
    return None


def _read_line(timeout: float) -> str | None:
    if sys.platform == "win32":  # pragma: no cover - no select() on pipes there
        import threading

        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(sys.stdin.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        return box[0] if box else None
    import select

    fd = sys.stdin.fileno()
    buffer = b""
    deadline_left = timeout
    import time

    end = time.monotonic() + timeout
    while b"\n" not in buffer and deadline_left > 0:
        ready, _, _ = select.select([fd], [], [], deadline_left)
        if not ready:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buffer += chunk
        deadline_left = end - time.monotonic()
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace") if buffer else None
