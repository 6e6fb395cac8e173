"""Places in the inbox's order, newest first by ``coalesce(created_at, received_at)`` then
``id`` (the index ``ix_lead_when``, migration web_0001), and windows of that index.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import ge, gt, le, lt
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, or_, select
from sqlmodel import col

from app.models import Lead, UTCDateTime
from app.web.paging import Cursor
from app.web.queries import lead_search

# Typed explicitly so bound datetimes go through UTCDateTime (aware -> naive UTC).
SORT_KEY = func.coalesce(col(Lead.created_at), col(Lead.received_at), type_=UTCDateTime())


# A bound on the time, and the same bound "or equal" (the index range ``_side`` needs too).
Compare = Callable[[Any, Any], ColumnElement[bool]]
_OR_EQUAL: dict[Compare, Compare] = {lt: le, gt: ge}


def _side(cursor: Cursor, beyond: Compare, on_id: Compare) -> ColumnElement[bool]:
    """The rows ``beyond`` ``cursor``'s time, or at its time with an id ``on_id`` its id. Spelt
    out rather than as a row value ``(key, id) < (?, ?)``: SQLite turns only this form into an
    index range (2 ms, not 170 ms, deep into 60k leads).
    """
    key = SORT_KEY
    return and_(
        _OR_EQUAL[beyond](key, cursor.when),
        or_(beyond(key, cursor.when), on_id(col(Lead.id), cursor.id)),
    )


def older_than(cursor: Cursor) -> ColumnElement[bool]:
    """After ``cursor`` in newest-first order."""
    return _side(cursor, lt, lt)


def newer_than(cursor: Cursor) -> ColumnElement[bool]:
    """Before ``cursor`` in newest-first order."""
    return _side(cursor, gt, gt)


def at_or_newer(cursor: Cursor) -> ColumnElement[bool]:
    return _side(cursor, gt, ge)


def at_or_older(cursor: Cursor) -> ColumnElement[bool]:
    return _side(cursor, lt, le)


NEWEST_FIRST = (SORT_KEY.desc(), col(Lead.id).desc())
OLDEST_FIRST = (SORT_KEY.asc(), col(Lead.id).asc())


# How many leads of the date index a page of a common search looks at, in turn.
WINDOWS = (2_000, 20_000, 200_000)


def date_window(
    connection: Connection,
    conditions: list[ColumnElement[bool]],
    order: tuple[Any, ...],
    size: int,
) -> tuple[lead_search.Window, Cursor | None] | None:
    """The ids the next ``size`` leads of the date index span, and the last of them (None
    when fewer are left); None when there are none. Index only: no lead is read."""
    walked = select(col(Lead.id), SORT_KEY.label("when")).where(*conditions).order_by(*order)
    span = walked.limit(size).subquery()
    low, high, count = connection.execute(
        select(func.min(span.c.id), func.max(span.c.id), func.count())
    ).one()
    if not count:
        return None
    if count < size:
        return lead_search.Window(low, high), None
    last = connection.execute(walked.offset(size - 1).limit(1)).one()
    return lead_search.Window(low, high), Cursor(last.when, last.id)
