"""Accepted deliveries stored a writer group at a time: what ``store_accepted`` does for one.

The webhook hands each verified delivery to the writer as an item of ``store_accepted_group``
(``Writer.submit_item``), so the deliveries that queued while the previous group was being
committed are stored by one call: one statement per table for all the valid leads among them
(the duplicate check, the deliveries, the chatbots, the leads), where a lead at a time took
five, and SQLite and the GIL change hands a dozen times per group rather than per lead.
Anything else (a duplicate, a chat log, a large body, a body that is not a valid lead) takes
``store_accepted`` as before, in arrival order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from app import shapes
from app.deliveries import Attempt, Stored, Verification, accepted_row, store_accepted
from app.ingest.documents import INLINE_MAX_BYTES, parse_body
from app.ingest.records import store_leads
from app.models import Delivery, Outcome, ProcessStatus, utcnow
from app.statements import Prepared, allocate_ids, run_sql


@dataclass(frozen=True)
class Accepting:
    """A verified delivery on its way to the writer."""

    attempt: Attempt
    verification: Verification
    sha256: str


@dataclass(frozen=True)
class _Lead:
    index: int
    row: dict[str, Any]
    values: dict[str, Any]


_INSERT: list[Prepared] = []  # built at first use, from the columns ``accepted_row`` gives


def store_accepted_group(connection: Connection, items: list[Accepting]) -> list[Stored]:
    """Each item stored as ``store_accepted`` would, in order; one result per item."""
    now = utcnow()
    stored: list[Stored | None] = [None] * len(items)
    known = _accepted_among(connection, [item.sha256 for item in items])
    leads: list[_Lead] = []
    for index, item in enumerate(items):
        lead = None if item.sha256 in known else _valid_lead(item, now)
        if lead is None:
            _store_leads(connection, leads, stored, now)  # first, to keep arrival order
            leads = []
            stored[index] = store_accepted(connection, item.attempt, item.verification, item.sha256)
        else:
            kind, values = lead
            row = accepted_row(item.attempt, item.verification, item.sha256, now)
            row.update(kind=kind, process_status=ProcessStatus.PROCESSED, processed_at=now)
            row["record_count"] = 1
            leads.append(_Lead(index, row, values))
        known.add(item.sha256)  # a second copy within the group is a duplicate of the first
    _store_leads(connection, leads, stored, now)
    return [result for result in stored if result is not None]


def _valid_lead(item: Accepting, now: datetime) -> tuple[str, dict[str, Any]] | None:
    if len(item.attempt.body) > INLINE_MAX_BYTES:
        return None
    parsed = parse_body(item.attempt.body)
    return None if parsed.error else shapes.lead_in(parsed.document)


def _store_leads(
    connection: Connection, leads: list[_Lead], stored: list[Stored | None], now: datetime
) -> None:
    if not leads:
        return
    ids = allocate_ids(connection, "delivery", len(leads))
    rows = [{**lead.row, "id": delivery_id} for lead, delivery_id in zip(leads, ids, strict=True)]
    if not _INSERT:
        _INSERT.append(Prepared(insert(Delivery), keys=rows[0].keys()))
    _INSERT[0].execute_many(connection, rows)
    store_leads(
        connection, [(lead.values, id_) for lead, id_ in zip(leads, ids, strict=True)], now=now
    )
    for lead, delivery_id in zip(leads, ids, strict=True):
        stored[lead.index] = Stored(delivery_id, duplicate=False, pending=False)


def _accepted_among(connection: Connection, hashes: Sequence[str]) -> set[str]:
    """Which of these bodies are stored already (one query for the group, by the index on
    ``(body_sha256, outcome)``); those take ``store_accepted``'s duplicate branch."""
    if connection.dialect.name == "postgresql":
        sql = "SELECT body_sha256 FROM delivery WHERE body_sha256 = ANY(%s) AND outcome = %s"
        arguments: Any = (list(hashes), Outcome.ACCEPTED)
    else:
        sql = (
            "SELECT body_sha256 FROM delivery WHERE outcome = ? AND body_sha256 IN "
            "(SELECT value FROM json_each(?))"
        )
        arguments = (Outcome.ACCEPTED, _json_list(hashes))
    return {row[0] for row in run_sql(connection, sql, arguments).fetchall()}


def _json_list(hashes: Sequence[str]) -> str:
    return "[" + ",".join(f'"{sha256}"' for sha256 in hashes) + "]"  # hex digests: no escaping
