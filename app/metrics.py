"""``GET /metrics`` in the Prometheus text format (through ``prometheus_client``), behind
``METRICS_TOKEN`` or ``API_TOKEN`` as a Bearer token.

The figures are read from the database when Prometheus scrapes, not counted as things happen:
the webhook's hot path does no extra work, and the counters survive restarts. Tables that only
grow (deliveries, leads, messages) are counted once and then only past the highest id seen, by
primary key, so a scrape at 1M leads reads the new rows only. The one figure counted as it
happens is the webhook's answers by HTTP status: refusals beyond the refusal log's rate
(``REFUSAL_LOG_PER_MINUTE``) are answered but not stored, and a flood is exactly when they count.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections import Counter as Tally
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Connection, func, select, text
from sqlmodel import col
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from app import __version__
from app.config import Settings
from app.db import Database
from app.models import (
    Chatbot,
    Delivery,
    Lead,
    Message,
    NotifyOutbox,
    Outcome,
    ProcessStatus,
    RowStatus,
    utcnow,
)

PATH = "/metrics"
PREFIX = "hello_client_inbox"
ACTIVE_CHATBOT_DAYS = 7
# A refusal's reason, by the status it was answered with (the stored text names addresses).
REASONS = {
    400: "bad_request",
    401: "signature",
    403: "ip_not_allowed",
    413: "too_large",
    429: "rate_limited",
    503: "unavailable",
}
Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class _Running:
    """A table's running counts: everything up to ``last_id`` has been added to ``counts``."""

    last_id: int = 0
    counts: Tally[tuple[str, ...]] = field(default_factory=Tally)


class InboxCollector(Collector):
    """Reads every figure from the database at scrape time (``collect``)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.Lock()  # two scrapes at once must not add the same rows twice
        self.deliveries = _Running()
        self.leads = _Running()
        self.messages = _Running()

    def collect(self) -> Iterator[Metric]:
        with self.lock, self.db.read() as connection:
            yield from self._deliveries(connection)
            yield from self._records(connection)
            yield from self._processing(connection)
            yield from self._notifications(connection)
            yield from self._health(connection)

    def _deliveries(self, connection: Connection) -> Iterator[Metric]:
        outcome, code = col(Delivery.outcome), col(Delivery.status_code)
        _advance(connection, self.deliveries, col(Delivery.id), (outcome, code))
        outcomes = CounterMetricFamily(
            f"{PREFIX}_deliveries",
            "Webhook deliveries stored, by outcome when they arrived (refused: logged only).",
            labels=["outcome"],
        )
        refusals = CounterMetricFamily(
            f"{PREFIX}_refusals",
            "Deliveries refused (quarantined or logged), by reason; the log keeps "
            "at most REFUSAL_LOG_PER_MINUTE a minute.",
            labels=["reason"],
        )
        by_outcome: Tally[str] = Tally()
        by_reason: Tally[str] = Tally({reason: 0 for reason in REASONS.values()})
        for (kind, status), count in self.deliveries.counts.items():
            shown = "refused" if kind == Outcome.REJECTED else kind
            by_outcome[shown] += count
            if kind in (Outcome.REJECTED, Outcome.QUARANTINED):
                by_reason[REASONS.get(int(status), "other")] += count
        for kind in ("accepted", "duplicate", "quarantined", "refused"):
            outcomes.add_metric([kind], by_outcome[kind])
        for reason, count in sorted(by_reason.items()):
            refusals.add_metric([reason], count)
        yield outcomes
        yield refusals

    def _records(self, connection: Connection) -> Iterator[Metric]:
        kind = func.lower(col(Lead.type))
        _advance(connection, self.leads, col(Lead.id), (kind,))
        records = CounterMetricFamily(
            f"{PREFIX}_records_received",
            "Leads, appointments and other records received.",
            labels=["kind"],
        )
        by_kind: Tally[str] = Tally({"lead": 0, "appointment": 0, "other": 0})
        for (name,), count in self.leads.counts.items():
            by_kind[name if name in ("lead", "appointment") else "other"] += count
        for name, count in sorted(by_kind.items()):
            records.add_metric([name], count)
        yield records
        _advance(connection, self.messages, col(Message.id), ())
        yield CounterMetricFamily(
            f"{PREFIX}_chat_messages_stored",
            "Chat-log messages written (a re-sent conversation's messages count again).",
            value=self.messages.counts[()],
        )

    def _processing(self, connection: Connection) -> Iterator[Metric]:
        status = col(Delivery.process_status)
        pending = connection.execute(
            select(func.count(), func.min(col(Delivery.committed_at))).where(
                status == ProcessStatus.PENDING
            )
        ).one()
        failed = connection.execute(select(func.count()).where(status == ProcessStatus.FAILED))
        oldest = pending[1]
        lag = 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())
        yield _gauge("processing_queue_depth", "Deliveries waiting for processing.", pending[0])
        yield _gauge("processing_lag_seconds", "Age of the oldest waiting delivery.", lag)
        yield _gauge("processing_failed", "Deliveries whose processing failed.", failed.scalar())

    def _notifications(self, connection: Connection) -> Iterator[Metric]:
        counts = {
            state: int(
                connection.execute(
                    select(func.count()).where(col(NotifyOutbox.status) == state)
                ).scalar()
                or 0
            )
            for state in (RowStatus.PENDING, RowStatus.SENT, RowStatus.SUMMARISED, RowStatus.FAILED)
        }
        outcomes = CounterMetricFamily(
            f"{PREFIX}_notifications",
            "Notifications by outcome (sent alone, sent in a summary, given up).",
            labels=["outcome"],
        )
        for state in (RowStatus.SENT, RowStatus.SUMMARISED, RowStatus.FAILED):
            outcomes.add_metric([state], counts[state])
        yield outcomes
        yield _gauge(
            "notification_queue_depth", "Notifications waiting to be sent.", counts["pending"]
        )

    def _health(self, connection: Connection) -> Iterator[Metric]:
        quarantined = connection.execute(
            select(func.count(), func.coalesce(func.sum(col(Delivery.body_size)), 0)).where(
                col(Delivery.outcome) == Outcome.QUARANTINED
            )
        ).one()
        yield _gauge("quarantine_deliveries", "Deliveries in the quarantine.", quarantined[0])
        yield _gauge("quarantine_bytes", "Bytes of bodies in the quarantine.", quarantined[1])
        # Newest by id through the outcome index: max(received_at) would read every row.
        last = connection.execute(
            select(col(Delivery.received_at))
            .where(col(Delivery.outcome) == Outcome.ACCEPTED)
            .order_by(col(Delivery.id).desc())
            .limit(1)
        ).scalar()
        yield _gauge(
            "last_verified_delivery_timestamp_seconds",
            "When the newest verified delivery arrived (Unix time; 0: never).",
            0 if last is None else last.timestamp(),
        )
        since = utcnow() - timedelta(days=ACTIVE_CHATBOT_DAYS)
        active = connection.execute(
            select(func.count()).where(col(Chatbot.last_seen_at) >= since)
        ).scalar()
        yield _gauge("chatbots_active", "Chatbots heard from in the last 7 days.", active)
        yield _gauge("database_size_bytes", "Size of the database.", database_size(connection))
        info = GaugeMetricFamily(f"{PREFIX}_info", "This inbox's version.", labels=["version"])
        info.add_metric([__version__], 1)
        yield info


def _advance(connection: Connection, running: _Running, key: Any, groups: tuple[Any, ...]) -> None:
    """Add the rows past ``running.last_id`` to its counts, grouped by ``groups``."""
    newest = int(connection.execute(select(func.max(key))).scalar() or 0)
    if newest <= running.last_id:
        return
    window = (key > running.last_id, key <= newest)
    rows = connection.execute(select(*groups, func.count()).where(*window).group_by(*groups))
    for *values, count in rows:
        running.counts[tuple(str(value) for value in values)] += int(count)
    running.last_id = newest


def _gauge(name: str, documentation: str, value: Any) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", documentation, value=float(value or 0))


def database_size(connection: Connection) -> int:
    if connection.dialect.name == "postgresql":
        size = connection.execute(text("SELECT pg_database_size(current_database())")).scalar()
        return int(size or 0)
    pages = connection.exec_driver_sql("PRAGMA page_count").scalar() or 0
    size = connection.exec_driver_sql("PRAGMA page_size").scalar() or 0
    wal = 0
    name = connection.engine.url.database
    if name and os.path.exists(f"{name}-wal"):
        wal = os.path.getsize(f"{name}-wal")
    return int(pages) * int(size) + wal


class Metrics:
    """The registry behind ``/metrics``, and the one counter kept as things happen."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.tokens = [t.encode() for t in (settings.metrics_token, settings.api_token) if t]
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(InboxCollector(db))
        ProcessCollector(registry=self.registry)  # memory, CPU, open files of this process
        self.answers = Counter(
            f"{PREFIX}_webhook_answers",
            "Answers given by POST /webhook since this process started, by HTTP status.",
            ["code"],
            registry=self.registry,
        )

    def count_answers(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint`` (the webhook), counting its answers: one increment, no I/O."""

        async def counted(request: Request) -> Response:
            response = await endpoint(request)
            self.answers.labels(str(response.status_code)).inc()
            return response

        return counted

    def allowed(self, connection: HTTPConnection) -> bool:
        scheme, _, token = connection.headers.get("authorization", "").partition(" ")
        given = token.strip().encode()
        return scheme.lower() == "bearer" and any(
            hmac.compare_digest(given, expected) for expected in self.tokens
        )

    async def answer(self, connection: HTTPConnection) -> Response:
        if not self.tokens:
            return _refuse("metrics are off: set METRICS_TOKEN (or API_TOKEN) to turn them on")
        if not self.allowed(connection):
            return _refuse("missing or wrong Authorization: Bearer token")
        if connection.scope.get("method") not in ("GET", "HEAD"):
            return JSONResponse({"status": "error", "error": "GET only"}, 405)
        body = await run_in_threadpool(generate_latest, self.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)


def _refuse(reason: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="hello-client-inbox-metrics"'}
    return JSONResponse({"status": "error", "error": reason}, 401, headers=headers)


class MetricsEndpoint:
    """Answers ``/metrics`` before the web UI's sign-in (a scraper has a token, not a session)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH:
            response = await self.metrics.answer(HTTPConnection(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
