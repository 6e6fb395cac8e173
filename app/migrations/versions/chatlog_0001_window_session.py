"""chat logs: pushes merge into a window by SessionID, in the order they arrived

Revision ID: chatlog_0001
Revises: 0001
Create Date: 2026-12-01

A push for a window that is stored already replaces the conversations it carries, by SessionID
(``app.ingest.chatlog``): one DELETE per chunk naming its SessionIDs. With only
``ix_conversation_window_id``, SQLite chose that index and read every conversation of the window
for each chunk (quadratic in a large window). ``ix_conversation_window_session`` finds each
SessionID directly and, by its prefix, serves every lookup by window, so it replaces the old
index rather than adding a third one to keep up on every insert.

``conversation.delivery_id`` is the push a conversation came from: a push processed after a
later one (a large push is processed after it is answered) must not overwrite what the later one
stored. Rows from before have none and count as older than any push. No foreign key: only the
order matters, and deleting a delivery should not look through every conversation.

An independent branch from 0001 (``migrate()`` applies ``heads``).
"""

import sqlalchemy as sa
from alembic import op

revision = "chatlog_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("conversation", sa.Column("delivery_id", sa.Integer(), nullable=True))
    op.create_index("ix_conversation_window_session", "conversation", ["window_id", "session_id"])
    op.drop_index("ix_conversation_window_id", table_name="conversation")


def downgrade() -> None:
    op.create_index("ix_conversation_window_id", "conversation", ["window_id"])
    op.drop_index("ix_conversation_window_session", table_name="conversation")
    # Not batch mode: its copy would drop the table, and the messages with it (ON DELETE CASCADE).
    # SQLite 3.35+ drops a column in place.
    op.drop_column("conversation", "delivery_id")
