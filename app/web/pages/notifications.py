"""Settings → Notifications: Apprise targets (env/file read-only, the UI's own editable), entered
through plain fields per service or as a raw Apprise URL, their health with "retry now", real
test notifications, and the title/body templates with a preview.

Everything goes through ``app.state.notify`` (``NotifyService``), whose methods block; they run
in the thread pool. A target removed meanwhile raises ``UnknownTarget``, answered 404 in
``error_pages``. Pages only ever see the service's secret-free views: a target's stored URL is
never put into HTML, not even in the edit form (an empty URL field there means "unchanged").
Every form answers with a redirect (post/redirect/get); what a redirect cannot carry in a flash
(each target's test result, a template preview) waits in ``Recent`` under a random token. A
form's input Apprise cannot use is the page again with status 400, the typed values and a
suggestion. ``next`` (a local path, e.g. the first-run wizard's step) is where a form returns.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.notify import chooser
from app.notify.kinds import KINDS
from app.notify.service import NotifyService
from app.notify.templates import PARTS, TEMPLATE_KINDS
from app.notify.views import (
    TargetError,
    TemplateInvalid,
    TemplateView,
    TestResult,
    UnusableURL,
)
from app.web.context import flash, form_routes, redirect, safe_next, web
from app.web.recent import Recent

PAGE = "/settings/notifications"
RAW = "url"  # the "any other service" form: the Apprise URL as typed
TEST_KINDS = (*KINDS, "summary")
MAX_URL_CHARS = 4000  # Apprise URLs with a few query options; nothing sane is longer
MAX_TEMPLATE_CHARS = 20_000
MAX_FLASH_ERROR_CHARS = 160


RECENT = Recent()


def service(request: Request) -> NotifyService:
    return request.app.state.notify  # type: ignore[no-any-return]


def _next(value: object) -> str:
    """A local path to return to, or "" (then: this page)."""
    return safe_next(str(value or ""), "")


def _here(back: str, anchor: str = "", **query: str) -> str:
    """This page (keeping ``next``), with ``query`` and an anchor."""
    params = {**({"next": back} if back else {}), **query}
    return PAGE + (f"?{urlencode(params)}" if params else "") + (f"#{anchor}" if anchor else "")


def _templates_by_kind(items: list[TemplateView]) -> dict[str, dict[str, TemplateView]]:
    grouped: dict[str, dict[str, TemplateView]] = {kind: {} for kind in TEMPLATE_KINDS}
    for item in items:
        grouped.setdefault(item.kind, {})[item.part] = item
    return grouped


def _page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The whole page (blocking). ``extra`` carries one-off results: tests, a preview, an error
    with the unsaved text, so nothing the user typed is lost on a re-render."""
    notify = service(request)
    query = request.query_params
    context: dict[str, Any] = {
        "problems": notify.problems(),
        "targets": notify.list_targets(),
        "templates": _templates_by_kind(notify.list_templates()),
        "kinds": KINDS,
        "test_kinds": TEST_KINDS,
        "services": chooser.SERVICES,
        "next": _next(query.get("next")),
        "test_results": None,
        "test_kind": "lead",
        "add_error": None,  # {"service", "message", "values", "suggestions"}
        "preview": None,  # (kind, Message)
        "template_error": None,  # (kind, message)
        "drafts": {},  # kind -> {"title": ..., "body": ...} of an unsaved form
    }
    tested = RECENT.get(query.get("test", ""))
    if tested is not None:
        context["test_kind"], context["test_results"] = tested
    previewed = RECENT.get(query.get("preview", ""))
    if previewed is not None:
        kind, texts, message = previewed
        context["preview"], context["drafts"] = (kind, message), {kind: texts}
    context.update(extra or {})
    return web(request).render(request, "notifications.html", context, status=status)


async def notifications_page(request: Request) -> Response:
    return await run_in_threadpool(_page, request)


def _back(request: Request) -> str:
    """Where a GET of a form's address leads: this page, keeping ``next``."""
    return _here(_next(request.query_params.get("next")))


def _text(form: FormData, name: str, limit: int = MAX_URL_CHARS) -> str:
    value = str(form.get(name, ""))
    if len(value) > limit:
        raise HTTPException(400, f"{name}: at most {limit} characters")
    return value


def _kinds(form: FormData) -> list[str]:
    return [str(kind) for kind in form.getlist("kinds")]


def _key(form: FormData) -> str:
    key = str(form.get("key", "")).strip()
    if not key:
        raise HTTPException(400, "key: which target?")
    return key


def _suggested(exc: TargetError) -> list[tuple[str, str]]:
    """(URL, the same masked) for each URL Apprise accepts that was probably meant."""
    if not isinstance(exc, UnusableURL):
        return []
    return list(zip(exc.suggestions, exc.shown, strict=True))


def _typed(form: FormData) -> tuple[str, dict[str, str]]:
    """(service id, the values typed into its form) of an add form."""
    chosen = str(form.get("service", RAW)) or RAW
    if chosen == RAW:
        return RAW, {"url": _text(form, "url")}
    if chosen not in chooser.BY_ID:
        raise HTTPException(400, f"service: unknown {chosen!r}")
    return chosen, {f.name: _text(form, f.name) for f in chooser.BY_ID[chosen].fields}


async def add_target(request: Request) -> Response:
    form = await request.form()
    back = _next(form.get("next"))
    chosen, values = _typed(form)
    try:
        url = values["url"] if chosen == RAW else chooser.build(chosen, values)
        view = await run_in_threadpool(
            service(request).add_target,
            url,
            name=_text(form, "name"),
            kinds=_kinds(form),
            enabled=form.get("enabled") == "1",
        )
    except TargetError as exc:
        error = {
            "service": chosen,
            "message": str(exc),
            "values": {**values, "name": _text(form, "name"), "kinds": _kinds(form)},
            # (the URL, as shown); only for a typed URL: one built from fields has no place
            "suggestions": _suggested(exc) if chosen == RAW else [],
        }
        extra = {"add_error": error, "next": back}
        return await run_in_threadpool(_page, request, extra, 400)
    flash(request, f"Added {view.name} ({view.url_masked}).")
    return redirect(back or _here("", f"target-{view.key}"))


async def edit_page(request: Request) -> Response:
    """The edit form of one UI target; read-only targets have nothing to edit."""
    key = request.query_params.get("key", "")
    view = await run_in_threadpool(service(request).get_target, key)
    if not view.editable:
        raise HTTPException(400, "Targets from APPRISE_URLS or APPRISE_CONFIG are read-only here.")
    back = _next(request.query_params.get("next"))
    context = {"target": view, "kinds": KINDS, "next": back}
    context |= {"error": None, "typed": "", "suggestions": []}
    return await web(request).render_async(request, "notification_edit.html", context)


async def update_target(request: Request) -> Response:
    form = await request.form()
    key, back = _key(form), _next(form.get("next"))
    try:
        view = await run_in_threadpool(
            service(request).update_target,
            key,
            url=_text(form, "url") or None,  # blank: keep the stored URL (never shown)
            name=_text(form, "name"),
            kinds=_kinds(form),
            enabled=form.get("enabled") == "1",
        )
    except TargetError as exc:
        target = await run_in_threadpool(service(request).get_target, key)
        context = {
            "target": target,
            "kinds": KINDS,
            "next": back,
            "error": str(exc),
            "typed": _text(form, "url"),
            "suggestions": _suggested(exc),
        }
        return await web(request).render_async(
            request, "notification_edit.html", context, status=400
        )
    flash(request, f"Saved {view.name}.")
    return redirect(back or _here("", f"target-{view.key}"))


async def set_enabled(request: Request) -> Response:
    form = await request.form()
    key, enabled, back = _key(form), form.get("enabled") == "1", _next(form.get("next"))
    try:
        view = await run_in_threadpool(service(request).set_enabled, key, enabled)
    except TargetError as exc:
        flash(request, str(exc), "error")
        return redirect(_here(back))
    flash(request, f"{view.name} {'enabled' if view.enabled else 'disabled'}.")
    return redirect(_here(back, f"target-{view.key}"))


async def remove_target(request: Request) -> Response:
    form = await request.form()
    key, back = _key(form), _next(form.get("next"))
    try:
        await run_in_threadpool(service(request).remove_target, key)
    except TargetError as exc:
        flash(request, str(exc), "error")
        return redirect(_here(back))
    flash(request, "Target removed; its waiting notifications will not be sent.")
    return redirect(_here(back))


async def retry_now(request: Request) -> Response:
    form = await request.form()
    key, back = _key(form), _next(form.get("next"))
    count = await run_in_threadpool(service(request).retry_now, key)
    flash(request, f"Retrying now: {count} notification{'' if count == 1 else 's'} queued.")
    return redirect(_here(back, f"target-{key}"))


def _summary(results: list[TestResult]) -> str:
    if not results:
        return "Test notification: no target takes this kind, nothing was sent."
    said = []
    for result in results:
        label = result.name or result.key
        error = (result.error or "")[:MAX_FLASH_ERROR_CHARS]
        said.append(f"{label} ok" if result.ok else f"{label} failed ({error})")
    return "Test notification: " + "; ".join(said) + "."


async def send_test(request: Request) -> Response:
    """Real sends; then a redirect to the page showing each target's result (kept in
    ``RECENT``: Apprise's error texts can be long, and the session cookie is no place for them),
    or to ``next`` with a one-line summary."""
    form = await request.form()
    kind, back = str(form.get("kind", "lead")), _next(form.get("next"))
    if kind not in TEST_KINDS:
        raise HTTPException(400, f"kind: must be one of {', '.join(TEST_KINDS)}")
    keys = [str(key) for key in form.getlist("key") if str(key)]
    try:
        results: list[TestResult] = await run_in_threadpool(
            lambda: service(request).send_test(keys or None, kind=kind)
        )
    except TargetError as exc:
        raise HTTPException(400, str(exc)) from None
    ok = all(result.ok for result in results)
    flash(request, _summary(results), "ok" if ok and results else "error")
    if back:
        return redirect(back)
    return redirect(_here("", "test-results", test=RECENT.put((kind, results))))


async def save_template(request: Request) -> Response:
    """One form per kind with three buttons: preview (nothing saved), save, reset."""
    form = await request.form()
    kind, action = str(form.get("kind", "")), str(form.get("action", "save"))
    if kind not in TEMPLATE_KINDS:
        raise HTTPException(400, f"kind: must be one of {', '.join(TEMPLATE_KINDS)}")
    texts = {part: _text(form, part, MAX_TEMPLATE_CHARS).replace("\r\n", "\n") for part in PARTS}
    notify = service(request)
    anchor = f"template-{kind}"
    if action == "reset":
        for part in PARTS:
            await run_in_threadpool(notify.set_template, kind, part, None)
        flash(request, f"The {kind} template is back to its file or built-in default.")
        return redirect(_here("", anchor))
    if action not in ("save", "preview"):
        raise HTTPException(400, "action: must be preview, save or reset")
    extra: dict[str, Any] = {"drafts": {kind: texts}}
    try:
        if action == "preview":
            message = await run_in_threadpool(
                lambda: notify.preview(kind, title=texts["title"], body=texts["body"])
            )
            return redirect(_here("", anchor, preview=RECENT.put((kind, texts, message))))
        listed = await run_in_threadpool(notify.list_templates)
        current = {t.part: t.text for t in listed if t.kind == kind}
        for part in PARTS:
            # Only what changed becomes an override: saving the form untouched must not freeze
            # today's default (or file) as a UI copy that later default changes would not reach.
            if texts[part] != current.get(part):
                await run_in_threadpool(notify.set_template, kind, part, texts[part] or None)
    except TemplateInvalid as exc:
        extra["template_error"] = (kind, str(exc))
        return await run_in_threadpool(_page, request, extra, 400)
    flash(request, f"The {kind} template is saved.")
    return redirect(_here("", anchor))


FORMS = {
    "add": add_target,
    "update": update_target,
    "enabled": set_enabled,
    "remove": remove_target,
    "retry": retry_now,
    "test": send_test,
    "template": save_template,
}
ROUTES = [
    Route(PAGE, notifications_page, methods=["GET"]),
    Route(f"{PAGE}/edit", edit_page, methods=["GET"]),
    *form_routes({f"{PAGE}/{name}": handler for name, handler in FORMS.items()}, _back),
]
