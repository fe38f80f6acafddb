"""Real MCP parts for end-to-end tests: a reference server and three real clients.

- ``everything_js()``: ``@modelcontextprotocol/server-everything`` (its ``get-env``
  tool returns the server's whole environment as JSON text);
- ``sdk_call_tool``: the official MCP Python SDK stdio client, in a subprocess;
- ``inspector_call_tool``: the MCP Inspector CLI (``mcp-inspector --cli``);
- ``codex_call_tool`` / ``CodexAppServer``: ``codex app-server``, so Codex itself
  starts the servers of ``$CODEX_HOME/config.toml`` and calls a tool.

The SDK and the Inspector hand a server only HOME LOGNAME PATH SHELL TERM USER
plus the entry's ``env``; Codex adds LANG, PWD and CA-bundle variables. That
scrubbing is part of what the tests exercise, so nothing here adds variables.

``./scripts/test`` installs the npm parts into ``.cache/real-clients`` and sets
``MCPCRED_REAL_SERVERS`` and ``MCPCRED_REAL_CLIENTS``; a missing part fails the
test (never skips it): CI always has them.

Every client runs in its own session and, when it is done or timed out, whatever
is left of that session (a server a client left orphaned) is killed by pid, so
no test leaves a process behind or hangs on a pipe an orphan still holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODULES = REPO / ".cache" / "real-clients" / "node_modules"
EVERYTHING = ("@modelcontextprotocol", "server-everything", "dist", "index.js")


def _missing(what: str) -> NoReturn:
    pytest.fail(
        f"{what} is not installed: run ./scripts/test, which installs the real MCP parts from "
        "npm into .cache/real-clients and sets MCPCRED_REAL_SERVERS and MCPCRED_REAL_CLIENTS",
        pytrace=False,
    )


def node_modules() -> Path:
    """The ``node_modules`` folder holding the npm MCP servers."""
    return Path(os.environ.get("MCPCRED_REAL_SERVERS") or DEFAULT_MODULES)


def everything_js() -> str:
    """Absolute path of server-everything's ``dist/index.js`` (run it as ``node JS stdio``)."""
    if shutil.which("node") is None:
        _missing("node (needed by server-everything)")
    path = node_modules().joinpath(*EVERYTHING).resolve()
    if not path.is_file():
        _missing(f"@modelcontextprotocol/server-everything ({path})")
    return str(path)


def everything_entry(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A Claude-Desktop-style entry running server-everything over stdio."""
    entry: dict[str, Any] = {"command": "node", "args": [everything_js(), "stdio"]}
    if env is not None:
        entry["env"] = dict(env)
    return entry


def _client_bin(name: str) -> str:
    directory = os.environ.get("MCPCRED_REAL_CLIENTS") or str(DEFAULT_MODULES / ".bin")
    path = Path(directory) / name
    if not path.exists():
        _missing(f"real client '{name}' ({path})")
    return str(path)


def inspector_bin() -> str:
    """The MCP Inspector CLI launcher (``mcp-inspector``)."""
    return _client_bin("mcp-inspector")


def codex_bin() -> str:
    """The Codex CLI launcher (``codex``)."""
    return _client_bin("codex")


# -- process handling ---------------------------------------------------------------------


def _session_members(sid: int) -> list[int]:
    """Live (non-zombie) processes of session ``sid``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # state ppid pgrp session ...
        if len(fields) > 3 and fields[3] == str(sid) and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _kill_session(sid: int) -> None:
    """SIGKILL every process still in the session a client was started in."""
    if not Path("/proc").is_dir():  # not Linux: at least the process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(sid, signal.SIGKILL)
        return
    for pid in _session_members(sid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@dataclass
class ClientRun:
    """One finished client process."""

    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False

    def json(self) -> Any:
        """stdout parsed as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            return None

    @property
    def text(self) -> str:
        """The text content of a ``tools/call`` result printed on stdout (else stdout)."""
        parsed = self.json()
        if isinstance(parsed, dict) and isinstance(parsed.get("content"), list):
            return content_text(parsed)
        return self.stdout


def _run(
    argv: Sequence[str],
    *,
    input: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float,
) -> ClientRun:
    """Run a client in a new session; kill what is left of the session when it ends."""
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ if env is None else env),
        cwd=cwd,
        start_new_session=True,
    )
    chunks: dict[str, str] = {"stdout": "", "stderr": ""}

    def drain(name: str, stream: IO[str]) -> None:
        with stream:
            chunks[name] = stream.read()

    assert proc.stdout is not None and proc.stderr is not None
    readers = [
        threading.Thread(target=drain, args=("stdout", proc.stdout), daemon=True),
        threading.Thread(target=drain, args=("stderr", proc.stderr), daemon=True),
    ]
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        if input is not None:
            assert proc.stdin is not None
            with contextlib.suppress(BrokenPipeError), proc.stdin:
                proc.stdin.write(input)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_session(proc.pid)  # the client if it hangs, and any server it orphaned
        proc.wait()
        for reader in readers:
            reader.join(timeout=15)
    stderr = chunks["stderr"]
    if timed_out:
        stderr += f"\n[test harness] {argv[0]} did not finish within {timeout}s and was killed"
    if any(reader.is_alive() for reader in readers):
        stderr += "\n[test harness] an output pipe stayed open (a process outside the session?)"
    return ClientRun(proc.returncode, chunks["stdout"], stderr, timed_out)


def content_text(result: Mapping[str, Any]) -> str:
    """Join the text items of a ``tools/call`` result (or of a JSON-RPC response holding one)."""
    if "result" in result and isinstance(result["result"], Mapping):
        result = result["result"]
    return "\n".join(
        str(item.get("text", ""))
        for item in result.get("content") or []
        if isinstance(item, Mapping) and item.get("type") == "text"
    )


# -- config files -------------------------------------------------------------------------


def _strip_jsonc(text: str) -> str:
    """Drop ``//`` and ``/* */`` comments, then trailing commas, outside strings."""
    return _drop_trailing_commas(_drop_comments(text))


def _drop_comments(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        char = text[i]
        if in_string:
            if char == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _drop_trailing_commas(text: str) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        char = text[i]
        if in_string:
            if char == "\\":
                out.append(text[i : i + 2])
                i += 2
                continue
            in_string = char != '"'
        elif char == '"':
            in_string = True
        elif char == ",":
            rest = text[i + 1 :].lstrip()
            if rest[:1] in ("]", "}"):
                i += 1
                continue
        out.append(char)
        i += 1
    return "".join(out)


def read_entry(
    config_path: str | os.PathLike[str], server: str, *, config_key: str = "mcpServers"
) -> dict[str, Any]:
    """The entry ``config_key.server`` of a JSON or JSONC client config."""
    text = Path(config_path).read_text(encoding="utf-8")
    try:
        data = json.loads(text)
    except ValueError:
        data = json.loads(_strip_jsonc(text))
    servers = data.get(config_key)
    if not isinstance(servers, dict) or server not in servers:
        names = sorted(servers) if isinstance(servers, dict) else []
        raise AssertionError(
            f"{config_path}: no server '{server}' under '{config_key}' (found: {names})"
        )
    entry: dict[str, Any] = servers[server]
    return entry


# -- the MCP Python SDK -------------------------------------------------------------------

_SDK_CLIENT = r"""
import asyncio, json, sys

async def call(request):
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    entry = request["entry"]
    if "command" not in entry:
        raise ValueError("not a stdio entry (no 'command'): %s" % sorted(entry))
    params = StdioServerParameters(
        command=entry["command"],
        args=[str(arg) for arg in entry.get("args") or []],
        env=entry.get("env"),
        cwd=entry.get("cwd") or request.get("cwd"),
    )
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            # model_dump(by_alias=True): camelCase keys on mcp 1.x and 2.x alike
            init = (await session.initialize()).model_dump(mode="json", by_alias=True)
            result = await session.call_tool(request["tool"], request["arguments"])
            return init, result.model_dump(mode="json", by_alias=True)

def leaves(exc):
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in leaves(inner)]
    return [exc]

request = json.load(sys.stdin)
try:
    init, result = asyncio.run(asyncio.wait_for(call(request), request["timeout"]))
    report = {
        "ok": True,
        "is_error": bool(result.get("isError")),
        "text": [c.get("text", "") for c in result.get("content") or [] if c.get("type") == "text"],
        "error": None,
        "server_info": init.get("serverInfo"),
        "structured": result.get("structuredContent"),
    }
except BaseException as exc:
    errors = []
    for leaf in leaves(exc):
        if isinstance(leaf, TimeoutError) and not str(leaf):
            errors.append("TimeoutError: no answer within %ss" % request["timeout"])
        else:
            errors.append("%s: %s" % (type(leaf).__name__, leaf))
    report = {"ok": False, "is_error": None, "text": [], "error": "; ".join(errors)}
sys.stdout.write(json.dumps(report) + "\n")
sys.stdout.flush()
sys.exit(0 if report["ok"] else 1)
"""


@dataclass
class ToolResult:
    """What the SDK client reported: ``ok`` (the call completed), ``is_error`` (tool error)."""

    returncode: int
    stdout: str
    stderr: str
    ok: bool
    is_error: bool | None
    text: list[str] = field(default_factory=list)
    error: str | None = None
    server_info: dict[str, Any] | None = None
    structured: Any = None
    timed_out: bool = False

    @property
    def joined(self) -> str:
        """All text items, one per line."""
        return "\n".join(self.text)


def sdk_call_tool_entry(
    entry: Mapping[str, Any],
    tool: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ToolResult:
    """Start ``entry`` (``command``/``args``/``env``/``cwd``) with the MCP SDK and call ``tool``.

    The client runs with ``env`` (default: this process's environment) in ``cwd``;
    the server gets what the SDK gives it: its default variables plus ``entry["env"]``.
    """
    request = {
        "entry": dict(entry),
        "tool": tool,
        "arguments": dict(arguments or {}),
        "timeout": timeout,
        "cwd": None if cwd is None else str(cwd),
    }
    run = _run(
        [sys.executable, "-c", _SDK_CLIENT],
        input=json.dumps(request),
        env=env,
        cwd=cwd,
        timeout=timeout + 30,  # the script's own wait_for fires first; this is the backstop
    )
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    try:
        report = json.loads(lines[-1]) if lines else None
    except ValueError:
        report = None
    if not isinstance(report, dict):
        report = {
            "ok": False,
            "is_error": None,
            "text": [],
            "error": f"SDK client gave no report (exit {run.returncode}): {run.stderr[-1500:]}",
        }
    return ToolResult(
        returncode=run.returncode,
        stdout=run.stdout,
        stderr=run.stderr,
        ok=bool(report.get("ok")),
        is_error=report.get("is_error"),
        text=list(report.get("text") or []),
        error=report.get("error"),
        server_info=report.get("server_info"),
        structured=report.get("structured"),
        timed_out=run.timed_out,
    )


def sdk_call_tool(
    config_path: str | os.PathLike[str],
    server: str,
    tool: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60,
    env: Mapping[str, str] | None = None,
    config_key: str = "mcpServers",
    cwd: str | os.PathLike[str] | None = None,
) -> ToolResult:
    """``sdk_call_tool_entry`` for the entry ``config_key.server`` of a JSON/JSONC config."""
    entry = read_entry(config_path, server, config_key=config_key)
    return sdk_call_tool_entry(entry, tool, arguments, timeout=timeout, env=env, cwd=cwd)


# -- the MCP Inspector CLI ----------------------------------------------------------------


def inspector_call_tool(
    config_path: str | os.PathLike[str],
    server: str,
    tool: str,
    *,
    arguments: Mapping[str, Any] | None = None,
    timeout: float = 90,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ClientRun:
    """``mcp-inspector --cli --config CONFIG --server NAME --method tools/call --tool-name TOOL``.

    The config must have a top-level ``mcpServers`` (the Inspector reads no other
    shape). Exit 1 on error, 4 on connect timeout; the JSON result is on stdout
    (``ClientRun.text`` joins its text items). The Inspector's secret store is kept
    in memory, so it never touches the machine's keychain.
    """
    argv = [
        inspector_bin(),
        "--cli",
        "--config",
        str(config_path),
        "--server",
        server,
        "--method",
        "tools/call",
        "--tool-name",
        tool,
    ]
    for key, value in (arguments or {}).items():
        argv += ["--tool-arg", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    environment = {**os.environ, **(env or {}), "MCP_INSPECTOR_SECRET_STORE": "memory"}
    return _run(argv, env=environment, cwd=cwd, timeout=timeout)


# -- codex app-server ---------------------------------------------------------------------


class CodexError(AssertionError):
    """codex app-server did not answer as expected."""


class CodexAppServer:
    """``codex app-server`` over stdio JSON-RPC (one JSON object per line), as a context.

    With ``CODEX_HOME=codex_home``, Codex reads ``codex_home/config.toml`` and starts
    its MCP servers itself. Needs no login and no network. On exit the app-server
    gets EOF on stdin (it then stops its servers), and anything left of its session
    is killed; the reader thread is joined.
    """

    def __init__(
        self,
        codex_home: str | os.PathLike[str],
        *,
        timeout: float = 90,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.codex_home = Path(codex_home)
        self.timeout = timeout
        self.env = {**os.environ, **(env or {}), "CODEX_HOME": str(self.codex_home)}
        self.cwd = cwd
        self.notifications: list[dict[str, Any]] = []
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._stderr: IO[str] | None = None
        self._next_id = 0
        self._deadline = 0.0
        self.stderr = ""

    def __enter__(self) -> CodexAppServer:
        if not self.codex_home.is_dir():
            raise CodexError(f"CODEX_HOME {self.codex_home} must exist (with a config.toml)")
        binary = codex_bin()
        self._deadline = time.monotonic() + self.timeout
        self._stderr = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self._proc = subprocess.Popen(
            [binary, "app-server"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,  # a file: nobody has to drain it
            text=True,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            self.request(
                "initialize",
                {"clientInfo": {"name": "mcpcred-tests", "title": "mcpcred tests", "version": "0"}},
            )
            self.notify("initialized")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _send(self, message: dict[str, Any]) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise CodexError(f"codex app-server is gone: {self._stderr_tail()}") from exc

    def notify(self, method: str, params: Mapping[str, Any] | None = None) -> None:
        """Send a notification (no answer)."""
        message: dict[str, Any] = {"method": method}
        if params is not None:
            message["params"] = dict(params)
        self._send(message)

    def request(self, method: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Send a request; return its response message (``result`` or ``error``)."""
        request_id = self._next_id
        self._next_id += 1
        self._send({"id": request_id, "method": method, "params": dict(params or {})})
        while True:
            remaining = self._deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                raise CodexError(
                    f"codex app-server: no answer to {method} within {self.timeout}s: "
                    f"{self._stderr_tail()}"
                ) from None
            if line is None:
                self._lines.put(None)  # keep reporting EOF
                raise CodexError(
                    f"codex app-server closed stdout before answering {method}: "
                    f"{self._stderr_tail()}"
                )
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if "method" in message:  # a notification (or a request from the server)
                self.notifications.append(message)
            elif message.get("id") == request_id:
                response: dict[str, Any] = message
                return response

    def start_thread(self) -> str:
        """An ephemeral thread (``mcpServer/tool/call`` needs one); returns its id."""
        response = self.request("thread/start", {"ephemeral": True})
        if "result" not in response:
            raise CodexError(f"thread/start failed: {response}")
        thread_id: str = response["result"]["thread"]["id"]
        return thread_id

    def call_tool(
        self,
        server: str,
        tool: str,
        arguments: Mapping[str, Any] | None = None,
        *,
        thread_id: str | None = None,
    ) -> dict[str, Any]:
        """``mcpServer/tool/call``; returns the response message.

        ``{"result": {"content": [...], "isError": ...}}`` when the call reached the
        server, ``{"error": {"message": "failed to get client: MCP startup failed: ..."}}``
        when the server did not start.
        """
        return self.request(
            "mcpServer/tool/call",
            {
                "threadId": thread_id or self.start_thread(),
                "server": server,
                "tool": tool,
                "arguments": dict(arguments or {}),
            },
        )

    def server_status(self) -> dict[str, Any]:
        """``mcpServerStatus/list``: result with ``data``, one item per server.

        An item has ``serverInfo`` and ``tools`` when its server started, ``toolsError``
        when it did not.
        """
        response = self.request("mcpServerStatus/list", {})
        if "result" not in response:
            raise CodexError(f"mcpServerStatus/list failed: {response}")
        result: dict[str, Any] = response["result"]
        return result

    def _stderr_tail(self) -> str:
        if self._stderr is None or self._stderr.closed:
            return self.stderr[-1500:]
        self._stderr.flush()
        self._stderr.seek(0)
        text = self._stderr.read()
        return text[-1500:]

    def close(self) -> None:
        """Stop the app-server (EOF, then SIGTERM, then SIGKILL) and everything it started."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ValueError, OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=5)  # on EOF it stops its MCP servers and exits
        except subprocess.TimeoutExpired:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        finally:
            _kill_session(proc.pid)
            proc.wait()
            if self._reader is not None:
                self._reader.join(timeout=15)
            if proc.stdout is not None:
                proc.stdout.close()
            if self._stderr is not None:
                self.stderr = self._stderr_tail()
                self._stderr.close()


def codex_call_tool(
    codex_home: str | os.PathLike[str],
    server: str,
    tool: str,
    arguments: Mapping[str, Any] | None = None,
    *,
    timeout: float = 90,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Have Codex start ``server`` from ``codex_home/config.toml`` and call ``tool``.

    Returns the JSON-RPC response message (see ``CodexAppServer.call_tool``);
    ``content_text(response)`` joins its text.
    """
    with CodexAppServer(codex_home, timeout=timeout, env=env, cwd=cwd) as codex:
        return codex.call_tool(server, tool, arguments)


def codex_server_status(
    codex_home: str | os.PathLike[str],
    *,
    timeout: float = 90,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """``mcpServerStatus/list`` of the servers in ``codex_home/config.toml``."""
    with CodexAppServer(codex_home, timeout=timeout, env=env, cwd=cwd) as codex:
        return codex.server_status()
