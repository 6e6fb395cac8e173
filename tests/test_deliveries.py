"""app.deliveries: accepted deliveries, the bounded quarantine, the refusal log.

How the quarantine shares its room between signed-header and unsigned deliveries, seen
through a real server, is in ``test_quarantine.py``."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from spec_examples import SPEC_LEAD
from sqlalchemy import insert, select, text

from app.db import Database
from app.deliveries import (
    BODY_PIECE_BYTES,
    QUARANTINE_ACCEPTED,
    REFUSAL_LOG_MAX_ROWS,
    REFUSED_BODY_CAP,
    Attempt,
    NotInQuarantine,
    QuarantineLimits,
    Stored,
    Verification,
    accept_from_quarantine,
    discard_from_quarantine,
    mark_for_reprocessing,
    store_accepted,
    store_refusal,
)
from app.ingest.documents import INLINE_MAX_BYTES
from app.models import STORED_BODY, Delivery, Outcome

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
ROOMY = QuarantineLimits(max_items=100, max_bytes=10**6, max_item_bytes=10**6)
LEAD = SPEC_LEAD
LEAD_BODY = json.dumps(LEAD).encode()


def attempt(body: bytes, *, signed: bool = True) -> Attempt:
    """``signed``: it carried a well-formed signature header (whether or not it verified)."""
    timestamp = 1700000000 if signed else None
    return Attempt(NOW, "203.0.113.9", "application/json", body, signature_timestamp=timestamp)


def accept(db: Database, body: bytes) -> Stored:
    sha256 = hashlib.sha256(body).hexdigest()
    verification = Verification("raw", 1, "abcd1234")
    return db.writer.run_sync(lambda c: store_accepted(c, attempt(body), verification, sha256))


def refuse(
    db: Database, body: bytes, quarantine: QuarantineLimits | None = ROOMY, *, signed: bool = True
) -> int:
    refused = attempt(body, signed=signed)
    return db.writer.run_sync(
        lambda c: store_refusal(
            c, refused, status_code=401, reason="bad signature", quarantine=quarantine
        )
    )


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


def quarantined(db: Database) -> list[int]:
    return [r[0] for r in rows(db, "SELECT id FROM delivery WHERE outcome = 'quarantined'")]


# ---- accepted ----------------------------------------------------------------------------


def test_small_body_is_stored_and_processed_at_once(db: Database) -> None:
    stored = accept(db, LEAD_BODY)
    assert (stored.duplicate, stored.pending) == (False, False)
    assert rows(
        db,
        "SELECT outcome, status_code, kind, process_status, record_count, body, body_size, "
        "key_number, key_fingerprint, signed_form, signature_timestamp FROM delivery",
    ) == [
        (
            "accepted",
            200,
            "lead",
            "processed",
            1,
            LEAD_BODY,
            len(LEAD_BODY),
            1,
            "abcd1234",
            "raw",
            1700000000,
        )
    ]
    assert rows(db, "SELECT delivery_id, first_name FROM lead") == [(stored.delivery_id, "David")]


def test_duplicate_body_is_logged_not_stored_twice(db: Database) -> None:
    first = accept(db, LEAD_BODY)
    again = accept(db, LEAD_BODY)
    assert (again.duplicate, again.pending) == (True, False)
    assert again.delivery_id != first.delivery_id
    assert rows(db, "SELECT id, outcome, kind, duplicate_of, body IS NULL FROM delivery") == [
        (first.delivery_id, "accepted", "lead", None, 0),
        (again.delivery_id, "duplicate", "lead", first.delivery_id, 1),
    ]
    assert rows(db, "SELECT count(*) FROM lead") == [(1,)]
    # A different body (same lead re-serialised) is not a duplicate delivery, and the lead
    # itself is still stored once.
    assert not accept(db, LEAD_BODY + b"\n").duplicate
    assert rows(db, "SELECT count(*) FROM lead") == [(1,)]


def test_quarantined_copy_does_not_make_an_accepted_body_a_duplicate(db: Database) -> None:
    refuse(db, LEAD_BODY)
    assert not accept(db, LEAD_BODY).duplicate


def test_large_body_is_left_for_the_processor(db: Database) -> None:
    body = json.dumps({"Collection": [], "Padding": "x" * INLINE_MAX_BYTES}).encode()
    stored = accept(db, body)
    assert stored.pending
    assert rows(db, "SELECT process_status, kind FROM delivery") == [("pending", None)]


def test_large_body_is_kept_apart_byte_for_byte(db: Database) -> None:
    """In delivery_body, so updating the delivery never rewrites 100 MB; read back whole."""
    body = bytearray(b'{"Collection":[],"Padding":"' + bytes(range(35, 127)) * 40_000 + b'"}')
    assert len(body) > 3 * BODY_PIECE_BYTES  # written in several pieces
    stored = accept(db, bytes(body))
    assert rows(db, "SELECT body FROM delivery") == [(None,)]
    assert rows(db, "SELECT delivery_id, body FROM delivery_body") == [
        (stored.delivery_id, bytes(body))
    ]
    with db.read() as connection:
        whole = connection.execute(select(STORED_BODY).where(Delivery.id == stored.delivery_id))
        assert whole.scalar() == bytes(body)
    assert accept(db, bytes(body)).duplicate  # the duplicate check still finds it


@pytest.mark.parametrize(
    ("body", "kind", "error"),
    [
        (b"not json", "unknown", "invalid JSON"),
        (b"[]", "unknown", "not a lead, appointment or chat log"),
        (json.dumps(LEAD | {"SessionID": 2**70}).encode(), "lead", "SessionID: "),
        (json.dumps(LEAD | {"CreateTime": "9999-12-31T23:59:59-05:00"}).encode(), "lead", None),
        (LEAD_BODY.replace(b'"test"', b'"cut \\ud83d"'), "lead", None),
    ],
    ids=["not-json", "not-an-object", "huge-session-id", "time-overflow", "lone-surrogate"],
)
def test_odd_bodies_are_stored_and_flagged_never_lost(
    db: Database, body: bytes, kind: str, error: str | None
) -> None:
    # Whatever the body holds, storing it must succeed: an exception here is a 503 to the
    # vendor, retried until it gives up.
    stored = accept(db, body)
    ((outcome, got_kind, status, process_error, kept),) = rows(
        db, "SELECT outcome, kind, process_status, process_error, body FROM delivery"
    )
    assert (outcome, got_kind, kept) == ("accepted", kind, body)
    if error is None:
        assert (status, process_error) == ("processed", None)
    else:
        assert status == "failed"
        assert error in process_error
    assert stored.delivery_id


def test_mark_for_reprocessing_only_touches_accepted(db: Database) -> None:
    accepted = accept(db, LEAD_BODY).delivery_id
    refused = refuse(db, b"{}")
    db.writer.run_sync(lambda c: mark_for_reprocessing(c, [accepted, refused]))
    assert rows(db, "SELECT id, process_status FROM delivery ORDER BY id") == [
        (accepted, "pending"),
        (refused, None),
    ]


# ---- quarantine and refusal log ----------------------------------------------------------


def test_quarantine_keeps_the_whole_body(db: Database) -> None:
    body = b"x" * (REFUSED_BODY_CAP * 3)
    delivery_id = refuse(db, body)
    assert rows(
        db, "SELECT id, outcome, status_code, reason, body, body_size, body_truncated FROM delivery"
    ) == [(delivery_id, "quarantined", 401, "bad signature", body, len(body), 0)]


def test_quarantine_cap_by_count_drops_the_oldest(db: Database) -> None:
    limits = QuarantineLimits(max_items=3, max_bytes=10**6, max_item_bytes=10**6)
    ids = [refuse(db, f"body {n}".encode(), limits) for n in range(5)]
    assert quarantined(db) == ids[2:]


def test_quarantine_cap_by_bytes_drops_the_oldest(db: Database) -> None:
    limits = QuarantineLimits(max_items=100, max_bytes=100, max_item_bytes=100)
    oldest = refuse(db, b"a" * 10, limits)
    middle = refuse(db, b"b" * 60, limits)
    assert quarantined(db) == [oldest, middle]
    newest = refuse(db, b"c" * 50, limits)
    # 50 + 60 > 100: the 60-byte one goes, and with it everything older, even though the
    # 10-byte one would fit: "oldest out first", never a newer one before an older one.
    assert quarantined(db) == [newest]


def test_unsigned_bodies_never_push_out_signed_header_ones(db: Database) -> None:
    limits = QuarantineLimits(max_items=4, max_bytes=100, max_item_bytes=90)
    signed = [refuse(db, b"s" * 10, limits) for _ in range(2)]
    unsigned = [refuse(db, b"u" * 10, limits, signed=False) for _ in range(10)]
    # By count: the unsigned share the two places left, newest first.
    assert quarantined(db) == [*signed, *unsigned[-2:]]
    # By bytes: 20 signed + 90 > 100, so the unsigned newcomer is only logged, evicting nothing.
    logged = refuse(db, b"U" * 90, limits, signed=False)
    assert quarantined(db) == [*signed, *unsigned[-2:]]
    ((outcome, reason, truncated),) = rows(
        db, f"SELECT outcome, reason, body_truncated FROM delivery WHERE id = {logged}"
    )
    assert (outcome, truncated) == ("rejected", 0)
    assert "full of deliveries with a signature header" in reason
    # A signed-header newcomer takes its room from the unsigned first, then the oldest signed.
    newest = refuse(db, b"S" * 90, limits)
    assert quarantined(db) == [signed[1], newest]


@pytest.mark.parametrize("cap", ["total", "item"])
def test_body_too_large_for_the_quarantine_goes_to_the_refusal_log(db: Database, cap: str) -> None:
    body = bytes(range(256)) * 100
    under, over = len(body) - 1, 10 * len(body)
    limits = QuarantineLimits(
        max_items=100,
        max_bytes=under if cap == "total" else over,
        max_item_bytes=under if cap == "item" else over,
    )
    refuse(db, body, limits)
    ((outcome, reason, kept, size, truncated, sha256),) = rows(
        db, "SELECT outcome, reason, body, body_size, body_truncated, body_sha256 FROM delivery"
    )
    assert outcome == "rejected"
    assert "too large for the quarantine" in reason
    assert kept == body[:REFUSED_BODY_CAP]
    assert len(kept) == 4096
    assert (size, truncated) == (len(body), 1)
    assert sha256 == hashlib.sha256(body).hexdigest()  # of the whole body, not the kept start


def test_refusal_without_quarantine_is_capped(db: Database) -> None:
    refuse(db, b"y" * 5000, quarantine=None)
    refuse(db, b"short", quarantine=None)
    assert rows(db, "SELECT outcome, length(body), body_size, body_truncated FROM delivery") == [
        ("rejected", 4096, 5000, 1),
        ("rejected", 5, 5, 0),
    ]


def test_quarantine_of_zero_items_still_logs_the_refusal(db: Database) -> None:
    refuse(db, b"z" * 5000, QuarantineLimits(max_items=0, max_bytes=10**6, max_item_bytes=10**6))
    ((outcome, reason, size),) = rows(db, "SELECT outcome, reason, length(body) FROM delivery")
    assert (outcome, size) == ("rejected", 4096)
    assert reason.startswith("bad signature")


def test_refusal_log_is_pruned_to_its_newest_rows(db: Database) -> None:
    filler = {
        "received_at": NOW,
        "client_ip": "198.51.100.1",
        "outcome": Outcome.REJECTED,
        "status_code": 403,
        "body": b"",
        "body_size": 0,
        "body_sha256": "0" * 64,
    }
    extra = 5
    db.writer.run_sync(
        lambda c: c.execute(insert(Delivery), [filler] * (REFUSAL_LOG_MAX_ROWS + extra))
    )
    kept_in_quarantine = refuse(db, b"quarantined")
    newest = refuse(db, b"newest", quarantine=None)
    rejected = rows(db, "SELECT min(id), max(id), count(*) FROM delivery WHERE outcome='rejected'")
    assert rejected == [(extra + 2, newest, REFUSAL_LOG_MAX_ROWS)]
    assert quarantined(db) == [kept_in_quarantine]


def test_accept_from_quarantine_processes_the_body(db: Database) -> None:
    delivery_id = refuse(db, LEAD_BODY)
    stored = db.writer.run_sync(lambda c: accept_from_quarantine(c, delivery_id))
    assert (stored.delivery_id, stored.duplicate, stored.pending) == (delivery_id, False, False)
    assert rows(db, "SELECT outcome, signed_form, kind, process_status FROM delivery") == [
        ("accepted", QUARANTINE_ACCEPTED, "lead", "processed")
    ]
    assert rows(db, "SELECT delivery_id, last_name FROM lead") == [(delivery_id, "Garcia")]
    with pytest.raises(NotInQuarantine):
        db.writer.run_sync(lambda c: accept_from_quarantine(c, delivery_id))


def test_accept_from_quarantine_leaves_a_large_body_to_the_processor(db: Database) -> None:
    body = json.dumps({"Collection": [], "Padding": "x" * INLINE_MAX_BYTES}).encode()
    delivery_id = refuse(
        db, body, QuarantineLimits(max_items=10, max_bytes=len(body), max_item_bytes=len(body))
    )
    assert db.writer.run_sync(lambda c: accept_from_quarantine(c, delivery_id)).pending
    assert rows(db, "SELECT outcome, process_status FROM delivery") == [("accepted", "pending")]


def test_discard_from_quarantine(db: Database) -> None:
    delivery_id = refuse(db, LEAD_BODY)
    logged = refuse(db, b"x", quarantine=None)
    db.writer.run_sync(lambda c: discard_from_quarantine(c, delivery_id))
    assert rows(db, "SELECT id FROM delivery") == [(logged,)]
    for missing in (delivery_id, logged, 999):
        with pytest.raises(NotInQuarantine):
            db.writer.run_sync(lambda c, i=missing: discard_from_quarantine(c, i))
        with pytest.raises(NotInQuarantine):
            db.writer.run_sync(lambda c, i=missing: accept_from_quarantine(c, i))
