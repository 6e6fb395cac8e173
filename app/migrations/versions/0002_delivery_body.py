"""Large accepted bodies in a table of their own.

A 100 MB chat-log push stored in ``delivery.body`` made every UPDATE of its delivery row rewrite
(and hold in memory, twice) the whole body, and binding it as a parameter made SQLite keep a
copy in the cached statement. In ``delivery_body`` it is written once, in pieces, and never
touched again. Existing rows keep their bodies where they are; readers look in both places.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_body",
        sa.Column(
            "delivery_id",
            sa.Integer(),
            sa.ForeignKey("delivery.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("body", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("delivery_body")
