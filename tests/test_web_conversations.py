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
    # Grouped by chatbot: each name once, its days below it.
    assert listing.index(">Bakery bot</a>") < listing.index("Fri 2 Oct 2026")
    assert listing.index("Fri 2 Oct 2026") < listing.index(">Garage bot</a>")
    assert listing.index(">Garage bot</a>") < listing.index("Thu 1 Oct 2026")
    only_a = inbox.get(f"/conversations?chatbot={BOT_A}").text
    assert "Thu 1 Oct 2026" in only_a and "Fri 2 Oct 2026" not in only_a

    window = inbox.app.scalar("SELECT id FROM chat_window WHERE serial_number = ?", (BOT_A,))
    day = inbox.get(f"/conversations/{window}").text
    assert day.count('<details class="chat-session"') == 2
    assert "Session 7001" in day and "Session 7002" in day
    user = re.findall(
        r'class="bubble bubble-user">\s*<span class="who">Visitor</span>\s*<p>([^<]*)', day
    )
    ai = re.findall(
        r'class="bubble bubble-ai">\s*<span class="who">Garage bot</span>\s*<p>([^<]*)', day
    )
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
    assert f'href="/sessions/{conversation}?q=windscreen#m' in found
    assert "No message matches" in inbox.get("/conversations?q=zebracrossing").text
    assert "squeaks" in inbox.get(f"/conversations?q=wiper&chatbot={BOT_A}").text
    assert "squeaks" not in inbox.get(f"/conversations?q=wiper&chatbot={BOT_B}").text
