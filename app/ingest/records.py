"""Leads, appointments and chatbots to rows: each store step idempotent, so replays add nothing.

The shapes and their checks are in ``app.shapes``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, select
from sqlmodel import col

from app.forward.outbox import enqueue_lead as enqueue_forward
from app.forward.outbox import enqueue_leads as enqueue_forwards
from app.models import Chatbot, Lead
from app.notify.outbox import enqueue_lead, enqueue_leads
from app.shapes import LEAD_FIELDS
from app.statements import Prepared, allocate_ids, upsert_insert

# The hot path's statements: built once, run through the DBAPI cursor (see app.statements).

LEAD_COLUMNS = (
    *LEAD_FIELDS.values(),
    *("created_at", "extra", "received_at", "delivery_id", "status"),
)
_LEAD_INSERT = Prepared(
    lambda dialect: upsert_insert(dialect, Lead).on_conflict_do_nothing().returning(Lead.id),
    keys=LEAD_COLUMNS,
)
# For a group: ids given (``allocate_ids``), since ``executemany`` returns no rows.
_LEAD_INSERT_MANY = Prepared(
    lambda dialect: upsert_insert(dialect, Lead).on_conflict_do_nothing(),
    keys=("id", *LEAD_COLUMNS),
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


_CREATED = Prepared(
    select(col(Lead.id)).where(col(Lead.id).between(bindparam("low"), bindparam("high")))
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


def store_leads(
    connection: Connection, leads: Sequence[tuple[Mapping[str, Any], int]], *, now: datetime
) -> list[LeadOutcome]:
    """``store_lead`` for a group of (values, delivery id): one statement per table for the
    lot, where a lead at a time took five. Same rows, same outcomes, in the same order."""
    for serial in dict.fromkeys(values["serial_number"] for values, _ in leads):
        touch_chatbot(connection, serial, None, now)
    ids = allocate_ids(connection, "lead", len(leads))
    _LEAD_INSERT_MANY.execute_many(
        connection,
        (
            {**values, "id": lead_id, "received_at": now, "delivery_id": delivery_id}
            | {"status": "new"}
            for lead_id, (values, delivery_id) in zip(ids, leads, strict=True)
        ),
    )
    # A lead already stored (or twice in this group) was skipped, so its id was not used.
    created = set(_CREATED.execute(connection, {"low": ids[0], "high": ids[-1]}).fetchall())
    outcomes = []
    for lead_id, (values, _) in zip(ids, leads, strict=True):
        if (lead_id,) in created:
            outcomes.append(LeadOutcome(lead_id, created=True))
        else:
            outcomes.append(LeadOutcome(_LEAD_LOOKUP.scalar(connection, values), created=False))
    # Same transaction as the leads: a crash cannot store them without their notifications.
    new = [
        (id_, values["type"])
        for id_, (values, _) in zip(ids, leads, strict=True)
        if (id_,) in created
    ]
    enqueue_leads(connection, new, now)
    enqueue_forwards(connection, new, now)
    return outcomes


def touch_chatbot(connection: Connection, serial: str, name: str | None, now: datetime) -> None:
    """Remember a chatbot; a chat log names it, a lead only gives its serial number."""
    _CHATBOT_UPSERT.execute(
        connection,
        {"serial_number": serial, "name": name or "", "first_seen_at": now, "last_seen_at": now},
    )
