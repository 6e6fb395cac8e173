"""Jinja2 set-up: autoescaping always on (lead content is typed by strangers), and the filters
that turn stored values into what a person reads: local times, phone and mail links, highlights.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app import __version__
from app.shapes import person_name
from app.web import safe
from app.web.textparts import hit_parts

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
STATIC = ROOT / "static"

_EMAIL = re.compile(r"^[^@\s<>\"'()\\,;:]+@[^@\s<>\"'()\\,;:]+\.[^@\s<>\"'()\\,;:]+$")
_PHONE_CHARS = re.compile(r"[^0-9+*#]")


def tel_href(phone: str) -> str | None:
    """``tel:`` with digits (and + * #) only, so nothing else can ride along in the link."""
    digits = _PHONE_CHARS.sub("", phone or "")
    if len(digits.lstrip("+")) < 3:
        return None
    return "tel:" + digits


def mailto_href(email: str) -> str | None:
    email = (email or "").strip()
    if len(email) > 254 or not _EMAIL.match(email):
        return None
    return "mailto:" + quote(email, safe="@.+-_")


def web_href(uri: str) -> str | None:
    """A link only for plain http(s) addresses (or bare host names); never javascript: etc."""
    uri = (uri or "").strip()
    if re.match(r"^https?://[^\s<>\"']+$", uri, re.IGNORECASE):
        return uri
    if re.match(r"^[a-z0-9-]+(\.[a-z0-9-]+)+(/[^\s<>\"']*)?$", uri, re.IGNORECASE):
        return "https://" + uri
    return None


class Clock:
    """Formats UTC times in the time zone in force now (``TZ``: Settings may change it)."""

    def __init__(self, tz: Callable[[], ZoneInfo]) -> None:
        self._tz = tz

    @property
    def tz(self) -> ZoneInfo:
        return self._tz()

    def local(self, moment: datetime | None) -> datetime | None:
        return None if moment is None else moment.astimezone(self.tz)

    def short(self, moment: datetime | None) -> str:
        """ "14:05", "Yesterday 14:05", "Mon 20 Nov, 14:05", "20 Nov 2022"."""
        local = self.local(moment)
        if local is None:
            return "—"
        today = datetime.now(UTC).astimezone(self.tz).date()
        clock = local.strftime("%H:%M")
        if local.date() == today:
            return clock
        if local.date() == today - timedelta(days=1):
            return f"Yesterday {clock}"
        if abs((today - local.date()).days) < 180:
            return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}, {clock}"
        return f"{local.day} {local.strftime('%b %Y')}"

    def full(self, moment: datetime | None) -> str:
        local = self.local(moment)
        if local is None:
            return "—"
        return f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y, %H:%M:%S %Z')}"

    def iso(self, moment: datetime | None) -> str:
        local = self.local(moment)
        return "" if local is None else local.isoformat(timespec="seconds")

    def day(self, moment: datetime | None) -> str:
        local = self.local(moment)
        return (
            "—"
            if local is None
            else f"{local.strftime('%a')} {local.day} {local.strftime('%b %Y')}"
        )


def utc_day(moment: datetime | None) -> str:
    """Chat-log windows are UTC days: label them as the vendor cut them."""
    if moment is None:
        return "—"
    day = moment.astimezone(UTC)
    return f"{day.strftime('%a')} {day.day} {day.strftime('%b %Y')}"


def highlight(value: str, words: list[str]) -> Markup:
    """The searched words marked in ``value``: each piece escaped on its own, so a word can
    never be found inside an entity such as ``&#34;`` and the marks are the only markup."""
    return Markup("").join(
        Markup("<mark>%s</mark>") % part if hit else escape(part)
        for part, hit in hit_parts(value, words)
    )


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def chatbot_label(name: str | None, serial: str) -> str:
    if name:
        return name
    return f"Chatbot …{serial[-6:]}" if serial else "—"  # a lead names no chatbot, only its ID


def _static_version() -> str:
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(str(path.stat().st_mtime_ns).encode())
    return digest.hexdigest()[:10]


def make_environment(tz: Callable[[], ZoneInfo]) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its extension
        undefined=StrictUndefined,  # a typo in a template fails loudly in tests
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=safe.shown,  # every shown value encodable, whatever a delivery carried
    )
    env.policies["json.dumps_function"] = safe.dumps  # |tojson of any stored value, any depth
    clock = Clock(tz)
    version = _static_version()
    env.filters.update(
        short=clock.short,
        full=clock.full,
        iso=clock.iso,
        day=clock.day,
        utc_day=utc_day,
        tel=tel_href,
        mailto=mailto_href,
        web=web_href,
        highlight=highlight,
        size=human_size,
    )
    env.globals.update(
        version=__version__,
        static=lambda name: f"/static/{name}?v={version}",
        chatbot_label=chatbot_label,
        person=person_name,
        urlencode=lambda args: urlencode(args),
        csrf_token=_csrf_token,
    )
    return env


@pass_context
def _csrf_token(context: Any) -> str:
    from app.web.csrf import token_for

    request: Request = context["request"]
    return token_for(request.session)


def render_html(env: Environment, name: str, context: dict[str, Any], status: int) -> HTMLResponse:
    return HTMLResponse(env.get_template(name).render(context), status_code=status)
