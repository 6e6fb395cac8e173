"""The durable outbox: writer jobs and reads over ``notify_outbox`` and ``notify_target``.

Rows are written by ``enqueue_lead`` inside the very transaction that stores a new lead, so a
crash between storing and notifying loses nothing; the unique (target, record) keys mean a
replayed lead, a second enqueue or a reprocess can never add a second row. Every function taking
a ``Connection`` and changing something is a writer job (see ``app.db.Writer``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    update,
)

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
)
from app.notify.kinds import Source, lead_kind
from app.statements import Prepared, upsert_insert

DUE_ROWS_PER_PASS = 20_000

# The worker of each database (by engine) asks to be woken after the commit that holds new rows.
_wakers: dict[Engine, Callable[[], None]] = {}


def register_waker(engine: Engine, wake: Callable[[], None]) -> None:
    _wakers[engine] = wake


def unregister_waker(engine: Engine) -> None:
    _wakers.pop(engine, None)


def _insert(connection: Connection, table: Any) -> Any:
    return upsert_insert(connection.dialect.name, table)


def _at(moment: datetime) -> Any:
    return literal(moment, type_=UTCDateTime())


def _enqueue_lead_statement(kind: str) -> Prepared:
    wants = NotifyTarget.notify_appointment if kind == "appointment" else NotifyTarget.notify_lead
    now = bindparam("now", type_=UTCDateTime())
    rows = select(
        NotifyTarget.key,
        literal(kind),
        bindparam("lead_id"),
        literal(RowStatus.PENDING),
        literal(0),
        now,
        # A target in backoff gets the new row at its retry time, not one extra attempt now.
        func.coalesce(NotifyTarget.retry_at, now),
    ).where(NotifyTarget.enabled, NotifyTarget.present, wants)
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
    """The hook in ``ingest.store_lead``: one row per enabled target taking this kind."""
    kind = lead_kind(lead_type)
    cursor = _ENQUEUE_LEAD[kind].execute(connection, {"lead_id": lead_id, "now": now})
    wake = _wakers.get(connection.engine)
    if wake is not None and cursor.rowcount:
        wake()


def enqueue_chatlogs(connection: Connection, now: datetime, max_age: timedelta) -> int:
    """One summary row per processed chat-log push per target that asked for chat logs.

    Only pushes processed after the target existed (and within the retry window) count, so
    adding a target does not replay history at it.
    """
    target, delivery = NotifyTarget, Delivery
    already = exists().where(
        NotifyOutbox.target_key == target.key, NotifyOutbox.delivery_id == delivery.id
    )
    rows = select(
        target.key,
        literal("chatlog"),
        delivery.id,
        literal(RowStatus.PENDING),
        literal(0),
        _at(now),
        func.coalesce(target.retry_at, _at(now)),
    ).where(
        target.enabled,
        target.present,
        target.notify_chatlog,
        delivery.kind == "chatlog",
        delivery.outcome == Outcome.ACCEPTED,
        delivery.process_status.in_([ProcessStatus.PROCESSED, ProcessStatus.FAILED]),
        delivery.record_count > 0,
        delivery.processed_at >= target.created_at,
        delivery.processed_at >= _at(now - max_age),
        ~already,
    )
    columns = ["target_key", "kind", "delivery_id", "status", "attempts", "created_at"]
    statement = _insert(connection, NotifyOutbox).from_select([*columns, "next_attempt_at"], rows)
    return connection.execute(statement.on_conflict_do_nothing()).rowcount or 0


def expire(connection: Connection, now: datetime, max_age: timedelta, hours: float) -> int:
    """Give up on rows past the retry window (NOTIFY_RETRY_MAX_HOURS)."""
    prefix = f"gave up after {hours:g} h: "
    statement = (
        update(NotifyOutbox)
        .where(
            NotifyOutbox.status == RowStatus.PENDING,
            or_(
                and_(
                    NotifyOutbox.expires_at.is_(None), NotifyOutbox.created_at < _at(now - max_age)
                ),
                NotifyOutbox.expires_at <= _at(now),
            ),
        )
        .values(
            status=RowStatus.FAILED,
            last_error=literal(prefix) + func.coalesce(NotifyOutbox.last_error, "never attempted"),
        )
    )
    return connection.execute(statement).rowcount or 0


def due_rows(connection: Connection, now: datetime, keys: Iterable[str]) -> dict[str, list[Any]]:
    """Pending rows whose time has come, by target, oldest first, with their lead joined."""
    keys = list(keys)
    if not keys:
        return {}
    query = (
        select(
            NotifyOutbox.id.label("row_id"),
            NotifyOutbox.target_key,
            NotifyOutbox.kind.label("row_kind"),
            NotifyOutbox.delivery_id.label("row_delivery_id"),
            Lead,
            Chatbot.name.label("chatbot_name"),
        )
        .select_from(NotifyOutbox)
        .outerjoin(Lead, Lead.id == NotifyOutbox.lead_id)
        .outerjoin(Chatbot, Chatbot.serial_number == Lead.serial_number)
        .where(
            NotifyOutbox.status == RowStatus.PENDING,
            NotifyOutbox.next_attempt_at <= _at(now),
            NotifyOutbox.target_key.in_(keys),
        )
        .order_by(NotifyOutbox.id)
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
        select(func.min(NotifyOutbox.next_attempt_at)).where(
            NotifyOutbox.status == RowStatus.PENDING,
            NotifyOutbox.target_key.in_(keys),
            NotifyOutbox.next_attempt_at > _at(after),
        )
    ).scalar()


def chat_windows(connection: Connection, delivery_id: int) -> list[Any]:
    return list(
        connection.execute(
            select(ChatWindow).where(ChatWindow.delivery_id == delivery_id).order_by(ChatWindow.id)
        ).mappings()
    )


def record_success(
    connection: Connection, key: str, row_ids: list[int], status: str, now: datetime
) -> None:
    connection.execute(
        update(NotifyOutbox)
        .where(NotifyOutbox.id.in_(row_ids), NotifyOutbox.status == RowStatus.PENDING)
        .values(
            status=status,
            sent_at=now,
            last_attempt_at=now,
            attempts=NotifyOutbox.attempts + 1,
        )
    )
    connection.execute(
        update(NotifyTarget)
        .where(NotifyTarget.key == key)
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
        .where(NotifyTarget.key == key)
        .values(failing_streak=NotifyTarget.failing_streak + 1, last_error=error, last_error_at=now)
    )
    streak = (
        connection.execute(
            select(NotifyTarget.failing_streak).where(NotifyTarget.key == key)
        ).scalar()
        or 1
    )
    retry_at = now + timedelta(seconds=backoff(streak, first, cap))
    connection.execute(
        update(NotifyTarget).where(NotifyTarget.key == key).values(retry_at=retry_at)
    )
    connection.execute(
        update(NotifyOutbox)
        .where(NotifyOutbox.id.in_(row_ids), NotifyOutbox.status == RowStatus.PENDING)
        .values(attempts=NotifyOutbox.attempts + 1, last_attempt_at=now, last_error=error)
    )
    connection.execute(
        update(NotifyOutbox)
        .where(
            NotifyOutbox.target_key == key,
            NotifyOutbox.status == RowStatus.PENDING,
            NotifyOutbox.next_attempt_at < _at(retry_at),
        )
        # Held back because of this failure, so it is their error too (shown when given up).
        .values(next_attempt_at=retry_at, last_error=error)
    )
    return retry_at


def retry_now(connection: Connection, key: str, now: datetime, max_age: timedelta) -> int:
    """Send a target's pending rows now, and give its given-up rows a fresh retry window."""
    connection.execute(update(NotifyTarget).where(NotifyTarget.key == key).values(retry_at=None))
    result = connection.execute(
        update(NotifyOutbox)
        .where(
            NotifyOutbox.target_key == key,
            NotifyOutbox.status.in_([RowStatus.PENDING, RowStatus.FAILED]),
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
            NotifyTarget.source.in_([Source.ENV, Source.FILE]),
            NotifyTarget.key.not_in(keys),
            NotifyTarget.present,
        )
        .values(present=False, updated_at=now)
    )


def counts_by_target(connection: Connection) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(NotifyOutbox.target_key, NotifyOutbox.status, func.count()).group_by(
        NotifyOutbox.target_key, NotifyOutbox.status
    )
    for key, status, count in connection.execute(query):
        counts[key][status] = count
    return dict(counts)
