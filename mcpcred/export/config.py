"""``[[log.export]]``: where the export worker sends the audit log, from the config files.

    [[log.export]]
    kind = "otlp"                                   # or "syslog"
    url = "otlp+https://otel.example.com:4318"
    headers = { Authorization = "mcpcred:secret/otel-token" }   # store references only
    ca_file = "/etc/ssl/corp-ca.pem"                # optional, https / tls only
    # framing = "octet-counting"                    # syslog+tcp/tls only (or "newline")
    # facility = "authpriv"                         # syslog only: a name or 0-23
    # max_size = 8192                               # syslog only: bytes per message

The user's config file and a project's ``mcpcred.toml`` may both hold tables;
the worker sends to each target once. A project's tables are used only when
the user's config says ``[log] project_exports = true``: a cloned repository
must not be able to send the user's audit log (every guarded call, of every
project) to a host it names. A project table never has headers, even then: the
switch covers every repository the user opens, and a header would let any of
them have a secret of the user's store (any name) read and sent to its host.
Unknown keys are errors (a typo must not silently turn export off), and so is a
literal header value.
"""

from __future__ import annotations

import os

from mcpcred import tomlfile
from mcpcred.errors import ConfigError
from mcpcred.export import targets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

_LOG_KEYS = frozenset({"export", "project_exports"})
_EXPORT_KEYS = frozenset({"kind", "url", "headers", "ca_file", "framing", "facility", "max_size"})


def load(environ: Mapping[str, str], cwd: str | None = None) -> list[targets.Target]:
    """Every export target the user's config and (if allowed) the project file name."""
    from mcpcred.guard.settings import user_config_path
    from mcpcred.paths import project_file

    user_path = user_config_path(environ)  # type: ignore[arg-type]
    user_log = _log_table(user_path, _read(user_path))
    found = _targets(user_path, user_log, project=False)
    if user_log.get("project_exports") is True:
        try:
            project_path = project_file(cwd or os.getcwd())
        except OSError:
            project_path = None
        if project_path is not None:
            from mcpcred.project_config import log_section

            found += _targets(project_path, log_section(project_path), project=True)
    unique: dict[str, targets.Target] = {}
    for target in found:
        unique.setdefault(key(target), target)
    return list(unique.values())


def mentions_export(environ: Mapping[str, str], cwd: str | None = None) -> bool:
    """Whether a config file could configure export: bytes only, no TOML (the shim's check)."""
    from mcpcred.guard.settings import user_config_path
    from mcpcred.paths import project_file

    paths = [user_config_path(environ)]  # type: ignore[arg-type]
    try:
        project = project_file(cwd or os.getcwd())
    except OSError:
        project = None
    if project is not None:
        paths.append(project)
    for path in paths:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            continue
        if b"export" in data or b"\\" in data:
            return True
    return False


def key(target: targets.Target) -> str:
    """What tells two targets apart (the cursor and the worker's lock are per key)."""
    return f"{target.scheme}://{target.host}:{target.port}"


def _read(path: str) -> dict[str, object]:
    return tomlfile.read(path, missing_ok=True)


def _log_table(path: str, data: Mapping[str, object]) -> dict[str, object]:
    log = data.get("log", {})
    if not isinstance(log, dict):
        raise ConfigError(f"{path}: log must be a table: [log] / [[log.export]]")
    tomlfile.check_keys(log, _LOG_KEYS, f"{path}: [log]")
    if "project_exports" in log and not isinstance(log["project_exports"], bool):
        raise ConfigError(f"{path}: [log] project_exports must be true or false")
    return log


def check_project_log(path: str, log: object) -> dict[str, object]:
    """A project file's ``[log]`` table, checked (``project_exports`` is the user's only)."""
    table = _log_table(path, {"log": log})
    if "project_exports" in table:
        raise ConfigError(
            f"{path}: [log] project_exports belongs in your own config file, not a project's"
        )
    return table


def _targets(path: str, log: Mapping[str, object], *, project: bool) -> list[targets.Target]:
    tables = log.get("export", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{path}: log.export must be an array of tables: [[log.export]]")
    found = [_target(path, index, table) for index, table in enumerate(tables, 1)]
    for target in found:
        if project and target.headers:
            # project_exports = true is one switch for every repository the user opens:
            # a header here would let any of them read a secret of the user's store (any
            # name: a GitHub token, a database password) and send it to a host it names.
            raise ConfigError(
                f"{target.source}: a project file cannot name headers (they are read from "
                "your secret store)",
                hint="put this [[log.export]] table, headers and all, in your own config file",
            )
    return found


def _target(path: str, index: int, table: object) -> targets.Target:
    where = f"{path}: [[log.export]] {index}"
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table")
    tomlfile.check_keys(table, _EXPORT_KEYS, where)
    kind, url = table.get("kind"), table.get("url")
    if kind not in targets.KINDS:
        raise ConfigError(f'{where}: kind must be "otlp" or "syslog"')
    if not isinstance(url, str):
        raise ConfigError(f"{where}: url must be a string, e.g. otlp+http://HOST:4318")
    target = targets.parse(url, where=where, error=ConfigError)
    if target.kind != kind:
        raise ConfigError(f'{where}: kind = "{kind}" but the url is a {target.kind} URL')
    headers = table.get("headers", {})
    if not isinstance(headers, dict):
        raise ConfigError(
            f'{where}: headers must be a table, e.g. {{ Authorization = "mcpcred:secret/NAME" }}'
        )
    checked = targets.header_refs(headers, where=where, error=ConfigError)
    if checked and kind != "otlp":
        raise ConfigError(f"{where}: headers apply to otlp only")
    targets.check_plaintext(target, where=where, error=ConfigError, has_headers=bool(checked))
    ca_file = table.get("ca_file")
    if ca_file is not None:
        if not isinstance(ca_file, str) or not ca_file:
            raise ConfigError(f"{where}: ca_file must be a path")
        if target.scheme not in ("otlp+https", "syslog+tls"):
            raise ConfigError(f"{where}: ca_file needs otlp+https or syslog+tls")
        ca_file = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(ca_file))
    framing = table.get("framing")
    if framing is not None:
        if framing not in targets.FRAMINGS:
            raise ConfigError(f'{where}: framing must be "octet-counting" or "newline"')
        if target.scheme not in ("syslog+tcp", "syslog+tls"):
            raise ConfigError(f"{where}: framing applies to syslog+tcp and syslog+tls only")
    facility, max_size = _syslog_options(table, where, target)
    return targets.Target(
        url=target.url,
        kind=target.kind,
        scheme=target.scheme,
        host=target.host,
        port=target.port,
        headers=checked,
        ca_file=ca_file,
        framing=framing,
        facility=facility,
        max_size=max_size,
        source=where,
    )


def _syslog_options(
    table: Mapping[str, object], where: str, target: targets.Target
) -> tuple[str | int | None, int | None]:
    """``facility`` and ``max_size``, checked against the syslog sink's own rules."""
    facility, max_size = table.get("facility"), table.get("max_size")
    if facility is None and max_size is None:
        return None, None
    if target.kind != "syslog":
        raise ConfigError(f"{where}: facility and max_size apply to syslog only")
    from mcpcred.export import syslog

    if facility is not None:
        try:
            if isinstance(facility, bool) or not isinstance(facility, (str, int)):
                raise ValueError(facility)
            syslog.facility_code(facility)
        except ValueError:
            raise ConfigError(
                f"{where}: facility must be a name such as authpriv, user or local0, or 0 to 23"
            ) from None
    if max_size is not None:
        transport = target.scheme.removeprefix("syslog+")
        top = syslog.MAX_MAX[transport]
        if isinstance(max_size, bool) or not isinstance(max_size, int):
            raise ConfigError(f"{where}: max_size must be a number of bytes")
        if not syslog.MIN_MAX <= max_size <= top:
            raise ConfigError(f"{where}: max_size must be from {syslog.MIN_MAX} to {top}")
    return facility, max_size
