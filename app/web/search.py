"""Full-text search, the one place that knows the dialects apart.

SQLite: FTS5 tables ``lead_fts`` and ``message_fts`` (migration 0001, kept by triggers).
PostgreSQL: GIN indexes over ``to_tsvector('simple', …)`` of the same columns.
What a person types becomes a prefix search on each word, all words required; their own
quotes and operators are not passed through, so no input can be a syntax error.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnElement,
    Connection,
    TableClause,
    bindparam,
    column,
    func,
    literal_column,
    table,
    text,
)

from app.models import Lead, Message

MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def terms(query: str) -> list[str]:
    return _WORD.findall(query)[:MAX_TERMS]


def _fts5(words: list[str]) -> str:
    return " ".join(f'"{word}"*' for word in words)


def _tsquery(words: list[str]) -> str:
    return " & ".join(f"{word}:*" for word in words)


def lead_matches(connection: Connection, query: str) -> ColumnElement[bool] | None:
    """A condition on ``Lead`` true for leads matching ``query``; None for an empty query."""
    words = terms(query)
    if not words:
        return None
    if connection.dialect.name == "sqlite":
        rows = text("SELECT rowid FROM lead_fts WHERE lead_fts MATCH :lead_q").bindparams(
            bindparam("lead_q", _fts5(words))
        )
        return Lead.id.in_(rows)
    document = literal_column(
        "coalesce(lead.first_name, '') || ' ' || coalesce(lead.last_name, '') || ' ' || "
        "coalesce(lead.email, '') || ' ' || coalesce(lead.phone_number, '') || ' ' || "
        "coalesce(lead.content, '')"
    )
    return func.to_tsvector("simple", document).op("@@")(func.to_tsquery("simple", _tsquery(words)))


def message_matches(connection: Connection, query: str) -> ColumnElement[bool] | None:
    words = terms(query)
    if not words:
        return None
    if connection.dialect.name == "sqlite":
        rows = text("SELECT rowid FROM message_fts WHERE message_fts MATCH :message_q").bindparams(
            bindparam("message_q", _fts5(words))
        )
        return Message.id.in_(rows)
    document = literal_column("coalesce(message.content, '')")
    return func.to_tsvector("simple", document).op("@@")(func.to_tsquery("simple", _tsquery(words)))


def fts_source(
    connection: Connection, name: str, query: str
) -> tuple[TableClause, ColumnElement[bool]] | None:
    """SQLite only: the FTS5 table and its MATCH, to drive a newest-first query from.

    Joining *from* the FTS table and ordering by its rowid descending lets FTS5 hand over
    matches newest first and stop after a page; an ``id IN (…)`` condition would first collect
    every match (tens of thousands for a common word) and sort them.
    """
    words = terms(query)
    if connection.dialect.name != "sqlite" or not words:
        return None
    fts = table(name, column("rowid"))
    return fts, literal_column(name).op("MATCH")(bindparam(f"{name}_q", _fts5(words)))


def highlight_terms(query: str) -> list[str]:
    """Words to mark in shown text (done after escaping, in templating.highlight)."""
    return [word.lower() for word in terms(query) if len(word) > 1]
