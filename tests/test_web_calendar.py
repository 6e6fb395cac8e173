"""The appointments calendar feed: token made, shown once, revocable; events at the time the
appointment's text names, else all-day on the day it was made.
"""

from __future__ import annotations

import re

import httpx
from conftest import InboxClient
from icalendar import Calendar
from vendor import HelloClientFake

BOT = "cccc0000cccc0000cccc0000cccc0003"


def appointment(session: int, content: str, created: str, **extra: str) -> dict[str, object]:
    return {
        "SerialNumber": BOT,
        "Type": "Appointment",
        "FirstName": "Cal",
        "LastName": "Endar",
        "PhoneNumber": "+49 170 000",
        "CreateTime": created,
        "Content": content,
        "SessionID": session,
        **extra,
    }


def new_link(inbox: InboxClient) -> str:
    page = inbox.post("/status/calendar")
    assert page.status_code == 200
    assert "it is shown only once" in page.text
    return re.search(r'id="calendar-url" class="mono" value="([^"]+)"', page.text).group(1)


def events(url: str) -> dict[str, dict[str, object]]:
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/calendar")
    calendar = Calendar.from_ical(answer.content)
    return {str(e["UID"]): e for e in calendar.walk("VEVENT")}


def test_feed_needs_a_token_that_can_be_replaced_and_revoked(inbox: InboxClient) -> None:
    assert httpx.get(f"{inbox.app.url}/calendar.ics").status_code == 403
    assert httpx.get(f"{inbox.app.url}/calendar.ics?token=guess").status_code == 403
    first = new_link(inbox)
    assert first.startswith(f"{inbox.app.url}/calendar.ics?token=")
    assert httpx.get(first).status_code == 200
    token = first.split("token=")[1]
    status = inbox.get("/status").text
    assert token not in status and "not shown again" in status  # shown once only
    second = new_link(inbox)
    assert httpx.get(first).status_code == 403  # a new link ends the old one
    assert httpx.get(second).status_code == 200
    assert inbox.post("/status/calendar/revoke").status_code == 303
    assert httpx.get(second).status_code == 403
    assert token not in inbox.app.log()


def test_events_at_the_named_time_or_all_day(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    made = "2026-11-23T18:36:21.512302Z"  # 19:36 in Berlin, a Monday
    posts = {
        "tomorrow": appointment(71001, "Appointment request: tomorrow at 10:00", made),
        "dated": appointment(71002, "Date: 11/28/2026 Time: 2:30 PM, oil change", made),
        "vague": appointment(71003, "Please call me to find a time", made),
        "archived": appointment(71004, "Friday at 9am", made),
    }
    for payload in posts.values():
        assert inbox_vendor.post(payload).status_code == 200
    plain_lead = {**posts["vague"], "Type": "Lead", "SessionID": 71005}
    assert inbox_vendor.post(plain_lead).status_code == 200
    ids = {
        name: int(inbox.app.scalar("SELECT id FROM lead WHERE session_id = ?", (p["SessionID"],)))
        for name, p in posts.items()
    }
    inbox.post(f"/leads/{ids['archived']}/status", {"status": "archived"})
    found = events(new_link(inbox))

    tomorrow = found[f"appointment-{ids['tomorrow']}@hello-client-inbox"]
    assert tomorrow["DTSTART"].to_ical() == b"20261124T090000Z"  # 10:00 Berlin (CET)
    assert tomorrow["DTEND"].to_ical() == b"20261124T100000Z"
    assert str(tomorrow["SUMMARY"]) == "Appointment: Cal Endar"
    assert "Phone: +49 170 000" in str(tomorrow["DESCRIPTION"])
    dated = found[f"appointment-{ids['dated']}@hello-client-inbox"]
    assert dated["DTSTART"].to_ical() == b"20261128T133000Z"
    vague = found[f"appointment-{ids['vague']}@hello-client-inbox"]
    assert vague["DTSTART"].to_ical() == b"20261123"  # all day, the day it was made (in TZ)
    assert vague["DTEND"].to_ical() == b"20261124"
    assert "Please call me to find a time" in str(vague["DESCRIPTION"])
    assert f"appointment-{ids['archived']}@hello-client-inbox" not in found
    assert not any(uid.startswith("lead-") for uid in found)
