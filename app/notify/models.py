"""Tables of the notification feature: targets, the outbox, template overrides.

Kept in this package (not ``app.models``) so the feature stays one unit; importing this module
registers the tables on ``SQLModel.metadata`` next to the core ones. Migration: ``notify_0001``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

import app.models  # noqa: F401  (lead and delivery must be on the metadata for the foreign keys)
from app.models import UTCDateTime

KINDS = ("lead", "appointment", "chatlog")
DEFAULT_KINDS = frozenset({"lead", "appointment"})  # what an untagged target receives


def lead_kind(lead_type: str) -> str:
    """Any Type but Appointment notifies as a lead: the vendor may add types; better a buzz."""
    return "appointment" if lead_type.strip().lower() == "appointment" else "lead"


class Source:
    ENV = "env"  # APPRISE_URLS
    FILE = "file"  # APPRISE_CONFIG
    DB = "db"  # added in the web UI


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
