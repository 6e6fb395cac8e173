"""Tables of the features downstream of the records: notifications, web settings,
forwarding, insights. Each section names its migration."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Index,
    Text,
    UniqueConstraint,
)
from sqlmodel import Field, SQLModel

from app.models.types import UTCDateTime

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


# ---- Sign Keys entered in the browser (migration keys_0001) ------------------------------


class SigningKey(SQLModel, table=True):
    """A Sign Key entered under Settings; the secret is kept whole, every HMAC needs it."""

    __tablename__ = "signing_key"

    id: int | None = Field(default=None, primary_key=True)
    label: str
    secret: str = Field(sa_type=Text)  # never shown again: pages show the fingerprint
    fingerprint: str = Field(unique=True)  # app.signature.key_fingerprint
    created_at: datetime = Field(sa_type=UTCDateTime)


# ---- forwarding to the user's own systems (migration forward_0001) -----------------------


class ForwardDestination(SQLModel, table=True):
    """Where every record is also POSTed, signed (Standard Webhooks), with its delivery health.

    Destinations from FORWARD_URLS get a row too (``url`` and ``secret`` stay empty: they live in
    the environment), so outbox rows can reference them and their state can be shown.
    """

    __tablename__ = "forward_destination"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)  # "db:<hex>", or "env:<sha256 of the URL>"
    source: str  # env, db
    name: str = ""
    url: str | None = Field(default=None, sa_type=Text)  # DB destinations only; may hold secrets
    url_masked: str = Field(default="", sa_type=Text)
    secret: str | None = Field(default=None, sa_type=Text)  # DB only: whsec_…, never shown again
    headers: dict[str, str] | None = Field(default=None, sa_type=JSON(none_as_null=True))
    want_lead: bool = True
    want_appointment: bool = True
    want_chatlog: bool = False
    enabled: bool = True
    present: bool = True  # False once an env destination left FORWARD_URLS
    disabled_reason: str | None = Field(default=None, sa_type=Text)  # e.g. it answered 410
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    failing_streak: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)
    last_error_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_success_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # backoff after failures


class ForwardOutbox(SQLModel, table=True):
    """One row per (record, destination): a lead or appointment, or one chat-log window (by its
    natural key, since a reprocessed window gets a new id); the unique keys make it once."""

    __tablename__ = "forward_outbox"
    __table_args__ = (
        UniqueConstraint("destination_key", "lead_id", name="uq_forward_outbox_lead"),
        UniqueConstraint(
            "destination_key",
            "window_serial",
            "window_start_raw",
            "window_end_raw",
            name="uq_forward_outbox_window",
        ),
        Index("ix_forward_outbox_due", "status", "next_attempt_at"),
        Index("ix_forward_outbox_destination_status", "destination_key", "status"),
        Index("ix_forward_outbox_lead_id", "lead_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    destination_key: str = Field(foreign_key="forward_destination.key", ondelete="CASCADE")
    kind: str  # lead, appointment, chatlog
    lead_id: int | None = Field(default=None, foreign_key="lead.id", ondelete="CASCADE")
    window_serial: str | None = None
    window_start_raw: str | None = None
    window_end_raw: str | None = None
    message_id: str  # the webhook-id: the same on every retry of this message
    replays: int = 0  # each replay is a new message: webhook-id gets ".r<n>"
    status: str = RowStatus.PENDING  # pending, sent, failed (given up)
    attempts: int = 0
    created_at: datetime = Field(sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)  # retry now, replay
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_type=Text)


class ForwardAttempt(SQLModel, table=True):
    """Every HTTP attempt, kept per destination up to a bound: the log shown in Settings."""

    __tablename__ = "forward_attempt"
    __table_args__ = (Index("ix_forward_attempt_destination", "destination_key", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    outbox_id: int | None = Field(
        default=None, foreign_key="forward_outbox.id", ondelete="CASCADE", index=True
    )
    destination_key: str = Field(foreign_key="forward_destination.key", ondelete="CASCADE")
    attempted_at: datetime = Field(sa_type=UTCDateTime)
    webhook_id: str
    status_code: int | None = None  # None: no HTTP answer (refused, timed out, TLS)
    latency_ms: int = 0
    ok: bool = False
    error: str | None = Field(default=None, sa_type=Text)
    response_excerpt: str | None = Field(default=None, sa_type=Text)  # bounded, secrets scrubbed


# ---- insights (migration insights_0001) --------------------------------------------------


class InsightsLeadDay(SQLModel, table=True):
    """Leads per local day, chatbot and kind: what the Insights page reads instead of 1M rows.

    ``day`` counts days since 1970-01-01 in the ``TZ`` the rows were made for (kept with the
    high-water mark in ``app_setting``); ``app.web.queries.insights`` keeps both tables current.
    """

    __tablename__ = "insights_lead_day"

    day: int = Field(primary_key=True)
    serial_number: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)  # lead, appointment, other
    leads: int = 0


class InsightsLeadHour(SQLModel, table=True):
    """Leads and appointments per local hour (hours since 1970-01-01 00:00): the heat map."""

    __tablename__ = "insights_lead_hour"

    hour: int = Field(primary_key=True)
    leads: int = 0
