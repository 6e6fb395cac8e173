"""Reading what the Status page shows: the last delivery, a week's counts, the allowlist's
misses, the processing backlog, when the calendar link was made.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, func, select
from sqlmodel import col

from app.models import Delivery, Lead, Outcome, ProcessStatus, utcnow
from app.web import store
from app.web.paging import AnySelect

ALLOWLIST_REASON = "not in WEBHOOK_ALLOWED_IPS"
STATS_DAYS = 7


def _count(connection: Connection, statement: AnySelect) -> int:
    return int(connection.execute(statement).scalar() or 0)


def stats(connection: Connection) -> dict[str, Any]:
    since = utcnow() - timedelta(days=STATS_DAYS)
    refused_by_allowlist = col(Delivery.reason).contains(ALLOWLIST_REASON)
    last = connection.execute(
        select(
            col(Delivery.id),
            col(Delivery.received_at),
            col(Delivery.client_ip),
            col(Delivery.outcome),
            col(Delivery.status_code),
            col(Delivery.reason),
            col(Delivery.kind),
            col(Delivery.process_status),
        )
        .order_by(col(Delivery.id).desc())
        .limit(1)
    ).first()
    recent = select(func.count()).where(col(Delivery.received_at) >= since)
    last_miss = connection.execute(
        select(col(Delivery.client_ip), col(Delivery.received_at))
        .where(refused_by_allowlist)
        .order_by(col(Delivery.id).desc())
        .limit(1)
    ).first()
    counted, processing = select(func.count()), col(Delivery.process_status)
    return {
        "last": last,
        "last_accepted": connection.execute(
            select(func.max(col(Delivery.received_at))).where(
                col(Delivery.outcome) == Outcome.ACCEPTED
            )
        ).scalar(),
        "recent_total": _count(connection, recent),
        "allow_misses": _count(connection, recent.where(refused_by_allowlist)),
        "last_miss": last_miss,
        "pending": _count(connection, counted.where(processing == ProcessStatus.PENDING)),
        "failed": _count(connection, counted.where(processing == ProcessStatus.FAILED)),
        "quarantined": _count(
            connection, counted.where(col(Delivery.outcome) == Outcome.QUARANTINED)
        ),
        "calendar_created": store.get(connection, store.CALENDAR_TOKEN_CREATED),
    }


def lead_of_session(connection: Connection, session_id: int) -> int | None:
    """The lead from this chat session: the Status page's test lead, just sent."""
    found = connection.execute(select(col(Lead.id)).where(col(Lead.session_id) == session_id))
    return found.scalar()
