"""Where the chat-log writer's jobs go: into the transaction at hand (a small body, stored and
parsed at once), or to the writer thread, a few in flight (a large one, in chunks).

Either way the jobs run in the order they were given, so a job may rely on the ones before it,
such as a chunk on its window having been opened.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection

from app.db import Database, WriteJob

PIPELINE_DEPTH = 2  # chunks queued at the writer while the next one is parsed
T = TypeVar("T")


class Jobs(Protocol):
    def submit(self, job: WriteJob[T], then: Callable[[T], None] | None = None) -> None:
        """Queue a job; ``then`` gets its value once it has run."""

    def run(self, job: WriteJob[T]) -> T:
        """Run a job after everything queued, and wait for it."""


class InTransaction:
    """Each job run at once on the connection given: all of them in its one transaction."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def submit(self, job: WriteJob[T], then: Callable[[T], None] | None = None) -> None:
        value = job(self.connection)
        if then is not None:
            then(value)

    def run(self, job: WriteJob[T]) -> T:
        return job(self.connection)


class WritePipeline:
    """Write jobs queued in order with a few in flight, so that parsing the next chunk (Python,
    holding the GIL) overlaps SQLite storing and indexing this one (C, releasing it). Each job
    is a short transaction of its own (or shares the writer's group commit)."""

    def __init__(self, db: Database, depth: int = PIPELINE_DEPTH) -> None:
        self.db, self.depth = db, depth
        self.waiting: deque[tuple[Future[Any], Callable[[Any], None] | None]] = deque()

    def submit(self, job: WriteJob[T], then: Callable[[T], None] | None = None) -> None:
        self.waiting.append((self.db.writer.submit(job), then))
        while len(self.waiting) > self.depth:
            self._settle()

    def run(self, job: WriteJob[T]) -> T:
        self.drain()
        return self.db.writer.run_sync(job)

    def drain(self) -> None:
        while self.waiting:
            self._settle()

    def _settle(self) -> None:
        future, then = self.waiting.popleft()
        value = future.result()  # a failed job fails the whole run: it is retried later
        if then is not None:
            then(value)
