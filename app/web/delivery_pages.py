"""Every webhook attempt: the log, one delivery with its raw body, reprocessing, the quarantine."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, func, select
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.deliveries import (
    NotInQuarantine,
    accept_from_quarantine,
    discard_from_quarantine,
    mark_for_reprocessing,
)
from app.models import STORED_BODY, ChatWindow, Delivery, Lead, Outcome, ProcessStatus
from app.web.context import flash, redirect, web

PER_PAGE = 50
SHOWN_BODY_BYTES = 1024 * 1024  # pretty-printed in the page; larger bodies show their start
PREVIEW_BYTES = 64 * 1024

VIEWS = {
    "all": None,
    "accepted": Delivery.outcome.in_((Outcome.ACCEPTED, Outcome.DUPLICATE)),
    "refused": Delivery.outcome.in_((Outcome.REJECTED, Outcome.QUARANTINED)),
    "quarantine": Delivery.outcome == Outcome.QUARANTINED,
    "failed": Delivery.process_status == ProcessStatus.FAILED,
}

LIST_COLUMNS = (
    Delivery.id,
    Delivery.received_at,
    Delivery.client_ip,
    Delivery.outcome,
    Delivery.status_code,
    Delivery.reason,
    Delivery.kind,
    Delivery.signed_form,
    Delivery.key_number,
    Delivery.body_size,
    Delivery.process_status,
    Delivery.process_error,
    Delivery.record_count,
    Delivery.duplicate_of,
)


def list_page(request: Request) -> Response:
    app = web(request)
    view = request.query_params.get("view", "all")
    if view not in VIEWS:
        raise HTTPException(400, f"view: must be one of {', '.join(VIEWS)}")
    before = request.query_params.get("before", "").strip()
    if before and not before.isdigit():
        raise HTTPException(400, "before: expected a whole number")
    statement = select(*LIST_COLUMNS)
    condition = VIEWS[view]
    if condition is not None:
        statement = statement.where(condition)
    if before:
        statement = statement.where(Delivery.id < int(before))
    statement = statement.order_by(Delivery.id.desc()).limit(PER_PAGE + 1)
    with app.db.read() as connection:
        rows = list(connection.execute(statement))
        quarantined = connection.execute(
            select(func.count()).where(Delivery.outcome == Outcome.QUARANTINED)
        ).scalar()
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    context = {
        "rows": rows,
        "view": view,
        "views": list(VIEWS),
        "quarantined": quarantined,
        "next_before": rows[-1].id if more else None,
        "paged": bool(before),
    }
    return app.render(request, "deliveries.html", context)


def pretty_body(body: bytes, total_size: int) -> tuple[str, bool]:
    """The body for reading: indented if it is JSON, else as text; True if cut short.

    Escaping is the template's job (autoescape); nothing here is trusted as markup.
    """
    if total_size > SHOWN_BODY_BYTES or len(body) < total_size:
        return body[:PREVIEW_BYTES].decode("utf-8", "replace"), True
    text = body.decode("utf-8", "replace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), False
    except (ValueError, RecursionError):
        return text, False


def detail_page(request: Request) -> Response:
    app = web(request)
    delivery_id = int(request.path_params["delivery_id"])
    columns = [c for c in Delivery.__table__.columns if c.name != "body"]
    with app.db.read() as connection:
        row = connection.execute(select(*columns).where(Delivery.id == delivery_id)).first()
        if row is None:
            raise HTTPException(404, "No such delivery.")
        source = row.duplicate_of or row.id
        shown = connection.execute(
            select(func.substr(STORED_BODY, 1, SHOWN_BODY_BYTES + 1)).where(Delivery.id == source)
        ).scalar()
        records = _records(connection, source)
    body, cut = pretty_body(bytes(shown or b""), row.body_size)
    context = {
        "row": row,
        "body": body,
        "body_cut": cut or bool(row.body_truncated),
        "has_body": shown is not None,
        "records": records,
        "can_reprocess": row.outcome == Outcome.ACCEPTED,
        "in_quarantine": row.outcome == Outcome.QUARANTINED,
    }
    return app.render(request, "delivery.html", context)


def _records(connection: Connection, delivery_id: int) -> dict[str, list[Any]]:
    """What this delivery became: its leads, or its chat-log windows."""
    found_leads = connection.execute(
        select(Lead.id, Lead.type, Lead.first_name, Lead.last_name)
        .where(Lead.delivery_id == delivery_id)
        .limit(50)
    ).all()
    windows = connection.execute(
        select(ChatWindow.id, ChatWindow.name, ChatWindow.start_time, ChatWindow.message_count)
        .where(ChatWindow.delivery_id == delivery_id)
        .limit(50)
    ).all()
    return {"leads": list(found_leads), "windows": list(windows)}


def raw_body(request: Request) -> Response:
    """The stored bytes as a download: never rendered by the browser (nosniff, attachment)."""
    app = web(request)
    delivery_id = int(request.path_params["delivery_id"])
    with app.db.read() as connection:
        stored = select(STORED_BODY.label("body"), Delivery.duplicate_of)
        row = connection.execute(stored.where(Delivery.id == delivery_id)).first()
        if row is not None and row.body is None and row.duplicate_of:
            row = connection.execute(stored.where(Delivery.id == row.duplicate_of)).first()
    if row is None or row.body is None:
        raise HTTPException(404, "No stored body for this delivery.")
    return Response(
        bytes(row.body),
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="delivery-{delivery_id}.json"'},
    )


async def reprocess(request: Request) -> Response:
    app = web(request)
    delivery_id = int(request.path_params["delivery_id"])
    await app.db.writer.run(lambda c: mark_for_reprocessing(c, [delivery_id]))
    app.wake_processor()
    flash(request, f"Delivery {delivery_id} is queued to be processed again.")
    return redirect(f"/deliveries/{delivery_id}")


async def accept(request: Request) -> Response:
    app = web(request)
    delivery_id = int(request.path_params["delivery_id"])
    try:
        stored = await app.db.writer.run(lambda c: accept_from_quarantine(c, delivery_id))
    except NotInQuarantine:
        raise HTTPException(404, "That delivery is not in the quarantine.") from None
    if stored.pending:  # a large body: the background processor takes it from here
        app.wake_processor()
    done = "is being processed" if stored.pending else "was processed"
    flash(request, f"Delivery {delivery_id} accepted from the quarantine; it {done}.")
    return redirect(f"/deliveries/{delivery_id}")


async def discard(request: Request) -> Response:
    app = web(request)
    delivery_id = int(request.path_params["delivery_id"])
    try:
        await app.db.writer.run(lambda c: discard_from_quarantine(c, delivery_id))
    except NotInQuarantine:
        raise HTTPException(404, "That delivery is not in the quarantine.") from None
    flash(request, f"Delivery {delivery_id} discarded.")
    return redirect("/deliveries?view=quarantine")


ROUTES = [
    Route("/deliveries", list_page, methods=["GET"]),
    Route("/deliveries/{delivery_id:int}", detail_page, methods=["GET"]),
    Route("/deliveries/{delivery_id:int}/raw", raw_body, methods=["GET"]),
    Route("/deliveries/{delivery_id:int}/reprocess", reprocess, methods=["POST"]),
    Route("/deliveries/{delivery_id:int}/accept", accept, methods=["POST"]),
    Route("/deliveries/{delivery_id:int}/discard", discard, methods=["POST"]),
]
