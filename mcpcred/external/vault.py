"""HashiCorp Vault / OpenBao KV secrets: ``vault:MOUNT/PATH#FIELD``.

Over the HTTP API when the server's env has ``VAULT_ADDR`` (or ``BAO_ADDR``)
and a token (``VAULT_TOKEN``, ``BAO_TOKEN``, or the CLI's ``~/.vault-token``):
that is one or two requests with the standard library, no 100 MB CLI to start.
Otherwise the ``vault`` (or ``bao``) CLI, which knows its own login, runs
``kv get -field=FIELD PATH``.

Like ``vault kv get``, the path is the one a user types (``secret/myapp``); a
preflight request (``sys/internal/ui/mounts/PATH``) tells the mount and its
KV version, and a v2 read goes to ``MOUNT/data/REST``. ``VAULT_NAMESPACE``
becomes the ``X-Vault-Namespace`` header and ``VAULT_CACERT`` the trusted CA.
Redirects are not followed: the token would go to wherever they point.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping

from mcpcred.errors import (
    ExternalLocked,
    ExternalNotFound,
    ExternalSecretError,
    ExternalUnavailable,
)

_HINT_403 = "the token is missing, expired or may not read this path: log in again (vault login)"


def read(locator: str, environ: Mapping[str, str], timeout: float) -> str:
    """The value of FIELD in the KV secret at PATH."""
    path, _, field = locator.partition("#")
    what = f"Vault {locator!r}"
    address = environ.get("VAULT_ADDR") or environ.get("BAO_ADDR")
    token = environ.get("VAULT_TOKEN") or environ.get("BAO_TOKEN") or _token_file(environ)
    if address and token:
        return _Api(address, token, environ, timeout, what).read(path, field)
    for program in ("vault", "bao"):
        if _on_path(program, environ):
            return _cli(program, path, field, environ, timeout, what)
    raise ExternalUnavailable(
        f"{what}: no Vault to ask (set VAULT_ADDR and VAULT_TOKEN in the server's env, "
        "or install the vault CLI and log in)"
    )


def _token_file(environ: Mapping[str, str]) -> str | None:
    """The token ``vault login`` keeps in ``~/.vault-token``, if any."""
    home = environ.get("HOME")
    if not home:
        return None
    try:
        with open(os.path.join(home, ".vault-token"), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def _on_path(program: str, environ: Mapping[str, str]) -> bool:
    for folder in environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return True
    return False


def _cli(
    program: str, path: str, field: str, environ: Mapping[str, str], timeout: float, what: str
) -> str:
    from mcpcred.external.run import lowered, run, text

    result = run([program, "kv", "get", f"-field={field}", path], environ, timeout, what)
    if result.code == 0:
        return text(result.stdout, what)
    err = lowered(result)
    if "permission denied" in err or "code: 403" in err or "sealed" in err:
        raise ExternalLocked(f"{what}: {result.line()}", hint=_HINT_403)
    if "no value found" in err or "not present in secret" in err or "code: 404" in err:
        raise ExternalNotFound(f"{what}: {result.line()}")
    raise ExternalSecretError(
        f"{what}: {program} exited with status {result.code}: {result.line()}"
    )


class _Api:
    """The few requests a KV read needs, with the token in a header and no redirects."""

    def __init__(
        self, address: str, token: str, environ: Mapping[str, str], timeout: float, what: str
    ) -> None:
        self.base = address.rstrip("/")
        self.headers = {"X-Vault-Token": token, "X-Vault-Request": "true"}
        namespace = environ.get("VAULT_NAMESPACE") or environ.get("BAO_NAMESPACE")
        if namespace:
            self.headers["X-Vault-Namespace"] = namespace
        self.cacert = environ.get("VAULT_CACERT") or environ.get("BAO_CACERT")
        self.timeout = timeout
        self.what = what
        if not self.base.startswith(("http://", "https://")):
            raise ExternalUnavailable(f"{what}: VAULT_ADDR must start with http:// or https://")

    def read(self, path: str, field: str) -> str:
        mount, version = self._mount(path)
        if version == "2":
            rest = path[len(mount) :] if path.startswith(mount) else path
            data = self._get(f"{mount.rstrip('/')}/data/{rest}").get("data")
            secret = data.get("data") if isinstance(data, dict) else None
        else:
            secret = self._get(path).get("data")
        if not isinstance(secret, dict):
            raise ExternalNotFound(f"{self.what}: no secret at {path!r}")
        if field not in secret:
            raise ExternalNotFound(f"{self.what}: the secret has no field {field!r}")
        value = secret[field]
        text = value if isinstance(value, str) else json.dumps(value)
        if not text:
            raise ExternalNotFound(f"{self.what}: the field is empty")
        return text

    def _mount(self, path: str) -> tuple[str, str]:
        """(mount path with its slash, KV version) from the preflight request `vault kv` makes."""
        try:
            answer = self._get(f"sys/internal/ui/mounts/{path}")
        except ExternalNotFound:
            return "", "1"  # an old server without the endpoint: KV v1, as the vault CLI assumes
        data = answer.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("path"), str):
            return "", "1"
        options = data.get("options")
        version = options.get("version") if isinstance(options, dict) else None
        return data["path"], str(version or "1")

    def _get(self, path: str) -> dict[str, object]:
        url = f"{self.base}/v1/{urllib.parse.quote(path, safe='/')}"
        request = urllib.request.Request(url, headers=self.headers)  # noqa: S310 (http(s) only)
        opener = urllib.request.build_opener(_NoRedirect(), *self._tls())
        try:
            with opener.open(request, timeout=self.timeout) as response:
                body = response.read(1 << 20)
        except urllib.error.HTTPError as exc:
            exc.close()  # the response it holds: its socket
            raise self._status(exc.code, path) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            detail = getattr(reason, "strerror", None) or type(reason).__name__
            raise ExternalUnavailable(f"{self.what}: cannot reach {self.base}: {detail}") from None
        try:
            document = json.loads(body)
        except ValueError:
            raise ExternalSecretError(f"{self.what}: the server did not answer JSON") from None
        if not isinstance(document, dict):
            raise ExternalSecretError(f"{self.what}: the server did not answer a JSON object")
        return document

    def _status(self, code: int, path: str) -> ExternalSecretError:
        if code == 403:
            return ExternalLocked(f"{self.what}: permission denied (403)", hint=_HINT_403)
        if code == 503:
            return ExternalLocked(f"{self.what}: Vault is sealed or in standby (503)")
        if code == 404:
            return ExternalNotFound(f"{self.what}: nothing at {path!r} (404)")
        if 300 <= code < 400:
            return ExternalSecretError(
                f"{self.what}: the server redirected ({code}); point VAULT_ADDR at the "
                "active node (the token is never sent to a redirect)"
            )
        return ExternalSecretError(f"{self.what}: the server answered {code}")

    def _tls(self) -> list[urllib.request.BaseHandler]:
        if not self.cacert:
            return []
        import ssl

        try:
            context = ssl.create_default_context(cafile=self.cacert)
        except (OSError, ssl.SSLError):
            raise ExternalUnavailable(f"{self.what}: cannot read VAULT_CACERT") from None
        return [urllib.request.HTTPSHandler(context=context)]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Every redirect becomes an HTTPError: the token must not follow it anywhere."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
