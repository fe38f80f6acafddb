"""``mcpcred agent start|stop|status|serve``: the key agent of the encrypted file store.

``mcpcred store unlock`` starts the agent by itself; these commands are for
seeing and ending it, and for running it in the foreground (``serve``) to
watch what it does. Nothing here ever prints a key: the agent only says how
many it holds.
"""

from __future__ import annotations

import os
import sys

import typer

from mcpcred.cli.app import app
from mcpcred.errors import UsageError

agent_app = typer.Typer(
    help="The background process that holds the file store's key for this login session."
    + "\n\nExample: mcpcred agent status",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(agent_app, name="agent")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
IDLE_HELP = "Exit after this long without a key asked for or given: seconds, or e.g. 30m, 4h."


def idle_seconds(text: str | None) -> int | None:
    """``--idle-timeout`` as seconds (plain seconds or with an s/m/h/d unit), within limits."""
    from mcpcred.keychain.agent import MAX_IDLE_TIMEOUT

    if text is None:
        return None
    unit = text[-1:].lower()
    number = text[:-1] if unit in _UNITS else text
    try:
        seconds = int(number) * _UNITS.get(unit, 1)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= MAX_IDLE_TIMEOUT:
        raise UsageError(
            f"invalid --idle-timeout {text!r}",
            hint="give 1 second to 7 days, as seconds or with a unit: 90, 30m, 4h, 1d",
        )
    return seconds


def _checked_folder() -> None:
    """A folder others can enter is an error for every command, not "no agent"."""
    from mcpcred.keychain import agent

    folder = agent.agent_dir(os.environ)
    if os.path.isdir(folder):
        agent.check_folder(folder)


def _describe(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@agent_app.command("start")
def agent_start(
    idle_timeout: str | None = typer.Option(None, "--idle-timeout", help=IDLE_HELP),
) -> int:
    """Start the agent in the background (nothing happens if one runs already).

    Example: mcpcred agent start --idle-timeout 4h
    """
    from mcpcred.keychain import agent

    seconds = idle_seconds(idle_timeout)
    before = agent.status(os.environ)
    running = agent.ensure_running(os.environ, idle_timeout=seconds)
    verb = "already running" if before is not None else "started"
    sys.stderr.write(
        f"agent {verb}: pid {running.pid}, idle timeout {_describe(running.idle_timeout)}, "
        f"socket {running.socket}\n"
    )
    if before is not None and seconds is not None and seconds != before.idle_timeout:
        sys.stderr.write("hint: `mcpcred agent stop` first to change its idle timeout\n")
    return 0


@agent_app.command("stop")
def agent_stop() -> int:
    """Wipe the keys the agent holds and end it.

    Example: mcpcred agent stop
    """
    from mcpcred.keychain import agent

    _checked_folder()
    pid = agent.stop(os.environ)
    sys.stderr.write("no agent running\n" if pid is None else f"agent stopped (pid {pid})\n")
    return 0


@agent_app.command("status")
def agent_status(
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> int:
    """Whether the agent runs, how many keys it holds, and whether the kernel keyring works.

    Example: mcpcred agent status --json
    """
    from mcpcred.keychain import agent, kernel

    _checked_folder()
    running = agent.status(os.environ)
    keyring = kernel.available()
    if as_json:
        row: dict[str, object] = {
            "running": running is not None,
            "socket": agent.socket_path(os.environ),
            "kernel_keyring": keyring,
        }
        if running is not None:
            row.update(
                pid=running.pid,
                keys=running.keys,
                idle_timeout=running.idle_timeout,
                serves_reads=running.reads,
            )
        from mcpcred.terminal import write_json

        write_json(row)
        return 0
    if running is None:
        sys.stdout.write(f"agent: not running (socket {agent.socket_path(os.environ)})\n")
    else:
        sys.stdout.write(
            f"agent: running, pid {running.pid}, {running.keys} key(s), "
            f"idle timeout {_describe(running.idle_timeout)}, socket {running.socket}\n"
        )
        if not running.reads:  # shims still work with it, the slower way (they open the store)
            sys.stdout.write(
                "agent: started by an older mcpcred, it does not open the store for server "
                "starts (they are slower); `mcpcred agent stop`, then `mcpcred store unlock`\n"
            )
    sys.stdout.write("kernel keyring: " + ("available\n" if keyring else "not available here\n"))
    return 0


@agent_app.command("serve")
def agent_serve(
    idle_timeout: str | None = typer.Option(None, "--idle-timeout", help=IDLE_HELP),
    detach: bool = typer.Option(
        False, "--detach", help="Fork into the background once listening (what start uses)."
    ),
) -> int:
    """Run the agent in the foreground, logging to stderr (never a key), until idle or stopped.

    Example: mcpcred agent serve --idle-timeout 30m
    """
    from mcpcred.keychain import agent

    seconds = idle_seconds(idle_timeout) or agent.DEFAULT_IDLE_TIMEOUT

    def log(line: str) -> None:
        sys.stderr.write(f"mcpcred agent: {line}\n")
        sys.stderr.flush()

    return agent.serve(os.environ, seconds, detach=detach, log=log)
