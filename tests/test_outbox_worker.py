"""The outbox workers' wakes (app.outbox_worker): under a stream of commits a worker runs a pass
per PASS_GAP_SECONDS, not one per commit, and a lone lead is still sent at once.

Real database file, real writer, the real notification worker and real Apprise to a local
endpoint; each lead is stored through ``app.ingest.records.store_lead`` in a commit of its own,
exactly as the webhook's writer commits them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import JsonSink, eventually
from sqlalchemy import text

from app import shapes
from app.config import load_settings
from app.db import Database
from app.ingest import records
from app.models import utcnow
from app.notify.targets import TargetRegistry
from app.notify.worker import NotifyWorker
from app.outbox_worker import PASS_GAP_SECONDS

Start = Callable[[str], NotifyWorker]


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Start]:
    running: list[NotifyWorker] = []

    def start(url: str) -> NotifyWorker:
        # Polls a minute apart: every pass counted below is one a commit (or a send) asked for.
        env = {"DATA_DIR": str(tmp_path), "APPRISE_URLS": url, "NOTIFY_POLL_SECONDS": "60"}
        settings = load_settings(env)
        db = Database(settings)
        db.open()
        worker = NotifyWorker(settings, db, TargetRegistry(settings))
        worker.start()
        running.append(worker)
        eventually(lambda: worker.passes >= 1)  # the first pass (it polls) is behind us
        return worker

    yield start
    for worker in running:
        worker.stop()
        worker.db.close()


def store_lead(db: Database, session_id: int) -> None:
    values = shapes.lead_values({**shapes.sample_lead("Lead"), "SessionID": session_id})
    db.writer.run_sync(lambda c: records.store_lead(c, values, delivery_id=None, now=utcnow()))


def test_a_stream_of_commits_gets_a_pass_per_gap_not_one_per_commit(
    start_worker: Start,
) -> None:
    worker = start_worker("json://127.0.0.1:9/")  # nothing listens: the target backs off
    store_lead(worker.db, 0)
    eventually(lambda: worker.passes >= 2)  # it tried, failed: the rows now wait for the retry
    passes, started = worker.passes, time.monotonic()
    for session_id in range(1, 151):
        store_lead(worker.db, session_id)  # each its own commit, each announcing new rows
    elapsed = time.monotonic() - started
    taken = worker.passes - passes
    assert taken <= elapsed / PASS_GAP_SECONDS + 2, (taken, elapsed)
    with worker.db.read() as connection:
        queued = connection.execute(text("SELECT count(*) FROM notify_outbox")).scalar()
    assert queued == 151  # coalesced wakes, not lost rows


def test_a_lone_lead_after_a_quiet_moment_is_sent_at_once(
    start_worker: Start, json_sink: JsonSink
) -> None:
    worker = start_worker(json_sink.url("/now"))
    store_lead(worker.db, 1)
    json_sink.wait(1, "/now", timeout=10)  # the first send loads Apprise's plugin: not timed
    passes = worker.passes
    eventually(lambda: worker.passes > passes)  # the pass its send's end asked for
    started = time.monotonic()
    store_lead(worker.db, 2)
    json_sink.wait(2, "/now", timeout=10)
    assert time.monotonic() - started < 1.0
