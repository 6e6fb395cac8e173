"""Working through the inbox fast: one form that changes many leads at once, and the small JSON
the open inbox polls for rows that arrived since it was drawn.

Polling, not Server-Sent Events: a request every few seconds passes every reverse proxy in
docs/reverse-proxy.md as it is configured there (no buffering or timeout to change), holds no
connection open (``app/edge.py`` evicts the longest-silent connection when it is full, which an
idle event stream would be), and costs one indexed read that finds nothing most of the time.
"""

from __future__ import annotations

from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.web.context import flash, redirect, web
from app.web.errors import BadParameter
from app.web.pages.leads import rows_context
from app.web.paging import Cursor
from app.web.queries import lead_place, leads, triage
from app.web.queries.lead_filter import MAX_PAGE_SIZE, LeadFilter
from app.web.safe import SafeJSONResponse

ACTIONS = {
    "contacted": "marked contacted",
    "done": "marked done",
    "archived": "archived",
    "new": "back to new",
    triage.SEEN: "marked seen",
}
SCOPES = ("selected", "matching", "unseen")


def _chosen_ids(form: FormData) -> list[int]:
    texts = form.getlist("lead")
    if len(texts) > MAX_PAGE_SIZE:
        raise HTTPException(400, f"at most {MAX_PAGE_SIZE} leads at a time: select all matching")
    try:
        ids = [int(str(text)) for text in texts]
    except ValueError:
        raise HTTPException(400, "lead: not a lead id") from None
    if any(not 0 < ident < 2**63 for ident in ids):
        raise HTTPException(400, "lead: not a lead id")
    return ids


async def bulk(request: Request) -> Response:
    """Apply one action to the chosen leads, in one writer job, and go back to the list."""
    app = web(request)
    form = await request.form()
    action, scope = str(form.get("action", "")), str(form.get("scope") or "selected")
    if action not in ACTIONS:
        raise HTTPException(400, f"action must be one of {', '.join(ACTIONS)}")
    if scope not in SCOPES:
        raise HTTPException(400, f"scope must be one of {', '.join(SCOPES)}")
    where = LeadFilter.from_query(str(form.get("list", "")))
    if where is None:
        raise HTTPException(400, "list: not a filter of the inbox")
    back = where.list_href
    ids = _chosen_ids(form)
    if scope == "selected" and not ids:
        flash(request, "Nothing was selected.", "error")
        return redirect(back)
    tz = app.settings.tz

    def job(connection: Connection) -> int:
        if scope == "matching":
            chosen = triage.everything_matching(connection, where, tz)
        elif scope == "unseen":
            chosen = triage.every_unseen()
        else:
            chosen = triage.selected(ids)
        return triage.apply(connection, action, chosen)

    changed = await app.db.writer.run(job)
    flash(request, f"{changed} lead{'' if changed == 1 else 's'} {ACTIONS[action]}.")
    return redirect(back)


def live(request: Request) -> Response:
    """Rows newer than ``top`` that the list's filter matches, drawn by the list's own macro,
    and the badge's count (which also goes into the tab title)."""
    app = web(request)
    try:
        where = LeadFilter.parse(request.query_params)
        top = Cursor.param(request.query_params, "top")
    except BadParameter as exc:
        return SafeJSONResponse({"status": "error", "error": str(exc)}, 400)
    top_text = request.query_params.get("top", "").strip()
    with app.db.read() as connection:
        rows = lead_place.arrivals(connection, where, app.settings.tz, top)
        new_count = leads.count_new(connection)
    context = {**rows_context(where.everywhere), "rows": rows}
    html = app.env.get_template("_lead_rows.html").render(context) if rows else ""
    return SafeJSONResponse(
        {
            "rows": html,
            "added": len(rows),
            "top": leads.cursor_of(rows[0]).encode() if rows else top_text,
            "new_count": new_count,
        }
    )


ROUTES = [
    Route("/leads/bulk", bulk, methods=["POST"]),
    Route("/leads/live", live, methods=["GET"]),
]
