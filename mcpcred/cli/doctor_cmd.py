"""``mcpcred doctor [CLIENT]``: check the whole chain for a client, one line per check.

A server that starts without its credentials fails far away from the cause: in a
client's log, as a 401 from an API. Doctor walks the chain in the order a spawn
does and says, for each link, whether it holds and what to run when it does not:
the client's config files are found and parse; each server is wrapped (or holds
no credential); the store mcpcred would use answers; every credential a server
references resolves (read, never shown); OAuth logins can give a token; and what
is known about the client's own way of starting servers (Codex's cleared
environment and start-up timeout) does not stop the shim.

It reuses the code of ``clients`` (``inventory``), ``status`` (``usage.servers``,
``credential_state``) and ``login`` (``login_rows``), so doctor and those commands
never disagree. Exit status: 0 when every check passes, 1 when any fails (like
``audit-config`` with findings), 2 for a usage error such as an unknown client.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import typer

from mcpcred.cli.app import app
from mcpcred.errors import EXIT_FINDINGS, SecretStoreError, UsageError
from mcpcred.terminal import printable

if TYPE_CHECKING:
    from mcpcred.host import Host
    from mcpcred.inventory import ClientStatus
    from mcpcred.keychain.store import SecretStore
    from mcpcred.parsing.nodes import ObjectNode
    from mcpcred.usage import ServerUse

STORE = "store"  # the ``client`` of checks that are about no one client


@dataclass(slots=True)
class Check:
    """One link of the chain: what was checked, whether it holds, and the fix when not."""

    client: str
    check: str  # config, parse, wrapped, store, credential, login, environment
    ok: bool
    detail: str
    fix: str | None = None
    server: str | None = None


@app.command("doctor")
def doctor(
    client: str | None = typer.Argument(
        None, help="Client id (see `mcpcred clients`); default: every client found here."
    ),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> int:
    """Check config, wrapping, store, credentials and logins for a client; print the fixes.

    Exits 1 when any check fails, 0 when all pass. Values are never shown.

    Examples:

    \b
      mcpcred doctor claude-desktop
      mcpcred doctor --json | jq '.checks[] | select(.ok | not)'
    """
    from mcpcred.clients import ADAPTERS
    from mcpcred.host import Host

    ids = [a.id for a in ADAPTERS if a.id != "generic"]
    if client is not None and client not in ids:
        raise UsageError(f"unknown client {client!r}", hint=f"clients: {', '.join(ids)}")
    checks = run_checks(Host.current(), client)
    failed = [c for c in checks if not c.ok]
    if as_json:
        document = {"ok": not failed, "checks": [asdict(c) for c in checks]}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write("".join(_line(c) + "\n" for c in checks))
        summary = (
            f"{len(failed)} of {len(checks)} checks failed"
            if failed
            else f"all {len(checks)} checks passed"
        )
        sys.stderr.write(summary + "\n")
    return EXIT_FINDINGS if failed else 0


def _marks() -> tuple[str, str]:
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "✓✗".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "ok", "FAIL"
    return "✓", "✗"


def _line(check: Check) -> str:
    good, bad = _marks()
    who = check.client if check.server is None else f"{check.client}/{check.server}"
    text = f"{good if check.ok else bad} {who}: {check.detail}"
    if check.fix:
        text += f" (fix: {check.fix})"
    return printable(text)


def run_checks(host: Host, client: str | None) -> list[Check]:
    """Every check for ``client`` (or every client with a config file here), in chain order."""
    from mcpcred.inventory import inventory
    from mcpcred.usage import HIDDEN, servers

    clients = [c for c in inventory(host) if c.id != "generic"]
    if client is not None:
        clients = [c for c in clients if c.id == client]
    else:
        clients = [c for c in clients if c.found]
    checks: list[Check] = []
    if not clients:
        checks.append(
            Check(
                "-",
                "config",
                False,
                "no MCP client config found on this machine or in this folder",
                "see `mcpcred clients --all` for every place mcpcred looks",
            )
        )
        return checks
    uses, _errors = servers(host)
    wanted = {c.id for c in clients}
    uses = [u for u in uses if u.client in wanted and u.transport != HIDDEN]
    for status in clients:
        checks.extend(_config_checks(status, host))
        checks.extend(_wrap_checks(host, status.id, [u for u in uses if u.client == status.id]))
    store, store_check = _store_check()
    checks.append(store_check)
    checks.extend(_credential_checks(store, uses))
    checks.extend(_environment_checks(host, uses, store_check))
    return checks


def _config_checks(status: ClientStatus, host: Host) -> list[Check]:
    from mcpcred.parsing.files import display_path

    existing = [f for f in status.files if f.exists]
    if not existing:
        looked = ", ".join(dict.fromkeys(f.path for f in status.files)) or "nowhere on this OS"
        return [
            Check(
                status.id,
                "config",
                False,
                f"no config file found (looked in {looked})",
                f"add a server in {status.name} first, or run `mcpcred clients --all`",
            )
        ]
    out = []
    for file in existing:
        if file.error:
            out.append(
                Check(
                    status.id,
                    "parse",
                    False,
                    f"{display_path(file.path, host)} does not parse: {file.error}",
                    "correct the file; mcpcred reads and wraps only files that parse",
                )
            )
        else:
            servers = file.stdio + file.remote
            out.append(
                Check(
                    status.id,
                    "parse",
                    True,
                    f"{display_path(file.path, host)} parses ({servers} server(s))",
                )
            )
    return out


def _wrap_checks(host: Host, client: str, uses: list[ServerUse]) -> list[Check]:
    out = []
    for use in uses:
        if use.wrapped and use.transport == "stdio":
            missing = _missing_command(host, use)
            if missing is not None:
                out.append(Check(client, "wrapped", False, *missing, server=use.server))
                continue
        wrap = f"mcpcred wrap {client} --server {shlex.quote(use.server)}"
        if use.blocked is not None:  # wrap would leave it: say why instead of sending there
            wrap = f"edit it by hand: {use.blocked}"
        if use.plaintext:
            detail = f"{use.plaintext} credential(s) in plain text in {use.path}"
            out.append(Check(client, "wrapped", False, detail, wrap, use.server))
        elif use.literal:
            from mcpcred import references

            kind, name = use.literal[0]
            detail = (
                f"holds {references.whole(name, kind)} but does not start through mcpcred: "
                "the server gets that text, not the value"
            )
            fix = wrap if use.transport == "stdio" else "run `mcpcred wrap` for this client"
            out.append(Check(client, "wrapped", False, detail, fix, use.server))
        elif use.wrapped:
            how = (
                "starts through mcpcred"
                if use.transport == "stdio"
                else "gets headers from mcpcred"
            )
            out.append(Check(client, "wrapped", True, how, server=use.server))
        else:
            out.append(
                Check(
                    client,
                    "wrapped",
                    True,
                    "no credentials in it: nothing to wrap",
                    server=use.server,
                )
            )
    return out


def _store_check() -> tuple[SecretStore | None, Check]:
    """Which store answers and why; the store itself when it does."""
    from mcpcred.cli.status_cmd import _store_in_use
    from mcpcred.keychain.store import SecretStore

    chosen = _store_in_use()
    where = f"{chosen['store']} ({chosen['reason']})"  # e.g. file (MCPCRED_STORE_FILE names it)
    if chosen["store"] == "none":
        return None, Check(
            STORE,
            "store",
            False,
            f"no store: {chosen['reason']}",
            "`mcpcred store init --file` for an encrypted file store, or start the OS keychain",
        )
    store = SecretStore()
    try:
        name = store.backend_name
    except SecretStoreError as exc:
        return None, Check(STORE, "store", False, f"{where}: {exc.message}", exc.hint)
    return store, Check(STORE, "store", True, f"{chosen['store']} via {name}: {chosen['reason']}")


def _credential_checks(store: SecretStore | None, uses: list[ServerUse]) -> list[Check]:
    """Each reference a server uses resolves (read, never shown); each login gives a token."""
    from mcpcred import references
    from mcpcred.cli.status_cmd import credential_state

    out: list[Check] = []
    states: dict[tuple[str, str], str] = {}
    logins: set[str] = set()
    declared = _declared()
    for use in uses:
        for kind, name in use.refs:
            if (kind, name) in use.literal:
                continue  # reported under "wrapped"
            key = (kind, name)
            if key not in states:
                states[key] = credential_state(store, kind, name, check=True)
            state = states[key]
            reference = references.whole(name, kind)
            if kind == references.OAUTH:
                logins.add(name)
            ok = state == "ok"
            fix = None if ok else _credential_fix(kind, name, state)
            if fix is not None and reference in declared and state in ("missing", "not logged in"):
                fix = f"`mcpcred setup` (this repository's mcpcred.toml declares it), or {fix}"
            out.append(
                Check(use.client, "credential", ok, f"{reference}: {state}", fix, use.server)
            )
    if logins and store is not None:
        out.extend(_login_checks(logins))
    return out


def _declared() -> set[str]:
    """The references the project's ``mcpcred.toml`` declares (``[credentials.NAME]``), for
    which ``mcpcred setup`` is the fix; none when there is no file or it has a mistake
    (``setup`` reports that; doctor's other checks must not fail for it)."""
    from mcpcred.errors import ConfigError
    from mcpcred.paths import project_file
    from mcpcred.project_credentials import load

    found = project_file(os.getcwd())
    if found is None:
        return set()
    try:
        return {c.reference for c in load(found).credentials}
    except ConfigError:
        return set()


def _credential_fix(kind: str, name: str, state: str) -> str:
    from mcpcred import references
    from mcpcred.oauth import records

    if state == "unknown":
        return "make the store answer first: see the store line"
    if kind == references.OAUTH:
        return f"`{records.login_command(*references.split_login(name))}`"
    if state == "locked":
        return "unlock the keychain, or `mcpcred store unlock` for the file store"
    if kind == references.SECRET and state == "missing":
        return f"`mcpcred secret set {name}`"
    if kind in references.EXTERNAL:
        return f"check the {kind} entry and that `{kind}` is signed in"
    return "see `mcpcred status --check`"


def _login_checks(names: set[str]) -> list[Check]:
    """A login can give a token at spawn time: a fresh access token, or a refresh token."""
    from mcpcred import references
    from mcpcred.cli.login_cmd import login_rows
    from mcpcred.oauth import records

    try:
        rows = {str(r["login"]): r for r in login_rows()}
    except SecretStoreError as exc:
        return [Check(STORE, "login", False, f"cannot read logins: {exc.message}", exc.hint)]
    out = []
    for name in sorted(names):
        row = rows.get(name)
        provider, account = references.split_login(name)
        again = f"`{records.login_command(provider, account)}`"
        if row is None or not row["stored"]:
            continue  # the credential check already says "not logged in"
        left = row["access_expires_in"]
        fresh = row["access_cached"] and (left is None or (isinstance(left, int) and left > 0))
        if row["refresh_token"]:
            out.append(Check(f"oauth:{name}", "login", True, "refreshable"))
        elif fresh:
            when = "does not expire" if left is None else f"expires in {left} s, no refresh token"
            out.append(Check(f"oauth:{name}", "login", True, f"access token {when}"))
        else:
            out.append(
                Check(
                    f"oauth:{name}",
                    "login",
                    False,
                    "access token expired and no refresh token",
                    again,
                )
            )
    return out


def _environment_checks(host: Host, uses: list[ServerUse], store_check: Check) -> list[Check]:
    """What a client's own way of starting servers does to the shim (see docs/clients.md)."""
    out: list[Check] = []
    file_store = store_check.ok and store_check.detail.startswith("file")
    for use in uses:
        if not use.wrapped or use.transport != "stdio":
            continue
        if use.client == "codex":
            out.extend(_codex_checks(host, use))
        if (
            file_store
            and use.client in _MINIMAL_ENV
            and os.environ.get("MCPCRED_PASSPHRASE")
            and not _agent_holds_a_key()
            and not _entry_names_passphrase(host, use)
        ):
            out.append(
                Check(
                    use.client,
                    "environment",
                    False,
                    f"{_MINIMAL_ENV[use.client]} starts servers without your shell's "
                    "environment: MCPCRED_PASSPHRASE set there does not reach the shim",
                    "`mcpcred agent start` (or `mcpcred store unlock`) so the shim asks the agent",
                    use.server,
                )
            )
    return out


def _agent_holds_a_key() -> bool:
    """The key agent runs and holds a key: the shim gets the file store's key from it."""
    from mcpcred.errors import McpcredError
    from mcpcred.keychain import agent

    try:
        running = agent.status(os.environ)
    except (McpcredError, OSError):
        return False
    return running is not None and running.keys > 0


def _entry_names_passphrase(host: Host, use: ServerUse) -> bool:
    """The entry passes the passphrase (or its file) itself, so the client's scrubbing is moot."""
    from mcpcred.parsing.nodes import ObjectNode

    node = _entry(host, use)
    env = node.get("env") if node is not None else None
    if not isinstance(env, ObjectNode):
        return False
    return any(
        env.get(name) is not None for name in ("MCPCRED_PASSPHRASE", "MCPCRED_PASSPHRASE_FILE")
    )


# Clients that start servers with a short allow-list of variables, not the user's shell's.
_MINIMAL_ENV = {"codex": "Codex", "claude-desktop": "Claude Desktop"}


def _entry(host: Host, use: ServerUse) -> ObjectNode | None:
    """The server's entry as written (the parse check reports a file that cannot be read)."""
    from mcpcred.errors import McpcredError
    from mcpcred.parsing.files import parse, read_text
    from mcpcred.parsing.nodes import ObjectNode
    from mcpcred.wrap.edit import resolve

    path = _real_path(host, use.path)
    try:
        node = resolve(parse(path, read_text(path)).root, use.pointer)
    except (McpcredError, OSError):
        return None
    return node if isinstance(node, ObjectNode) else None


def _missing_command(host: Host, use: ServerUse) -> tuple[str, str] | None:
    """(detail, fix) when the mcpcred a wrapped entry starts is gone (moved, reinstalled).

    Wrapping writes mcpcred's absolute path, and a wrapped entry keeps it when wrap runs
    again, so after ``pip uninstall``, a new venv or ``pipx install`` in its place every
    wrapped server of the client fails to start, far from the cause.
    """
    import shutil

    node = _entry(host, use)
    command = node.get("command") if node is not None else None
    value = command.to_python() if command is not None else None
    if not isinstance(value, str):
        return None  # another shape (Zed's nested command): nothing to check here
    found = value if os.path.isabs(value) else shutil.which(value)
    if found and os.path.isfile(found) and os.access(found, os.X_OK):
        return None
    try:
        from mcpcred.wrap.service import executable

        here = executable()
    except UsageError:
        here = "the mcpcred you run now"
    return (
        f"starts {value}, which is not an executable here: the client cannot start it",
        f'set "command" to {here} in {use.path}',
    )


def _codex_checks(host: Host, use: ServerUse) -> list[Check]:
    """Codex clears the environment: the shim needs ``env_vars`` and time for an unlock."""
    from mcpcred.wrap.plan import CODEX_ENV_VARS, CODEX_MIN_STARTUP_SEC

    node = _entry(host, use)
    if node is None:
        return []
    get = node.get
    out = []
    names = get("env_vars")
    listed = names.to_python() if names is not None else []
    missing = [v for v in CODEX_ENV_VARS if not isinstance(listed, list) or v not in listed]
    if host.os == "linux" and missing:
        out.append(
            Check(
                "codex",
                "environment",
                False,
                "Codex clears the environment and env_vars does not pass "
                f"{', '.join(missing)}: the shim may not reach the keychain",
                f"add env_vars = {json.dumps(list(CODEX_ENV_VARS))} to [mcp_servers.{use.server}]",
                use.server,
            )
        )
    timeout = get("startup_timeout_sec")
    seconds = timeout.to_python() if timeout is not None else None
    if not isinstance(seconds, int | float) or seconds < CODEX_MIN_STARTUP_SEC:
        out.append(
            Check(
                "codex",
                "environment",
                False,
                f"startup_timeout_sec is {seconds if seconds is not None else 'unset (10 s)'}: "
                "too short for a keychain unlock prompt",
                f"set startup_timeout_sec = {CODEX_MIN_STARTUP_SEC} in [mcp_servers.{use.server}]",
                use.server,
            )
        )
    if not out:
        out.append(
            Check(
                "codex",
                "environment",
                True,
                "env_vars and start-up timeout fit the shim",
                server=use.server,
            )
        )
    return out


def _real_path(host: Host, shown: str) -> str:
    """``usage`` shows paths with ``~``; read the file itself."""
    if shown.startswith("~"):
        return host.home + shown[1:]
    return shown
