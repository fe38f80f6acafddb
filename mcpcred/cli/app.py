"""The typer application: every command, its options and its help.

Commands parse options, call one service function and render its result.
Errors go through ``report.guarded``; typer's locals-in-tracebacks is off
because locals can hold tokens.
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.22 vendors click; older releases depend on it
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors  # type: ignore[no-redef,import-not-found,unused-ignore]

from mcpcred import __version__
from mcpcred.cli.report import debug_enabled, guarded, stderr
from mcpcred.errors import EXIT_INTERRUPTED, EXIT_USAGE

app = typer.Typer(
    name="mcpcred",
    help="Keep MCP server credentials out of client config files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"mcpcred {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks for unexpected errors (never includes locals)."
    ),
) -> None:
    """Keep MCP server credentials out of client config files."""


from mcpcred.cli import (  # noqa: E402  (commands register on `app`)
    agent_cmd,
    audit_cmd,
    clients_cmd,
    guard_cmd,
    log_cmd,
    login_cmd,
    pins_cmd,
    secret_cmd,
    status_cmd,
    store_cmd,
    wrap_cmd,
)

__all__ = [
    "agent_cmd",
    "app",
    "audit_cmd",
    "clients_cmd",
    "guard_cmd",
    "log_cmd",
    "login_cmd",
    "pins_cmd",
    "run",
    "secret_cmd",
    "status_cmd",
    "store_cmd",
    "wrap_cmd",
]


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; never lets an exception escape."""
    args = list(sys.argv[1:] if argv is None else argv)

    def body() -> int:
        try:
            result = app(args=args, prog_name="mcpcred", standalone_mode=False)
        except typer.Exit as exc:
            return int(exc.exit_code)
        except click_errors.NoArgsIsHelpError as exc:
            sys.stdout.write(exc.format_message() + "\n")
            return 0
        except click_errors.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "mcpcred"
            stderr(f"error: {exc.format_message()}")
            stderr(f"hint: see `{command} --help`")
            return EXIT_USAGE
        except click_errors.ClickException as exc:
            stderr(f"error: {exc.format_message()}")
            return exc.exit_code
        except typer.Abort:
            raise KeyboardInterrupt from None
        if result == EXIT_INTERRUPTED:  # typer returns Ctrl-C as a silent 130; no command does
            raise KeyboardInterrupt
        return result if isinstance(result, int) else 0

    return guarded(body, debug=debug_enabled(args))


@app.command("completion")
def completion(
    shell: str = typer.Argument(..., help="bash, zsh or fish.", show_default=False),
) -> int:
    """Print a shell completion script (see completions/ in the repository).

    Example: mcpcred completion bash > ~/.mcpcred-completion.bash
    """
    from mcpcred.cli import completions
    from mcpcred.errors import UsageError

    if shell not in completions.SHELLS:
        raise UsageError(f"unknown shell {shell!r}; choose bash, zsh or fish")
    sys.stdout.write(completions.script(shell))
    return 0
