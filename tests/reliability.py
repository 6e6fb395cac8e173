"""Shared parts of the reliability tests: events the vendor sends and retries, a sender that
survives dropped connections, a json:// endpoint that can go down, and checks on the real file."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from servers import AppProcess, free_port
from sinks import JsonSink
from vendor import HelloClientFake, succeeded

from app import shapes
from app.signature import HEADER

SUCCESS_ANSWER = "success"


@dataclass
class Event:
    """One webhook event: the vendor sends exactly these bytes on every attempt."""

    body: bytes
    session_id: int
    first_name: str
    answers: list[str] = field(default_factory=list)  # every attempt of every delivery of it

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def acknowledged(self) -> bool:
        return SUCCESS_ANSWER in self.answers

    @property
    def title(self) -> str:
        """The notification title this lead gets (shapes.sample_lead's last name is Garcia)."""
        kind = "appointment" if b'"Type":"Appointment"' in self.body else "lead"
        return f"New {kind} — {self.first_name} Garcia"


def make_event(
    vendor: HelloClientFake, session_id: int, first_name: str, kind: str = "Lead", **extra: str
) -> Event:
    payload = {
        **shapes.sample_lead(kind),
        "SessionID": session_id,
        "FirstName": first_name,
        **extra,
    }
    return Event(vendor.body_for(payload), session_id, first_name)


def hang_up(vendor: HelloClientFake, body: bytes, *, cut: int) -> None:
    """Send the signed request with only its first ``cut`` body bytes, then drop the connection
    without reading the answer: a sender that timed out or lost its network mid-request."""
    url = urlsplit(vendor.url)
    head = (
        f"POST {url.path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{HEADER}: {vendor.signature(body)}\r\n\r\n"
    )
    with socket.create_connection((url.hostname or "", url.port or 80), timeout=5) as sock:
        sock.sendall(head.encode() + body[:cut])


def attempt(vendor: HelloClientFake, event: Event, how: str = "whole") -> str:
    """One attempt; the answer as the vendor saw it. ``how``: whole, hang-up, hang-up-mid-body."""
    try:
        if how != "whole":
            hang_up(vendor, event.body, cut=len(event.body) if how == "hang-up" else 40)
            return how  # no answer read: to the vendor a timeout, so a failure
        response = vendor.post(body=event.body)
    except (httpx.ConnectError, ConnectionRefusedError):
        return "refused"  # the server is down
    except (httpx.TransportError, OSError) as exc:
        return f"dropped ({type(exc).__name__})"  # the server died mid-request
    if succeeded(response):
        return SUCCESS_ANSWER
    return f"http {response.status_code}: {response.text[:120]}"


def deliver(vendor: HelloClientFake, event: Event, first: str = "whole") -> list[str]:
    """The vendor's policy: a failed attempt is retried after each of ``retry_delays``."""
    answers = [attempt(vendor, event, first)]
    for delay in vendor.retry_delays:
        if answers[-1] == SUCCESS_ANSWER:
            break
        vendor.sleep(delay)
        answers.append(attempt(vendor, event))
    event.answers.extend(answers)
    return answers


# ---- checks on the real database file ---------------------------------------------------


def assert_intact(app: AppProcess) -> None:
    assert [tuple(row) for row in app.query("PRAGMA integrity_check")] == [("ok",)]
    assert app.query("PRAGMA foreign_key_check") == []


def assert_stored_exactly_once(
    app: AppProcess, events: list[Event], *, failures_left_nothing: bool
) -> None:
    """Every acknowledged event is one whole accepted delivery and one lead made from it.

    ``failures_left_nothing``: the server stayed up, so a delivery it did not acknowledge must
    have been rolled back whole (with crashes, an unanswered commit may have happened).
    """
    by_sha = {event.sha256: event for event in events}
    accepted = app.query("SELECT id, body, body_sha256 FROM delivery WHERE outcome = 'accepted'")
    copies = Counter(row["body_sha256"] for row in accepted)
    assert [sha for sha, n in copies.items() if n > 1] == [], "a body was stored twice"
    for row in accepted:
        # A body cut short by a dropped connection would not match any event.
        assert row["body_sha256"] in by_sha, f"delivery {row['id']} holds a body nobody sent"
        assert row["body"] == by_sha[row["body_sha256"]].body, f"delivery {row['id']} is partial"
    stored = set(copies)
    acknowledged = {event.sha256 for event in events if event.acknowledged}
    lost = sorted(by_sha[sha].session_id for sha in acknowledged - stored)
    assert lost == [], f"{len(lost)} answered success but not stored (SessionIDs): {lost[:10]}"
    if failures_left_nothing:
        assert stored == acknowledged, "a delivery answered with a failure left rows behind"

    leads = app.query("SELECT session_id, delivery_id FROM lead")
    delivery_of = {row["body_sha256"]: row["id"] for row in accepted}
    expected = Counter({by_sha[sha].session_id: 1 for sha in stored})
    assert Counter(row["session_id"] for row in leads) == expected, "leads do not match deliveries"
    by_session = {event.session_id: event for event in events}
    for row in leads:  # each lead was made from its own event's stored delivery
        assert row["delivery_id"] == delivery_of[by_session[row["session_id"]].sha256]
    others = app.query("SELECT outcome, count(*) FROM delivery GROUP BY outcome")
    assert {row[0] for row in others} <= {"accepted", "duplicate"}, [tuple(r) for r in others]


def assert_one_notification_each(app: AppProcess, statuses: set[str]) -> None:
    """Exactly one outbox row per lead (one target is configured), in one of ``statuses``."""
    rows = app.query(
        "SELECT lead.id, count(notify_outbox.id) AS n, group_concat(notify_outbox.status) AS s "
        "FROM lead LEFT JOIN notify_outbox ON notify_outbox.lead_id = lead.id GROUP BY lead.id"
    )
    wrong = [tuple(row) for row in rows if row["n"] != 1 or row["s"] not in statuses]
    assert wrong == [], f"(lead, rows, statuses) not exactly one row in {statuses}: {wrong}"


# ---- a json:// endpoint that can be switched off ----------------------------------------


class SwitchableSink:
    """Apprise's json:// target on a fixed port that can be closed (connection refused) and
    opened again, unlike the ``json_sink`` fixture which only answers 500 when failing."""

    def __init__(self) -> None:
        self.state = JsonSink(port=free_port())
        self._server: http.server.ThreadingHTTPServer | None = None

    def url(self, path: str = "/notify") -> str:
        return self.state.url(path)

    def on(self) -> None:
        handler = self.state.handler()  # answers 200 to all: nothing is set to fail
        # The port was free a moment ago; retry briefly in case a closing socket still holds it.
        deadline = time.monotonic() + 5
        while True:
            try:
                server = http.server.ThreadingHTTPServer(("127.0.0.1", self.state.port), handler)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def off(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
