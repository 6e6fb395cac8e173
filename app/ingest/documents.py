"""A body parsed whole to records, inside one writer transaction: small bodies as they are
stored, and large ones that are not chat logs. Large chat logs are streamed (``processor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, update
from sqlmodel import col

from app import shapes
from app.ingest.chatlog import document_events, write_chatlog
from app.ingest.pipeline import InTransaction
from app.ingest.records import store_lead
from app.ingest.result import Result
from app.models import Delivery

INLINE_MAX_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class Parsed:
    """A small body read as JSON, before anything is written."""

    document: Any = None
    error: str | None = None  # why it is not JSON we can read


def parse_body(body: bytes | bytearray) -> Parsed:
    try:
        return Parsed(shapes.parse_json(body))
    except shapes.IngestError as exc:
        return Parsed(error=str(exc))


def apply_document(
    connection: Connection, document: Any, *, delivery_id: int | None, now: datetime
) -> Result:
    """Store every record a parsed body holds. Runs inside one writer transaction."""
    result = Result(kind=shapes.kind_of(document))
    if result.kind == "chatlog":
        write_chatlog(
            document_events(document),
            InTransaction(connection),
            result,
            delivery_id=delivery_id,
            now=lambda: now,
        )
    elif result.kind == "unknown":
        result.fail("not a lead, appointment or chat log: expected a JSON object with Type")
    else:
        try:
            store_lead(connection, shapes.lead_values(document), delivery_id=delivery_id, now=now)
            result.records = 1
        except shapes.IngestError as exc:
            result.fail(str(exc))
    return result


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
    .where(col(Delivery.id) == bindparam("delivery_id"))
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
    ``processor._mark_pending``)."""
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
