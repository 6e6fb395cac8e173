"""The inbox (leads and appointments) and one lead: status workflow and notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import LEAD_STATUSES
from app.web.context import flash, redirect, safe_next, web
from app.web.errors import BadParameter, NotFound
from app.web.params import path_id
from app.web.queries import forwarding, leads, search
from app.web.queries.lead_filter import STATUS_CHOICES, TYPES, LeadFilter

MAX_NOTE_CHARS = 10_000
STATUS_LABELS = {"new": "New", "contacted": "Contacted", "done": "Done", "archived": "Archived"}
# The next step of the workflow, offered as the main button on a lead.
NEXT_STEP = {"new": "contacted", "contacted": "done"}


def inbox(request: Request) -> Response:
    app = web(request)
    try:
        where = LeadFilter.parse(request.query_params)
    except BadParameter as exc:  # the inbox names the filter, not the request, as the problem
        context = {"title": "That filter does not work", "message": str(exc)}
        return app.render(request, "error.html", context, status=400)
    with app.db.read() as connection:
        page = leads.page(connection, where, app.settings.tz)
        chatbots = leads.chatbots(connection)
    listed: dict[str, Any] = {
        "where": where,
        "rows": page.rows,
        "next_args": where.query_args(cursor=page.next) if page.next else None,
        "first_args": where.query_args(cursor=None) if where.cursor else None,
        "export_args": where.query_args(cursor=None),
        "chatbots": chatbots,
        "types": TYPES,
        "statuses": STATUS_CHOICES,
        "labels": STATUS_LABELS,
        "marks": search.highlight_terms(where.q),
    }
    return app.render(request, "inbox.html", listed)


def lead_page(request: Request) -> Response:
    app = web(request)
    lead_id = path_id(request, "lead_id")
    with app.db.read() as connection:
        found = leads.detail(connection, lead_id)
        forwards = forwarding.for_lead(connection, lead_id)
    if found is None:
        raise NotFound("No such lead.")
    context = {
        "forwards": forwards,
        "item": found,
        "lead": found.lead,
        "labels": STATUS_LABELS,
        "statuses": LEAD_STATUSES,
        "next_step": NEXT_STEP.get(found.lead.status),
        "push_local": _push_time_local(app.settings.tz),
    }
    return app.render(request, "lead.html", context)


def _push_time_local(tz: ZoneInfo) -> str:
    """02:00 UTC, the daily chat-log push, told in the reader's own time zone."""
    push = datetime.now(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    return push.astimezone(tz).strftime("%H:%M %Z")


async def set_status(request: Request) -> Response:
    app = web(request)
    lead_id = path_id(request, "lead_id")
    form = await request.form()
    status = str(form.get("status", ""))
    if status not in LEAD_STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(LEAD_STATUSES)}")
    if not await app.db.writer.run(lambda c: leads.set_status(c, lead_id, status)):
        raise NotFound("No such lead.")
    flash(request, f"Marked {STATUS_LABELS[status].lower()}.")
    return redirect(safe_next(str(form.get("next", "")), f"/leads/{lead_id}"))


async def add_note(request: Request) -> Response:
    app = web(request)
    lead_id = path_id(request, "lead_id")
    form = await request.form()
    body = str(form.get("body", "")).strip()
    if not body:
        flash(request, "An empty note was not saved.", "error")
        return redirect(f"/leads/{lead_id}#notes")
    if len(body) > MAX_NOTE_CHARS:
        raise HTTPException(400, f"a note holds at most {MAX_NOTE_CHARS} characters")
    if not await app.db.writer.run(lambda c: leads.add_note(c, lead_id, body)):
        raise NotFound("No such lead.")
    flash(request, "Note added.")
    return redirect(f"/leads/{lead_id}#notes")


ROUTES = [
    Route("/", inbox, methods=["GET"]),
    Route("/leads/{lead_id:id}", lead_page, methods=["GET"]),
    Route("/leads/{lead_id:id}/status", set_status, methods=["POST"]),
    Route("/leads/{lead_id:id}/notes", add_note, methods=["POST"]),
]
