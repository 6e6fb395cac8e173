"""web inbox: term lists over the FTS5 indexes (prefix search that streams); chat-log day order

Revision ID: web_0002
Revises: web_0001
Create Date: 2026-11-25

A prefix query such as ``"boiler"*`` makes SQLite's FTS5 (3.40) merge the postings of every
term with that prefix into one list in memory before it yields the first row: 120 ms for a
word in 2M of 5M messages, however small the page. An OR of the exact terms streams newest
first instead (under 1 ms). ``lead_fts_terms`` and ``message_fts_terms`` are ``fts5vocab``
tables (no storage of their own: views of the FTS5 indexes) that ``app.web.queries.search``
reads to find those terms. PostgreSQL searches through its GIN indexes and needs none.

``ix_chat_window_day`` serves the chat-log list's newest-day-first order, which is
``coalesce(start_time, received_at)`` (a window's own day, or its arrival when it has none):
without it every page sorts every window (15-30 ms at 3,650 windows).
"""

import sqlalchemy as sa
from alembic import op

revision = "web_0002"
down_revision = "web_0001"
branch_labels = None
depends_on = None

FTS_TABLES = ("lead_fts", "message_fts")
WINDOW_DAY = "coalesce(start_time, received_at)"


def upgrade() -> None:
    op.create_index("ix_chat_window_day", "chat_window", [sa.text(WINDOW_DAY), "id"])
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in FTS_TABLES:
        # "instance": a seek to a term reads its first posting only ("row" would count them all).
        op.execute(f"CREATE VIRTUAL TABLE {table}_terms USING fts5vocab({table}, instance)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in FTS_TABLES:
            op.execute(f"DROP TABLE IF EXISTS {table}_terms")
    op.drop_index("ix_chat_window_day", table_name="chat_window")
