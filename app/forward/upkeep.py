"""Upkeep of the forwarding outbox: expiry, "retry now", replay, the FORWARD_URLS rows, counts.

Writer jobs and reads like ``outbox`` (whose enqueue and attempt jobs this leaves alone).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, case, delete, func, literal, select, update
from sqlmodel import col

from app.db import after_commit
from app.forward.destinations import Destination, Source, lead_kind
from app.forward.outbox import ATTEMPTS_KEPT, NEW_ROWS, new_message_id
from app.models import (
    ChatWindow,
    ForwardAttempt,
    ForwardDestination,
    ForwardOutbox,
    Lead,
    RowStatus,
    table_of,
    utc_literal,
)
from app.statements import upsert_insert

_OUTBOX = table_of(ForwardOutbox)


def prune_attempts(connection: Connection, keep: int = ATTEMPTS_KEPT) -> None:
    keys = connection.execute(select(col(ForwardDestination.key))).scalars().all()
    for key in keys:
        cutoff = connection.execute(
            select(col(ForwardAttempt.id))
            .where(col(ForwardAttempt.destination_key) == key)
            .order_by(col(ForwardAttempt.id).desc())
            .offset(keep)
            .limit(1)
        ).scalar()
        if cutoff is not None:
            connection.execute(
                delete(ForwardAttempt).where(
                    col(ForwardAttempt.destination_key) == key, col(ForwardAttempt.id) <= cutoff
                )
            )


def retry_now(connection: Connection, key: str, now: datetime, max_age: timedelta) -> int:
    """Send a destination's pending rows now, and give given-up rows a fresh retry window."""
    connection.execute(
        update(ForwardDestination).where(col(ForwardDestination.key) == key).values(retry_at=None)
    )
    result = connection.execute(
        update(ForwardOutbox)
        .where(
            col(ForwardOutbox.destination_key) == key,
            col(ForwardOutbox.status).in_([RowStatus.PENDING, RowStatus.FAILED]),
        )
        .values(status=RowStatus.PENDING, next_attempt_at=now, expires_at=now + max_age)
    )
    if result.rowcount:
        after_commit(connection, NEW_ROWS)
    return result.rowcount or 0


def _replay_statement(dialect: str, conflict: Sequence[str]) -> Any:
    statement = upsert_insert(dialect, ForwardOutbox)
    pending = _OUTBOX.c.status == RowStatus.PENDING
    return statement.on_conflict_do_update(
        index_elements=list(conflict),
        set_={
            # Not sent yet: the same message, only sooner. Sent or given up: a new message.
            "replays": case((pending, _OUTBOX.c.replays), else_=_OUTBOX.c.replays + 1),
            "status": RowStatus.PENDING,
            "next_attempt_at": statement.excluded.next_attempt_at,
            "expires_at": statement.excluded.expires_at,
        },
    )


def replay(
    connection: Connection,
    destinations: Sequence[Any],
    *,
    since: datetime | None,
    until: datetime | None,
    lead_id: int | None,
    now: datetime,
    max_age: timedelta,
) -> int:
    """Queue records again for ``destinations`` (rows of ``forward_destination``): one lead, or
    every lead and window received in [since, until). Records a destination never had (it was
    added later) are queued for it too; that is how history reaches a new CRM."""
    base = {"status": RowStatus.PENDING, "attempts": 0, "replays": 0, "created_at": now}
    base |= {"next_attempt_at": now, "expires_at": now + max_age}
    leads = select(col(Lead.id), col(Lead.type))
    windows = select(
        col(ChatWindow.serial_number), col(ChatWindow.start_time_raw), col(ChatWindow.end_time_raw)
    ).where(col(ChatWindow.complete))
    if lead_id is not None:
        leads = leads.where(col(Lead.id) == lead_id)
        windows = windows.where(literal(False))
    if since is not None:
        leads = leads.where(col(Lead.received_at) >= utc_literal(since))
        windows = windows.where(col(ChatWindow.received_at) >= utc_literal(since))
    if until is not None:
        leads = leads.where(col(Lead.received_at) < utc_literal(until))
        windows = windows.where(col(ChatWindow.received_at) < utc_literal(until))
    found_leads = connection.execute(leads.order_by(col(Lead.id))).all()
    found_windows = connection.execute(windows.order_by(col(ChatWindow.id))).all()
    lead_rows, window_rows = [], []
    for destination in destinations:
        for lead in found_leads:
            kind = lead_kind(lead.type)
            if getattr(destination, f"want_{kind}"):
                lead_rows.append(
                    {**base, "destination_key": destination.key, "kind": kind}
                    | {"lead_id": lead.id, "message_id": new_message_id()}
                )
        if destination.want_chatlog:
            for serial, start, end in found_windows:
                window_rows.append(
                    {**base, "destination_key": destination.key, "kind": "chatlog"}
                    | {"window_serial": serial, "window_start_raw": start, "window_end_raw": end}
                    | {"message_id": new_message_id()}
                )
    dialect = connection.dialect.name
    if lead_rows:
        connection.execute(_replay_statement(dialect, ["destination_key", "lead_id"]), lead_rows)
    if window_rows:
        conflict = ["destination_key", "window_serial", "window_start_raw", "window_end_raw"]
        connection.execute(_replay_statement(dialect, conflict), window_rows)
    if lead_rows or window_rows:
        after_commit(connection, NEW_ROWS)
    return len(lead_rows) + len(window_rows)


def sync_env_destinations(
    connection: Connection, destinations: Iterable[Destination], now: datetime
) -> None:
    """Give each FORWARD_URLS destination a row; mark vanished ones not present. Whether one
    is enabled is kept: a 410 or the UI may have switched it off."""
    keys: list[str] = []
    for destination in destinations:
        keys.append(destination.key)
        values = {
            "source": Source.ENV,
            "name": destination.name,
            "url_masked": destination.url_masked,
            **{f"want_{kind}": kind in destination.kinds for kind in ("lead", "appointment")},
            "want_chatlog": "chatlog" in destination.kinds,
            "present": True,
            "updated_at": now,
        }
        statement = upsert_insert(connection.dialect.name, ForwardDestination).values(
            key=destination.key, enabled=True, created_at=now, failing_streak=0, **values
        )
        connection.execute(statement.on_conflict_do_update(index_elements=["key"], set_=values))
    connection.execute(
        update(ForwardDestination)
        .where(
            col(ForwardDestination.source) == Source.ENV,
            col(ForwardDestination.key).not_in(keys),
            col(ForwardDestination.present),
        )
        .values(present=False, updated_at=now)
    )


def counts_by_destination(connection: Connection) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    query = select(
        col(ForwardOutbox.destination_key), col(ForwardOutbox.status), func.count()
    ).group_by(col(ForwardOutbox.destination_key), col(ForwardOutbox.status))
    for key, status, count in connection.execute(query):
        counts[key][status] = count
    return dict(counts)


def give_up(connection: Connection, row_id: int, error: str) -> None:
    """A row whose record is gone (a window replaced under a new time range, say)."""
    connection.execute(
        update(ForwardOutbox)
        .where(col(ForwardOutbox.id) == row_id)
        .values(status=RowStatus.FAILED, last_error=error)
    )
