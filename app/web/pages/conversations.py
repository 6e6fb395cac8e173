"""Chat logs: the daily windows by chatbot and day, transcripts per session, message search."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web.context import web
from app.web.errors import NotFound
from app.web.paging import Cursor, Page
from app.web.params import path_id, whole_number
from app.web.queries import conversations, leads, search


def list_page(request: Request) -> Response:
    """Either a search across messages (``q``) or the days' logs, newest first."""
    app = web(request)
    params = request.query_params
    chatbot = params.get("chatbot", "").strip()[:200]
    q = params.get("q", "").strip()[:200]
    before = params.get("before", "").strip()
    with app.db.read() as connection:
        chatbots = leads.chatbots(connection)
        if q:
            after_id = whole_number(params, "before")
            results: Page[Any] = conversations.search_messages(connection, q, chatbot, after_id)
            windows: Page[Any] = Page([], None)
        else:
            cursor = Cursor.decode(before, "before") if before else None
            windows = conversations.windows(connection, chatbot, cursor)
            results = Page([], None)
    next_before = windows.next or results.next
    context = {
        "chatbots": chatbots,
        "chatbot": chatbot,
        "q": q,
        "windows": windows.rows,
        "results": results.rows,
        "marks": search.highlight_terms(q),
        "next_args": {"chatbot": chatbot, "q": q, "before": next_before} if next_before else None,
        "paged": bool(before),
    }
    return app.render(request, "conversations.html", context)


def window_page(request: Request) -> Response:
    app = web(request)
    window_id = path_id(request, "window_id")
    after = whole_number(request.query_params, "after")
    with app.db.read() as connection:
        found = conversations.window(connection, window_id, after)
    if found is None:
        raise NotFound("No such chat log.")
    context = {
        "window": found.window,
        "chatbot_name": found.chatbot_name,
        "sessions": found.sessions,
        "next_after": found.next_after,
        "paged": after is not None,
    }
    return app.render(request, "window.html", context)


def session_page(request: Request) -> Response:
    app = web(request)
    conversation_id = path_id(request, "conversation_id")
    with app.db.read() as connection:
        found = conversations.session(connection, conversation_id)
    if found is None:
        raise NotFound("No such conversation.")
    context = {"row": found.row, "session": found.session, "others": found.others}
    return app.render(request, "session.html", context)


ROUTES = [
    Route("/conversations", list_page, methods=["GET"]),
    Route("/conversations/{window_id:id}", window_page, methods=["GET"]),
    Route("/sessions/{conversation_id:id}", session_page, methods=["GET"]),
]
