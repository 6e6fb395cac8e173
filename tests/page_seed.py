"""An inbox filled as the issue's tester had it: 300 leads and appointments from 20 chatbots,
then one chat-log push of 20 chatbots x 50 conversations (with the leads' sessions among them),
all sent through the real webhook by the Hello Client stand-in.

A helper module, not a test module: tests/test_browser_pages.py imports it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from servers import AppProcess
from vendor import HelloClientFake, succeeded

BOTS = 20
CONVERSATIONS = 50
LEADS = 300
FIRST = ("Anna", "Ben", "Clara", "David", "Emre", "Fatima", "Georg", "Hanna", "Ivan", "Julia")
LAST = ("Schmidt", "Garcia", "Nguyen", "Kowalski", "Okafor", "Rossi", "Yilmaz", "Larsen")
ASKS = (
    "I'd like a quote for replacing three windows in our kitchen. Best to call after 5pm.",
    "Do you deliver to Potsdam? We need 40 chairs for a wedding on the 14th.",
    "Please call me back about the offer for the roof insulation.",
    "Appointment: Friday at 10:30 for a measurement visit",
)


def serial(bot: int) -> str:
    return f"{bot:02d}" + "5900dd73709417321c58b11693183a"


def session_of(bot: int, number: int) -> int:
    return 70_000 + bot * 1000 + number


def lead(number: int, when: datetime) -> dict[str, Any]:
    bot = number % BOTS
    first, last = FIRST[number % len(FIRST)], LAST[number % len(LAST)]
    appointment = number % 7 == 0
    return {
        "SerialNumber": serial(bot),
        "Type": "Appointment" if appointment else "Lead",
        "FirstName": first,
        "LastName": last,
        "Email": f"{first.lower()}.{last.lower()}{number}@example.com",
        "PhoneNumber": f"+49 170 {6950000 + number}",
        "CreateTime": when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "Content": ASKS[3 if appointment else number % 3],
        "SessionID": session_of(bot, number % CONVERSATIONS),
        "URI": "www.example-shop.de/contact",
    }


def chat_log(day: datetime) -> dict[str, Any]:
    start = day.strftime("%Y-%m-%dT00:00:00Z")
    end = (day + timedelta(days=1)).strftime("%Y-%m-%dT00:00:00Z")
    windows = []
    for bot in range(BOTS):
        conversations = []
        for number in range(CONVERSATIONS):
            # Out of time order, as the vendor sends them.
            minute = (number * 37) % (24 * 60)
            conversations.append(
                {
                    "SessionID": session_of(bot, number),
                    "CreateTime": day.strftime("%Y-%m-%dT")
                    + f"{minute // 60:02d}:{minute % 60:02d}:00.000001Z",
                    "URI": "www.example-shop.de",
                    "Messages": [
                        {"Type": "AI", "Content": "Hi! What can I help you with?"},
                        {"Type": "User", "Content": ASKS[number % len(ASKS)]},
                        {"Type": "AI", "Content": "Happy to help. May I have your name?"},
                        {"Type": "User", "Content": f"{FIRST[number % 10]}, +49 170 69502{number}"},
                        {"Type": "AI", "Content": "Thanks, we will call you soon."},
                    ],
                }
            )
        windows.append(
            {
                "SerialNumber": serial(bot),
                "Name": f"Bot {bot + 1}",
                "StartTime": start,
                "EndTime": end,
                "Conversations": conversations,
            }
        )
    return {"Collection": windows}


def seed(app: AppProcess, vendor: HelloClientFake) -> None:
    """300 leads (newest now, one every 10 minutes before), then yesterday's chat log."""
    now = datetime.now(UTC)
    for number in range(LEADS):
        answer = vendor.post(lead(number, now - timedelta(minutes=10 * (LEADS - number))))
        assert succeeded(answer), answer.text
    yesterday = (now - timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert succeeded(vendor.post(chat_log(yesterday)))
    app.wait_for("SELECT count(*) FROM conversation", BOTS * CONVERSATIONS, timeout=120)
    app.wait_for("SELECT count(*) FROM lead", LEADS)
