"""The appointments calendar feed: token made with post/redirect/get and shown once, on the page
after the redirect, never in a cookie, a URL or the log; revocable; events at the time the
appointment's text names, else all-day on the day it was made.
"""

from __future__ import annotations

import json
import re
from base64 import b64decode

import httpx
from conftest import INBOX_PASSWORD, InboxClient, MakeApp, inbox_client
from icalendar import Calendar
from vendor import HelloClientFake

SHOWN_URL = re.compile(r'id="calendar-url" class="mono" value="([^"]+)"')

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


def session_cookies(answer: httpx.Response) -> list[str]:
    """Every Set-Cookie header of ``answer``, with the session's signed JSON decoded."""
    found = []
    for header in answer.headers.get_list("set-cookie"):
        found.append(header)
        value = header.split(";", 1)[0].split("=", 1)[1]
        if value.count(".") >= 2:
            found.append(json.dumps(json.loads(b64decode(value.rsplit(".", 2)[0]))))
    return found


def make_link(inbox: InboxClient) -> httpx.Response:
    made = inbox.post("/status/calendar")
    assert made.status_code == 303, made.text
    assert made.headers["location"] == "/status#calendar"
    return made


def new_link(inbox: InboxClient) -> str:
    make_link(inbox)
    page = inbox.get("/status")
    assert "it is shown only once" in page.text
    shown = SHOWN_URL.search(page.text)
    assert shown, "the page after the redirect shows the new link"
    return shown.group(1)


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


def test_new_link_is_post_redirect_get_and_shown_once(inbox: InboxClient) -> None:
    made = make_link(inbox)
    page = inbox.get("/status")
    url = SHOWN_URL.search(page.text)
    assert url, "the page after the redirect shows the link"
    token = url.group(1).split("token=")[1]
    assert len(token) >= 30
    for answer in (made, page):
        assert token not in answer.headers.get("location", "")
        assert not any(token in cookie for cookie in session_cookies(answer))
    # The decoding above worked: the session carries a handle for the next page, not the link.
    assert any('"once"' in cookie for cookie in session_cookies(made))
    assert httpx.get(url.group(1)).status_code == 200  # the feed answers the shown link
    again = inbox.get("/status").text
    assert token not in again and "not shown again" in again
    assert "it is shown only once" not in again
    assert httpx.get(url.group(1)).status_code == 200  # showing it once did not change it
    assert token not in inbox.app.log()


def test_reloading_the_form_address_makes_no_new_link(inbox: InboxClient) -> None:
    url = new_link(inbox)
    made_at = inbox.app.scalar("SELECT value FROM app_setting WHERE key = 'calendar_token_sha256'")
    for path in ("/status/calendar", "/status/calendar/revoke"):
        answer = inbox.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/status"
    reloaded = inbox.get("/status").text
    assert "it is shown only once" not in reloaded and not SHOWN_URL.search(reloaded)
    same = inbox.app.scalar("SELECT value FROM app_setting WHERE key = 'calendar_token_sha256'")
    assert same == made_at  # neither a new token nor a revoked one
    assert httpx.get(url).status_code == 200


def test_revoking_before_the_page_forgets_the_unshown_link(inbox: InboxClient) -> None:
    make_link(inbox)
    assert inbox.post("/status/calendar/revoke").status_code == 303
    page = inbox.get("/status").text
    assert not SHOWN_URL.search(page) and "Calendar link turned off" in page


def test_a_link_lost_to_a_restart_says_so(make_app: MakeApp) -> None:
    app = make_app(INBOX_PASSWORD=INBOX_PASSWORD)
    owner = inbox_client(app)
    make_link(owner)
    app.restart()  # what waited in memory for the next page is gone; the session is not
    page = owner.get("/status")
    assert page.status_code == 200 and "Calendar feed" in page.text  # still signed in
    assert not SHOWN_URL.search(page.text)
    assert "can no longer be shown" in page.text
    assert "can no longer be shown" not in owner.get("/status").text  # said once


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
