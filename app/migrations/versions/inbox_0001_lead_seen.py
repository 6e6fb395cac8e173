"""inbox: when a person first saw a lead

Revision ID: inbox_0001
Revises: 0001
Create Date: 2026-11-27

An independent branch from 0001 (``migrate()`` applies ``heads``).

``lead.seen_at`` is set the first time a person opens a lead, changes its status, or marks it
seen ("Mark all seen"). The menu badge and the tab title count the leads that are still ``new``
and not yet seen; the inbox marks unseen rows. Leads stored before this migration keep NULL, so
the badge counts exactly what it counted before. The index on (status, seen_at) answers that
count from the index alone.
"""

import sqlalchemy as sa
from alembic import op

revision = "inbox_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: batch mode could copy the table and lose lead_fts's triggers.
    op.add_column("lead", sa.Column("seen_at", sa.DateTime(), nullable=True))
    op.create_index("ix_lead_status_seen", "lead", ["status", "seen_at"])


def downgrade() -> None:
    op.drop_index("ix_lead_status_seen", table_name="lead")
    op.drop_column("lead", "seen_at")
