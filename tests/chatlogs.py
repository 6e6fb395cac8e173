"""Chat logs for the ingest tests (built around the vendor's example), and the rows they leave.

A helper module, not a test module: tests/test_ingest_*.py import it.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from spec_examples import SPEC_CHATLOG
from sqlalchemy import insert, text

from app.db import Database
from app.ingest.documents import apply_document
from app.ingest.result import Result
from app.models import Delivery, Outcome, ProcessStatus

NOW = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def chatlog() -> dict[str, Any]:
    return copy.deepcopy(SPEC_CHATLOG)


def conversation(session: int, messages: int = 2, **extra: Any) -> dict[str, Any]:
    return {
        "SessionID": session,
        "CreateTime": f"2023-11-21T10:{session % 60:02d}:00.000001Z",
        "URI": "www.helloclient.com",
        "Messages": [
            {"Type": "User" if i % 2 else "AI", "Content": f"s{session} m{i}"}
            for i in range(messages)
        ],
        **extra,
    }


def window(serial: str, day: int, conversations: Any, **fields: Any) -> dict[str, Any]:
    return {
        "SerialNumber": serial,
        "Name": f"bot {serial}",
        "StartTime": f"2023-11-{day:02d}T00:00:00Z",
        "EndTime": f"2023-11-{day + 1:02d}T00:00:00Z",
        "Conversations": conversations,
        **fields,
    }


def reorder(document: dict[str, Any], *first: str) -> dict[str, Any]:
    """The same object with the ``first`` keys moved to the front."""
    return {**{key: document[key] for key in first}, **document}


def apply(db: Database, document: Any) -> Result:
    """A parsed body's records, stored in one writer transaction (as a small body's are)."""
    return db.writer.run_sync(lambda c: apply_document(c, document, delivery_id=None, now=NOW))


def stored_delivery(db: Database, body: bytes) -> int:
    """A raw accepted delivery, as the webhook leaves a large one for the processor."""
    values = {
        "received_at": NOW,
        "client_ip": "127.0.0.1",
        "outcome": Outcome.ACCEPTED,
        "status_code": 200,
        "body": body,
        "body_size": len(body),
        "body_sha256": "0" * 64,
        "process_status": ProcessStatus.PENDING,
    }
    return db.writer.run_sync(
        lambda c: c.execute(insert(Delivery).values(**values)).inserted_primary_key[0]
    )


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    with db.read() as connection:
        return [tuple(row) for row in connection.execute(text(sql))]


SNAPSHOT = {
    "chatbot": "SELECT serial_number, name FROM chatbot ORDER BY serial_number",
    "window": "SELECT serial_number, name, start_time_raw, end_time_raw, start_time, end_time, "
    "extra, conversation_count, message_count, complete FROM chat_window ORDER BY id",
    "conversation": "SELECT w.start_time_raw, c.serial_number, c.session_id, c.create_time_raw, "
    "c.created_at, c.uri, c.extra, c.message_count FROM conversation c "
    "JOIN chat_window w ON w.id = c.window_id ORDER BY c.id",
    "message": "SELECT w.serial_number, w.start_time_raw, c.session_id, m.position, m.type, "
    "m.content, m.extra FROM message m JOIN conversation c ON c.id = m.conversation_id "
    "JOIN chat_window w ON w.id = c.window_id ORDER BY m.id",
    "lead": "SELECT serial_number, type, session_id, content, extra FROM lead ORDER BY id",
    # External-content FTS5: only MATCH reads the index itself (count(*) reads the table).
    "fts": "SELECT count(*) FROM message_fts WHERE message_fts MATCH 'm0 OR m1 OR appointment'",
}


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored record, by table, without ids."""
    return {name: rows(db, sql) for name, sql in SNAPSHOT.items()}


def match(db: Database, table: str, query: str) -> list[int]:
    sql = f"SELECT rowid FROM {table}_fts WHERE {table}_fts MATCH '{query}' ORDER BY rowid"
    return [row[0] for row in rows(db, sql)]
