"""Storing parsed vendor records: leads/appointments, chatbots, chat-log windows.

The shapes and their checks are in ``app.vendor``. Every store function is idempotent, so
replays and reprocessing add nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, func, insert, select, update

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message
from app.notify.outbox import enqueue_lead
from app.shapes import LEAD_FIELDS, ParsedConversation, WindowHeader, parse_time
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
    select(Lead.id).where(
        Lead.serial_number == bindparam("serial_number"),
        Lead.type == bindparam("type"),
        Lead.session_id == bindparam("session_id"),
        Lead.create_time_raw == bindparam("create_time_raw"),
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


# ---- leads and appointments -------------------------------------------------------------


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
        return LeadOutcome(new_id, created=True)
    existing = _LEAD_LOOKUP.scalar(connection, values)
    return LeadOutcome(existing, created=False)


def touch_chatbot(connection: Connection, serial: str, name: str | None, now: datetime) -> None:
    """Remember a chatbot; a chat log names it, a lead only gives its serial number."""
    _CHATBOT_UPSERT.execute(
        connection,
        {"serial_number": serial, "name": name or "", "first_seen_at": now, "last_seen_at": now},
    )


# ---- chat logs --------------------------------------------------------------------------


def open_window(
    connection: Connection, header: WindowHeader, *, delivery_id: int | None, now: datetime
) -> int:
    """Start (or restart) a chat-log window: a redelivered window replaces the old one."""
    touch_chatbot(connection, header.serial_number, header.name, now)
    connection.execute(
        delete(ChatWindow).where(
            ChatWindow.serial_number == header.serial_number,
            ChatWindow.start_time_raw == header.start_time_raw,
            ChatWindow.end_time_raw == header.end_time_raw,
        )
    )
    values = {
        "serial_number": header.serial_number,
        "name": header.name,
        "start_time_raw": header.start_time_raw,
        "end_time_raw": header.end_time_raw,
        "start_time": parse_time(header.start_time_raw),
        "end_time": parse_time(header.end_time_raw),
        "extra": header.extra,
        "received_at": now,
        "delivery_id": delivery_id,
        "complete": False,
    }
    return connection.execute(insert(ChatWindow).values(**values)).inserted_primary_key[0]


def update_window_header(
    connection: Connection, window_id: int, header: WindowHeader, *, now: datetime
) -> None:
    """Fields of a streamed window that came after its conversations (its Name, extras)."""
    touch_chatbot(connection, header.serial_number, header.name, now)
    connection.execute(
        update(ChatWindow)
        .where(ChatWindow.id == window_id)
        .values(name=header.name, extra=header.extra)
    )


def drop_window(connection: Connection, window_id: int) -> None:
    """Conversations and messages go with it (ON DELETE CASCADE), and out of the FTS index."""
    connection.execute(delete(ChatWindow).where(ChatWindow.id == window_id))


def add_conversations(
    connection: Connection, window_id: int, serial: str, conversations: list[ParsedConversation]
) -> int:
    """Insert conversations and their messages; returns the number of messages."""
    count = 0
    for conversation in conversations:
        conversation_id = connection.execute(
            insert(Conversation).values(
                window_id=window_id,
                serial_number=serial,
                message_count=len(conversation.messages),
                **conversation.values,
            )
        ).inserted_primary_key[0]
        if conversation.messages:
            connection.execute(
                insert(Message),
                [{"conversation_id": conversation_id, **m} for m in conversation.messages],
            )
        count += len(conversation.messages)
    return count


def close_window(connection: Connection, window_id: int) -> None:
    totals = select(func.count(), func.coalesce(func.sum(Conversation.message_count), 0)).where(
        Conversation.window_id == window_id
    )
    conversations, messages = connection.execute(totals).one()
    connection.execute(
        update(ChatWindow)
        .where(ChatWindow.id == window_id)
        .values(conversation_count=conversations, message_count=messages, complete=True)
    )
