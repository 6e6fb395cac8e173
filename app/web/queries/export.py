"""What the exports read beside the leads themselves (``leads.iterate``): their notes."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, select
from sqlmodel import col

from app.models import Note
from app.web.paging import AnyRow


def notes_of(connection: Connection, lead_ids: list[int]) -> dict[int, list[AnyRow]]:
    """Each lead's notes, oldest first (as the lead page lists them); a lead without is absent."""
    found: dict[int, list[AnyRow]] = defaultdict(list)
    if not lead_ids:
        return found
    rows = connection.execute(
        select(col(Note.lead_id), col(Note.created_at), col(Note.body))
        .where(col(Note.lead_id).in_(lead_ids))
        .order_by(col(Note.lead_id), col(Note.created_at), col(Note.id))
    )
    for row in rows:
        found[row.lead_id].append(row)
    return found
