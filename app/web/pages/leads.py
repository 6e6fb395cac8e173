"""The inbox (leads and appointments) and one lead: status workflow and notes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import LEAD_STATUSES
from app.web.context import flash, redirect, safe_next, web
from app.web.errors import BadParameter, NotFound
from app.web.paging import AnyRow
from app.web.params import path_id
from app.web.queries import forwarding, lead_place, leads, search, triage
from app.web.queries.lead_filter import STATUS_CHOICES, TYPES, LeadFilter

MAX_NOTE_CHARS = 10_000
STATUS_LABELS = {"new": "New", "contacted": "Contacted", "done": "Done", "archived": "Archived"}
# The next step of the workflow, offered as the main button on a lead.
NEXT_STEP = {"new": "contacted", "contacted": "done"}
PUSH_HOUR_UTC = time(2, 0, tzinfo=UTC)  # the vendor pushes each UTC day's chat logs after this


def inbox(request: Request) -> Response:
    app = web(request)
    try:
        where = LeadFilter.parse(request.query_params)
    except BadParameter as exc:  # the inbox names the filter, not the request, as the problem
        context = {"title": "That filter does not work", "message": str(exc)}
        return app.render(request, "error.html", context, status=400)
    tz = app.settings.tz
    with app.db.read() as connection:
        page = lead_place.list_page(connection, where, tz)
        total = lead_place.total(connection, where, tz, page)
        chatbots = leads.chatbots(connection)
    listed: dict[str, Any] = {
        **rows_context(where),
        "where": where,
        "rows": page.rows,
        "total": total,
        "count_cap": lead_place.COUNT_CAP,
        "first_shown": page.before + 1,
        "older_args": where.query_args(cursor=page.older, newer=None) if page.older else None,
        "newer_args": where.query_args(cursor=None, newer=page.newer) if page.newer else None,
        "newest_args": where.everywhere.query_args() if page.newer else None,
        "export_args": where.everywhere.query_args(),
        # Live only where new rows belong: on the newest page (a search's too).
        "live": page.newer is None,
        "top": leads.cursor_of(page.rows[0]).encode() if page.rows else "",
        "chatbots": chatbots,
        "types": TYPES,
        "statuses": STATUS_CHOICES,
    }
    return app.render(request, "inbox.html", listed)


def rows_context(where: LeadFilter) -> dict[str, Any]:
    """What the row macro needs, for the page and the live rows alike."""
    return {
        "labels": STATUS_LABELS,
        "marks": search.highlight_terms(where.q),
        "from_list": where,
    }


def lead_page(request: Request) -> Response:
    app = web(request)
    lead_id = path_id(request, "lead_id")
    came_from = LeadFilter.from_query(request.query_params.get("from", "")) or LeadFilter()
    with app.db.read() as connection:
        found = leads.detail(connection, lead_id)
        if found is None:
            raise NotFound("No such lead.")
        forwards = forwarding.for_lead(connection, lead_id)
        here = leads.place_of(found.lead)
        newer, older = lead_place.neighbours(connection, came_from, app.settings.tz, here)
    if found.lead.seen_at is None:
        app.db.writer.run_sync(lambda c: triage.mark_seen(c, lead_id))
    context = {
        "forwards": forwards,
        "item": found,
        "lead": found.lead,
        "labels": STATUS_LABELS,
        "statuses": LEAD_STATUSES,
        "next_step": NEXT_STEP.get(found.lead.status),
        "push_due": push_due(found.lead, app.settings.tz),
        "back": came_from.list_href,
        "previous_href": came_from.lead_href(newer) if newer else None,
        "next_href": came_from.lead_href(older) if older else None,
    }
    return app.render(request, "lead.html", context)


def push_due(lead: AnyRow, tz: ZoneInfo) -> str | None:
    """When the chat-log push that carries this lead's conversation is due, in the reader's
    time zone ("04:00 CEST tomorrow"); None once it is past. The vendor pushes a UTC day's
    chat logs after 02:00 UTC the next day.
    """
    made: datetime = lead.created_at or lead.received_at
    due = datetime.combine(made.astimezone(UTC).date() + timedelta(1), PUSH_HOUR_UTC)
    now = datetime.now(UTC)
    if due <= now:
        return None
    local, today = due.astimezone(tz), now.astimezone(tz).date()
    clock = local.strftime("%H:%M %Z")
    if local.date() == today:
        return f"{clock} today"
    if local.date() == today + timedelta(1):
        return f"{clock} tomorrow"
    return f"{clock} on {local.strftime('%a')} {local.day} {local.strftime('%b')}"


async def set_status(request: Request) -> Response:
    app = web(request)
    lead_id = path_id(request, "lead_id")
    form = await request.form()
    status = str(form.get("status", ""))
    if status not in LEAD_STATUSES:
        raise HTTPException(400, f"status must be one of {', '.join(LEAD_STATUSES)}")
    if not await app.db.writer.run(lambda c: triage.set_status(c, lead_id, status)):
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
    if not await app.db.writer.run(lambda c: triage.add_note(c, lead_id, body)):
        raise NotFound("No such lead.")
    flash(request, "Note added.")
    return redirect(f"/leads/{lead_id}#notes")


ROUTES = [
    Route("/", inbox, methods=["GET"]),
    Route("/leads/{lead_id:id}", lead_page, methods=["GET"]),
    Route("/leads/{lead_id:id}/status", set_status, methods=["POST"]),
    Route("/leads/{lead_id:id}/notes", add_note, methods=["POST"]),
]
