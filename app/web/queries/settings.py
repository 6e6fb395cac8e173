"""What the Settings page reads beside ``app.live_settings``: the quarantine waiting for a key."""

from __future__ import annotations

from sqlalchemy import Connection, func, select
from sqlmodel import col

from app.models import Delivery, Outcome


def waiting_for_a_key(connection: Connection) -> int:
    """Quarantined deliveries that kept a signature header: the right Sign Key would verify them."""
    statement = select(func.count()).where(
        col(Delivery.outcome) == Outcome.QUARANTINED,
        col(Delivery.signature_headers).is_not(None),
    )
    return int(connection.execute(statement).scalar() or 0)
