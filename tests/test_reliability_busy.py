"""Busy database: while another process holds SQLite's write lock, the webhook waits a bounded
time (DATABASE_BUSY_TIMEOUT_SECONDS), answers 503 (never success), writes nothing partial, keeps
serving reads, waits out a shorter lock, and takes every delivery again once it is released."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from conftest import AppProcess
from reliability import (
    SUCCESS_ANSWER,
    Event,
    assert_intact,
    assert_stored_exactly_once,
    attempt,
    make_event,
)
from vendor import HelloClientFake

BUSY_TIMEOUT = 1.0
CONCURRENT = 4
# A batch already waiting when a request arrives, then the request's own batch: two timeouts.
WAIT_BOUND = 2 * BUSY_TIMEOUT + 1.5
SHORT_LOCK = 0.3  # well inside the timeout: to be waited out, not failed

HOLDER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("COMMIT")
print("released", flush=True)
"""


class LockHolder:
    """Another process (a backup script, a sqlite3 shell) holding the write lock until told."""

    def __init__(self, db_path: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(db_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline() == "locked\n"

    def release(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline() == "released\n"
        assert self.proc.wait(10) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def timed(vendor: HelloClientFake, event: Event) -> tuple[str, float]:
    started = time.monotonic()
    answer = attempt(vendor, event)
    event.answers.append(answer)
    return answer, time.monotonic() - started


def test_a_write_lock_held_elsewhere_is_waited_for_a_bounded_time_then_503(
    make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    app = make_app(DATABASE_BUSY_TIMEOUT_SECONDS=str(BUSY_TIMEOUT))
    vendor = vendor_for(app)
    events = [make_event(vendor, 9_000 + n, f"Busy{n}") for n in range(10)]
    before, refused, waited, after = events[0], events[1 : 1 + CONCURRENT], events[5], events[6:]
    assert timed(vendor, before)[0] == SUCCESS_ANSWER

    holder = LockHolder(app.db_path)
    try:
        with ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(lambda event: timed(vendor, event), refused))
        for answer, elapsed in results:
            assert answer.startswith("http 503") and "locked" in answer, answer
            assert BUSY_TIMEOUT * 0.9 <= elapsed <= WAIT_BOUND, (elapsed, results)
        # WAL readers do not need the write lock: the inbox stays readable meanwhile.
        assert httpx.get(f"{app.url}/healthz", timeout=10).status_code == 200
        assert_stored_exactly_once(app, [before, *refused], failures_left_nothing=True)

        # A lock released within the timeout is waited out: success, not 503.
        release = threading.Timer(SHORT_LOCK, holder.release)
        release.start()
        answer, elapsed = timed(vendor, waited)
        release.join()
        assert answer == SUCCESS_ANSWER
        assert SHORT_LOCK * 0.9 <= elapsed <= WAIT_BOUND, elapsed
    finally:
        holder.kill()
    assert holder.proc.returncode == 0, "the lock was never released by its holder"

    for event in [*refused, *after]:  # the vendor's retries, then new events
        assert timed(vendor, event)[0] == SUCCESS_ANSWER
    assert_intact(app)
    assert_stored_exactly_once(app, events, failures_left_nothing=True)
    assert app.scalar("SELECT count(*) FROM delivery") == len(events)  # nothing logged twice
