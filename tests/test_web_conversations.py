"""Chat logs by chatbot and day, one transcript per session, search across messages."""

from __future__ import annotations

import re
from typing import Any

from conftest import InboxClient
from vendor import HelloClientFake

BOT_A = "aaaa0000aaaa0000aaaa0000aaaa0001"
BOT_B = "bbbb0000bbbb0000bbbb0000bbbb0002"


def push(vendor: HelloClientFake, serial: str, name: str, day: str, sessions: list[Any]) -> None:
    conversations = [
        {
            "SessionID": session,
            "CreateTime": f"{day}T09:00:00.5Z",
            "URI": "www.example.com/pricing",
            "Messages": [{"Type": kind, "Content": text} for kind, text in messages],
        }
        for session, messages in sessions
    ]
    body = {
        "Collection": [
            {
                "SerialNumber": serial,
                "Name": name,
                "StartTime": f"{day}T00:00:00Z",
                "EndTime": f"{day}T23:59:59Z",
                "Conversations": conversations,
            }
        ]
    }
    assert vendor.post(body).status_code == 200


def test_days_by_chatbot_and_transcripts_per_session(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    push(
        inbox_vendor,
        BOT_A,
        "Garage bot",
        "2026-10-01",
        [
            (7001, [("AI", "Hello! How can I help?"), ("User", "Do you fix brakes?")]),
            (7002, [("AI", "Hello again"), ("User", "Opening hours please")]),
        ],
    )
    push(
        inbox_vendor,
        BOT_B,
        "Bakery bot",
        "2026-10-02",
        [
            (7003, [("AI", "Welcome to the bakery"), ("User", "Sourdough on Sunday?")]),
        ],
    )
    listing = inbox.get("/conversations").text
    assert listing.index("Fri 2 Oct 2026") < listing.index("Thu 1 Oct 2026")  # newest day first
    assert "Garage bot · 2 sessions · 4 messages" in listing
    only_a = inbox.get(f"/conversations?chatbot={BOT_A}").text
    assert "Garage bot" in only_a and "Bakery bot ·" not in only_a

    window = inbox.app.scalar("SELECT id FROM chat_window WHERE serial_number = ?", (BOT_A,))
    day = inbox.get(f"/conversations/{window}").text
    assert day.count('class="card session"') == 2
    assert "Session 7001" in day and "Session 7002" in day
    user = re.findall(
        r'class="bubble bubble-user">\s*<span class="who">Visitor</span>\s*<p>([^<]*)', day
    )
    ai = re.findall(r'class="bubble bubble-ai">\s*<span class="who">AI</span>\s*<p>([^<]*)', day)
    assert user == ["Do you fix brakes?", "Opening hours please"]
    assert ai == ["Hello! How can I help?", "Hello again"]
    conversation = inbox.app.scalar("SELECT id FROM conversation WHERE session_id = 7003")
    single = inbox.get(f"/sessions/{conversation}").text
    assert "Sourdough on Sunday?" in single and "Do you fix brakes?" not in single


def test_search_across_messages(inbox: InboxClient, inbox_vendor: HelloClientFake) -> None:
    push(
        inbox_vendor,
        BOT_A,
        "Garage bot",
        "2026-10-05",
        [
            (7101, [("User", "My windscreen wiper squeaks")]),
            (7102, [("User", "Tyres for winter")]),
        ],
    )
    found = inbox.get("/conversations?q=windscreen").text
    assert "<mark>windscreen</mark> wiper squeaks" in found
    assert "Tyres" not in found
    conversation = inbox.app.scalar("SELECT id FROM conversation WHERE session_id = 7101")
    assert f'href="/sessions/{conversation}#m' in found
    assert "No message matches" in inbox.get("/conversations?q=zebracrossing").text
    assert "squeaks" in inbox.get(f"/conversations?q=wiper&chatbot={BOT_A}").text
    assert "squeaks" not in inbox.get(f"/conversations?q=wiper&chatbot={BOT_B}").text


def test_many_sessions_in_a_day_are_paged(
    inbox: InboxClient, inbox_vendor: HelloClientFake
) -> None:
    push(
        inbox_vendor,
        BOT_B,
        "Bakery bot",
        "2026-10-09",
        [(8000 + n, [("User", f"question {n}")]) for n in range(30)],
    )
    window = inbox.app.scalar("SELECT max(id) FROM chat_window")
    first = inbox.get(f"/conversations/{window}").text
    assert first.count('class="card session"') == 25
    more = re.search(r'href="(/conversations/\d+\?after=\d+)"', first).group(1)
    rest = inbox.get(more).text
    assert rest.count('class="card session"') == 5
    assert "question 29" in rest and "question 29" not in first
