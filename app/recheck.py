"""Re-checking the quarantine: deliveries refused for want of the right Sign Key, verified
again with the keys now in force, and accepted like any verified delivery.

Hello Client starts sending the moment its webhook URL is saved, before anyone has copied the key
into this appliance, and retries only twice within minutes: without this, its first leads stay
stranded in the quarantine. Each delivery's timestamp is judged against when it was received,
not now, within the tolerance in force. A match goes through the quarantine's accept path
(``app.deliveries.accept_from_quarantine``): lead in the inbox, notification and forwarding
queued in the same transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import Row, select
from sqlmodel import col

from app.db import Database, WriteJob
from app.deliveries import (
    Acceptance,
    NotInQuarantine,
    Stored,
    Verification,
    accept_from_quarantine,
)
from app.live_settings import KeyInForce, LiveSettings, RecheckResult
from app.models import Delivery, Outcome
from app.restringify import restringify_into
from app.signature import Match, SignatureError, parse_headers, verify

__all__ = ["RecheckResult", "recheck", "recheck_quarantine"]

log = logging.getLogger(__name__)

Candidate = Row[bytes | None, str | None, datetime]  # body, signature headers, received at


def recheck(
    db: Database,
    keys: Sequence[KeyInForce],
    tolerance_seconds: int,
    on_pending: Callable[[int], None] | None = None,
) -> RecheckResult:
    """Verify each quarantined delivery that kept its signature header; accept the matches.

    Blocking (HMACs over up to the quarantine's whole size): run it in a thread. One body is
    held at a time; each acceptance is its own writer job, so deliveries keep flowing meanwhile.
    """
    if not keys:
        return RecheckResult(0, 0)
    with db.read() as connection:
        found = list(
            connection.scalars(
                select(col(Delivery.id))
                .where(
                    col(Delivery.outcome) == Outcome.QUARANTINED,
                    col(Delivery.signature_headers).is_not(None),
                )
                .order_by(col(Delivery.id))
            )
        )
    ids = [delivery_id for delivery_id in found if delivery_id is not None]
    secrets = [key.secret for key in keys]
    checked = accepted = 0
    for delivery_id in ids:
        candidate = _candidate(db, delivery_id)
        if candidate is None:
            continue  # accepted or discarded by hand meanwhile
        checked += 1
        match = _match(candidate, secrets, tolerance_seconds)
        if match is None:
            continue
        key = keys[match.key_number - 1]
        acceptance = Acceptance(
            f"Sign Key “{key.label}”", Verification(match.form, key.number, key.fingerprint)
        )
        try:
            stored = db.writer.run_sync(_accept(delivery_id, acceptance))
        except NotInQuarantine:
            continue
        accepted += 1
        if stored.pending and on_pending is not None:
            on_pending(delivery_id)  # a large body: for the background processor
    if accepted:
        log.info("re-check of the quarantine: %d of %d verified and accepted", accepted, checked)
    return RecheckResult(checked, accepted)


def _candidate(db: Database, delivery_id: int) -> Candidate | None:
    """Its body, headers and arrival, if it is still in the quarantine."""
    with db.read() as connection:
        return connection.execute(
            select(
                col(Delivery.body), col(Delivery.signature_headers), col(Delivery.received_at)
            ).where(col(Delivery.id) == delivery_id, col(Delivery.outcome) == Outcome.QUARANTINED)
        ).first()


def _match(
    candidate: Candidate,
    secrets: Sequence[str],
    tolerance_seconds: int,
) -> Match | None:
    if candidate.body is None or not candidate.signature_headers:
        return None
    try:
        headers = parse_headers(candidate.signature_headers.split("\n"))
        return verify(
            headers,
            candidate.body,
            secrets,
            now=candidate.received_at.timestamp(),  # as if checked when it arrived
            tolerance_seconds=tolerance_seconds,
            restringify=restringify_into,
        )
    except SignatureError:
        return None


def _accept(delivery_id: int, acceptance: Acceptance) -> WriteJob[Stored]:
    return lambda connection: accept_from_quarantine(connection, delivery_id, acceptance)


async def recheck_quarantine(
    db: Database, live: LiveSettings, on_pending: Callable[[int], None] | None = None
) -> RecheckResult:
    """The re-check with the keys and tolerance in force now, off the event loop."""
    keys, tolerance = live.keys_in_force(), live.current.tolerance_seconds
    return await asyncio.to_thread(recheck, db, keys, tolerance, on_pending)
