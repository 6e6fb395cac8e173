"""The thread that empties the forwarding outbox, in the server process, off the request path.

It wakes after the commit that holds new rows (the writer announces ``outbox.NEW_ROWS``), when
the service asks (a destination fixed, "retry now", "replay"), when a destination's batch ends,
on each destination's retry time and every FORWARD_POLL_SECONDS (expiry, the attempt log's
bound). Each destination's rows go out in order, one destination per pool thread at a time, so
a slow or dead destination holds up neither the others nor the notifications (their own worker).
All state changes are writer jobs; secrets never reach the log (``Destination.scrub``).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from app.config import Settings
from app.db import Database
from app.forward import outbox, upkeep
from app.forward.destinations import Destination, EnvDestinations, current
from app.forward.payload import RecordGone, lead_body, window_body
from app.forward.signing import signed_headers
from app.forward.transport import Answer, post
from app.live_settings import LiveSettings
from app.models import ForwardOutbox, utcnow
from app.outbox_worker import ERROR_PAUSE_SECONDS, OutboxWorker, expire

log = logging.getLogger(__name__)

SEND_THREADS = 16  # destinations served at once; a dead one holds one thread a timeout long
EXCERPT_CHARS = 1000


def body_of(db: Database, row: Any) -> bytes:
    with db.read() as connection:
        if row.lead_id is not None:
            return lead_body(connection, row.lead_id)
        return window_body(connection, row.window_serial, row.window_start_raw, row.window_end_raw)


def attempt_values(
    destination: Destination, row_id: int | None, message_id: str, answer: Answer, now: datetime
) -> dict[str, Any]:
    """A ``forward_attempt`` row: what the answer was, scrubbed of the destination's secrets."""
    return {
        "outbox_id": row_id,
        "destination_key": destination.key,
        "attempted_at": now,
        "webhook_id": message_id,
        "status_code": answer.status,
        "latency_ms": round(answer.elapsed * 1000),
        "ok": answer.ok,
        "error": destination.scrub(answer.error) if answer.error else None,
        "response_excerpt": destination.scrub(answer.excerpt[:EXCERPT_CHARS]) or None,
    }


def send(destination: Destination, message_id: str, body: bytes, settings: Settings) -> Answer:
    assert destination.secret is not None
    headers = {**destination.headers, **signed_headers(destination.secret, message_id, body)}
    return post(destination.url, body, headers, settings)


class ForwardWorker(OutboxWorker):
    def __init__(
        self,
        settings: Settings,
        db: Database,
        env: EnvDestinations,
        live: LiveSettings | None = None,
    ) -> None:
        super().__init__(
            db,
            name="forward",
            label="forwarding",
            topic=outbox.NEW_ROWS,
            send_threads=SEND_THREADS,
            log=log,
        )
        self.live = live or LiveSettings(settings)
        self.env = env
        self._last_poll = float("-inf")

    @property
    def settings(self) -> Settings:
        """In force now: what Settings in the browser saved applies from the next pass."""
        return self.live.current

    def _prepare(self) -> None:
        destinations, now = list(self.env.destinations), utcnow()
        self.db.writer.run_sync(lambda c: upkeep.sync_env_destinations(c, destinations, now))
        for problem in self.env.problems:
            log.error("forwarding: %s", problem)

    def _pass(self) -> float:
        poll = self.settings.forward_poll_seconds
        now = utcnow()
        polled = time.monotonic() - self._last_poll >= poll
        if polled:
            self._last_poll = time.monotonic()
            self._poll(now)
        waits = [self._last_poll + poll - time.monotonic()]
        # A batch under way before the read below has rows the read may show stale (sent
        # meanwhile): they wait for the next pass, which that batch's end triggers.
        with self._lock:
            busy = set(self._inflight)
        with self.db.read() as connection:  # one read: rows committed after it wake the next pass
            usable = {
                key: d
                for key, d in current(connection, self.env, self.settings).items()
                if d.usable
            }
            due = outbox.due_rows(connection, now, usable)
            upcoming = outbox.next_due(connection, usable, after=now)
        for key, rows in due.items():
            with self._lock:
                if key in busy or key in self._inflight:
                    continue
                self._inflight.add(key)
            assert self._pool is not None
            self._pool.submit(self._deliver, usable[key], rows)
        if upcoming is not None:
            waits.append((upcoming - utcnow()).total_seconds())
        self._count_pass(quiet=polled and not due and not busy)
        return min(waits)

    def _poll(self, now: datetime) -> None:
        max_age, hours = outbox.max_age(self.settings), self.settings.forward_retry_max_hours
        given_up = self.db.writer.run_sync(lambda c: expire(c, ForwardOutbox, now, max_age, hours))
        if given_up:
            log.warning("forwarding: gave up on %d record(s) after %g h", given_up, hours)
        self.db.writer.run_sync(upkeep.prune_attempts)

    def _deliver(self, destination: Destination, rows: list[Any]) -> None:
        try:
            for row in rows:
                if self._stop.is_set() or not self._send_one(destination, row):
                    break
        except Exception:
            log.exception("forwarding to %s failed unexpectedly", destination.url_masked)
            self._stop.wait(ERROR_PAUSE_SECONDS)
        finally:
            with self._lock:
                self._inflight.discard(destination.key)
            self.wake()

    def _send_one(self, destination: Destination, row: Any) -> bool:
        """One row; False when the destination failed (its other rows wait for the retry)."""
        key, settings = destination.key, self.settings
        try:
            body = body_of(self.db, row)
        except RecordGone as exc:
            reason = str(exc)
            self.db.writer.run_sync(lambda c: upkeep.give_up(c, row.id, reason))
            return True
        message_id = outbox.webhook_id(row.message_id, row.replays)
        answer = send(destination, message_id, body, settings)
        now = utcnow()
        attempt = attempt_values(destination, row.id, message_id, answer, now)
        if answer.ok:
            self.db.writer.run_sync(lambda c: outbox.record_success(c, key, row.id, attempt, now))
            return True
        if answer.gone:
            self.db.writer.run_sync(lambda c: outbox.record_gone(c, key, row.id, attempt, now))
            log.warning("forwarding: %s answered 410 Gone; disabled", destination.url_masked)
            return False
        retry_at = self.db.writer.run_sync(
            lambda c: outbox.record_failure(
                c,
                key,
                row.id,
                attempt,
                now,
                first=settings.forward_retry_first_seconds,
                cap=settings.forward_retry_cap_seconds,
            )
        )
        log.warning(
            "forwarding to %s failed (%s); next try %s",
            destination.url_masked,
            attempt["error"],
            retry_at.isoformat(timespec="seconds"),
        )
        return False
