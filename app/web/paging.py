"""Keyset paging, the one way every list in the UI and the API pages.

A page is read with one row more than it shows: that row only tells that a next page exists,
and the last row shown is where the next page starts (its ``Cursor``, or just its id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeAlias, TypeVar

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Row

from app.web import params
from app.web.errors import BadParameter

# A row, or a statement, of any columns (SQLAlchemy types rows by their column types).
AnyRow: TypeAlias = Row[*tuple[Any, ...]]
AnySelect: TypeAlias = Select[*tuple[Any, ...]]
After = TypeVar("After")


@dataclass(frozen=True)
class Cursor:
    """A row's place in a newest-first list: its sort time, then its id (ties broken by id)."""

    when: datetime
    id: int

    def encode(self) -> str:
        return f"{self.when.isoformat()}~{self.id}"

    @classmethod
    def decode(cls, text: str, name: str = "cursor") -> Cursor:
        """The cursor a page's parameter ``name`` holds; 400 if not one this server gives out
        (which is also what a time or id out of range is)."""
        when, sep, ident = text.rpartition("~")
        found_when, found_id = params.moment(when), params.number(ident)
        if not sep or found_when is None or found_id is None:
            raise BadParameter(f"{name}: not a cursor this server gave out")
        return cls(found_when, found_id)

    @classmethod
    def param(cls, params: Mapping[str, str], name: str) -> Cursor | None:
        """The cursor in query parameter ``name``; None if it is missing or blank."""
        text = params.get(name, "").strip()
        return cls.decode(text, name) if text else None


@dataclass(frozen=True)
class Page(Generic[After]):
    rows: list[AnyRow]
    next: After | None  # where the next page starts; None on the last page


def read_page(
    connection: Connection,
    statement: AnySelect,
    limit: int,
    after: Callable[[AnyRow], After],
) -> Page[After]:
    """``statement`` (already ordered) cut to ``limit`` rows; ``after(last row)`` if more follow."""
    return page_of(list(connection.execute(statement.limit(limit + 1))), limit, after)


def page_of(rows: list[AnyRow], limit: int, after: Callable[[AnyRow], After]) -> Page[After]:
    """A page of ``limit`` rows from ``limit + 1`` read (fewer: the last page)."""
    shown = rows[:limit]
    return Page(shown, after(shown[-1]) if len(rows) > limit and shown else None)


def by_id(row: AnyRow) -> int:
    """The next page of a list in id order starts after this row's id."""
    return int(row.id)
