"""The typer application: every command, its options and its help.

Commands parse options, call one service function and render its result.
Errors go through ``report.guarded``; typer's locals-in-tracebacks is off
because locals can hold tokens.

The commands live in the ``*_cmd`` modules, which register on ``app`` when imported.
``COMMANDS`` says which module holds which command, so that a run imports only the
module of the command it runs (``mcpcred.cli.lazy``): adding a command is one line
there (a test fails until the line matches the command's docstring).
"""

from __future__ import annotations

import sys

import typer

try:  # typer >= 0.22 vendors click; older releases depend on it
    from typer._click import exceptions as click_errors
except ImportError:  # pragma: no cover - depends on the installed typer
    from click import exceptions as click_errors  # type: ignore[no-redef,import-not-found,unused-ignore]

from mcpcred import __version__
from mcpcred.cli.lazy import Entry, LazyGroup
from mcpcred.cli.report import debug_enabled, guarded, stderr
from mcpcred.errors import EXIT_INTERRUPTED, EXIT_USAGE

# Every top-level command, in `mcpcred --help` order: name -> (module under mcpcred.cli,
# the first sentence of its docstring). One line per command, nothing else to change.
COMMANDS: dict[str, Entry] = {
    "audit-config": Entry("audit_cmd", "Find plaintext secrets and risky settings in MCP client configs."),
    "clients": Entry("clients_cmd", "List supported clients: found or not, config paths, servers, how many are wrapped."),
    "guard": Entry("guard_cmd", "Relay a server through mcpcred: audit log, tool policy, pinned tool definitions."),
    "login": Entry("login_cmd", "Log in with OAuth; servers then get fresh access tokens at spawn time."),
    "logout": Entry("login_cmd", "Revoke the login at the provider (where it offers revocation) and delete it."),
    "token": Entry("login_cmd", "Print a fresh access token (to a terminal only, unless --force)."),
    "status": Entry("status_cmd", "Show every server: wrapped or not, its credentials and whether each resolves."),
    "wrap": Entry("wrap_cmd", "Move a client's secrets into the OS keychain and start its servers through the shim."),
    "unwrap": Entry("wrap_cmd", "Undo wrap; a server that needs a keychain secret stays wrapped unless --restore-secrets."),
    "setup": Entry("setup_cmd", "Set up the credentials this repository's mcpcred.toml declares, wrap its configs, check."),
    "doctor": Entry("doctor_cmd", "Check config, wrapping, store, credentials and logins for a client; print the fixes."),
    "completion": Entry("completion_cmd", "Print or install shell completion (subcommands, options, clients, servers, secrets)."),
    "agent": Entry("agent_cmd", "The background process that holds the file store's key for this login session."),
    "log": Entry("log_cmd", "Show the audit log of guarded servers; `log verify` checks it, `log export` sends it."),
    "pins": Entry("pins_cmd", "Review the tool definitions guard mode pinned, and accept changes to them."),
    "secret": Entry("secret_cmd", "Manage the secrets mcpcred keeps in the OS keychain (values never in argv)."),
    "store": Entry("store_cmd", "Choose and manage where secrets are kept (OS keychain or encrypted file)."),
}  # fmt: skip


class _Group(LazyGroup):
    table = COMMANDS


app = typer.Typer(
    cls=_Group,
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


_Group.typer_app = app


def load_all() -> None:
    """Import every command module, so that ``app`` has every command registered.

    For what needs the whole tree at once (the completion scripts, tests); a run of one
    command imports only its own module.
    """
    import importlib

    for module in dict.fromkeys(entry.module for entry in COMMANDS.values()):
        importlib.import_module(f"mcpcred.cli.{module}")


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
