"""Text from configs and servers, made safe to print on a terminal.

Server names, tool names, descriptions and file names come from files and
processes mcpcred does not control. Printed raw, an escape sequence in one can
retitle the window (``ESC ] 0 ; ... BEL``), clear the screen, hide the lines
around it, or reorder what the user reads (bidi overrides). ``printable`` shows
such characters as escapes (``\\x1b``, ``\\u202e``) instead, so the user sees
that they are there. Standard library only: the shim and the guard use it.
"""

from __future__ import annotations

# Unicode categories that draw nothing of their own, or not the same everywhere: controls
# (C0, DEL, C1), format characters (bidi overrides and isolates, zero-width joiners, BOM,
# soft hyphen), private use characters (each font draws its own), lone surrogates (which
# cannot even be encoded for output), and line and paragraph separators (which some
# terminals and most editors break lines at). The same set as ``guard.hidden.safe_text``.
_HIDDEN = frozenset({"Cc", "Cf", "Co", "Cs", "Zl", "Zp"})


def printable(text: str) -> str:
    """``text`` with every control, format and separator character as a visible escape.

    Everything else, non-ASCII letters included, is kept as it is.
    """
    if text.isascii() and text.isprintable():
        return text  # the common case, without importing unicodedata
    import unicodedata

    out: list[str] = []
    for char in text:
        code = ord(char)
        if 0x20 <= code < 0x7F or (code > 0x7F and unicodedata.category(char) not in _HIDDEN):
            out.append(char)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def json_text(text: str) -> str:
    """A JSON document (as ``json.dumps`` writes it) with hidden characters as ``\\uXXXX``.

    ``ensure_ascii=False`` keeps names readable but lets C1 controls, bidi overrides
    and lone surrogates through, raw, inside strings; as JSON escapes they mean the
    same to any reader and cannot reach a terminal (or fail to encode). Structural
    newlines and indentation are kept.
    """
    if text.isascii() and "\x7f" not in text:
        return text  # json.dumps has already escaped the other ASCII controls in strings
    import re
    import unicodedata

    def escape(match: re.Match[str]) -> str:
        char = match.group()
        code = ord(char)
        if code != 0x7F and unicodedata.category(char) not in _HIDDEN:
            return char
        if code <= 0xFFFF:
            return f"\\u{code:04x}"
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"

    return re.sub(r"[^\x00-\x7e]", escape, text)  # only DEL and non-ASCII are looked at
