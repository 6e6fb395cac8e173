"""Settings → Forwarding: destinations (FORWARD_URLS read-only, the browser's own editable),
their queue and health, the attempt log, "retry now", "replay", test sends, secret rotation.

Everything goes through ``app.state.forward`` (``ForwardService``), whose methods block; they run
in the thread pool. A destination's URL, secret and header values are never put into HTML, with
one exception by design: a new secret is shown once, on the page after "add" or "rotate".
Every form answers with a redirect (post/redirect/get), and a GET of a form's address (a
reload, a bookmark) leads to the page. What a flash cannot carry (the new secret, the test
results) waits in this process for the session's next page (``OneTime``): never in the session
cookie, which is signed, not encrypted, nor in the URL, and gone once shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.forward.destinations import KINDS, DestinationError
from app.forward.service import ForwardService
from app.forward.views import UnknownDestination
from app.web.context import flash, form_routes, redirect, web
from app.web.errors import BadParameter, NotFound
from app.web.recent import OneTime, Recent

PAGE = "/settings/forwarding"
MAX_URL_CHARS = 4000
MAX_HEADERS_CHARS = 20_000
# The page follows the redirect at once: a secret need not wait in memory longer than that.
NEW_SECRET = OneTime("forwarding.secret", Recent(size=50, seconds=120))
TEST_RESULTS = OneTime("forwarding.test", Recent(size=50, seconds=600))


def service(request: Request) -> ForwardService:
    return request.app.state.forward  # type: ignore[no-any-return]


def _page(request: Request) -> Response:
    forward = service(request)
    secret, tested = NEW_SECRET.take(request), TEST_RESULTS.take(request)
    context: dict[str, Any] = {
        "problems": forward.problems(),
        "destinations": forward.list_destinations(),
        "kinds": KINDS,
        "test_results": tested.value,  # list[TestResult] | None
        "new_secret": secret.value,  # (name, secret) | None
        "new_secret_lost": secret.lost,  # promised, but gone: say so
    }
    return web(request).render(request, "forwarding.html", context)


async def forwarding_page(request: Request) -> Response:
    return await run_in_threadpool(_page, request)


def _text(form: FormData, name: str, limit: int = MAX_URL_CHARS) -> str:
    value = str(form.get(name, ""))
    if len(value) > limit:
        raise BadParameter(f"{name}: at most {limit} characters")
    return value


def _key(form: FormData | Any) -> str:
    key = str(form.get("key", "")).strip()
    if not key:
        raise BadParameter("key: which destination?")
    return key


def _kinds(form: FormData) -> list[str]:
    return [str(kind) for kind in form.getlist("kinds")]


async def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return await run_in_threadpool(function, *args, **kwargs)
    except UnknownDestination as exc:
        raise NotFound(str(exc)) from None


async def add_destination(request: Request) -> Response:
    form = await request.form()
    try:
        view, secret = await _call(
            service(request).add_destination,
            _text(form, "url"),
            name=_text(form, "name"),
            kinds=_kinds(form),
            headers=_text(form, "headers", MAX_HEADERS_CHARS),
            enabled=form.get("enabled") == "1",
        )
    except DestinationError as exc:
        flash(request, f"Not added: {exc}", "error")
        return redirect(f"{PAGE}#add")
    NEW_SECRET.put(request, (view.name, secret))
    flash(request, f"Added {view.name}.")
    return redirect(PAGE)  # the card is at the top, under the flash


async def edit_page(request: Request) -> Response:
    view = await _call(service(request).get_destination, _key(request.query_params))
    if not view.editable:
        raise BadParameter("destinations from FORWARD_URLS are read-only here")
    context = {"destination": view, "kinds": KINDS}
    return await web(request).render_async(request, "forwarding_edit.html", context)


async def update_destination(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
    try:
        if form.get("clear_headers") == "1":
            await _call(service(request).clear_headers, key)
        view = await _call(
            service(request).update_destination,
            key,
            url=_text(form, "url") or None,  # blank: keep the stored URL (never shown)
            name=_text(form, "name"),
            kinds=_kinds(form),
            headers=_text(form, "headers", MAX_HEADERS_CHARS) or None,
            enabled=form.get("enabled") == "1",
        )
    except DestinationError as exc:
        flash(request, f"Not saved: {exc}", "error")
        return redirect(f"{PAGE}/edit?key={quote(key, safe='')}")
    flash(request, f"Saved {view.name}.")
    return redirect(f"{PAGE}#dest-{view.key}")


async def set_enabled(request: Request) -> Response:
    form = await request.form()
    key, enabled = _key(form), form.get("enabled") == "1"
    view = await _call(service(request).set_enabled, key, enabled)
    flash(request, f"{view.name} {'enabled' if view.enabled else 'disabled'}.")
    return redirect(f"{PAGE}#dest-{view.key}")


async def remove_destination(request: Request) -> Response:
    form = await request.form()
    try:
        await _call(service(request).remove_destination, _key(form))
    except DestinationError as exc:
        flash(request, str(exc), "error")
        return redirect(PAGE)
    flash(request, "Destination removed; what it had waiting will not be sent.")
    return redirect(PAGE)


async def rotate_secret(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
    try:
        secret = await _call(service(request).rotate_secret, key)
    except DestinationError as exc:
        flash(request, str(exc), "error")
        return redirect(PAGE)
    view = await _call(service(request).get_destination, key)
    NEW_SECRET.put(request, (view.name, secret))
    flash(request, f"New signing secret for {view.name}: the old one no longer signs.")
    return redirect(PAGE)  # the card is at the top, under the flash


async def retry_now(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
    count = await _call(service(request).retry_now, key)
    flash(request, f"Retrying now: {count} record{'' if count == 1 else 's'} queued.")
    return redirect(f"{PAGE}#dest-{key}")


def _moment(request: Request, form: FormData, name: str) -> datetime | None:
    """A ``datetime-local`` field, in the inbox's time zone (TZ)."""
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name}: expected a date and time, got {text[:40]!r}") from None
    tz = web(request).settings.tz
    return moment.replace(tzinfo=tz) if moment.tzinfo is None else moment


async def replay(request: Request) -> Response:
    """One lead (from its page) or a time range (from a destination): queued again."""
    form = await request.form()
    key = str(form.get("key", "")).strip()
    lead_text = str(form.get("lead_id", "")).strip()
    if lead_text and not lead_text.isdigit():
        raise BadParameter("lead_id: expected a number")
    lead_id = int(lead_text) if lead_text else None
    since, until = _moment(request, form, "since"), _moment(request, form, "until")
    if lead_id is None and since is None:
        raise BadParameter("since: replay from when? (or a lead_id)")
    count = await _call(
        service(request).replay, [key] if key else None, lead_id=lead_id, since=since, until=until
    )
    flash(request, f"Replaying: {count} record{'' if count == 1 else 's'} queued.")
    if lead_id is not None and not key:
        return redirect(f"/leads/{lead_id}#forwarded")
    return redirect(f"{PAGE}#dest-{key}" if key else PAGE)


async def send_test(request: Request) -> Response:
    form = await request.form()
    keys = [str(key) for key in form.getlist("key") if str(key)]
    results = await _call(service(request).send_test, keys or None)
    TEST_RESULTS.put(request, results)
    return redirect(PAGE)  # the results are at the top


async def log_page(request: Request) -> Response:
    key = _key(request.query_params)
    view = await _call(service(request).get_destination, key)
    attempts = await _call(service(request).attempts, key, limit=100)
    context = {"destination": view, "attempts": attempts}
    return await web(request).render_async(request, "forwarding_log.html", context)


FORMS = {
    "add": add_destination,
    "update": update_destination,
    "enabled": set_enabled,
    "remove": remove_destination,
    "rotate": rotate_secret,
    "retry": retry_now,
    "replay": replay,
    "test": send_test,
}

ROUTES = [
    Route(PAGE, forwarding_page, methods=["GET"]),
    Route(f"{PAGE}/edit", edit_page, methods=["GET"]),
    Route(f"{PAGE}/log", log_page, methods=["GET"]),
    *form_routes({f"{PAGE}/{name}": handler for name, handler in FORMS.items()}, PAGE),
]
