"""notifications: targets, outbox, template overrides

Revision ID: notify_0001
Revises: 0001
Create Date: 2026-11-25

An independent branch from 0001 (``migrate()`` applies ``heads``). Tables match
``app.models``; timestamps are naive UTC like everywhere else.
"""

import sqlalchemy as sa
from alembic import op

revision = "notify_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notify_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("url_masked", sa.Text(), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("notify_lead", sa.Boolean(), nullable=False),
        sa.Column("notify_appointment", sa.Boolean(), nullable=False),
        sa.Column("notify_chatlog", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("failing_streak", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("retry_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    op.create_table(
        "notify_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["target_key"], ["notify_target.key"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("target_key", "lead_id", name="uq_notify_outbox_lead"),
        sa.UniqueConstraint("target_key", "delivery_id", name="uq_notify_outbox_delivery"),
    )
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_notify_outbox_due", ["status", "next_attempt_at"])
        batch_op.create_index("ix_notify_outbox_target_status", ["target_key", "status"])
        # Cascades from lead/delivery deletes look rows up by these columns.
        batch_op.create_index("ix_notify_outbox_lead_id", ["lead_id"])
        batch_op.create_index("ix_notify_outbox_delivery_id", ["delivery_id"])

    op.create_table(
        "notify_template",
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("part", sa.String(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "part"),
    )


def downgrade() -> None:
    op.drop_table("notify_template")
    with op.batch_alter_table("notify_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_notify_outbox_delivery_id")
        batch_op.drop_index("ix_notify_outbox_lead_id")
        batch_op.drop_index("ix_notify_outbox_target_status")
        batch_op.drop_index("ix_notify_outbox_due")
    op.drop_table("notify_outbox")
    op.drop_table("notify_target")
