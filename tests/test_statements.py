"""app.statements: Core statements run on the DBAPI cursor store exactly what Core would."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.config import load_settings
from app.db import Database, is_storage_trouble
from app.models import Chatbot, Lead
from app.statements import Prepared

NOW = datetime(2026, 11, 25, 10, 30, 15, 123456, tzinfo=UTC)
LEAD_COLUMNS = (
    *("serial_number", "type", "first_name", "last_name", "email", "phone_number"),
    *("create_time_raw", "content", "session_id", "uri", "created_at", "extra"),
    *("received_at", "delivery_id", "status"),
)
CHATBOT_INSERT = Prepared(
    insert(Chatbot), keys=("serial_number", "name", "first_seen_at", "last_seen_at")
)


def lead_row(session_id: int) -> dict[str, Any]:
    return {
        "serial_number": "bot-1",
        "type": "Lead",
        "first_name": "Zoë",
        "last_name": "O'Brien",
        "email": "zoe@example.com",
        "phone_number": "+1 555 0100",
        "create_time_raw": "2026-11-25T10:00:00Z",
        "content": "Call me <b>today</b>",
        "session_id": session_id,
        "uri": "https://example.com",
        "created_at": NOW - timedelta(hours=1),
        "extra": {"Budget": 1200, "Tags": ["roof", "urgent"]},
        "received_at": NOW,
        "delivery_id": None,
        "status": "new",
    }


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    settings = load_settings({"DATA_DIR": str(tmp_path), "DATABASE_BUSY_TIMEOUT_SECONDS": "0.2"})
    database = Database(settings)
    database.open()
    try:
        yield database
    finally:
        database.close()


def raw_rows(database: Database, sql: str) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(database.settings.database_url.removeprefix("sqlite:///"))
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_prepared_insert_stores_the_same_bytes_as_core(database: Database) -> None:
    prepared = Prepared(insert(Lead).returning(Lead.id), keys=LEAD_COLUMNS)
    by_core = database.writer.run_sync(
        lambda c: c.execute(insert(Lead).returning(Lead.id), lead_row(1)).scalar()
    )
    by_prepared = database.writer.run_sync(lambda c: prepared.scalar(c, lead_row(2)))
    assert by_prepared == by_core + 1
    core, fast = raw_rows(database, "SELECT * FROM lead ORDER BY id")
    differing = {i for i, (a, b) in enumerate(zip(core, fast, strict=True)) if a != b}
    columns = [row[1] for row in raw_rows(database, "PRAGMA table_info(lead)")]
    assert {columns[i] for i in differing} == {"id", "session_id"}
    # And it reads back through the models' own types: aware UTC, JSON as a dict.
    with database.read() as connection:
        lead = connection.execute(select(Lead).where(Lead.id == by_prepared)).one()
    assert lead.received_at == NOW
    assert lead.extra == {"Budget": 1200, "Tags": ["roof", "urgent"]}


def test_a_missing_value_is_named(database: Database) -> None:
    prepared = Prepared(insert(Lead), keys=LEAD_COLUMNS)
    row = lead_row(1)
    del row["email"]
    with pytest.raises(KeyError, match="'email'"):
        database.writer.run_sync(lambda c: prepared.execute(c, row))
    assert raw_rows(database, "SELECT count(*) FROM lead") == [(0,)]


def test_literals_of_the_statement_are_bound(database: Database) -> None:
    for n in range(3):
        database.writer.run_sync(lambda c, n=n: c.execute(insert(Lead), lead_row(n)))
    newest_first = Prepared(
        select(Lead.session_id)
        .where(Lead.serial_number == bindparam("serial"), Lead.status == "new")
        .order_by(Lead.id.desc())
        .limit(2)
    )
    with database.read() as connection:
        rows = newest_first.execute(connection, {"serial": "bot-1"}).fetchall()
    assert [row[0] for row in rows] == [2, 1]


def test_repeated_and_alternating_datetimes_are_each_converted(database: Database) -> None:
    """The conversion memo must never hand one value's text to another."""
    moments = [NOW + timedelta(seconds=n) for n in range(4)]

    def insert_all(connection: Any) -> None:
        for n, moment in enumerate(moments):
            other = moments[-1 - n]
            CHATBOT_INSERT.execute(
                connection,
                {
                    "serial_number": f"s{n}",
                    "name": "",
                    "first_seen_at": moment,
                    "last_seen_at": other,
                },
            )

    database.writer.run_sync(insert_all)
    stored = raw_rows(
        database, "SELECT first_seen_at, last_seen_at FROM chatbot ORDER BY serial_number"
    )
    expected = [
        (m.replace(tzinfo=None).isoformat(" "), moments[-1 - n].replace(tzinfo=None).isoformat(" "))
        for n, m in enumerate(moments)
    ]
    assert stored == expected


def test_a_constraint_error_fails_its_own_job_only(database: Database) -> None:
    """Driver errors arrive as SQLAlchemy's, so the writer treats them like Core's."""
    first = {"serial_number": "dup", "name": "", "first_seen_at": NOW, "last_seen_at": NOW}
    database.writer.run_sync(lambda c: CHATBOT_INSERT.execute(c, first))
    again = database.writer.submit(lambda c: CHATBOT_INSERT.execute(c, first))
    neighbour = database.writer.submit(
        lambda c: CHATBOT_INSERT.execute(c, {**first, "serial_number": "other"})
    )
    with pytest.raises(IntegrityError):
        again.result()
    neighbour.result()
    assert raw_rows(database, "SELECT serial_number FROM chatbot ORDER BY 1") == [
        ("dup",),
        ("other",),
    ]


def test_a_locked_database_is_storage_trouble(database: Database) -> None:
    path = database.settings.database_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        row = {"serial_number": "x", "name": "", "first_seen_at": NOW, "last_seen_at": NOW}
        with (
            database.engine.connect() as connection,
            connection.begin(),
            pytest.raises(OperationalError) as caught,
        ):
            CHATBOT_INSERT.execute(connection, row)
        assert is_storage_trouble(caught.value)
    finally:
        holder.rollback()
        holder.close()
