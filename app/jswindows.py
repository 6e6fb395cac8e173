"""Values parsed whole by the C scanner, a window of the body at a time: the fast path of
``app.restringify``, exact because it is ``app.jsonjs`` (checked against a real Node).

An object or array that fits a window is parsed and printed whole; so are an array's items, as
many as the window holds at once. Everything is bounded: the window (``WINDOW`` bytes of text,
some 30 times that once parsed into objects), and what is decoded or scanned in vain (a value a
byte too large for the window at every level of a deep nesting would otherwise make this
quadratic), by a budget described in ``Windows.__init__``.
"""

from __future__ import annotations

import re

from app.jsonjs import NotJavaScriptJSON, js_parse_value, js_stringify

WINDOW = 256 * 1024
FIRST_WINDOW = 4 * 1024
_SPACE = re.compile("[ \\t\\n\\r]*")
_SEPARATOR = re.compile("[ \\t\\n\\r]*,[ \\t\\n\\r]*")
_NUMBER_GOES_ON = frozenset("0123456789.eE+-") | {""}


class Windows:
    def __init__(self, body: bytes | bytearray, window: int) -> None:
        self.buf = body
        self.window = window
        self.size = min(FIRST_WINDOW, window)  # of the next window to decode
        # Bytes the C scanner may be given in vain: four times the body to start with, four
        # times what it parsed added, what it failed on taken; once spent, one try per quarter
        # window of progress. So it scans about ten times the body at most, whatever the body.
        self.budget = 4 * (len(body) + window)
        self.next_try = 0
        self.text = ""  # the window, decoded; it ends at text_end in the body
        self.text_end = 0
        self.ascii = True
        self.anchor = (0, 0)  # a byte offset in the body and its index in ``text``

    def whole(self, start: int) -> tuple[bytes, int] | None:
        """If the value at ``start`` is an object or array that fits a window, print it whole
        (exactly: ``app.jsonjs``): its text and where it ends; None leaves it to the tokens.

        A decoded window serves the values after it too; it is decoded afresh, four times as
        large up to ``window``, when a value runs past its end. What is decoded or scanned in
        vain is bounded by a budget of a few times the body, so that no body makes this
        quadratic (a value a byte too large for the window at every level of a deep nesting)."""
        buf = self.buf
        if buf[start] not in b"{[" or not self.may_try(start):
            return None
        found = self.cached(start)
        while True:
            if found is None:
                found = self.decode(start)
                if found is None:
                    return None  # invalid UTF-8: U+FFFD in its place is the token path's job
            text, index = found
            try:
                value, stop = js_parse_value(text, index)
                out = js_stringify(value).encode()
            except (NotJavaScriptJSON, RecursionError):
                self.budget -= len(text) - index
                if self.text_end == len(buf) or (index == 0 and self.size >= self.window):
                    return None  # not JSON, or too large for a window
                if index == 0:
                    self.size = min(4 * self.size, self.window)
                found = None
                continue
            end = start + (stop - index if self.ascii else len(text[index:stop].encode()))
            self.anchor = (end, stop)
            self.budget += 4 * (end - start)
            return out, end

    def items(self, start: int) -> tuple[bytes, int, int] | None:
        """An array's items from ``start`` on, as many as the window holds, parsed by C and
        printed together: their text, the position after them and what is expected there (0: a
        value, after a comma; 5: a comma or "]"). None when not even one fits."""
        if not self.may_try(start):
            return None
        found = self.cached(start) or self.decode(start)
        if found is None:
            return None
        text, first = found
        index = _SPACE.match(text, first).end()  # type: ignore[union-attr]  # matches ""
        values: list[object] = []
        expect = 5
        while True:
            try:
                value, stop = js_parse_value(text, index)
            except (NotJavaScriptJSON, RecursionError):
                self.budget -= len(text) - index
                break
            if self.text_end < len(self.buf) and text[stop : stop + 1] in _NUMBER_GOES_ON:
                break  # a number the window may have cut ("1.5e" of "1.5e+16")
            values.append(value)
            index, expect = stop, 5
            separator = _SEPARATOR.match(text, stop)
            if separator is None:
                break
            index, expect = separator.end(), 0
        if not values:
            return None
        try:
            out = (js_stringify(values)[1:-1] + ("," if expect == 0 else "")).encode()
        except RecursionError:
            return None
        end = start + (index - first if self.ascii else len(text[first:index].encode()))
        self.anchor = (end, index)
        self.budget += 4 * (end - start)
        return out, end, expect

    def may_try(self, start: int) -> bool:
        if self.budget > 0:
            return True
        if start < self.next_try:
            return False
        self.next_try = start + self.window // 4
        return True

    def cached(self, start: int) -> tuple[str, int] | None:
        """The current window and the index of ``start`` in it, if it holds ``start``."""
        byte, char = self.anchor
        if not byte <= start < self.text_end or start - byte > 256:
            return None
        if not self.ascii and not self.buf[byte:start].isascii():
            return None
        return self.text, char + start - byte

    def decode(self, start: int) -> tuple[str, int] | None:
        buf = self.buf
        end = min(start + self.size, len(buf))
        while end < len(buf) and buf[end] & 0xC0 == 0x80 and end > start:
            end -= 1  # not inside a character
        self.budget -= end - start
        try:
            self.text = buf[start:end].decode()
        except UnicodeDecodeError:
            return None
        self.ascii = self.text.isascii()
        self.text_end = end
        self.anchor = (start, 0)
        return self.text, 0
