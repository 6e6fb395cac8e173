"""/healthz on an idle inbox: with no delivery to fail, its own probe finds a database locked past
DATABASE_BUSY_TIMEOUT_SECONDS (503, "locked", each answer within the container check's 4 s
timeout even when the lock wait is longer) and its release (200); and polling it hard costs at
most one tiny write every few seconds. The full disk is in ``test_reliability_disk.py``, a lock
that makes deliveries fail in ``test_reliability_busy.py``."""

from __future__ import annotations

import time

import httpx
from conftest import MakeApp
from healthz_polling import CHECK_TIMEOUT, healthz, wait_for_health
from locks import LockHolder

from app.health import FRESH_SECONDS, PROBE_WAIT_SECONDS

BUSY_TIMEOUT = PROBE_WAIT_SECONDS + 1  # longer than /healthz waits for its probe


def probes(app: object) -> int:
    """The probe counts itself in SQLite's user_version header field."""
    return int(app.scalar("PRAGMA user_version"))  # type: ignore[attr-defined]


def test_an_idle_inbox_locked_past_the_timeout_is_503_until_released(make_app: MakeApp) -> None:
    app = make_app(DATABASE_BUSY_TIMEOUT_SECONDS=str(BUSY_TIMEOUT))
    assert healthz(app).status_code == 200
    holder = LockHolder(app.db_path)
    try:
        # Within one FRESH_SECONDS, a probe, and the lock wait: then the probe's failure shows.
        bound = FRESH_SECONDS + BUSY_TIMEOUT + PROBE_WAIT_SECONDS + 5
        error = wait_for_health(app, 503, timeout=bound).json()["error"]
        assert "locked" in error, error
        holder.release()
    finally:
        holder.kill()
    wait_for_health(app, 200, timeout=FRESH_SECONDS + PROBE_WAIT_SECONDS + 5)
    assert app.scalar("SELECT count(*) FROM delivery") == 0  # the probe saw it all, alone


def test_polling_hard_costs_at_most_one_probe_every_few_seconds(make_app: MakeApp) -> None:
    """A load balancer polling as fast as it can, on an idle inbox, for a little longer than
    FRESH_SECONDS: at least one probe (the record goes stale), never more than one per
    FRESH_SECONDS, every answer 200."""
    app = make_app()
    first = probes(app)
    answers: list[int] = []
    started = time.monotonic()
    with httpx.Client(base_url=app.url, timeout=CHECK_TIMEOUT) as client:
        while (elapsed := time.monotonic() - started) < FRESH_SECONDS + 1.5:
            answers.append(client.get("/healthz").status_code)
    made = probes(app) - first
    assert answers == [200] * len(answers)
    assert 1 <= made <= elapsed / FRESH_SECONDS + 1, (made, elapsed, len(answers))
