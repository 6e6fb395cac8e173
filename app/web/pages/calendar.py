"""Appointments as an ICS feed a phone's calendar can subscribe to (``/calendar.ics?token=…``;
the token is made and revoked on the Status page and checked in ``auth.AuthMiddleware``).
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.models import utcnow
from app.shapes import person_name
from app.web.context import web
from app.web.paging import AnyRow
from app.web.queries import leads
from app.web.templating import chatbot_label
from app.web.when import appointment_time

if TYPE_CHECKING:  # icalendar itself is imported when a feed is asked for: 2.6 MB, 40 ms at start
    from icalendar import Event

FEED_DAYS = 365  # appointments made in the last year; older ones no phone needs to sync
MAX_EVENTS = 2000
EVENT_LENGTH = timedelta(hours=1)


def _event(row: AnyRow, tz: ZoneInfo, base_url: str | None) -> Event:
    from icalendar import Event

    lead = row
    made = (lead.created_at or lead.received_at).astimezone(tz)
    who = person_name(lead.first_name, lead.last_name, lead.email, lead.phone_number)
    details = [lead.content.strip()] if lead.content.strip() else []
    details += [f"Phone: {lead.phone_number}"] if lead.phone_number else []
    details += [f"Email: {lead.email}"] if lead.email else []
    details.append(f"Chatbot: {chatbot_label(row.chatbot_name, lead.serial_number)}")
    if base_url:
        details.append(f"{base_url}/leads/{lead.id}")
    event = Event()
    event.add("uid", f"appointment-{lead.id}@hello-client-inbox")
    event.add("summary", f"Appointment: {who}")
    event.add("dtstamp", lead.received_at)
    event.add("description", "\n".join(details))
    at = appointment_time(lead.content, made.replace(tzinfo=None))
    if at is not None:
        start = at.replace(tzinfo=tz).astimezone(UTC)
        event.add("dtstart", start)
        event.add("dtend", start + EVENT_LENGTH)
    else:
        event.add("dtstart", made.date())
        event.add("dtend", made.date() + timedelta(days=1))
    return event


def calendar_feed(request: Request) -> Response:
    from icalendar import Calendar

    app = web(request)
    since = utcnow() - timedelta(days=FEED_DAYS)
    with app.db.read() as connection:
        rows = leads.appointments(connection, since, MAX_EVENTS)
    calendar = Calendar()
    calendar.add("prodid", "-//Hello Client inbox//appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "Hello Client appointments")
    calendar.add("x-published-ttl", "PT1H")
    for row in rows:
        calendar.add_component(_event(row, app.settings.tz, app.settings.base_url))
    return Response(calendar.to_ical(), media_type="text/calendar; charset=utf-8")


ROUTES = [Route("/calendar.ics", calendar_feed, methods=["GET"])]
