"""The one chat-log writer: windows opened, filled with conversations in chunks, closed.

A small push (parsed whole, its events from ``document_events``) and a large one (streamed, its
events from ``stream.stream_chatlog``) both go through ``write_chatlog``; only where the jobs run
differs (see ``pipeline``).

A window is one chatbot's period (SerialNumber, StartTime, EndTime). A push for a window that is
stored already merges into it: each conversation it carries replaces the stored ones with the same
SessionID (messages and all), the others stay, and the window's Name and extras become the push's.
The vendor may split a day over several pushes, so replacing a window whole would lose what only
the earlier push held. The replacing happens chunk by chunk, each chunk in the transaction that
inserts it, so a push cut short (a crash, a stop) leaves every conversation either as it was or
as the push sent it, and the push redone after a restart simply replaces its own rows again.

"Newer" is by arrival, that is by delivery id, not by when a push is processed: a large push is
processed after it is answered, so a small one that came after it may be stored first, and must
not then be overwritten by it. Each conversation remembers its delivery for that.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, or_, select, update
from sqlmodel import col

from app.forward.outbox import enqueue_window as enqueue_forward_window
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
# Conversations without messages count towards neither; this also bounds the SessionIDs a
# chunk's DELETE names (SQLite allows 32,766 variables a statement).
CHUNK_CONVERSATIONS = 5000
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
    """Store a chat log's windows from its events; what is wrong goes to ``result``.

    ("broken", message) says the body cannot be read any further (invalid JSON part-way): the
    window being written is settled as a bad one, and nothing more is read.
    """
    window: _WindowWriter | None = None
    index = -1
    for event, value in events:
        if event == "broken" and window is not None:
            window.fail(value)
            return
        if event in ("error", "broken"):
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
    created = False  # by this push: a bad window is then dropped whole

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
        # SessionIDs this push has written to the window: stored rows with these came from this
        # push (a SessionID twice in one push keeps both), not from an earlier one to replace.
        self.seen: set[int] = set()
        self.failed = False

    def set_header(self, document: Any) -> None:
        """Open the window, or, when fields came after its conversations, take them (the
        window's fields are written when it closes)."""
        if self.failed:
            return
        try:
            header = parse_window(document)
        except IngestError as exc:
            self.fail(f"Collection[{self.index}]: {exc}")
            return
        if self.window is None:
            window = self.window = _WindowRef()
            delivery_id, now = self.delivery_id, self.now

            def open_job(connection: Connection) -> None:
                window.id, window.created = open_window(
                    connection, header, delivery_id=delivery_id, now=now()
                )

            self.jobs.submit(open_job)
            self.header = header
            waiting, self.waiting = self.waiting, []
            for conversation in waiting:
                self.add(conversation)
        else:
            self.header = header  # fields that came after the conversations: written on close

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
        if (
            self.pending_messages >= CHUNK_MESSAGES
            or self.pending_bytes >= CHUNK_BYTES
            or len(self.pending) >= CHUNK_CONVERSATIONS
        ):
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.window is None or self.header is None:
            return
        window, serial, chunk = self.window, self.header.serial_number, self.pending
        self.pending, self.pending_messages, self.pending_bytes = [], 0, 0
        replace = {conversation.values["session_id"] for conversation in chunk} - self.seen
        self.seen |= replace
        delivery_id = self.delivery_id
        self.jobs.submit(
            lambda c: add_conversations(
                c, window.id_, serial, chunk, replace=replace, delivery_id=delivery_id
            ),
            then=self._written,
        )

    def _written(self, messages: int) -> None:
        self.written += messages
        self.result.records += messages

    def close(self) -> None:
        if self.failed or self.window is None or self.header is None:
            return
        self.flush()
        window, header, delivery_id, now = self.window, self.header, self.delivery_id, self.now
        self.jobs.submit(
            lambda c: close_window(c, window.id_, header, delivery_id=delivery_id, now=now())
        )

    def fail(self, message: str) -> None:
        """A bad window stores nothing new: undo what was written before we knew.

        Only a streamed window can fail after it was opened (a bad field after its
        conversations, or the body broken off). One this push created is dropped whole. One
        stored before cannot be put back as it was (the conversations this push replaced are
        gone), so all of the push's conversations read, each valid, are merged as usual,
        whatever the chunks, and only its fields are refused: the window keeps its old ones,
        the error says what was wrong.
        """
        self.result.fail(message)
        self.failed = True
        self.waiting = []
        if self.window is None:
            self.pending = []
            return
        self.flush()  # a window this push created is dropped with it
        window, self.window = self.window, None
        if self.jobs.run(lambda c: abandon_window(c, window)):
            self.result.records -= self.written  # every chunk has settled: run() waited


# ---- the rows ---------------------------------------------------------------------------


def open_window(
    connection: Connection, header: WindowHeader, *, delivery_id: int | None, now: datetime
) -> tuple[int, bool]:
    """Start a chat-log window, or reopen the stored one to merge into it; returns its id and
    whether it counts as this push's own (see ``abandon_window``).

    A reopened window keeps its fields until the push closes it: only then are they known (a
    streamed window's fields may follow its conversations) and known to be valid.
    """
    stored = connection.execute(
        select(col(ChatWindow.id), col(ChatWindow.delivery_id), col(ChatWindow.complete)).where(
            col(ChatWindow.serial_number) == header.serial_number,
            col(ChatWindow.start_time_raw) == header.start_time_raw,
            col(ChatWindow.end_time_raw) == header.end_time_raw,
        )
    ).first()
    # A stored window's name (and its chatbot's) changes on close, if this push is the newest.
    touch_chatbot(connection, header.serial_number, None if stored else header.name, now)
    if stored is not None:
        connection.execute(
            update(ChatWindow).where(col(ChatWindow.id) == stored.id).values(complete=False)
        )
        # Created by this very delivery in a run that was cut short, and never closed since.
        own = delivery_id is not None and stored.delivery_id == delivery_id and not stored.complete
        return stored.id, own
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
    return inserted_id(connection.execute(insert(ChatWindow).values(**values))), True


def drop_window(connection: Connection, window_id: int) -> None:
    """Conversations and messages go with it (ON DELETE CASCADE), and out of the FTS index."""
    connection.execute(delete(ChatWindow).where(col(ChatWindow.id) == window_id))


def abandon_window(connection: Connection, window: _WindowRef) -> bool:
    """A window that turned out bad: dropped if this push created it (returns True), else
    counted again and closed with the fields it had."""
    if window.created:
        drop_window(connection, window.id_)
        return True
    _count_and_close(connection, window.id_)
    return False


# Built once: building a statement per conversation cost more than SQLite's own work (see the
# profile in docs/performance.md, "Daily push"). RETURNING with executemany keeps ids in order.
_INSERT_CONVERSATIONS = insert(Conversation).returning(
    col(Conversation.id), sort_by_parameter_order=True
)
_INSERT_MESSAGES = insert(Message)
# Through ix_conversation_window_session: a lookup per SessionID, however large the window.
_IN_SESSIONS = (
    col(Conversation.window_id) == bindparam("window_id"),
    col(Conversation.session_id).in_(bindparam("sessions", expanding=True)),
)
_DELETE_SESSIONS = delete(Conversation).where(*_IN_SESSIONS)
_NEWER_SESSIONS = select(col(Conversation.session_id)).where(
    *_IN_SESSIONS, col(Conversation.delivery_id) > bindparam("delivery_id")
)


def add_conversations(
    connection: Connection,
    window_id: int,
    serial: str,
    conversations: list[ParsedConversation],
    *,
    replace: Collection[int] = (),
    delivery_id: int | None = None,
) -> int:
    """Insert conversations and their messages, one statement each, after deleting the stored
    conversations with a SessionID in ``replace`` (their messages and search entries go with
    them: ON DELETE CASCADE, FTS triggers); returns the messages inserted.

    A SessionID stored from a later delivery is left alone: its conversation here is older.
    """
    if delivery_id is not None and conversations:
        sessions = list({conversation.values["session_id"] for conversation in conversations})
        parameters = {"window_id": window_id, "sessions": sessions, "delivery_id": delivery_id}
        newer = set(connection.execute(_NEWER_SESSIONS, parameters).scalars())
        if newer:
            conversations = [c for c in conversations if c.values["session_id"] not in newer]
            replace = [session for session in replace if session not in newer]
    if replace:
        connection.execute(_DELETE_SESSIONS, {"window_id": window_id, "sessions": list(replace)})
    if not conversations:
        return 0
    rows = [
        {
            "window_id": window_id,
            "serial_number": serial,
            "delivery_id": delivery_id,
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


def close_window(
    connection: Connection,
    window_id: int,
    header: WindowHeader,
    *,
    delivery_id: int | None,
    now: datetime,
) -> None:
    """The push is written: the window takes its counts from what it now holds (an earlier
    push's conversations included), and its fields unless a later delivery gave them."""
    fields = update(ChatWindow).where(col(ChatWindow.id) == window_id)
    if delivery_id is not None:
        fields = fields.where(
            or_(col(ChatWindow.delivery_id).is_(None), col(ChatWindow.delivery_id) <= delivery_id)
        )
    taken = connection.execute(
        fields.values(
            name=header.name, extra=header.extra, received_at=now, delivery_id=delivery_id
        )
    ).rowcount
    touch_chatbot(connection, header.serial_number, header.name if taken else None, now)
    _count_and_close(connection, window_id)
    # Same transaction as the window's completion: a crash cannot lose its forwards.
    enqueue_forward_window(connection, window_id, now)


def _count_and_close(connection: Connection, window_id: int) -> None:
    totals = select(
        func.count(), func.coalesce(func.sum(col(Conversation.message_count)), 0)
    ).where(col(Conversation.window_id) == window_id)
    conversations, messages = connection.execute(totals).one()
    connection.execute(
        update(ChatWindow)
        .where(col(ChatWindow.id) == window_id)
        .values(conversation_count=conversations, message_count=messages, complete=True)
    )
