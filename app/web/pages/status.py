"""Setup and status: the URL for Hello Client, key and allowlist state, the last delivery, a
signed test lead through the real endpoint, the calendar link, and the admin account.

Every form answers with a redirect (post/redirect/get). A new calendar link is shown once, on
the page after the redirect: it waits in this process for the session's next page
(``recent.OneTime``), never in the session cookie (signed, not encrypted) nor in a URL.
"""

from __future__ import annotations

import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.signature import key_fingerprint
from app.web import address, sample_lead, store
from app.web.auth import token_sha256
from app.web.context import flash, form_routes, redirect, web
from app.web.queries import status as queries
from app.web.queries.status import STATS_DAYS
from app.web.recent import OneTime, Recent

# The page follows the redirect at once: the link need not wait in memory longer than that.
NEW_CALENDAR_URL = OneTime("status.calendar", Recent(size=20, seconds=120))


def _page(request: Request) -> Response:
    app = web(request)
    settings = app.settings
    where = address.webhook_address(request, settings)
    with app.db.read() as connection:
        stats = queries.stats(connection)
    stats["allow_hits"] = stats["recent_total"] - stats["allow_misses"]
    new_calendar = NEW_CALENDAR_URL.take(request)
    context = {
        "address": where,
        "base": where.base,
        "guide": address.GUIDE,
        "key_fingerprints": [key_fingerprint(k) for k in settings.signing_keys],
        "allowed": [str(n) for n in settings.allowed_networks],
        "proxies": [str(n) for n in settings.trusted_proxies],
        "settings": settings,
        "stats": stats,
        "days": STATS_DAYS,
        "api_on": settings.api_token is not None,
        "calendar_on": app.credentials.calendar_token_sha256 is not None,
        "password_from_env": app.credentials.from_environment,
        "new_calendar_url": new_calendar.value,
        "new_calendar_lost": new_calendar.lost,
        "test_result": sample_lead.take(request),
    }
    return app.render(request, "status.html", context)


def status_page(request: Request) -> Response:
    return _page(request)


async def test_lead(request: Request) -> Response:
    """Post/redirect/get: the result rides in the session to the page after the redirect."""
    app = web(request)
    result = await run_in_threadpool(sample_lead.send_and_find, app.settings, "Status page", app.db)
    sample_lead.remember(request, result)
    return redirect("/status#test")


async def new_calendar_link(request: Request) -> Response:
    """A new token (the old link stops working); stored only as a hash, shown once on the page
    after the redirect, so a reload neither shows it again nor makes another."""
    app = web(request)
    token = secrets.token_urlsafe(24)
    digest = token_sha256(token)
    await app.db.writer.run(lambda c: store.save_calendar_token(c, digest))
    app.credentials.calendar_token_sha256 = digest
    base, _ = address.base_url(request, app.settings)
    NEW_CALENDAR_URL.put(request, f"{base}/calendar.ics?token={token}")
    return redirect("/status#calendar")


async def revoke_calendar_link(request: Request) -> Response:
    app = web(request)
    await app.db.writer.run(store.remove_calendar_token)
    app.credentials.calendar_token_sha256 = None
    NEW_CALENDAR_URL.take(request)  # a link made but not yet shown is dead now: never show it
    flash(request, "Calendar link turned off: subscribed calendars stop updating.")
    return redirect("/status#calendar")


ROUTES = [
    Route("/status", status_page, methods=["GET"]),
    *form_routes(
        {
            "/status/test-lead": test_lead,
            "/status/calendar": new_calendar_link,
            "/status/calendar/revoke": revoke_calendar_link,
        },
        "/status",
    ),
]
