"""Values that live in a password manager, fetched at every server start and never copied.

A reference such as ``mcpcred:pass/Email/github.com`` names where a value is
(``references`` parses it); this package asks the tool that keeps it: ``pass``,
1Password's ``op``, Bitwarden's ``bw``, HashiCorp Vault / OpenBao (over its
HTTP API, or its CLI) or any program named by a ``cmd:`` reference. Nothing is
written anywhere: the value goes from the tool's stdout into the server's
environment. Imported only when a server has such a reference, so a server
with keychain references alone starts without any of it.

Every reference is fetched before the server starts, several at once (each is
mostly waiting for another process), and the first failure in the order the
references appear is the one reported: a server is never started with some
values missing.
"""

from __future__ import annotations

from collections.abc import Mapping

from mcpcred.errors import ExternalSecretError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def fetch(kind: str, locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """The value ``kind``/``locator`` stands for; an ``ExternalSecretError`` otherwise."""
    from mcpcred import references

    problem = references.locator_problem(kind, locator)
    if problem is not None:  # the shim checked already; status and tests come here directly
        raise ExternalSecretError(f"{kind}: the reference cannot be used: {problem}")
    reader: Callable[[str, Mapping[str, str], float], str]
    if kind == references.VAULT:
        from mcpcred.external.vault import read as reader
    else:
        from mcpcred.external import managers

        reader = managers.READERS[kind]
    return reader(locator, environ, timeout)


def fetch_all(
    refs: list[tuple[str, str]], environ: Mapping[str, str], timeout: float
) -> dict[tuple[str, str], str]:
    """Every (kind, locator) in ``refs`` fetched at once; raises the first failure in order."""
    if len(refs) == 1:
        kind, locator = refs[0]
        return {refs[0]: fetch(kind, locator, environ, timeout)}
    import threading

    results: dict[tuple[str, str], str | BaseException] = {}

    def one(ref: tuple[str, str]) -> None:
        try:
            results[ref] = fetch(ref[0], ref[1], environ, timeout)
        except BaseException as exc:  # re-raised in the caller's thread
            results[ref] = exc

    threads = [threading.Thread(target=one, args=(ref,), daemon=True) for ref in refs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    values: dict[tuple[str, str], str] = {}
    for ref in refs:
        result = results[ref]
        if isinstance(result, BaseException):
            raise result
        values[ref] = result
    return values


def check(kind: str, locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """``ok``, ``missing``, ``locked``, ``unavailable`` or ``error: ...`` (``status --check``)."""
    try:
        fetch(kind, locator, environ, timeout)
    except ExternalSecretError as exc:
        return exc.state if exc.state != "error" else f"error: {exc.message}"
    return "ok"
