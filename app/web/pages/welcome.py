"""The first-run path: after the claim, one page per step, each with "Skip" and listed on
/welcome so a skipped one can be found again (Settings links there too).

1. Sign Key: where Hello Client shows it; the form posts to Settings' own key form
   (POST /settings/keys), which comes back here to step 2.
2. The webhook URL to paste, with the address warnings, and a live "waiting for the first
   delivery…" (static/welcome.js polls GET /welcome/first-delivery every 2 s) that turns into
   the delivery, or explains a refusal.
3. Phone notifications: the notification settings, with a way back here.
4. A test that reaches the phone: a test notification, or a test lead through the whole path.

Which steps are done is read from the state itself (a key in force, a verified delivery, a
working target, a target that has had a success), so nothing records the path's progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.live_settings import KEYS
from app.notify.views import TargetView
from app.web import address, sample_lead
from app.web.context import Web, flash, form_routes, redirect, web
from app.web.errors import BadParameter
from app.web.pages.notifications import PAGE as NOTIFICATIONS
from app.web.pages.notifications import service as notify_service
from app.web.params import whole_number
from app.web.queries import welcome as queries
from app.web.queries.welcome import VERIFIED
from app.web.recent import OneTime, Recent
from app.web.safe import SafeJSONResponse

# Shown once, on the page after the redirect (a reload does not show them again); they wait in
# this process, not in the session cookie.
TEST_RESULTS = OneTime("welcome.test", Recent(size=50, seconds=600))
MAX_ERROR_CHARS = 200  # a short line per target: a set-up step is no place for a whole error
MAX_RESULTS = 8


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    template: str

    @property
    def url(self) -> str:
        return f"/welcome/{self.slug}"


STEPS = (
    Step("key", "Sign Key", "welcome_key.html"),
    Step("url", "Webhook URL", "welcome_url.html"),
    Step("phone", "Phone notifications", "welcome_phone.html"),
    Step("test", "Test on your phone", "welcome_test.html"),
)
BY_SLUG = {step.slug: step for step in STEPS}


def _working(target: TargetView) -> bool:
    return target.enabled and target.present and target.error is None


def _progress(app: Web, targets: list[TargetView]) -> dict[str, bool]:
    with app.db.read() as connection:
        delivered = queries.verified_seen(connection)
    return {
        "key": bool(app.settings.signing_keys),
        "url": delivered,
        "phone": any(_working(t) for t in targets),
        "test": any(t.last_success_at is not None for t in targets),
    }


def _render(request: Request, step: Step | None, extra: dict[str, Any]) -> Response:
    """A step's page, or (no step) the list of them (blocking)."""
    app = web(request)
    targets = notify_service(request).list_targets()
    done = _progress(app, targets)
    index = STEPS.index(step) if step else -1
    following = STEPS[index + 1].url if step and index + 1 < len(STEPS) else "/welcome"
    context = {
        "steps": STEPS,
        "step": step,
        "number": index + 1,
        "done": done,
        "next_url": following,
        "first_open": next((s.url for s in STEPS if not done[s.slug]), None),
        "targets": targets,
        "where": address.webhook_address(request, app.settings),
        "guide": address.GUIDE,
        **extra,
    }
    return app.render(request, step.template if step else "welcome.html", context)


async def overview(request: Request) -> Response:
    return await run_in_threadpool(_render, request, None, {})


async def key_step(request: Request) -> Response:
    app = web(request)
    extra = {
        "keys_from_environment": app.live.set_by_environment(KEYS),
        "key_count": len(app.settings.signing_keys),
    }
    return await run_in_threadpool(_render, request, BY_SLUG["key"], extra)


async def url_step(request: Request) -> Response:
    def page() -> Response:
        app = web(request)
        with app.db.read() as connection:
            latest = queries.newest_after(connection, 0)
        extra = {
            "since": latest.id if latest else 0,  # where the page starts waiting from
            "latest": _delivery_json(app, latest) if latest else None,
        }
        return _render(request, BY_SLUG["url"], extra)

    return await run_in_threadpool(page)


async def phone_step(request: Request) -> Response:
    back = f"{NOTIFICATIONS}?next=/welcome/phone"
    return await run_in_threadpool(_render, request, BY_SLUG["phone"], {"notifications": back})


async def test_step(request: Request) -> Response:
    extra = {
        "test_results": TEST_RESULTS.take(request).value,
        "test_lead": sample_lead.take(request),
    }
    return await run_in_threadpool(_render, request, BY_SLUG["test"], extra)


# ---- the live "waiting for the first delivery" ------------------------------------------


def explain(outcome: str, status_code: int, reason: str | None) -> str:
    """A delivery's fate in the words of someone setting up, with what to do about it."""
    if outcome == "accepted":
        return "Verified with your Sign Key and stored."
    if outcome == "duplicate":
        return "The same delivery again (Hello Client retried it): stored once."
    text = reason or ""
    kept = " It is kept in the quarantine and accepted once the right Sign Key is added."
    if status_code == 503 and "no signing key" in text:
        return "No Sign Key is set in this inbox yet, so it could not be checked." + kept
    if "does not match" in text:
        return (
            "Signed with a key this inbox does not know: check the Sign Key. Copy it again from "
            "Hello Client (Workspace → Webhook; saving the URL there makes a new one) and add "
            "it in step 1." + kept
        )
    if "clock" in text:
        return (
            "The signature's time is too far from this machine's clock: turn on network time "
            "(NTP) in the NAS's time settings."
        )
    if "missing X-Webhook-Signature" in text:
        return (
            "It carried no signature, so it did not come from Hello Client (or a proxy in "
            "between dropped the X-Webhook-Signature header)."
        )
    if "WEBHOOK_ALLOWED_IPS" in text:
        return (
            f"Refused: {text}. If that address is your proxy's, add it to TRUSTED_PROXIES; if "
            "it is a new Hello Client address, allow it."
        )
    return f"Refused (HTTP {status_code}): {text or 'no reason given'}."


def _delivery_json(app: Web, row: Any) -> dict[str, Any]:
    verified = row.outcome in VERIFIED
    return {
        "id": row.id,
        "kind": row.kind if verified and row.kind else "delivery",
        "outcome": row.outcome,
        "verified": verified,
        "status_code": row.status_code,
        "received_at": row.received_at.isoformat(),
        "when": app.env.filters["full"](row.received_at),
        "reason": None if verified else row.reason,
        "explanation": explain(row.outcome, row.status_code, row.reason),
        "details_url": f"/deliveries/{row.id}",
        "lead_url": f"/leads/{row.lead_id}" if row.lead_id else None,
    }


async def first_delivery(request: Request) -> Response:
    """``{"status": "waiting"}`` until a delivery newer than ``since`` arrives, then it."""
    try:
        since = whole_number(request.query_params, "since") or 0
    except BadParameter as exc:
        return SafeJSONResponse({"status": "error", "error": str(exc)}, 400)
    app = web(request)

    def read() -> dict[str, Any]:
        with app.db.read() as connection:
            row = queries.newest_after(connection, since)
        if row is None:
            return {"status": "waiting", "since": since}
        return {"status": "received", "delivery": _delivery_json(app, row)}

    return SafeJSONResponse(await run_in_threadpool(read))


# ---- step 4: tests (post/redirect/get) --------------------------------------------------


async def send_test_notification(request: Request) -> Response:
    results = await run_in_threadpool(notify_service(request).send_test, None, kind="lead")
    if not results:
        flash(request, "No notification target yet: add one in step 3 first.", "error")
        return redirect("/welcome/test")
    shown = [
        {
            "name": r.name,
            "url": r.url_masked,
            "ok": r.ok,
            "error": (r.error or "")[:MAX_ERROR_CHARS],
        }
        for r in results[:MAX_RESULTS]
    ]
    TEST_RESULTS.put(request, shown)
    return redirect("/welcome/test#result")


async def send_test_lead(request: Request) -> Response:
    app = web(request)
    result = await run_in_threadpool(
        sample_lead.send_and_find, app.settings, "set-up guide", app.db
    )
    sample_lead.remember(request, result)
    return redirect("/welcome/test#result")


ROUTES = [
    Route("/welcome", overview, methods=["GET"]),
    Route("/welcome/key", key_step, methods=["GET"]),
    Route("/welcome/url", url_step, methods=["GET"]),
    Route("/welcome/first-delivery", first_delivery, methods=["GET"]),
    Route("/welcome/phone", phone_step, methods=["GET"]),
    Route("/welcome/test", test_step, methods=["GET"]),
    *form_routes(
        {
            "/welcome/test/notification": send_test_notification,
            "/welcome/test/lead": send_test_lead,
        },
        "/welcome/test",
    ),
]
