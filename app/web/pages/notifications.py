"""Settings → Notifications: Apprise targets (env/file read-only, the UI's own editable), their
health with "retry now", real test notifications, and the title/body templates with a preview.

Everything goes through ``app.state.notify`` (``NotifyService``), whose methods block; they run
in the thread pool. A target removed meanwhile raises ``UnknownTarget``, answered 404 in
``error_pages``. Pages only ever see the service's secret-free views: a target's real URL is
never put into HTML, not even in the edit form (an empty URL field there means "unchanged").
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.notify.kinds import KINDS
from app.notify.service import NotifyService
from app.notify.templates import PARTS, TEMPLATE_KINDS
from app.notify.views import TargetError, TemplateInvalid, TemplateView, TestResult
from app.web.context import flash, redirect, web

PAGE = "/settings/notifications"
TEST_KINDS = (*KINDS, "summary")
MAX_URL_CHARS = 4000  # Apprise URLs with a few query options; nothing sane is longer
MAX_TEMPLATE_CHARS = 20_000


def service(request: Request) -> NotifyService:
    return request.app.state.notify  # type: ignore[no-any-return]


def _templates_by_kind(items: list[TemplateView]) -> dict[str, dict[str, TemplateView]]:
    grouped: dict[str, dict[str, TemplateView]] = {kind: {} for kind in TEMPLATE_KINDS}
    for item in items:
        grouped.setdefault(item.kind, {})[item.part] = item
    return grouped


def _page(request: Request, extra: dict[str, Any] | None = None, status: int = 200) -> Response:
    """The whole page (blocking). ``extra`` carries one-off results: tests, a preview, an error
    with the unsaved template text, so nothing the user typed is lost on a re-render."""
    notify = service(request)
    context: dict[str, Any] = {
        "problems": notify.problems(),
        "targets": notify.list_targets(),
        "templates": _templates_by_kind(notify.list_templates()),
        "kinds": KINDS,
        "test_kinds": TEST_KINDS,
        "test_results": None,
        "test_kind": "lead",
        "preview": None,  # (kind, Message)
        "template_error": None,  # (kind, message)
        "drafts": {},  # kind -> {"title": ..., "body": ...} of an unsaved form
        **(extra or {}),
    }
    return web(request).render(request, "notifications.html", context, status=status)


async def notifications_page(request: Request) -> Response:
    return await run_in_threadpool(_page, request)


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


async def add_target(request: Request) -> Response:
    form = await request.form()
    try:
        view = await run_in_threadpool(
            service(request).add_target,
            _text(form, "url"),
            name=_text(form, "name"),
            kinds=_kinds(form),
            enabled=form.get("enabled") == "1",
        )
    except TargetError as exc:
        flash(request, f"Not added: {exc}", "error")
        return redirect(f"{PAGE}#add")
    flash(request, f"Added {view.name} ({view.url_masked}).")
    return redirect(f"{PAGE}#target-{view.key}")


async def edit_page(request: Request) -> Response:
    """The edit form of one UI target; read-only targets have nothing to edit."""
    key = request.query_params.get("key", "")
    view = await run_in_threadpool(service(request).get_target, key)
    if not view.editable:
        raise HTTPException(400, "Targets from APPRISE_URLS or APPRISE_CONFIG are read-only here.")
    context = {"target": view, "kinds": KINDS}
    return await web(request).render_async(request, "notification_edit.html", context)


async def update_target(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
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
        flash(request, f"Not saved: {exc}", "error")
        return redirect(f"{PAGE}/edit?key={quote(key, safe='')}")
    flash(request, f"Saved {view.name}.")
    return redirect(f"{PAGE}#target-{view.key}")


async def set_enabled(request: Request) -> Response:
    form = await request.form()
    key, enabled = _key(form), form.get("enabled") == "1"
    try:
        view = await run_in_threadpool(service(request).set_enabled, key, enabled)
    except TargetError as exc:
        flash(request, str(exc), "error")
        return redirect(PAGE)
    flash(request, f"{view.name} {'enabled' if view.enabled else 'disabled'}.")
    return redirect(f"{PAGE}#target-{view.key}")


async def remove_target(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
    try:
        await run_in_threadpool(service(request).remove_target, key)
    except TargetError as exc:
        flash(request, str(exc), "error")
        return redirect(PAGE)
    flash(request, "Target removed; its waiting notifications will not be sent.")
    return redirect(PAGE)


async def retry_now(request: Request) -> Response:
    form = await request.form()
    key = _key(form)
    count = await run_in_threadpool(service(request).retry_now, key)
    flash(request, f"Retrying now: {count} notification{'' if count == 1 else 's'} queued.")
    return redirect(f"{PAGE}#target-{key}")


async def send_test(request: Request) -> Response:
    """Real sends, so the answer is the page itself with each target's result (not a flash:
    Apprise's error texts can be long, and the session cookie is no place for them)."""
    form = await request.form()
    kind = str(form.get("kind", "lead"))
    if kind not in TEST_KINDS:
        raise HTTPException(400, f"kind: must be one of {', '.join(TEST_KINDS)}")
    keys = [str(key) for key in form.getlist("key") if str(key)]
    try:
        results: list[TestResult] = await run_in_threadpool(
            lambda: service(request).send_test(keys or None, kind=kind)
        )
    except TargetError as exc:
        raise HTTPException(400, str(exc)) from None
    extra = {"test_results": results, "test_kind": kind}
    return await run_in_threadpool(_page, request, extra)


async def save_template(request: Request) -> Response:
    """One form per kind with three buttons: preview (nothing saved), save, reset."""
    form = await request.form()
    kind, action = str(form.get("kind", "")), str(form.get("action", "save"))
    if kind not in TEMPLATE_KINDS:
        raise HTTPException(400, f"kind: must be one of {', '.join(TEMPLATE_KINDS)}")
    texts = {part: _text(form, part, MAX_TEMPLATE_CHARS).replace("\r\n", "\n") for part in PARTS}
    notify = service(request)
    anchor = f"{PAGE}#template-{kind}"
    if action == "reset":
        for part in PARTS:
            await run_in_threadpool(notify.set_template, kind, part, None)
        flash(request, f"The {kind} template is back to its file or built-in default.")
        return redirect(anchor)
    if action not in ("save", "preview"):
        raise HTTPException(400, "action: must be preview, save or reset")
    extra: dict[str, Any] = {"drafts": {kind: texts}}
    try:
        if action == "preview":
            message = await run_in_threadpool(
                lambda: notify.preview(kind, title=texts["title"], body=texts["body"])
            )
            return await run_in_threadpool(_page, request, {**extra, "preview": (kind, message)})
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
    return redirect(anchor)


ROUTES = [
    Route(PAGE, notifications_page, methods=["GET"]),
    Route(f"{PAGE}/edit", edit_page, methods=["GET"]),
    Route(f"{PAGE}/add", add_target, methods=["POST"]),
    Route(f"{PAGE}/update", update_target, methods=["POST"]),
    Route(f"{PAGE}/enabled", set_enabled, methods=["POST"]),
    Route(f"{PAGE}/remove", remove_target, methods=["POST"]),
    Route(f"{PAGE}/retry", retry_now, methods=["POST"]),
    Route(f"{PAGE}/test", send_test, methods=["POST"]),
    Route(f"{PAGE}/template", save_template, methods=["POST"]),
]
