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
