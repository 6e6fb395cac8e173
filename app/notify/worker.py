"""The thread that empties the outbox, in the server process, off the webhook's request path.

It wakes after the commit that holds new rows (the writer announces ``outbox.NEW_ROWS``), when
the service asks (a target fixed, "retry now"), when a send finishes, on each target's retry
time and every NOTIFY_POLL_SECONDS (chat-log pushes, expiry, APPRISE_CONFIG changes). Each
target's rows go out in order from one small pool, one target at a time per thread, so a slow
or hanging service never delays the others. All state changes are writer jobs.

Storms: each target receives at most NOTIFY_RATE_LIMIT notifications in any
NOTIFY_RATE_WINDOW_SECONDS. When more lead rows are due for a target than its remaining allowance,
they are folded into one summary notification and all marked ``summarised``.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from typing import Any

from app.config import Settings
from app.db import Database
from app.live_settings import LiveSettings
from app.models import NotifyOutbox, RowStatus, utcnow
from app.notify import outbox
from app.notify.render import Renderer, chatlog_context, lead_context, summary_context
from app.notify.send import send
from app.notify.targets import Target, TargetRegistry
from app.outbox_worker import ERROR_PAUSE_SECONDS, OutboxWorker, expire
from app.ratelimit import RateLimit

log = logging.getLogger(__name__)

SEND_THREADS = 4


class NotifyWorker(OutboxWorker):
    """Sends what the outbox holds, to the targets of ``registry`` (shared with the service, so
    both see one instance, and one lock, per target)."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        registry: TargetRegistry,
        live: LiveSettings | None = None,
    ) -> None:
        super().__init__(
            db,
            name="notify",
            label="notifications",
            topic=outbox.NEW_ROWS,
            send_threads=SEND_THREADS,
            log=log,
        )
        self.live = live or LiveSettings(settings)
        self.registry = registry
        self.limiter = RateLimit(settings.notify_rate_limit, settings.notify_rate_window_seconds)
        self._last_poll = float("-inf")

    @property
    def settings(self) -> Settings:
        """In force now: BASE_URL and TZ entered in the browser apply from the next pass."""
        return self.live.current

    def _prepare(self) -> None:
        self.sync_config()

    def sync_config(self) -> None:
        """Give each APPRISE_URLS/APPRISE_CONFIG target its row (at start, and on a change)."""
        targets, now = list(self.registry.config.targets), utcnow()
        self.db.writer.run_sync(lambda c: outbox.sync_config_targets(c, targets, now))

    def _pass(self) -> float:
        settings = self.settings
        now = utcnow()
        polled = time.monotonic() - self._last_poll >= settings.notify_poll_seconds
        if polled:
            self._last_poll = time.monotonic()
            self._poll(now)
        waits = [self._last_poll + settings.notify_poll_seconds - time.monotonic()]
        # Targets busy before the read below may finish meanwhile; their rows as read would be
        # stale (already sent), so they wait for the next pass, which their finishing triggers.
        with self._lock:
            busy = set(self._inflight)
        with self.db.read() as connection:  # one read: rows committed after it wake the next pass
            usable = {key: t for key, t in self.registry.current(connection).items() if t.usable}
            due = outbox.due_rows(connection, now, usable)
            renderer = Renderer.load(connection, settings) if due else None
            upcoming = outbox.next_due(connection, usable, after=now)
        for key, rows in due.items():
            with self._lock:
                if key in busy or key in self._inflight:
                    continue  # its current batch wakes us when it ends
                budget = self.limiter.available(key)
                if budget <= 0:
                    waits.append(self.limiter.seconds_until_free(key))
                    continue
                self._inflight.add(key)
            assert self._pool is not None and renderer is not None
            self._pool.submit(self._deliver, usable[key], rows, budget, renderer)
        if upcoming is not None:
            waits.append((upcoming - utcnow()).total_seconds())
        self._count_pass(quiet=polled and not due and not busy)
        return min(waits)

    def _poll(self, now: datetime) -> None:
        """What no commit announces: config file changes, chat-log pushes, rows past their time."""
        if self.registry.reload_config_if_changed():
            self.sync_config()
        max_age, hours = outbox.max_age(self.settings), self.settings.notify_retry_max_hours
        writer = self.db.writer
        writer.run_sync(lambda c: outbox.enqueue_chatlogs(c, now, max_age))
        given_up = writer.run_sync(lambda c: expire(c, NotifyOutbox, now, max_age, hours))
        if given_up:
            log.warning("notifications: gave up on %d row(s) after %g h", given_up, hours)

    def _plan(
        self, rows: list[Any], budget: int
    ) -> list[tuple[str, dict[str, Any] | None, list[int], str, int | None]]:
        """(kind, context, row ids, status on success, chat-log delivery id) per send."""
        settings = self.settings
        leads = [row for row in rows if row["row_kind"] != "chatlog"]
        plan: list[tuple[str, dict[str, Any] | None, list[int], str, int | None]] = []
        if len(leads) > budget:
            items = [lead_context(row, row["chatbot_name"] or "", settings) for row in leads]
            context = summary_context(items, settings)
            ids = [row["row_id"] for row in leads]
            plan.append(("summary", context, ids, RowStatus.SUMMARISED, None))
        else:
            for row in leads:
                context = lead_context(row, row["chatbot_name"] or "", settings)
                plan.append((context["kind"], context, [row["row_id"]], RowStatus.SENT, None))
        for row in rows:
            if row["row_kind"] == "chatlog":
                plan.append(
                    ("chatlog", None, [row["row_id"]], RowStatus.SENT, row["row_delivery_id"])
                )
        return plan

    def _deliver(self, target: Target, rows: list[Any], budget: int, renderer: Renderer) -> None:
        try:
            for kind, context, ids, status, delivery_id in self._plan(rows, budget):
                if self._stop.is_set() or not self.limiter.take(target.key):
                    break
                if context is None and delivery_id is not None:
                    with self.db.read() as connection:
                        windows = outbox.chat_windows(connection, delivery_id)
                    context = chatlog_context(windows, self.settings)
                assert context is not None
                if not self._send_one(target, renderer, kind, context, ids, status):
                    break
        except Exception:
            log.exception("notifications to %s failed unexpectedly", target.url_masked)
            self._stop.wait(ERROR_PAUSE_SECONDS)
        finally:
            with self._lock:
                self._inflight.discard(target.key)
            self.wake()

    def _send_one(
        self,
        target: Target,
        renderer: Renderer,
        kind: str,
        context: dict[str, Any],
        ids: list[int],
        status: str,
    ) -> bool:
        settings, key = self.settings, target.key
        result = send(target, renderer.render(kind, context, target.plugin))
        now = utcnow()
        if result.ok:
            self.db.writer.run_sync(lambda c: outbox.record_success(c, key, ids, status, now))
            if kind == "summary":
                log.info(
                    "notifications: one summary of %d records to %s", len(ids), target.url_masked
                )
            return True
        error = result.error or "failed"
        retry_at = self.db.writer.run_sync(
            lambda c: outbox.record_failure(
                c,
                key,
                ids,
                error,
                now,
                first=settings.notify_retry_first_seconds,
                cap=settings.notify_retry_cap_seconds,
            )
        )
        log.warning(
            "notification to %s failed (%s); next try %s",
            target.url_masked,
            error,
            retry_at.isoformat(timespec="seconds"),
        )
        return False
