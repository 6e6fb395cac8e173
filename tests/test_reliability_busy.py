"""Busy database: while another process holds SQLite's write lock, the webhook waits a bounded
time (DATABASE_BUSY_TIMEOUT_SECONDS), answers 503 (never success), writes nothing partial, keeps
serving reads, waits out a shorter lock, and takes every delivery again once it is released;
/healthz says "locked" (503) while deliveries fail so, and 200 again after."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import API_TOKEN, AppProcess
from healthz_polling import healthz
from locks import LockHolder
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
API_AUTH = {"Authorization": f"Bearer {API_TOKEN}"}


def timed(vendor: HelloClientFake, event: Event) -> tuple[str, float]:
    started = time.monotonic()
    answer = attempt(vendor, event)
    event.answers.append(answer)
    return answer, time.monotonic() - started


def test_a_write_lock_held_elsewhere_is_waited_for_a_bounded_time_then_503(
    make_app: Callable[..., AppProcess], vendor_for: Callable[[AppProcess], HelloClientFake]
) -> None:
    app = make_app(DATABASE_BUSY_TIMEOUT_SECONDS=str(BUSY_TIMEOUT), API_TOKEN=API_TOKEN)
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
        # The writer's own record answers at once: no probe has to wait for the lock again.
        unhealthy = healthz(app)
        assert unhealthy.status_code == 503 and "locked" in unhealthy.json()["error"]
        # WAL readers do not need the write lock: the inbox stays readable meanwhile.
        leads = httpx.get(f"{app.url}/api/leads", headers=API_AUTH, timeout=10)
        assert leads.status_code == 200 and len(leads.json()["leads"]) == 1, leads.text
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
    assert healthz(app).status_code == 200
    assert_intact(app)
    assert_stored_exactly_once(app, events, failures_left_nothing=True)
    assert app.scalar("SELECT count(*) FROM delivery") == len(events)  # nothing logged twice
