"""A chat-log push in bounded memory: its stored body read in pieces, parsed as a stream of
windows and conversations, and written in chunks through a pipeline to the single writer."""

from __future__ import annotations

import contextlib
import io
import sqlite3
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from typing import Any, BinaryIO, TypeVar

import ijson
from ijson.common import ObjectBuilder
from sqlalchemy import Connection, func, insert, select

from app.db import Database, WriteJob
from app.models import STORED_BODY, Conversation, Delivery, DeliveryBody, Message
from app.shapes import ParsedConversation

REQUIRED_WINDOW_KEYS = {"SerialNumber", "StartTime", "EndTime"}
PIPELINE_DEPTH = 2  # chunks queued at the writer while the next one is parsed
T = TypeVar("T")
_OPENS = ("start_map", "start_array")
_CLOSES = ("end_map", "end_array")
Events = Iterator[tuple[str, Any]]


class NotAChatLog(ValueError):
    """The body is not an object holding "Collection"; it is to be parsed whole instead."""


def stream_chatlog(stream: io.BufferedIOBase) -> Iterator[tuple[str, Any]]:
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
    events = ijson.basic_parse(stream, use_float=True)
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


# ---- reading a stored body without loading it ---------------------------------------------

REOPEN_BYTES = 16 * 1024 * 1024
BODY_READ_BYTES = 256 * 1024


class SQLiteBlobReader(io.RawIOBase):
    """A BLOB column of one row, read in pieces through ``sqlite3.Blob`` (Python 3.11+).

    Loading a 100 MB body with a SELECT costs twice its size (SQLite's copy, then Python's);
    this costs one buffer. An open blob handle is a read transaction, which would hold back WAL
    checkpoints while the processor writes hundreds of MB of records, so the handle is closed
    and reopened (a new snapshot; the stored body never changes) every ``reopen_bytes``.
    """

    def __init__(
        self,
        connection: sqlite3.Connection,
        table: str,
        column: str,
        row: int,
        *,
        reopen_bytes: int = REOPEN_BYTES,
    ) -> None:
        super().__init__()
        self._open = lambda: connection.blobopen(table, column, row, readonly=True)
        self._reopen_bytes = reopen_bytes
        self._blob: sqlite3.Blob | None = self._open()
        self._size = len(self._blob)
        self._offset = self._opened_at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._offset, io.SEEK_END: self._size}[whence]
        self._offset = max(0, base + offset)
        return self._offset

    def readinto(self, buffer: Any) -> int:
        length = min(len(buffer), self._size - self._offset)
        if length <= 0:
            return 0
        if self._blob is None or not 0 <= self._offset - self._opened_at < self._reopen_bytes:
            if self._blob is not None:
                self._blob.close()
            self._blob, self._opened_at = self._open(), self._offset
        self._blob.seek(self._offset)
        data = self._blob.read(length)
        memoryview(buffer).cast("B")[: len(data)] = data
        self._offset += len(data)
        return len(data)

    def close(self) -> None:
        if self._blob is not None:
            self._blob.close()
            self._blob = None
        super().close()


@contextlib.contextmanager
def open_stored_body(db: Database, delivery_id: int) -> Iterator[BinaryIO]:
    """The stored body as a file. On SQLite it is read in pieces and never held whole; other
    databases hand it over in one piece (PostgreSQL has no incremental read of a bytea)."""
    sqlite = db.engine.dialect.name == "sqlite"
    with db.read() as connection:
        apart = connection.execute(
            select(func.length(DeliveryBody.body)).where(DeliveryBody.delivery_id == delivery_id)
        ).scalar()
        inline = connection.execute(
            select(func.length(Delivery.body)).where(Delivery.id == delivery_id)
        ).scalar()
        body: bytes | None = None
        if not sqlite or not (apart or inline):
            body = connection.execute(
                select(STORED_BODY).where(Delivery.id == delivery_id)
            ).scalar()
    if body is not None or not (apart or inline):
        yield io.BytesIO(body or b"")
        return
    table = "delivery_body" if apart else "delivery"  # large ones are apart (migration 0002)
    raw = db.engine.raw_connection()
    try:
        reader = SQLiteBlobReader(raw.driver_connection, table, "body", delivery_id)
        with io.BufferedReader(reader, buffer_size=BODY_READ_BYTES) as stream:
            yield stream
    finally:
        raw.close()


# ---- writing it in chunks --------------------------------------------------------------


class WritePipeline:
    """Write jobs queued in order with a few in flight, so that parsing the next chunk (Python,
    holding the GIL) overlaps SQLite storing and indexing this one (C, releasing it).

    The writer runs jobs in the order they were submitted, so a job may rely on the ones before
    it, such as a chunk on its window having been opened.
    """

    def __init__(self, db: Database, depth: int = PIPELINE_DEPTH) -> None:
        self.db, self.depth = db, depth
        self.waiting: deque[tuple[Future[Any], Callable[[Any], None] | None]] = deque()

    def submit(self, job: WriteJob[T], then: Callable[[T], None] | None = None) -> None:
        self.waiting.append((self.db.writer.submit(job), then))
        while len(self.waiting) > self.depth:
            self._settle()

    def run(self, job: WriteJob[T]) -> T:
        """Run after everything queued, and wait for it."""
        self.drain()
        return self.db.writer.run_sync(job)

    def drain(self) -> None:
        while self.waiting:
            self._settle()

    def _settle(self) -> None:
        future, then = self.waiting.popleft()
        value = future.result()  # a failed job fails the whole run: it is retried later
        if then is not None:
            then(value)


class WindowRef:
    """Filled in by the writer when the open job runs; read by the jobs queued after it."""

    id: int | None = None

    @property
    def id_(self) -> int:
        assert self.id is not None, "a window's jobs run after the job that opens it"
        return self.id


# Built once: building a statement per conversation cost more than SQLite's own work (see the
# profile in docs/performance.md, "Daily push"). RETURNING with executemany keeps ids in order.
_INSERT_CONVERSATIONS = insert(Conversation).returning(
    Conversation.id, sort_by_parameter_order=True
)
_INSERT_MESSAGES = insert(Message)


def add_conversations(
    connection: Connection, window_id: int, serial: str, conversations: list[ParsedConversation]
) -> int:
    """Insert conversations and their messages, one statement each; returns the messages.

    The same rows as ``ingest.add_conversations``, in the same order, without building a
    statement per conversation.
    """
    if not conversations:
        return 0
    rows = [
        {
            "window_id": window_id,
            "serial_number": serial,
            "message_count": len(conversation.messages),
            **conversation.values,
        }
        for conversation in conversations
    ]
    ids = connection.execute(_INSERT_CONVERSATIONS, rows).scalars().all()
    messages = [
        {"conversation_id": conversation_id, **message}
        for conversation_id, conversation in zip(ids, conversations, strict=True)
        for message in conversation.messages
    ]
    if messages:
        connection.execute(_INSERT_MESSAGES, messages)
    return len(messages)
