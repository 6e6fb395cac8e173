"""Full-text search, the one place that knows the dialects apart.

SQLite: FTS5 tables ``lead_fts`` and ``message_fts`` (migration 0001, kept by triggers).
PostgreSQL: GIN indexes over ``to_tsvector('simple', …)`` of the same columns.
What a person types becomes a prefix search on each word, all words required; their own
quotes and operators are not passed through, so no input can be a syntax error.
On SQLite each prefix is spelt out as an OR of the indexed terms that start with it, read from
the ``*_fts_terms`` tables (migration web_0002), because FTS5 itself would first gather every
posting of every such term (see ``expand``). A search of the leads, phone numbers included,
is ``lead_search``, built on these.
"""

from __future__ import annotations

import re

from sqlalchemy import (
    ColumnClause,
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
from sqlmodel import col

from app.models import Message

MAX_TERMS = 12
# A prefix with more terms than this is left to FTS5's own prefix query: in practice the
# digits, or the start of a name that many e-mail addresses continue (garcia84, garcia1990).
MAX_EXPANSION = 16
_WORD = re.compile(r"\w+", re.UNICODE)
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def terms(query: str) -> list[str]:
    return _WORD.findall(query)[:MAX_TERMS]


def _fts5(words: list[str]) -> str:
    return " ".join(f'"{word}"*' for word in words)


def _tsquery(words: list[str]) -> str:
    return " & ".join(f"{word}:*" for word in words)


def lead_words(query: str) -> ColumnElement[bool] | None:
    """PostgreSQL: leads whose words match ``query`` (SQLite: ``lead_search``)."""
    words = terms(query)
    if not words:
        return None
    document: ColumnClause[str] = literal_column(
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
        return col(Message.id).in_(rows)
    document: ColumnClause[str] = literal_column("coalesce(message.content, '')")
    return func.to_tsvector("simple", document).op("@@")(func.to_tsquery("simple", _tsquery(words)))


def expand(connection: Connection, name: str, word: str) -> str:
    """One word of a search as an FTS5 expression matching every term it is a prefix of.

    ``"boiler"*`` would make FTS5 (3.40) merge the postings of all terms with that prefix
    before the first row (120 ms for a word in 2M of 5M messages); ``("boiler" OR "boilers")``
    streams newest first and stops after a page. The terms come from the ``fts5vocab`` table
    in index order, one seek each. Only ASCII words are spelt out: folding other letters
    exactly as the unicode61 tokenizer does (case, diacritics) is left to FTS5 itself.
    """
    if not _ASCII_WORD.fullmatch(word):
        return f'"{word}"*'
    prefix = word.lower()
    found = [prefix]  # the word itself; a term that does not exist matches nothing
    after = text(f"SELECT term FROM {name}_terms WHERE term >= :low LIMIT 1")
    low = prefix + "\x01"  # just past the word itself: no token holds a control character
    while len(found) <= MAX_EXPANSION:
        term = connection.execute(after, {"low": low}).scalar()
        if term is None or not term.startswith(prefix):
            return "(" + " OR ".join(f'"{each}"' for each in found) + ")"
        found.append(term)
        low = term + "\x01"
    return f'"{word}"*'


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
    expression = " AND ".join(expand(connection, name, word) for word in words)
    return fts, literal_column(name).op("MATCH")(bindparam(f"{name}_q", expression))


def highlight_terms(query: str) -> list[str]:
    """Words to mark in shown text (done after escaping, in templating.highlight)."""
    return [word.lower() for word in terms(query) if len(word) > 1]
