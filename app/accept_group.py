"""Accepted deliveries stored a writer group at a time: what ``store_accepted`` does for one.

The webhook hands each verified delivery to the writer as an item of ``store_accepted_group``
(``Writer.submit_item``), so the deliveries that queued while the previous group was being
committed are stored by one call: one statement per table for all the valid leads among them
(the duplicate check, the deliveries, the chatbots, the leads), where a lead at a time took
five, and SQLite and the GIL change hands a dozen times per group rather than per lead.
Anything else is stored one at a time, in arrival order: a duplicate by ``store_accepted``, a
chat log, a large body or a body that is not a valid lead by ``store_new``, with the group's
duplicate check and the parse already made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from app.deliveries import (
    ACCEPTED_COLUMNS,
    Attempt,
    Stored,
    Verification,
    lead_row,
    parse_inline,
    store_accepted,
    store_new,
    valid_lead,
)
from app.ingest.records import store_leads
from app.models import Delivery, Outcome, utcnow
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


# For a group: ids given (``allocate_ids``), since ``executemany`` returns no rows.
_INSERT_MANY = Prepared(insert(Delivery), keys=("id", *ACCEPTED_COLUMNS))


def store_accepted_group(connection: Connection, items: list[Accepting]) -> list[Stored]:
    """Each item stored as ``store_accepted`` would, in order; one result per item."""
    now = utcnow()
    stored: list[Stored | None] = [None] * len(items)
    known = _accepted_among(connection, [item.sha256 for item in items])
    leads: list[_Lead] = []
    for index, item in enumerate(items):
        attempt, verification, sha256 = item.attempt, item.verification, item.sha256
        duplicate = sha256 in known
        known.add(sha256)  # a second copy within the group is a duplicate of the first
        parsed = None if duplicate else parse_inline(attempt)
        lead = None if parsed is None else valid_lead(parsed)
        if lead is not None:
            kind, values = lead
            leads.append(_Lead(index, lead_row(attempt, verification, sha256, kind, now), values))
            continue
        _store_leads(connection, leads, stored, now)  # first, to keep arrival order
        leads = []
        if duplicate:
            stored[index] = store_accepted(connection, attempt, verification, sha256)
        else:
            stored[index] = store_new(connection, attempt, verification, sha256, parsed, now)
    _store_leads(connection, leads, stored, now)
    return [result for result in stored if result is not None]


def _store_leads(
    connection: Connection, leads: list[_Lead], stored: list[Stored | None], now: datetime
) -> None:
    if not leads:
        return
    ids = allocate_ids(connection, "delivery", len(leads))
    rows = [{**lead.row, "id": delivery_id} for lead, delivery_id in zip(leads, ids, strict=True)]
    _INSERT_MANY.execute_many(connection, rows)
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
