"""One lead as the exports write it: its fields, its notes as one text, and its times as the
user's wall-clock time; read batch by batch in short transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from zoneinfo import ZoneInfo

from app.web.paging import AnyRow
from app.web.queries import export, leads
from app.web.queries.lead_filter import LeadFilter

ROWS_PER_CHUNK = 500
FIRST_ROWS = 100  # read on their own, so a download starts before a whole chunk is read


@dataclass(frozen=True)
class Record:
    """One lead as both exports write it: texts, numbers, and times in the user's zone."""

    id: int
    type: str
    status: str
    created: datetime | None
    first_name: str
    last_name: str
    email: str
    phone_number: str
    content: str
    notes: str
    chatbot: str
    chatbot_serial_number: str
    session_id: int
    uri: str
    received: datetime


def headers(tz: ZoneInfo) -> list[str]:
    return [
        "id",
        "type",
        "status",
        f"created ({tz.key})",
        "first_name",
        "last_name",
        "email",
        "phone_number",
        "content",
        "notes",
        "chatbot",
        "chatbot_serial_number",
        "session_id",
        "uri",
        f"received ({tz.key})",
    ]


def local(moment: datetime, tz: ZoneInfo) -> datetime:
    """``moment`` as the user's wall-clock time (spreadsheets know no zones: the header does)."""
    return moment.astimezone(tz).replace(tzinfo=None)


def notes_text(notes: list[AnyRow], tz: ZoneInfo) -> str:
    return "\n".join(f"{local(note.created_at, tz):%Y-%m-%d %H:%M} {note.body}" for note in notes)


def record(row: AnyRow, notes: list[AnyRow], tz: ZoneInfo) -> Record:
    return Record(
        id=row.id,
        type=row.type,
        status=row.status,
        created=local(row.when, tz) if row.when else None,
        first_name=row.first_name,
        last_name=row.last_name,
        email=row.email,
        phone_number=row.phone_number,
        content=row.content,
        notes=notes_text(notes, tz),
        chatbot=row.chatbot_name or "",
        chatbot_serial_number=row.serial_number,
        session_id=row.session_id,
        uri=row.uri,
        received=local(row.received_at, tz),
    )


def records(read: leads.Read, where: LeadFilter, tz: ZoneInfo) -> Iterator[Record]:
    """Every lead of the filter with its notes, read in short transactions: the leads by
    ``leads.iterate``, the notes of each batch of them in one more read."""
    rows = leads.iterate(read, where, tz, first=FIRST_ROWS)
    size = FIRST_ROWS
    while batch := list(islice(rows, size)):
        with read() as connection:
            notes = export.notes_of(connection, [row.id for row in batch])
        for row in batch:
            yield record(row, notes.get(row.id, []), tz)
        size = ROWS_PER_CHUNK
