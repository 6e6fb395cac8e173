"""Reading leads and appointments: the filtered newest-first list, one lead with all it links
to, the count of new ones; and the two changes a person makes to a lead (status, a note).

Newest first is ``coalesce(created_at, received_at)`` then ``id``, both descending; migration
web_0001 indexes exactly that expression.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Label,
    SQLColumnExpression,
    and_,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlmodel import col

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message, Note, UTCDateTime, utcnow
from app.web.paging import AnyRow, AnySelect, Cursor, Page, read_page
from app.web.queries import search
from app.web.queries.lead_filter import LeadFilter

LEAD = inspect(Lead).local_table  # rows of plain columns: the reads here use Core
# Typed explicitly so bound datetimes go through UTCDateTime (aware -> naive UTC).
SORT_KEY = func.coalesce(col(Lead.created_at), col(Lead.received_at), type_=UTCDateTime())
CHATBOT_NAME: Label[str] = col(Chatbot.name).label("chatbot_name")
PREVIEW_CHARS = 160
NEW_COUNT_KEY = "inbox_new_count"  # in the pooled connection's info: (data version, count)

Read = Callable[[], AbstractContextManager[Connection]]


def older_than(cursor: Cursor) -> ColumnElement[bool]:
    """After ``cursor`` in newest-first order. Spelt out rather than as a row value
    ``(key, id) < (?, ?)``: SQLite turns only this form into an index range (2 ms, not 170 ms,
    deep into 60k leads).
    """
    key = SORT_KEY
    return and_(key <= cursor.when, or_(key < cursor.when, col(Lead.id) < cursor.id))


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def apply_filter(
    connection: Connection,
    statement: AnySelect,
    where: LeadFilter,
    tz: ZoneInfo,
    *,
    with_search: bool = True,
) -> AnySelect:
    kind, status = func.lower(col(Lead.type)), col(Lead.status)
    if where.type == "other":
        statement = statement.where(kind.not_in(("lead", "appointment")))
    elif where.type:
        statement = statement.where(kind == where.type)
    if where.status == "active":
        statement = statement.where(status != "archived")
    elif where.status != "all":
        statement = statement.where(status == where.status)
    if where.chatbot:
        statement = statement.where(col(Lead.serial_number) == where.chatbot)
    if where.since:
        statement = statement.where(local_midnight(where.since, tz) <= SORT_KEY)
    if where.until:  # inclusive: the whole of that day
        statement = statement.where(local_midnight(where.until + timedelta(1), tz) > SORT_KEY)
    matches = search.lead_matches(connection, where.q) if where.q and with_search else None
    if matches is not None:
        statement = statement.where(matches)
    return statement


LIST_COLUMNS = (
    col(Lead.id),
    col(Lead.type),
    col(Lead.status),
    col(Lead.first_name),
    col(Lead.last_name),
    col(Lead.email),
    col(Lead.phone_number),
    col(Lead.serial_number),
    col(Lead.session_id),
    func.substr(col(Lead.content), 1, PREVIEW_CHARS).label("preview"),
    func.length(col(Lead.content)).label("content_length"),
    SORT_KEY.label("when"),
    CHATBOT_NAME,
)
EXPORT_COLUMNS = (*LEAD.columns, CHATBOT_NAME, SORT_KEY.label("when"))


def listing(
    connection: Connection,
    columns: tuple[Any, ...],
    where: LeadFilter,
    tz: ZoneInfo,
    cursor: Cursor | None,
) -> AnySelect:
    """Newest first. A SQLite text search is driven from the FTS table in id order (arrival
    order, all but identical to creation order for leads pushed as they happen).
    """
    fts = search.fts_source(connection, "lead_fts", where.q)
    order: tuple[SQLColumnExpression[Any], ...]
    if fts is None:
        statement = select(*columns).select_from(LEAD)
        order = (SORT_KEY.desc(), col(Lead.id).desc())
        after = older_than(cursor) if cursor is not None else None
    else:
        source, match = fts
        rowid = source.c.rowid
        statement = select(*columns).select_from(source.join(LEAD, col(Lead.id) == rowid))
        statement = statement.where(match)
        order = (rowid.desc(),)
        after = rowid < cursor.id if cursor is not None else None
    statement = statement.outerjoin(Chatbot, col(Chatbot.serial_number) == Lead.serial_number)
    statement = apply_filter(connection, statement, where, tz, with_search=fts is None)
    if after is not None:
        statement = statement.where(after)
    return statement.order_by(*order)


def _cursor(row: AnyRow) -> Cursor:
    return Cursor(row.when, row.id)


def page(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> Page[Cursor]:
    statement = listing(connection, LIST_COLUMNS, where, tz, where.cursor)
    return read_page(connection, statement, where.limit, _cursor)


def iterate(
    read: Read, where: LeadFilter, tz: ZoneInfo, *, chunk: int = 1000, first: int = 100
) -> Iterator[AnyRow]:
    """Every matching lead with full content, in short read transactions of ``chunk`` rows
    (``first`` rows in the first, so the download starts without waiting for a full chunk).

    ``read`` is ``Database.read``: no transaction stays open while the client downloads, so a
    slow export never holds the database back.
    """
    cursor = where.cursor
    size = min(first, chunk)
    while True:
        with read() as connection:
            statement = listing(connection, EXPORT_COLUMNS, where, tz, cursor).limit(size)
            rows = list(connection.execute(statement).all())
        yield from rows
        if len(rows) < size:
            return
        size = chunk
        if cursor is not None and rows[-1].id == cursor.id:
            # Only rows written outside this app (another time format) could do this;
            # stop rather than send the same rows forever.
            raise RuntimeError(f"export did not advance past lead {cursor.id}")
        cursor = _cursor(rows[-1])


def with_chatbot(connection: Connection, ids: list[int]) -> dict[int, AnyRow]:
    """Whole leads by id, each with its chatbot's name (``chatbot_name``)."""
    statement = (
        select(LEAD, CHATBOT_NAME)
        .outerjoin(Chatbot, col(Chatbot.serial_number) == Lead.serial_number)
        .where(col(Lead.id).in_(ids))
    )
    return {row.id: row for row in connection.execute(statement)}


def appointments(connection: Connection, since: datetime, limit: int) -> list[AnyRow]:
    """Appointments not archived that arrived since ``since``, newest first, with chatbot."""
    statement = (
        select(LEAD, CHATBOT_NAME)
        .outerjoin(Chatbot, col(Chatbot.serial_number) == Lead.serial_number)
        .where(
            func.lower(col(Lead.type)) == "appointment",
            col(Lead.status) != "archived",
            col(Lead.received_at) >= since,
        )
        .order_by(col(Lead.id).desc())
        .limit(limit)
    )
    return list(connection.execute(statement).all())


def count_new(connection: Connection) -> int:
    """Leads with status ``new``: the menu badge on every page, and the API's ``new_count``.

    Counting 250,000 new leads takes 20 ms, on every page. On SQLite the count is therefore
    kept with the pooled connection and reused for as long as nothing was written: ``PRAGMA
    data_version`` changes when any other connection commits (read in this transaction's
    snapshot, like the count), ``total_changes`` when this one writes.
    """
    statement = select(func.count()).where(col(Lead.status) == "new")
    if connection.dialect.name != "sqlite":
        return int(connection.execute(statement).scalar() or 0)
    version = (
        connection.exec_driver_sql("PRAGMA data_version").scalar(),
        connection.connection.dbapi_connection.total_changes,  # type: ignore[union-attr]
    )
    cached = connection.info.get(NEW_COUNT_KEY)
    if cached is not None and cached[0] == version:
        return int(cached[1])
    count = int(connection.execute(statement).scalar() or 0)
    connection.info[NEW_COUNT_KEY] = (version, count)
    return count


def chatbots(connection: Connection) -> list[AnyRow]:
    name, serial = col(Chatbot.name), col(Chatbot.serial_number)
    return list(connection.execute(select(serial, name).order_by(name, serial)).all())


@dataclass
class Transcript:
    conversation_id: int
    window_id: int
    chatbot_name: str
    day: datetime | None
    created_at: datetime | None
    uri: str
    messages: list[AnyRow]


@dataclass
class LeadDetail:
    lead: AnyRow
    chatbot_name: str
    notes: list[AnyRow]
    transcripts: list[Transcript]
    related: list[AnyRow]  # other leads/appointments from the same chat session


def detail(connection: Connection, lead_id: int) -> LeadDetail | None:
    lead = connection.execute(select(LEAD).where(col(Lead.id) == lead_id)).first()
    if lead is None:
        return None
    name = connection.execute(
        select(col(Chatbot.name)).where(col(Chatbot.serial_number) == lead.serial_number)
    ).scalar()
    notes = connection.execute(
        select(col(Note.id), col(Note.created_at), col(Note.body))
        .where(col(Note.lead_id) == lead_id)
        .order_by(col(Note.created_at), col(Note.id))
    ).all()
    related = connection.execute(
        select(col(Lead.id), col(Lead.type), col(Lead.status), SORT_KEY.label("when"))
        .where(
            col(Lead.serial_number) == lead.serial_number,
            col(Lead.session_id) == lead.session_id,
            col(Lead.id) != lead.id,
        )
        .order_by(SORT_KEY)
    ).all()
    return LeadDetail(
        lead,
        name or "",
        list(notes),
        transcripts(connection, lead.serial_number, lead.session_id),
        list(related),
    )


def transcripts(connection: Connection, serial: str, session_id: int) -> list[Transcript]:
    """The session's conversation from the daily chat logs (a session may span two days)."""
    rows = connection.execute(
        select(
            col(Conversation.id),
            col(Conversation.window_id),
            col(Conversation.created_at),
            col(Conversation.uri),
            col(ChatWindow.name),
            col(ChatWindow.start_time),
        )
        .join(ChatWindow, col(ChatWindow.id) == Conversation.window_id)
        .where(
            col(Conversation.serial_number) == serial, col(Conversation.session_id) == session_id
        )
        .order_by(col(ChatWindow.start_time), col(Conversation.id))
    ).all()
    return [
        Transcript(
            row.id,
            row.window_id,
            row.name,
            row.start_time,
            row.created_at,
            row.uri,
            messages(connection, row.id),
        )
        for row in rows
    ]


def messages(connection: Connection, conversation_id: int) -> list[AnyRow]:
    return list(
        connection.execute(
            select(col(Message.id), col(Message.type), col(Message.content))
            .where(col(Message.conversation_id) == conversation_id)
            .order_by(col(Message.position), col(Message.id))
        ).all()
    )


# ---- writer jobs (``db.writer.run``): False when there is no such lead -------------------


def set_status(connection: Connection, lead_id: int, status: str) -> bool:
    values: dict[str, Any] = {"status": status}
    if status in ("contacted", "done"):  # the first time only: Insights' time to contact
        values["contacted_at"] = func.coalesce(col(Lead.contacted_at), utcnow())
    result = connection.execute(update(Lead).where(col(Lead.id) == lead_id).values(**values))
    return bool(result.rowcount)


def add_note(connection: Connection, lead_id: int, body: str) -> bool:
    if connection.execute(select(col(Lead.id)).where(col(Lead.id) == lead_id)).first() is None:
        return False
    connection.execute(insert(Note).values(lead_id=lead_id, created_at=utcnow(), body=body))
    return True
