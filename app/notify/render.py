"""From records to the title and body one target receives.

Templates render plain text (see ``templates``); Apprise then converts it to the target's own
format, escaping as it goes. What Apprise does not do for us is keep within a service's length
limit (Telegram refuses more than 4096 characters), so ``Renderer`` measures the text exactly
as Apprise will convert it for that plugin and, if it is too long, shortens the lead's content
(or the list in a summary) rather than cutting off the name, phone number or link at the end.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import apprise
from apprise import NotifyFormat
from apprise.conversion import convert_between
from sqlalchemy import Connection

from app import shapes
from app.config import Settings
from app.notify.kinds import lead_kind
from app.notify.templates import DEFAULTS, Origin, ResolvedTemplate, render_text, resolve_all
from app.shapes import parse_time, person_name

log = logging.getLogger(__name__)

# Apprise does not annotate it: (from format, to format, content=...) -> the converted text.
_convert = cast(Callable[..., str], convert_between)

# Where the web UI shows an item; a link is only given when BASE_URL is set.
# tests/test_notify_render.py checks each against the app's router.
LEAD_PATH = "/leads/{id}"
CHATLOG_PATH = "/conversations"
INBOX_PATH = "/"

SUMMARY_ITEMS = 10  # a summary lists this many records by name, then "… and N more"
CHATLOG_WINDOWS = 20
LENGTH_MARGIN = 64  # room for the separator Apprise puts between a merged title and body
ELLIPSIS = "…"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    notify_type: str = apprise.NotifyType.INFO


def format_time(moment: datetime | None, tz: ZoneInfo) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def _duration(seconds: float) -> str:
    """For "at most 10 per minute" in summaries."""
    named: dict[float, str] = {60: "minute", 3600: "hour", 86400: "day"}
    if seconds in named:
        return named[seconds]
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def _link(settings: Settings, path: str) -> str | None:
    return f"{settings.base_url}{path}" if settings.base_url else None


def lead_context(lead: Mapping[str, Any], chatbot_name: str, settings: Settings) -> dict[str, Any]:
    """Template variables for one lead or appointment (documented in docs/notifications.md)."""
    moment = lead.get("created_at") or lead.get("received_at")
    lead_id = lead.get("id")
    return {
        "kind": lead_kind(lead["type"]),
        "type": lead["type"],
        "id": lead_id,
        "name": person_name(
            lead["first_name"], lead["last_name"], lead["email"], lead["phone_number"]
        ),
        "first_name": lead["first_name"],
        "last_name": lead["last_name"],
        "email": lead["email"],
        "phone": lead["phone_number"],
        "content": lead["content"],
        "content_truncated": False,
        "chatbot_name": chatbot_name,
        "chatbot_serial": lead["serial_number"],
        "session_id": lead["session_id"],
        "uri": lead["uri"],
        "time": format_time(moment, settings.tz),
        "time_iso": moment.astimezone(UTC).isoformat() if moment else "",
        "link": _link(settings, LEAD_PATH.format(id=lead_id)) if lead_id else None,
        "base_url": settings.base_url,
    }


def chatlog_context(windows: list[Mapping[str, Any]], settings: Settings) -> dict[str, Any]:
    """Template variables for one processed chat-log push (one or more windows)."""
    shown = [
        {
            "chatbot_name": window["name"] or window["serial_number"],
            "chatbot_serial": window["serial_number"],
            "conversations": window["conversation_count"],
            "messages": window["message_count"],
            "start": format_time(window["start_time"], settings.tz),
            "end": format_time(window["end_time"], settings.tz),
        }
        for window in windows
    ]
    starts = [w["start_time"] for w in windows if w["start_time"]]
    ends = [w["end_time"] for w in windows if w["end_time"]]
    period = ""
    if starts and ends:
        period = f"{format_time(min(starts), settings.tz)} to {format_time(max(ends), settings.tz)}"
    return {
        "kind": "chatlog",
        "windows": shown[:CHATLOG_WINDOWS],
        "more_windows": max(0, len(shown) - CHATLOG_WINDOWS),
        "chatbots": len({w["chatbot_serial"] for w in shown}),
        "conversations": sum(w["conversations"] for w in shown),
        "messages": sum(w["messages"] for w in shown),
        "period": period,
        "time": format_time(datetime.now(UTC), settings.tz),
        "link": _link(settings, CHATLOG_PATH),
        "base_url": settings.base_url,
    }


def summary_context(items: list[dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """Template variables for a storm summary; ``items`` are lead contexts."""
    appointments = sum(1 for item in items if item["kind"] == "appointment")
    return {
        "kind": "summary",
        "count": len(items),
        "leads": len(items) - appointments,
        "appointments": appointments,
        "items": items[:SUMMARY_ITEMS],
        "more": max(0, len(items) - SUMMARY_ITEMS),
        "rate": settings.notify_rate_limit,
        "window": _duration(settings.notify_rate_window_seconds),
        "time": format_time(datetime.now(UTC), settings.tz),
        "link": _link(settings, INBOX_PATH),
        "base_url": settings.base_url,
    }


def sample_context(kind: str, settings: Settings) -> dict[str, Any]:
    """Realistic variables for test notifications and template previews."""
    if kind == "chatlog":
        document = shapes.sample_chatlog()["Collection"][0]
        conversations = document["Conversations"]
        window = {
            "name": document["Name"],
            "serial_number": document["SerialNumber"],
            "conversation_count": len(conversations),
            "message_count": sum(len(c["Messages"]) for c in conversations),
            "start_time": parse_time(document["StartTime"]),
            "end_time": parse_time(document["EndTime"]),
        }
        return chatlog_context([window], settings)
    if kind == "summary":
        items = [sample_context("lead", settings), sample_context("appointment", settings)] * 6
        return summary_context(items, settings)
    document = shapes.sample_lead("Appointment" if kind == "appointment" else "Lead")
    lead = {
        "type": document["Type"],
        "first_name": document["FirstName"],
        "last_name": document["LastName"],
        "email": document["Email"],
        "phone_number": document["PhoneNumber"],
        "content": document["Content"],
        "serial_number": document["SerialNumber"],
        "session_id": document["SessionID"],
        "uri": document["URI"],
        "created_at": parse_time(document["CreateTime"]),
    }
    return lead_context(lead, "Test chatbot", settings)


@dataclass(frozen=True)
class Limits:
    """One plugin's length limits, measured on the text Apprise will actually send it."""

    target_format: NotifyFormat
    body_max: int  # 0: no limit
    title_max: int  # 0: the service has no title; Apprise puts it into the body

    @classmethod
    def of(cls, plugin: apprise.NotifyBase) -> Limits:
        return cls(
            plugin.resolve_format(NotifyFormat.TEXT),
            max(0, int(plugin.body_maxlen or 0)),
            max(0, int(plugin.title_maxlen or 0)),
        )

    def size(self, title: str, body: str) -> int:
        size = len(_convert(NotifyFormat.TEXT, self.target_format, content=body))
        if self.title_max == 0 and title:
            size += len(_convert(NotifyFormat.TEXT, self.target_format, content=title))
        return size

    def fits(self, title: str, body: str) -> bool:
        return self.body_max == 0 or self.size(title, body) <= self.body_max - LENGTH_MARGIN

    def cap_title(self, title: str) -> str:
        if self.title_max and len(title) > self.title_max:
            return title[: self.title_max - 1].rstrip() + ELLIPSIS
        return title


def _largest(fits: Callable[[int], bool], high: int) -> int:
    """The largest n in [0, high] with fits(n), assuming fits is monotone; -1 if none."""
    if not fits(0):
        return -1
    low = 0
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


class Renderer:
    """Renders (kind, context) for a plugin with the resolved templates."""

    def __init__(self, templates: Mapping[tuple[str, str], ResolvedTemplate] | None = None):
        self.templates = dict(templates or {})

    @classmethod
    def load(cls, connection: Connection, settings: Settings) -> Renderer:
        """With the templates as they are now (UI overrides, TEMPLATES_DIR files, defaults)."""
        return cls(resolve_all(connection, settings))

    def text(self, kind: str, part: str, context: Mapping[str, Any]) -> str:
        chosen = self.templates.get((kind, part))
        if chosen is not None and chosen.origin != Origin.DEFAULT:
            try:
                return render_text(chosen.text, context)
            except Exception as exc:  # a broken custom template must not lose the notification
                log.warning(
                    "template %s.%s (%s) failed: %s; default used", kind, part, chosen.origin, exc
                )
        return render_text(DEFAULTS[(kind, part)], context)

    def _both(self, kind: str, context: Mapping[str, Any]) -> tuple[str, str]:
        title = " ".join(self.text(kind, "title", context).split())
        return title, self.text(kind, "body", context)

    def render(
        self, kind: str, context: Mapping[str, Any], plugin: apprise.NotifyBase | None = None
    ) -> Message:
        notify_type = apprise.NotifyType.INFO
        title, body = self._both(kind, context)
        if plugin is None:
            return Message(title, body, notify_type)
        limits = Limits.of(plugin)
        title = limits.cap_title(title)
        if limits.fits(title, body):
            return Message(title, body, notify_type)
        title, body = self._shorten(kind, dict(context), limits, title)
        return Message(title, body, notify_type)

    def _shorten(
        self, kind: str, context: dict[str, Any], limits: Limits, title: str
    ) -> tuple[str, str]:
        def variant(n: int) -> dict[str, Any]:
            changed = dict(context)
            if kind in ("lead", "appointment"):
                content = context["content"]
                if n < len(content):
                    changed["content"] = content[:n].rstrip() + ELLIPSIS
                    changed["content_truncated"] = True
            else:
                items_key, more_key = ("windows", "more_windows")
                if kind == "summary":
                    items_key, more_key = ("items", "more")
                dropped = len(context[items_key]) - n
                changed[items_key] = context[items_key][:n]
                changed[more_key] = context[more_key] + max(0, dropped)
            return changed

        def body_of(n: int) -> str:
            return self._both(kind, variant(n))[1]

        field = (
            "content"
            if kind in ("lead", "appointment")
            else ("items" if kind == "summary" else "windows")
        )
        best = _largest(lambda n: limits.fits(title, body_of(n)), len(context[field]))
        if best >= 0:
            return title, body_of(best)
        # Even without the content the rest is too long (a huge name or template): cut the end.
        body = body_of(0)
        keep = _largest(lambda n: limits.fits(title, body[:n] + ELLIPSIS), len(body))
        return title, body[: max(keep, 0)].rstrip() + ELLIPSIS
