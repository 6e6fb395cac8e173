"""What every outbox worker shares: one thread, woken after the commit that holds new rows.

Notifications and forwarding each keep a durable outbox and a worker that empties it, in the
server process, off the webhook's request path. The thread's life is the same for both: it wakes
when the writer announces the outbox's topic after a commit, when asked (``wake``), or when the
wait its last pass asked for is over; a small pool sends, one target per thread at a time, so a
slow or dead target holds up nothing else. Each pass is counted, and a "quiet" pass (it polled,
found nothing due and no send under way) is logged at DEBUG: what shows, in tests and to an
admin, that the worker has looked again since some moment and had nothing (more) to do.

Under a stream of leads every group commit announces new rows, hundreds of times a second; a
pass per commit made the worker the largest single cost of a lead (its reads competing with the
webhook and the writer for the GIL: docs/performance.md). So the passes wakes ask for begin at
least ``PASS_GAP_SECONDS`` apart: the wakes that arrive meanwhile are all covered by the next
pass, and a lone lead, after a quiet moment, is still looked at at once. Passes on the worker's
own clock (polls, retry times) neither wait for the gap nor count towards it.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, exists, func, literal, or_, select, update
from sqlmodel import col

from app.db import Database
from app.models import ForwardOutbox, NotifyOutbox, RowStatus, utc_literal

ERROR_PAUSE_SECONDS = 5.0
PASS_GAP_SECONDS = 0.15  # a notification this much later is invisible; a pass per commit is not


class OutboxWorker:
    """Subclasses give ``_pass`` (one look at the outbox; returns the seconds until the next)
    and may give ``_prepare`` (run once before the thread starts)."""

    def __init__(
        self,
        db: Database,
        *,
        name: str,
        label: str,
        topic: str,
        send_threads: int,
        log: logging.Logger,
    ) -> None:
        self.db = db
        self.name, self.label = name, label  # the thread's name; what the log calls the work
        self.topic, self.send_threads, self.log = topic, send_threads, log
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: set[str] = set()  # targets with a send under way
        self._lock = threading.Lock()
        self.passes = 0
        self.last_quiet_pass = 0

    def start(self) -> None:
        self._prepare()
        self.db.writer.subscribe(self.topic, self.wake)
        self._pool = ThreadPoolExecutor(self.send_threads, thread_name_prefix=f"{self.name}-send")
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        self.wake()

    def stop(self) -> None:
        """Stop taking rows; sends already under way finish and are recorded."""
        self.db.writer.unsubscribe(self.topic, self.wake)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def wake(self) -> None:
        self._wake.set()

    def _prepare(self) -> None:
        pass

    def _pass(self) -> float:
        raise NotImplementedError

    def _loop(self) -> None:
        woken_at = float("-inf")  # when the last pass a wake asked for began
        while not self._stop.is_set():
            try:
                timeout = self._pass()
            except Exception:
                self.log.exception("%s pass failed; trying again shortly", self.label)
                timeout = ERROR_PAUSE_SECONDS
            if self._wake.wait(timeout=max(timeout, 0.01)):
                rest = woken_at + PASS_GAP_SECONDS - time.monotonic()
                if rest > 0:
                    self._stop.wait(rest)  # wakes meanwhile are covered by the pass after it
                woken_at = time.monotonic()
            self._wake.clear()  # before the pass: a commit after this wakes the next one

    def _count_pass(self, *, quiet: bool) -> None:
        self.passes += 1
        if quiet:
            self.last_quiet_pass = self.passes
        self.log.debug("%s: pass %d done%s", self.label, self.passes, ", quiet" if quiet else "")


def expire(
    connection: Connection,
    table: type[NotifyOutbox] | type[ForwardOutbox],
    now: datetime,
    max_age: timedelta,
    hours: float,
) -> int:
    """Give up on an outbox's rows past its retry window (or past a "retry now" deadline)."""
    statement = (
        update(table)
        .where(
            col(table.status) == RowStatus.PENDING,
            or_(
                and_(
                    col(table.expires_at).is_(None),
                    col(table.created_at) < utc_literal(now - max_age),
                ),
                col(table.expires_at) <= utc_literal(now),
            ),
        )
        .values(
            status=RowStatus.FAILED,
            last_error=literal(f"gave up after {hours:g} h: ")
            + func.coalesce(col(table.last_error), "never attempted"),
        )
    )
    return connection.execute(statement).rowcount or 0


def anything_due(
    connection: Connection, table: type[NotifyOutbox] | type[ForwardOutbox], now: datetime
) -> bool:
    """Whether any pending row's time has come: a look into the due index, where reading the
    due rows reads every pending row (tens of thousands while a target backs off under load)."""
    due = exists().where(
        col(table.status) == RowStatus.PENDING, col(table.next_attempt_at) <= utc_literal(now)
    )
    return bool(connection.execute(select(due)).scalar())
