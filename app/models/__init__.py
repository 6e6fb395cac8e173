"""The tables, one package: every table the app has, importable from ``app.models``.

Every timestamp is stored as naive UTC and comes back timezone-aware (UTC). Vendor times are kept
twice: the string exactly as sent (part of the deduplication keys, so a replay matches byte for
byte) and parsed into UTC for sorting and display.

- ``types``: ``UTCDateTime``, ``utcnow``, ``table_of``
- ``records``: what the receiver stores (deliveries, leads, chat logs)
- ``features``: what the features downstream keep (notifications, settings, forwarding, insights)

Importing the package registers every table on ``SQLModel.metadata`` (the migrations and the
foreign keys between sections need them all).
"""

from __future__ import annotations

from app.models.features import (
    AppSetting,
    ForwardAttempt,
    ForwardDestination,
    ForwardOutbox,
    InsightsLeadDay,
    InsightsLeadHour,
    NotifyOutbox,
    NotifyTarget,
    NotifyTemplate,
    RowStatus,
    SigningKey,
)
from app.models.records import (
    LEAD_STATUSES,
    STORED_BODY,
    Chatbot,
    ChatWindow,
    Conversation,
    Delivery,
    DeliveryBody,
    Lead,
    Message,
    Note,
    Outcome,
    ProcessStatus,
)
from app.models.types import (
    UTCDateTime,
    table_of,
    utc_literal,
    utcnow,
)

__all__ = [
    "LEAD_STATUSES",
    "STORED_BODY",
    "AppSetting",
    "ChatWindow",
    "Chatbot",
    "Conversation",
    "Delivery",
    "DeliveryBody",
    "ForwardAttempt",
    "ForwardDestination",
    "ForwardOutbox",
    "InsightsLeadDay",
    "InsightsLeadHour",
    "Lead",
    "Message",
    "Note",
    "NotifyOutbox",
    "NotifyTarget",
    "NotifyTemplate",
    "Outcome",
    "ProcessStatus",
    "RowStatus",
    "SigningKey",
    "UTCDateTime",
    "table_of",
    "utc_literal",
    "utcnow",
]
