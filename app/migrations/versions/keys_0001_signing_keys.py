"""Sign Keys and settings from the browser; the quarantine keeps what a re-check needs

Revision ID: keys_0001
Revises: 0001
Create Date: 2026-12-01

An independent branch from 0001 (``migrate()`` applies ``heads``).

``signing_key`` holds the Sign Keys entered under Settings (``app.live_settings``); the secret
must be kept whole, since each delivery's HMAC is computed with it. The other settings entered
there live in ``app_setting`` (branch web).

``delivery.signature_headers`` keeps the X-Webhook-Signature header(s) of a quarantined attempt,
so that a Sign Key added later can still verify it (``app.recheck``); ``accepted_by`` says how a
delivery left the quarantine ("manually", or which Sign Key verified it).
``ix_delivery_key_fingerprint`` answers a key's "last matched" without reading every delivery.
"""

import sqlalchemy as sa
from alembic import op

revision = "keys_0001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signing_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("fingerprint", name="uq_signing_key_fingerprint"),
    )
    # Plain ADD COLUMNs: batch mode would copy the table, which is large.
    op.add_column("delivery", sa.Column("signature_headers", sa.Text(), nullable=True))
    op.add_column("delivery", sa.Column("accepted_by", sa.Text(), nullable=True))
    op.create_index("ix_delivery_key_fingerprint", "delivery", ["key_fingerprint", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_key_fingerprint", table_name="delivery")
    op.drop_column("delivery", "accepted_by")
    op.drop_column("delivery", "signature_headers")
    op.drop_table("signing_key")
