"""The writer thread: the app's writes, grouped into one transaction and one fsync.

Accepted deliveries are stored by the ingest process instead (``app.ingest_process``), with
the same ``commit_batch``; when that process is not running, they come here too.

``Writer`` takes every job waiting in its queue, runs them in one transaction and commits once
(if one job fails, the group is rerun with a savepoint per job, so one bad job cannot sink its
neighbours). Many webhook deliveries thus share one fsync, and each caller is answered only after
the commit that holds its own rows. Jobs submitted with ``submit_item`` name a group function
instead: consecutive ones of the same group run as one call over all their items, so a group of
leads costs one statement per table rather than five per lead. A job may also ask for others to
hear of that commit (``after_commit``): the notification worker learns of new outbox rows this
way, once they are visible to its reads.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

log = logging.getLogger("app.db")

T = TypeVar("T")
Item = TypeVar("Item")
WriteJob = Callable[[Connection], T]
# A function of a connection and a group's items, returning one result per item, in order.
GroupJob = Callable[[Connection, list[Item]], Sequence[T]]

MAX_BATCH = 256
# Key in the writer connection's ``info`` while a job runs: the topics that job asked for.
_ASKED = "app.db.after_commit"


class StorageUnavailable(RuntimeError):
    """The database cannot take writes now (disk full, locked too long, read-only, gone)."""


def describe_storage_error(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc)).lower()
    if "full" in text:
        return "the disk holding the database is full"
    if "locked" in text or "busy" in text:
        return "the database stayed locked by another process past the busy timeout"
    if "readonly" in text or "read-only" in text or "read only" in text:
        return "the database is read-only"
    return "the database is unavailable"


SQLITE_ERROR = 1  # SQLite's generic result code: a mistake in the statement itself


def is_storage_trouble(exc: OperationalError) -> bool:
    """Whether an OperationalError means the database (not one job's SQL) is in trouble.

    pysqlite raises OperationalError for a job's own mistakes too ("no such table", syntax
    errors), with the generic SQLITE_ERROR code; those must fail that job alone, not its whole
    batch. Busy, locked, I/O, full, read-only and the like carry their own codes.
    """
    code = getattr(exc.orig, "sqlite_errorcode", None)
    return code is None or code & 0xFF != SQLITE_ERROR  # extended codes keep the primary low


def after_commit(connection: Connection, topic: str) -> None:
    """From inside a writer job: announce ``topic`` once the commit holding this job's rows is done.

    The writer then calls whoever subscribed to ``topic`` (``Writer.subscribe``), in its own
    thread, once per commit however many jobs of the batch asked. Only committed rows count:
    - the job raises, or the batch's commit fails (disk full, lock timeout): its rows do not
      exist, so nothing is announced;
    - a batch in which one job failed is rolled back whole and rerun with a savepoint per job:
      what the jobs asked during the rolled-back attempt is forgotten; during the rerun the
      failing job's asks are dropped with its savepoint, its neighbours' announced once;
    - a job that rolls back a savepoint of its own after asking still announces: a subscriber
      woken for nothing new costs a pass, so this errs that way rather than toward silence;
    - outside a writer job (a migration, a test's own transaction) it does nothing.
    """
    asked = connection.info.get(_ASKED)
    if asked is not None:
        asked.add(topic)


class _OneJobFailed(Exception):
    """A job raised inside a group transaction: the group is rerun with savepoints."""


@dataclass(frozen=True)
class Job:
    """One unit of a batch: a function of the connection, or an item of a group function."""

    run: WriteJob[Any]
    group: GroupJob[Any, Any] | None = None  # run together with its neighbours of this group
    item: Any = None

    @classmethod
    def of_item(cls, group: GroupJob[Any, Any], item: Any) -> Job:
        """Alone (and in the savepoint rerun) an item is ``group(connection, [item])``."""
        return cls(lambda c: group(c, [item])[0], group, item)


@dataclass
class _Job:
    job: Job
    future: Future[Any]


class Writer:
    """Serialises every write through one thread and commits them in groups."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._subscribers: dict[str, set[Callable[[], None]]] = {}
        self._subscribers_lock = threading.Lock()
        self.commits = 0
        self.last_outcome: tuple[float, str | None] = (0.0, None)  # (monotonic, trouble): healthz

    def subscribe(self, topic: str, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each commit holding a job that asked ``after_commit(c, topic)``.

        It runs in the writer thread before the batch's callers are answered, so it must be
        quick and never wait on a writer job (it would wait on itself): setting an event is
        right. An exception from it is logged; the writer carries on.
        """
        with self._subscribers_lock:
            self._subscribers.setdefault(topic, set()).add(callback)

    def unsubscribe(self, topic: str, callback: Callable[[], None]) -> None:
        with self._subscribers_lock:
            self._subscribers.get(topic, set()).discard(callback)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="db-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Finish every job already queued, then end the thread."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join()
        self._thread = None

    def submit(self, job: WriteJob[T]) -> Future[T]:
        return self._put(Job(job))

    def submit_item(self, group: GroupJob[Item, T], item: Item) -> Future[T]:
        """Queue ``item`` for ``group``: queued neighbours of the same group are handed to one
        call of it. Alone (and in the savepoint rerun) it is ``group(connection, [item])``."""
        return self._put(Job.of_item(group, item))

    def _put(self, job: Job) -> Future[Any]:
        future: Future[Any] = Future()
        if self._thread is None:
            future.set_exception(StorageUnavailable("the database writer is not running"))
        else:
            self._queue.put(_Job(job, future))
        return future

    async def run_item(self, group: GroupJob[Item, T], item: Item) -> T:
        return await asyncio.wrap_future(self.submit_item(group, item))

    async def run(self, job: WriteJob[T]) -> T:
        return await asyncio.wrap_future(self.submit(job))

    def run_sync(self, job: WriteJob[T]) -> T:
        return self.submit(job).result()

    def _loop(self) -> None:
        committer = Committer(self.engine)
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                batch.append(job)
            # Marking each future running makes a later cancel() fail, rather than set_result()
            # raise InvalidStateError here and end this thread (and every write with it). One
            # cancelled before it started (its awaiting task was cancelled) is skipped.
            batch = [job for job in batch if job.future.set_running_or_notify_cancel()]
            if not batch:
                continue
            topics: set[str] = set()  # what the committed jobs asked to announce
            try:
                results = committer.commit([queued.job for queued in batch], topics)
            except DBAPIError as exc:
                # Whoever queued while this batch waited for the lock has waited too: answer
                # them now rather than let each wait a whole busy timeout again. Taken before
                # anyone hears of the failure, so a retry sent after it is tried afresh.
                queued_meanwhile, stop_seen = self._take_queued()
                stopping = stopping or stop_seen
                self._fail([*batch, *queued_meanwhile], exc)
                continue
            self.commits += 1
            self.record(None)
            self.announce(topics)
            for queued, (result, error) in zip(batch, results, strict=True):
                if error is None:
                    queued.future.set_result(result)
                else:
                    queued.future.set_exception(error)
        committer.close()

    def record(self, trouble: str | None) -> None:
        """How the last write ended (None: committed), for /healthz; the ingest process's too."""
        self.last_outcome = (time.monotonic(), trouble)

    def announce(self, topics: set[str]) -> None:
        """Call the subscribers of these topics: after a commit, here or in the ingest process."""
        with self._subscribers_lock:
            callbacks = [c for topic in topics for c in self._subscribers.get(topic, ())]
        for callback in callbacks:
            try:
                callback()
            except Exception:
                log.exception("after-commit callback failed")

    def _take_queued(self) -> tuple[list[_Job], bool]:
        """Every job waiting in the queue, and whether the stop sentinel was among them."""
        waiting: list[_Job] = []
        stop_seen = False
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                return waiting, stop_seen
            if job is None:
                stop_seen = True
            elif job.future.set_running_or_notify_cancel():
                waiting.append(job)

    def _fail(self, batch: list[_Job], exc: BaseException) -> None:
        error = StorageUnavailable(describe_storage_error(exc))
        self.record(str(error))
        for job in batch:
            job.future.set_exception(error)


class Committer:
    """A connection of its own, opened at first use and dropped when the database fails, with
    ``commit_batch`` on it: what the writer thread and the ingest process each run."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None

    def commit(self, batch: list[Job], topics: set[str]) -> list[tuple[Any, BaseException | None]]:
        """``commit_batch`` on the connection. Raises ``DBAPIError`` (logged; the connection is
        then dropped, the next batch opens another) when the database itself failed."""
        try:
            if self._connection is None:
                connection = self.engine.connect()
                self._connection = connection.execution_options(sqlite_immediate=True)
            return commit_batch(self._connection, batch, topics)
        except DBAPIError as exc:
            log.error("write of %d job(s) failed: %s", len(batch), describe_storage_error(exc))
            if self._connection is not None:
                self._connection.invalidate()
                self._connection = None
            raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def commit_batch(
    connection: Connection, batch: list[Job], topics: set[str]
) -> list[tuple[Any, BaseException | None]]:
    """Run the batch in one transaction and commit it: a (result, error) per job, in order.

    If one job fails, the batch is rolled back whole and rerun with a savepoint per job, so the
    failing one fails alone; jobs must therefore be safe to run again (they are pure database
    work on a transaction that never committed). What the committed jobs asked to announce joins
    ``topics``. Raises ``DBAPIError`` when the database itself is in trouble: nothing committed.
    """
    try:
        return _run_together(connection, batch, topics)
    except _OneJobFailed:
        topics.clear()
        with connection.begin():
            return [_run_one(connection, job, topics) for job in batch]


def _run_job(connection: Connection, job: Job, topics: set[str]) -> Any:
    """Run one job; what it asked to announce joins ``topics`` only if it returns."""
    return _asking(connection, topics, lambda: job.run(connection))


def _run_group(connection: Connection, jobs: list[Job], topics: set[str]) -> list[Any]:
    group = jobs[0].group
    assert group is not None
    results = _asking(
        connection, topics, lambda: list(group(connection, [job.item for job in jobs]))
    )
    if len(results) != len(jobs):
        raise TypeError(f"{group!r} gave {len(results)} results for {len(jobs)} items")
    return results


def _asking(connection: Connection, topics: set[str], work: Callable[[], T]) -> T:
    info = connection.info  # held: an invalidated connection would not give it back
    asked: set[str] = set()
    info[_ASKED] = asked
    try:
        result = work()
    finally:
        info.pop(_ASKED, None)
    topics |= asked
    return result


def _run_together(
    connection: Connection, batch: list[Job], topics: set[str]
) -> list[tuple[Any, BaseException | None]]:
    """The fast path: no savepoint per job, which costs two statements each."""
    with connection.begin():
        try:
            results: list[Any] = []
            for jobs in _runs(batch):
                if jobs[0].group is None:
                    results += [_run_job(connection, job, topics) for job in jobs]
                else:
                    results += _run_group(connection, jobs, topics)
            return [(result, None) for result in results]
        except Exception as exc:
            if isinstance(exc, OperationalError) and is_storage_trouble(exc):
                raise
            raise _OneJobFailed from exc


def _run_one(
    connection: Connection, job: Job, topics: set[str]
) -> tuple[Any, BaseException | None]:
    asked: set[str] = set()
    try:
        with connection.begin_nested():
            result = _run_job(connection, job, asked)
    except Exception as exc:
        if isinstance(exc, OperationalError) and is_storage_trouble(exc):
            raise  # the database itself is in trouble: the whole batch fails, callers get 503
        log.exception("write job failed")
        return None, exc
    topics |= asked  # only once its savepoint is released: its rows will be committed
    return result, None


def _runs(batch: list[Job]) -> list[list[Job]]:
    """The batch cut where the group changes: neighbours of one group run as one call."""
    runs: list[list[Job]] = []
    for job in batch:
        if runs and job.group is not None and runs[-1][0].group is job.group:
            runs[-1].append(job)
        else:
            runs.append([job])
    return runs
