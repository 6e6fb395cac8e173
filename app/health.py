"""Whether the database can take a write now: what ``GET /healthz`` answers.

Three signals, cheapest first:

- **Free space** of the disk holding a SQLite database: under ``FREE_SPACE_FLOOR`` it is full.
  A write that succeeds is not proof enough here: a small one can still land in WAL pages a
  failed delivery left allocated, while every real delivery fails for want of space.
- **The writer's own record** (``Writer.last_outcome``): how its last batch ended. While
  deliveries arrive it is always fresh, and a failure (full, read-only, locked past
  ``DATABASE_BUSY_TIMEOUT_SECONDS``) shows at once.
- **A probe** when that record is older than ``FRESH_SECONDS`` (an idle inbox): one tiny write
  job through the writer, so it shares a batch with any delivery and never takes a lock of its
  own. It rewrites SQLite's ``user_version`` header field as a counter of probes (nothing else
  reads it), which needs a real WAL frame and commit; at most one probe is in flight, and at
  most one starts per ``FRESH_SECONDS`` however often the address is polled.

``/healthz`` waits for a probe at most ``PROBE_WAIT_SECONDS`` (under the container check's 4 s
timeout); a probe still waiting for a lock then answers from the last record, and one waiting
longer than the busy timeout plus ``STUCK_GRACE_SECONDS`` means the writer is stuck: 503.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from pathlib import Path

from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from app.db import Database, StorageUnavailable

log = logging.getLogger(__name__)

FRESH_SECONDS = 5.0
PROBE_WAIT_SECONDS = 3.0
STUCK_GRACE_SECONDS = 30.0
# Below this, deliveries are about to fail: a chat-log push or a WAL checkpoint needs more.
FREE_SPACE_FLOOR = 1024 * 1024
USER_VERSION_WRAP = 2**31  # user_version is a signed 32-bit integer


def probe(connection: Connection) -> None:
    """A writer job that needs the write lock, a WAL frame and a commit, and changes nothing
    the app reads (SQLite's ``user_version`` counts the probes; Alembic does not use it)."""
    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql("SELECT txid_current()")  # PostgreSQL: a transaction id
        return
    count = int(connection.exec_driver_sql("PRAGMA user_version").scalar() or 0)
    connection.exec_driver_sql(f"PRAGMA user_version = {(count + 1) % USER_VERSION_WRAP}")


class Health:
    """The answer to "can the database take a write now?": None for yes, else why not."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.busy_timeout = db.settings.database_busy_timeout
        self.directory = (
            Path(db.settings.database_url.removeprefix("sqlite:///")).parent
            if db.settings.is_sqlite
            else None
        )
        self._probe: asyncio.Future[None] | None = None
        self._probe_started = 0.0

    async def trouble(self) -> str | None:
        full = await run_in_threadpool(self._disk_full)  # statvfs can block on a network share
        if full is not None:
            return full
        when, trouble = self.db.writer.last_outcome
        if time.monotonic() - when < FRESH_SECONDS:
            return trouble
        return await self._probed(trouble)

    async def _probed(self, last_known: str | None) -> str | None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.wrap_future(self.db.writer.submit(probe))
            self._probe_started = time.monotonic()
            # Its outcome is read here even if every poller gave up waiting: never "unretrieved".
            self._probe.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            # Shielded: a poller that gives up must not cancel the probe others wait on.
            await asyncio.wait_for(asyncio.shield(self._probe), PROBE_WAIT_SECONDS)
        except StorageUnavailable as exc:
            return str(exc)
        except TimeoutError:
            waited = time.monotonic() - self._probe_started
            if waited > self.busy_timeout + STUCK_GRACE_SECONDS:
                return f"the database has not finished a write for {waited:.0f} s"
            return last_known  # waiting for a lock or behind a long commit: no news yet
        except Exception:
            log.exception("the health probe failed")
            return "the database is unavailable"
        return self.db.writer.last_outcome[1]

    def _disk_full(self) -> str | None:
        if self.directory is None:
            return None
        try:
            stat = os.statvfs(self.directory)
        except OSError:
            return None  # the probe will tell what is wrong with the directory
        free = stat.f_bavail * stat.f_frsize
        if free >= FREE_SPACE_FLOOR:
            return None
        return f"the disk holding the database is full ({free // 1024} KB free)"
