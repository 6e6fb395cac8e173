"""The one module that owns the database: engine, per-connection settings, migrations, writes.

Writes go through ``Writer`` (``app.writer``, re-exported here; accepted deliveries through
the ingest process, ``app.ingest_process``, which commits the same way): a thread with its own
connection that groups every queued job into one transaction and one fsync, and announces
``after_commit`` topics to subscribers (how the notification worker is woken).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

from app.config import Settings
from app.writer import StorageUnavailable as StorageUnavailable
from app.writer import WriteJob as WriteJob
from app.writer import Writer as Writer
from app.writer import after_commit as after_commit
from app.writer import is_storage_trouble as is_storage_trouble

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def create_db_engine(settings: Settings) -> Engine:
    if not settings.is_sqlite:
        return create_engine(settings.database_url, pool_pre_ping=True)
    Path(settings.database_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        settings.database_url,
        connect_args={"timeout": settings.database_busy_timeout, "check_same_thread": False},
    )
    busy_ms = int(settings.database_busy_timeout * 1000)

    @event.listens_for(engine, "connect")
    def configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite (it would BEGIN lazily and break
        # savepoints); SQLAlchemy's "begin" hook below starts them instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=FULL",  # every commit fsyncs: "success" means it is on disk
            "foreign_keys=ON",
            f"busy_timeout={busy_ms}",
            "journal_size_limit=67108864",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(connection: Connection) -> None:
        # Writers take the write lock up front, so waiting for it is bounded by busy_timeout
        # at BEGIN instead of failing halfway through a batch.
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def script_heads() -> set[str]:
    """The newest revision of each migration branch, read from the files without Alembic
    (``tests/test_db.py`` checks this against Alembic's own answer)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text(encoding="utf-8")
        found = re.search(r'^revision = "([^"]+)"', source, re.MULTILINE)
        down = re.search(r"^down_revision = (.+)$", source, re.MULTILINE)
        if found is None or down is None:
            return set()  # not a shape we know: let Alembic decide
        revisions.add(found[1])
        parents.update(re.findall(r'"([^"]+)"', down[1]))
    return revisions - parents


def up_to_date(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            stamped = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            return set(stamped.scalars()) == script_heads() != set()
    except DBAPIError:
        return False  # no alembic_version table yet: a new database


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe to run at every start.

    Alembic (11 MB of memory, a third of a second of imports) is loaded only when there is
    something to do, so an ordinary restart stays within the cold-start budget.
    """
    if up_to_date(engine):
        return
    chatter = logging.getLogger("alembic")
    if chatter.level == logging.NOTSET and not log.isEnabledFor(logging.DEBUG):
        # "setup plugin", "Context impl", "Running upgrade": noise at info, kept for debug
        chatter.setLevel(logging.WARNING)
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        connection.execution_options(sqlite_immediate=True)
        with connection.begin():
            config.attributes["connection"] = connection
            # "heads": independent features may add migration branches; all of them apply.
            command.upgrade(config, "heads")


class Database:
    """Engine plus writer: what the rest of the app holds on to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings)
        self.writer = Writer(self.engine)

    def open(self) -> None:
        migrate(self.engine)
        self.writer.start()

    def close(self) -> None:
        self.writer.stop()
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as connection, connection.begin():
            yield connection
