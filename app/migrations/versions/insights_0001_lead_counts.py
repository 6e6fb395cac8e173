"""insights: when a lead was first contacted, and leads per local hour

Revision ID: insights_0001
Revises: 0001
Create Date: 2026-11-26

An independent branch from 0001 (``migrate()`` applies ``heads``).

``lead.contacted_at`` is set the first time a person moves a lead on from "new" (to
"contacted" or "done"); the Insights page's median time to contact reads it through its index.
Leads contacted before this migration keep NULL: nobody knows when that happened.

``insights_lead_day`` holds the count of leads per local day, chatbot and kind, and
``insights_lead_hour`` that of leads and appointments per local hour, both filled incrementally
from ``lead`` by ``app.web.queries.insights``: a year of 1M leads is then 365 days per chatbot
and 8,760 hours to read, not 500,000 leads to group on every view.
"""

import sqlalchemy as sa
from alembic import op

revision = "insights_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN: batch mode could copy the table and lose lead_fts's triggers.
    op.add_column("lead", sa.Column("contacted_at", sa.DateTime(), nullable=True))
    op.create_index("ix_lead_contacted_at", "lead", ["contacted_at"])
    op.create_table(
        "insights_lead_day",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "serial_number", "kind"),
    )
    op.create_table(
        "insights_lead_hour",
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("leads", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour"),
    )


def downgrade() -> None:
    op.drop_table("insights_lead_hour")
    op.drop_table("insights_lead_day")
    op.drop_index("ix_lead_contacted_at", table_name="lead")
    op.drop_column("lead", "contacted_at")
