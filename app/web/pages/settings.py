"""Settings: Sign Keys (add, label, remove) and the receiver's values (public base URL, time
zone, allowed IPs, unsigned-event policy, timestamp tolerance), stored in the database and in
force at once (``app.live_settings``). A value set in the environment wins and is shown
read-only with the variable that sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.config import UNSIGNED_EVENT_POLICIES
from app.live_settings import KEYS, AddedKey, ConfigError, LiveSettings, UnknownKey
from app.web.context import flash, redirect, safe_next, web
from app.web.errors import NotFound
from app.web.params import path_id
from app.web.queries import settings as queries

PAGE = "/settings"


@dataclass(frozen=True)
class Field:
    name: str  # the environment variable
    label: str
    help: str
    kind: str = "text"  # text, zone, choice, number
    choices: tuple[str, ...] = ()


FIELDS = (
    Field(
        "BASE_URL",
        "Public base URL",
        "The address this inbox is reached at from outside, e.g. https://inbox.example.com: "
        "the webhook URL for Hello Client and the links in notifications are built from it.",
    ),
    Field("TZ", "Time zone", "Times are shown in it, e.g. Europe/Berlin.", "zone"),
    Field(
        "WEBHOOK_ALLOWED_IPS",
        "Allowed IPs",
        "IPs or CIDRs, separated by commas or spaces; hello-client stands for Hello Client's "
        "addresses. Empty: any address may deliver (the Sign Key still decides).",
    ),
    Field(
        "UNSIGNED_EVENTS",
        "Unsigned deliveries",
        "What happens to a delivery without a valid signature: it is answered 401 and "
        "quarantined, refused, or accepted when it comes from an allowed IP.",
        "choice",
        UNSIGNED_EVENT_POLICIES,
    ),
    Field(
        "WEBHOOK_TOLERANCE_SECONDS",
        "Timestamp tolerance (seconds)",
        "How far a signature's timestamp may be from this server's clock; 0 turns the check off.",
        "number",
    ),
)


@cache
def time_zones() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def _live(request: Request) -> LiveSettings:
    return web(request).live


def _page(
    request: Request,
    *,
    error: str | None = None,
    drafts: dict[str, str] | None = None,
    label_draft: str = "",
    status: int = 200,
) -> Response:
    """The whole page (blocking). After a refused form, ``drafts`` keeps what was typed (never
    the Sign Key itself: a secret is not put back into HTML)."""
    app = web(request)
    live = app.live
    with app.db.read() as connection:
        waiting = queries.waiting_for_a_key(connection)
    fields = [
        {
            "field": field,
            "value": (drafts or {}).get(field.name, live.text(field.name)),
            "from_environment": live.set_by_environment(field.name),
        }
        for field in FIELDS
    ]
    context: dict[str, Any] = {
        "keys": live.keys(app.db),
        "keys_from_environment": live.set_by_environment(KEYS),
        "waiting": waiting,
        "fields": fields,
        "zones": time_zones(),
        "error": error,
        "label_draft": label_draft,
    }
    return app.render(request, "settings.html", context, status=status)


async def settings_page(request: Request) -> Response:
    return await run_in_threadpool(_page, request)


def _text(form: FormData, name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def added_message(added: AddedKey) -> str:
    said = f"Sign Key “{added.key.label}” added ({added.key.fingerprint})."
    checked, accepted = added.recheck.checked, added.recheck.accepted
    if accepted:
        what = "delivery was" if accepted == 1 else "deliveries were"
        return f"{said} {accepted} quarantined {what} verified with it and accepted."
    if checked:
        return f"{said} None of the {checked} signed deliveries in the quarantine verify with it."
    return said


async def add_key(request: Request) -> Response:
    form = await request.form()
    label = _text(form, "label")
    try:
        added = await _live(request).add_key(web(request).db, label, _text(form, "sign_key"))
    except ConfigError as exc:
        return await _render(request, error=str(exc), label_draft=label, status=400)
    flash(request, added_message(added))
    return redirect(safe_next(_text(form, "next"), PAGE))


async def remove_key(request: Request) -> Response:
    key_id = path_id(request, "key_id")
    try:
        await _live(request).remove_key(web(request).db, key_id)
    except UnknownKey:
        raise NotFound("No such Sign Key (removed meanwhile?).") from None
    flash(request, "Sign Key removed: deliveries signed with it are no longer accepted.")
    return redirect(PAGE)


async def relabel_key(request: Request) -> Response:
    key_id = path_id(request, "key_id")
    form = await request.form()
    try:
        await _live(request).relabel_key(web(request).db, key_id, _text(form, "label"))
    except ConfigError as exc:
        return await _render(request, error=str(exc), status=400)
    except UnknownKey:
        raise NotFound("No such Sign Key (removed meanwhile?).") from None
    flash(request, "Label saved.")
    return redirect(PAGE)


async def save_receiver(request: Request) -> Response:
    form = await request.form()
    live = _live(request)
    # Read-only fields are not sent by the browser; one sent anyway is refused by ``save``.
    values = {field.name: _text(form, field.name) for field in FIELDS if field.name in form}
    try:
        changed = await live.save(web(request).db, values)
    except ConfigError as exc:
        return await _render(request, error=str(exc), drafts=values, status=400)
    if changed:
        flash(request, f"Saved {', '.join(changed)}: in force now, no restart needed.")
    else:
        flash(request, "Nothing changed.")
    return redirect(f"{PAGE}#receiver")


async def _render(request: Request, **options: Any) -> Response:
    return await run_in_threadpool(_page, request, **options)


ROUTES = [
    Route(PAGE, settings_page, methods=["GET"]),
    Route(f"{PAGE}/keys", add_key, methods=["POST"]),
    Route(f"{PAGE}/keys/{{key_id:id}}/remove", remove_key, methods=["POST"]),
    Route(f"{PAGE}/keys/{{key_id:id}}/label", relabel_key, methods=["POST"]),
    Route(f"{PAGE}/receiver", save_receiver, methods=["POST"]),
]
