"""Read-only JSON API for scripts and Home Assistant (``Authorization: Bearer <API_TOKEN>``,
checked in ``auth.AuthMiddleware``). Documented in docs/api.md.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web.context import web
from app.web.errors import NotFound
from app.web.paging import AnyRow
from app.web.params import path_id
from app.web.queries import leads
from app.web.queries.lead_filter import LeadFilter
from app.web.safe import SafeJSONResponse

MAX_LIMIT = 200


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def lead_json(lead: AnyRow, chatbot_name: str | None) -> dict[str, Any]:
    return {
        "id": lead.id,
        "type": lead.type,
        "status": lead.status,
        "first_name": lead.first_name,
        "last_name": lead.last_name,
        "email": lead.email,
        "phone_number": lead.phone_number,
        "content": lead.content,
        "created_at": iso(lead.created_at),
        "create_time_raw": lead.create_time_raw,
        "received_at": iso(lead.received_at),
        "chatbot": {"serial_number": lead.serial_number, "name": chatbot_name or ""},
        "session_id": lead.session_id,
        "uri": lead.uri,
        "extra": lead.extra,
    }


def list_leads(request: Request) -> Response:
    app = web(request)
    where = LeadFilter.parse(request.query_params, max_limit=MAX_LIMIT)  # or 400: BadParameter
    with app.db.read() as connection:
        page = leads.page(connection, where, app.settings.tz)
        ids = [row.id for row in page.rows]
        found = leads.with_chatbot(connection, ids)
        new_count = leads.count_new(connection)
    items = [lead_json(found[i], found[i].chatbot_name) for i in ids if i in found]
    return SafeJSONResponse(
        {
            "leads": items,
            "next_cursor": page.next.encode() if page.next else None,
            "new_count": new_count,
        }
    )


def get_lead(request: Request) -> Response:
    app = web(request)
    with app.db.read() as connection:
        found = leads.detail(connection, path_id(request, "lead_id"))
    if found is None:
        raise NotFound("no such lead")
    body = lead_json(found.lead, found.chatbot_name)
    body["notes"] = [
        {"id": note.id, "created_at": iso(note.created_at), "body": note.body}
        for note in found.notes
    ]
    body["transcript"] = [
        {
            "conversation_id": t.conversation_id,
            "chat_log_day": iso(t.day),
            "created_at": iso(t.created_at),
            "uri": t.uri,
            "messages": [{"type": m.type, "content": m.content} for m in t.messages],
        }
        for t in found.transcripts
    ]
    return SafeJSONResponse(body)


ROUTES = [
    Route("/api/leads", list_leads, methods=["GET"]),
    Route("/api/leads/{lead_id:id}", get_lead, methods=["GET"]),
]
