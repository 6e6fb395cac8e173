"""What is POSTed: the vendor's record as received, with nothing invented.

A lead or appointment arrives as one JSON object per delivery, so its body is that delivery's
stored bytes, exactly (a UTF-8 byte-order mark dropped: JSON receivers may refuse one). Should
the delivery be gone, the object is rebuilt from the stored columns and ``extra`` (every field
the vendor sent is kept there). A chat log arrives as one push holding a window per chatbot;
each window is forwarded on its own, rebuilt the same way from its stored rows (the push may be
100 MB; one chatbot's day is what a receiver can take, and it is the vendor's own object).
"""

from __future__ import annotations

import codecs
import json
from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from app.models import STORED_BODY, ChatWindow, Conversation, Delivery, Lead, Message
from app.shapes import LEAD_FIELDS


class RecordGone(LookupError):
    """The record was deleted meanwhile (its outbox row goes with it by cascade)."""


def _dumps(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def lead_body(connection: Connection, lead_id: int) -> bytes:
    lead = connection.execute(select(Lead).where(col(Lead.id) == lead_id)).first()
    if lead is None:
        raise RecordGone(f"lead {lead_id} is gone")
    if lead.delivery_id is not None:
        body = connection.execute(
            select(STORED_BODY).where(col(Delivery.id) == lead.delivery_id)
        ).scalar()
        if body:
            return bytes(body).removeprefix(codecs.BOM_UTF8)
    document = {field: getattr(lead, column) for field, column in LEAD_FIELDS.items()}
    return _dumps({**document, **(lead.extra or {})})


def window_body(connection: Connection, serial: str, start_raw: str, end_raw: str) -> bytes:
    window = connection.execute(
        select(ChatWindow).where(
            col(ChatWindow.serial_number) == serial,
            col(ChatWindow.start_time_raw) == start_raw,
            col(ChatWindow.end_time_raw) == end_raw,
        )
    ).first()
    if window is None:
        raise RecordGone(f"chat-log window {serial} {start_raw} is gone")
    conversations = connection.execute(
        select(Conversation)
        .where(col(Conversation.window_id) == window.id)
        .order_by(col(Conversation.id))
    ).all()
    messages: dict[int, list[dict[str, Any]]] = {c.id: [] for c in conversations}
    rows = connection.execute(
        select(Message)
        .join(Conversation, col(Conversation.id) == col(Message.conversation_id))
        .where(col(Conversation.window_id) == window.id)
        .order_by(col(Message.conversation_id), col(Message.position))
    )
    for message in rows:
        messages[message.conversation_id].append(
            {"Type": message.type, "Content": message.content, **(message.extra or {})}
        )
    document = {
        "SerialNumber": window.serial_number,
        "Name": window.name,
        "StartTime": window.start_time_raw,
        "EndTime": window.end_time_raw,
        **(window.extra or {}),
        "Conversations": [
            {
                "SessionID": conversation.session_id,
                "CreateTime": conversation.create_time_raw,
                "URI": conversation.uri,
                **(conversation.extra or {}),
                "Messages": messages[conversation.id],
            }
            for conversation in conversations
        ],
    }
    return _dumps(document)
