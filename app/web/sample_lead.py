"""The "Send test lead" button (Status page and the first-run path): a sample lead signed with
the first Sign Key in force, posted to this server's own /webhook exactly as Hello Client posts.

Post/redirect/get: the handler keeps the (short) result in the session, the page after the
redirect takes it out once, so a reload shows the page and never sends again.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from app import sender, shapes
from app.config import Settings
from app.db import Database
from app.web.queries import status as queries

SESSION_KEY = "test_lead"
MAX_ANSWER_CHARS = 300  # the session is a cookie: keep what it carries small


def send(settings: Settings, where: str) -> dict[str, Any]:
    """Sign a sample lead as Hello Client does and post it to our own /webhook."""
    if not settings.signing_keys:
        return {
            "ok": False,
            "status": None,
            "answer": "No Sign Key yet: add the one Hello Client shows under Settings.",
        }
    payload = shapes.sample_lead()
    payload.update(
        FirstName="Test",
        LastName="Lead",
        Content=f"A test lead sent from the {where}. Archive it when you have seen it.",
    )
    url = sender.loopback_webhook_url(settings)
    answer = sender.send_signed(url, settings.signing_keys[0], payload)
    if answer.status is None:
        return {"ok": False, "status": None, "answer": f"could not connect: {answer.error}"}
    return {
        "ok": answer.ok,
        "status": answer.status,
        "answer": answer.body.decode("utf-8", "replace")[:MAX_ANSWER_CHARS],
        "session_id": payload["SessionID"],
    }


def send_and_find(settings: Settings, where: str, db: Database) -> dict[str, Any]:
    """``send``, then the lead it made (stored before "success" was answered)."""
    result = send(settings, where)
    if result["ok"]:
        with db.read() as connection:
            result["lead_id"] = queries.lead_of_session(connection, result.pop("session_id"))
    result.pop("session_id", None)
    return result


def remember(request: Request, result: dict[str, Any]) -> None:
    request.session[SESSION_KEY] = result


def take(request: Request) -> dict[str, Any] | None:
    found = request.session.pop(SESSION_KEY, None)
    return found if isinstance(found, dict) else None
