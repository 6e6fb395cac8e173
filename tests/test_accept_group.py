"""Accepted deliveries stored a group at a time (app.accept_group, Writer.submit_item), and the
webhook's fast path ahead of the UI's middleware (app.fastpath).

A group must store exactly what ``store_accepted`` stores one at a time: duplicates within the
group and across groups, the same lead under two bodies, a chat log between leads, arrival order;
and one failing item must fail alone.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from chatlogs import rows
from conftest import SIGNING_KEY, AppProcess
from forward_receivers import SECRET
from spec_examples import SPEC_CHATLOG, SPEC_LEAD
from sqlalchemy import Connection

from app.accept_group import Accepting, store_accepted_group
from app.db import Database
from app.deliveries import Attempt, Stored, Verification
from app.models import utcnow

SUCCESS = b'{"status":"success"}'


def accepting(document: object) -> Accepting:
    body = json.dumps(document, separators=(",", ":")).encode()
    attempt = Attempt(utcnow(), "127.0.0.1", "application/json", body, 1_700_000_000)
    return Accepting(attempt, Verification("raw", 1, "fp"), hashlib.sha256(body).hexdigest())


def lead(n: int, **fields: object) -> dict[str, object]:
    return {**SPEC_LEAD, "SessionID": n, "FirstName": f"Person{n}", **fields}


def test_a_group_stores_what_one_at_a_time_would(db: Database) -> None:
    items = [
        accepting(lead(1)),
        accepting(lead(2)),
        accepting(lead(1)),  # the same body again: a duplicate of the first
        accepting(SPEC_CHATLOG),  # not a lead: stored the general way, in its place
        accepting(lead(2, Content="said again, differently")),  # same lead, another body
        accepting({"Type": "Lead"}),  # not a valid lead: stored, flagged
        accepting(lead(3)),
    ]
    stored: list[Stored] = db.writer.run_sync(lambda c: store_accepted_group(c, items))

    assert [s.duplicate for s in stored] == [False, False, True, False, False, False, False]
    deliveries = rows(db, "SELECT id, outcome, kind, duplicate_of, process_status FROM delivery")
    assert [d[0] for d in deliveries] == [s.delivery_id for s in stored]  # arrival order
    assert deliveries[2][1:4] == ("duplicate", "lead", stored[0].delivery_id)
    assert deliveries[3][2] == "chatlog"
    assert deliveries[5][4] == "failed"
    leads = rows(db, "SELECT session_id, delivery_id FROM lead ORDER BY session_id")
    assert leads == [
        (1, stored[0].delivery_id),
        (2, stored[1].delivery_id),
        (3, stored[6].delivery_id),
    ]
    assert rows(db, "SELECT count(*) FROM lead_fts WHERE lead_fts MATCH 'Person3'") == [(1,)]

    # A second group: everything is a duplicate of the first one's bodies.
    again = db.writer.run_sync(lambda c: store_accepted_group(c, items[:2]))
    assert [s.duplicate for s in again] == [True, True]
    assert rows(db, "SELECT count(*) FROM lead") == [(3,)]


def test_queued_items_run_as_one_call_and_a_failing_one_fails_alone(db: Database) -> None:
    db.writer.run_sync(lambda c: c.exec_driver_sql("CREATE TABLE item (n INTEGER UNIQUE)"))
    calls: list[list[int]] = []

    def insert_all(connection: Connection, numbers: list[int]) -> list[int]:
        calls.append(numbers)
        for n in numbers:
            connection.exec_driver_sql(f"INSERT INTO item (n) VALUES ({n})")  # 3 twice fails
        return numbers

    release = threading.Event()
    blocker = db.writer.submit(lambda c: release.wait(10))
    futures = [db.writer.submit_item(insert_all, n) for n in (1, 2, 3, 3, 4)]
    release.set()
    assert blocker.result(10) is True
    outcomes = []
    for future in futures:
        try:
            outcomes.append(future.result(10))
        except Exception as exc:
            outcomes.append(type(exc).__name__)
    assert calls[0] == [1, 2, 3, 3, 4]  # one call for the whole queued group
    assert outcomes == [1, 2, 3, "IntegrityError", 4]  # then one savepoint each
    assert rows(db, "SELECT n FROM item ORDER BY n") == [(1,), (2,), (3,), (4,)]


def test_concurrent_deliveries_are_stored_once_each_and_notified(
    make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], Any]
) -> None:
    closed = "http://127.0.0.1:9/"  # nothing listens: rows stay queued
    app = make_app(APPRISE_URLS="json://127.0.0.1:9/", FORWARD_URLS=closed, FORWARD_SECRET=SECRET)
    vendor = vendor_for(app)
    appointments = range(0, 60, 5)  # a group mixes kinds: one enqueue statement per run of one
    payloads = [lead(n, Type="Appointment") if n in appointments else lead(n) for n in range(60)]
    payloads += [payloads[n] for n in range(0, 60, 6)]  # the same bodies again
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda p: vendor.post(p).content, payloads))
    assert answers == [SUCCESS] * len(payloads)

    database = sqlite3.connect(app.data_dir / "inbox.db")
    outcomes = dict(database.execute("SELECT outcome, count(*) FROM delivery GROUP BY outcome"))
    assert outcomes == {"accepted": 60, "duplicate": 10}
    assert database.execute("SELECT count(DISTINCT session_id), count(*) FROM lead").fetchone() == (
        60,
        60,
    )
    for table in ("notify_outbox", "forward_outbox"):
        queued = database.execute(f"SELECT lead_id, kind FROM {table} ORDER BY id").fetchall()
        kinds = dict(database.execute("SELECT id, type FROM lead"))
        assert sorted(lead_id for lead_id, _ in queued) == sorted(kinds)  # once per lead
        assert [lead_id for lead_id, _ in queued] == sorted(kinds)  # in the leads' order
        assert all(kind == kinds[lead_id].lower() for lead_id, kind in queued)
    message_ids = database.execute("SELECT count(DISTINCT message_id) FROM forward_outbox")
    assert message_ids.fetchone() == (60,)


def test_the_webhook_answer_carries_the_security_headers(app_server: AppProcess) -> None:
    answer = httpx.post(f"{app_server.url}/webhook", content=b"{}", timeout=10)
    assert answer.status_code == 401
    assert answer.json()["status"] == "error"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["content-security-policy"].startswith("default-src 'none'")
    # Everything else still goes through the stack: GET /webhook is the route's own answer.
    assert httpx.get(f"{app_server.url}/webhook", timeout=10).status_code == 405
    assert SIGNING_KEY  # the server under test verifies with the shared key
