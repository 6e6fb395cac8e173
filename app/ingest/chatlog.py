"""The one chat-log writer: windows opened, filled with conversations in chunks, closed.

A small push (parsed whole, its events from ``document_events``) and a large one (streamed, its
events from ``stream.stream_chatlog``) both go through ``write_chatlog``; only where the jobs run
differs (see ``pipeline``). A redelivered window replaces the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlmodel import col

from app.ingest.pipeline import Jobs
from app.ingest.records import touch_chatbot
from app.ingest.result import Result
from app.models import ChatWindow, Conversation, Message
from app.shapes import (
    IngestError,
    ParsedConversation,
    WindowHeader,
    parse_conversation,
    parse_time,
    parse_window,
)
from app.statements import inserted_id

CHUNK_MESSAGES = 5000
CHUNK_BYTES = 2 * 1024 * 1024  # of message text: a few huge messages make a chunk too
Events = Iterable[tuple[str, Any]]


def document_events(document: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """A chat log parsed whole, as the events ``stream_chatlog`` yields for its body (each
    window's fields come first, all at once)."""
    collection = document["Collection"]
    if not isinstance(collection, list):
        yield "error", "Collection: expected an array"
        return
    for window in collection:
        yield "window", window
        conversations = window.get("Conversations") if isinstance(window, dict) else None
        if isinstance(conversations, list):  # anything else fails the window's own check
            for conversation in conversations:
                yield "conversation", conversation
        yield "end", None


def write_chatlog(
    events: Events,
    jobs: Jobs,
    result: Result,
    *,
    delivery_id: int | None,
    now: Callable[[], datetime],
) -> None:
    """Store a chat log's windows from its events; what is wrong goes to ``result``."""
    window: _WindowWriter | None = None
    index = -1
    for event, value in events:
        if event == "error":
            result.fail(value)
            continue
        if window is None:
            index += 1
            window = _WindowWriter(jobs, result, index, delivery_id=delivery_id, now=now)
        if event == "window":
            window.set_header(value)
        elif event == "conversation":
            window.add(value)
        elif event == "end":
            window.close()
            window = None


class _WindowRef:
    """Filled in when the job opening the window runs; read by the jobs queued after it."""

    id: int | None = None

    @property
    def id_(self) -> int:
        assert self.id is not None, "a window's jobs run after the job that opens it"
        return self.id


class _WindowWriter:
    """Writes one window in chunks (with a ``WritePipeline``, each its own short transaction),
    the same rows whatever the order of its fields."""

    def __init__(
        self,
        jobs: Jobs,
        result: Result,
        index: int,
        *,
        delivery_id: int | None,
        now: Callable[[], datetime],
    ) -> None:
        self.jobs, self.result, self.index = jobs, result, index
        self.delivery_id, self.now = delivery_id, now
        self.window: _WindowRef | None = None
        self.header: WindowHeader | None = None
        self.waiting: list[Any] = []  # conversations that came before the window's fields
        self.position = 0
        self.pending: list[ParsedConversation] = []
        self.pending_messages = self.pending_bytes = 0
        self.written = 0  # messages of this window already stored
        self.failed = False

    def set_header(self, document: Any) -> None:
        """Open the window, or, when fields came after its conversations, bring it up to date."""
        if self.failed:
            return
        try:
            header = parse_window(document)
        except IngestError as exc:
            self._fail(f"Collection[{self.index}]: {exc}")
            return
        if self.window is None:
            window = self.window = _WindowRef()
            delivery_id, now = self.delivery_id, self.now

            def open_job(connection: Connection) -> None:
                window.id = open_window(connection, header, delivery_id=delivery_id, now=now())

            self.jobs.submit(open_job)
            self.header = header
            waiting, self.waiting = self.waiting, []
            for conversation in waiting:
                self.add(conversation)
        elif header != self.header:
            window, now = self.window, self.now
            self.jobs.submit(lambda c: update_window_header(c, window.id_, header, now=now()))
            self.header = header

    def add(self, document: Any) -> None:
        if self.failed:
            return
        if self.window is None:
            self.waiting.append(document)
            return
        position, self.position = self.position, self.position + 1
        try:
            conversation = parse_conversation(document)
        except IngestError as exc:
            self.result.fail(f"Collection[{self.index}].Conversations[{position}]: {exc}")
            return
        self.pending.append(conversation)
        self.pending_messages += len(conversation.messages)
        self.pending_bytes += sum(len(m["content"]) for m in conversation.messages)
        if self.pending_messages >= CHUNK_MESSAGES or self.pending_bytes >= CHUNK_BYTES:
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.window is None or self.header is None:
            return
        window, serial, chunk = self.window, self.header.serial_number, self.pending
        self.pending, self.pending_messages, self.pending_bytes = [], 0, 0
        self.jobs.submit(
            lambda c: add_conversations(c, window.id_, serial, chunk), then=self._written
        )

    def _written(self, messages: int) -> None:
        self.written += messages
        self.result.records += messages

    def close(self) -> None:
        if self.failed or self.window is None:
            return
        self.flush()
        window = self.window
        self.jobs.submit(lambda c: close_window(c, window.id_))

    def _fail(self, message: str) -> None:
        """A bad window stores nothing: undo what was written before we knew."""
        self.result.fail(message)
        self.failed = True
        self.waiting, self.pending = [], []
        if self.window is not None:
            window, self.window = self.window, None
            self.jobs.run(lambda c: drop_window(c, window.id_))
        self.result.records -= self.written  # every chunk has settled: run() waited for them


# ---- the rows ---------------------------------------------------------------------------


def open_window(
    connection: Connection, header: WindowHeader, *, delivery_id: int | None, now: datetime
) -> int:
    """Start (or restart) a chat-log window: a redelivered window replaces the old one."""
    touch_chatbot(connection, header.serial_number, header.name, now)
    connection.execute(
        delete(ChatWindow).where(
            col(ChatWindow.serial_number) == header.serial_number,
            col(ChatWindow.start_time_raw) == header.start_time_raw,
            col(ChatWindow.end_time_raw) == header.end_time_raw,
        )
    )
    values = {
        "serial_number": header.serial_number,
        "name": header.name,
        "start_time_raw": header.start_time_raw,
        "end_time_raw": header.end_time_raw,
        "start_time": parse_time(header.start_time_raw),
        "end_time": parse_time(header.end_time_raw),
        "extra": header.extra,
        "received_at": now,
        "delivery_id": delivery_id,
        "complete": False,
    }
    return inserted_id(connection.execute(insert(ChatWindow).values(**values)))


def update_window_header(
    connection: Connection, window_id: int, header: WindowHeader, *, now: datetime
) -> None:
    """Fields of a streamed window that came after its conversations (its Name, extras)."""
    touch_chatbot(connection, header.serial_number, header.name, now)
    connection.execute(
        update(ChatWindow)
        .where(col(ChatWindow.id) == window_id)
        .values(name=header.name, extra=header.extra)
    )


def drop_window(connection: Connection, window_id: int) -> None:
    """Conversations and messages go with it (ON DELETE CASCADE), and out of the FTS index."""
    connection.execute(delete(ChatWindow).where(col(ChatWindow.id) == window_id))


# Built once: building a statement per conversation cost more than SQLite's own work (see the
# profile in docs/performance.md, "Daily push"). RETURNING with executemany keeps ids in order.
_INSERT_CONVERSATIONS = insert(Conversation).returning(
    col(Conversation.id), sort_by_parameter_order=True
)
_INSERT_MESSAGES = insert(Message)


def add_conversations(
    connection: Connection, window_id: int, serial: str, conversations: list[ParsedConversation]
) -> int:
    """Insert conversations and their messages, one statement each; returns the messages."""
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


def close_window(connection: Connection, window_id: int) -> None:
    totals = select(
        func.count(), func.coalesce(func.sum(col(Conversation.message_count)), 0)
    ).where(col(Conversation.window_id) == window_id)
    conversations, messages = connection.execute(totals).one()
    connection.execute(
        update(ChatWindow)
        .where(col(ChatWindow.id) == window_id)
        .values(conversation_count=conversations, message_count=messages, complete=True)
    )
