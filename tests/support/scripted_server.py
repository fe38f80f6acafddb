"""A tiny, scriptable stdio MCP server for relay tests and benchmarks (standard library only).

Run it as ``python tests/support/scripted_server.py [OPTIONS]``. It speaks raw
newline-delimited JSON-RPC on stdin/stdout, with no MCP SDK, so it starts in
about the time of ``python -c pass`` and answers in microseconds.

Methods: ``initialize`` (echoes the client's ``protocolVersion``; ``serverInfo.name``
is ``scripted``), ``notifications/initialized`` and every other notification
(ignored), ``ping``, ``tools/list``, ``tools/call``; any other method gets
JSON-RPC error -32601. A batch (JSON array) gets an array of answers. A line that
is not JSON (or not UTF-8) gets -32700 with ``id: null``; JSON that is not a
request gets -32600. Messages with an ``id`` and no ``method`` (answers to the
server's own requests) are only consumed, by ``ask``.

Tools (``tools/call``):

- ``echo(message)``: a text content holding ``message``;
- ``big(bytes)``: one text content of exactly ``bytes`` ASCII bytes, ``big_text(n)``
  (deterministic, not periodic at any small period); the whole answer is
  ``big_response(id, n)``, byte for byte;
- ``sleep(seconds)``: answers ``slept`` after that long;
- ``crash(code)``: exits at once with ``code``, without answering;
- ``get_env(name, form, error)``: the variable's value, or ``<unset>``; ``form``
  ``base64``, ``basic`` (``Basic`` and the base64 of ``x-access-token:VALUE``) or
  ``url`` (percent-encoded) encodes it first; ``error: true`` answers a JSON-RPC
  error whose message holds it (a server quoting its configuration);
- ``list_things()``, ``get_thing(name)``, ``delete_thing(name)``: a little
  in-memory store (``alpha``, ``beta``, ``gamma``) for policy tests;
- ``say(text)``: writes ``text`` and a newline to stderr, answers ``said``;
- ``emit(lines)``: writes each base64-decoded item of ``lines`` followed by a
  newline to stdout, then answers ``emitted N`` (server-to-client fuzzing);
- ``ask(method)``: sends the request ``{"jsonrpc":"2.0","id":"srv-N","method":METHOD}``
  to the client, waits for the answer with that id, and answers with that answer's
  JSON as text.

Options (also read, shell-split, from ``$SCRIPTED_SERVER_OPTS`` before argv):

- ``--tools-file PATH``: ``tools/list`` returns the tools in this file, read again
  on every call: an object with ``tools`` is parsed; a list (the file starts with
  ``[``) is spliced into the answer as raw bytes, unparsed, so a test can serve
  definitions that only a lenient JSON parser reads (invalid UTF-8, deep nesting);
  a file whose first line is ``#answer`` holds the whole answer line instead, with
  ``@ID@`` standing for the request's id (for answers shaped like no SDK writes them);
- ``--ignore-term``: ignore SIGTERM; ``--ignore-eof``: keep running after stdin
  ends, until killed;
- ``--stderr TEXT``: write TEXT and a newline to stderr at start;
- ``--notify-on-start``: on ``initialize``, send a ``notifications/message``
  notification before the answer;
- ``--record PATH``: append every line received, raw (newline included), to PATH;
- ``--record-out PATH``: append everything written to stdout, raw, to PATH;
- ``--pid-file PATH``: write the server's pid to PATH at start;
- SIGTERM, SIGINT and SIGHUP kill the process (their default action, set explicitly so
  that a runner that ignores one does not change it), except SIGTERM with
  ``--ignore-term``. The kernel decides that exit status the moment it delivers the
  signal, so a server that is not scheduled for a while still dies of that signal, not
  of a SIGKILL that follows it;
- ``--page-size N``: ``tools/list`` answers in pages of N tools (``nextCursor`` is the
  index of the next page's first tool, as a string);
- ``--grandchild PATH``: start ``sleep 600`` (sharing this process's group, stdout and
  stderr) and write its pid to PATH, like a launcher that leaves a process behind.

Every answer is written with a single write and a flush to ``sys.stdout.buffer``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # not imported when it runs as the server: it starts fast
    import subprocess
    from collections.abc import Mapping, Sequence
    from pathlib import Path

PROTOCOL = "2025-06-18"
THINGS = ("alpha", "beta", "gamma")
_BLOCK_LEN = 1_000_003  # a prime: no relay buffer size is a multiple of it

# Tools that tests also serve from a ``--tools-file`` of their own.
ECHO: dict[str, Any] = {
    "name": "echo",
    "description": "Echo the message back.",
    "inputSchema": {
        "type": "object",
        "properties": {"message": {"type": "string"}},
        "required": ["message"],
    },
}
LIST_THINGS: dict[str, Any] = {
    "name": "list_things",
    "description": "List the things.",
    "inputSchema": {"type": "object", "properties": {}},
}
DELETE_THING: dict[str, Any] = {
    "name": "delete_thing",
    "description": "Delete one thing.",
    "inputSchema": {
        "type": "object",
        "properties": {"name": {"type": "string"}},
        "required": ["name"],
    },
}

TOOLS: list[dict[str, Any]] = [
    ECHO,
    {
        "name": "big",
        "description": "Return one text content of exactly `bytes` bytes.",
        "inputSchema": {
            "type": "object",
            "properties": {"bytes": {"type": "integer"}},
            "required": ["bytes"],
        },
    },
    {
        "name": "sleep",
        "description": "Sleep, then answer.",
        "inputSchema": {"type": "object", "properties": {"seconds": {"type": "number"}}},
    },
    {
        "name": "crash",
        "description": "Exit at once with `code`, without answering.",
        "inputSchema": {"type": "object", "properties": {"code": {"type": "integer"}}},
    },
    {
        "name": "get_env",
        "description": "The value of an environment variable.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    },
    LIST_THINGS,
    {
        "name": "get_thing",
        "description": "Read one thing.",
        "inputSchema": {
            "type": "object",
            "properties": {"name": {"type": "string"}},
            "required": ["name"],
        },
    },
    DELETE_THING,
    {
        "name": "say",
        "description": "Write a line to stderr.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}},
    },
    {
        "name": "emit",
        "description": "Write raw base64-decoded lines to stdout.",
        "inputSchema": {
            "type": "object",
            "properties": {"lines": {"type": "array", "items": {"type": "string"}}},
        },
    },
    {
        "name": "ask",
        "description": "Send a request to the client and return its answer.",
        "inputSchema": {"type": "object", "properties": {"method": {"type": "string"}}},
    },
]

_block_cache: list[bytes] = []
_text_cache: dict[int, bytes] = {}


def _block() -> bytes:
    if not _block_cache:
        digests = [
            hashlib.sha256(b"scripted-%d" % i).hexdigest().encode()
            for i in range(_BLOCK_LEN // 64 + 1)
        ]
        _block_cache.append(b"".join(digests)[:_BLOCK_LEN])
    return _block_cache[0]


def big_text(n: int) -> bytes:
    """``n`` bytes of lowercase hex: the text the ``big`` tool returns (no JSON escaping)."""
    cached = _text_cache.get(n)
    if cached is not None:
        return cached
    block = _block()
    whole, rest = divmod(n, len(block))
    text = block * whole + block[:rest]
    _text_cache.clear()  # keep one size only: a 50 MB text is enough to hold on to
    _text_cache[n] = text
    return text


def big_response(request_id: Any, n: int) -> bytes:
    """The exact line (newline included) the server writes for ``big(bytes=n)``."""
    head = b'{"jsonrpc":"2.0","id":%s,"result":{"content":[{"type":"text","text":"' % (
        json.dumps(request_id, separators=(",", ":")).encode()
    )
    return b"".join((head, big_text(n), b'"}],"isError":false}}\n'))


def encode(message: Any) -> bytes:
    """How the server serialises every other message: compact JSON and a newline."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class Options:
    def __init__(self) -> None:
        self.tools_file: str | None = None
        self.ignore_term = False
        self.ignore_eof = False
        self.stderr: str | None = None
        self.notify_on_start = False
        self.record: str | None = None
        self.record_out: str | None = None
        self.pid_file: str | None = None
        self.grandchild: str | None = None
        self.page_size: str | None = None


_VALUED = {
    "--tools-file": "tools_file",
    "--stderr": "stderr",
    "--record": "record",
    "--record-out": "record_out",
    "--pid-file": "pid_file",
    "--grandchild": "grandchild",
    "--page-size": "page_size",
}
_FLAGS = {
    "--ignore-term": "ignore_term",
    "--ignore-eof": "ignore_eof",
    "--notify-on-start": "notify_on_start",
}


def parse(args: list[str]) -> Options:
    options = Options()
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _FLAGS:
            setattr(options, _FLAGS[arg], True)
        elif arg in _VALUED and index + 1 < len(args):
            index += 1
            setattr(options, _VALUED[arg], args[index])
        else:
            sys.stderr.write(f"scripted_server: bad option {arg!r}\n")
            raise SystemExit(2)
        index += 1
    return options


class Server:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.out = sys.stdout.buffer
        self.stdin = sys.stdin.buffer
        self.things = {name: f"the {name} thing" for name in THINGS}
        self.asked = 0
        self.record = open(options.record, "ab", buffering=0) if options.record else None  # noqa: SIM115
        self.record_out = (
            open(options.record_out, "ab", buffering=0)  # noqa: SIM115
            if options.record_out
            else None
        )

    # --- io -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.record_out is not None:
            self.record_out.write(data)
        self.out.write(data)
        self.out.flush()

    def read_line(self) -> bytes:
        line = self.stdin.readline()
        if line and self.record is not None:
            self.record.write(line)
        return line

    def run(self) -> int:
        while True:
            line = self.read_line()
            if not line:
                break
            answer = self.handle_line(line)
            if answer is not None:
                self.write(answer)
        if self.options.ignore_eof:
            while True:
                time.sleep(3600)
        return 0

    # --- dispatch -------------------------------------------------------------------------

    def handle_line(self, line: bytes) -> bytes | None:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            return encode(error(None, -32700, "Parse error"))
        if isinstance(message, list):
            if not message:
                return encode(error(None, -32600, "Invalid Request: empty batch"))
            answers = [a for a in (self.handle(m) for m in message) if a is not None]
            return _batch(answers)
        answer = self.handle(message)
        if answer is None:
            return None
        return self.raw(answer)

    @staticmethod
    def raw(answer: Any) -> bytes:
        return answer if isinstance(answer, bytes) else encode(answer)

    def handle(self, message: Any) -> Any:
        """An answer (a dict, or the raw bytes of one), or None for none."""
        if not isinstance(message, dict):
            return error(None, -32600, "Invalid Request")
        has_id = "id" in message
        request_id = message.get("id")
        method = message.get("method")
        if "method" not in message:
            return None  # an answer to one of our requests (or junk): nothing to say
        if not isinstance(method, str):
            return error(request_id, -32600, "Invalid Request: method") if has_id else None
        if not has_id:
            return None  # a notification
        params = message.get("params")
        params = params if isinstance(params, dict) else {}
        if method == "initialize":
            if self.options.notify_on_start:
                self.write(
                    encode(
                        {
                            "jsonrpc": "2.0",
                            "method": "notifications/message",
                            "params": {"level": "info", "data": "scripted server starting"},
                        }
                    )
                )
            version = params.get("protocolVersion")
            return result(
                request_id,
                {
                    "protocolVersion": version if isinstance(version, str) else PROTOCOL,
                    "capabilities": {"tools": {"listChanged": True}},
                    "serverInfo": {"name": "scripted", "version": "1.0"},
                },
            )
        if method == "ping":
            return result(request_id, {})
        if method == "tools/list":
            raw = self.raw_tools()
            if raw is not None and raw.startswith(b"#answer"):
                encoded = json.dumps(request_id, separators=(",", ":")).encode()
                return raw[len(b"#answer") :].strip().replace(b"@ID@", encoded) + b"\n"
            if raw is not None:
                head = b'{"jsonrpc":"2.0","id":%s,"result":{"tools":' % (
                    json.dumps(request_id, separators=(",", ":")).encode()
                )
                return head + raw + b"}}\n"
            if self.options.page_size is not None:
                return self.page(request_id, params)
            return result(request_id, {"tools": self.tools()})
        if method == "tools/call":
            return self.call(request_id, params)
        return error(request_id, -32601, f"Method not found: {method}")

    def page(self, request_id: Any, params: dict[str, Any]) -> dict[str, Any]:
        """One page of the tools (``--page-size``): the cursor is the index it starts at."""
        assert self.options.page_size is not None
        size = int(self.options.page_size)
        cursor = params.get("cursor")
        start = int(cursor) if isinstance(cursor, str) and cursor.isdigit() else 0
        tools = self.tools()
        page: dict[str, Any] = {"tools": tools[start : start + size]}
        if start + size < len(tools):
            page["nextCursor"] = str(start + size)
        return result(request_id, page)

    def raw_tools(self) -> bytes | None:
        """The tools file's bytes when it holds a bare list (spliced unparsed), else None."""
        if self.options.tools_file is None:
            return None
        with open(self.options.tools_file, "rb") as handle:
            data = handle.read()
        stripped = data.strip()
        if stripped.startswith((b"[", b"#answer")):
            return stripped.replace(b"\n", b" ")
        return None

    def tools(self) -> list[Any]:
        if self.options.tools_file is None:
            return TOOLS
        with open(self.options.tools_file, "rb") as handle:
            loaded = json.load(handle)
        tools = loaded.get("tools", []) if isinstance(loaded, dict) else loaded
        return list(tools)

    def call(self, request_id: Any, params: dict[str, Any]) -> Any:
        name = params.get("name")
        args = params.get("arguments")
        args = args if isinstance(args, dict) else {}
        if name == "echo":
            return text(request_id, str(args.get("message", "")))
        if name == "big":
            size = args.get("bytes", 0)
            if not isinstance(size, int) or size < 0:
                return text(request_id, "bytes must be a non-negative integer", is_error=True)
            return big_response(request_id, size)
        if name == "sleep":
            seconds = args.get("seconds", 0)
            time.sleep(float(seconds) if isinstance(seconds, int | float) else 0.0)
            return text(request_id, "slept")
        if name == "crash":
            code = args.get("code", 1)
            os._exit(code if isinstance(code, int) else 1)
        if name == "get_env":
            value = _encoded(os.environ.get(str(args.get("name", "")), "<unset>"), args.get("form"))
            if args.get("error") is True:
                return error(request_id, -32000, f"cannot use the configured value {value}")
            return text(request_id, value)
        if name == "list_things":
            return text(request_id, json.dumps(sorted(self.things)))
        if name == "get_thing":
            key = str(args.get("name", ""))
            if key not in self.things:
                return text(request_id, f"no thing {key!r}", is_error=True)
            return text(request_id, self.things[key])
        if name == "delete_thing":
            key = str(args.get("name", ""))
            if self.things.pop(key, None) is None:
                return text(request_id, f"no thing {key!r}", is_error=True)
            return text(request_id, f"deleted {key}")
        if name == "say":
            sys.stderr.write(str(args.get("text", "")) + "\n")
            sys.stderr.flush()
            return text(request_id, "said")
        if name == "emit":
            lines = args.get("lines", [])
            data = b"".join(base64.b64decode(str(item)) + b"\n" for item in lines)
            self.write(data)
            return text(request_id, f"emitted {len(lines)}")
        if name == "ask":
            return self.ask(request_id, str(args.get("method", "roots/list")))
        return error(request_id, -32602, f"Unknown tool: {name!r}")

    def ask(self, request_id: Any, method: str) -> Any:
        self.asked += 1
        ask_id = f"srv-{self.asked}"
        self.write(encode({"jsonrpc": "2.0", "id": ask_id, "method": method}))
        while True:
            line = self.read_line()
            if not line:
                return text(request_id, "no answer: stdin closed", is_error=True)
            try:
                message = json.loads(line)
            except (ValueError, RecursionError):
                self.write(encode(error(None, -32700, "Parse error")))
                continue
            if (
                isinstance(message, dict)
                and message.get("id") == ask_id
                and "method" not in message
            ):
                return text(request_id, json.dumps(message, separators=(",", ":")))
            answer = self.handle(message)  # anything else meanwhile is served as usual
            if answer is not None:
                self.write(self.raw(answer))


class LineClient:
    """The client end of a stdio JSON-RPC connection: raw writes, newline framing, deadlines.

    For tests and benchmarks (not used by the server). ``write_fd`` is the server's (or
    the shim's) stdin, ``read_fd`` its stdout. ``read_line`` returns one line with its
    newline, or the bytes left before EOF (``b""`` when nothing is left), and raises
    ``TimeoutError`` when no whole line arrives in time; ``timeout=None`` blocks.
    """

    def __init__(self, write_fd: int, read_fd: int) -> None:
        self.write_fd = write_fd
        self.read_fd = read_fd
        self.rest = b""  # bytes read past the last line returned, from offset ``pos``
        self.pos = 0
        self.eof = False

    def send(self, data: bytes, timeout: float | None = 30.0) -> None:
        import select

        view = memoryview(data)
        deadline = None if timeout is None else time.monotonic() + timeout
        while view:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [self.write_fd], [], left)[1]:
                    raise TimeoutError(f"could not write {len(view)} more bytes in time")
            view = view[os.write(self.write_fd, view) :]

    def read_line(self, timeout: float | None = 30.0) -> bytes:
        import select

        rest, pos = self.rest, self.pos
        newline = rest.find(b"\n", pos)
        if newline >= 0:
            self.pos = newline + 1
            return rest[pos : newline + 1]
        parts = [rest[pos:]] if pos < len(rest) else []
        self.rest, self.pos = b"", 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.eof:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.read_fd], [], [], left)[0]:
                    self.rest = b"".join(parts)  # keep what came, for the next call
                    raise TimeoutError(
                        f"no whole line in time ({len(self.rest)} bytes of one so far)"
                    )
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                self.eof = True
                break
            newline = chunk.find(b"\n")
            if newline >= 0:
                parts.append(chunk[: newline + 1])  # the whole chunk itself when it ends there
                self.rest, self.pos = chunk, newline + 1
                return parts[0] if len(parts) == 1 else b"".join(parts)
            parts.append(chunk)
        return b"".join(parts)

    def read_message(self, timeout: float | None = 30.0) -> Any:
        """The next line, parsed; ``EOFError`` at end of output."""
        line = self.read_line(timeout)
        if not line:
            raise EOFError("the other side closed its output")
        return json.loads(line)

    def answer_to(self, request_id: Any, timeout: float = 30.0) -> tuple[Any, list[Any]]:
        """Read until the answer to ``request_id``; returns it and what came before it."""
        deadline = time.monotonic() + timeout
        before: list[Any] = []
        while True:
            message = self.read_message(max(0.0, deadline - time.monotonic()))
            if (
                isinstance(message, dict)
                and "method" not in message
                and message.get("id") == request_id
                and type(message.get("id")) is type(request_id)
            ):
                return message, before
            before.append(message)


def spawn(
    argv: Sequence[str], env: Mapping[str, str], stderr_path: Path
) -> tuple[subprocess.Popen[bytes], LineClient]:
    """Start ``argv`` (the server, or ``mcpcred shim`` around it) and a ``LineClient`` on it.

    For tests and benchmarks (not used by the server). Its stdin and stdout are unbuffered
    pipes, its stderr goes to the file ``stderr_path``, and it runs in a session of its own:
    no signal meant for the caller reaches it by accident, and a leftover is killed with
    its group.
    """
    import subprocess

    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
            bufsize=0,
            start_new_session=True,
        )
    assert process.stdin is not None and process.stdout is not None
    return process, LineClient(process.stdin.fileno(), process.stdout.fileno())


def _encoded(value: str, form: object) -> str:
    if form == "base64":
        return base64.b64encode(value.encode()).decode()
    if form == "basic":
        return "Basic " + base64.b64encode(b"x-access-token:" + value.encode()).decode()
    if form == "url":
        from urllib.parse import quote

        return quote(value, safe="")
    return value


def _batch(answers: list[Any]) -> bytes | None:
    if not answers:
        return None
    parts = [a[:-1] if isinstance(a, bytes) else encode(a)[:-1] for a in answers]
    return b"[" + b",".join(parts) + b"]\n"


def result(request_id: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "result": value}


def error(request_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def text(request_id: Any, value: str, *, is_error: bool = False) -> dict[str, Any]:
    content = [{"type": "text", "text": value}]
    return result(request_id, {"content": content, "isError": is_error})


def main(argv: list[str]) -> int:
    extra = os.environ.get("SCRIPTED_SERVER_OPTS")
    if extra:
        import shlex

        argv = shlex.split(extra) + argv
    options = parse(argv)
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)  # die of the signal, no KeyboardInterrupt
    if options.ignore_term:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if options.pid_file:
        with open(options.pid_file + ".tmp", "w") as handle:
            handle.write(str(os.getpid()))
        os.replace(options.pid_file + ".tmp", options.pid_file)
    if options.grandchild:
        import subprocess

        sleeper = subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL)
        with open(options.grandchild, "w") as handle:
            handle.write(str(sleeper.pid))
    if options.stderr is not None:
        sys.stderr.write(options.stderr + "\n")
        sys.stderr.flush()
    try:
        return Server(options).run()
    except BrokenPipeError:
        os._exit(0)  # the reader went away; nothing left to say


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
