"""What the pages read about forwarding that the service does not give: where one lead went."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select
from sqlmodel import col

from app.models import ForwardDestination, ForwardOutbox


def for_lead(connection: Connection, lead_id: int) -> list[Any]:
    """Each destination this lead was queued for, with how it went (no secret: masked URL)."""
    return list(
        connection.execute(
            select(
                col(ForwardDestination.key),
                col(ForwardDestination.name),
                col(ForwardDestination.url_masked),
                col(ForwardOutbox.status),
                col(ForwardOutbox.attempts),
                col(ForwardOutbox.sent_at),
                col(ForwardOutbox.last_status_code),
                col(ForwardOutbox.last_error),
                col(ForwardOutbox.next_attempt_at),
            )
            .join(
                ForwardDestination,
                col(ForwardDestination.key) == col(ForwardOutbox.destination_key),
            )
            .where(col(ForwardOutbox.lead_id) == lead_id)
            .order_by(col(ForwardOutbox.id))
        ).all()
    )
