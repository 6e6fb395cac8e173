"""Leads, appointments and chatbots to rows: each store step idempotent, so replays add nothing.

The shapes and their checks are in ``app.shapes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, select
from sqlmodel import col

from app.forward.outbox import enqueue_lead as enqueue_forward
from app.models import Chatbot, Lead
from app.notify.outbox import enqueue_lead
from app.shapes import LEAD_FIELDS
from app.statements import Prepared, upsert_insert

# The hot path's statements: built once, run through the DBAPI cursor (see app.statements).

LEAD_COLUMNS = (
    *LEAD_FIELDS.values(),
    *("created_at", "extra", "received_at", "delivery_id", "status"),
)
_LEAD_INSERT = Prepared(
    lambda dialect: upsert_insert(dialect, Lead).on_conflict_do_nothing().returning(Lead.id),
    keys=LEAD_COLUMNS,
)
_LEAD_LOOKUP = Prepared(
    select(col(Lead.id)).where(
        col(Lead.serial_number) == bindparam("serial_number"),
        col(Lead.type) == bindparam("type"),
        col(Lead.session_id) == bindparam("session_id"),
        col(Lead.create_time_raw) == bindparam("create_time_raw"),
    )
)


def _chatbot_upsert(dialect: str) -> Any:
    statement = upsert_insert(dialect, Chatbot)
    named = statement.excluded.name
    return statement.on_conflict_do_update(
        index_elements=["serial_number"],
        set_={
            "last_seen_at": statement.excluded.last_seen_at,
            # A lead does not name its chatbot: keep the name a chat log gave.
            "name": case((named != "", named), else_=Chatbot.name),
        },
    )


_CHATBOT_UPSERT = Prepared(
    _chatbot_upsert, keys=("serial_number", "name", "first_seen_at", "last_seen_at")
)


@dataclass
class LeadOutcome:
    lead_id: int
    created: bool


def store_lead(
    connection: Connection, values: Mapping[str, Any], *, delivery_id: int | None, now: datetime
) -> LeadOutcome:
    """Insert unless (SerialNumber, Type, SessionID, CreateTime) is already stored."""
    touch_chatbot(connection, values["serial_number"], None, now)
    row = {**values, "received_at": now, "delivery_id": delivery_id, "status": "new"}
    new_id = _LEAD_INSERT.scalar(connection, row)
    if new_id is not None:
        # Same transaction as the lead: a crash cannot store it without its notifications.
        enqueue_lead(connection, new_id, values["type"], now)
        enqueue_forward(connection, new_id, values["type"], now)
        return LeadOutcome(new_id, created=True)
    existing = _LEAD_LOOKUP.scalar(connection, values)
    return LeadOutcome(existing, created=False)


def touch_chatbot(connection: Connection, serial: str, name: str | None, now: datetime) -> None:
    """Remember a chatbot; a chat log names it, a lead only gives its serial number."""
    _CHATBOT_UPSERT.execute(
        connection,
        {"serial_number": serial, "name": name or "", "first_seen_at": now, "last_seen_at": now},
    )
