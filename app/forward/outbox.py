"""The durable forwarding outbox: writer jobs and reads over ``forward_outbox`` and friends.

``enqueue_lead`` runs inside the very transaction that stores a new lead and ``enqueue_window``
inside the one that completes a chat-log window, so a crash can never keep a record without its
forwards; the unique (destination, record) keys mean a replayed delivery or a reprocess adds no
second row. Each row carries its ``message_id`` (the ``webhook-id``) from the start, so every
retry, also after a crash mid-send, is recognisably the same message. Every function taking a
``Connection`` and changing something is a writer job (see ``app.db.Writer``).
"""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlmodel import col

from app.config import Settings
from app.db import after_commit
from app.forward.destinations import lead_kind
from app.models import (
    ChatWindow,
    ForwardAttempt,
    ForwardDestination,
    ForwardOutbox,
    RowStatus,
    UTCDateTime,
    table_of,
    utc_literal,
)
from app.outbox_worker import anything_due
from app.statements import Prepared, upsert_insert

NEW_ROWS = "forward.outbox.new_rows"  # announced after the commit holding new rows
DUE_ROWS_PER_PASS = 5_000
ATTEMPTS_KEPT = 1_000  # per destination: the log in Settings, not an archive
_OUTBOX = table_of(ForwardOutbox)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_message_ids(count: int) -> list[str]:
    """``count`` of ``new_message_id``, from one read of the system's randomness, not one each."""
    random = secrets.token_hex(12 * count)
    return ["msg_" + random[24 * n : 24 * (n + 1)] for n in range(count)]


def webhook_id(message_id: str, replays: int) -> str:
    """A replay is a new message (a receiver deduplicating by id would drop it otherwise)."""
    return message_id if not replays else f"{message_id}.r{replays}"


def max_age(settings: Settings) -> timedelta:
    return timedelta(hours=settings.forward_retry_max_hours)


# ---- enqueue: in the transaction that stores the record ------------------------------------


def _enqueue_lead_statement(kind: str) -> Prepared:
    wants = col(getattr(ForwardDestination, f"want_{kind}"))
    now = bindparam("now", type_=UTCDateTime())
    rows: Select[*tuple[Any, ...]] = select(
        col(ForwardDestination.key),
        literal(kind),
        bindparam("lead_id"),
        bindparam("message_id"),
        literal(0),
        literal(RowStatus.PENDING),
        literal(0),
        now,
        # A destination in backoff gets the new row at its retry time, not one extra try now.
        func.coalesce(col(ForwardDestination.retry_at), now),
    ).where(col(ForwardDestination.enabled), col(ForwardDestination.present), wants)
    columns = ["destination_key", "kind", "lead_id", "message_id", "replays", "status"]
    columns += ["attempts", "created_at", "next_attempt_at"]
    return Prepared(
        lambda dialect: (
            upsert_insert(dialect, ForwardOutbox)
            .from_select(columns, rows)
            .on_conflict_do_nothing()
        )
    )


# Run for every new lead, so built once (see app.statements).
_ENQUEUE_LEAD = {kind: _enqueue_lead_statement(kind) for kind in ("lead", "appointment")}
# Most inboxes forward nowhere: one look per group spares each lead its message id and row.
_ANY_DESTINATION = Prepared(
    select(literal(1))
    .where(col(ForwardDestination.enabled), col(ForwardDestination.present))
    .limit(1)
)


def enqueue_lead(connection: Connection, lead_id: int, lead_type: str, now: datetime) -> None:
    """The hook in ``ingest.records.store_lead``: a row per enabled destination taking it."""
    enqueue_leads(connection, [(lead_id, lead_type)], now)


def enqueue_leads(connection: Connection, leads: Sequence[tuple[int, str]], now: datetime) -> None:
    """``enqueue_lead`` for a writer group's new leads, (id, type) each, in order: one
    ``executemany`` per run of one kind (a group is nearly always one run), not one per lead."""
    if not leads or _ANY_DESTINATION.scalar(connection, {}) is None:
        return
    for kind, run in groupby(leads, key=lambda lead: lead_kind(lead[1])):
        ids = [lead_id for lead_id, _ in run]
        params = [
            {"lead_id": lead_id, "now": now, "message_id": message_id}
            for lead_id, message_id in zip(ids, new_message_ids(len(ids)), strict=True)
        ]
        cursor = _ENQUEUE_LEAD[kind].execute_many(connection, params)
        if cursor.rowcount:  # summed over the rows (-1, unknown, announces too)
            after_commit(connection, NEW_ROWS)


def enqueue_window(connection: Connection, window_id: int, now: datetime) -> None:
    """The hook in ``ingest.chatlog.close_window``: a complete window, one POST each."""
    window = connection.execute(
        select(
            col(ChatWindow.serial_number),
            col(ChatWindow.start_time_raw),
            col(ChatWindow.end_time_raw),
        ).where(col(ChatWindow.id) == window_id)
    ).first()
    if window is None:
        return
    rows = select(
        col(ForwardDestination.key),
        literal("chatlog"),
        literal(window[0]),
        literal(window[1]),
        literal(window[2]),
        literal(new_message_id()),
        literal(0),
        literal(RowStatus.PENDING),
        literal(0),
        utc_literal(now),
        func.coalesce(col(ForwardDestination.retry_at), utc_literal(now)),
    ).where(
        col(ForwardDestination.enabled),
        col(ForwardDestination.present),
        col(ForwardDestination.want_chatlog),
    )
    columns = ["destination_key", "kind", "window_serial", "window_start_raw", "window_end_raw"]
    columns += ["message_id", "replays", "status", "attempts", "created_at", "next_attempt_at"]
    statement = upsert_insert(connection.dialect.name, ForwardOutbox).from_select(columns, rows)
    if connection.execute(statement.on_conflict_do_nothing()).rowcount:
        after_commit(connection, NEW_ROWS)


# ---- the worker's reads -------------------------------------------------------------------


def due_rows(connection: Connection, now: datetime, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Pending rows whose time has come, by destination, oldest first."""
    keys = list(keys)
    if not keys or not anything_due(connection, ForwardOutbox, now):
        return {}
    query = (
        select(ForwardOutbox)
        .where(
            col(ForwardOutbox.status) == RowStatus.PENDING,
            col(ForwardOutbox.next_attempt_at) <= utc_literal(now),
            col(ForwardOutbox.destination_key).in_(keys),
        )
        .order_by(col(ForwardOutbox.id))
        .limit(DUE_ROWS_PER_PASS)
    )
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in connection.execute(query):
        grouped[row.destination_key].append(row)
    return dict(grouped)


def next_due(connection: Connection, keys: Iterable[str], *, after: datetime) -> datetime | None:
    keys = list(keys)
    if not keys:
        return None
    return connection.execute(
        select(func.min(col(ForwardOutbox.next_attempt_at))).where(
            col(ForwardOutbox.status) == RowStatus.PENDING,
            col(ForwardOutbox.destination_key).in_(keys),
            col(ForwardOutbox.next_attempt_at) > utc_literal(after),
        )
    ).scalar()


# ---- what an attempt changes ----------------------------------------------------------------


def record_attempt(connection: Connection, attempt: dict[str, Any]) -> None:
    """One row of the destination's log (``ForwardAttempt`` columns)."""
    connection.execute(insert(ForwardAttempt).values(**attempt))


def _count_attempt(connection: Connection, row_id: int, now: datetime, **values: Any) -> None:
    connection.execute(
        update(ForwardOutbox)
        .where(col(ForwardOutbox.id) == row_id, col(ForwardOutbox.status) == RowStatus.PENDING)
        .values(attempts=col(ForwardOutbox.attempts) + 1, last_attempt_at=now, **values)
    )


def record_success(
    connection: Connection, key: str, row_id: int, attempt: dict[str, Any], now: datetime
) -> None:
    record_attempt(connection, attempt)
    status = attempt["status_code"]
    _count_attempt(
        connection, row_id, now, status=RowStatus.SENT, sent_at=now, last_status_code=status
    )
    connection.execute(
        update(ForwardDestination)
        .where(col(ForwardDestination.key) == key)
        .values(failing_streak=0, retry_at=None, last_success_at=now)
    )


def backoff(streak: int, first: float, cap: float) -> float:
    """first, 2 * first, 4 * first … capped: 10 s, 20 s, 40 s … 1 h with the defaults."""
    exponent = min(max(streak - 1, 0), 60)
    return min(first * math.pow(2, exponent), cap)


def record_failure(
    connection: Connection,
    key: str,
    row_id: int,
    attempt: dict[str, Any],
    now: datetime,
    *,
    first: float,
    cap: float,
) -> datetime:
    """Count the failure against the destination and hold its due rows until its retry time
    (the rows keep their order: a CRM gets records in the order they came)."""
    record_attempt(connection, attempt)
    error = attempt["error"]
    _count_attempt(
        connection, row_id, now, last_error=error, last_status_code=attempt["status_code"]
    )
    connection.execute(
        update(ForwardDestination)
        .where(col(ForwardDestination.key) == key)
        .values(
            failing_streak=col(ForwardDestination.failing_streak) + 1,
            last_error=error,
            last_error_at=now,
        )
    )
    streak = connection.execute(
        select(col(ForwardDestination.failing_streak)).where(col(ForwardDestination.key) == key)
    ).scalar()
    retry_at = now + timedelta(seconds=backoff(streak or 1, first, cap))
    connection.execute(
        update(ForwardDestination)
        .where(col(ForwardDestination.key) == key)
        .values(retry_at=retry_at)
    )
    connection.execute(
        update(ForwardOutbox)
        .where(
            col(ForwardOutbox.destination_key) == key,
            col(ForwardOutbox.status) == RowStatus.PENDING,
            col(ForwardOutbox.next_attempt_at) < utc_literal(retry_at),
        )
        .values(next_attempt_at=retry_at)
    )
    return retry_at


def record_gone(
    connection: Connection, key: str, row_id: int, attempt: dict[str, Any], now: datetime
) -> None:
    """410 Gone: the receiver retired this URL. Disable it; its rows wait (re-enabling sends
    them) until they expire."""
    record_attempt(connection, attempt)
    error = attempt["error"]
    _count_attempt(connection, row_id, now, last_error=error, last_status_code=410)
    reason = f"disabled: it answered 410 Gone at {now.isoformat(timespec='seconds')}"
    connection.execute(
        update(ForwardDestination)
        .where(col(ForwardDestination.key) == key)
        .values(enabled=False, disabled_reason=reason, last_error=error, last_error_at=now)
    )
