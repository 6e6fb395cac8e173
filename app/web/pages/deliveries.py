"""Every webhook attempt: the log, one delivery with its raw body, reprocessing, the quarantine."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.deliveries import accept_from_quarantine, discard_from_quarantine, mark_for_reprocessing
from app.models import Outcome
from app.recheck import recheck_quarantine
from app.web.context import flash, redirect, web
from app.web.errors import BadParameter, NotFound
from app.web.params import path_id, whole_number
from app.web.queries import deliveries
from app.web.queries.deliveries import VIEWS

SHOWN_BODY_BYTES = 1024 * 1024  # pretty-printed in the page; larger bodies show their start
PREVIEW_BYTES = 64 * 1024


def list_page(request: Request) -> Response:
    app = web(request)
    view = request.query_params.get("view", "all")
    if view not in VIEWS:
        raise BadParameter(f"view: must be one of {', '.join(VIEWS)}")
    before = whole_number(request.query_params, "before")
    with app.db.read() as connection:
        page = deliveries.listing(connection, view, before)
        quarantined = deliveries.quarantined(connection)
    context = {
        "rows": page.rows,
        "view": view,
        "views": list(VIEWS),
        "quarantined": quarantined,
        "next_before": page.next,
        "paged": before is not None,
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
    delivery_id = path_id(request, "delivery_id")
    with app.db.read() as connection:
        found = deliveries.detail(connection, delivery_id, SHOWN_BODY_BYTES)
    if found is None:
        raise NotFound("No such delivery.")
    row = found.row
    body, cut = pretty_body(found.shown or b"", row.body_size)
    context = {
        "row": row,
        "body": body,
        "body_cut": cut or bool(row.body_truncated),
        "has_body": found.shown is not None,
        "records": {"leads": found.leads, "windows": found.windows},
        "can_reprocess": row.outcome == Outcome.ACCEPTED,
        "in_quarantine": row.outcome == Outcome.QUARANTINED,
    }
    return app.render(request, "delivery.html", context)


def raw_body(request: Request) -> Response:
    """The stored bytes as a download: never rendered by the browser (nosniff, attachment)."""
    app = web(request)
    delivery_id = path_id(request, "delivery_id")
    with app.db.read() as connection:
        body = deliveries.stored_body(connection, delivery_id)
    if body is None:
        raise NotFound("No stored body for this delivery.")
    return Response(
        body,
        media_type="application/octet-stream",
        headers={"content-disposition": f'attachment; filename="delivery-{delivery_id}.json"'},
    )


async def reprocess(request: Request) -> Response:
    app = web(request)
    delivery_id = path_id(request, "delivery_id")
    await app.db.writer.run(lambda c: mark_for_reprocessing(c, [delivery_id]))
    app.wake_processor()
    flash(request, f"Delivery {delivery_id} is queued to be processed again.")
    return redirect(f"/deliveries/{delivery_id}")


async def accept(request: Request) -> Response:
    """Raises ``NotInQuarantine`` (answered 404) if another click took it first."""
    app = web(request)
    delivery_id = path_id(request, "delivery_id")
    stored = await app.db.writer.run(lambda c: accept_from_quarantine(c, delivery_id))
    if stored.pending:  # a large body: the background processor takes it from here
        app.wake_processor()
    done = "is being processed" if stored.pending else "was processed"
    flash(request, f"Delivery {delivery_id} accepted from the quarantine; it {done}.")
    return redirect(f"/deliveries/{delivery_id}")


async def recheck(request: Request) -> Response:
    """Verify the quarantine again with the Sign Keys in force; accept what matches."""
    app = web(request)
    if not app.live.keys_in_force():
        flash(request, "No Sign Key in force: add one under Settings first.", "error")
        return redirect("/deliveries?view=quarantine")
    result = await recheck_quarantine(app.db, app.live, lambda _: app.wake_processor())
    if result.accepted:
        what = "delivery was" if result.accepted == 1 else "deliveries were"
        flash(
            request,
            f"Re-checked {result.checked} signed deliveries: {result.accepted} {what} "
            "verified with a Sign Key in force and accepted.",
        )
    else:
        flash(
            request,
            f"Re-checked {result.checked} signed deliveries: none verifies with the Sign Keys "
            "in force.",
        )
    return redirect("/deliveries?view=quarantine")


async def discard(request: Request) -> Response:
    app = web(request)
    delivery_id = path_id(request, "delivery_id")
    await app.db.writer.run(lambda c: discard_from_quarantine(c, delivery_id))
    flash(request, f"Delivery {delivery_id} discarded.")
    return redirect("/deliveries?view=quarantine")


ROUTES = [
    Route("/deliveries", list_page, methods=["GET"]),
    Route("/deliveries/recheck", recheck, methods=["POST"]),
    Route("/deliveries/{delivery_id:id}", detail_page, methods=["GET"]),
    Route("/deliveries/{delivery_id:id}/raw", raw_body, methods=["GET"]),
    Route("/deliveries/{delivery_id:id}/reprocess", reprocess, methods=["POST"]),
    Route("/deliveries/{delivery_id:id}/accept", accept, methods=["POST"]),
    Route("/deliveries/{delivery_id:id}/discard", discard, methods=["POST"]),
]
