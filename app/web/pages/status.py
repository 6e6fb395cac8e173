"""Setup and status: the URL for Hello Client, key and allowlist state, the last delivery, a
signed test lead through the real endpoint, the calendar link, and the admin account.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app import sender, shapes
from app.config import Settings
from app.signature import key_fingerprint
from app.web import store
from app.web.auth import token_sha256
from app.web.context import flash, redirect, web
from app.web.queries import status as queries
from app.web.queries.status import STATS_DAYS
from app.web.security import is_https


def base_url(request: Request, settings: Settings) -> tuple[str, bool]:
    """BASE_URL, or this request's own origin (True when derived, so the page can say so)."""
    if settings.base_url:
        return settings.base_url, False
    scheme = "https" if is_https(request, settings) else "http"
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{scheme}://{host}", True


def _page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    app = web(request)
    settings = app.settings
    base, derived = base_url(request, settings)
    with app.db.read() as connection:
        stats = queries.stats(connection)
    stats["allow_hits"] = stats["recent_total"] - stats["allow_misses"]
    context = {
        "webhook_url": f"{base}/webhook",
        "derived": derived,
        "base": base,
        "key_fingerprints": [key_fingerprint(k) for k in settings.signing_keys],
        "allowed": [str(n) for n in settings.allowed_networks],
        "proxies": [str(n) for n in settings.trusted_proxies],
        "settings": settings,
        "stats": stats,
        "days": STATS_DAYS,
        "api_on": settings.api_token is not None,
        "calendar_on": app.credentials.calendar_token_sha256 is not None,
        "password_from_env": app.credentials.from_environment,
        "new_calendar_url": None,
        "test_result": None,
        **(extra or {}),
    }
    return app.render(request, "status.html", context, status=status)


def status_page(request: Request) -> Response:
    return _page(request)


def send_test_lead(settings: Settings) -> dict[str, Any]:
    """Sign a sample lead exactly as Hello Client does and post it to our own /webhook."""
    if not settings.signing_keys:
        return {"ok": False, "status": None, "answer": "No WEBHOOK_SIGNING_KEY is configured."}
    payload = shapes.sample_lead()
    payload.update(
        FirstName="Test",
        LastName="Lead",
        Content="A test lead sent from the Status page. Archive it when you have seen it.",
    )
    url = sender.loopback_webhook_url(settings)
    answer = sender.send_signed(url, settings.signing_keys[0], payload)
    if answer.status is None:
        return {"ok": False, "status": None, "answer": f"could not connect: {answer.error}"}
    return {
        "ok": answer.ok,
        "status": answer.status,
        "answer": answer.body.decode("utf-8", "replace")[:500],
        "session_id": payload["SessionID"],
    }


async def test_lead(request: Request) -> Response:
    app = web(request)
    result = await run_in_threadpool(send_test_lead, app.settings)

    def page_with_result() -> Response:
        if result["ok"]:  # the lead was stored before "success" was answered
            with app.db.read() as connection:
                result["lead_id"] = queries.lead_of_session(connection, result["session_id"])
        return _page(request, {"test_result": result})

    return await run_in_threadpool(page_with_result)


async def new_calendar_link(request: Request) -> Response:
    """A new token (the old link stops working); shown once, stored only as a hash."""
    app = web(request)
    token = secrets.token_urlsafe(24)
    digest = token_sha256(token)
    await app.db.writer.run(lambda c: store.save_calendar_token(c, digest))
    app.credentials.calendar_token_sha256 = digest
    base, _ = base_url(request, app.settings)
    url = f"{base}/calendar.ics?token={token}"
    return await run_in_threadpool(_page, request, {"new_calendar_url": url})


async def revoke_calendar_link(request: Request) -> Response:
    app = web(request)
    await app.db.writer.run(store.remove_calendar_token)
    app.credentials.calendar_token_sha256 = None
    flash(request, "Calendar link turned off: subscribed calendars stop updating.")
    return redirect("/status#calendar")


ROUTES = [
    Route("/status", status_page, methods=["GET"]),
    Route("/status/test-lead", test_lead, methods=["POST"]),
    Route("/status/calendar", new_calendar_link, methods=["POST"]),
    Route("/status/calendar/revoke", revoke_calendar_link, methods=["POST"]),
]
