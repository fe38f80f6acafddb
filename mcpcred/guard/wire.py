"""What a line on the wire means, read one way only, and written back the same way.

The guard decides on what *it* parsed; the peer acts on what *its* parser
reads. Wherever the two can differ, a policy can be walked around: the MCP
Python SDK reads stdin with universal newlines, so a bare CR ends a message
there while it is JSON whitespace here; Go's ``encoding/json`` matches keys
without regard to case; parsers differ on duplicate keys, invalid UTF-8,
lone surrogates, ``NaN`` and numbers of thousands of digits. So the guard
never forwards the bytes it was given: it reads a line strictly (``parse``,
refusing anything two common parsers could read differently) and writes
what it read back in one canonical form (``canonical``): compact, pure
ASCII (no raw CR, NUL, U+2028 or U+2029 can survive), one ``\\n`` at the end.

Standard library only: it runs on every message of a guarded session.
"""

from __future__ import annotations

import json
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

_SEPARATORS = (",", ":")
# Where a line can hold a lone surrogate: an escape (strict UTF-8 has none raw).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_ESCAPED_SURROGATE = b"\\ud"  # ...and where json.dumps writes one


BLANK = object()  # what ``parse`` returns for a line with nothing on it


class Unreadable(ValueError):
    """A line the guard will not act on, with why (never with the line's content)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Keys of JSON-RPC and MCP messages, no two of which fold to the same key (tests/guard/
# test_wire.py checks it): distinct keys all from this set cannot collide under case
# folding, whatever their case. ``isError``, ``inputSchema``, ``nextCursor``... are not
# their own case fold, so without this set every object holding one was folded key by key.
KNOWN_KEYS = frozenset({
    "jsonrpc", "id", "method", "params", "result", "error", "code", "message", "data",
    "name", "arguments", "uri", "cursor", "requestId", "_meta", "progressToken", "progress",
    "total", "content", "type", "text", "isError", "structuredContent", "tools", "nextCursor",
    "title", "description", "inputSchema", "outputSchema", "annotations", "properties",
    "required", "items", "enum", "default", "format", "additionalProperties",
    "protocolVersion", "capabilities", "clientInfo", "serverInfo", "version", "instructions",
    "mimeType", "resources", "resourceTemplates", "uriTemplate", "contents", "resource",
    "blob", "prompts", "messages", "role", "reason", "level", "logger", "roots", "sampling",
    "elicitation", "experimental", "listChanged", "subscribe", "completions", "logging",
    "readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint", "icons", "src",
    "sizes", "size", "audience", "priority", "lastModified",
})  # fmt: skip


def _pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object, unless two of its keys could be the same key to some parser.

    This runs for every object of every message, so the common cases are
    decided without folding each key: keys that are all from ``KNOWN_KEYS``
    (one set comparison, in C), and keys that are all ASCII with no upper-case
    letter (already their own case fold, so distinct ones cannot collide).
    """
    result = dict(pairs)
    if len(result) != len(pairs):
        raise Unreadable("an object has the same key twice")
    if len(result) > 1 and not result.keys() <= KNOWN_KEYS:
        joined = "".join(result)
        if joined.isascii() and joined == joined.lower():
            return result
        if len({key.casefold() for key in result}) != len(result):
            raise Unreadable("an object has keys that differ only in case")
    return result


def _constant(name: str) -> object:
    raise Unreadable(f"{name} is not JSON")


def _float(text: str) -> float:
    value = float(text)
    if value in (_INFINITY, -_INFINITY):
        raise Unreadable("a number too large for JSON")
    return value


_INFINITY = float("inf")
_decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
# What ``_decoder.decode`` runs, called directly: its two Python frames cost more than the
# scanner itself on a small message, and ``parse`` runs for every message both ways.
_scan: Callable[[str, int], tuple[object, int]] = getattr(_decoder, "scan_once")  # noqa: B009
_SPACE = re.compile(r"[ \t\n\r]*")  # json.decoder.WHITESPACE
_BLANKS = " \t\r\n"


def parse(line: bytes | bytearray) -> object:
    """The one message on ``line`` (``BLANK`` if there is none), or ``Unreadable``.

    Strict where parsers disagree: UTF-8 only (no BOM, no invalid bytes, which
    some parsers replace and Python's ``json`` reads as UTF-16 or surrogates),
    no duplicate or case-colliding keys, no lone surrogates (some parsers keep
    them, some replace them, some refuse the message), no ``NaN``/``Infinity``
    and no number too large for a double, nesting and integer size within what
    Python reads. What it returns, ``canonical`` can write.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("not valid UTF-8") from None
    if not text or (text[0] in _BLANKS and not text.strip(_BLANKS)):  # no copy of a message
        return BLANK
    try:  # JSONDecoder.decode, with its messages
        try:
            message, end = _scan(text, 0 if text[0] not in _BLANKS else _after_blanks(text))
        except StopIteration as exc:
            raise json.JSONDecodeError("Expecting value", text, exc.value) from None
        if end != len(text) and text[end:].strip(_BLANKS):
            raise json.JSONDecodeError("Extra data", text, end)
    except Unreadable:
        raise
    except RecursionError:
        raise Unreadable("nested too deeply") from None
    except ValueError as exc:  # JSONDecodeError, or an integer past Python's digit limit
        if isinstance(exc, json.JSONDecodeError):
            raise Unreadable(f"not JSON ({exc.msg})") from None
        raise Unreadable("a number too long to read") from None
    if "\\u" in text and _SURROGATE_ESCAPE.search(text) and _lone_surrogate(message):
        raise Unreadable("a string holds a lone surrogate")
    return message


def _after_blanks(text: str) -> int:
    """Where the JSON on a line starts: after the whitespace JSON allows (none else)."""
    found = _SPACE.match(text)
    return found.end() if found is not None else 0


def canonical(message: object) -> bytes:
    """``message`` as one compact, ASCII-only line; ``Unreadable`` if it cannot be one.

    ``ensure_ascii`` escapes every control character and everything past
    U+007F, so no line terminator of any reader can appear inside the line.
    A float that overflowed to infinity and a lone surrogate have no form
    every parser reads alike, so they are refused here.
    """
    try:
        text = "".join(_encode(message, 0))
    except RecursionError:
        raise Unreadable("nested too deeply") from None
    except ValueError:
        raise Unreadable("a number too large for JSON") from None
    data = text.encode("ascii")
    if _ESCAPED_SURROGATE in data and _lone_surrogate(message):
        raise Unreadable("a string holds a lone surrogate")
    return data + b"\n"


def _make_encoder() -> Callable[[object, int], Sequence[str]]:
    """``json.dumps(ensure_ascii=True, separators=(",", ":"), allow_nan=False)``, built once.

    ``json.dumps`` builds a new encoder on every call, which costs more than
    encoding a small message (about 3.5 us against 1.4 for a ``tools/call``);
    ``canonical`` runs for every message both ways. This is the same C encoder
    ``json.dumps`` uses, without its check for reference cycles: a message is
    parsed JSON or built by the guard, never cyclic, and a cycle would still
    end in ``RecursionError``. Where the C encoder is missing, ``json.dumps``.
    """
    from json import encoder

    make = getattr(encoder, "c_make_encoder", None)

    def unsupported(value: object) -> object:
        raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")

    if make is None:  # pragma: no cover - CPython has it

        def slow(message: object, _level: int) -> Sequence[str]:
            text = json.dumps(message, ensure_ascii=True, separators=_SEPARATORS, allow_nan=False)
            return (text,)

        return slow
    # markers, default, string encoder, indent, key and item separators, sort_keys,
    # skipkeys, allow_nan
    built: Callable[[object, int], Sequence[str]] = make(
        None, unsupported, encoder.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    return built


_encode = _make_encoder()


def _lone_surrogate(message: object) -> bool:
    """Whether any string (key or value) holds half a surrogate pair."""
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class Keys:
    """Key names the guard acts on, and the check that none is spelt another way.

    Go's ``encoding/json`` (and so MCP servers and clients built on it) takes
    ``"NAME"`` or ``"Method"`` for ``name``/``method`` when the exact key is
    absent, so a message whose tool name only the peer can see walks around
    the policy. ``parse`` already refuses two such keys in one object; this
    refuses a lone one where the guard reads a key. Only there: elsewhere
    (tool arguments, results) ``"Name"`` is an ordinary key.
    """

    def __init__(self, *names: str) -> None:
        self.folded = {name.casefold(): name for name in names}
        self.exact = frozenset(names)

    def check(self, value: object) -> None:
        """``Unreadable`` if ``value`` is an object with a key spelt like one of the names.

        An object whose keys are all the names themselves (a message's
        ``jsonrpc``, ``id``, ``method``, ``params``) is decided by one set
        comparison, in C; only others have each key folded.
        """
        if not isinstance(value, dict) or value.keys() <= self.exact:
            return
        for key in value:
            name = self.folded.get(key.casefold())
            if name is not None and name != key:
                raise Unreadable(f"a key that differs from '{name}' only in case")


ENVELOPE = Keys("jsonrpc", "id", "method", "params", "result", "error")


def envelope(message: object) -> None:
    """``Unreadable`` for a message a reader could take for another kind or another id.

    A key spelt like a JSON-RPC member (``"ID"``), or both ``method`` and an
    answer's ``result``/``error``: the guard would take it for one thing,
    some peer for another (an answer to the client's ``tools/list``, say).
    """
    if not isinstance(message, dict):
        return
    ENVELOPE.check(message)
    if "method" in message and ("result" in message or "error" in message):
        raise Unreadable("a message that is both a request and an answer")


_ID = re.compile(rb'"id"\s*:\s*(-?\d{1,15}|"(?:[^"\\\x00-\x1f]|\\.){0,200}")\s*[,}]')


def recover_id(line: bytes | bytearray) -> object:
    """The id of a line the guard cannot read, when it names exactly one; else None.

    Only so that the sender of a request the guard refused is not left waiting:
    the answer is an error either way.
    """
    found = _ID.findall(line[:65536])
    if len(found) != 1:
        return None
    try:
        value = parse(found[0])
    except Unreadable:  # "\ud800": an id no answer could carry
        return None
    return None if value is BLANK else value
