"""The changes a person makes to leads, as writer jobs (``db.writer.run``): one lead's status or
note, the inbox's bulk actions over a selection or over everything a filter matches, and
"seen". Each is safe to run twice (the writer reruns a failed group job by job).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, insert, select, update
from sqlmodel import col

from app.models import Lead, Note, utcnow
from app.web.queries.lead_filter import LeadFilter
from app.web.queries.leads import matching_ids

SEEN = "seen"  # the bulk action that only marks leads seen


def _status_values(status: str) -> dict[str, Any]:
    values: dict[str, Any] = {
        "status": status,
        "seen_at": func.coalesce(col(Lead.seen_at), utcnow()),
    }
    if status in ("contacted", "done"):  # the first time only: Insights' time to contact
        values["contacted_at"] = func.coalesce(col(Lead.contacted_at), utcnow())
    return values


def set_status(connection: Connection, lead_id: int, status: str) -> bool:
    """False when there is no such lead."""
    statement = update(Lead).where(col(Lead.id) == lead_id).values(**_status_values(status))
    return bool(connection.execute(statement).rowcount)


def add_note(connection: Connection, lead_id: int, body: str) -> bool:
    """False when there is no such lead."""
    if connection.execute(select(col(Lead.id)).where(col(Lead.id) == lead_id)).first() is None:
        return False
    connection.execute(insert(Note).values(lead_id=lead_id, created_at=utcnow(), body=body))
    return True


def mark_seen(connection: Connection, lead_id: int) -> None:
    """Opening a lead is seeing it: it leaves the badge (its status stays what it was)."""
    connection.execute(
        update(Lead)
        .where(col(Lead.id) == lead_id, col(Lead.seen_at).is_(None))
        .values(seen_at=utcnow())
    )


def apply(
    connection: Connection,
    action: str,
    chosen: ColumnElement[bool],
) -> int:
    """``action`` (a status, or ``SEEN``) on the leads ``chosen`` names; how many it named."""
    if action == SEEN:
        values: dict[str, Any] = {"seen_at": func.coalesce(col(Lead.seen_at), utcnow())}
    else:
        values = _status_values(action)
    return int(connection.execute(update(Lead).where(chosen).values(**values)).rowcount)


def selected(ids: list[int]) -> ColumnElement[bool]:
    return col(Lead.id).in_(ids)


def everything_matching(
    connection: Connection, where: LeadFilter, tz: ZoneInfo
) -> ColumnElement[bool]:
    """Every lead the filter matches, on every page: the filter runs again inside the job, so
    "all 306 matching" needs no list of ids from the browser."""
    return col(Lead.id).in_(matching_ids(connection, where, tz).scalar_subquery())


def every_unseen() -> ColumnElement[bool]:
    """What "Mark all seen" clears: every lead the badge counts, whatever the filter shows."""
    return col(Lead.seen_at).is_(None)
