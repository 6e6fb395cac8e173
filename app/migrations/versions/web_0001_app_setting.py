"""web inbox: app_setting key/value table and the inbox's sort index

Revision ID: web_0001
Revises: 0001
Create Date: 2026-11-25

``app_setting`` holds the few values the web UI must keep across restarts: the session-signing
secret, the admin password hash chosen on the setup page, and the calendar feed token's hash.
``ix_lead_when`` serves the inbox's newest-first order: a lead's ``created_at`` may be NULL (an
unparseable vendor time), so the inbox sorts by ``coalesce(created_at, received_at)``, and the
expression must be indexed for keyset pagination to stay fast at 100k leads.
"""

import sqlalchemy as sa
from alembic import op

revision = "web_0001"
down_revision = "0001"
branch_labels = ("web",)
depends_on = None

SORT_KEY = "coalesce(created_at, received_at)"


def upgrade() -> None:
    op.create_table(
        "app_setting",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_index("ix_lead_when", "lead", [sa.text(SORT_KEY), "id"])
    op.create_index("ix_lead_status_when", "lead", ["status", sa.text(SORT_KEY), "id"])
    op.create_index("ix_chat_window_serial_start", "chat_window", ["serial_number", "start_time"])


def downgrade() -> None:
    op.drop_index("ix_chat_window_serial_start", table_name="chat_window")
    op.drop_index("ix_lead_status_when", table_name="lead")
    op.drop_index("ix_lead_when", table_name="lead")
    op.drop_table("app_setting")
