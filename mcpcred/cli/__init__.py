"""The command line: the only layer that knows about typer, rich, stdout and exit codes.

Commands parse options, call one service function and render its result.
``run`` is the single place where errors become ``error: ...`` / ``hint: ...``
lines on stderr and an exit code; tracebacks appear only with ``--debug``
(or ``MCPCRED_DEBUG=1``), and typer's locals-in-tracebacks is off because
locals can hold tokens.
"""

from __future__ import annotations

import os
import sys
import traceback

import click
import typer

from mcpcred import __version__
from mcpcred.errors import EXIT_INTERRUPTED, EXIT_SOFTWARE, EXIT_USAGE, McpcredError

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


from mcpcred.cli import audit_cmd, clients_cmd  # noqa: E402  (commands register on `app`)

__all__ = ["app", "audit_cmd", "clients_cmd", "run"]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def run(argv: list[str] | None = None) -> int:
    """Run the CLI and return the exit code; never lets an exception escape."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("MCPCRED_DEBUG") == "1"
    try:
        result = app(args=args, prog_name="mcpcred", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except McpcredError as exc:
        _stderr(f"error: {exc.message}")
        if exc.hint:
            _stderr(f"hint: {exc.hint}")
        if debug:
            traceback.print_exc()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx else "mcpcred"
        _stderr(f"error: {exc.format_message()}")
        _stderr(f"hint: see `{command} --help`")
        return EXIT_USAGE
    except click.ClickException as exc:
        _stderr(f"error: {exc.format_message()}")
        return exc.exit_code
    except (KeyboardInterrupt, click.exceptions.Abort):
        _stderr("error: interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
    except Exception as exc:
        _stderr(f"error: unexpected {type(exc).__name__} (a bug in mcpcred)")
        if debug:
            traceback.print_exc()
        else:
            _stderr("hint: re-run with --debug for a traceback and report it")
        return EXIT_SOFTWARE
