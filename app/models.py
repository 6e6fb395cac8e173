"""The tables. Every timestamp is stored as naive UTC and comes back timezone-aware (UTC).

Vendor times are kept twice: the string exactly as sent (part of the deduplication keys, so a
replay matches byte for byte) and parsed into UTC for sorting and display.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    LargeBinary,
    Table,
    Text,
    UniqueConstraint,
    func,
    inspect,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel, col


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC; returns aware UTC, so no caller ever mixes the two."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core ``Table``: SQLModel sets ``__table__`` but does not declare it."""
    table = inspect(model).local_table
    if not isinstance(table, Table):
        raise TypeError(f"{model.__name__} is not a table model")
    return table


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
    __table_args__ = (Index("ix_delivery_sha256_outcome", "body_sha256", "outcome"),)

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


class Note(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="lead.id", ondelete="CASCADE", index=True)
    created_at: datetime = Field(sa_type=UTCDateTime)
    body: str = Field(sa_type=Text)


class ChatWindow(SQLModel, table=True):
    """One chatbot's chat log for one period, as pushed daily; a redelivery replaces it."""

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
    __table_args__ = (Index("ix_conversation_serial_session", "serial_number", "session_id"),)

    id: int | None = Field(default=None, primary_key=True)
    window_id: int = Field(foreign_key="chat_window.id", ondelete="CASCADE", index=True)
    serial_number: str
    session_id: int = Field(sa_type=BigInteger)
    create_time_raw: str = ""
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    uri: str = ""
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    message_count: int = 0


class Message(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", ondelete="CASCADE", index=True)
    position: int
    type: str
    content: str = Field(default="", sa_type=Text)
    extra: dict[str, Any] | None = Field(default=None, sa_type=JSON(none_as_null=True))


# ---- notifications (migration notify_0001) ----------------------------------------------


class RowStatus:
    PENDING = "pending"  # waiting for its first attempt or its next retry
    SENT = "sent"  # the target accepted a notification for exactly this record
    SUMMARISED = "summarised"  # the target accepted a summary that covered this record
    FAILED = "failed"  # given up after NOTIFY_RETRY_MAX_HOURS; "retry now" revives it


class NotifyTarget(SQLModel, table=True):
    """Every target the outbox can point at, with its delivery health.

    Targets from APPRISE_URLS/APPRISE_CONFIG get a row too (``url`` stays empty: the secret lives
    in the environment), so outbox rows can reference them and their status can be shown.
    """

    __tablename__ = "notify_target"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # "db:<hex>", or "cfg:<sha256 of the normalised URL>"
    source: str
    name: str = ""
    url: str | None = Field(default=None, sa_type=Text)  # DB targets only; holds secrets
    url_masked: str = Field(default="", sa_type=Text)
    service: str = ""
    notify_lead: bool = True
    notify_appointment: bool = True
    notify_chatlog: bool = False
    enabled: bool = True
    present: bool = True  # False once a configured target left APPRISE_URLS/APPRISE_CONFIG
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    failing_streak: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # backoff after failures


class NotifyOutbox(SQLModel, table=True):
    """One row per (record, target); the unique keys are what makes delivery exactly-once."""

    __tablename__ = "notify_outbox"
    __table_args__ = (
        UniqueConstraint("target_key", "lead_id", name="uq_notify_outbox_lead"),
        UniqueConstraint("target_key", "delivery_id", name="uq_notify_outbox_delivery"),
        Index("ix_notify_outbox_due", "status", "next_attempt_at"),
        Index("ix_notify_outbox_target_status", "target_key", "status"),
        Index("ix_notify_outbox_lead_id", "lead_id"),
        Index("ix_notify_outbox_delivery_id", "delivery_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    target_key: str = Field(foreign_key="notify_target.key", ondelete="CASCADE")
    kind: str  # lead, appointment, chatlog
    lead_id: int | None = Field(default=None, foreign_key="lead.id", ondelete="CASCADE")
    delivery_id: int | None = Field(
        default=None, foreign_key="delivery.id", ondelete="CASCADE"
    )  # chat-log summaries: one per processed chat-log push
    status: str = RowStatus.PENDING
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # set by "retry now"
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)


class NotifyTemplate(SQLModel, table=True):
    """A title or body template overridden in the web UI (wins over files and defaults)."""

    __tablename__ = "notify_template"

    kind: str = Field(primary_key=True)  # lead, appointment, chatlog, summary
    part: str = Field(primary_key=True)  # title, body
    text: str = Field(sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)


# ---- web UI (migration web_0001) ---------------------------------------------------------


class AppSetting(SQLModel, table=True):
    __tablename__ = "app_setting"

    key: str = Field(primary_key=True)
    value: str = Field(sa_type=Text)
    updated_at: datetime = Field(sa_type=UTCDateTime)
