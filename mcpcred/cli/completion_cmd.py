"""``mcpcred completion``: print or install a shell completion script.

The work is in ``shells`` (stdlib only): ``_entry`` serves these command lines
before typer is imported, and this typer command exists for ``--help`` and so
the command is listed with the others. Both call ``shells.main``.
"""

from __future__ import annotations

import typer

from mcpcred.cli.app import app


@app.command("completion")
def completion(
    what: str | None = typer.Argument(
        None,
        help="bash, zsh, fish or powershell: print that script; install: install it.",
        show_default=False,
    ),
    shell: str | None = typer.Argument(
        None, help="With install: the shell (default: from $SHELL).", show_default=False
    ),
) -> int:
    """Print or install shell completion (subcommands, options, clients, servers, secrets).

    Examples:

    \b
      mcpcred completion install          # for the shell in $SHELL; safe to re-run
      eval "$(mcpcred completion bash)"   # in ~/.bashrc, instead of installing
      mcpcred completion fish > ~/.config/fish/completions/mcpcred.fish
    """
    from mcpcred.cli import shells

    return shells.main([w for w in (what, shell) if w is not None])
