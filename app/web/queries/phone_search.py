"""A phone number in a search, as a condition on ``Lead`` (the rule is ``app.phones``).

SQLite looks the patterns up in the trigram index ``lead_phone_fts`` (migration phones_0001;
the lookup is ``app.phones.fts5_lookup``, run by ``lead_search``).
PostgreSQL computes each lead's key in the query and compares with LIKE: a scan of the
leads, which the GIN index of the words beside it usually narrows first.
"""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    case,
    func,
    literal,
    or_,
)
from sqlalchemy.orm import Mapped
from sqlmodel import col

from app import phones
from app.models import Lead


def lead_matches(typed: phones.TypedNumber) -> ColumnElement[bool]:
    """PostgreSQL: leads whose number's key contains a pattern of ``typed`` (SQLite looks the
    patterns up in the trigram index: ``lead_search``, ``phones.fts5_lookup``)."""
    key = stored_key(col(Lead.phone_number))
    return or_(*(key.contains(pattern, autoescape=True) for pattern in typed.patterns))


def stored_key(number: ColumnElement[str] | Mapped[str]) -> ColumnElement[str]:
    """``app.phones.stored_key`` in PostgreSQL's SQL."""
    kept: ColumnElement[str] = func.btrim(number, " ")
    for separator in phones.SEPARATORS:
        kept = func.replace(kept, separator, "")
    digits = func.replace(kept, phones.PLUS, "")
    start, plus, end = literal(phones.START), literal(phones.START + phones.PLUS), phones.END
    return case(
        (digits == "", ""),
        (func.substr(kept, 1, 1) == phones.PLUS, plus + digits + end),
        (func.substr(digits, 1, 2) == "00", plus + func.substr(digits, 3) + end),
        else_=start + digits + end,
    )
