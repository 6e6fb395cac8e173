"""Sample deliveries shaped exactly like the vendor's documented examples, stamped with now,
and sending one to a webhook exactly as Hello Client would (the CLI's send-test, the Status
page's test button)."""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.config import Settings
from app.jsonjs import js_stringify
from app.signature import HEADER, sign
from app.webhook import SUCCESS

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


def loopback_webhook_url(settings: Settings) -> str:
    """This server's own /webhook, reached where it listens (a wildcard bind: loopback)."""
    host = settings.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.port}/webhook"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer at all
    body: bytes
    error: str | None = None  # why nothing answered

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.body == SUCCESS


def send_signed(url: str, key: str, payload: dict[str, Any]) -> Answer:
    """POST ``JSON.stringify(payload)`` signed with the Sign Key, as the vendor does."""
    body = js_stringify(payload).encode("utf-8")
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            HEADER: f"t={timestamp},v1={sign(key, timestamp, body)}",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.read())
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read())
    except (urllib.error.URLError, OSError) as exc:
        return Answer(None, b"", str(getattr(exc, "reason", exc)))
