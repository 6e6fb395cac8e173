"""Chat logs: the chatbots with their days, a day's sessions as a messenger, message search."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web.context import web
from app.web.errors import NotFound
from app.web.paging import Cursor
from app.web.params import path_id, whole_number
from app.web.queries import conversations, search
from app.web.queries.conversations import ChatbotDays, Session
from app.web.textparts import Parts, excerpt, hit_parts

MAX_QUERY = 200


def _query(request: Request) -> str:
    return request.query_params.get("q", "").strip()[:MAX_QUERY]


def list_page(request: Request) -> Response:
    """A search across messages (``q``), one chatbot's days, or every chatbot's latest days."""
    app = web(request)
    chatbot = request.query_params.get("chatbot", "").strip()[:MAX_QUERY]
    q = _query(request)
    marks = search.highlight_terms(q)
    context: dict[str, Any] = {"chatbot": chatbot, "q": q, "results": [], "groups": []}
    # A day cursor is checked even where it is not used: bad input is a 400, never ignored.
    before_day = None if q else Cursor.param(request.query_params, "before")
    with app.db.read() as connection:
        context["chatbots"] = conversations.chatbots(connection)
        if q:
            before = whole_number(request.query_params, "before")
            found = conversations.search_messages(connection, q, chatbot, before)
            context["results"] = [(row, excerpt(row.content, marks)) for row in found.rows]
            next_before: object = found.next
        elif chatbot:
            days = conversations.windows(connection, chatbot, before_day)
            name = conversations.chatbot_name(connection, chatbot)
            context["groups"] = [ChatbotDays(chatbot, name, days.rows, len(days.rows))]
            next_before = days.next
        else:
            context["groups"] = conversations.chatbot_days(connection)
            next_before = None
        window_ids = [day.id for group in context["groups"] for day in group.days]
        context["lead_counts"] = conversations.lead_counts(connection, window_ids)
    context["next_args"] = (
        {"chatbot": chatbot, "q": q, "before": next_before} if next_before else None
    )
    context["paged"] = bool(request.query_params.get("before"))
    return app.render(request, "conversations.html", context)


def _marked(sessions: list[Session], words: list[str]) -> dict[int, Parts]:
    """Each message holding a searched word, cut into parts to show the hits."""
    marked: dict[int, Parts] = {}
    if not words:
        return marked
    for each in sessions:
        for message in each.messages:
            parts = hit_parts(message.content, words)
            if any(hit for _, hit in parts):
                marked[message.id] = parts
    return marked


def _clock(tz: ZoneInfo, day: date | None) -> Callable[[datetime | None], str]:
    """A session's start as the user's local time: "14:05", with the weekday when it is not
    on ``day`` (the local date the UTC day's log starts on)."""

    def label(moment: datetime | None) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(tz)
        return local.strftime("%H:%M" if local.date() == day else "%a %H:%M")

    return label


def _messenger(request: Request, sessions: list[Session], start: datetime | None) -> dict[str, Any]:
    """What the messenger view of these sessions needs: hits, opened sessions, local times."""
    tz = web(request).settings.tz
    q = _query(request)
    marked = _marked(sessions, search.highlight_terms(q))
    opened = {s.conversation.id for s in sessions if any(m.id in marked for m in s.messages)}
    day = start.astimezone(tz).date() if start else None
    return {"q": q, "marked": marked, "opened": opened, "clock": _clock(tz, day), "tz": str(tz)}


def window_page(request: Request) -> Response:
    app = web(request)
    window_id = path_id(request, "window_id")
    after = Cursor.param(request.query_params, "after")
    with app.db.read() as connection:
        found = conversations.window(connection, window_id, after)
    if found is None:
        raise NotFound("No such chat log.")
    context = {
        "window": found.window,
        "chatbot_name": found.chatbot_name,
        "sessions": found.sessions,
        "lead_count": found.lead_count,
        "next_after": found.next_after,
        "paged": after is not None,
        **_messenger(request, found.sessions, found.window.start_time),
    }
    return app.render(request, "window.html", context)


def session_page(request: Request) -> Response:
    app = web(request)
    conversation_id = path_id(request, "conversation_id")
    with app.db.read() as connection:
        found = conversations.session(connection, conversation_id)
    if found is None:
        raise NotFound("No such conversation.")
    context = {
        "row": found.row,
        "session": found.session,
        "others": found.others,
        **_messenger(request, [found.session], found.row.start_time),
    }
    return app.render(request, "session.html", context)


ROUTES = [
    Route("/conversations", list_page, methods=["GET"]),
    Route("/conversations/{window_id:id}", window_page, methods=["GET"]),
    Route("/sessions/{conversation_id:id}", session_page, methods=["GET"]),
]
