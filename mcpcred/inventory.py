"""The ``mcpcred clients`` use case: which clients are set up here, and how.

For each supported client: the config files it would read on this machine
(user and system scope, plus project scope under the working directory),
which of them exist, how many servers each holds (stdio and remote) and how
many are already wrapped. A file that does not parse is listed with its error
rather than aborting the listing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePath

from mcpcred.clients import ADAPTERS, ClientAdapter, is_wrapped
from mcpcred.discovery import expand
from mcpcred.errors import ParseError
from mcpcred.host import Host
from mcpcred.models import ConfigLocation
from mcpcred.parsing.files import parse, read_text


@dataclass(slots=True)
class FileStatus:
    """One config location and what it holds."""

    path: str
    scope: str
    format: str
    exists: bool
    stdio: int = 0
    remote: int = 0
    wrapped: int = 0
    error: str | None = None


@dataclass(slots=True)
class ClientStatus:
    """One client and all its config locations."""

    id: str
    name: str
    files: list[FileStatus] = field(default_factory=list)

    @property
    def found(self) -> bool:
        """Whether any of its config files exists."""
        return any(f.exists for f in self.files)

    def total(self, attribute: str) -> int:
        """Sum of a counter over the existing files."""
        return sum(int(getattr(f, attribute)) for f in self.files)


def inventory(host: Host) -> list[ClientStatus]:
    """Every supported client, found or not."""
    return [_client(adapter, host) for adapter in ADAPTERS]


def _client(adapter: ClientAdapter, host: Host) -> ClientStatus:
    status = ClientStatus(adapter.id, adapter.display_name)
    locations = adapter.user_locations(host) + adapter.project_locations(PurePath(host.cwd))
    for location in locations:
        existing = list(expand(location))
        if not existing:
            if "*" not in location.path:
                status.files.append(
                    FileStatus(location.path, location.scope, location.format, False)
                )
            continue
        for concrete in existing:
            status.files.append(_file(adapter, concrete))
    return status


def _file(adapter: ClientAdapter, location: ConfigLocation) -> FileStatus:
    result = FileStatus(location.path, location.scope, location.format, True)
    try:
        document = parse(location.path, read_text(location.path))
    except ParseError as exc:
        result.error = f"line {exc.line}, column {exc.column}: {exc.reason}"
        return result
    except OSError as exc:
        result.error = exc.strerror or "cannot read"
        return result
    for entry in adapter.servers(document, location):
        if entry.transport == "remote":
            result.remote += 1
        else:
            result.stdio += 1
        if is_wrapped(entry):
            result.wrapped += 1
    return result
