"""What the first-run path reads: the newest delivery after the one a page last saw, and
whether a verified delivery has arrived at all (the "webhook" step is done)."""

from __future__ import annotations

from sqlalchemy import Connection, exists, select
from sqlmodel import col

from app.models import Delivery, Lead, Outcome
from app.web.paging import AnyRow

VERIFIED = (Outcome.ACCEPTED, Outcome.DUPLICATE)


def newest_after(connection: Connection, since: int) -> AnyRow | None:
    """The newest delivery after ``since``, with the record it made (if any yet)."""
    record = (
        select(col(Lead.id))
        .where(col(Lead.delivery_id) == col(Delivery.id))
        .order_by(col(Lead.id))
        .limit(1)
        .scalar_subquery()
    )
    return connection.execute(
        select(
            col(Delivery.id),
            col(Delivery.received_at),
            col(Delivery.outcome),
            col(Delivery.status_code),
            col(Delivery.reason),
            col(Delivery.kind),
            record.label("lead_id"),
        )
        .where(col(Delivery.id) > since)
        .order_by(col(Delivery.id).desc())
        .limit(1)
    ).first()


def verified_seen(connection: Connection) -> bool:
    """Has any delivery been verified (whatever its kind)?"""
    found = select(exists().where(col(Delivery.outcome).in_(VERIFIED)))
    return bool(connection.execute(found).scalar())
