"""app.db: per-connection pragmas, the group-committing writer, migrations."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import eventually
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError, OperationalError

from app.config import load_settings
from app.db import (
    MIGRATIONS,
    Database,
    StorageUnavailable,
    after_commit,
    migrate,
    script_heads,
    up_to_date,
)

BUSY_TIMEOUT = 0.2


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(
        load_settings(
            {"DATA_DIR": str(tmp_path), "DATABASE_BUSY_TIMEOUT_SECONDS": str(BUSY_TIMEOUT)}
        )
    )
    database.open()
    database.writer.run_sync(
        lambda c: c.exec_driver_sql("CREATE TABLE item (n INTEGER NOT NULL UNIQUE)")
    )
    try:
        yield database
    finally:
        database.close()


def db_path(db: Database) -> str:
    return db.settings.database_url.removeprefix("sqlite:///")


def insert(n: int) -> object:
    def job(connection: Connection) -> int:
        connection.execute(text("INSERT INTO item (n) VALUES (:n)"), {"n": n})
        return n

    return job


def items(db: Database) -> list[int]:
    with db.read() as connection:
        return list(connection.execute(text("SELECT n FROM item ORDER BY n")).scalars())


class Gate:
    """A job that holds the writer until released, so the next jobs queue up as one batch."""

    def __init__(self, db: Database) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.future = db.writer.submit(self._job)
        assert self.entered.wait(10)

    def _job(self, connection: Connection) -> None:
        self.entered.set()
        assert self.release.wait(10)

    def open(self) -> None:
        self.release.set()
        self.future.result(10)


PRAGMAS = {"journal_mode": "wal", "synchronous": 2, "foreign_keys": 1}


def pragmas(connection: Connection) -> dict[str, object]:
    names = [*PRAGMAS, "busy_timeout"]
    return {name: connection.exec_driver_sql(f"PRAGMA {name}").scalar() for name in names}


def test_every_connection_gets_the_pragmas(db: Database) -> None:
    expected = {**PRAGMAS, "busy_timeout": int(BUSY_TIMEOUT * 1000)}
    assert db.writer.run_sync(pragmas) == expected
    with db.read() as first, db.read() as second:  # two pooled connections at once
        assert pragmas(first) == expected
        assert pragmas(second) == expected
    with db.engine.connect() as fresh:
        fresh.invalidate()
    with db.engine.connect() as fresh:
        assert pragmas(fresh) == expected


def test_writes_are_visible_to_other_processes(db: Database) -> None:
    db.writer.run_sync(insert(1))
    other = sqlite3.connect(db_path(db))
    try:
        assert other.execute("SELECT n FROM item").fetchall() == [(1,)]
    finally:
        other.close()


def test_jobs_from_many_threads_share_few_commits(db: Database) -> None:
    gate = Gate(db)
    before = db.writer.commits
    futures: list[Future[object]] = []
    lock = threading.Lock()

    def submitter(start: int) -> None:
        mine = [db.writer.submit(insert(n)) for n in range(start, start + 25)]
        with lock:
            futures.extend(mine)

    threads = [threading.Thread(target=submitter, args=(i * 25,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gate.open()
    assert sorted(f.result(10) for f in futures) == list(range(200))
    assert items(db) == list(range(200))
    assert db.writer.commits - before <= 3  # the gate's own, then one or two for all 200


def test_a_failing_job_does_not_sink_its_batch(db: Database) -> None:
    def insert_then_fail(connection: Connection) -> None:
        insert(3)(connection)
        raise ValueError("bug in a job")

    gate = Gate(db)
    before = db.writer.commits
    first = db.writer.submit(insert(1))
    duplicate = db.writer.submit(insert(1))
    failing = db.writer.submit(insert_then_fail)
    bad_sql = db.writer.submit(lambda c: c.exec_driver_sql("INSERT INTO nowhere VALUES (1)"))
    last = db.writer.submit(insert(2))
    gate.open()
    assert first.result(10) == 1
    assert last.result(10) == 2
    with pytest.raises(IntegrityError):
        duplicate.result(10)
    with pytest.raises(ValueError, match="bug in a job"):
        failing.result(10)
    with pytest.raises(Exception, match="no such table"):
        bad_sql.result(10)
    assert items(db) == [1, 2]  # the failing job's own insert was rolled back with it
    assert db.writer.commits - before == 2


def test_lock_held_past_the_busy_timeout_fails_then_recovers(db: Database) -> None:
    other = sqlite3.connect(db_path(db), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(StorageUnavailable, match="locked"):
            db.writer.run_sync(insert(1))
        assert time.monotonic() - started >= BUSY_TIMEOUT * 0.9
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert db.writer.run_sync(insert(2)) == 2
    assert items(db) == [2]


def test_jobs_queued_behind_a_locked_batch_wait_one_timeout_not_two(tmp_path: Path) -> None:
    timeout = 1.0
    database = Database(
        load_settings({"DATA_DIR": str(tmp_path), "DATABASE_BUSY_TIMEOUT_SECONDS": str(timeout)})
    )
    database.open()
    other = sqlite3.connect(db_path(database), isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        first = database.writer.submit(lambda c: c.exec_driver_sql("SELECT 1"))
        # Running: taken as a batch of its own, now waiting for the lock; these queue behind it.
        eventually(first.running, what="the first job never started", timeout=10)
        queued = [database.writer.submit(lambda c: c.exec_driver_sql("SELECT 1")) for _ in "ab"]
        for future in [first, *queued]:
            with pytest.raises(StorageUnavailable, match="locked"):
                future.result(10)
        # Each waited once: about one timeout from the start, never a second one on top.
        assert time.monotonic() - started < timeout * 1.6
    finally:
        other.close()
        database.close()


def test_lock_released_within_the_busy_timeout_is_waited_for(tmp_path: Path) -> None:
    database = Database(
        load_settings({"DATA_DIR": str(tmp_path), "DATABASE_BUSY_TIMEOUT_SECONDS": "10"})
    )
    database.open()
    try:
        other = sqlite3.connect(db_path(database), isolation_level=None, check_same_thread=False)
        other.execute("BEGIN EXCLUSIVE")
        threading.Timer(0.3, lambda: other.execute("ROLLBACK")).start()
        database.writer.run_sync(lambda c: c.exec_driver_sql("CREATE TABLE item (n INTEGER)"))
        other.close()
    finally:
        database.close()


def test_writer_that_is_not_running_refuses(tmp_path: Path) -> None:
    database = Database(load_settings({"DATA_DIR": str(tmp_path)}))
    with pytest.raises(StorageUnavailable, match="not running"):
        database.writer.run_sync(insert(1))


def test_stop_finishes_queued_jobs(db: Database) -> None:
    gate = Gate(db)
    futures = [db.writer.submit(insert(n)) for n in range(5)]
    stopper = threading.Thread(target=db.writer.stop)
    stopper.start()
    gate.open()
    stopper.join(10)
    assert [f.result(0) for f in futures] == list(range(5))
    db.writer.start()  # the fixture closes it again
    assert items(db) == list(range(5))


# ---- after_commit: announcements of committed rows -----------------------------------------
class Listener:
    """Counts its calls and what another connection saw then: called after the commit?"""

    def __init__(self, db: Database, topic: str = "items") -> None:
        self.db, self.calls = db, 0
        self.seen: list[list[int]] = []
        db.writer.subscribe(topic, self)

    def __call__(self) -> None:
        self.calls += 1
        self.seen.append(items(self.db))


def insert_and_announce(n: int, *, fail: bool = False) -> object:
    def job(connection: Connection) -> int:
        connection.execute(text("INSERT INTO item (n) VALUES (:n)"), {"n": n})
        after_commit(connection, "items")
        if fail:
            raise ValueError("bug after asking")
        return n

    return job


def test_after_commit_is_announced_once_per_commit_with_the_rows_visible(db: Database) -> None:
    listener = Listener(db)
    gate = Gate(db)
    futures = [db.writer.submit(insert_and_announce(n)) for n in range(3)]
    gate.open()
    assert [f.result(10) for f in futures] == [0, 1, 2]
    assert (listener.calls, listener.seen) == (1, [[0, 1, 2]])  # one batch, one announcement
    db.writer.run_sync(insert(3))  # a commit nobody asked to announce
    assert listener.calls == 1


def test_a_job_that_fails_announces_nothing_its_neighbours_once(db: Database) -> None:
    listener = Listener(db)
    gate = Gate(db)
    failing = db.writer.submit(insert_and_announce(1, fail=True))
    gate.open()
    with pytest.raises(ValueError):
        failing.result(10)
    assert listener.calls == 0  # rolled back: nothing to announce

    gate = Gate(db)
    futures = [db.writer.submit(insert_and_announce(n, fail=n == 3)) for n in (2, 3, 4)]
    gate.open()  # the batch fails together, then is rerun job by job
    with pytest.raises(ValueError):
        futures[1].result(10)
    assert (listener.calls, listener.seen) == (1, [[2, 4]])


def test_a_batch_that_cannot_commit_announces_nothing(db: Database) -> None:
    listener = Listener(db)

    def disk_trouble(connection: Connection) -> None:
        after_commit(connection, "items")
        raise OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))

    gate = Gate(db)
    neighbour = db.writer.submit(insert_and_announce(1))
    broken = db.writer.submit(disk_trouble)
    gate.open()
    for future in (neighbour, broken):
        with pytest.raises(StorageUnavailable):
            future.result(10)
    assert listener.calls == 0 and items(db) == []


def test_after_commit_outside_the_writer_does_nothing(db: Database) -> None:
    listener = Listener(db)
    with db.engine.begin() as connection:
        insert_and_announce(1)(connection)
    db.writer.run_sync(insert(2))  # the writer's next commit does not announce it either
    assert listener.calls == 0 and items(db) == [1, 2]


def test_a_failing_subscriber_neither_stops_the_writer_nor_the_others(db: Database) -> None:
    def broken() -> None:
        raise RuntimeError("subscriber bug")

    db.writer.subscribe("items", broken)
    listener = Listener(db)
    assert db.writer.run_sync(insert_and_announce(1)) == 1
    assert listener.calls == 1
    db.writer.unsubscribe("items", listener)
    assert db.writer.run_sync(insert_and_announce(2)) == 2
    assert listener.calls == 1


def migration_heads() -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return set(ScriptDirectory.from_config(config).get_heads())


def test_migrations_are_idempotent(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    first = Database(settings)
    first.open()
    first.writer.run_sync(
        lambda c: c.exec_driver_sql(
            "INSERT INTO chatbot (serial_number, name, first_seen_at, last_seen_at) "
            "VALUES ('s', 'kept', '2024-01-01', '2024-01-01')"
        )
    )
    first.close()
    again = Database(settings)
    again.open()  # must not fail or lose anything
    migrate(again.engine)
    try:
        with again.read() as connection:
            assert connection.exec_driver_sql("SELECT name FROM chatbot").scalars().all() == [
                "kept"
            ]
            versions = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert set(versions.scalars()) == migration_heads()
    finally:
        again.close()


def test_heads_read_from_the_files_are_alembics() -> None:
    """migrate() skips loading Alembic when the database is at these heads: they must agree."""
    assert script_heads() == migration_heads() != set()


def test_a_database_behind_the_heads_is_migrated(tmp_path: Path) -> None:
    settings = load_settings({"DATA_DIR": str(tmp_path)})
    database = Database(settings)
    database.open()
    database.close()
    with database.engine.begin() as connection:  # as if a newer version added a migration
        for statement in (  # web_0002's downgrade, by hand
            "DROP TABLE lead_fts_terms",
            "DROP TABLE message_fts_terms",
            "DROP INDEX ix_chat_window_day",
        ):
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql(
            "UPDATE alembic_version SET version_num = 'web_0001' WHERE version_num = 'web_0002'"
        )
    assert not up_to_date(database.engine)
    migrate(database.engine)
    assert up_to_date(database.engine)
    with database.engine.connect() as connection:
        indexes = connection.exec_driver_sql("PRAGMA index_list(chat_window)").all()
    assert "ix_chat_window_day" in {row[1] for row in indexes}


def test_cancelled_job_does_not_stop_the_writer(db: Database) -> None:
    # asyncio cancels the concurrent future behind ``await writer.run(job)`` when the awaiting
    # task is cancelled (a client gone, a shutdown): the writer must shrug that off.
    gate = Gate(db)
    cancelled = db.writer.submit(insert(1))
    assert cancelled.cancel()
    kept = db.writer.submit(insert(2))
    gate.open()
    assert kept.result(10) == 2
    assert db.writer.run_sync(insert(3)) == 3
    assert items(db) == [2, 3]  # a job cancelled before it ran is not run
