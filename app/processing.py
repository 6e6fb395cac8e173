"""From stored raw deliveries to records, inline for small bodies, in the background for large.

Small bodies are parsed inside the same transaction that stores them. Large ones (the daily
chat-log push) are committed raw first, answered, then streamed (ijson) into records in chunks by
``Processor``; a delivery still ``pending`` after a restart is simply processed again, and since
every store step is idempotent (windows replace themselves, leads are deduplicated) that is safe.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

import ijson
from sqlalchemy import Connection, bindparam, select, update

from app import ingest, shapes
from app.chatlog_stream import (
    NotAChatLog,
    WindowRef,
    WritePipeline,
    add_conversations,
    open_stored_body,
    stream_chatlog,
)
from app.db import Database
from app.models import Delivery, Outcome, ProcessStatus, utcnow
from app.shapes import IngestError, ParsedConversation, WindowHeader

log = logging.getLogger(__name__)

INLINE_MAX_BYTES = 2 * 1024 * 1024
CHUNK_MESSAGES = 5000
CHUNK_BYTES = 2 * 1024 * 1024  # of message text: a few huge messages make a chunk too
MAX_ERRORS_KEPT = 20


@dataclass
class Result:
    kind: str = "unknown"
    records: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)
        elif len(self.errors) == MAX_ERRORS_KEPT:
            self.errors.append("… more errors not shown")

    @property
    def status(self) -> str:
        return ProcessStatus.FAILED if self.errors else ProcessStatus.PROCESSED


def apply_document(
    connection: Connection, document: Any, *, delivery_id: int | None, now: datetime
) -> Result:
    """Store every record a parsed body holds. Runs inside one writer transaction."""
    result = Result(kind=shapes.kind_of(document))
    if result.kind == "chatlog":
        _apply_chatlog(connection, document, delivery_id=delivery_id, now=now, result=result)
    elif result.kind == "unknown":
        result.fail("not a lead, appointment or chat log: expected a JSON object with Type")
    else:
        try:
            ingest.store_lead(
                connection, shapes.lead_values(document), delivery_id=delivery_id, now=now
            )
            result.records = 1
        except IngestError as exc:
            result.fail(str(exc))
    return result


def _apply_chatlog(
    connection: Connection,
    document: dict[str, Any],
    *,
    delivery_id: int | None,
    now: datetime,
    result: Result,
) -> None:
    collection = document["Collection"]
    if not isinstance(collection, list):
        result.fail("Collection: expected an array")
        return
    for index, window in enumerate(collection):
        try:
            header = shapes.parse_window(window)
        except IngestError as exc:
            result.fail(f"Collection[{index}]: {exc}")
            continue
        window_id = ingest.open_window(connection, header, delivery_id=delivery_id, now=now)
        conversations = window.get("Conversations") or []  # checked: a list, absent or null
        parsed = list(_parse_conversations(conversations, index, result))
        result.records += ingest.add_conversations(
            connection, window_id, header.serial_number, parsed
        )
        ingest.close_window(connection, window_id)


def _parse_conversations(
    conversations: list[Any], window_index: int, result: Result
) -> Iterator[ParsedConversation]:
    for position, conversation in enumerate(conversations):
        try:
            yield shapes.parse_conversation(conversation)
        except IngestError as exc:
            result.fail(f"Collection[{window_index}].Conversations[{position}]: {exc}")


@dataclass(frozen=True)
class Parsed:
    """A small body read as JSON, before anything is written."""

    document: Any = None
    error: str | None = None  # why it is not JSON we can read


def parse_body(body: bytes | bytearray) -> Parsed:
    try:
        return Parsed(shapes.parse_json(body))
    except IngestError as exc:
        return Parsed(error=str(exc))


def process_inline(
    connection: Connection, delivery_id: int, parsed: Parsed, *, now: datetime
) -> Result:
    """Store a small body's records in the storing transaction; a failure leaves the raw row
    flagged."""
    if parsed.error is not None:
        result = Result()
        result.fail(parsed.error)
    else:
        with connection.begin_nested() as savepoint:
            result = apply_document(connection, parsed.document, delivery_id=delivery_id, now=now)
            if result.kind == "unknown":
                savepoint.rollback()
    finish(connection, delivery_id, result, now=now)
    return result


_FINISH = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery_id"))
    .values(
        kind=bindparam("kind"),
        process_status=bindparam("process_status"),
        process_error=bindparam("process_error"),
        processing_started_at=bindparam("processing_started_at"),
        processed_at=bindparam("processed_at"),
        record_count=bindparam("record_count"),
    )
)


def finish(
    connection: Connection,
    delivery_id: int,
    result: Result,
    *,
    now: datetime,
    started: datetime | None = None,
) -> None:
    """Record the outcome: one UPDATE, since each rewrites the row with its body (see
    ``_mark_pending``)."""
    connection.execute(
        _FINISH,
        {
            "delivery_id": delivery_id,
            "kind": result.kind,
            "process_status": result.status,
            "process_error": "\n".join(result.errors) or None,
            "processing_started_at": started,
            "processed_at": now,
            "record_count": result.records,
        },
    )


# ---- large bodies, streamed -------------------------------------------------------------


class Processor:
    """Background thread that turns pending deliveries into records, oldest first."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="processor", daemon=True)
        self._thread.start()
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=60)
            self._wake.clear()
            while not self._stop.is_set() and (delivery_id := self._next_pending()) is not None:
                try:
                    process_stored(self.db, delivery_id, stop=self._stop)
                except Exception:
                    # Storage trouble: leave it pending and try again on the next wake-up.
                    log.exception("processing delivery %s failed; will retry", delivery_id)
                    self._stop.wait(5)

    def _next_pending(self) -> int | None:
        with self.db.read() as connection:
            return connection.execute(
                select(Delivery.id)
                .where(
                    Delivery.outcome == Outcome.ACCEPTED,
                    Delivery.process_status == ProcessStatus.PENDING,
                )
                .order_by(Delivery.id)
                .limit(1)
            ).scalar()


def process_stored(
    db: Database, delivery_id: int, *, stop: threading.Event | None = None
) -> Result:
    """(Re)build the records of one stored delivery from its raw body."""
    started = utcnow()
    db.writer.run_sync(lambda c: _mark_pending(c, delivery_id))
    result: Result | None = None
    with open_stored_body(db, delivery_id) as stream:
        head = stream.read(4096)
        if b'"Collection"' in head:
            # A body that only mentions "Collection" (a lead's Content, say) is parsed whole below.
            # parse_json skips one BOM too; ijson would choke on it.
            stream.seek(len(codecs.BOM_UTF8) if head.startswith(codecs.BOM_UTF8) else 0)
            with contextlib.suppress(NotAChatLog):
                result = _process_streaming(db, delivery_id, stream, stop)
        if result is None:
            stream.seek(0)
            result = _process_whole(db, delivery_id, stream.read())
    if stop is not None and stop.is_set():
        return result  # interrupted: stays pending, resumes after the restart
    db.writer.run_sync(lambda c: finish(c, delivery_id, result, now=utcnow(), started=started))
    return result


def _process_whole(db: Database, delivery_id: int, body: bytes) -> Result:
    parsed = parse_body(body)
    if parsed.error is not None:
        result = Result()
        result.fail(parsed.error)
        return result
    return db.writer.run_sync(
        lambda c: apply_document(c, parsed.document, delivery_id=delivery_id, now=utcnow())
    )


def _mark_pending(connection: Connection, delivery_id: int) -> None:
    """A reprocessed delivery is pending until done, so a crash halfway resumes it.

    Only when it is not pending already: SQLite rewrites a whole row to update one column of
    it, a 100 MB body included (into memory twice, and into the WAL), which is why
    ``processing_started_at`` is written by ``finish`` rather than here.
    """
    connection.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.process_status.is_distinct_from(ProcessStatus.PENDING),
        )
        .values(process_status=ProcessStatus.PENDING)
    )


def _process_streaming(
    db: Database, delivery_id: int, stream: BinaryIO, stop: threading.Event | None
) -> Result:
    result = Result(kind="chatlog")
    pipeline = WritePipeline(db)
    window: _WindowWriter | None = None
    window_index = -1
    try:
        for event, value in stream_chatlog(stream):
            if stop is not None and stop.is_set():
                break
            if event == "error":
                result.fail(value)
                continue
            if window is None:
                window_index += 1
                window = _WindowWriter(pipeline, delivery_id, window_index, result)
            if event == "window":
                window.set_header(value)
            elif event == "conversation":
                window.add(value)
            elif event == "end":
                window.close()
                window = None
    except ijson.JSONError as exc:
        result.fail(f"invalid JSON: {exc}")
    pipeline.drain()
    return result


class _WindowWriter:
    """Writes one streamed window in chunks, each its own short writer transaction.

    Produces the same rows and messages as ``apply_document`` would for the window, whatever
    the order of its fields.
    """

    def __init__(
        self, pipeline: WritePipeline, delivery_id: int, index: int, result: Result
    ) -> None:
        self.pipeline, self.delivery_id, self.index = pipeline, delivery_id, index
        self.result = result
        self.window: WindowRef | None = None
        self.header: WindowHeader | None = None
        self.waiting: list[Any] = []  # conversations that came before the window's fields
        self.position = 0
        self.pending: list[ParsedConversation] = []
        self.pending_messages = self.pending_bytes = 0
        self.written = 0  # messages of this window already committed
        self.failed = False

    def set_header(self, document: Any) -> None:
        """Open the window, or, when fields came after its conversations, bring it up to date."""
        if self.failed:
            return
        try:
            header = shapes.parse_window(document)
        except IngestError as exc:
            self._fail(f"Collection[{self.index}]: {exc}")
            return
        if self.window is None:
            window = self.window = WindowRef()
            delivery_id = self.delivery_id

            def open_window(connection: Connection) -> None:
                window.id = ingest.open_window(
                    connection, header, delivery_id=delivery_id, now=utcnow()
                )

            self.pipeline.submit(open_window)
            self.header = header
            waiting, self.waiting = self.waiting, []
            for conversation in waiting:
                self.add(conversation)
        elif header != self.header:
            window = self.window
            self.pipeline.submit(
                lambda c: ingest.update_window_header(c, window.id_, header, now=utcnow())
            )
            self.header = header

    def add(self, document: Any) -> None:
        if self.failed:
            return
        if self.window is None:
            self.waiting.append(document)
            return
        position, self.position = self.position, self.position + 1
        try:
            conversation = shapes.parse_conversation(document)
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
        self.pipeline.submit(
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
        self.pipeline.submit(lambda c: ingest.close_window(c, window.id_))

    def _fail(self, message: str) -> None:
        """A bad window stores nothing, as inline: undo what was written before we knew."""
        self.result.fail(message)
        self.failed = True
        self.waiting, self.pending = [], []
        if self.window is not None:
            window, self.window = self.window, None
            self.pipeline.run(lambda c: ingest.drop_window(c, window.id_))
        self.result.records -= self.written  # every chunk has settled: run() drained them
