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
from app.web.queries import lead_search, leads
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
    before: int  # how many matching rows come before the first shown (``rows_before``)


def list_page(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> ListPage:
    if where.newer is None:
        found = leads.page(connection, where, tz)
        # Nothing comes before the top page; below it, the rows before it are "← Newer".
        below_top = where.cursor is not None and bool(found.rows)
        before = rows_before(connection, where, tz, found.rows[0]) if below_top else 0
        newer = cursor_of(found.rows[0]) if before else None
        return ListPage(found.rows, found.next, newer, before)
    # "← Newer": the rows just newer than the cursor, read oldest first and shown newest first.
    place = newer_than(where.newer)
    rows = read_in_date_order(
        connection, LIST_COLUMNS, where, tz, place, where.limit + 1, newest_first=False
    )
    found = page_of(rows, where.limit, cursor_of)
    shown = found.rows[::-1]
    last = cursor_of(shown[-1]) if shown else where.newer
    older = last if _any(connection, where, tz, older_than(last)) else None
    if found.next is None:  # this page reaches the top
        return ListPage(shown, older, None, 0)
    return ListPage(shown, older, cursor_of(shown[0]), rows_before(connection, where, tz, shown[0]))


_ID_AND_WHEN = (col(Lead.id), SORT_KEY.label("when"))


def _any(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, place: ColumnElement[bool]
) -> bool:
    """Whether the filter matches any lead at ``place`` (looked for from its near end)."""
    return bool(read_in_date_order(connection, _ID_AND_WHEN, where, tz, place, 1))


def total(connection: Connection, where: LeadFilter, tz: ZoneInfo, page: ListPage) -> int:
    """How many leads the filter matches, up to ``COUNT_CAP + 1`` (as ``count``). A page with
    no older rows holds the last of them, so they are the ones before it and its own: known
    already, where a count reads every match again."""
    if page.older is None and page.rows:
        return min(page.before + len(page.rows), COUNT_CAP + 1)
    return count(connection, where, tz)


def count(connection: Connection, where: LeadFilter, tz: ZoneInfo) -> int:
    """How many leads the filter matches (on every page), up to ``COUNT_CAP + 1``."""
    source = lead_search.count_source(connection, where.q) if where.q else None
    if source is None:
        ids = matching_ids(connection, where, tz, counting=True)
    else:
        fts, match = source
        driven = select(col(Lead.id)).select_from(fts.join(LEAD, col(Lead.id) == fts.c.rowid))
        driven = driven.where(match)
        ids = apply_filter(connection, driven, where, tz, with_search=False, counting=True)
    counted = select(func.count()).select_from(ids.limit(COUNT_CAP + 1).subquery())
    return int(connection.execute(counted).scalar() or 0)


def rows_before(connection: Connection, where: LeadFilter, tz: ZoneInfo, first: AnyRow) -> int:
    """How many matching rows come before ``first`` (the offset of a page that starts there),
    up to ``COUNT_CAP + 1``: read in date order down to it, which a search's matches would
    otherwise all be tested against (500 ms for a common one in 1M)."""
    place = newer_than(cursor_of(first))
    found = read_in_date_order(connection, _ID_AND_WHEN, where, tz, place, COUNT_CAP + 1)
    return len(found)


def arrivals(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, top: Cursor | None
) -> list[AnyRow]:
    """Rows newer than ``top`` (the list's first row) that the filter matches, newest first:
    what a live list puts above its first row. At most one page."""
    place = newer_than(top) if top is not None else None
    return read_in_date_order(connection, LIST_COLUMNS, where, tz, place, where.limit)


def neighbours(
    connection: Connection, where: LeadFilter, tz: ZoneInfo, here: Cursor
) -> tuple[int | None, int | None]:
    """The ids just newer and just older than ``here`` among the leads the filter matches:
    previous and next on a lead's page, as in the list it was opened from."""
    newer = read_in_date_order(
        connection, _ID_AND_WHEN, where, tz, newer_than(here), 1, newest_first=False
    )
    older = read_in_date_order(connection, _ID_AND_WHEN, where, tz, older_than(here), 1)
    return (newer[0].id if newer else None), (older[0].id if older else None)
