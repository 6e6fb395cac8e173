"""From stored raw deliveries to records, inline for small bodies, in the background for large.

Small bodies are parsed inside the same transaction that stores them. Large ones (the daily
chat-log push) are committed raw first, answered, then streamed (ijson) into records in chunks by
``Processor``; a delivery still ``pending`` after a restart is simply processed again, and since
every store step is idempotent (windows replace themselves, leads are deduplicated) that is safe.
"""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ijson
from ijson.common import ObjectBuilder
from sqlalchemy import Connection, select, update

from app import ingest
from app.db import Database
from app.ingest import IngestError, ParsedConversation, WindowHeader
from app.models import Delivery, Outcome, ProcessStatus, utcnow

log = logging.getLogger(__name__)

INLINE_MAX_BYTES = 2 * 1024 * 1024
CHUNK_MESSAGES = 5000
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
    result = Result(kind=ingest.kind_of(document))
    if result.kind == "chatlog":
        _apply_chatlog(connection, document, delivery_id=delivery_id, now=now, result=result)
    elif result.kind == "unknown":
        result.fail("not a lead, appointment or chat log: expected a JSON object with Type")
    else:
        try:
            ingest.store_lead(
                connection, ingest.lead_values(document), delivery_id=delivery_id, now=now
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
            if not isinstance(window, dict):
                raise IngestError("expected an object")
            header = WindowHeader.parse(window)
            conversations = window.get("Conversations") or []
            if not isinstance(conversations, list):
                raise IngestError("Conversations: expected an array")
        except IngestError as exc:
            result.fail(f"Collection[{index}]: {exc}")
            continue
        window_id = ingest.open_window(connection, header, delivery_id=delivery_id, now=now)
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
            yield ingest.parse_conversation(conversation)
        except IngestError as exc:
            result.fail(f"Collection[{window_index}].Conversations[{position}]: {exc}")


def process_inline(
    connection: Connection, delivery_id: int, body: bytes, *, now: datetime
) -> Result:
    """Parse a small body in the storing transaction; a failure leaves the raw row flagged."""
    try:
        document = ingest.parse_json(body)
    except IngestError as exc:
        result = Result()
        result.fail(str(exc))
    else:
        with connection.begin_nested() as savepoint:
            result = apply_document(connection, document, delivery_id=delivery_id, now=now)
            if result.kind == "unknown":
                savepoint.rollback()
    finish(connection, delivery_id, result, now=now)
    return result


def finish(connection: Connection, delivery_id: int, result: Result, *, now: datetime) -> None:
    connection.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(
            kind=result.kind,
            process_status=result.status,
            process_error="\n".join(result.errors) or None,
            processed_at=now,
            record_count=result.records,
        )
    )


# ---- large bodies, streamed -------------------------------------------------------------

WINDOW = "Collection.item"
CONVERSATION = "Collection.item.Conversations.item"
REQUIRED_WINDOW_KEYS = {"SerialNumber", "StartTime", "EndTime"}


def stream_chatlog(stream: io.BufferedIOBase) -> Iterator[tuple[str, Any]]:
    """Yield ("window", header dict), ("conversation", dict), ("end", None) per window.

    Only one conversation is ever held in memory, so a 100 MB push parses in bounded memory.
    Window fields are yielded as soon as they are known; conversations seen before them are
    held back until then (the vendor sends them first, so in practice nothing waits).
    """
    header: dict[str, Any] = {}
    builder: ObjectBuilder | None = None
    building_key: str | None = None
    depth = 0
    for prefix, event, value in ijson.parse(stream, use_float=True):
        if builder is not None:
            builder.event(event, value)
            depth += event in ("start_map", "start_array")
            depth -= event in ("end_map", "end_array")
            if depth == 0:
                if building_key is None:
                    yield "conversation", builder.value
                else:
                    header[building_key] = builder.value
                builder = None
            continue
        if prefix == CONVERSATION and event == "start_map":
            builder, building_key, depth = ObjectBuilder(), None, 1
            builder.event(event, value)
        elif prefix == WINDOW and event == "start_map":
            header = {}
        elif prefix == WINDOW and event == "end_map":
            yield "window", header
            yield "end", None
        elif prefix.startswith(WINDOW + ".") and prefix.count(".") == 2 and event != "map_key":
            key = prefix.rsplit(".", 1)[1]
            if key == "Conversations":
                if event == "start_array" and header.keys() >= REQUIRED_WINDOW_KEYS:
                    yield "window", header
                continue
            if event in ("start_map", "start_array"):
                builder, building_key, depth = ObjectBuilder(), key, 1
                builder.event(event, value)
            else:
                header[key] = value


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
    db.writer.run_sync(lambda c: _mark_started(c, delivery_id, started))
    with db.read() as connection:
        body = connection.execute(select(Delivery.body).where(Delivery.id == delivery_id)).scalar()
    body = body or b""
    if b'"Collection"' in body[:4096]:
        result = _process_streaming(db, delivery_id, body, stop)
    else:
        try:
            document = ingest.parse_json(body)
        except IngestError as exc:
            result = Result()
            result.fail(str(exc))
        else:
            result = db.writer.run_sync(
                lambda c: apply_document(c, document, delivery_id=delivery_id, now=utcnow())
            )
    if stop is not None and stop.is_set():
        return result  # interrupted: stays pending, resumes after the restart
    db.writer.run_sync(lambda c: finish(c, delivery_id, result, now=utcnow()))
    return result


def _mark_started(connection: Connection, delivery_id: int, now: datetime) -> None:
    connection.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id)
        .values(processing_started_at=now, process_status=ProcessStatus.PENDING)
    )


def _process_streaming(
    db: Database, delivery_id: int, body: bytes, stop: threading.Event | None
) -> Result:
    result = Result(kind="chatlog")
    window: _WindowWriter | None = None
    window_index = -1
    try:
        for event, value in stream_chatlog(io.BytesIO(body)):
            if stop is not None and stop.is_set():
                return result
            if window is None and event in ("window", "conversation"):
                window_index += 1
                window = _WindowWriter(db, delivery_id, window_index, result)
            if event == "window" and window is not None and window.unopened:
                window.open(value)
            elif event == "conversation" and window is not None:
                window.add(value)
            elif event == "end" and window is not None:
                window.close()
                window = None
    except ijson.JSONError as exc:
        result.fail(f"invalid JSON: {exc}")
    except IngestError as exc:
        result.fail(str(exc))
    return result


class _WindowWriter:
    """Writes one streamed window in chunks, each its own short writer transaction."""

    def __init__(self, db: Database, delivery_id: int, index: int, result: Result) -> None:
        self.db, self.delivery_id, self.index, self.result = db, delivery_id, index, result
        self.window_id: int | None = None
        self.serial = ""
        self.pending: list[ParsedConversation] = []
        self.pending_messages = 0
        self.failed = False

    @property
    def unopened(self) -> bool:
        return self.window_id is None and not self.failed

    def open(self, header_document: dict[str, Any]) -> None:
        try:
            header = WindowHeader.parse(header_document)
        except IngestError as exc:
            self.result.fail(f"Collection[{self.index}]: {exc}")
            self.failed = True
            return
        self.serial = header.serial_number
        self.window_id = self.db.writer.run_sync(
            lambda c: ingest.open_window(c, header, delivery_id=self.delivery_id, now=utcnow())
        )

    def add(self, document: Any) -> None:
        if self.failed:
            return
        try:
            conversation = ingest.parse_conversation(document)
        except IngestError as exc:
            self.result.fail(f"Collection[{self.index}]: {exc}")
            return
        self.pending.append(conversation)
        self.pending_messages += len(conversation.messages)
        if self.window_id is not None and self.pending_messages >= CHUNK_MESSAGES:
            self.flush()

    def flush(self) -> None:
        if not self.pending or self.window_id is None:
            return
        window_id, serial, chunk = self.window_id, self.serial, self.pending
        self.pending, self.pending_messages = [], 0
        self.result.records += self.db.writer.run_sync(
            lambda c: ingest.add_conversations(c, window_id, serial, chunk)
        )

    def close(self) -> None:
        if self.failed or self.window_id is None:
            return
        self.flush()
        window_id = self.window_id
        self.db.writer.run_sync(lambda c: ingest.close_window(c, window_id))
