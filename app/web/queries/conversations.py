"""Reading chat logs: the chatbots with their latest days, one chatbot's days, one day's
sessions in time order, one session with its messages and leads, and message search.

A chat session and a lead are linked by the vendor's own key, which both pushes carry: the
same chatbot (``SerialNumber``) and the same ``SessionID`` (index ``ix_lead_serial_session``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, SQLColumnExpression, and_, func, inspect, or_, select
from sqlmodel import col

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message, UTCDateTime
from app.models.types import utc_literal
from app.web.paging import AnyRow, Cursor, Page, by_id, read_page
from app.web.queries import search
from app.web.textparts import chatbot_order, first_line

WINDOWS_PER_PAGE = 60
DAYS_PER_CHATBOT = 7  # on the Chats overview; a chatbot's own list pages through them all
SESSIONS_PER_PAGE = 50
RESULTS_PER_PAGE = 50
EXCERPT_SOURCE = 2000  # characters of a found message read to cut its excerpt from

WINDOW_DAY = func.coalesce(
    col(ChatWindow.start_time), col(ChatWindow.received_at), type_=UTCDateTime()
)
# A session whose CreateTime could not be read sorts after every other one of its day.
SESSION_TIME = func.coalesce(
    col(Conversation.created_at),
    utc_literal(datetime(9999, 12, 31, tzinfo=UTC)),
    type_=UTCDateTime(),
)
DAY_COLUMNS = (
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
CONVERSATION_COLUMNS = (
    col(Conversation.id),
    col(Conversation.serial_number),
    col(Conversation.session_id),
    col(Conversation.created_at),
    col(Conversation.create_time_raw),
    col(Conversation.uri),
    col(Conversation.message_count),
)


def chatbots(connection: Connection) -> list[AnyRow]:
    """The chatbots that have sent chat logs, in natural order."""
    logged = select(col(ChatWindow.serial_number)).distinct().subquery()
    rows = connection.execute(
        select(logged.c.serial_number, func.coalesce(col(Chatbot.name), "").label("name"))
        .select_from(logged)
        .outerjoin(Chatbot, col(Chatbot.serial_number) == logged.c.serial_number)
    ).all()
    return sorted(rows, key=lambda row: chatbot_order(row.name, row.serial_number))


def chatbot_name(connection: Connection, serial: str) -> str:
    found = connection.execute(
        select(col(Chatbot.name)).where(col(Chatbot.serial_number) == serial)
    ).scalar()
    return found or ""


@dataclass
class ChatbotDays:
    serial_number: str
    name: str
    days: list[AnyRow]  # newest first
    day_count: int  # all its days, shown or not


def chatbot_days(connection: Connection, per_chatbot: int = DAYS_PER_CHATBOT) -> list[ChatbotDays]:
    """Each chatbot (natural order) with its latest ``per_chatbot`` days."""
    serial = col(ChatWindow.serial_number)
    newest_first = (WINDOW_DAY.desc(), col(ChatWindow.id).desc())
    ranked = select(
        *DAY_COLUMNS,
        func.row_number().over(partition_by=serial, order_by=newest_first).label("place"),
        func.count().over(partition_by=serial).label("day_count"),
    ).subquery()
    rows = connection.execute(
        select(ranked, col(Chatbot.name).label("chatbot_name"))
        .select_from(ranked)
        .outerjoin(Chatbot, col(Chatbot.serial_number) == ranked.c.serial_number)
        .where(ranked.c.place <= per_chatbot)
        .order_by(ranked.c.serial_number, ranked.c.place)
    )
    groups: dict[str, ChatbotDays] = {}
    for row in rows:
        if row.serial_number not in groups:
            name = row.chatbot_name or row.name  # the newest day's name if none is known
            groups[row.serial_number] = ChatbotDays(row.serial_number, name, [], row.day_count)
        groups[row.serial_number].days.append(row)
    return sorted(groups.values(), key=lambda group: chatbot_order(group.name, group.serial_number))


def _window_cursor(row: AnyRow) -> str:
    return Cursor(row.day, row.id).encode()


def windows(connection: Connection, chatbot: str, before: Cursor | None) -> Page[str]:
    """One chatbot's days, newest first (a late day sorts by its day, not by its arrival)."""
    statement = select(*DAY_COLUMNS).where(col(ChatWindow.serial_number) == chatbot)
    if before is not None:
        day = WINDOW_DAY
        statement = statement.where(
            day <= before.when, or_(day < before.when, col(ChatWindow.id) < before.id)
        )
    statement = statement.order_by(WINDOW_DAY.desc(), col(ChatWindow.id).desc())
    return read_page(connection, statement, WINDOWS_PER_PAGE, _window_cursor)


def lead_counts(connection: Connection, window_ids: list[int]) -> dict[int, int]:
    """How many leads came from each day's sessions."""
    if not window_ids:
        return {}
    counted = connection.execute(
        select(col(Conversation.window_id), func.count(func.distinct(col(Lead.id))))
        .join(
            Lead,
            and_(
                col(Lead.serial_number) == col(Conversation.serial_number),
                col(Lead.session_id) == col(Conversation.session_id),
            ),
        )
        .where(col(Conversation.window_id).in_(window_ids))
        .group_by(col(Conversation.window_id))
    )
    return {window_id: count for window_id, count in counted}


def search_messages(connection: Connection, q: str, chatbot: str, before: int | None) -> Page[int]:
    """Newest messages first; on SQLite driven from the FTS table (see search.fts_source)."""
    fts = search.fts_source(connection, "message_fts", q)
    message_id = col(Message.id)
    order: SQLColumnExpression[Any]
    columns: tuple[SQLColumnExpression[Any], ...] = (
        message_id,
        col(Message.type),
        func.substr(col(Message.content), 1, EXCERPT_SOURCE).label("content"),
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

    @property
    def opening(self) -> str:
        """The visitor's first line (what the chat was about), else the first message."""
        visitor = [m for m in self.messages if m.type.lower() == "user"]
        first = visitor or self.messages
        return first_line(first[0].content) if first else ""


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
            col(Lead.email),
            col(Lead.phone_number),
            col(Lead.session_id),
        )
        .where(and_(col(Lead.serial_number) == serial, col(Lead.session_id).in_(session_ids)))
        .order_by(col(Lead.id))
    ):
        linked.setdefault(lead.session_id, []).append(lead)
    return [
        Session(row, by_conversation[row.id], linked.get(row.session_id, []))
        for row in conversations
    ]


def _session_cursor(row: AnyRow) -> str:
    return Cursor(row.time, row.id).encode()


@dataclass
class WindowDetail:
    window: AnyRow
    chatbot_name: str
    sessions: list[Session]
    lead_count: int  # from all the day's sessions, not just this page's
    next_after: str | None


def window(connection: Connection, window_id: int, after: Cursor | None) -> WindowDetail | None:
    """One day's chat log with a page of its sessions, in the order they began."""
    found = connection.execute(
        select(inspect(ChatWindow).local_table).where(col(ChatWindow.id) == window_id)
    ).first()
    if found is None:
        return None
    statement = select(*CONVERSATION_COLUMNS, SESSION_TIME.label("time")).where(
        col(Conversation.window_id) == window_id
    )
    if after is not None:
        began = SESSION_TIME
        statement = statement.where(
            began >= after.when, or_(began > after.when, col(Conversation.id) > after.id)
        )
    statement = statement.order_by(SESSION_TIME, col(Conversation.id))
    page = read_page(connection, statement, SESSIONS_PER_PAGE, _session_cursor)
    return WindowDetail(
        found,
        chatbot_name(connection, found.serial_number) or found.name,
        sessions(connection, page.rows),
        lead_counts(connection, [window_id]).get(window_id, 0),
        page.next,
    )


@dataclass
class SessionDetail:
    row: AnyRow
    session: Session
    others: list[AnyRow]  # the same session in other daily logs


def session(connection: Connection, conversation_id: int) -> SessionDetail | None:
    row: AnyRow | None = connection.execute(
        select(
            *CONVERSATION_COLUMNS,
            col(ChatWindow.id).label("window_id"),
            col(ChatWindow.name),
            col(ChatWindow.start_time),
        )
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
