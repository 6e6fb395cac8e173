"""The ASGI application: routes, and the lifespan that owns the database and workers."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import __version__, logs
from app.config import Settings
from app.db import Database
from app.fastpath import WebhookFastPath
from app.forward.destinations import load_env as load_forward_destinations
from app.forward.service import ForwardService
from app.forward.worker import ForwardWorker
from app.health import Health
from app.ingest.processor import Processor
from app.ingest_process import IngestProcess
from app.live_settings import LiveSettings
from app.metrics import Metrics, MetricsEndpoint
from app.notify.service import NotifyService
from app.notify.targets import TargetRegistry
from app.notify.worker import NotifyWorker
from app.recheck import recheck_quarantine
from app.web.security import HEADERS as SECURITY_HEADERS
from app.web.ui import WebUI
from app.webhook import Webhook

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    db = Database(settings)
    processor = Processor(db)
    # The settings in force: the environment's, and what Settings in the browser saved (read in
    # the lifespan, once migrated). Adding a Sign Key re-checks the quarantine with it.
    live = LiveSettings(
        settings,
        recheck=lambda d, now: recheck_quarantine(d, now, lambda _: processor.wake()),
    )
    # Started by `python -m app` before the server (a fork); the writer thread stores otherwise.
    ingest = IngestProcess(db)
    webhook = Webhook(live, db, ingest.store, on_pending=processor.wake)
    targets = TargetRegistry(settings)  # one plugin instance (and lock) per target for both
    notify_worker = NotifyWorker(settings, db, targets, live)
    # The API behind Settings -> Notifications; it wakes the worker when rows are due now.
    notify = NotifyService(settings, db, targets, wake=notify_worker.wake, live=live)
    forwarding = load_forward_destinations(settings)  # FORWARD_URLS, read once
    forward_worker = ForwardWorker(settings, db, forwarding, live)
    forward = ForwardService(settings, db, forwarding, wake=forward_worker.wake)
    web = WebUI(settings, db, processor, live)
    health = Health(db)
    metrics = Metrics(settings, db)  # GET /metrics, read from the database when scraped

    async def healthz(request: Request) -> JSONResponse:
        # 503 when the database cannot take a write, so the container's health shows what
        # every delivery would meet; cheap enough to poll each second (see app.health).
        trouble = await health.trouble()
        if trouble is not None:
            return JSONResponse({"status": "error", "error": trouble}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    async def recheck_at_start() -> None:
        try:
            await live.recheck(db)
        except Exception:  # the deliveries stay quarantined; the button or the CLI can retry
            log.exception("re-check of the quarantine at start failed")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(db.open)
        await run_in_threadpool(live.reload, db)
        await ingest.connect()
        processor.start()
        await run_in_threadpool(notify_worker.start)
        await run_in_threadpool(forward_worker.start)
        await web.start()
        announce(live.current, web.setup_code, keys_from_environment=bool(settings.signing_keys))
        # What start-up built (SQLAlchemy, Apprise, Jinja: ~150,000 objects) lives for good;
        # frozen, a full collection skips it, where under load it paused every request for
        # 100-300 ms (docs/performance.md, lead ingest).
        gc.collect()
        gc.freeze()
        # A key in the environment is "added" by a restart: what it verifies in the quarantine
        # (sent before it was set) is accepted now, in the background.
        rechecked = asyncio.create_task(recheck_at_start()) if settings.signing_keys else None
        try:
            yield
        finally:
            if rechecked is not None:
                await rechecked  # its thread cannot be stopped: let it end before the database
            await run_in_threadpool(notify_worker.stop)  # in-flight sends get recorded
            await run_in_threadpool(forward_worker.stop)  # likewise
            processor.stop()
            await ingest.stop()
            await run_in_threadpool(db.close)

    receive_webhook = metrics.count_answers(webhook.post)
    webhook_headers = [*SECURITY_HEADERS.items(), ("cache-control", "no-store")]
    app = Starlette(
        routes=[
            # Answered by WebhookFastPath below, ahead of the UI's middleware; same handler.
            Route("/webhook", receive_webhook, methods=["POST"]),
            Route("/webhook", webhook.get, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *web.routes,
        ],
        # /metrics first: a scraper holds a token, not the web UI's session.
        middleware=[
            Middleware(WebhookFastPath, endpoint=receive_webhook, headers=webhook_headers),
            Middleware(MetricsEndpoint, metrics=metrics),
            *web.middleware,
        ],
        exception_handlers=web.exception_handlers,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.live = live
    app.state.db = db
    app.state.notify = notify
    app.state.forward = forward
    app.state.processor = processor
    app.state.ingest = ingest
    app.state.web = web.web
    return app


def announce(current: Settings, setup_code: str | None, *, keys_from_environment: bool) -> None:
    """The one block at start (app.logs): addresses, Sign Key status, the setup code if any."""
    keys = logs.key_status(
        from_environment=keys_from_environment, stored_keys=len(current.signing_keys)
    )
    # At warning while something is left to do, so LOG_LEVEL=warning still shows the setup code.
    level = logging.WARNING if setup_code or not current.signing_keys else logging.INFO
    log.log(level, "%s", logs.start_block(current, __version__, keys=keys, setup_code=setup_code))
