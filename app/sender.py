"""Sending a delivery to a webhook exactly as Hello Client would: ``JSON.stringify`` of the
record, signed with the Sign Key (the CLI's send-test, the Status page's test button)."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from app.config import Settings
from app.jsonjs import js_stringify
from app.shapes import SUCCESS
from app.signature import HEADER, sign


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
