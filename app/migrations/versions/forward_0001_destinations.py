"""forwarding: destinations, outbox, attempts

Revision ID: forward_0001
Revises: 0001
Create Date: 2026-11-26

An independent branch from 0001 (``migrate()`` applies ``heads``). Tables match
``app.models``; timestamps are naive UTC like everywhere else.
"""

import sqlalchemy as sa
from alembic import op

revision = "forward_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "forward_destination",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("url_masked", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("headers", sa.JSON(), nullable=True),
        sa.Column("want_lead", sa.Boolean(), nullable=False),
        sa.Column("want_appointment", sa.Boolean(), nullable=False),
        sa.Column("want_chatlog", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("present", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
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
        "forward_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("destination_key", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=True),
        sa.Column("window_serial", sa.String(), nullable=True),
        sa.Column("window_start_raw", sa.String(), nullable=True),
        sa.Column("window_end_raw", sa.String(), nullable=True),
        sa.Column("message_id", sa.String(), nullable=False),
        sa.Column("replays", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["destination_key"], ["forward_destination.key"], ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("destination_key", "lead_id", name="uq_forward_outbox_lead"),
        sa.UniqueConstraint(
            "destination_key",
            "window_serial",
            "window_start_raw",
            "window_end_raw",
            name="uq_forward_outbox_window",
        ),
    )
    with op.batch_alter_table("forward_outbox", schema=None) as batch_op:
        batch_op.create_index("ix_forward_outbox_due", ["status", "next_attempt_at"])
        batch_op.create_index("ix_forward_outbox_destination_status", ["destination_key", "status"])
        batch_op.create_index("ix_forward_outbox_lead_id", ["lead_id"])  # lead delete cascade
    op.create_table(
        "forward_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("destination_key", sa.String(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(), nullable=False),
        sa.Column("webhook_id", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["outbox_id"], ["forward_outbox.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["destination_key"], ["forward_destination.key"], ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("forward_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_forward_attempt_destination", ["destination_key", "id"])
        batch_op.create_index("ix_forward_attempt_outbox_id", ["outbox_id"])


def downgrade() -> None:
    op.drop_table("forward_attempt")
    op.drop_table("forward_outbox")
    op.drop_table("forward_destination")
