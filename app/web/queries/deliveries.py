"""Reading the webhook log: a filtered page of attempts, one delivery with the start of its body
and what it became, and its stored bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, func, inspect, select
from sqlmodel import col

from app.models import STORED_BODY, ChatWindow, Delivery, Lead, Outcome, ProcessStatus
from app.web.paging import AnyRow, Page, by_id, read_page

PER_PAGE = 50
RECORDS_SHOWN = 50

VIEWS: dict[str, ColumnElement[bool] | None] = {
    "all": None,
    "accepted": col(Delivery.outcome).in_((Outcome.ACCEPTED, Outcome.DUPLICATE)),
    "refused": col(Delivery.outcome).in_((Outcome.REJECTED, Outcome.QUARANTINED)),
    "quarantine": col(Delivery.outcome) == Outcome.QUARANTINED,
    "failed": col(Delivery.process_status) == ProcessStatus.FAILED,
}
LIST_COLUMNS = (
    col(Delivery.id),
    col(Delivery.received_at),
    col(Delivery.client_ip),
    col(Delivery.outcome),
    col(Delivery.status_code),
    col(Delivery.reason),
    col(Delivery.kind),
    col(Delivery.signed_form),
    col(Delivery.key_number),
    col(Delivery.body_size),
    col(Delivery.process_status),
    col(Delivery.process_error),
    col(Delivery.record_count),
    col(Delivery.duplicate_of),
)
# Every column but the body, which may be megabytes.
DETAIL_COLUMNS = [c for c in inspect(Delivery).local_table.columns if c.name != "body"]


def listing(connection: Connection, view: str, before: int | None) -> Page[int]:
    """Newest first, in one of ``VIEWS``, starting below id ``before``."""
    statement = select(*LIST_COLUMNS)
    condition = VIEWS[view]
    if condition is not None:
        statement = statement.where(condition)
    if before is not None:
        statement = statement.where(col(Delivery.id) < before)
    return read_page(connection, statement.order_by(col(Delivery.id).desc()), PER_PAGE, by_id)


def quarantined(connection: Connection) -> int:
    statement = select(func.count()).where(col(Delivery.outcome) == Outcome.QUARANTINED)
    return int(connection.execute(statement).scalar() or 0)


@dataclass
class DeliveryDetail:
    row: AnyRow
    shown: bytes | None  # the body's first ``shown_bytes + 1`` bytes; None if none is stored
    leads: list[AnyRow]  # what it became (from the delivery it duplicates, if any)
    windows: list[AnyRow]


def detail(connection: Connection, delivery_id: int, shown_bytes: int) -> DeliveryDetail | None:
    row = connection.execute(select(*DETAIL_COLUMNS).where(col(Delivery.id) == delivery_id)).first()
    if row is None:
        return None
    source = row.duplicate_of or row.id
    shown = connection.execute(
        select(func.substr(STORED_BODY, 1, shown_bytes + 1)).where(col(Delivery.id) == source)
    ).scalar()
    leads = connection.execute(
        select(col(Lead.id), col(Lead.type), col(Lead.first_name), col(Lead.last_name))
        .where(col(Lead.delivery_id) == source)
        .limit(RECORDS_SHOWN)
    ).all()
    windows = connection.execute(
        select(
            col(ChatWindow.id),
            col(ChatWindow.name),
            col(ChatWindow.start_time),
            col(ChatWindow.message_count),
        )
        .where(col(ChatWindow.delivery_id) == source)
        .limit(RECORDS_SHOWN)
    ).all()
    return DeliveryDetail(row, None if shown is None else bytes(shown), list(leads), list(windows))


def stored_body(connection: Connection, delivery_id: int) -> bytes | None:
    """The bytes as stored; a duplicate's are its original's."""
    stored = select(STORED_BODY.label("body"), col(Delivery.duplicate_of))
    row = connection.execute(stored.where(col(Delivery.id) == delivery_id)).first()
    if row is not None and row.body is None and row.duplicate_of:
        row = connection.execute(stored.where(col(Delivery.id) == row.duplicate_of)).first()
    return None if row is None or row.body is None else bytes(row.body)
