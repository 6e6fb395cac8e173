"""A search of the leads as a condition on ``Lead``, and how a page in date order finds it.

A search is an AND of parts: its words (each a prefix, ``search.expand``) and each phone
number in it (``app.phones``), which matches the number however it was typed or the words it
is made of. On SQLite each part is an OR of lookups in an FTS index (``lead_fts``, the trigram
``lead_phone_fts``), looked up once per database state (``look_up``):

- a part that matches fewer than ``COMMON`` leads becomes their ids, so every later query of
  the page (the rows, the count, "← Newer", the neighbours) reads those leads by id;
- when every part matches ``COMMON`` or more, a page in date order is found by walking the
  date index and testing each lead (``Found.many``, ``leads.read_in_date_order``) instead of
  sorting them all.

PostgreSQL: GIN indexes over ``to_tsvector('simple', …)``, and the phone key computed in the
query (``phone_search``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    TableClause,
    TextClause,
    and_,
    bindparam,
    column,
    inspect,
    literal_column,
    or_,
    table,
    text,
)

from app import phones
from app.models import Lead
from app.web.queries import phone_search, search
from app.web.queries.unchanged import while_unchanged

# From this many matches on, a part of a search is looked up in its FTS index by every query
# that needs it; below, its ids are read once and a page sorts those leads.
COMMON = 1000
LEAD_ID: ColumnElement[int] = inspect(Lead).local_table.c.id
CACHE_KEY = "lead_search"  # in the pooled connection's info: ((state, query), Found)

# One lookup in an FTS index: its name and MATCH expression.
Lookup = tuple[str, str]


@dataclass(frozen=True)
class Window:
    """A page read by walking the date index tests only the leads of one stretch of it, so a
    common part is looked up among their ids alone (``low`` to ``high``)."""

    low: int
    high: int


EVERY_ID = Window(-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class Part:
    """One part of a search, looked up: an OR of lookups, and the newest ids they match (up to
    ``COMMON``). ``floor`` None: those are all its leads; else every match from ``floor`` up."""

    lookups: tuple[Lookup, ...]
    ids: tuple[int, ...]
    floor: int | None

    def condition(self, lead_id: ColumnElement[Any], walk: Window | None) -> ColumnElement[bool]:
        if self.floor is None:
            return lead_id.in_(self.ids)
        if walk is not None and walk.low >= self.floor:  # the window's matches are known
            return lead_id.in_([each for each in self.ids if walk.low <= each <= walk.high])
        return or_(*(lead_id.in_(_ids(*each, walk)) for each in self.lookups))


@dataclass(frozen=True)
class Found:
    """A search on SQLite, looked up."""

    parts: tuple[Part, ...]

    @property
    def many(self) -> bool:
        """Every part matches ``COMMON`` leads or more: walk the date index for a page."""
        return all(part.floor is not None for part in self.parts)

    def condition(self, walk: Window | None = None) -> ColumnElement[bool]:
        """True for the leads this search matches. With ``walk`` (``many``): ``id + 0 IN
        (…)``, the id then being no index to look leads up by, so SQLite walks the date index
        and tests each lead, looking the search up among the window's ids only.
        """
        lead_id: ColumnElement[Any] = LEAD_ID if walk is None else LEAD_ID + 0
        return and_(*(part.condition(lead_id, walk) for part in self.parts))


def lead_matches(connection: Connection, query: str) -> ColumnElement[bool] | None:
    """A condition on ``Lead`` true for leads matching ``query``; None for an empty query
    (a page walking the date index tests ``Found.condition`` of one window instead)."""
    if connection.dialect.name != "sqlite":
        return _other_dialect(query)
    found = look_up(connection, query)
    return None if found is None else found.condition()


def count_source(
    connection: Connection, query: str
) -> tuple[TableClause, ColumnElement[bool]] | None:
    """SQLite: a search of words alone that matches many leads as its FTS table and MATCH,
    to drive a count from. FTS5 then hands over matches one by one and the count stops at
    its cap; ``id IN (…)`` would first gather every match (466,000 for "kitchen roof") into
    a b-tree of its own.
    """
    found = look_up(connection, query) if connection.dialect.name == "sqlite" else None
    if found is None or not found.many or len(found.parts) != 1:
        return None
    if len(found.parts[0].lookups) != 1:
        return None
    name, expression = found.parts[0].lookups[0]
    match = literal_column(name).op("MATCH")(bindparam("count_q", expression, unique=True))
    return table(name, column("rowid")), match


def look_up(connection: Connection, query: str) -> Found | None:
    """SQLite: ``query`` looked up (None if it has no words), kept with the pooled connection
    while the database is unchanged (``unchanged.while_unchanged``, as ``leads.count_new``
    is): one page reads it several times."""

    def find() -> Found | None:
        parts = tuple(_part(connection, lookups) for lookups in _lookups(connection, query))
        return Found(parts) if parts else None

    return while_unchanged(connection, CACHE_KEY, query, find)


def _lookups(connection: Connection, query: str) -> list[list[Lookup]]:
    rest, numbers = phones.split_query(query)
    words = search.terms(rest)
    expression = " AND ".join(search.expand(connection, "lead_fts", word) for word in words)
    parts = [[("lead_fts", expression)]] if words else []
    for number in numbers:
        phone = ("lead_phone_fts", phones.fts5_lookup(number))
        groups = search.terms(number.typed)
        # The number's words: its digit groups in a row, only the last a prefix (every group a
        # prefix would be every number starting "1" or "49", millions of postings).
        parts.append([phone, ("lead_fts", '"' + " ".join(groups) + '"*')] if groups else [phone])
    return parts


def _part(connection: Connection, lookups: list[Lookup]) -> Part:
    """The newest ``COMMON`` ids of each lookup: all its matches, or every match down to the
    oldest of them (so a window above that needs no lookup of its own)."""
    ids: set[int] = set()
    floor = None
    for lookup in lookups:
        newest = text(f"{_ids(*lookup, None).text} ORDER BY rowid DESC LIMIT {COMMON}")
        found = list(connection.execute(newest, {"fts_q": lookup[1]}).scalars())
        ids.update(found)
        if len(found) >= COMMON:
            floor = max(found[-1], floor or found[-1])
    if floor is not None:
        ids = {each for each in ids if each >= floor}
    return Part(tuple(lookups), tuple(sorted(ids)), floor)


def _ids(name: str, expression: str, walk: Window | None) -> TextClause:
    sql = f"SELECT rowid FROM {name} WHERE {name} MATCH :fts_q"
    if walk is None:
        return text(sql).bindparams(bindparam("fts_q", expression, unique=True))
    return text(sql + " AND rowid BETWEEN :fts_low AND :fts_high").bindparams(
        bindparam("fts_q", expression, unique=True),
        bindparam("fts_low", walk.low, unique=True),
        bindparam("fts_high", walk.high, unique=True),
    )


def _other_dialect(query: str) -> ColumnElement[bool] | None:
    rest, numbers = phones.split_query(query)
    found = [search.lead_words(rest)]
    for number in numbers:
        words = search.lead_words(number.typed)
        in_phone = phone_search.lead_matches(number)
        found.append(in_phone if words is None else or_(in_phone, words))
    conditions = [condition for condition in found if condition is not None]
    return and_(*conditions) if conditions else None
