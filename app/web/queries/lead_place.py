"""Where a person is in the inbox: a page of the filtered list either way ("← Newer",
"Older →") with its place in the total, the rows that arrived above it since (the live list),
and a lead's neighbours in the list it was opened from.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, func, select
from sqlmodel import col

from app.models import Lead
from app.web.paging import AnyRow, Cursor, page_of
from app.web.queries import lead_search
from app.web.queries.lead_filter import LeadFilter
from app.web.queries.lead_order import SORT_KEY, newer_than, older_than
from app.web.queries.leads import (
    LEAD,
    LIST_COLUMNS,
    apply_filter,
    cursor_of,
    matching_ids,
    read_in_date_order,
)

COUNT_CAP = 10_000  # past this a list says "10,000+": counting is a scan of every match


@dataclass(frozen=True)
class ListPage:
    rows: list[AnyRow]
    older: Cursor | None  # "Older →" starts after the last row shown
    newer: Cursor | None  # "← Newer" starts before the first row shown; None at the top


def list_page(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> ListPage:
    if where.newer is None:
        place = older_than(where.cursor) if where.cursor is not None else None
        rows = read_in_date_order(connection, LIST_COLUMNS, where, tz, place, where.limit + 1)
        found = page_of(rows, where.limit, cursor_of)
        newer = None
        if where.cursor is not None and found.rows:
            first = cursor_of(found.rows[0])
            newer = first if _any(connection, where, tz, newer_than(first), oldest=True) else None
        return ListPage(found.rows, found.next, newer)
    # "← Newer": the rows just newer than the cursor, read oldest first and shown newest first.
    place = newer_than(where.newer)
    rows = read_in_date_order(
        connection, LIST_COLUMNS, where, tz, place, where.limit + 1, newest_first=False
    )
    found = page_of(rows, where.limit, cursor_of)
    shown = found.rows[::-1]
    last = cursor_of(shown[-1]) if shown else where.newer
    older = last if _any(connection, where, tz, older_than(last)) else None
    return ListPage(shown, older, cursor_of(shown[0]) if found.next is not None else None)


_ID_AND_WHEN = (col(Lead.id), SORT_KEY.label("when"))


def _any(
    connection: Connection,
    where: LeadFilter,
    tz: ZoneInfo,
    place: ColumnElement[bool],
    *,
    oldest: bool = False,
) -> bool:
    """Whether the filter matches any lead at ``place`` (looked for from its near end)."""
    first = read_in_date_order(
        connection, _ID_AND_WHEN, where.everywhere, tz, place, 1, newest_first=not oldest
    )
    return bool(first)


def count(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> int:
    """How many leads the filter matches (on every page), up to ``COUNT_CAP + 1``."""
    source = lead_search.count_source(connection, where.q) if where.q else None
    if source is None:
        ids = matching_ids(connection, where, tz, counting=True)
    else:
        fts, match = source
        driven = select(col(Lead.id)).select_from(fts.join(LEAD, col(Lead.id) == fts.c.rowid))
        everywhere = where.everywhere
        driven = driven.where(match)
        ids = apply_filter(connection, driven, everywhere, tz, with_search=False, counting=True)
    counted = select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())
    return int(connection.execute(counted).scalar() or 0)


def rows_before(connection: Connection, where: LeadFilter, tz: ZoneInfo, first: AnyRow) -> int:
    """How many matching rows come before ``first`` (the offset of a page that starts there),
    up to ``COUNT_CAP + 1``: read in date order down to it, which a search's matches would
    otherwise all be tested against (500 ms for a common one in 1M)."""
    place = newer_than(cursor_of(first))
    found = read_in_date_order(connection, _ID_AND_WHEN, where.everywhere, tz, place, COUNT_CAP + 1)
    return len(found)


def arrivals(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, top: Cursor | None
) -> list[AnyRow]:
    """Rows newer than ``top`` (the list's first row) that the filter matches, newest first:
    what a live list puts above its first row. At most one page."""
    place = newer_than(top) if top is not None else None
    return read_in_date_order(connection, LIST_COLUMNS, where.everywhere, tz, place, where.limit)


def neighbours(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, here: Cursor
) -> tuple[int | None, int | None]:
    """The ids just newer and just older than ``here`` among the leads the filter matches:
    previous and next on a lead's page, as in the list it was opened from."""
    everywhere = where.everywhere
    newer = read_in_date_order(
        connection, _ID_AND_WHEN, everywhere, tz, newer_than(here), 1, newest_first=False
    )
    older = read_in_date_order(connection, _ID_AND_WHEN, everywhere, tz, older_than(here), 1)
    return (newer[0].id if newer else None), (older[0].id if older else None)
