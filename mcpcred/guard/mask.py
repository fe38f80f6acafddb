"""The values mcpcred injected, kept out of what the guard passes on and what it records.

A server holds the secrets and tokens the shim put in its environment, and
nothing stops it from showing them: an error message that quotes its
configuration, a tool that dumps its environment, a debug line on stderr.
Whatever reaches the client reaches the model, and the model's provider. The
guard knows those exact values (it resolved them), so it does not need a
detector to recognise them: it matches them exactly, in the forms a server is
likely to print them in, and replaces each with ``[redacted mcpcred:KIND/NAME]``,
naming the reference the value came from.

Forms matched, for each value:

- the value itself, and each line of a value that has several (a PEM key);
- base64, standard and URL-safe, with or without padding, also when the value
  is only part of what was encoded (``base64("user:" + token)``, an HTTP Basic
  header): the characters that encode only the value's own bytes are the same
  at each of the three possible alignments, so those three "cores" are looked
  for, and a hit is widened to the whole base64 word around it;
- percent-encoded (upper- and lower-case hex, ``+`` for space or not);
- each of these as it appears inside a JSON string, escaped once (the line
  on the wire) or twice (a JSON text inside a JSON string, as an env dump is),
  with non-ASCII characters as ``\\u`` escapes or not, and with the escapes of
  PHP (``\\/``) and Go (``\\u003c``, ``\\u003e``, ``\\u0026``).

Values shorter than ``MIN_LENGTH`` characters are not looked for inside
longer text passed on to the client, where they would match by chance (a
4-character value would mask ordinary words); a string that *is* such a
value, whole, is still replaced. The audit log replaces them everywhere: an
over-eager redaction there costs nothing.

Cost: lines without a value, the common case, cost one search: a single
compiled alternation for lines of up to ``SMALL`` bytes (about 1 us), one
``bytes in`` per form above (the regex engine tries every alternative at
every candidate byte, about 10 ns a byte; ``in`` skips through a line at
several GB/s, so a 16 KB line costs some 20 us instead of 200). Only a line
with a hit is parsed, rewritten string by string, and serialised again.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import BinaryIO

MIN_LENGTH = 8  # shorter values are replaced only where a whole string equals them
SMALL = 256  # up to this size a line is searched with the regex, above with `in` per form
STDERR_LIMIT = 64 * 1024  # a stderr line longer than this is passed on in pieces
STDERR_IDLE = 0.2  # seconds: a stderr line without its newline is passed on after this
AUDIT_CACHED = 256  # audit strings up to this long are remembered masked (``_Index.audited``)
AUDIT_CACHE_SIZE = 4096  # entries; emptied when full
# Audit record fields the guard fills from its own state, never from a message: left
# alone, so a short value such as "call" cannot rewrite an event's name.
OWN_FIELDS = frozenset(
    {"event", "server", "client", "pid", "outcome", "credentials", "duration_ms", "result_bytes",
     "journal"}
)  # fmt: skip
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_"
_BASE64 = frozenset(_ALPHABET)  # both alphabets: a widened hit takes the whole word
_BASE64_BYTES = frozenset(_ALPHABET.encode())
_HEX = re.compile(r"%[0-9A-F]{2}")
# A printable ASCII character written as an escape: never in the guard's canonical lines,
# but in a large answer passed on unparsed (guard/session.py), where a server may have
# escaped part of a value (.NET escapes "+" as \u002B): read as JSON, it is the value.
UNPARSED = 256 * 1024  # guard/session.py's BIG: larger answers may pass unparsed
_ESCAPE = b"\\u00"
_ESCAPED_ASCII = re.compile(rb"\\u00[2-7][0-9a-fA-F]")
# The characters of a number as JSON writes it (``json.dumps`` of a float that is not
# finite too, should one reach a record).
_NUMBER = frozenset("0123456789-+.eEInfinityNaN")


def placeholder(reference: str) -> str:
    """What replaces a value: ``[redacted mcpcred:secret/NAME]``."""
    return f"[redacted mcpcred:{reference}]"


def forms(value: str, minimum: int = MIN_LENGTH) -> dict[str, bool]:
    """The texts to look for for one value, each with whether it is a base64 form.

    Empty for a value shorter than ``minimum``; no form is shorter than it.
    """
    if len(value) < minimum or not value:
        return {}
    from urllib.parse import quote, quote_plus

    found: dict[str, bool] = {value: False}
    for line in value.splitlines():
        line = line.strip()
        if len(line) >= minimum:
            found.setdefault(line, False)
    data = value.encode("utf-8", "surrogatepass")
    for shift in range(3):
        # Only whole 4-character groups that encode the value's bytes alone.
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii")
        core = encoded[4 if shift else 0 : (len(data) + shift) // 3 * 4]
        if len(core) >= minimum:
            found.setdefault(core, True)
            found.setdefault(core.replace("+", "-").replace("/", "_"), True)
    odd = "surrogatepass"  # a value that is not valid Unicode must not stop the guard
    for quoted in (
        quote(value, safe="", errors=odd),
        quote(value, errors=odd),
        quote_plus(value, safe="", errors=odd),
    ):
        found.setdefault(quoted, False)
        found.setdefault(_HEX.sub(lambda hit: hit.group().lower(), quoted), False)
    for text, is_base64 in list(found.items()):
        once = json.dumps(text)[1:-1]
        for inner in (True, False):  # \u-escaped non-ASCII (Python) or not (JavaScript)
            escaped = json.dumps(text, ensure_ascii=inner)[1:-1]
            found.setdefault(escaped, is_base64)
            for outer in (True, False):
                found.setdefault(json.dumps(escaped, ensure_ascii=outer)[1:-1], is_base64)
        if not is_base64 and "/" in text:
            found.setdefault(once.replace("/", "\\/"), False)  # PHP's json_encode
        if any(c in text for c in "<>&"):  # Go's encoding/json escapes these for HTML
            go = once.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            found.setdefault(go, is_base64)
    return found


class _Index:
    """The compiled searches over every form of every value (rebuilt when one is added).

    Each form maps to ``(reference, base64, keep)``: a base64 hit is widened
    to its whole word; ``keep`` characters at each end of a hit stay (the
    quotes around a short value, which is only replaced as a whole string).
    """

    __slots__ = (
        "audit", "audited", "by_audit", "by_bytes", "by_head", "by_text", "heads", "lines",
        "longest", "needles", "numeric", "short", "text",
    )  # fmt: skip

    def __init__(self, values: dict[str, str]) -> None:
        self.by_text: dict[str, tuple[str, bool, int]] = {}
        self.short: dict[str, str] = {}  # a short value -> reference (whole strings only)
        for value, reference in values.items():
            variants = forms(value)
            if not variants and value:
                self.short.setdefault(value, reference)
            for text, is_base64 in variants.items():
                self.by_text.setdefault(text, (reference, is_base64, 0))
        by_bytes = {
            text.encode("utf-8", "surrogatepass"): info for text, info in self.by_text.items()
        }
        quoted: dict[str, tuple[str, bool, int]] = {}
        for value, reference in self.short.items():
            # A short value as a whole JSON string: "v" in a decoded JSON text, and on
            # the wire "v" (a string of the message) or \"v\" (one in a JSON text).
            once = json.dumps(value)
            quoted.setdefault(once, (reference, False, 1))
            by_bytes.setdefault(once.encode(), (reference, False, 1))
            by_bytes.setdefault(json.dumps(once)[1:-1].encode(), (reference, False, 2))
        self.by_bytes = by_bytes
        # For strings cut short: the first MIN_LENGTH characters of each form, at their end.
        self.by_head: dict[str, list[tuple[str, str]]] = {}
        for text, (reference, _, _) in self.by_text.items():
            self.by_head.setdefault(text[:MIN_LENGTH], []).append((text, reference))
        heads = "|".join(map(re.escape, sorted(self.by_head, key=len, reverse=True)))
        self.heads = re.compile(f"(?=({heads}))") if heads else None  # overlapping hits too
        self.longest = max(map(len, self.by_text), default=0)
        # The audit log takes no chance with short values: they are replaced inside text too.
        self.by_audit = dict(self.by_text)
        for value, reference in self.short.items():
            for text, is_base64 in forms(value, 1).items():
                self.by_audit.setdefault(text, (reference, is_base64, 0))
        ordered_audit = sorted(self.by_audit, key=len, reverse=True)
        self.audit = re.compile("|".join(map(re.escape, ordered_audit))) if ordered_audit else None
        patterns = {**self.by_text, **quoted}
        ordered = sorted(patterns, key=len, reverse=True)  # the longest form wins
        self.text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.by_text.update((k, v) for k, v in quoted.items() if k not in self.by_text)
        # Whether ``text`` can find anything in a number written out (digits, sign, point,
        # exponent): only a form, or a short value, made of those characters alone can.
        # Without one, a number (a request id, on the request's path) is left as it is.
        self.numeric = any(_NUMBER.issuperset(form) for form in (*self.by_text, *self.short))
        wire = sorted(by_bytes, key=len, reverse=True)
        self.lines = re.compile(b"|".join(map(re.escape, wire))) if wire else None
        self.needles = _without_superstrings(wire)
        # Short strings as the audit log keeps them (``Masker.text(audit=True)``), by text:
        # records repeat their session id, method, tool and argument names, and the request
        # record is masked on the relay's thread. It belongs to this index, so a value
        # added later (a new index) starts an empty one.
        self.audited: dict[str, str] = {}


def _without_superstrings(needles: list[bytes]) -> list[bytes]:
    """``needles`` minus those that contain another one: finding the shorter is enough."""
    kept: list[bytes] = []
    for needle in sorted(set(needles), key=len):
        if not any(shorter in needle for shorter in kept):
            kept.append(needle)
    return kept


class Masker:
    """Every injected value, by reference; replaces them in messages, text, records and bytes.

    Thread-safe for one writer (``add``, on a restart) and any number of
    readers: the compiled index is replaced whole, never changed in place.
    """

    def __init__(self, notice: Callable[[str], None] | None = None) -> None:
        self._values: dict[str, str] = {}  # value -> reference ("secret/NAME")
        self._index = _Index({})
        self._lock = threading.Lock()
        self.notice = notice  # told once per reference that a value was replaced
        self.replaced: dict[str, int] = {}  # reference -> replacements in passed-on output

    def add(self, reference: str, value: str) -> None:
        """Look for ``value`` from now on, replaced by ``placeholder(reference)``."""
        with self._lock:
            if not value or value in self._values:
                return
            self._values[value] = reference
            self._index = _Index(dict(self._values))

    @property
    def short(self) -> list[str]:
        """References whose value is too short to be looked for inside longer text."""
        return sorted(set(self._index.short.values()))

    def __bool__(self) -> bool:
        return bool(self._values)

    def masks_numbers(self) -> bool:
        """Whether a number can come out of ``record`` or ``value`` changed: only when a
        value, or one of its forms, is made of the characters a number is written with."""
        return bool(self._values) and self._index.numeric

    def generation(self) -> int:
        """How many values are looked for: changes whenever ``add`` adds one (for caches
        of what masking made of a string)."""
        return len(self._values)

    # -- bytes on the wire ---------------------------------------------------------------
    def hit(self, data: bytes | bytearray) -> bool:
        """Whether ``data`` may hold a value (the fast check every line pays)."""
        index = self._index
        if index.lines is None:
            return False
        if len(data) <= SMALL:
            return index.lines.search(data) is not None
        return any(needle in data for needle in index.needles)

    def line(self, line: bytes | bytearray) -> bytes | bytearray:
        """One JSON-RPC line for the client with every value replaced (the line itself if none).

        The line is parsed and serialised again only when it holds a value; a
        line that is not JSON has its bytes replaced instead.
        """
        if not self.hit(line) and not self._escaped(line):
            return line
        line = bytes(line)  # the relay's buffer: copied only when a value is in it
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return self.stream(line)
        seen: dict[str, int] = {}
        try:
            masked = self._walk(message, seen)
        except RecursionError:
            return self.stream(line)
        if not seen:
            return line  # the bytes matched, the strings do not (a number, an escape)
        self._count(seen)
        end = b"\n" if line.endswith(b"\n") else b""
        # ASCII like every line the guard writes (guard/wire.py): no raw U+2028/CR to split on.
        return json.dumps(masked, separators=(",", ":")).encode() + end

    def _escaped(self, line: bytes | bytearray) -> bool:
        """Whether a large line escapes a printable character (a value may hide behind it).

        Only lines the guard may have passed on unparsed: every other line is in
        its canonical form, which writes printable ASCII as itself.
        """
        return (
            len(line) > UNPARSED
            and bool(self._values)
            and b"\\" in line  # one byte, found by memchr: most large answers have none
            and _ESCAPE in line
            and _ESCAPED_ASCII.search(line) is not None
        )

    def stream(self, data: bytes) -> bytes:
        """``data`` (stderr, a line that is not JSON) with every value's bytes replaced."""
        index = self._index
        if index.lines is None or not self.hit(data):
            return data
        parts: list[bytes] = []
        at = 0
        seen: dict[str, int] = {}
        for found in index.lines.finditer(data):
            start, end = found.span()
            reference, is_base64, keep = index.by_bytes[found.group()]
            start, end = start + keep, end - keep
            if is_base64:
                start, end = _widen(data, start, end, _BASE64_BYTES, ord("="))
            start = max(start, at)
            if end <= at:
                continue
            parts += [data[at:start], placeholder(reference).encode()]
            seen[reference] = seen.get(reference, 0) + 1
            at = end
        if not seen:
            return data
        self._count(seen)
        parts.append(data[at:])
        return b"".join(parts)

    def safe_cut(self, data: bytes) -> int:
        """Where ``data`` can be cut so that no value is split: what is before has no
        value's start that may continue after it."""
        index = self._index
        if index.lines is None:
            return len(data)
        longest = max(map(len, index.needles + list(index.by_bytes)), default=0)
        cut = max(len(data) - longest, 0)
        for found in index.lines.finditer(data):
            start, end = found.span()
            if start >= cut:
                break
            cut = max(cut, end)
        return cut

    # -- parsed values -------------------------------------------------------------------
    def text(self, text: str, seen: dict[str, int] | None = None, *, audit: bool = False) -> str:
        """``text`` with every value replaced.

        ``audit``: for the audit log, where a false hit costs nothing and a
        miss leaks: short values are replaced inside text too, and so is a
        value's first part at the very end (a string cut to a length, such as
        an error message, may end inside a value, which an exact match cannot see).
        """
        index = self._index
        if audit and seen is None and len(text) <= AUDIT_CACHED:
            done = index.audited.get(text)
            if done is None:
                done = self._text(index, text, None, True)
                if len(index.audited) >= AUDIT_CACHE_SIZE:
                    index.audited.clear()
                index.audited[text] = done
            return done
        return self._text(index, text, seen, audit)

    def _text(self, index: _Index, text: str, seen: dict[str, int] | None, audit: bool) -> str:
        if not audit and text in index.short:
            reference = index.short[text]
            if seen is not None:
                seen[reference] = seen.get(reference, 0) + 1
            return placeholder(reference)
        pattern, table = (index.audit, index.by_audit) if audit else (index.text, index.by_text)
        if pattern is None:
            return text
        parts: list[str] = []
        at = 0
        for found in pattern.finditer(text):
            reference, is_base64, keep = table[found.group()]
            start, end = found.span()
            start, end = start + keep, end - keep
            if is_base64:
                start, end = _widen(text, start, end, _BASE64, "=")
            start = max(start, at)
            if end <= at:
                continue
            parts += [text[at:start], placeholder(reference)]
            if seen is not None:
                seen[reference] = seen.get(reference, 0) + 1
            at = end
        if parts:
            parts.append(text[at:])
            text = "".join(parts)
        if audit:
            text = self._cut_tail(index, text)
        return text

    def _cut_tail(self, index: _Index, text: str) -> str:
        """``text`` without a trailing first part (``MIN_LENGTH`` or more) of a value."""
        if index.heads is None or len(text) < MIN_LENGTH:
            return text
        for found in index.heads.finditer(text, max(0, len(text) - index.longest + 1)):
            tail = text[found.start() :]
            for form, reference in index.by_head[found.group(1)]:
                if form.startswith(tail):
                    return text[: found.start()] + placeholder(reference)
        return text

    def value(self, value: object, *, audit: bool = False) -> object:
        """A copy of a JSON value with every value replaced in every string (keys too)."""
        if not self._values:
            return value
        try:
            return self._walk(value, None, audit=audit)
        except RecursionError:
            return "\u2026(nested too deep)"

    def record(self, record: Mapping[str, object]) -> dict[str, object]:
        """An audit record with every value replaced in every field, cut strings included."""
        if not self._values:
            return dict(record)
        # A short string already masked once (a session repeats its server, session, method
        # and tool names) is looked up here, not through ``value``: a request's record is
        # masked on the relay's thread before the request may be forwarded.
        audited = self._index.audited
        masked: dict[str, object] = {}
        for key, item in record.items():
            if key in OWN_FIELDS:
                masked[key] = item
                continue
            done = audited.get(item) if type(item) is str else None
            masked[key] = done if done is not None else self.value(item, audit=True)
        return masked

    def _walk(self, value: object, seen: dict[str, int] | None, *, audit: bool = False) -> object:
        if isinstance(value, str):
            return self.text(value, seen, audit=audit)
        if isinstance(value, dict):
            return {
                self.text(str(k), seen, audit=audit): self._walk(v, seen, audit=audit)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [self._walk(v, seen, audit=audit) for v in value]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return self._number(value, seen)
        return value

    def _number(self, value: float, seen: dict[str, int] | None) -> object:
        """A number that writes out a value (a numeric PIN or account key): its placeholder.

        A config dump parses ``"12345678"`` from the environment into a number;
        left alone, the client got it as digits. Matched as text passed on to
        the client is (a short value only when it is the whole number), in the
        audit log too, so that a request id is not cut up by a short value.
        """
        if not self._index.numeric:  # no value could be in it
            return value
        # ``str`` of a plain int is its JSON (a request id: on the request's path).
        text = str(value) if type(value) is int else json.dumps(value)
        masked = self.text(text, seen)
        return value if masked == text else masked

    def _count(self, seen: dict[str, int]) -> None:
        for reference, count in seen.items():
            first = reference not in self.replaced
            self.replaced[reference] = self.replaced.get(reference, 0) + count
            if first and self.notice is not None:
                self.notice(
                    f"the server sent the value of {reference}; the guard passed on "
                    f"{placeholder(reference)} instead"
                )


def _widen(
    data: str | bytes,
    start: int,
    end: int,
    alphabet: frozenset[str] | frozenset[int],
    pad: str | int,
) -> tuple[int, int]:
    """``start, end`` grown to the whole base64 word around them, with its padding."""
    while start > 0 and data[start - 1] in alphabet:
        start -= 1
    while end < len(data) and data[end] in alphabet:
        end += 1
    while end < len(data) and data[end] == pad:
        end += 1
    return start, end


def copy_stderr(pipe: BinaryIO, target: int, masker: Masker) -> None:
    """Copy the server's stderr to the shim's, line by line, with every value replaced.

    Runs on a thread of its own until the server's stderr ends. Memory is
    bounded: a line longer than ``STDERR_LIMIT`` is passed on in pieces, cut
    where no value can straddle the cut. A line still without its newline
    after ``STDERR_IDLE`` seconds (a prompt, a progress bar) is passed on as it
    is. If the shim's stderr is gone, the server's output is still read (and
    dropped), so the server never blocks on a full pipe because of it. The
    pipe is closed at its end (it is held until then, so its descriptor cannot
    be reused under this thread).
    """
    try:
        _copy(pipe.fileno(), target, masker)
    finally:
        pipe.close()


def _copy(source: int, target: int, masker: Masker) -> None:
    import select

    pending = b""
    writable = True

    def emit(data: bytes) -> None:
        nonlocal writable
        if not data or not writable:
            return
        try:
            view = memoryview(masker.stream(data))
            while view:
                view = view[os.write(target, view) :]
        except OSError:
            writable = False

    can_wait = sys.platform != "win32"
    while True:
        if pending and can_wait:
            try:
                ready = select.select([source], [], [], STDERR_IDLE)[0]
            except (OSError, ValueError):
                ready = [source]
            if not ready:
                emit(pending)
                pending = b""
                continue
        try:
            chunk = os.read(source, 64 * 1024)
        except OSError:
            break
        if not chunk:
            break
        pending += chunk
        newline = pending.rfind(b"\n")
        if newline >= 0:
            emit(pending[: newline + 1])
            pending = pending[newline + 1 :]
        if len(pending) > STDERR_LIMIT:
            cut = masker.safe_cut(pending)
            emit(pending[:cut])
            pending = pending[cut:]
    emit(pending)
