"""``JSON.stringify(JSON.parse(body))`` as a stream of pieces, in bounded memory.

The signature check needs the vendor's form of a body only as input to an HMAC, so nothing here
builds it whole: the body is read in place and the JavaScript text is written out in pieces of
about ``PIECE`` bytes. Whatever fits a window (a chat log's conversations, an array's items) is
parsed and printed whole by ``app.jsonjs`` (``app.jswindows``); the rest is walked token by token
(``re`` on the bytes we already hold), strings in pieces (``app.jsstrings``), numbers and escapes
by the same rules. ``tests/test_jsonjs.py`` and ``tests/test_restringify.py`` check both against
a real Node. Invalid UTF-8 inside strings becomes U+FFFD, as body-parser decodes it.

What a stream cannot do is JavaScript's property order: array-index keys ("0", "7"...) come first,
ascending, and a repeated key keeps its first place with its last value. So an object's output
is held until the object closes, and put in that order then, as long as everything held stays
under ``HOLD_BYTES``. An object that outgrows it (the top of a chat-log push, one chatbot's
window) is written through from then on, and must already be in JavaScript's order: no repeated
key, array-index keys only at its start and ascending. The vendor's large objects have a handful
of plain keys, so they always are; a body that breaks this rule, or holds a key over
``MAX_KEY_BYTES``, a number over ``MAX_NUMBER_BYTES`` or nesting deeper than ``MAX_DEPTH``, is
``Unemulable``: its JavaScript form is not computed, and only its raw bytes can verify.

Memory: at most ``HOLD_BYTES`` of held output (plus a small overhead per held member), one piece,
and the keys of written-through objects (at most ``MAX_STREAMED_KEY_BYTES``), whatever the body.
"""

from __future__ import annotations

import codecs
import re

from app.jsonjs import js_number
from app.jsstrings import Unemulable, Write, print_run, print_string
from app.jswindows import WINDOW, Windows

__all__ = ["HOLD_BYTES", "MAX_KEY_BYTES", "Unemulable", "restringify_into"]

PIECE = 64 * 1024
HOLD_BYTES = 1024 * 1024
MAX_KEY_BYTES = 64 * 1024
MAX_NUMBER_BYTES = 64 * 1024  # JSON.parse takes longer ones, no sender writes them
MAX_STREAMED_KEY_BYTES = 1024 * 1024
MAX_DEPTH = 1000  # as deep as app.jsonjs (Python's recursion limit) goes; see its docstring
MEMBER_OVERHEAD = 128  # what holding one member costs beyond its text (offsets, dict entry)
_MAX_ARRAY_INDEX = 2**32 - 2

# One token, after JSON whitespace (only these four: JSON.parse refuses \f and \v). The first
# two are printed exactly as they are, and are what most of a body is made of.
_TOKEN = re.compile(
    rb'[ \t\n\r]*(?:(?P<s>"[\x20\x21\x23-\x5b\x5d-\x7e]*")'  # ASCII string, no escapes
    rb"|(?P<i>(?:0|-?[1-9][0-9]{0,14})(?![0-9.eE]))"  # an integer JS prints the same
    rb"|(?P<p>[{}\[\],:])"
    rb"|(?P<n>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<l>true|false|null)"
    rb'|(?P<q>"))'  # any other string: escapes or non-ASCII
)
_END = re.compile(rb"[ \t\n\r]*\Z")
_SEPARATOR = re.compile("[ \t\n\r]*,[ \t\n\r]*")
_BOM = codecs.BOM_UTF8


def restringify_into(
    body: bytes | bytearray,
    write: Write,
    *,
    hold_bytes: int = HOLD_BYTES,
    piece: int = PIECE,
    window: int = WINDOW,
) -> None:
    """Write the UTF-8 of ``JSON.stringify(JSON.parse(body))``, as Node/express computes it, to
    ``write`` in pieces; raise ``Unemulable`` (having written part of it, maybe) when there is
    none. The body is decoded as body-parser does: one leading BOM dropped, invalid UTF-8 as
    U+FFFD."""
    _Machine(body, write, hold_bytes, piece, window).run()


def _is_index(key: bytes) -> int | None:
    """The array index a canonical key (quotes included) names, if it names one."""
    inner = key[1:-1]
    if not inner.isdigit() or (inner[0] == 0x30 and len(inner) > 1) or len(inner) > 10:
        return None
    value = int(inner)
    return value if value <= _MAX_ARRAY_INDEX else None


class _Frame:
    """An open array, or an open object and how far its keys are in JavaScript's order."""

    __slots__ = ("count", "held", "is_object", "last_index", "members", "names", "outer",
                 "plain", "reorder", "text")  # fmt: skip

    def __init__(self, is_object: bool, outer: bytearray) -> None:
        self.is_object = is_object
        self.count = 0  # members or items so far
        self.outer = outer  # where a held object's text goes when it closes
        self.held = is_object
        self.text = bytearray(b"{")  # a held object's output so far
        self.members: list[tuple[bytes, int]] = []  # a held object's (key, offset in text)
        self.names: set[bytes] = set()
        self.plain = False  # a key that is not an array index was seen
        self.last_index = -1
        self.reorder = False  # a repeated key, or an index key out of JavaScript's order

    def in_order(self, key: bytes) -> bool:
        """Note a member's key; whether the members so far are still in JavaScript's order."""
        if key in self.names:
            return False
        self.names.add(key)
        index = _is_index(key) if 0x30 <= key[1] <= 0x39 else None
        if index is None:
            self.plain = True
        elif self.plain or index <= self.last_index:
            return False
        else:
            self.last_index = index
        return True


class _Machine:
    """A JSON.parse state machine whose output is JSON.stringify's."""

    def __init__(
        self, body: bytes | bytearray, write: Write, hold: int, piece: int, window: int
    ) -> None:
        self.hold = hold  # the limits are parameters so that tests can make them tiny
        self.piece = piece
        self.buf = body
        self.write = write
        self.out = bytearray()  # written through: handed to ``write`` in pieces
        self.sink = self.out  # where output goes now: ``out`` or a held object's text
        self.held_bytes = 0
        self.stack: list[_Frame] = []
        self.streamed_key_bytes = 0
        self.windows = Windows(body, window)

    # ---- output ---------------------------------------------------------------------------

    def put(self, piece: bytes | bytearray | memoryview) -> None:
        self.sink += piece
        if self.sink is not self.out:
            self.held_bytes += len(piece)
            if self.held_bytes > self.hold:
                self.release()
        elif len(self.out) >= self.piece:
            self.flush()

    def flush(self) -> None:
        if self.out:
            self.write(bytes(self.out))
            self.out.clear()

    def release(self) -> None:
        """Too much held: write every held object through, outermost first, as it stands."""
        for frame in self.stack:
            frame.outer = self.out
            if frame.held:
                if frame.reorder:
                    raise Unemulable("an object over the hold limit is not in JavaScript's order")
                frame.held = False
                self.count_streamed_keys(sum(map(len, frame.names)))
                self.out += frame.text
                frame.text = bytearray()
                frame.members = []
                if len(self.out) >= self.piece:
                    self.flush()
        self.sink = self.out
        self.held_bytes = 0

    def count_streamed_keys(self, size: int) -> None:
        self.streamed_key_bytes += size
        if self.streamed_key_bytes > MAX_STREAMED_KEY_BYTES:
            raise Unemulable("too many keys in objects over the hold limit")

    # ---- the grammar ----------------------------------------------------------------------

    def run(self) -> None:
        buf, stack = self.buf, self.stack
        match = _TOKEN.match
        pos = len(_BOM) if buf[:3] == _BOM else 0
        # expect: 0 a value, 1 a value or "]", 2 a key, 3 a key or "}", 4 ":", 5 "," or a close
        expect = 0
        while True:
            if expect <= 1 and stack and not stack[-1].is_object:
                batch = self.windows.items(pos)  # an array's items, parsed by C
                if batch is not None:
                    out, pos, expect = batch
                    self.emit(out)
                    continue
            m = match(buf, pos)
            if m is None:
                raise Unemulable("not JSON")
            pos = m.end()
            kind = m.lastgroup
            if expect <= 1:  # a value
                if kind == "s" and pos - m.start(kind) > self.piece:
                    print_run(buf, m.start(kind), pos, self.put, self.piece)  # not copied whole
                elif kind == "s" or kind == "i" or kind == "l":
                    self.put(m.group(kind))
                elif kind == "q":
                    pos = print_string(buf, pos, self.put, self.piece)
                elif kind == "n":
                    self.number(m.start(kind), pos)
                elif (whole := self.windows.whole(pos - 1)) is not None:
                    out, pos = whole  # an object or array that fits a window, parsed by C
                    self.emit(out)
                elif buf[pos - 1] == 0x7B:  # {
                    self.open(True)
                    expect = 3
                    continue
                elif buf[pos - 1] == 0x5B:  # [
                    self.open(False)
                    expect = 1
                    continue
                elif expect == 1 and buf[pos - 1] == 0x5D:  # ]
                    self.close()
                else:
                    raise Unemulable("a value was expected")
                expect = 5
            elif expect == 5:  # after a value
                char = buf[pos - 1] if kind == "p" else 0
                if not stack:
                    raise Unemulable("trailing garbage")
                top = stack[-1]
                if char == 0x2C:  # ,
                    if top.is_object:
                        expect = 2
                    else:
                        self.put(b",")
                        expect = 0
                    continue
                if char != (0x7D if top.is_object else 0x5D):
                    raise Unemulable("',' or a closing bracket was expected")
                self.close()
            elif expect >= 2 and expect <= 3:  # a key
                if kind == "s":
                    if pos - m.start(kind) > MAX_KEY_BYTES:
                        raise Unemulable("a key too long to emulate")
                    key = m.group(kind)
                elif kind == "q":
                    key, pos = self.escaped_key(pos)
                elif expect == 3 and buf[pos - 1] == 0x7D:  # }
                    self.close()
                    expect = 5
                    if not stack:
                        break
                    continue
                else:
                    raise Unemulable("a key was expected")
                self.key(key)
                expect = 4
                continue
            else:  # ":"
                if kind != "p" or buf[pos - 1] != 0x3A:
                    raise Unemulable("':' was expected")
                expect = 0
                continue
            if not stack:
                break
        if _END.match(buf, pos) is None:
            raise Unemulable("trailing garbage")
        self.flush()

    def emit(self, out: bytes) -> None:
        for at in range(0, len(out), self.piece):
            self.put(out[at : at + self.piece])

    def open(self, is_object: bool) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise Unemulable("nested too deeply")
        frame = _Frame(is_object, self.sink)
        self.stack.append(frame)
        if is_object:
            self.sink = frame.text
            self.held_bytes += 1 + MEMBER_OVERHEAD
        else:
            self.put(b"[")

    def key(self, key: bytes) -> None:
        frame = self.stack[-1]
        in_order = frame.in_order(key)
        if frame.held:
            frame.reorder = frame.reorder or not in_order
            self.held_bytes += MEMBER_OVERHEAD
            if frame.count:
                frame.text += b","
            frame.members.append((key, len(frame.text)))
        else:
            if not in_order:
                raise Unemulable("an object over the hold limit is not in JavaScript's order")
            self.count_streamed_keys(len(key))
            if frame.count:
                self.put(b",")
        frame.count += 1
        self.put(key)
        self.put(b":")

    def close(self) -> None:
        frame = self.stack.pop()
        if not frame.held:
            self.put(b"}" if frame.is_object else b"]")
            return
        held = len(frame.text) + MEMBER_OVERHEAD * (len(frame.members) + 1)
        text = self.ordered(frame)
        self.sink = frame.outer
        self.held_bytes = 0 if self.sink is self.out else self.held_bytes - held
        self.put(text)

    @staticmethod
    def ordered(frame: _Frame) -> bytes | bytearray:
        """A held object's text in JavaScript's property order."""
        text = frame.text
        if not (frame.reorder or frame.last_index >= 0):
            text += b"}"
            return text
        ends = [start - 1 for _, start in frame.members[1:]] + [len(text)]
        members: dict[bytes, bytes | bytearray] = {}
        for (key, start), end in zip(frame.members, ends, strict=True):
            members[key] = text[start:end]  # a repeated key keeps its first place, last value
        indices = {key: _is_index(key) for key in members}
        first = sorted((i, k) for k, i in indices.items() if i is not None)
        rest = [members[k] for k, i in indices.items() if i is None]
        return b"{" + b",".join([members[k] for _, k in first] + rest) + b"}"

    # ---- scalars --------------------------------------------------------------------------

    def number(self, start: int, end: int) -> None:
        if end - start > MAX_NUMBER_BYTES:
            raise Unemulable("a number too long to emulate")
        self.put(js_number(float(self.buf[start:end])).encode())

    def escaped_key(self, pos: int) -> tuple[bytes, int]:
        """A key with escapes or non-ASCII, as JSON.stringify prints it; the position after."""
        key = bytearray()

        def collect(piece: bytes | bytearray | memoryview) -> None:
            key.extend(piece)
            if len(key) > MAX_KEY_BYTES:
                raise Unemulable("a key too long to emulate")

        end = print_string(self.buf, pos, collect, self.piece)
        return bytes(key), end
