"""mcpcred's project file, ``mcpcred.toml``, as far as ``audit-config`` reads it.

A team commits ``mcpcred.toml`` at the repository root to share audit ignores
(and, later, server policies). It is found by walking up from the working
directory to the first folder that has one, stopping at a repository root.
Unknown keys are errors, not silently ignored: a typo in an ignore would
otherwise hide nothing and fail CI for reasons nobody can see.

    [audit]
    fail-on = "medium"              # default threshold for the exit code
    [[audit.ignore]]
    rule = "hygiene/unpinned-package"   # glob over rule ids
    path = "examples/**"                # glob over paths relative to this file
    server = "demo"                     # optional: only this server
    reason = "demo configs, no real credentials"
"""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field

from mcpcred import tomlfile
from mcpcred.errors import ConfigError
from mcpcred.models import Finding, Severity
from mcpcred.paths import project_file

_AUDIT_KEYS = frozenset({"fail-on", "ignore", "ignore-parse-errors"})
_IGNORE_KEYS = frozenset({"rule", "path", "server", "reason"})


@dataclass(frozen=True, slots=True)
class Ignore:
    """One ignore entry; every given field must match."""

    rule: str = "*"
    path: str = "*"
    server: str | None = None
    reason: str = ""

    def matches(self, finding: Finding, relative_path: str | None) -> bool:
        """Whether this entry suppresses ``finding``."""
        if not fnmatch.fnmatchcase(finding.rule, self.rule):
            return False
        if self.server is not None and finding.server != self.server:
            return False
        if self.path in ("*", "**"):
            return True
        if relative_path is None:
            return False
        return fnmatch.fnmatchcase(relative_path, self.path) or fnmatch.fnmatchcase(
            relative_path, self.path.rstrip("/") + "/*"
        )


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """The ``[audit]`` section, with defaults when there is no file."""

    root: str | None = None  # folder of the mcpcred.toml, if any
    path: str | None = None
    fail_on: Severity | None = None
    ignore_parse_errors: bool = False
    ignores: tuple[Ignore, ...] = field(default_factory=tuple)

    def relative(self, path: str) -> str | None:
        """``path`` relative to the project root, with ``/`` separators, if inside it."""
        if self.root is None:
            return None
        absolute = os.path.abspath(path)
        try:
            rel = os.path.relpath(absolute, self.root)
        except ValueError:  # another drive on Windows
            return None
        if rel.startswith(".."):
            return None
        return rel.replace(os.sep, "/")


def find(start: str) -> str | None:
    """The nearest ``mcpcred.toml`` at or above ``start`` (not above a repo root)."""
    return project_file(start)


def read_toml(path: str) -> dict[str, object]:
    """The whole ``mcpcred.toml`` at ``path``; ``ConfigError`` (exit 3) if unreadable or invalid."""
    return tomlfile.read(path, hint="fix the syntax of mcpcred.toml")


def load(path: str | None) -> AuditSettings:
    """Read the ``[audit]`` section of ``path`` (no file: defaults)."""
    if path is None:
        return AuditSettings()
    data = read_toml(path)
    audit = data.get("audit", {})
    if not isinstance(audit, dict):
        raise ConfigError(f"{path}: [audit] must be a table")
    tomlfile.check_keys(audit, _AUDIT_KEYS, f"{path}: [audit]")
    fail_on = None
    if "fail-on" in audit:
        try:
            fail_on = Severity.parse(str(audit["fail-on"]))
        except ValueError:
            raise ConfigError(f"{path}: [audit] fail-on must be low, medium or high") from None
    ignores = tuple(
        _ignore(path, index, item) for index, item in enumerate(audit.get("ignore", []))
    )
    return AuditSettings(
        root=os.path.dirname(os.path.abspath(path)),
        path=path,
        fail_on=fail_on,
        ignore_parse_errors=bool(audit.get("ignore-parse-errors", False)),
        ignores=ignores,
    )


def _ignore(path: str, index: int, item: object) -> Ignore:
    if not isinstance(item, dict):
        raise ConfigError(f"{path}: [[audit.ignore]] entry {index + 1} must be a table")
    tomlfile.check_keys(item, _IGNORE_KEYS, f"{path}: [[audit.ignore]] entry {index + 1}")
    if not {"rule", "path", "server"} & set(item):
        raise ConfigError(f"{path}: ignore entry {index + 1} needs a rule, a path or a server")
    for key in ("rule", "path", "server", "reason"):
        if key in item and not isinstance(item[key], str):
            raise ConfigError(f"{path}: ignore entry {index + 1}: {key} must be a string")
    return Ignore(
        rule=item.get("rule", "*"),
        path=item.get("path", "*"),
        server=item.get("server"),
        reason=item.get("reason", ""),
    )


def log_section(path: str) -> dict[str, object]:
    """The ``[log]`` table of a project file (``[[log.export]]``), checked; {} if none.

    Its own function, apart from ``load`` (``[audit]``): the export worker reads it,
    and only when the user's config allows project exports (``mcpcred.export.config``).
    """
    from mcpcred.export.config import check_project_log

    data = read_toml(path)
    if "log" not in data:
        return {}
    return check_project_log(path, data["log"])
