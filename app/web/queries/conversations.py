"""Reading chat logs: the daily windows newest first, one window's sessions, one session with
its messages and leads, and message search.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, SQLColumnExpression, and_, func, inspect, or_, select
from sqlmodel import col

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message, UTCDateTime
from app.web.paging import AnyRow, Cursor, Page, by_id, read_page
from app.web.queries import search

WINDOWS_PER_PAGE = 60
SESSIONS_PER_PAGE = 25
RESULTS_PER_PAGE = 50

WINDOW_DAY = func.coalesce(
    col(ChatWindow.start_time), col(ChatWindow.received_at), type_=UTCDateTime()
)
CONVERSATION_COLUMNS = (
    col(Conversation.id),
    col(Conversation.serial_number),
    col(Conversation.session_id),
    col(Conversation.created_at),
    col(Conversation.create_time_raw),
    col(Conversation.uri),
    col(Conversation.message_count),
)


def _window_cursor(row: AnyRow) -> str:
    return Cursor(row.day, row.id).encode()


def windows(connection: Connection, chatbot: str, before: Cursor | None) -> Page[str]:
    """Newest day first (a redelivered or late day sorts by its day, not by its arrival)."""
    statement = select(
        col(ChatWindow.id),
        col(ChatWindow.serial_number),
        col(ChatWindow.name),
        col(ChatWindow.start_time),
        col(ChatWindow.end_time),
        col(ChatWindow.conversation_count),
        col(ChatWindow.message_count),
        col(ChatWindow.complete),
        col(ChatWindow.received_at),
        WINDOW_DAY.label("day"),
    )
    if chatbot:
        statement = statement.where(col(ChatWindow.serial_number) == chatbot)
    if before is not None:
        day = WINDOW_DAY
        statement = statement.where(
            day <= before.when, or_(day < before.when, col(ChatWindow.id) < before.id)
        )
    statement = statement.order_by(WINDOW_DAY.desc(), col(ChatWindow.id).desc())
    return read_page(connection, statement, WINDOWS_PER_PAGE, _window_cursor)


def search_messages(connection: Connection, q: str, chatbot: str, before: int | None) -> Page[int]:
    """Newest messages first; on SQLite driven from the FTS table (see search.fts_source)."""
    fts = search.fts_source(connection, "message_fts", q)
    message_id = col(Message.id)
    order: SQLColumnExpression[Any]
    columns: tuple[SQLColumnExpression[Any], ...] = (
        message_id,
        col(Message.type),
        func.substr(col(Message.content), 1, 400).label("content"),
        col(Conversation.id).label("conversation_id"),
        col(Conversation.session_id),
        col(Conversation.created_at),
        col(ChatWindow.id).label("window_id"),
        col(ChatWindow.serial_number),
        col(ChatWindow.name),
        col(ChatWindow.start_time),
    )
    if fts is not None:
        source, match = fts
        order = source.c.rowid
        statement = select(*columns).select_from(source.join(Message, message_id == order))
        statement = statement.where(match)
    else:
        matches = search.message_matches(connection, q)
        if matches is None:
            return Page([], None)
        order = message_id
        statement = select(*columns).select_from(Message).where(matches)
    statement = statement.join(Conversation, col(Conversation.id) == Message.conversation_id).join(
        ChatWindow, col(ChatWindow.id) == Conversation.window_id
    )
    if chatbot:
        statement = statement.where(col(ChatWindow.serial_number) == chatbot)
    if before is not None:
        statement = statement.where(order < before)
    return read_page(connection, statement.order_by(order.desc()), RESULTS_PER_PAGE, by_id)


@dataclass
class Session:
    conversation: AnyRow
    messages: list[AnyRow]
    leads: list[AnyRow]


def sessions(connection: Connection, conversations: list[AnyRow]) -> list[Session]:
    """Each conversation with its messages and any lead from the same chat session."""
    if not conversations:
        return []
    ids = [row.id for row in conversations]
    by_conversation: dict[int, list[AnyRow]] = {i: [] for i in ids}
    for message in connection.execute(
        select(
            col(Message.id), col(Message.conversation_id), col(Message.type), col(Message.content)
        )
        .where(col(Message.conversation_id).in_(ids))
        .order_by(col(Message.conversation_id), col(Message.position), col(Message.id))
    ):
        by_conversation[message.conversation_id].append(message)
    serial = conversations[0].serial_number
    session_ids = [row.session_id for row in conversations]
    linked: dict[int, list[AnyRow]] = {}
    for lead in connection.execute(
        select(
            col(Lead.id),
            col(Lead.type),
            col(Lead.first_name),
            col(Lead.last_name),
            col(Lead.session_id),
        ).where(and_(col(Lead.serial_number) == serial, col(Lead.session_id).in_(session_ids)))
    ):
        linked.setdefault(lead.session_id, []).append(lead)
    return [
        Session(row, by_conversation[row.id], linked.get(row.session_id, []))
        for row in conversations
    ]


@dataclass
class WindowDetail:
    window: AnyRow
    chatbot_name: str
    sessions: list[Session]
    next_after: int | None


def window(connection: Connection, window_id: int, after: int | None) -> WindowDetail | None:
    """One day's chat log with a page of its sessions (in id order, after ``after``)."""
    found = connection.execute(
        select(inspect(ChatWindow).local_table).where(col(ChatWindow.id) == window_id)
    ).first()
    if found is None:
        return None
    chatbot_name = connection.execute(
        select(col(Chatbot.name)).where(col(Chatbot.serial_number) == found.serial_number)
    ).scalar()
    statement = select(*CONVERSATION_COLUMNS).where(col(Conversation.window_id) == window_id)
    if after is not None:
        statement = statement.where(col(Conversation.id) > after)
    statement = statement.order_by(col(Conversation.id))
    page = read_page(connection, statement, SESSIONS_PER_PAGE, by_id)
    return WindowDetail(
        found, found.name or chatbot_name or "", sessions(connection, page.rows), page.next
    )


@dataclass
class SessionDetail:
    row: AnyRow
    session: Session
    others: list[AnyRow]  # the same session in other daily logs


def session(connection: Connection, conversation_id: int) -> SessionDetail | None:
    row: AnyRow | None = connection.execute(
        select(*CONVERSATION_COLUMNS, col(ChatWindow.id).label("window_id"), col(ChatWindow.name))
        .join(ChatWindow, col(ChatWindow.id) == Conversation.window_id)
        .where(col(Conversation.id) == conversation_id)
    ).first()
    if row is None:
        return None
    # The same session in other daily logs (a chat that went on past midnight UTC).
    others = connection.execute(
        select(col(Conversation.id), col(ChatWindow.start_time))
        .join(ChatWindow, col(ChatWindow.id) == Conversation.window_id)
        .where(
            col(Conversation.serial_number) == row.serial_number,
            col(Conversation.session_id) == row.session_id,
            col(Conversation.id) != row.id,
        )
        .order_by(col(ChatWindow.start_time))
    ).all()
    return SessionDetail(row, sessions(connection, [row])[0], list(others))
