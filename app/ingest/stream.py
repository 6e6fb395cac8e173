"""A chat-log body read as a stream of windows and conversations (ijson), in bounded memory."""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from typing import IO, Any

import ijson
from ijson.common import ObjectBuilder

REQUIRED_WINDOW_KEYS = {"SerialNumber", "StartTime", "EndTime"}
_OPENS = ("start_map", "start_array")
_CLOSES = ("end_map", "end_array")
Events = Iterator[tuple[str, Any]]


class NotAChatLog(ValueError):
    """The body is not an object holding "Collection"; it is to be parsed whole instead."""


class _ReplacingInvalidUTF8:
    """The stream re-encoded as the vendor's stack decodes it (body-parser: invalid UTF-8 as
    U+FFFD, a leading BOM dropped), which is also what its signature covered; ijson would refuse
    the invalid bytes and lose the push. One piece at a time, so memory stays bounded."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.decoder = codecs.getincrementaldecoder("utf-8-sig")("replace")

    def read(self, size: int = -1) -> bytes:
        if size == 0:  # ijson's probe of what read() returns
            return b""
        while True:  # b"" means the end to ijson: a piece that ends mid-character must not
            piece = self.stream.read(size)
            text = self.decoder.decode(piece, final=not piece)
            if text or not piece:
                return text.encode("utf-8")


def stream_chatlog(stream: IO[bytes]) -> Iterator[tuple[str, Any]]:
    """Yield a chat-log body's parts one at a time, in bounded memory.

    Per window: ("window", header) as soon as its SerialNumber, StartTime and EndTime are known
    (the vendor sends them before the conversations), ("conversation", item) for each item of
    its Conversations, then ("window", header) again with every field, and ("end", None). A
    window that is not an object yields just ("window", value), ("end", None); a Collection that
    is not an array yields ("error", message). Raises ``NotAChatLog``, having yielded nothing,
    when the top level is not an object with a Collection.

    Only one conversation is held in memory at a time. The events come from ijson's
    ``basic_parse`` and are walked by structure, not by ijson's dotted prefixes, which cannot
    tell a key "a.b" from a nested "a" > "b", nor an object's "item" key from an array item.
    """
    events = ijson.basic_parse(_ReplacingInvalidUTF8(stream), use_float=True)
    event, _ = next(events, ("", None))
    if event != "start_map":
        raise NotAChatLog
    found = False
    for event, key in events:
        if event == "end_map":
            break
        event, value = next(events)
        if key != "Collection":
            _build(events, event, value, keep=False)
        elif event == "start_array":
            found = True
            yield from _windows(events)
        else:
            found = True
            _build(events, event, value, keep=False)
            yield "error", "Collection: expected an array"
    _drain(events)
    if not found:
        raise NotAChatLog


def _windows(events: Events) -> Iterator[tuple[str, Any]]:
    for event, value in events:
        if event == "end_array":
            return
        if event == "start_map":
            yield from _window(events)
        else:
            yield "window", _build(events, event, value)
        yield "end", None


def _window(events: Events) -> Iterator[tuple[str, Any]]:
    header: dict[str, Any] = {}
    for event, key in events:
        if event == "end_map":
            break
        event, value = next(events)
        if key == "Conversations" and event == "start_array":
            if header.keys() >= REQUIRED_WINDOW_KEYS:
                yield "window", dict(header)
            for event, value in events:
                if event == "end_array":
                    break
                yield "conversation", _build(events, event, value)
        else:
            # Other fields, and a Conversations that is not an array (flagged by the reader).
            header[key] = _build(events, event, value)
    yield "window", header


def _build(events: Events, event: str, value: Any, *, keep: bool = True) -> Any:
    """The whole value whose first event is (event, value); ``keep=False`` only skips it."""
    if event not in _OPENS:
        return value
    builder = ObjectBuilder() if keep else None
    depth = 0
    while True:
        if builder is not None:
            builder.event(event, value)
        depth += (event in _OPENS) - (event in _CLOSES)
        if depth == 0:
            return None if builder is None else builder.value
        event, value = next(events)


def _drain(events: Events) -> None:
    for _ in events:
        pass  # the parser reports trailing garbage only when asked for more
