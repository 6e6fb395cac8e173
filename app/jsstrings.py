"""JSON string literals as ``JSON.stringify(JSON.parse(...))`` prints them, read in place from the
body and written in pieces, however long the string (for ``app.restringify``).

JSON.stringify escapes only ``"``, ``\\``, control characters (\\b \\f \\n \\r \\t, the rest as
lowercase \\u00xx) and lone surrogates (lowercase \\udxxx); everything else is printed raw. So a
run of raw characters and of those short escapes is printed as it is, and only ``\\uXXXX`` and
``\\/`` escapes are decoded and printed again. Invalid UTF-8 becomes U+FFFD, as body-parser
decodes it.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from json.encoder import encode_basestring

Write = Callable[[bytes | bytearray | memoryview], object]


class Unemulable(ValueError):
    """No JavaScript form here: JSON.parse would throw, or it cannot be built in bounded memory."""


# Raw characters and the escapes JSON.stringify prints unchanged. Possessive (``*+``): a plain
# repeat of a group keeps backtracking state per repetition, 2.8 GB for 50 MB of "\\n" escapes.
_RUN = re.compile(rb'[^"\\\x00-\x1f]*+(?:\\["\\bfnrt][^"\\\x00-\x1f]*+)*+')
# The escapes it prints otherwise (\\/ as "/", \\u as the character or its own escape).
_ESCAPES = re.compile(rb"(?:\\(?:u[0-9a-fA-F]{4}|/))++")
_LONE_SURROGATE = re.compile("[\\ud800-\\udfff]")


def print_string(buf: bytes | bytearray, pos: int, put: Write, piece: int) -> int:
    """Print the string whose opening quote ends at ``pos``; return the position after it."""
    size = len(buf)
    put(b'"')
    while True:
        end = _RUN.match(buf, pos).end()  # type: ignore[union-attr]  # it matches ""
        if end > pos:
            print_run(buf, pos, end, put, piece)
        pos = end
        char = buf[pos] if pos < size else -1
        if char == 0x22:
            put(b'"')
            return pos + 1
        if char != 0x5C:
            raise Unemulable("unterminated string, or a control character in one")
        escapes = _ESCAPES.match(buf, pos)
        if escapes is None:
            raise Unemulable("an invalid escape")
        _print_escapes(buf, pos, escapes.end(), put, piece)
        pos = escapes.end()


def print_run(buf: bytes | bytearray, start: int, end: int, put: Write, piece: int) -> None:
    """Characters printed as they are, except invalid UTF-8 (U+FFFD), in pieces."""
    view = memoryview(buf)
    if end - start <= piece:
        part = view[start:end]
        if part.tobytes().isascii():
            put(part)
        else:
            put(bytes(part).decode("utf-8", "replace").encode())
        return
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    for at in range(start, end, piece):
        put(decoder.decode(view[at : min(at + piece, end)], final=at + piece >= end).encode())


def _print_escapes(buf: bytes | bytearray, start: int, end: int, put: Write, piece: int) -> None:
    """\\uXXXX and \\/ escapes: decoded, then escaped again as JSON.stringify does, in pieces
    that split no surrogate pair (every escape starts with a backslash, and only it does)."""
    while start < end:
        stop = end
        if end - start > max(piece, 16):  # an escape is at most 6 bytes: one starts in any 16
            stop = buf.rfind(b"\\", start + 1, start + max(piece, 16))
            before = buf.rfind(b"\\", start, stop)
            if stop - before == 6 and before > start and _is_high(buf[before + 2 : stop]):
                stop = before  # a high surrogate may pair with the escape after it
        text = json.loads(b'"' + buf[start:stop] + b'"')
        escaped = encode_basestring(text)[1:-1]
        if not escaped.isascii() and _LONE_SURROGATE.search(escaped):
            escaped = _LONE_SURROGATE.sub(_escape_surrogate, escaped)
        put(escaped.encode())
        start = stop


def _is_high(hex_digits: bytes | bytearray) -> bool:
    return hex_digits[:2].lower() in (b"d8", b"d9", b"da", b"db")


def _escape_surrogate(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"
