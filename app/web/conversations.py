"""Chat logs: the daily windows by chatbot and day, transcripts per session, message search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.engine import Row
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import Chatbot, ChatWindow, Conversation, Lead, Message, UTCDateTime
from app.web import leads, search
from app.web.context import web
from app.web.leads import Cursor, FilterError

WINDOWS_PER_PAGE = 60
SESSIONS_PER_PAGE = 25
RESULTS_PER_PAGE = 50


def _int_param(request: Request, name: str) -> int | None:
    value = request.query_params.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise HTTPException(400, f"{name}: expected a whole number")
    return int(value)


def list_page(request: Request) -> Response:
    app = web(request)
    chatbot = request.query_params.get("chatbot", "").strip()[:200]
    q = request.query_params.get("q", "").strip()[:200]
    before = request.query_params.get("before", "").strip()
    with app.db.read() as connection:
        chatbots = leads.chatbots(connection)
        if q:
            if before and not before.isdigit():
                raise HTTPException(400, "before: expected a whole number")
            results, next_before = _search(connection, q, chatbot, int(before) if before else None)
            windows: list[Row[Any]] = []
        else:
            try:
                cursor = Cursor.decode(before) if before else None
            except FilterError as exc:
                raise HTTPException(400, str(exc)) from None
            windows, next_before = _windows(connection, chatbot, cursor)
            results = []
    context = {
        "chatbots": chatbots,
        "chatbot": chatbot,
        "q": q,
        "windows": windows,
        "results": results,
        "marks": search.highlight_terms(q),
        "next_args": {"chatbot": chatbot, "q": q, "before": next_before} if next_before else None,
        "paged": bool(before),
    }
    return app.render(request, "conversations.html", context)


WINDOW_DAY = func.coalesce(ChatWindow.start_time, ChatWindow.received_at, type_=UTCDateTime())


def _windows(
    connection: Connection, chatbot: str, before: Cursor | None
) -> tuple[list[Row[Any]], str | None]:
    """Newest day first (a redelivered or late day sorts by its day, not by its arrival)."""
    statement = select(
        ChatWindow.id,
        ChatWindow.serial_number,
        ChatWindow.name,
        ChatWindow.start_time,
        ChatWindow.end_time,
        ChatWindow.conversation_count,
        ChatWindow.message_count,
        ChatWindow.complete,
        ChatWindow.received_at,
        WINDOW_DAY.label("day"),
    )
    if chatbot:
        statement = statement.where(ChatWindow.serial_number == chatbot)
    if before is not None:
        day = WINDOW_DAY
        statement = statement.where(
            day <= before.when, or_(day < before.when, ChatWindow.id < before.id)
        )
    statement = statement.order_by(WINDOW_DAY.desc(), ChatWindow.id.desc())
    rows = list(connection.execute(statement.limit(WINDOWS_PER_PAGE + 1)))
    more = len(rows) > WINDOWS_PER_PAGE
    rows = rows[:WINDOWS_PER_PAGE]
    return rows, Cursor(rows[-1].day, rows[-1].id).encode() if more else None


def _search(
    connection: Connection, q: str, chatbot: str, before: int | None
) -> tuple[list[Row[Any]], str | None]:
    """Newest messages first; on SQLite driven from the FTS table (see search.fts_source)."""
    fts = search.fts_source(connection, "message_fts", q)
    columns = (
        Message.id,
        Message.type,
        func.substr(Message.content, 1, 400).label("content"),
        Conversation.id.label("conversation_id"),
        Conversation.session_id,
        Conversation.created_at,
        ChatWindow.id.label("window_id"),
        ChatWindow.serial_number,
        ChatWindow.name,
        ChatWindow.start_time,
    )
    if fts is not None:
        source, match = fts
        order = source.c.rowid
        statement = select(*columns).select_from(source.join(Message, Message.id == order))
        statement = statement.where(match)
    else:
        matches = search.message_matches(connection, q)
        if matches is None:
            return [], None
        order = Message.id
        statement = select(*columns).select_from(Message).where(matches)
    statement = statement.join(Conversation, Conversation.id == Message.conversation_id).join(
        ChatWindow, ChatWindow.id == Conversation.window_id
    )
    if chatbot:
        statement = statement.where(ChatWindow.serial_number == chatbot)
    if before is not None:
        statement = statement.where(order < before)
    rows = list(connection.execute(statement.order_by(order.desc()).limit(RESULTS_PER_PAGE + 1)))
    more = len(rows) > RESULTS_PER_PAGE
    rows = rows[:RESULTS_PER_PAGE]
    return rows, str(rows[-1].id) if more else None


@dataclass
class Session:
    conversation: Row[Any]
    messages: list[Row[Any]]
    leads: list[Row[Any]]


def _sessions(connection: Connection, conversations: list[Row[Any]]) -> list[Session]:
    """Each conversation with its messages and any lead from the same chat session."""
    if not conversations:
        return []
    ids = [row.id for row in conversations]
    by_conversation: dict[int, list[Row[Any]]] = {i: [] for i in ids}
    for message in connection.execute(
        select(Message.id, Message.conversation_id, Message.type, Message.content)
        .where(Message.conversation_id.in_(ids))
        .order_by(Message.conversation_id, Message.position, Message.id)
    ):
        by_conversation[message.conversation_id].append(message)
    serial = conversations[0].serial_number
    sessions = [row.session_id for row in conversations]
    linked: dict[int, list[Row[Any]]] = {}
    for lead in connection.execute(
        select(Lead.id, Lead.type, Lead.first_name, Lead.last_name, Lead.session_id).where(
            and_(Lead.serial_number == serial, Lead.session_id.in_(sessions))
        )
    ):
        linked.setdefault(lead.session_id, []).append(lead)
    return [
        Session(row, by_conversation[row.id], linked.get(row.session_id, []))
        for row in conversations
    ]


CONVERSATION_COLUMNS = (
    Conversation.id,
    Conversation.serial_number,
    Conversation.session_id,
    Conversation.created_at,
    Conversation.create_time_raw,
    Conversation.uri,
    Conversation.message_count,
)


def window_page(request: Request) -> Response:
    app = web(request)
    window_id = int(request.path_params["window_id"])
    after = _int_param(request, "after")
    with app.db.read() as connection:
        window = connection.execute(
            select(ChatWindow.__table__).where(ChatWindow.id == window_id)
        ).first()
        if window is None:
            raise HTTPException(404, "No such chat log.")
        chatbot_name = connection.execute(
            select(Chatbot.name).where(Chatbot.serial_number == window.serial_number)
        ).scalar()
        statement = select(*CONVERSATION_COLUMNS).where(Conversation.window_id == window_id)
        if after is not None:
            statement = statement.where(Conversation.id > after)
        rows = list(
            connection.execute(statement.order_by(Conversation.id).limit(SESSIONS_PER_PAGE + 1))
        )
        more = len(rows) > SESSIONS_PER_PAGE
        rows = rows[:SESSIONS_PER_PAGE]
        sessions = _sessions(connection, rows)
    context = {
        "window": window,
        "chatbot_name": window.name or chatbot_name or "",
        "sessions": sessions,
        "next_after": rows[-1].id if more and rows else None,
        "paged": after is not None,
    }
    return app.render(request, "window.html", context)


def session_page(request: Request) -> Response:
    app = web(request)
    conversation_id = int(request.path_params["conversation_id"])
    with app.db.read() as connection:
        row = connection.execute(
            select(*CONVERSATION_COLUMNS, ChatWindow.id.label("window_id"), ChatWindow.name)
            .join(ChatWindow, ChatWindow.id == Conversation.window_id)
            .where(Conversation.id == conversation_id)
        ).first()
        if row is None:
            raise HTTPException(404, "No such conversation.")
        sessions = _sessions(connection, [row])
        # The same session in other daily logs (a chat that went on past midnight UTC).
        others = connection.execute(
            select(Conversation.id, ChatWindow.start_time)
            .join(ChatWindow, ChatWindow.id == Conversation.window_id)
            .where(
                Conversation.serial_number == row.serial_number,
                Conversation.session_id == row.session_id,
                Conversation.id != row.id,
            )
            .order_by(ChatWindow.start_time)
        ).all()
    context = {"row": row, "session": sessions[0], "others": others}
    return app.render(request, "session.html", context)


ROUTES = [
    Route("/conversations", list_page, methods=["GET"]),
    Route("/conversations/{window_id:int}", window_page, methods=["GET"]),
    Route("/sessions/{conversation_id:int}", session_page, methods=["GET"]),
]
