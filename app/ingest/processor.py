"""Stored raw deliveries to records, in the background: the daily chat-log push and anything
else left ``pending``.

Large bodies are committed raw first, answered, then streamed (ijson) into records in chunks;
a delivery still ``pending`` after a restart is simply processed again, and since every store
step is idempotent (a window's conversations are replaced by SessionID, leads are deduplicated)
that is safe.
"""

from __future__ import annotations

import codecs
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator
from typing import IO, Any

import ijson
from sqlalchemy import Connection, select, update
from sqlmodel import col

from app.db import Database
from app.ingest.blob import open_stored_body
from app.ingest.chatlog import write_chatlog
from app.ingest.documents import apply_document, finish, parse_body
from app.ingest.pipeline import WritePipeline
from app.ingest.result import Result
from app.ingest.stream import NotAChatLog, stream_chatlog
from app.models import Delivery, Outcome, ProcessStatus, utcnow

log = logging.getLogger(__name__)


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
                select(col(Delivery.id))
                .where(
                    col(Delivery.outcome) == Outcome.ACCEPTED,
                    col(Delivery.process_status) == ProcessStatus.PENDING,
                )
                .order_by(col(Delivery.id))
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
            col(Delivery.id) == delivery_id,
            col(Delivery.process_status).is_distinct_from(ProcessStatus.PENDING),
        )
        .values(process_status=ProcessStatus.PENDING)
    )


def _process_streaming(
    db: Database, delivery_id: int, stream: IO[bytes], stop: threading.Event | None
) -> Result:
    """A chat log in chunks, each written while the next is parsed; bounded memory."""
    result = Result(kind="chatlog")
    pipeline = WritePipeline(db)
    write_chatlog(
        _until(stop, _broken_off(stream_chatlog(stream))),
        pipeline,
        result,
        delivery_id=delivery_id,
        now=utcnow,
    )
    pipeline.drain()
    return result


def _broken_off(events: Iterator[tuple[str, Any]]) -> Iterator[tuple[str, Any]]:
    """The events, then ("broken", why) if the body turns out not to be JSON part-way, so that
    the writer settles the window it was writing (see ``write_chatlog``)."""
    try:
        yield from events
    except ijson.JSONError as exc:
        yield "broken", f"invalid JSON: {exc}"


def _until(
    stop: threading.Event | None, events: Iterable[tuple[str, Any]]
) -> Iterator[tuple[str, Any]]:
    """The events, until ``stop`` is set (checked before each)."""
    for event in events:
        if stop is not None and stop.is_set():
            return
        yield event
