"""The receiver's tables: deliveries and their bodies, chatbots, leads, notes, chat logs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlmodel import Field, SQLModel, col

from app.models.types import UTCDateTime


class Outcome:
    ACCEPTED = "accepted"  # verified and stored
    DUPLICATE = "duplicate"  # verified, body identical to one already stored
    QUARANTINED = "quarantined"  # unsigned or unverifiable, kept for an admin to judge
    REJECTED = "rejected"  # refused and logged, body capped


class ProcessStatus:
    PENDING = "pending"
    PROCESSED = "processed"
    FAILED = "failed"


LEAD_STATUSES = ("new", "contacted", "done", "archived")


class Delivery(SQLModel, table=True):
    """One POST to /webhook, whatever became of it."""

    # Both columns of the duplicate check: with body_sha256 alone, SQLite may prefer the
    # outcome index and scan every accepted delivery on each request.
    __table_args__ = (
        Index("ix_delivery_sha256_outcome", "body_sha256", "outcome"),
        # A Sign Key's "last matched" (migration keys_0001).
        Index("ix_delivery_key_fingerprint", "key_fingerprint", "received_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(sa_type=UTCDateTime, index=True)
    client_ip: str
    outcome: str = Field(index=True)
    status_code: int
    reason: str | None = None
    kind: str | None = None  # lead, appointment, chatlog, other, unknown
    key_number: int | None = None  # 1-based position in WEBHOOK_SIGNING_KEY
    key_fingerprint: str | None = None  # first 8 hex of sha256(key): tells keys apart, reveals none
    signed_form: str | None = None  # raw, json-stringify, unsigned-allowed-ip, quarantine-accepted
    signature_timestamp: int | None = Field(default=None, sa_type=BigInteger)
    content_type: str | None = None
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    body_size: int = 0
    body_sha256: str
    body_truncated: bool = False
    duplicate_of: int | None = None
    process_status: str | None = Field(default=None, index=True)
    process_error: str | None = Field(default=None, sa_type=Text)
    committed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    processing_started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    record_count: int = 0
    # The X-Webhook-Signature header(s) of a quarantined attempt, one a line, so a Sign Key added
    # later can verify it (migration keys_0001, ``app.recheck``).
    signature_headers: str | None = Field(default=None, sa_type=Text)
    # How it left the quarantine: "manually" or "Sign Key “label”" (None: never quarantined).
    accepted_by: str | None = Field(default=None, sa_type=Text)


class DeliveryBody(SQLModel, table=True):
    """A large accepted body, kept apart so that updating its delivery never rewrites it."""

    __tablename__ = "delivery_body"

    delivery_id: int = Field(primary_key=True, foreign_key="delivery.id", ondelete="CASCADE")
    body: bytes = Field(sa_type=LargeBinary)


# A delivery's stored body, wherever it was put (large accepted ones: ``delivery_body``).
STORED_BODY = func.coalesce(
    col(Delivery.body),
    select(col(DeliveryBody.body))
    .where(col(DeliveryBody.delivery_id) == col(Delivery.id))
    .scalar_subquery(),
)


class Chatbot(SQLModel, table=True):
    serial_number: str = Field(primary_key=True)
    name: str = ""
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)


class Lead(SQLModel, table=True):
    """A lead, an appointment, or any other ``Type`` the vendor may add."""

    __table_args__ = (
        UniqueConstraint("serial_number", "type", "session_id", "create_time_raw", name="uq_lead"),
        Index("ix_lead_created_at", "created_at"),
        Index("ix_lead_serial_session", "serial_number", "session_id"),
        Index("ix_lead_status_seen", "status", "seen_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    serial_number: str
    type: str
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone_number: str = ""
    create_time_raw: str
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    content: str = Field(default="", sa_type=Text)
    session_id: int = Field(sa_type=BigInteger)
    uri: str = ""
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    status: str = Field(default="new", index=True)
    received_at: datetime = Field(sa_type=UTCDateTime)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    # First time a person moved it on from "new" (migration insights_0001): Insights' median.
    contacted_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # First time a person opened it or marked it seen (migration inbox_0001): the badge counts
    # leads still new and unseen, through ix_lead_status_seen.
    seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_type=Text)


class ChatWindow(SQLModel, table=True):
    """One chatbot's chat log for one period, as pushed daily; a later push for the same period
    merges into it (its conversations replace those with the same SessionID, see
    ``app.ingest.chatlog``)."""

    __tablename__ = "chat_window"
    __table_args__ = (
        UniqueConstraint("serial_number", "start_time_raw", "end_time_raw", name="uq_chat_window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    serial_number: str
    name: str = ""
    start_time_raw: str
    end_time_raw: str
    start_time: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    end_time: datetime | None = Field(default=None, sa_type=UTCDateTime)
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    received_at: datetime = Field(sa_type=UTCDateTime)
    delivery_id: int | None = Field(default=None, foreign_key="delivery.id", ondelete="SET NULL")
    conversation_count: int = 0
    message_count: int = 0
    complete: bool = False  # False while a large push is still being written


class Conversation(SQLModel, table=True):
    __table_args__ = (
        Index("ix_conversation_serial_session", "serial_number", "session_id"),
        # A push merging into its window replaces conversations by SessionID (migration
        # chatlog_0001); its prefix serves every lookup by window.
        Index("ix_conversation_window_session", "window_id", "session_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="chat_window.id", ondelete="CASCADE")
    serial_number: str
    session_id: int = Field(sa_type=BigInteger)
    create_time_raw: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uri: str = ""
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    message_count: int = 0
    # The delivery (push) it came from, so that a push processed late never overwrites a later
    # one (migration chatlog_0001). No foreign key: only its order matters, and deleting a
    # delivery should not have to look through every conversation.
    delivery_id: int | None = None


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE", index=True)
    position: int
    type: str
    content: str = Field(default="", sa_type=Text)
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
