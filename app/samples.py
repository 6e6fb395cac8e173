"""Sample deliveries shaped exactly like the vendor's documented examples, stamped with now."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

SAMPLE_SERIAL = "59001dd73709417321c58b11693183a2"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def lead(kind: str = "Lead", now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    return {
        "SerialNumber": SAMPLE_SERIAL,
        "Type": kind,
        "FirstName": "David",
        "LastName": "Garcia",
        "Email": "test@example.com",
        "PhoneNumber": "+1 555 0100",
        "CreateTime": _iso(moment),
        "Content": "Test from `python -m app send-test`: please call me back."
        if kind == "Lead"
        else "Appointment request: tomorrow at 10:00",
        "SessionID": 10_000_000 + secrets.randbelow(90_000_000),
        "URI": "www.helloclient.com",
    }


def chatlog(now: datetime | None = None) -> dict[str, Any]:
    moment = now or datetime.now(UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    return {
        "Collection": [
            {
                "SerialNumber": SAMPLE_SERIAL,
                "Name": "Test chatbot",
                "StartTime": day.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "EndTime": (day + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "Conversations": [
                    {
                        "SessionID": 31302,
                        "CreateTime": _iso(day + timedelta(hours=16, minutes=22)),
                        "URI": "www.helloclient.com",
                        "Messages": [
                            {"Type": "AI", "Content": "Hi What can I help you with?"},
                            {"Type": "User", "Content": "make an appointment"},
                            {"Type": "AI", "Content": "Please select the date and time..."},
                        ],
                    }
                ],
            }
        ]
    }


def build(kind: str) -> dict[str, Any]:
    if kind == "chatlog":
        return chatlog()
    return lead("Appointment" if kind == "appointment" else "Lead")
