"""The command-line edge. Deliberately empty: importing this package must stay cheap.

``app`` holds the typer application (loaded only when needed); ``report`` turns
errors into messages and exit codes; ``audit_run`` is the one implementation of
``audit-config`` shared by the typer command and the stdlib-only fast path in
``fast``, so CI runs of ``audit-config`` never import typer or rich.
"""
