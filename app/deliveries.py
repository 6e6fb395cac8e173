"""Write jobs for webhook attempts: accepted deliveries, the quarantine, the refusal log.

Each function here runs inside the writer's transaction (see ``app.db.Writer``). The store
stage: a small body's records are made in the same transaction, by ``app.ingest``.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from sqlmodel import col

from app import shapes
from app.ingest.documents import INLINE_MAX_BYTES, Parsed, parse_body, process_inline
from app.ingest.records import store_lead
from app.models import Delivery, DeliveryBody, Outcome, ProcessStatus, utcnow
from app.statements import Prepared, inserted_id

REFUSED_BODY_CAP = 4096  # a refused stranger's body is evidence, not data: keep its start
# The vendor's header is about 80 characters; up to MAX_HEADERS of them are ever read.
SIGNATURE_HEADERS_CAP = 2048
REFUSAL_LOG_MAX_ROWS = 10_000
BODY_PIECE_BYTES = 1024 * 1024

UNSIGNED_ALLOWED_IP = "unsigned-allowed-ip"
QUARANTINE_ACCEPTED = "quarantine-accepted"


# Run for every delivery, so built once (see app.statements).
ACCEPTED_COLUMNS = (
    *("received_at", "client_ip", "status_code", "key_number", "key_fingerprint", "signed_form"),
    *("signature_timestamp", "content_type", "body_size", "body_sha256", "body_truncated"),
    *("committed_at", "record_count", "outcome", "kind", "duplicate_of", "body"),
    *("process_status", "processed_at"),
)
_INSERT_ACCEPTED = Prepared(insert(Delivery).returning(col(Delivery.id)), keys=ACCEPTED_COLUMNS)
_FIND_ACCEPTED = Prepared(
    select(col(Delivery.id), col(Delivery.kind))
    .where(
        col(Delivery.body_sha256) == bindparam("sha256"),
        col(Delivery.outcome) == Outcome.ACCEPTED,
    )
    .limit(1)
)


@dataclass(frozen=True)
class Attempt:
    """What arrived, before any judgement."""

    received_at: datetime
    client_ip: str
    content_type: str | None
    body: bytes | bytearray  # as received: copying a 100 MB push to bytes would double it
    # The ``t`` of a well-formed X-Webhook-Signature header, set as soon as the header parses
    # (before the clock and the HMAC are checked); None when it is missing or garbled.
    signature_timestamp: int | None = None
    # Every X-Webhook-Signature header as received, one a line (None: there was none); kept
    # with a quarantined delivery so that a Sign Key added later can verify it (app.recheck).
    signature_headers: str | None = None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()

    @property
    def signature_header(self) -> bool:
        """Whether it carried a well-formed signature header: the vendor's deliveries do, even
        under a mistyped key or a drifting clock, so the quarantine keeps these first."""
        return self.signature_timestamp is not None


@dataclass(frozen=True)
class Verification:
    form: str
    key_number: int | None = None
    key_fingerprint: str | None = None


@dataclass(frozen=True)
class Stored:
    delivery_id: int
    duplicate: bool
    pending: bool  # left for the background processor


@dataclass(frozen=True)
class QuarantineLimits:
    max_items: int
    max_bytes: int
    max_item_bytes: int  # a larger body is only logged: one stranger cannot fill it alone


def store_accepted(
    connection: Connection, attempt: Attempt, verification: Verification, sha256: str
) -> Stored:
    now = utcnow()
    original = _FIND_ACCEPTED.execute(connection, {"sha256": sha256}).fetchone()
    if original is None:
        return store_new(connection, attempt, verification, sha256, parse_inline(attempt), now)
    # A retry or replay of a body already stored: log the attempt, keep no second copy.
    original_id, original_kind = original
    row = _accepted_row(attempt, verification, sha256, now)
    row.update(
        outcome=Outcome.DUPLICATE,
        kind=original_kind,
        duplicate_of=original_id,
        body=None,
        process_status=None,
    )
    return Stored(_INSERT_ACCEPTED.scalar(connection, row), duplicate=True, pending=False)


def parse_inline(attempt: Attempt) -> Parsed | None:
    """A small body read as JSON; None for one over ``INLINE_MAX_BYTES``, which the background
    processor reads in pieces."""
    return None if len(attempt.body) > INLINE_MAX_BYTES else parse_body(attempt.body)


def store_new(
    connection: Connection,
    attempt: Attempt,
    verification: Verification,
    sha256: str,
    parsed: Parsed | None,
    now: datetime,
) -> Stored:
    """``store_accepted`` for a body known not to be stored yet; ``parsed`` is what
    ``parse_inline`` made of it."""
    if parsed is None:
        # Committed raw and answered; the background processor makes its records.
        row = _accepted_row(attempt, verification, sha256, now)
        delivery_id = _INSERT_ACCEPTED.scalar(connection, {**row, "body": None})
        _store_large_body(connection, delivery_id, attempt.body)
        return Stored(delivery_id, duplicate=False, pending=True)
    lead = valid_lead(parsed)
    if lead is not None:
        # The common case, a valid lead: stored already processed, with no update after.
        kind, values = lead
        delivery_id = _INSERT_ACCEPTED.scalar(
            connection, lead_row(attempt, verification, sha256, kind, now)
        )
        store_lead(connection, values, delivery_id=delivery_id, now=now)
    else:
        row = _accepted_row(attempt, verification, sha256, now)
        delivery_id = _INSERT_ACCEPTED.scalar(connection, row)
        process_inline(connection, delivery_id, parsed, now=now)
    return Stored(delivery_id, duplicate=False, pending=False)


def valid_lead(parsed: Parsed) -> tuple[str, dict[str, Any]] | None:
    """The kind and columns of a body that is a valid lead or appointment, else None."""
    return None if parsed.error else shapes.lead_in(parsed.document)


def lead_row(
    attempt: Attempt, verification: Verification, sha256: str, kind: str, now: datetime
) -> dict[str, Any]:
    """A valid lead's row (``ACCEPTED_COLUMNS``): stored already processed, its one record made
    in the same transaction."""
    row = _accepted_row(attempt, verification, sha256, now)
    row.update(kind=kind, process_status=ProcessStatus.PROCESSED, processed_at=now)
    row["record_count"] = 1
    return row


def _accepted_row(
    attempt: Attempt, verification: Verification, sha256: str, now: datetime
) -> dict[str, Any]:
    """An accepted delivery's row as a fresh delivery: still to be processed, not a duplicate."""
    return {
        "received_at": attempt.received_at,
        "client_ip": attempt.client_ip,
        "status_code": 200,
        "key_number": verification.key_number,
        "key_fingerprint": verification.key_fingerprint,
        "signed_form": verification.form,
        "signature_timestamp": attempt.signature_timestamp,
        "content_type": attempt.content_type,
        "body_size": len(attempt.body),
        "body_sha256": sha256,
        "body_truncated": False,
        "committed_at": now,
        "record_count": 0,
        "outcome": Outcome.ACCEPTED,
        "kind": None,
        "duplicate_of": None,
        "body": attempt.body,
        "process_status": ProcessStatus.PENDING,
        "processed_at": None,
    }


def _store_large_body(connection: Connection, delivery_id: int, body: bytes | bytearray) -> None:
    """Into ``delivery_body``. On SQLite as a zeroblob filled in pieces: a 100 MB body bound as a
    parameter is copied twice by SQLite, and the cached statement keeps one copy."""
    if connection.dialect.name != "sqlite":
        connection.execute(insert(DeliveryBody).values(delivery_id=delivery_id, body=body))
        return
    connection.exec_driver_sql(
        "INSERT INTO delivery_body (delivery_id, body) VALUES (?, zeroblob(?))",
        (delivery_id, len(body)),
    )
    piece = memoryview(body)
    driver = connection.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)  # the dialect was checked above
    with driver.blobopen("delivery_body", "body", delivery_id) as blob:
        for offset in range(0, len(body), BODY_PIECE_BYTES):
            blob.write(piece[offset : offset + BODY_PIECE_BYTES])


def store_refusal(
    connection: Connection,
    attempt: Attempt,
    *,
    status_code: int,
    reason: str,
    quarantine: QuarantineLimits | None,
) -> int:
    """Log a refused attempt; into the bounded quarantine when ``quarantine`` is given.

    What the quarantine cannot keep whole is logged like any refusal (its first 4 KB): a body
    over the per-item cap, or an unsigned one with no room left beside the signed-header ones.
    Never kept cut short: a truncated body could be neither verified nor accepted later.
    """
    evict: list[int] | None = None
    if quarantine is not None:
        why = _why_not_quarantined(attempt, quarantine)
        if why is None:
            evict = _quarantine_evictions(connection, quarantine, attempt)
            if evict is None:
                why = "the quarantine is full of deliveries with a signature header"
        if why is not None:
            reason += f" ({why}: only its start was kept)"
    keep_whole = evict is not None
    body = attempt.body if keep_whole else attempt.body[:REFUSED_BODY_CAP]
    delivery_id = inserted_id(
        connection.execute(
            insert(Delivery).values(
                received_at=attempt.received_at,
                client_ip=attempt.client_ip,
                outcome=Outcome.QUARANTINED if keep_whole else Outcome.REJECTED,
                status_code=status_code,
                reason=reason,
                signature_timestamp=attempt.signature_timestamp,
                content_type=attempt.content_type,
                body=body,
                body_size=len(attempt.body),
                body_sha256=attempt.sha256,
                body_truncated=len(body) < len(attempt.body),
                signature_headers=(
                    attempt.signature_headers[:SIGNATURE_HEADERS_CAP]
                    if keep_whole and attempt.signature_headers
                    else None
                ),
            )
        )
    )
    if evict:
        connection.execute(delete(Delivery).where(col(Delivery.id).in_(evict)))
    if not keep_whole:
        _prune_refusal_log(connection)
    return delivery_id


def _why_not_quarantined(attempt: Attempt, limits: QuarantineLimits) -> str | None:
    # With QUARANTINE_MAX_ITEMS=0 a quarantined row would be deleted as soon as written, leaving
    # no trace at all: log it like any refusal instead.
    if limits.max_items <= 0:
        return "the quarantine is off"
    if len(attempt.body) > min(limits.max_item_bytes, limits.max_bytes):
        return "too large for the quarantine"
    return None


def _quarantine_evictions(
    connection: Connection, limits: QuarantineLimits, attempt: Attempt
) -> list[int] | None:
    """The quarantined deliveries to drop so that ``attempt`` fits; None if it would not be kept.

    Two tiers, each newest first: deliveries with a well-formed signature header (the vendor's,
    under a mistyped key or a drifting clock) take the count and the bytes before unsigned
    ones, so unsigned junk can only ever push out other unsigned junk. Within a tier, once one
    does not fit, every older one goes too, even a small one that would still fit: otherwise a
    newer delivery could be dropped while an older one stays.
    """
    signed = col(Delivery.signature_timestamp).is_not(None)
    rows = connection.execute(
        select(col(Delivery.id), col(Delivery.body_size), signed)
        .where(col(Delivery.outcome) == Outcome.QUARANTINED)
        .order_by(col(Delivery.id).desc())
    ).all()
    entries: list[tuple[int | None, int, bool]] = [
        (None, len(attempt.body), attempt.signature_header),  # the newest of its tier
        *((row.id, row.body_size, bool(row[2])) for row in rows),
    ]
    kept_items = kept_bytes = 0
    drop: list[int | None] = []
    for tier in (True, False):
        full = False
        for delivery_id, size, in_tier in entries:
            if in_tier != tier:
                continue
            full = full or kept_items + 1 > limits.max_items or kept_bytes + size > limits.max_bytes
            if full:
                drop.append(delivery_id)
            else:
                kept_items += 1
                kept_bytes += size
    if None in drop:
        return None
    return [delivery_id for delivery_id in drop if delivery_id is not None]


def _prune_refusal_log(connection: Connection) -> None:
    cutoff = connection.execute(
        select(col(Delivery.id))
        .where(col(Delivery.outcome) == Outcome.REJECTED)
        .order_by(col(Delivery.id).desc())
        .offset(REFUSAL_LOG_MAX_ROWS)
        .limit(1)
    ).scalar()
    if cutoff is not None:
        connection.execute(
            delete(Delivery).where(
                col(Delivery.outcome) == Outcome.REJECTED, col(Delivery.id) <= cutoff
            )
        )


class NotInQuarantine(LookupError):
    pass


@dataclass(frozen=True)
class Acceptance:
    """How a delivery leaves the quarantine: shown as its outcome instead of the refusal."""

    by: str  # "manually", or "Sign Key “label”"
    verification: Verification | None = None  # None: an admin vouched for it


MANUALLY = Acceptance("manually")


def accept_from_quarantine(
    connection: Connection, delivery_id: int, acceptance: Acceptance = MANUALLY
) -> Stored:
    """An admin vouches for a quarantined delivery, or a Sign Key added later verifies it:
    process it as if it had verified on arrival."""
    row = connection.execute(
        select(col(Delivery.body)).where(
            col(Delivery.id) == delivery_id, col(Delivery.outcome) == Outcome.QUARANTINED
        )
    ).first()
    if row is None:
        raise NotInQuarantine(f"delivery {delivery_id} is not in the quarantine")
    now, verified = utcnow(), acceptance.verification
    connection.execute(
        update(Delivery)
        .where(col(Delivery.id) == delivery_id)
        .values(
            outcome=Outcome.ACCEPTED,
            signed_form=verified.form if verified else QUARANTINE_ACCEPTED,
            key_number=verified.key_number if verified else None,
            key_fingerprint=verified.key_fingerprint if verified else None,
            accepted_by=acceptance.by,
            process_status=ProcessStatus.PENDING,
            committed_at=now,
        )
    )
    if len(row.body) > INLINE_MAX_BYTES:
        return Stored(delivery_id, duplicate=False, pending=True)  # for the Processor
    process_inline(connection, delivery_id, parse_body(row.body), now=now)
    return Stored(delivery_id, duplicate=False, pending=False)


def discard_from_quarantine(connection: Connection, delivery_id: int) -> None:
    result = connection.execute(
        delete(Delivery).where(
            col(Delivery.id) == delivery_id, col(Delivery.outcome) == Outcome.QUARANTINED
        )
    )
    if result.rowcount == 0:
        raise NotInQuarantine(f"delivery {delivery_id} is not in the quarantine")


def mark_for_reprocessing(connection: Connection, delivery_ids: list[int]) -> None:
    connection.execute(
        update(Delivery)
        .where(col(Delivery.id).in_(delivery_ids), col(Delivery.outcome) == Outcome.ACCEPTED)
        .values(process_status=ProcessStatus.PENDING)
    )
