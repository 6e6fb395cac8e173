"""first schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25

Timestamps are naive UTC (see app.models.UTCDateTime). On SQLite, FTS5 indexes over messages and
lead fields are kept in step by triggers; on PostgreSQL, GIN indexes over tsvector expressions.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chatbot",
        sa.Column("serial_number", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("serial_number"),
    )
    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("client_ip", sa.String(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("key_number", sa.Integer(), nullable=True),
        sa.Column("key_fingerprint", sa.String(), nullable=True),
        sa.Column("signed_form", sa.String(), nullable=True),
        sa.Column("signature_timestamp", sa.BigInteger(), nullable=True),
        sa.Column("content_type", sa.String(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("body_size", sa.Integer(), nullable=False),
        sa.Column("body_sha256", sa.String(), nullable=False),
        sa.Column("body_truncated", sa.Boolean(), nullable=False),
        sa.Column("duplicate_of", sa.Integer(), nullable=True),
        sa.Column("process_status", sa.String(), nullable=True),
        sa.Column("process_error", sa.Text(), nullable=True),
        sa.Column("committed_at", sa.DateTime(), nullable=True),
        sa.Column("processing_started_at", sa.DateTime(), nullable=True),
        sa.Column("processed_at", sa.DateTime(), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index(
            "ix_delivery_sha256_outcome", ["body_sha256", "outcome"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delivery_outcome"), ["outcome"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_delivery_process_status"), ["process_status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_delivery_received_at"), ["received_at"], unique=False)

    op.create_table(
        "chat_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("start_time_raw", sa.String(), nullable=False),
        sa.Column("end_time_raw", sa.String(), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=True),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("conversation_count", sa.Integer(), nullable=False),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "serial_number", "start_time_raw", "end_time_raw", name="uq_chat_window"
        ),
    )
    with op.batch_alter_table("chat_window", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chat_window_start_time"), ["start_time"], unique=False)

    op.create_table(
        "lead",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("first_name", sa.String(), nullable=False),
        sa.Column("last_name", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=False),
        sa.Column("phone_number", sa.String(), nullable=False),
        sa.Column("create_time_raw", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["delivery_id"], ["delivery.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "serial_number", "type", "session_id", "create_time_raw", name="uq_lead"
        ),
    )
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.create_index("ix_lead_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_lead_serial_session", ["serial_number", "session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_lead_status"), ["status"], unique=False)

    op.create_table(
        "conversation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("window_id", sa.Integer(), nullable=False),
        sa.Column("serial_number", sa.String(), nullable=False),
        sa.Column("session_id", sa.BigInteger(), nullable=False),
        sa.Column("create_time_raw", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.Column("uri", sa.String(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.Column("message_count", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["window_id"], ["chat_window.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.create_index(
            "ix_conversation_serial_session", ["serial_number", "session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_conversation_window_id"), ["window_id"], unique=False)

    op.create_table(
        "note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["lead_id"], ["lead.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_note_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversation.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_message_conversation_id"), ["conversation_id"], unique=False
        )

    create_full_text_search()


FULL_TEXT = {
    "message": ("content",),
    "lead": ("first_name", "last_name", "email", "phone_number", "content"),
}


def create_full_text_search() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table, columns in FULL_TEXT.items():
            document = " || ' ' || ".join(f"coalesce({c}, '')" for c in columns)
            op.execute(
                f"CREATE INDEX ix_{table}_fts ON {table} "
                f"USING gin (to_tsvector('simple', {document}))"
            )
        return
    for table, columns in FULL_TEXT.items():
        names = ", ".join(columns)
        new = ", ".join(f"new.{c}" for c in columns)
        old = ", ".join(f"old.{c}" for c in columns)
        op.execute(
            f"CREATE VIRTUAL TABLE {table}_fts USING fts5({names}, content='{table}', "
            f"content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_insert AFTER INSERT ON {table} BEGIN "
            f"INSERT INTO {table}_fts(rowid, {names}) VALUES (new.id, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_delete AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {names}) "
            f"VALUES ('delete', old.id, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {table}_fts_update AFTER UPDATE OF {names} ON {table} BEGIN "
            f"INSERT INTO {table}_fts({table}_fts, rowid, {names}) "
            f"VALUES ('delete', old.id, {old}); "
            f"INSERT INTO {table}_fts(rowid, {names}) VALUES (new.id, {new}); END"
        )


def drop_full_text_search() -> None:
    for table in FULL_TEXT:
        if op.get_bind().dialect.name != "sqlite":
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_fts")
            continue
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{trigger}")
        op.execute(f"DROP TABLE IF EXISTS {table}_fts")


def downgrade() -> None:
    drop_full_text_search()
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_conversation_id"))

    op.drop_table("message")
    with op.batch_alter_table("note", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_note_lead_id"))

    op.drop_table("note")
    with op.batch_alter_table("conversation", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversation_window_id"))
        batch_op.drop_index("ix_conversation_serial_session")

    op.drop_table("conversation")
    with op.batch_alter_table("lead", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_status"))
        batch_op.drop_index("ix_lead_serial_session")
        batch_op.drop_index("ix_lead_created_at")

    op.drop_table("lead")
    with op.batch_alter_table("chat_window", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chat_window_start_time"))

    op.drop_table("chat_window")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_received_at"))
        batch_op.drop_index(batch_op.f("ix_delivery_process_status"))
        batch_op.drop_index(batch_op.f("ix_delivery_outcome"))
        batch_op.drop_index("ix_delivery_sha256_outcome")

    op.drop_table("delivery")
    op.drop_table("chatbot")
