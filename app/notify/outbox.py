"""The durable outbox: writer jobs and reads over ``notify_outbox`` and ``notify_target``.

Rows are written by ``enqueue_lead`` inside the very transaction that stores a new lead, so a
crash between storing and notifying loses nothing; the unique (target, record) keys mean a
replayed lead, a second enqueue or a reprocess can never add a second row. Every function taking
a ``Connection`` and changing something is a writer job (see ``app.db.Writer``). New rows are
announced as ``NEW_ROWS`` once committed (``app.db.after_commit``): the worker listens.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlmodel import col

from app.config import Settings
from app.db import after_commit
from app.models import (
    Chatbot,
    ChatWindow,
    Delivery,
    Lead,
    NotifyOutbox,
    NotifyTarget,
    Outcome,
    ProcessStatus,
    RowStatus,
    UTCDateTime,
    utc_literal,
)
from app.notify.kinds import Source, lead_kind
from app.outbox_worker import anything_due
from app.statements import Prepared, upsert_insert

DUE_ROWS_PER_PASS = 20_000
NEW_ROWS = "notify.outbox.new_rows"  # announced after the commit holding new lead rows


def max_age(settings: Settings) -> timedelta:
    """How long a row is tried before it is given up (NOTIFY_RETRY_MAX_HOURS)."""
    return timedelta(hours=settings.notify_retry_max_hours)


def _insert(connection: Connection, table: Any) -> Any:
    return upsert_insert(connection.dialect.name, table)


def _enqueue_lead_statement(kind: str) -> Prepared:
    wants = (
        col(NotifyTarget.notify_appointment)
        if kind == "appointment"
        else col(NotifyTarget.notify_lead)
    )
    now = bindparam("now", type_=UTCDateTime())
    rows: Select[*tuple[Any, ...]] = select(
        col(NotifyTarget.key),
        literal(kind),
        bindparam("lead_id"),
        literal(RowStatus.PENDING),
        literal(0),
        now,
        # A target in backoff gets the new row at its retry time, not one extra attempt now.
        func.coalesce(col(NotifyTarget.retry_at), now),
    ).where(col(NotifyTarget.enabled), col(NotifyTarget.present), wants)
    columns = ["target_key", "kind", "lead_id", "status", "attempts", "created_at"]
    return Prepared(
        lambda dialect: (
            upsert_insert(dialect, NotifyOutbox)
            .from_select([*columns, "next_attempt_at"], rows)
            .on_conflict_do_nothing()
        )
    )


# Run for every new lead, so built once (see app.statements).
_ENQUEUE_LEAD = {kind: _enqueue_lead_statement(kind) for kind in ("lead", "appointment")}


def enqueue_lead(connection: Connection, lead_id: int, lead_type: str, now: datetime) -> None:
    """The hook in ``ingest.records.store_lead``: one row per enabled target taking this kind."""
    enqueue_leads(connection, [(lead_id, lead_type)], now)


def enqueue_leads(connection: Connection, leads: Sequence[tuple[int, str]], now: datetime) -> None:
    """``enqueue_lead`` for a writer group's new leads, (id, type) each, in order: one
    ``executemany`` per run of one kind (a group is nearly always one run), not one per lead."""
    for kind, run in groupby(leads, key=lambda lead: lead_kind(lead[1])):
        params = [{"lead_id": lead_id, "now": now} for lead_id, _ in run]
        cursor = _ENQUEUE_LEAD[kind].execute_many(connection, params)
        if cursor.rowcount:  # summed over the rows (-1, unknown, announces too)
            after_commit(connection, NEW_ROWS)


def enqueue_chatlogs(connection: Connection, now: datetime, max_age: timedelta) -> int:
    """One summary row per processed chat-log push per target that asked for chat logs.

    Only pushes processed after the target existed (and within the retry window) count, so
    adding a target does not replay history at it.
    """
    already = exists().where(
        col(NotifyOutbox.target_key) == col(NotifyTarget.key),
        col(NotifyOutbox.delivery_id) == col(Delivery.id),
    )
    rows = select(
        col(NotifyTarget.key),
        literal("chatlog"),
        col(Delivery.id),
        literal(RowStatus.PENDING),
        literal(0),
        utc_literal(now),
        func.coalesce(col(NotifyTarget.retry_at), utc_literal(now)),
    ).where(
        col(NotifyTarget.enabled),
        col(NotifyTarget.present),
        col(NotifyTarget.notify_chatlog),
        col(Delivery.kind) == "chatlog",
        col(Delivery.outcome) == Outcome.ACCEPTED,
        col(Delivery.process_status).in_([ProcessStatus.PROCESSED, ProcessStatus.FAILED]),
        col(Delivery.record_count) > 0,
        col(Delivery.processed_at) >= col(NotifyTarget.created_at),
        col(Delivery.processed_at) >= utc_literal(now - max_age),
        ~already,
    )
    columns = ["target_key", "kind", "delivery_id", "status", "attempts", "created_at"]
    statement = _insert(connection, NotifyOutbox).from_select([*columns, "next_attempt_at"], rows)
    return connection.execute(statement.on_conflict_do_nothing()).rowcount or 0


def due_rows(connection: Connection, now: datetime, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Pending rows whose time has come, by target, oldest first, with their lead joined."""
    keys = list(keys)
    if not keys or not anything_due(connection, NotifyOutbox, now):
        return {}
    query: Select[*tuple[Any, ...]] = (
        select(
            col(NotifyOutbox.id).label("row_id"),
            col(NotifyOutbox.target_key),
            col(NotifyOutbox.kind).label("row_kind"),
            col(NotifyOutbox.delivery_id).label("row_delivery_id"),
            Lead,
            col(Chatbot.name).label("chatbot_name"),
        )
        .select_from(NotifyOutbox)
        .outerjoin(Lead, col(Lead.id) == col(NotifyOutbox.lead_id))
        .outerjoin(Chatbot, col(Chatbot.serial_number) == col(Lead.serial_number))
        .where(
            col(NotifyOutbox.status) == RowStatus.PENDING,
            col(NotifyOutbox.next_attempt_at) <= utc_literal(now),
            col(NotifyOutbox.target_key).in_(keys),
        )
        .order_by(col(NotifyOutbox.id))
        .limit(DUE_ROWS_PER_PASS)
    )
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in connection.execute(query).mappings():
        grouped[row["target_key"]].append(row)
    return dict(grouped)


def next_due(connection: Connection, keys: Iterable[str], *, after: datetime) -> datetime | None:
    """The next retry time after ``after`` (rows due already are in hand, or rate-limited)."""
    keys = list(keys)
    if not keys:
        return None
    return connection.execute(
        select(func.min(col(NotifyOutbox.next_attempt_at))).where(
            col(NotifyOutbox.status) == RowStatus.PENDING,
            col(NotifyOutbox.target_key).in_(keys),
            col(NotifyOutbox.next_attempt_at) > utc_literal(after),
        )
    ).scalar()


def chat_windows(connection: Connection, delivery_id: int) -> list[Any]:
    return list(
        connection.execute(
            select(ChatWindow)
            .where(col(ChatWindow.delivery_id) == delivery_id)
            .order_by(col(ChatWindow.id))
        ).mappings()
    )


def record_success(
    connection: Connection, key: str, row_ids: list[int], status: str, now: datetime
) -> None:
    connection.execute(
        update(NotifyOutbox)
        .where(col(NotifyOutbox.id).in_(row_ids), col(NotifyOutbox.status) == RowStatus.PENDING)
        .values(
            status=status,
            sent_at=now,
            last_attempt_at=now,
            attempts=col(NotifyOutbox.attempts) + 1,
        )
    )
    connection.execute(
        update(NotifyTarget)
        .where(col(NotifyTarget.key) == key)
        .values(failing_streak=0, retry_at=None, last_success_at=now)
    )


def backoff(streak: int, first: float, cap: float) -> float:
    """first, 2 * first, 4 * first … capped: 30 s, 1 min, 2 min … 1 h with the defaults."""
    exponent = min(max(streak - 1, 0), 60)  # 2**60 times anything is past any cap
    return min(first * math.pow(2, exponent), cap)


def record_failure(
    connection: Connection,
    key: str,
    row_ids: list[int],
    error: str,
    now: datetime,
    *,
    first: float,
    cap: float,
) -> datetime:
    """Count the failure against the target and hold all its due rows until its retry time."""
    connection.execute(
        update(NotifyTarget)
        .where(col(NotifyTarget.key) == key)
        .values(
            failing_streak=col(NotifyTarget.failing_streak) + 1, last_error=error, last_error_at=now
        )
    )
    streak = (
        connection.execute(
            select(col(NotifyTarget.failing_streak)).where(col(NotifyTarget.key) == key)
        ).scalar()
        or 1
    )
    retry_at = now + timedelta(seconds=backoff(streak, first, cap))
    connection.execute(
        update(NotifyTarget).where(col(NotifyTarget.key) == key).values(retry_at=retry_at)
    )
    connection.execute(
        update(NotifyOutbox)
        .where(col(NotifyOutbox.id).in_(row_ids), col(NotifyOutbox.status) == RowStatus.PENDING)
        .values(attempts=col(NotifyOutbox.attempts) + 1, last_attempt_at=now, last_error=error)
    )
    connection.execute(
        update(NotifyOutbox)
        .where(
            col(NotifyOutbox.target_key) == key,
            col(NotifyOutbox.status) == RowStatus.PENDING,
            col(NotifyOutbox.next_attempt_at) < utc_literal(retry_at),
        )
        # Held back because of this failure, so it is their error too (shown when given up).
        .values(next_attempt_at=retry_at, last_error=error)
    )
    return retry_at


def retry_now(connection: Connection, key: str, now: datetime, max_age: timedelta) -> int:
    """Send a target's pending rows now, and give its given-up rows a fresh retry window."""
    connection.execute(
        update(NotifyTarget).where(col(NotifyTarget.key) == key).values(retry_at=None)
    )
    result = connection.execute(
        update(NotifyOutbox)
        .where(
            col(NotifyOutbox.target_key) == key,
            col(NotifyOutbox.status).in_([RowStatus.PENDING, RowStatus.FAILED]),
        )
        .values(status=RowStatus.PENDING, next_attempt_at=now, expires_at=now + max_age)
    )
    return result.rowcount or 0


def sync_config_targets(connection: Connection, targets: Iterable[Any], now: datetime) -> None:
    """Give each APPRISE_URLS/APPRISE_CONFIG target a row; mark vanished ones not present."""
    keys: list[str] = []
    for target in targets:
        keys.append(target.key)
        values = {
            "source": target.source,
            "name": target.name,
            "url_masked": target.url_masked,
            "service": target.service,
            "notify_lead": "lead" in target.kinds,
            "notify_appointment": "appointment" in target.kinds,
            "notify_chatlog": "chatlog" in target.kinds,
            "enabled": True,
            "present": True,
            "updated_at": now,
        }
        statement = _insert(connection, NotifyTarget).values(
            key=target.key, url=None, created_at=now, failing_streak=0, **values
        )
        connection.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))
    connection.execute(
        update(NotifyTarget)
        .where(
            col(NotifyTarget.source).in_([Source.ENV, Source.FILE]),
            col(NotifyTarget.key).not_in(keys),
            col(NotifyTarget.present),
        )
        .values(present=False, updated_at=now)
    )


def counts_by_target(connection: Connection) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(col(NotifyOutbox.target_key), col(NotifyOutbox.status), func.count()).group_by(
        col(NotifyOutbox.target_key), col(NotifyOutbox.status)
    )
    for key, status, count in connection.execute(query):
        counts[key][status] = count
    return dict(counts)
