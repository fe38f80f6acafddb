"""``pass``, 1Password (``op``), Bitwarden (``bw``) and ``cmd:``: the command each runs.

Each reader builds an argv from the locator (never a shell line), runs it
(``run``), and turns a failure into one of three errors the user can act on:
locked or signed out (``ExternalLocked``), no such entry (``ExternalNotFound``)
or anything else with the tool's own last stderr line. The messages each tool
prints for those cases are matched in lower case; the fixtures in
tests/external record them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from mcpcred.errors import (
    ExternalLocked,
    ExternalNotFound,
    ExternalSecretError,
    ExternalUnavailable,
)
from mcpcred.external.run import Result, lowered, run, text

# gpg, when the key needs a passphrase that no agent has and no pinentry may ask for it
_GPG_LOCKED = (
    "no secret key",
    "inappropriate ioctl",
    "no pinentry",
    "operation cancelled",
    "problem with the agent",
    "bad passphrase",
    "no such device or address",
    "timeout",
)
_OP_LOCKED = (
    "not currently signed in",
    "not signed in",
    "sign in",
    "signin",
    "session expired",
    "authorization prompt dismissed",
    "authorization timeout",
    "connecting to desktop app",
    "locked",
)
_OP_MISSING = ("isn't an item", "isn't a vault", "isn't a field", "could not find", "not found")


def _failure(what: str, result: Result) -> ExternalSecretError:
    return ExternalSecretError(f"{what}: exited with status {result.code}: {result.line()}")


def read_pass(locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """``pass show PATH``: the first line is the password (pass's own convention)."""
    what = f"pass {locator!r}"
    result = run(["pass", "show", "--", locator], environ, timeout, what)
    if result.code == 0:
        first = result.stdout.split(b"\n", 1)[0]
        return text(first, what)
    err = lowered(result)
    store = _store_dir(environ)
    if "password store is empty" in err or not os.path.isdir(store):
        raise ExternalUnavailable(
            f"{what}: there is no password store at {store} (the server's env may need "
            "PASSWORD_STORE_DIR)",
            hint="GUI clients do not see your shell's variables: set them in the server's env",
        )
    if "is not in the password store" in err:
        raise ExternalNotFound(f"{what} is not in the password store", hint="list it with: pass ls")
    if any(sign in err for sign in _GPG_LOCKED):
        raise ExternalLocked(
            f"{what}: gpg could not decrypt it: the key needs its passphrase and no "
            f"gpg-agent has it ({result.line()})",
            hint="unlock it once in a terminal (pass show PATH; gpg-agent then caches the "
            "passphrase), or use a graphical pinentry, then restart the server",
        )
    raise _failure(what, result)


def _store_dir(environ: Mapping[str, str]) -> str:
    """Where ``pass`` looks: ``PASSWORD_STORE_DIR``, else ``~/.password-store``."""
    return environ.get("PASSWORD_STORE_DIR") or os.path.join(
        environ.get("HOME", "~"), ".password-store"
    )


def read_op(locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """``op read op://VAULT/ITEM/FIELD`` (1Password CLI 2)."""
    reference = "op://" + locator
    what = f"1Password {reference!r}"
    result = run(["op", "read", "--no-newline", reference], environ, timeout, what)
    if result.code == 0:
        return text(result.stdout, what)
    err = lowered(result)
    if any(sign in err for sign in _OP_LOCKED):
        raise ExternalLocked(
            f"{what}: op is signed out or locked ({result.line()})",
            hint="turn on the 1Password app's CLI integration and unlock the app, or give "
            "the server OP_SERVICE_ACCOUNT_TOKEN; `op signin` in a shell does not reach a "
            "GUI client",
        )
    if any(sign in err for sign in _OP_MISSING):
        raise ExternalNotFound(f"{what}: no such item or field ({result.line()})")
    raise _failure(what, result)


def read_bw(locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """``bw get FIELD ITEM`` for a built-in field, else a custom field of ``bw get item``.

    ``--nointeraction``: never ask for the master password (there is nobody to
    answer); ``BW_SESSION`` in the server's env unlocks, as in a shell.
    """
    from mcpcred.references import bw_builtin

    item, _, field = locator.rpartition("/")
    what = f"Bitwarden {locator!r}"
    builtin = bw_builtin(field)
    argv = ["bw", "--nointeraction", "get", field if builtin else "item", item]
    result = run(argv, environ, timeout, what)
    if result.code != 0:
        err = lowered(result)
        if "not logged in" in err or "locked" in err:
            raise ExternalLocked(
                f"{what}: bw is locked or logged out ({result.line()})",
                hint="unlock it (bw unlock) and give the server BW_SESSION in its env",
            )
        if "not found" in err:
            raise ExternalNotFound(f"{what}: no such item ({result.line()})")
        if "more than one result" in err:
            raise ExternalSecretError(
                f"{what}: more than one item has that name",
                hint="name the item by its id (bw list items --search NAME)",
            )
        raise _failure(what, result)
    if builtin:
        return text(result.stdout, what)
    return _custom_field(result.stdout, field, what)


def _custom_field(stdout: bytes, field: str, what: str) -> str:
    """The value of the custom field ``field`` in ``bw get item``'s JSON."""
    import json

    try:
        item = json.loads(stdout)
    except ValueError:
        raise ExternalSecretError(f"{what}: bw did not print an item") from None
    fields = item.get("fields") if isinstance(item, dict) else None
    for entry in fields if isinstance(fields, list) else []:
        if isinstance(entry, dict) and entry.get("name") == field:
            value = entry.get("value")
            if isinstance(value, str) and value:
                return value
    raise ExternalNotFound(
        f"{what}: the item has no field {field!r}",
        hint="built-in fields are password, username, totp, notes and uri; others are the "
        "item's custom fields",
    )


def read_cmd(locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """Any program, named by a JSON array (no shell): its stdout is the value."""
    import json

    argv: list[str] = json.loads(locator)  # references.locator_problem checked the shape
    what = f"cmd {argv[0]!r}"
    result = run(argv, environ, timeout, what)
    if result.code != 0:
        raise _failure(what, result)
    return text(result.stdout, what)


READERS: dict[str, Callable[[str, Mapping[str, str], float], str]] = {
    "pass": read_pass,
    "op": read_op,
    "bw": read_bw,
    "cmd": read_cmd,
}
