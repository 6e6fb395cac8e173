"""phone search: a trigram index of every lead's phone number as a normalised key

Revision ID: phones_0001
Revises: 0001
Create Date: 2026-12-02

``lead_phone_fts`` is a contentless FTS5 table with the trigram tokenizer (SQLite 3.34+):
one row per lead with a phone number, holding the key ``app.phones.stored_key`` describes
("+49 170 6950233" -> "^+491706950233$"). A trigram index answers "contains" queries, which
is all a phone search asks (``app.phones.patterns``). Triggers keep it in step, computing the
key in SQL so that every writer of ``lead`` (the ingest, a restore, a hand-made row) is
indexed alike; existing leads are indexed here. The SQL is this revision's own copy of the
rule: a later change to ``app.phones`` needs a migration that rebuilds the index.

PostgreSQL computes the same key in the query (``app.web.queries.phone_search``).
"""

import sqlalchemy as sa
from alembic import op

revision = "phones_0001"
down_revision = "0001"  # its own branch: it needs only the lead table
branch_labels = None
depends_on = None

TABLE = "lead_phone_fts"
SEPARATORS = (
    "(0)",
    " ",
    "\u00a0",
    "\t",
    "-",
    "\u2010",
    "\u2011",
    "\u2012",
    "\u2013",
    "\u2014",
    "\u2212",
    "(",
    ")",
    ".",
    "/",
)


def key_sql(value: str) -> str:
    """``app.phones.stored_key`` of the SQL expression ``value``, in SQL."""
    kept = f"trim({value}, ' ')"
    for separator in SEPARATORS:
        kept = f"replace({kept}, '{separator}', '')"
    digits = f"replace({kept}, '+', '')"
    return (
        f"CASE WHEN {digits} = '' THEN '' "
        f"WHEN substr({kept}, 1, 1) = '+' THEN '^+' || {digits} || '$' "
        f"WHEN substr({digits}, 1, 2) = '00' THEN '^+' || substr({digits}, 3) || '$' "
        f"ELSE '^' || {digits} || '$' END"
    )


def index(row: str) -> str:
    return (
        f"INSERT INTO {TABLE}(rowid, phone_key) SELECT {row}.id, {key_sql(row + '.phone_number')} "
        f"WHERE {row}.phone_number <> '';"
    )


def unindex(row: str) -> str:
    # A contentless table forgets a row only when told the values it was given.
    return (
        f"INSERT INTO {TABLE}({TABLE}, rowid, phone_key) "
        f"SELECT 'delete', {row}.id, {key_sql(row + '.phone_number')} "
        f"WHERE {row}.phone_number <> '';"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        f"CREATE VIRTUAL TABLE {TABLE} USING fts5(phone_key, content='', tokenize='trigram')"
    )
    op.execute(f"CREATE TRIGGER {TABLE}_insert AFTER INSERT ON lead BEGIN {index('new')} END")
    op.execute(f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON lead BEGIN {unindex('old')} END")
    op.execute(
        f"CREATE TRIGGER {TABLE}_update AFTER UPDATE OF phone_number ON lead "
        f"BEGIN {unindex('old')} {index('new')} END"
    )
    op.execute(
        f"INSERT INTO {TABLE}(rowid, phone_key) "
        f"SELECT id, {key_sql('phone_number')} FROM lead WHERE phone_number <> ''"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(sa.text(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}"))
    op.execute(f"DROP TABLE IF EXISTS {TABLE}")
