"""The ``audit-config`` rules: what is reported for a server entry or a file.

Three families. ``secret/<kind>``: a plaintext credential anywhere in a server
entry (env, args, ``docker -e``, URLs, headers, JSON inside a string, unknown
keys, bare arguments in a known server's credential position); the kind is the
token format or how it was recognised, and ``secret/weak-default-credential``
grades a guessable demo password apart from a leak. ``hygiene/*``:
settings that make credentials easier to steal or servers easier to swap under
you. ``tools/*``: what guard mode's pinned tool definitions say about a server
(``audit/pinned.py``; only where pins exist). ``RULES`` holds the metadata
every output format and the docs use; a test keeps ``docs/audit-config.md`` in
step with it.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol

from mcpcred.audit import tokenfiles, tokens
from mcpcred.audit.secrets import (
    Detector,
    Hit,
    host_name,
    is_local_host,
    is_placeholder_host,
    name_strength,
    parse_url,
    redact,
)
from mcpcred.clients import BY_ID
from mcpcred.clients.base import is_wrapped
from mcpcred.host import Host
from mcpcred.models import Finding, Pointer, ServerEntry, Severity
from mcpcred.parsing.nodes import (
    ArrayNode,
    KeyNode,
    Node,
    ObjectNode,
    ScalarNode,
    Source,
    pointer_index,
)

if TYPE_CHECKING:
    from mcpcred.audit.pinned import PinnedTools
    from mcpcred.clients.base import ClientAdapter
    from mcpcred.parsing.nodes import Document


@dataclass(frozen=True, slots=True)
class Rule:
    """Metadata of one rule id."""

    id: str
    title: str
    severity: Severity
    description: str
    fix: str


_TO_KEYCHAIN = (
    "Revoke the exposed credential, then reference a new one instead of inlining it, with the "
    "client's own variable syntax (${env:VAR}, ${VAR}, inputs, env_vars...). `mcpcred wrap` "
    "(next release) will move values into the OS keychain."
)


_WEAK_FIX = (
    "If the service is reachable by anyone else, set a strong random password; either way, "
    "reference it instead of writing it in the file."
)


def _secret_rules() -> dict[str, Rule]:
    rules = {
        f"secret/{f.kind}": Rule(
            f"secret/{f.kind}",
            f.title,
            Severity.HIGH if f.severity == "high" else Severity.MEDIUM,
            f.description,
            _TO_KEYCHAIN,
        )
        for f in tokens.FORMATS
    }
    generic = [
        (
            "generic-secret",
            "Credential under a secret-like name",
            Severity.HIGH,
            "A random-looking value stored under a name such as *_TOKEN, *_KEY, *_SECRET or "
            "Authorization. The format is not a known vendor's, so it was judged by name and "
            "shape.",
        ),
        (
            "password",
            "Password",
            Severity.HIGH,
            "A literal value stored under a name such as PASSWORD, PASSWD or *_PASS.",
        ),
        (
            "weak-default-credential",
            "Weak default credential",
            Severity.LOW,
            "A well-known default or tutorial password (postgres, password, mypass, changeme, "
            "admin, root, secret, a password equal to its user name...) under a password name "
            "or in a URL's userinfo. Anyone can guess it, but it is rarely a leaked secret, so "
            "it is graded apart: low on a loopback or documentation host, medium when the URL "
            "names a real remote host.",
        ),
        (
            "url-password",
            "Password in a URL",
            Severity.HIGH,
            "A URL with credentials in its userinfo part (scheme://user:password@host), e.g. a "
            "database connection string passed as an argument.",
        ),
        (
            "url-query-secret",
            "Credential in a URL query parameter",
            Severity.HIGH,
            "A URL whose query carries an API key or token (?api_key=..., ?exaApiKey=...). URLs "
            "end up in logs, shell history and proxies.",
        ),
        (
            "url-path-secret",
            "Credential in a URL path",
            Severity.MEDIUM,
            "A URL with a long random path segment that acts as a bearer secret (personal "
            "server URLs).",
        ),
        (
            "authorization-header",
            "Credential in an HTTP header",
            Severity.HIGH,
            "A literal Authorization, X-API-Key or similar header value in a remote server entry "
            "or in a header argument.",
        ),
    ]
    for kind, title, severity, description in generic:
        fix = _WEAK_FIX if kind == "weak-default-credential" else _TO_KEYCHAIN
        rules[f"secret/{kind}"] = Rule(f"secret/{kind}", title, severity, description, fix)
    return rules


_HYGIENE = [
    Rule(
        "hygiene/unwrapped-server",
        "Server with credentials is not wrapped",
        Severity.MEDIUM,
        "A server entry carries plaintext credentials and is started directly rather than "
        "through `mcpcred shim`, so the secret sits in the file and in every backup of it.",
        "Reference the credentials instead of inlining them, with the client's variable "
        "syntax; `mcpcred wrap` (next release) will move them to the OS keychain.",
    ),
    Rule(
        "hygiene/unpinned-package",
        "Package or image is not pinned",
        Severity.MEDIUM,
        "`npx -y pkg` without a version or with @latest, `uvx pkg` without `==version`, or a "
        "container image without a digest: whoever publishes the next version runs with "
        "the server's credentials. An image pinned to a tag (not a digest) is low severity.",
        "Pin an exact version (`pkg@1.2.3`, `pkg==1.2.3`) or an image digest (`@sha256:...`).",
    ),
    Rule(
        "hygiene/plain-http",
        "Remote server over plain HTTP",
        Severity.MEDIUM,
        "A remote MCP server reached over http:// on a non-loopback host: tokens and tool "
        "traffic travel unencrypted.",
        "Use https://, or a loopback address for local servers.",
    ),
    Rule(
        "hygiene/not-strict-json",
        "Client reads this file as strict JSON",
        Severity.MEDIUM,
        "The file has comments or trailing commas, and its client parses it as strict JSON: "
        "Cline loads no server from it, Crush rejects it, Copilot CLI skips a workspace file, "
        "all without a message. People who find their servers gone tend to paste the "
        "credentials somewhere else.",
        "Remove the comments and trailing commas (mcpcred reads the file either way).",
    ),
    Rule(
        "hygiene/file-permissions",
        "Config file readable by other users",
        Severity.LOW,
        "A user-scope client config (POSIX) is readable by group or others. Medium when the "
        "file also holds plaintext credentials.",
        "`chmod 600 FILE`.",
    ),
    Rule(
        "hygiene/duplicate-key",
        "Duplicate key hides a value",
        Severity.MEDIUM,
        'A JSON object repeats a key (`"TOKEN": "ghp_...", "TOKEN": "changeme"`). '
        "The client reads only the last value; the earlier one stays in the file, unseen by "
        "review and by tools that parse the file. Secrets in the hidden value are reported "
        "too.",
        "Keep one value per key: delete the duplicate (and rotate a credential it held).",
    ),
    Rule(
        "hygiene/shell-wrapper",
        "Server started through a shell command string",
        Severity.MEDIUM,
        '`sh -c "..."`, `bash -c`, `cmd /c "..."` or `powershell -Command` hides the real '
        "command from review, from audit rules and from `wrap`.",
        "Put the real command in `command` and its arguments in `args`.",
    ),
    Rule(
        "hygiene/broad-filesystem",
        "Filesystem server rooted too broadly",
        Severity.MEDIUM,
        "A filesystem MCP server (or a container mount) given `/` (high) or the home "
        "directory (medium): the model can read SSH keys, cloud credentials and these configs.",
        "Give it only the project directories it needs.",
    ),
    Rule(
        "tools/hidden-instructions",
        "Tool definition hides instructions for the model",
        Severity.HIGH,
        "Guard mode pinned this server's tools, and a tool's name, description or input schema "
        "holds content aimed at the model rather than the user: phrases such as 'ignore "
        "previous instructions' or 'do not tell the user', references to SSH keys or MCP client "
        "configs, fake prompt markup such as <IMPORTANT>, invisible or bidirectional Unicode "
        "characters, or long base64/hex blobs. This is how tool-poisoning attacks hide. Medium "
        "when the only sign is an encoded blob.",
        "Read the definition (`mcpcred pins diff SERVER` for a pending change) and remove the "
        "server unless you trust it; report the tool to its publisher.",
    ),
    Rule(
        "tools/definition-changed",
        "Tool definition changed since it was pinned",
        Severity.MEDIUM,
        "A guarded server now offers a tool definition that differs from the one pinned at its "
        "first start (changed, added or removed), and nobody accepted the change. A server that "
        "changes its tools after you approved them (a 'rug pull') can turn a trusted tool "
        'malicious; with on_change = "block" guard mode withholds the tool meanwhile.',
        "Review it with `mcpcred pins diff SERVER`, then accept it with "
        "`mcpcred pins accept SERVER` if it is expected.",
    ),
    Rule(
        "error/parse",
        "Config file could not be parsed",
        Severity.HIGH,
        "The file is not valid JSON/JSONC/TOML. It was not scanned; the client probably "
        "ignores it too.",
        "Fix the syntax at the reported line and column.",
    ),
]

WEAK_DEFAULT = "secret/weak-default-credential"
"""Graded apart from leaked secrets: it neither marks a server as unwrapped nor fails high."""

_TOKEN_FILES = Rule(
    tokenfiles.RULE, tokenfiles.TITLE, Severity.HIGH, tokenfiles.DESCRIPTION, tokenfiles.FIX
)
RULES: dict[str, Rule] = {
    **_secret_rules(),
    _TOKEN_FILES.id: _TOKEN_FILES,
    **{r.id: r for r in _HYGIENE},
}

# --- argument parsing helpers -------------------------------------------------
_FLAG_VALUE = re.compile(r"^(--?[A-Za-z][\w.-]*)=(.*)$", re.DOTALL)
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_HEADER_FLAGS = frozenset({"--header", "-H", "--headers"})
_ENV_FLAGS = frozenset({"-e", "--env"})
_CONTAINER_TOOLS = frozenset({"docker", "podman", "nerdctl"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "fish", "ash"})
_NPX_LIKE = frozenset({"npx", "bunx", "pnpx"})
_UVX_LIKE = frozenset({"uvx"})
_DOCKER_VALUE_OPTS = frozenset(
    {
        "-e",
        "--env",
        "-v",
        "--volume",
        "--name",
        "-p",
        "--publish",
        "--network",
        "--net",
        "--mount",
        "--env-file",
        "-w",
        "--workdir",
        "-u",
        "--user",
        "--entrypoint",
        "--platform",
        "-l",
        "--label",
        "--add-host",
        "--cap-add",
        "--cap-drop",
        "-m",
        "--memory",
        "--cpus",
        "--pull",
        "--restart",
        "--hostname",
        "-h",
        "--device",
        "--security-opt",
        "--tmpfs",
        "--ulimit",
        "--log-driver",
        "--runtime",
        "--init-path",
    }
)
_FILESYSTEM_PACKAGES = re.compile(
    r"(?:server-filesystem|filesystem-mcp|mcp-filesystem|mcp-server-filesystem)"
)


@lru_cache(maxsize=1024)
def _basename(command: str) -> str:
    """The program name of a command (``/usr/bin/NPX.cmd`` -> ``npx``); remembered, since
    every entry asks it of its command and first arguments, and they repeat."""
    name = command.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name.endswith((".exe", ".cmd", ".bat")):  # all four characters long
        return name[:-4]
    return name


# Short flags that servers use for their key (``-k KEY``).
_SHORT_SECRET_FLAGS = {"-k": "API_KEY"}
# Servers documented to take a credential as a bare argument: (package or command,
# subcommands one of which comes first (or none), position after it, what the value
# is, the shape of the arg whose ``secret`` group is the credential).
_ANY = re.compile(r"(?P<secret>.+)", re.DOTALL)
_POSITIONAL_KEYS: tuple[tuple[re.Pattern[str], tuple[str, ...], int, str, re.Pattern[str]], ...] = (
    # npx -y @neondatabase/mcp-server-neon start <NEON_API_KEY> (also: init <KEY>)
    (
        re.compile(r"(?:^|/)mcp-server-neon(?:@[^/]*)?(?:$|/)"),
        ("start", "init"),
        0,
        "NEON_API_KEY",
        _ANY,
    ),
    # npx -y @upstash/mcp-server run <EMAIL> <API_KEY>
    (re.compile(r"^@upstash/mcp-server(?:@[^/]*)?$"), ("run",), 1, "UPSTASH_API_KEY", _ANY),
    # npx -y @twilio-alpha/mcp <ACCOUNT_SID>/<API_KEY>:<API_SECRET>
    (
        re.compile(r"^@twilio-alpha/mcp(?:@[^/]*)?$"),
        (),
        0,
        "TWILIO_API_CREDENTIALS",
        re.compile(r"^AC\w+/SK\w+:(?P<secret>\S+)$"),
    ),
)


# A literal that each of ``_POSITIONAL_KEYS``'s package patterns needs to match.
_POSITIONAL_HINT = re.compile(r"mcp-server-neon|@upstash/mcp-server|@twilio-alpha/mcp").search


@lru_cache(maxsize=1024)
def _env_name(flag: str) -> str:
    """The variable a flag names (``--api-key`` -> ``API_KEY``); remembered, as flags repeat."""
    if flag in _SHORT_SECRET_FLAGS:
        return _SHORT_SECRET_FLAGS[flag]
    return flag.lstrip("-").replace("-", "_").upper()


def _is_long_flag(text: str | None) -> bool:
    """``--name`` (whose value may follow it) rather than ``--name=value`` or a value."""
    return text is not None and text.startswith("--") and "=" not in text


def _known_positionals(
    command: str, texts: list[str | None]
) -> dict[int, tuple[str, re.Match[str]]]:
    """Args that a known server reads as a credential: index -> (what it is, the match
    whose ``secret`` group is the credential inside the arg)."""
    # The literal each package pattern needs, in the command or any arg (flags too: a
    # wider net than the specs below, checked once per entry before they are built).
    if _POSITIONAL_HINT("\n".join([_basename(command), *filter(None, texts)])) is None:
        return {}  # no spec names a known server (the patterns' literal parts; no newline)
    specs = [(_basename(command), -1)] + [
        (t, i) for i, t in enumerate(texts) if t is not None and not t.startswith("-")
    ]
    for spec, at in specs:
        for pattern, subcommand, position, name, shape in _POSITIONAL_KEYS:
            if not pattern.search(spec):
                continue
            rest = [
                j
                for j in range(at + 1, len(texts))
                if (text := texts[j]) is not None
                and not text.startswith("-")
                and not _is_long_flag(texts[j - 1] if j > at + 1 else None)
            ]
            if subcommand:
                if not rest or texts[rest[0]] not in subcommand:
                    continue
                rest = rest[1:]
            if position < len(rest):
                match = shape.match(texts[rest[position]] or "")
                if match is not None:
                    return {rest[position]: (name, match)}
    return {}


@dataclass(slots=True)
class SecretValue:
    """A string to scan: where it is, under which name, and how its text maps back."""

    node: ScalarNode
    text: str  # the part of the node's value to scan
    offset: int  # where ``text`` starts inside the node's decoded value
    name: str | None
    role: str
    pointer: Pointer


_CACHED_CHARS = 128  # longer strings are scanned every time (they rarely repeat)
_CACHE_SIZE = 4096  # strings in ``Auditor._clean`` (about 1 MiB at most); emptied when full


class Auditor:
    """Runs every rule over parsed config files; holds no per-file state."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.detector = Detector()
        self._pinned: PinnedTools | None = None
        # Short strings, with their name and role, in which the detector found nothing.
        # It keeps no state, so the answer is the same every time, and config files
        # repeat most of their strings (``npx``, ``-y``, ``stdio``, package names): 70%
        # of the strings in bench_audit's trees were seen before by the same worker.
        # Credentials rarely repeat, and are not kept. 256 strings, emptied when full,
        # caught under half of those repeats (63,000 detector runs for 115,000 strings
        # on 5,000 files); 4,096 catch five in six (36,000 runs).
        self._clean: set[tuple[str, str | None, str]] = set()
        self._homes = _home_spellings(host)  # for every entry's filesystem rule

    # -- secrets ---------------------------------------------------------------
    def setting_findings(
        self,
        document: Document,
        settings: list[tuple[str, ScalarNode, str]],
        display_path: str,
        client: str,
        fix: str,
    ) -> list[Finding]:
        """``secret/*`` findings for a client's own settings outside its servers.

        ``settings`` holds (name, value node, what it is, e.g. "API key of provider
        'openai'"): a crushrc's ``export OPENAI_API_KEY=...`` or ``provider add
        --api-key``, which no server entry holds and wrap cannot move.
        """
        out: list[Finding] = []
        for name, node, what in settings:
            if not isinstance(node.value, str):
                continue
            for hit in self.detector.scan(node.value, name, "field"):
                rule = RULES.get(f"secret/{hit.kind}") or RULES["secret/generic-secret"]
                line, column = document.source.position(
                    _source_offset(document.source, node, hit.start)
                )
                out.append(
                    Finding(
                        rule=rule.id,
                        severity=hit.severity,
                        path=display_path,
                        line=line,
                        column=column,
                        message=f"{hit.title}: {what}",
                        client=client,
                        fix=fix,
                        evidence=redact(hit.secret),
                        secret_digest=hashlib.sha256(
                            hit.secret.encode("utf-8", "surrogatepass")
                        ).digest(),
                    )
                )
        return out

    def entry_findings(self, entry: ServerEntry, display_path: str) -> list[Finding]:
        """Every finding for one server entry (secrets first, then hygiene)."""
        hits = list(self.secret_hits(entry))
        fixes = _Fixes(entry, frozenset(item.role for item, _ in hits))
        findings = [
            self._secret_finding(entry, item, hit, display_path, fixes) for item, hit in hits
        ]
        leaked = any(f.rule != WEAK_DEFAULT for f in findings)
        findings.extend(self._hygiene(entry, display_path, has_secrets=leaked, fixes=fixes))
        findings.extend(self._tools(entry, display_path))
        return findings

    def _tools(self, entry: ServerEntry, display_path: str) -> list[Finding]:
        """``tools/*`` findings from guard mode's pins (``audit/pinned.py``)."""
        if self._pinned is None:
            from mcpcred.audit.pinned import PinnedTools

            self._pinned = PinnedTools(self.host)
        return self._pinned.findings(entry, display_path)

    def secret_hits(self, entry: ServerEntry) -> Iterator[tuple[SecretValue, Hit]]:
        """Every credential in one entry, once each, with the string it sits in.

        ``wrap`` moves exactly what ``audit-config`` reports, through this one walk.
        """
        seen: set[tuple[int, int, int]] = set()
        clean = self._clean
        for item in self._values(entry):
            asked = (item.text, item.name, item.role)
            if asked in clean:
                continue
            found = self.detector.scan(item.text, item.name, item.role)
            if not found:
                if len(item.text) <= _CACHED_CHARS:
                    if len(clean) >= _CACHE_SIZE:
                        clean.clear()  # memory stays flat however many files a worker scans
                    clean.add(asked)
                continue
            for hit in found:
                key = (item.node.start, item.offset + hit.start, item.offset + hit.end)
                if key in seen:
                    continue
                seen.add(key)
                yield item, hit

    def hidden_secret_hits(
        self, entry: ServerEntry, pointer: Pointer, key: KeyNode, value: Node
    ) -> list[tuple[SecretValue, Hit]]:
        """Credentials in a value hidden by a later duplicate key inside ``entry``.

        ``pointer`` is where the hidden member's key sits (``shadowed_members``).
        The value is judged as if it stood where the client reads its key, so a
        hidden ``"env": {...}`` or ``"args": [...]`` gets the same names and
        flag pairing as a live one; only hits inside the hidden value are kept.
        Each ``SecretValue.node`` is a node of the hidden value, with its true span.
        """
        relative = pointer[len(entry.pointer) :]
        if not relative or pointer[: len(entry.pointer)] != entry.pointer:
            return []
        swapped = _replaced(entry.node, relative, key, value)
        if not isinstance(swapped, ObjectNode):
            return []
        adapter = BY_ID.get(entry.client) or BY_ID["generic"]
        entry_key = KeyNode(entry.name, entry.node.start, entry.node.start)
        shadow = adapter.entry(entry.document, entry.location, entry_key, swapped, entry.pointer)
        inside = set(pointer_index(value))
        return [(item, hit) for item, hit in self.secret_hits(shadow) if id(item.node) in inside]

    def hidden_secret_findings(
        self, entry: ServerEntry, pointer: Pointer, key: KeyNode, value: Node, display_path: str
    ) -> list[Finding]:
        """``secret/*`` findings for ``hidden_secret_hits``."""
        fixes = _Fixes(entry, None)
        return [
            self._secret_finding(entry, item, hit, display_path, fixes)
            for item, hit in self.hidden_secret_hits(entry, pointer, key, value)
        ]

    def _values(self, entry: ServerEntry) -> list[SecretValue]:
        """Every string in the entry with its name context and its real JSON pointer.

        Pointers are computed from the tree, not from normalised key names, so a
        Codex ``http_headers`` value, a Windsurf ``serverUrl`` and a legacy Zed
        ``command.env`` each get their true path (fingerprints depend on it).
        """
        pointers, strings = _entry_index(entry)
        out: list[SecretValue] = []
        # ``strings`` loses each string a role below takes; the rest are read last.
        handled = strings.pop
        for role, members in (("env", entry.env), ("header", entry.headers)):
            for key, node in members:
                if isinstance(node, ScalarNode):
                    if isinstance(node.value, str):
                        handled(id(node), None)
                        out.append(
                            SecretValue(node, node.value, 0, key.name, role, pointers[id(node)])
                        )
                    continue
                for item in _strings(node, key.name, role, pointers[id(node)]):
                    handled(id(item.node), None)
                    out.append(item)
        if isinstance(entry.url, ScalarNode) and isinstance(entry.url.value, str):
            handled(id(entry.url), None)
            out.append(
                SecretValue(entry.url, entry.url.value, 0, None, "url", pointers[id(entry.url)])
            )
        if isinstance(entry.command, ScalarNode) and isinstance(entry.command.value, str):
            handled(id(entry.command), None)
            out.append(
                SecretValue(
                    entry.command,
                    entry.command.value,
                    0,
                    None,
                    "command",
                    pointers[id(entry.command)],
                )
            )
        for item in self._arg_values(entry, pointers):
            handled(id(item.node), None)
            out.append(item)
        # Everything else (unknown keys, oauth blocks, headers tables a client ignores),
        # named by its nearest key.
        for pointer, node, text, name, in_headers in strings.values():
            role = "header" if in_headers else "field"
            out.append(SecretValue(node, text, 0, name, role, pointer))
        return out

    def _arg_values(
        self, entry: ServerEntry, pointers: dict[int, Pointer]
    ) -> Iterator[SecretValue]:
        args = entry.args
        command_text = entry.command_text() or ""
        texts = [
            a.value if isinstance(a, ScalarNode) and isinstance(a.value, str) else None
            for a in args
        ]
        container = _basename(command_text) in _CONTAINER_TOOLS or any(
            _basename(text) in _CONTAINER_TOOLS for text in texts[:3] if text is not None
        )
        pending: str | None = None  # the flag whose value comes next
        known = _known_positionals(command_text, texts)
        previous: str | None = None  # a flag just before a bare value may name it
        for index, node in enumerate(args):
            flag_before, previous = previous, None
            pointer = pointers.get(id(node))
            if pointer is None:  # not built unless needed: this runs for every argument
                pointer = (*entry.pointer, "args", index)
            if not (isinstance(node, ScalarNode) and isinstance(node.value, str)):
                pending = None
                continue
            text = node.value
            if pending is not None:
                flag, pending = pending, None
                if flag in _HEADER_FLAGS:
                    name, _, rest = text.partition(":")
                    offset = len(name) + 1
                    yield SecretValue(node, rest, offset, name.strip(), "header", pointer)
                    continue
                if flag in _ENV_FLAGS and container:
                    assignment = _ASSIGNMENT.match(text)
                    if assignment:
                        yield SecretValue(
                            node,
                            assignment.group(2),
                            assignment.end(1) + 1,
                            assignment.group(1),
                            "env",
                            pointer,
                        )
                    continue
                yield SecretValue(node, text, 0, _env_name(flag), "arg", pointer)
                continue
            # Both shapes need their first character: a flag's "-", an assignment's "=".
            flag_value = _FLAG_VALUE.match(text) if text[:1] == "-" else None
            if flag_value:
                flag = flag_value.group(1)
                if flag in ("--env",) and container:
                    assignment = _ASSIGNMENT.match(flag_value.group(2))
                    if assignment:
                        offset = flag_value.start(2) + assignment.end(1) + 1
                        yield SecretValue(
                            node, assignment.group(2), offset, assignment.group(1), "env", pointer
                        )
                        continue
                if flag in _HEADER_FLAGS:
                    name, _, rest = flag_value.group(2).partition(":")
                    yield SecretValue(
                        node,
                        rest,
                        flag_value.start(2) + len(name) + 1,
                        name.strip(),
                        "header",
                        pointer,
                    )
                    continue
                yield SecretValue(
                    node, flag_value.group(2), flag_value.start(2), _env_name(flag), "arg", pointer
                )
                continue
            if text.startswith("-") and len(text) > 1 and " " not in text:
                if (
                    text in _HEADER_FLAGS
                    or (text in _ENV_FLAGS and container)
                    or name_strength(_env_name(text))
                ):
                    pending = text
                else:
                    previous = text
                yield SecretValue(node, text, 0, None, "arg", pointer)
                continue
            if index in known:
                what, match = known[index]
                part = match.group("secret")
                yield SecretValue(node, part, match.start("secret"), what, "arg", pointer)
                if len(part) == len(text):
                    continue
            assignment = _ASSIGNMENT.match(text) if "=" in text else None
            if assignment and not container:
                yield SecretValue(
                    node,
                    assignment.group(2),
                    assignment.end(1) + 1,
                    assignment.group(1),
                    "env",
                    pointer,
                )
                continue
            # A bare argument: a credential only if it is a scrambled key, unless the
            # flag before it says what it is (``--project-id VALUE``).
            flag_name = _env_name(flag_before) if flag_before else None
            yield SecretValue(node, text, 0, flag_name, "positional", pointer)

    def _secret_finding(
        self,
        entry: ServerEntry,
        item: SecretValue,
        hit: Hit,
        display_path: str,
        fixes: _Fixes,
    ) -> Finding:
        rule = RULES.get(f"secret/{hit.kind}") or RULES["secret/generic-secret"]
        offset = _source_offset(entry.document.source, item.node, item.offset + hit.start)
        return entry_finding(
            entry,
            rule,
            display_path,
            offset,
            f"{hit.title}: {hit.context} of server '{entry.name}'",
            severity=hit.severity,
            fix=fixes.weak() if rule.id == WEAK_DEFAULT else fixes.plain(),
            evidence=redact(hit.secret),
            pointer=item.pointer,
            secret_digest=hashlib.sha256(hit.secret.encode("utf-8", "surrogatepass")).digest(),
        )

    # -- hygiene ---------------------------------------------------------------
    def _hygiene(
        self,
        entry: ServerEntry,
        display_path: str,
        *,
        has_secrets: bool,
        fixes: _Fixes,
    ) -> Iterator[Finding]:
        source = entry.document.source
        name_key = entry.pointer

        def at(
            node: Node | None,
            rule_id: str,
            message: str,
            severity: Severity | None = None,
            evidence: str | None = None,
            pointer: Pointer = name_key,
        ) -> Finding:
            rule = RULES[rule_id]
            offset = node.start if node is not None else entry.node.start
            if isinstance(node, ScalarNode) and node.kind == "string":
                offset = _source_offset(source, node, 0)
            return entry_finding(
                entry,
                rule,
                display_path,
                offset,
                message,
                severity=severity or rule.severity,
                fix=fixes.plain() if rule_id == "hygiene/unwrapped-server" else rule.fix,
                evidence=evidence,
                pointer=pointer,
            )

        wrapped = is_wrapped(entry)
        if has_secrets and not wrapped:
            yield at(
                entry.node,
                "hygiene/unwrapped-server",
                f"Server '{entry.name}' keeps credentials in this file and is not wrapped",
            )
        inner_command, inner_args, arg_nodes = _unwrap_argv(entry, wrapped)
        if inner_command is not None:
            yield from self._package_findings(entry, inner_command, inner_args, arg_nodes, at)
            yield from _shell_findings(entry, inner_command, inner_args, arg_nodes, at)
            yield from self._filesystem_findings(entry, inner_command, inner_args, arg_nodes, at)
        urls: list[tuple[Node | None, str]] = []
        if isinstance(entry.url, ScalarNode) and isinstance(entry.url.value, str):
            urls.append((entry.url, entry.url.value))
        urls.extend(
            (node, text)
            for node, text in zip(arg_nodes, inner_args, strict=False)
            if text.startswith("http://")
        )
        for node, url in urls:
            if url[:7].lower() != "http://":
                continue
            parts = parse_url(url)
            host = host_name(url[parts.host[0] : parts.host[1]])
            # Loopback never leaves the machine; a documentation host is not a real server.
            if host and not is_local_host(host) and not is_placeholder_host(host):
                yield at(
                    node,
                    "hygiene/plain-http",
                    f"Server '{entry.name}' is reached over plain http:// at {host}",
                    evidence=f"http://{host}",
                )

    def _package_findings(
        self, entry: ServerEntry, command: str, args: list[str], nodes: list[Node], at: _At
    ) -> Iterator[Finding]:
        tool = _basename(command)
        rest, rest_nodes = args, nodes
        if (
            tool in {"cmd", "cmd.exe"}
            and args[:1]
            and args[0].lower() in {"/c", "/k"}
            and len(args) > 2
        ):
            tool, rest, rest_nodes = _basename(args[1]), args[2:], nodes[2:]
        if tool in {"npm", "pnpm", "yarn", "bun"} and rest[:1] and rest[0] in {"exec", "dlx", "x"}:
            tool, rest, rest_nodes = "npx", rest[1:], rest_nodes[1:]
        if tool == "uv" and rest[:2] == ["tool", "run"]:
            tool, rest, rest_nodes = "uvx", rest[2:], rest_nodes[2:]
        if tool == "pipx" and rest[:1] == ["run"]:
            tool, rest, rest_nodes = "uvx", rest[1:], rest_nodes[1:]
        if tool in _NPX_LIKE:
            spec, node = _first_package(rest, rest_nodes, *_NPX_PACKAGE_FLAGS)
            if spec and not _npm_pinned(spec):
                yield at(
                    node,
                    "hygiene/unpinned-package",
                    f"Server '{entry.name}' runs npm package '{spec}' without a pinned version",
                    evidence=spec,
                )
        elif tool in _UVX_LIKE:
            spec, node = _first_package(rest, rest_nodes, *_UVX_PACKAGE_FLAGS)
            if spec and not _python_pinned(spec):
                yield at(
                    node,
                    "hygiene/unpinned-package",
                    f"Server '{entry.name}' runs Python package '{spec}' without a pinned version",
                    evidence=spec,
                )
        elif tool in _CONTAINER_TOOLS and "run" in rest:
            image, node = _container_image(rest, rest_nodes)
            if image and "@sha256:" not in image:
                tag = image.rsplit("/", 1)[-1].partition(":")[2]
                severity = Severity.LOW if tag and tag != "latest" else Severity.MEDIUM
                yield at(
                    node,
                    "hygiene/unpinned-package",
                    f"Server '{entry.name}' runs container image '{image}' without a digest",
                    severity=severity,
                    evidence=image,
                )

    def _filesystem_findings(
        self, entry: ServerEntry, command: str, args: list[str], nodes: list[Node], at: _At
    ) -> Iterator[Finding]:
        tool = _basename(command)
        homes = self._homes
        # One search over the lines: no package name holds a line break, so a match
        # lies inside one of them, as when each was searched on its own.
        if _FILESYSTEM_PACKAGES.search("\n".join([command, *args])):
            started = False
            for text, node in zip(args, nodes, strict=False):
                if _FILESYSTEM_PACKAGES.search(text):
                    started = True
                    continue
                if not started or text.startswith("-"):
                    continue
                broad = _broad(text, homes)
                if broad is not None:
                    yield at(
                        node,
                        "hygiene/broad-filesystem",
                        f"Filesystem server '{entry.name}' is given {broad[1]}",
                        severity=broad[0],
                        evidence=text,
                    )
        if tool in _CONTAINER_TOOLS or any(_basename(a) in _CONTAINER_TOOLS for a in args[:2]):
            for index, text in enumerate(args):
                mount = None
                if text in {"-v", "--volume"} and index + 1 < len(args):
                    mount, node = _mount_source(args[index + 1]), nodes[index + 1]
                elif text.startswith(("--volume=", "-v=")):
                    mount, node = _mount_source(text.split("=", 1)[1]), nodes[index]
                elif text == "--mount" and index + 1 < len(args):
                    parts = dict(p.partition("=")[::2] for p in args[index + 1].split(","))
                    mount, node = parts.get("source") or parts.get("src"), nodes[index + 1]
                if mount:
                    broad = _broad(mount, homes)
                    if broad is not None:
                        yield at(
                            node,
                            "hygiene/broad-filesystem",
                            f"Container of server '{entry.name}' mounts {broad[1]}",
                            severity=broad[0],
                            evidence=mount,
                        )

    # -- files -----------------------------------------------------------------
    def strict_json_findings(
        self, document: Document, adapter: ClientAdapter, scope: str, display_path: str
    ) -> list[Finding]:
        """A JSONC-only feature in a file its client reads as strict JSON."""
        if document.format != "jsonc" or scope not in adapter.strict_json_scopes:
            return []
        rule = RULES["hygiene/not-strict-json"]
        return [
            Finding(
                rule=rule.id,
                severity=rule.severity,
                path=display_path,
                line=1,
                column=1,
                message=(
                    f"{adapter.display_name} reads this file as strict JSON; its comments or "
                    "trailing commas make it skip the servers without a message"
                ),
                fix=rule.fix,
            )
        ]

    def file_findings(
        self, path: str, display_path: str, scope: str, has_secrets: bool, mode: int | None
    ) -> list[Finding]:
        """Findings about a file as a whole (permissions)."""
        if mode is None or scope == "project" or not mode & 0o044:
            return []
        rule = RULES["hygiene/file-permissions"]
        severity = Severity.MEDIUM if has_secrets else Severity.LOW
        who = (
            "group and others"
            if mode & 0o004 and mode & 0o040
            else ("others" if mode & 0o004 else "group")
        )
        return [
            Finding(
                rule=rule.id,
                severity=severity,
                path=display_path,
                line=1,
                column=1,
                message=f"Config file is readable by {who} (mode {mode & 0o777:o})",
                fix=rule.fix.replace("FILE", path),
                evidence=f"{mode & 0o777:o}",
            )
        ]


class _At(Protocol):
    """Signature of the local finding factory inside ``_hygiene`` (for typing only)."""

    def __call__(
        self,
        node: Node | None,
        rule_id: str,
        message: str,
        severity: Severity | None = None,
        evidence: str | None = None,
        pointer: Pointer = (),
    ) -> Finding: ...


def entry_finding(
    entry: ServerEntry,
    rule: Rule,
    display_path: str,
    offset: int,
    message: str,
    *,
    severity: Severity,
    fix: str,
    evidence: str | None = None,
    pointer: Pointer,
    secret_digest: bytes | None = None,
) -> Finding:
    """A finding of ``rule`` about one server entry, at ``offset`` in the entry's file."""
    line, column = entry.document.source.position(offset)
    return Finding(
        rule=rule.id,
        severity=severity,
        path=display_path,
        line=line,
        column=column,
        message=message,
        client=entry.client,
        server=entry.name,
        fix=fix,
        evidence=evidence,
        pointer=pointer,
        secret_digest=secret_digest,
    )


def _remote_wrappable(entry: ServerEntry, roles: frozenset[str] | None) -> bool:
    """Whether ``wrap`` moves this remote entry's credentials (``wrap.plan._remote``).

    ``roles`` are where its credentials sit (``header``, ``url``, ...), if known:
    headers alone go to a header helper where the client has one; headers and the
    URL go to the bridge, unless the entry also uses something of the client's own
    (an env-var header, its OAuth) that a bridge entry cannot carry.
    """
    adapter = BY_ID.get(entry.client)
    if adapter is None or entry.client == "generic":
        return False
    helper = adapter.header_helper
    if helper and helper not in entry.node and roles is not None and roles <= {"header"}:
        return True
    from mcpcred.wrap.plan import OAuthApp, oauth_app  # plan imports this module

    app = oauth_app(entry, adapter)
    if isinstance(app, str):
        return False
    # an OAuth app's client secret (a "field") moves too: mcpcred login takes the app over
    reach = {"header", "url", "field"} if app is not None else {"header", "url"}
    if not adapter.bridge or (roles is not None and not roles <= reach):
        return False
    block = app.block if isinstance(app, OAuthApp) else None
    return not any(key in entry.node and key != block for key in adapter.bridge_blockers)


def _fix_for(entry: ServerEntry, roles: frozenset[str] | None = None) -> str:
    """What to do about a credential in this entry: ``mcpcred wrap`` where it can help.

    Stdio servers of known clients, and remote ones whose credentials sit in the
    URL or headers (a header helper or the bridge takes them), can be wrapped;
    otherwise the advice is the client's own reference syntax where it has one.
    """
    adapter = BY_ID.get(entry.client)
    wrappable = entry.transport == "stdio" or _remote_wrappable(entry, roles)
    blocked = adapter.wrap_blocker(entry) if adapter is not None else None
    if blocked is not None:  # a crushrc command wrap must leave: say why, and the way out
        hint = adapter.reference_hint if adapter is not None else None
        return f"Rotate it; wrap leaves this server because {blocked}" + (
            f", or reference the value instead: {hint}" if hint else ""
        )
    if adapter is not None and entry.client != "generic" and wrappable:
        return (
            "Rotate it, then move it into the OS keychain: "
            f"mcpcred wrap {entry.client} --server {shlex.quote(entry.name)}"
        )
    own = adapter.oauth_client_fix if adapter is not None else None
    if own and entry.transport == "remote" and roles is not None and "field" in roles:
        from mcpcred.wrap.plan import oauth_app  # plan imports this module

        if isinstance(oauth_app(entry, adapter), str):  # an app wrap leaves, with the reason
            return own
    hint = adapter.reference_hint if adapter is not None else None
    if hint:
        return f"Rotate it, then reference it instead of inlining it: {hint}"
    name = adapter.display_name if adapter is not None else "This client"
    return (
        f"Rotate it and remove it from the file; {name} cannot reference variables, "
        "so keep the server's credentials in its own environment or keychain"
    )


def _weak_fix_for(
    entry: ServerEntry, roles: frozenset[str] | None = None, fix: str | None = None
) -> str:
    """A weak default needs a strong password where others reach the service; the file
    should hold none either way, and where ``mcpcred wrap`` can move it, that is the way
    (it moves weak defaults like any credential; it never refuses or asks twice).

    ``fix`` is ``_fix_for(entry, roles)`` when the caller has it already.
    """
    fix = _fix_for(entry, roles) if fix is None else fix
    if entry.transport == "remote" or not fix.startswith("Rotate it, then "):
        # wrap leaves a remote entry whose only credential is a default as it is
        return _WEAK_FIX
    return (
        "If the service is reachable by anyone else, set a strong random password; either way, "
        + fix.removeprefix("Rotate it, then ")
    )


class _Fixes:
    """The fix texts of one entry's findings, each worked out once, when first needed.

    ``_fix_for`` looks at the entry's adapter, transport and OAuth block, which are
    the same for every finding of the entry; asking it again per finding was a
    hundredth of a scan.
    """

    __slots__ = ("_entry", "_plain", "_roles", "_weak")

    def __init__(self, entry: ServerEntry, roles: frozenset[str] | None) -> None:
        self._entry = entry
        self._roles = roles
        self._plain: str | None = None
        self._weak: str | None = None

    def plain(self) -> str:
        """``_fix_for(entry, roles)``."""
        if self._plain is None:
            self._plain = _fix_for(self._entry, self._roles)
        return self._plain

    def weak(self) -> str:
        """``_weak_fix_for(entry, roles)``."""
        if self._weak is None:
            self._weak = _weak_fix_for(self._entry, self._roles, self.plain())
        return self._weak


_Leaf = tuple[Pointer, ScalarNode, str, str | None, bool]  # pointer, node, its text, name, ...


def _entry_index(entry: ServerEntry) -> tuple[dict[int, Pointer], dict[int, _Leaf]]:
    """One walk over an entry: the JSON pointer of every node (by identity), and every
    string leaf in document order with its pointer, its nearest key and whether a
    ``headers`` key is above it (inside the entry).

    The same as ``pointer_index`` (a node the tree holds twice keeps its first place
    and its last pointer), without a second pass to name and filter the leaves.
    """
    pointers: dict[int, Pointer] = {}
    strings: dict[int, _Leaf] = {}
    stack: list[tuple[Node, Pointer, str | None, bool]] = [(entry.node, entry.pointer, None, False)]
    pop, push = stack.pop, stack.extend
    while stack:
        node, pointer, name, in_headers = pop()
        pointers[id(node)] = pointer
        if isinstance(node, ScalarNode):
            if isinstance(node.value, str):
                strings[id(node)] = (pointer, node, node.value, name, in_headers)
        elif isinstance(node, ObjectNode):
            members = node.members
            for at, (key, child) in enumerate(members):
                if not isinstance(child, ScalarNode):  # the rest after its subtree: stacked
                    push(
                        [
                            (item, (*pointer, k.name), k.name, in_headers or k.name == "headers")
                            for k, item in reversed(members[at:])
                        ]
                    )
                    break
                # a leaf is visited here, in order (no subtree to come before the next one)
                path = (*pointer, key.name)
                pointers[id(child)] = path
                if isinstance(child.value, str):
                    below = in_headers or key.name == "headers"
                    strings[id(child)] = (path, child, child.value, key.name, below)
        elif isinstance(node, ArrayNode):
            items = node.items
            for at, child in enumerate(items):
                if not isinstance(child, ScalarNode):
                    push(
                        [
                            (items[i], (*pointer, i), name, in_headers)
                            for i in range(len(items) - 1, at - 1, -1)
                        ]
                    )
                    break
                path = (*pointer, at)
                pointers[id(child)] = path
                if isinstance(child.value, str):
                    strings[id(child)] = (path, child, child.value, name, in_headers)
    return pointers, strings


def _strings(node: Node, name: str | None, role: str, pointer: Pointer) -> Iterator[SecretValue]:
    """Every string leaf under ``node``, named by its nearest key."""
    if isinstance(node, ScalarNode):
        if isinstance(node.value, str):
            yield SecretValue(node, node.value, 0, name, role, pointer)
    elif isinstance(node, ObjectNode):
        for key, child in node.members:
            yield from _strings(child, key.name, role, (*pointer, key.name))
    elif isinstance(node, ArrayNode):
        for index, child in enumerate(node.items):
            yield from _strings(child, name, role, (*pointer, index))


def _replaced(node: Node, relative: Pointer, key: KeyNode, value: Node) -> Node:
    """A copy of ``node`` whose member at ``relative`` is ``key: value`` (the rest shared)."""
    head, rest = relative[0], relative[1:]
    if isinstance(node, ObjectNode) and isinstance(head, str):
        copy = ObjectNode(node.start, node.end, list(node.members), dict(node._index))
        index = copy._index.get(head)
        if index is None:
            return node
        old_key, child = copy.members[index]
        copy.members[index] = (
            (key, value) if not rest else (old_key, _replaced(child, rest, key, value))
        )
        return copy
    if (
        isinstance(node, ArrayNode)
        and isinstance(head, int)
        and 0 <= head < len(node.items)
        and rest
    ):
        items = list(node.items)
        items[head] = _replaced(items[head], rest, key, value)
        return ArrayNode(node.start, node.end, items)
    return node


def _source_offset(source: Source, node: ScalarNode, index: int) -> int:
    """Map an index in a string node's decoded value back to the source text.

    Walks the literal's escapes (JSON and TOML basic strings share them), so a
    finding inside JSON-in-a-string still points at the secret's first character.
    """
    text = source.text
    triple = text.startswith(('"""', "'''"), node.start)
    quote = 3 if triple else (1 if text[node.start : node.start + 1] in "\"'" else 0)
    content = node.start + quote
    value = node.value if isinstance(node.value, str) else ""
    if text[content : content + index] == value[:index]:
        return content + index
    if text[node.start : node.start + 1] != '"' or triple:
        return content
    raw = content
    for _ in range(index):
        if text[raw] != "\\":
            raw += 1
        elif text[raw + 1] == "u":
            low = text[raw + 6 : raw + 8]
            pair = 0xD800 <= int(text[raw + 2 : raw + 6], 16) < 0xDC00 and low == "\\u"
            raw += 12 if pair else 6
        elif text[raw + 1] == "U":
            raw += 10
        else:
            raw += 2
    return raw


def _unwrap_argv(entry: ServerEntry, wrapped: bool) -> tuple[str | None, list[str], list[Node]]:
    """The real command and args, looking through ``mcpcred shim ... --``."""
    command = entry.command_text()
    nodes = [a for a in entry.args if isinstance(a, ScalarNode) and isinstance(a.value, str)]
    args = [str(a.value) for a in nodes]
    if wrapped and "--" in args:
        split = args.index("--")
        if split + 1 < len(args):
            return args[split + 1], args[split + 2 :], list(nodes[split + 2 :])
        return None, [], []
    return command, args, list(nodes)


# The flags that take a package name as their value, alone and as "flag=" prefixes.
_NPX_PACKAGE_FLAGS = (frozenset({"-p", "--package"}), ("-p=", "--package="))
_UVX_PACKAGE_FLAGS = (frozenset({"--from"}), ("--from=",))


def _first_package(
    args: list[str], nodes: list[Node], value_flags: frozenset[str], prefixes: tuple[str, ...]
) -> tuple[str | None, Node | None]:
    skip_next = False
    for text, node in zip(args, nodes, strict=False):
        if skip_next:
            return text, node
        if text in value_flags:
            skip_next = True
            continue
        if text.startswith(prefixes):  # "--package=x": no flag holds "=", so x follows the first
            return text.split("=", 1)[1], node
        if text.startswith("-"):
            continue
        return text, node
    return None, None


def _npm_pinned(spec: str) -> bool:
    if spec.startswith((".", "/", "file:", "git+", "http:", "https:")) or "${" in spec:
        return True
    name_part = spec[1:] if spec.startswith("@") else spec
    _, at, version = name_part.partition("@")
    if not at or not version:
        return False
    return version not in {"latest", "next", "*", "x"} and not re.match(
        r"^[\^~><=*]|.*\bx\b", version
    )


def _python_pinned(spec: str) -> bool:
    if spec.startswith((".", "/", "git+", "http:", "https:", "file:")):
        return "@" in spec or spec.startswith((".", "/", "file:"))
    if "==" in spec or "===" in spec:
        return True
    _, at, version = spec.partition("@")
    return bool(at and version and version != "latest")


def _container_image(args: list[str], nodes: list[Node]) -> tuple[str | None, Node | None]:
    index = args.index("run") + 1
    while index < len(args):
        text = args[index]
        if text.startswith("-"):
            if text in _DOCKER_VALUE_OPTS:
                index += 1
            index += 1
            continue
        return text, nodes[index]
    return None, None


_SHELL_TOOLS = _SHELLS | {"cmd", "powershell", "pwsh"}  # what ``_shell_findings`` looks at


def _shell_findings(
    entry: ServerEntry, command: str, args: list[str], nodes: list[Node], at: _At
) -> Iterator[Finding]:
    tool = _basename(command)
    if tool not in _SHELL_TOOLS:
        return  # every case below names one of them: most commands are npx, uvx, docker...
    for index, text in enumerate(args):
        if index + 1 >= len(args):
            break
        payload = args[index + 1]
        shell = (
            (tool in _SHELLS and re.fullmatch(r"-[a-z]*c", text) is not None)
            or (
                tool == "cmd"
                and text.lower() in {"/c", "/k"}
                and " " in payload
                and index + 2 == len(args)
            )
            or (tool in {"powershell", "pwsh"} and text.lower() in {"-command", "-c"})
        )
        if shell:
            yield at(
                nodes[index + 1],
                "hygiene/shell-wrapper",
                f"Server '{entry.name}' is started through `{tool} {text}` with a command string",
                evidence=f"{tool} {text}",
            )
            return


def _home_spellings(host: Host) -> set[str]:
    home = host.home.rstrip("/\\")
    return {
        "~", "~/", "$HOME", "${HOME}", "${env:HOME}", "${userHome}", "%USERPROFILE%",
        "${env:USERPROFILE}", home, home + "/", home + "\\",
    }  # fmt: skip


def _mount_source(spec: str) -> str:
    """The host side of ``-v SRC:DST[:opts]``; a Windows drive's colon is not a separator."""
    if re.match(r"[A-Za-z]:[\\/]", spec):
        return spec[:2] + spec[2:].split(":", 1)[0]
    return spec.split(":", 1)[0]


def _broad(path: str, homes: set[str]) -> tuple[Severity, str] | None:
    """How broad a root given to a filesystem server is, and what it exposes.

    The filesystem root or every user's home is high; one user's home
    (``~``, ``/Users/ann``, ``/home/ann``, ``/root``, ``C:\\Users\\ann``) is medium.
    """
    cleaned = path.strip()
    if cleaned in {"/", "\\", "//"} or re.fullmatch(r"[A-Za-z]:[\\/]?|/mnt/[a-z]/?", cleaned):
        return Severity.HIGH, "the filesystem root"
    if re.fullmatch(r"(?:/home|/Users|/mnt/[a-z]/Users|[A-Za-z]:[\\/]Users)[\\/]?", cleaned, re.I):
        return Severity.HIGH, "every user's home directory"
    if (
        cleaned in homes
        or re.fullmatch(r"/(?:home|Users)/[^/]+/?|/root/?|/var/root/?", cleaned)
        or re.fullmatch(r"(?:[A-Za-z]:|/mnt/[a-z])[\\/]Users[\\/][^\\/]+[\\/]?", cleaned, re.I)
    ):
        return Severity.MEDIUM, "a whole home directory"
    return None
