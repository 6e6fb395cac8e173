"""A chat-log day's page: sessions in the order they began, each collapsed to one line (its local
time, the visitor's first line, its message count), a messenger view inside, an index of
sessions at the top, and the sessions that produced a lead marked and linked to it.

The server runs in Europe/Berlin (UTC+1 in November): every time shown is the local one.
"""

from __future__ import annotations

import re
from typing import Any

from chat_days import push_window
from chatlogs import conversation
from conftest import InboxClient
from spec_examples import SPEC_LEAD
from vendor import HelloClientFake

DETAILS = re.compile(r'<details class="chat-session( has-lead)?" id="s(\d+)"( open)?>')
CLOCKS = re.compile(r'<time class="chat-clock"[^>]*>([^<]*)</time>')


def push_day(vendor: HelloClientFake, serial: str, day: int, conversations: list[Any]) -> None:
    push_window(vendor, serial, day, conversations, name=f"Day bot {serial[-2:]}")


def at(session: int, clock: str, messages: list[tuple[str, str]]) -> dict[str, Any]:
    return conversation(
        session,
        CreateTime=f"2023-11-21T{clock}:00.000001Z",
        Messages=[{"Type": kind, "Content": text} for kind, text in messages],
    )


def day_page(inbox: InboxClient, serial: str, query: str = "") -> str:
    window_id = inbox.app.scalar("SELECT id FROM chat_window WHERE serial_number = ?", (serial,))
    response = inbox.get(f"/conversations/{window_id}{query}")
    assert response.status_code == 200
    return response.text


def summaries(html: str) -> list[str]:
    return re.findall(r"<summary>(.*?)</summary>", html, re.DOTALL)


def test_sessions_are_listed_in_the_order_they_began_in_local_time(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    serial = "d0d0" * 7 + "0001"
    times = ["13:49", "10:31", "06:29", "02:18", "08:05"]  # the order, UTC
    sessions = [
        at(9100 + n, clock, [("AI", "Hi!"), ("User", f"question at {clock} UTC")])
        for n, clock in enumerate(times)
    ]
    unreadable = conversation(9199, CreateTime="yesterday-ish", Messages=[])
    push_day(inbox_vendor, serial, 21, [*sessions, unreadable])

    html = day_page(inbox, serial)
    # Berlin is UTC+1 in November; the session without a readable time comes last.
    assert CLOCKS.findall(html) == ["03:18", "07:29", "09:05", "11:31", "14:49", "—"]
    lines = [re.search(r"question at (\d\d:\d\d) UTC", s) for s in summaries(html)]
    assert [line.group(1) for line in lines if line] == sorted(times)
    index = re.search(r'<nav class="chat-index".*?</nav>', html, re.DOTALL)
    assert index is not None
    assert re.findall(r">(\d\d:\d\d|—)<", index.group(0)) == CLOCKS.findall(html)


def test_each_session_is_collapsed_and_opens_as_a_messenger(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    serial = "d0d0" * 7 + "0002"
    long_line = "My car makes a noise " + "and then another noise " * 20
    push_day(
        inbox_vendor,
        serial,
        21,
        [
            at(9201, "09:00", [("AI", "Hello, how can I help?"), ("User", long_line)]),
            at(9202, "09:30", [("AI", "Welcome back"), ("User", "Tyres"), ("AI", "Sure")]),
        ],
    )
    html = day_page(inbox, serial)
    details = DETAILS.findall(html)
    assert len(details) == 2
    assert all(opened == "" for _, _, opened in details)  # collapsed by default, no script
    first, second = summaries(html)
    # The visitor's first line, not the bot's greeting, cut short with an ellipsis.
    opening = re.search(r'<span class="chat-opening">([^<]*)</span>', first)
    assert opening is not None
    assert opening.group(1).startswith("My car makes a noise and then another noise")
    assert opening.group(1).endswith("…") and len(opening.group(1)) <= 120
    assert "Hello, how can I help?" not in first
    assert "2 messages" in first and "3 messages" in second
    # Inside: the visitor on one side, the chatbot (by name) on the other.
    body = html[html.index(f'id="s{details[1][1]}"') :]
    user = re.findall(r'bubble bubble-user">\s*<span class="who">Visitor</span>\s*<p>([^<]*)', body)
    bot = re.findall(r'bubble bubble-ai">\s*<span class="who">([^<]*)</span>\s*<p>([^<]*)', body)
    assert user == ["Tyres"]
    assert bot == [("Day bot 02", "Welcome back"), ("Day bot 02", "Sure")]


def test_sessions_that_produced_a_lead_are_marked_and_linked(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    serial = "d0d0" * 7 + "0003"
    push_day(
        inbox_vendor,
        serial,
        21,
        [
            at(9301, "08:00", [("User", "Call me back please")]),
            at(9302, "09:00", [("User", "Just looking")]),
            at(9303, "10:00", [("User", "Another chatbot's session number")]),
        ],
    )
    lead = {**SPEC_LEAD, "SerialNumber": serial, "SessionID": 9301, "FirstName": "Ada"}
    assert inbox_vendor.post(lead).status_code == 200
    # The same SessionID from another chatbot is another session: no mark.
    other = {**SPEC_LEAD, "SerialNumber": "e0e0" * 8, "SessionID": 9303, "FirstName": "Bob"}
    assert inbox_vendor.post(other).status_code == 200
    lead_id = inbox.app.scalar("SELECT id FROM lead WHERE session_id = 9301")

    html = day_page(inbox, serial)
    marked = {session for lead_mark, session, _ in DETAILS.findall(html) if lead_mark}
    conversation_id = inbox.app.scalar("SELECT id FROM conversation WHERE session_id = 9301")
    assert marked == {str(conversation_id)}
    assert html.count(f'href="/leads/{lead_id}"') == 1
    assert re.search(rf'href="/leads/{lead_id}">Lead: Ada Garcia →</a>', html)
    assert "Bob" not in html
    assert "3 sessions · 3 messages · 1 lead" in html
    index_lead = re.findall(r'<a href="#c(\d+)" class="has-lead"', html)
    assert index_lead == [str(conversation_id)]


def test_one_of_each_is_counted_in_the_singular(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    serial = "d0d0" * 7 + "0004"
    push_day(inbox_vendor, serial, 21, [at(9401, "12:00", [("User", "Just one")])])
    html = day_page(inbox, serial)
    assert "1 session · 1 message · 0 leads" in html
    assert "1 message" in summaries(html)[0]
    assert "1 sessions" not in html and "1 messages" not in html


def test_a_long_day_pages_in_time_order(inbox: InboxClient, inbox_vendor: HelloClientFake) -> None:
    serial = "d0d0" * 7 + "0005"
    # 60 sessions, one a minute from 00:00 UTC, pushed newest first.
    sessions = [
        conversation(
            9500 + n,
            CreateTime=f"2023-11-21T00:{n:02d}:00.000001Z",
            Messages=[{"Type": "User", "Content": f"question {n}"}],
        )
        for n in reversed(range(60))
    ]
    push_day(inbox_vendor, serial, 21, sessions)
    first = day_page(inbox, serial)
    assert len(DETAILS.findall(first)) == 50
    later = re.search(r'href="(/conversations/\d+\?after=[^"]+)"', first)
    assert later is not None
    rest = inbox.get(later.group(1).replace("&amp;", "&")).text
    clocks = CLOCKS.findall(first) + CLOCKS.findall(rest)
    assert clocks == [f"01:{n:02d}" for n in range(60)]
    assert "question 59" in rest and "question 59" not in first


def test_a_search_opens_the_sessions_it_found_and_marks_the_words(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    serial = "d0d0" * 7 + "0006"
    push_day(
        inbox_vendor,
        serial,
        21,
        [
            at(9601, "08:00", [("User", "Is the <b>carburettor</b> in stock?")]),
            at(9602, "09:00", [("User", "Nothing to see")]),
        ],
    )
    html = day_page(inbox, serial, "?q=carburettor")
    opened = [session for _, session, is_open in DETAILS.findall(html) if is_open]
    assert len(opened) == 1
    assert "Is the &lt;b&gt;<mark>carburettor</mark>&lt;/b&gt; in stock?" in html
    assert "<b>" not in html
