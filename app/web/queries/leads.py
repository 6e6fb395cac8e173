"""Reading leads and appointments: the filtered newest-first list, one lead with all it links
to, the count of new ones (the changes a person makes are in ``triage``, the inbox's paging both
ways, counts and live arrivals in ``lead_place``).

Newest first is ``coalesce(created_at, received_at)`` then ``id``, both descending
(``lead_order``); migration web_0001 indexes exactly that expression.
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
    func,
    inspect,
    or_,
    select,
)
from sqlmodel import col

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message, Note
from app.web.paging import AnyRow, AnySelect, Cursor, Page, page_of
from app.web.queries import lead_search
from app.web.queries.lead_filter import LeadFilter
from app.web.queries.lead_order import (
    NEWEST_FIRST,
    OLDEST_FIRST,
    SORT_KEY,
    WINDOWS,
    at_or_newer,
    at_or_older,
    date_window,
    older_than,
)
from app.web.queries.unchanged import while_unchanged
from app.web.textparts import chatbot_order

LEAD = inspect(Lead).local_table  # rows of plain columns: the reads here use Core
CHATBOT_NAME: Label[str] = col(Chatbot.name).label("chatbot_name")
PREVIEW_CHARS = 160
NEW_COUNT_KEY = "inbox_new_count"  # in the pooled connection's info (``while_unchanged``)

Read = Callable[[], AbstractContextManager[Connection]]


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def apply_filter(
    connection: Connection,
    statement: AnySelect,
    where: LeadFilter,
    tz: ZoneInfo,
    *,
    with_search: bool = True,
    counting: bool = False,
) -> AnySelect:
    """``statement`` narrowed to the leads ``where`` matches (``with_search=False``: all but
    its search, which the caller adds)."""
    kind, status = func.lower(col(Lead.type)), col(Lead.status)
    if where.type == "other":
        statement = statement.where(kind.not_in(("lead", "appointment")))
    elif where.type:
        statement = statement.where(kind == where.type)
    if where.status == "active" and counting:
        # Two ranges of ix_lead_status: "archived" sorts first, so a count over ``!=`` would
        # step over every archived lead before the first it counts (30 ms in 1M, not 2.5 ms).
        statement = statement.where(or_(status < "archived", status > "archived"))
    elif where.status == "active":
        statement = statement.where(status != "archived")
    elif where.status != "all":
        statement = statement.where(status == where.status)
    if where.chatbot:
        statement = statement.where(col(Lead.serial_number) == where.chatbot)
    statement = statement.where(*dates(where, tz))
    matches = lead_search.lead_matches(connection, where.q) if where.q and with_search else None
    if matches is not None:
        statement = statement.where(matches)
    return statement


def dates(where: LeadFilter, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    found = []
    if where.since:
        found.append(local_midnight(where.since, tz) <= SORT_KEY)
    if where.until:  # inclusive: the whole of that day
        found.append(local_midnight(where.until + timedelta(1), tz) > SORT_KEY)
    return found


def matching_ids(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, *, counting: bool = False
) -> AnySelect:
    """The ids of every lead the filter matches, on every page (bulk actions, counts)."""
    statement = select(col(Lead.id)).select_from(LEAD)
    return apply_filter(connection, statement, where, tz, counting=counting)


LIST_COLUMNS = (
    col(Lead.id),
    col(Lead.type),
    col(Lead.status),
    col(Lead.seen_at),
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


def read_in_date_order(
    connection: Connection,
    columns: tuple[Any, ...],
    where: LeadFilter,
    tz: ZoneInfo,
    place: ColumnElement[bool] | None,
    limit: int,
    *,
    newest_first: bool = True,
) -> list[AnyRow]:
    """Up to ``limit`` rows that ``where`` matches from ``place`` on, newest (or oldest) first
    by when each lead was made: a search too (people read a search as a list of dates,
    whatever order the leads arrived in).

    A search that matches many leads (``lead_search.Found.many``) is read one window of the
    date index at a time: the next 2,000 leads from ``place``, tested against the FTS
    matches among their ids only. A window that holds ``limit`` matches holds the first
    ``limit`` (the walk is in order); otherwise one ten times as long is tried. Testing
    against every match would gather them all first: the 466,000 leads with "kitchen" and
    "roof" in 1M took 300 ms, where a page needs a few hundred.
    """
    order = NEWEST_FIRST if newest_first else OLDEST_FIRST
    searched = lead_search.look_up(connection, where.q) if where.q and _sqlite(connection) else None

    def read(walk: lead_search.Window | None, within: ColumnElement[bool] | None) -> list[AnyRow]:
        statement = select(*columns).select_from(LEAD)
        statement = statement.outerjoin(Chatbot, col(Chatbot.serial_number) == Lead.serial_number)
        # The search looked up once above, rather than again for every window.
        statement = apply_filter(connection, statement, where, tz, with_search=searched is None)
        matches = searched.condition(walk) if searched is not None else None
        for condition in (matches, place, within):
            if condition is not None:
                statement = statement.where(condition)
        return list(connection.execute(statement.order_by(*order).limit(limit)))

    if searched is None or not searched.many:
        return read(None, None)
    starts = [] if place is None else [place]
    for size in WINDOWS:
        window = date_window(connection, [*starts, *dates(where, tz)], order, size)
        if window is None:
            return []
        walk, edge = window
        if edge is None:
            return read(walk, None)
        rows = read(walk, at_or_newer(edge) if newest_first else at_or_older(edge))
        if len(rows) >= limit:
            return rows
    return read(lead_search.EVERY_ID, None)


def _sqlite(connection: Connection) -> bool:
    return connection.dialect.name == "sqlite"


def cursor_of(row: AnyRow) -> Cursor:
    return Cursor(row.when, row.id)


def place_of(lead: AnyRow) -> Cursor:
    """A whole lead's place in the list (the list's own ``when`` is this coalesce)."""
    return Cursor(lead.created_at or lead.received_at, lead.id)


def page(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> Page[Cursor]:
    """A page of rows older than the filter's cursor (the API's paging; the inbox pages both
    ways with ``lead_place.list_page``)."""
    place = older_than(where.cursor) if where.cursor is not None else None
    rows = read_in_date_order(connection, LIST_COLUMNS, where, tz, place, where.limit + 1)
    return page_of(rows, where.limit, cursor_of)


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
            place = older_than(cursor) if cursor is not None else None
            rows = read_in_date_order(connection, EXPORT_COLUMNS, where, tz, place, size)
        yield from rows
        if len(rows) < size:
            return
        size = chunk
        if cursor is not None and rows[-1].id == cursor.id:
            # Only rows written outside this app (another time format) could do this;
            # stop rather than send the same rows forever.
            raise RuntimeError(f"export did not advance past lead {cursor.id}")
        cursor = cursor_of(rows[-1])


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
    """Leads with status ``new`` nobody has seen yet (opened, or marked seen): the menu badge
    on every page, the inbox's tab title, and the API's ``new_count``.

    Counting 250,000 new leads takes 20 ms, on every page. On SQLite the count is therefore
    kept with the pooled connection and reused for as long as nothing was written
    (``unchanged.while_unchanged``).
    """
    statement = select(func.count()).where(col(Lead.status) == "new", col(Lead.seen_at).is_(None))

    def count() -> int:
        return int(connection.execute(statement).scalar() or 0)

    if not _sqlite(connection):
        return count()
    return while_unchanged(connection, NEW_COUNT_KEY, None, count)


def chatbots(connection: Connection) -> list[AnyRow]:
    """Every chatbot, in the order a person counts them: Bot 2 before Bot 10 (unnamed last)."""
    name, serial = col(Chatbot.name), col(Chatbot.serial_number)
    rows = connection.execute(select(serial, name)).all()
    return sorted(rows, key=lambda row: chatbot_order(row.name, row.serial_number))


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
