"""The ASGI application: routes, and the lifespan that owns the database and workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import __version__
from app.config import Settings
from app.db import Database
from app.forward.destinations import load_env as load_forward_destinations
from app.forward.service import ForwardService
from app.forward.worker import ForwardWorker
from app.health import Health
from app.ingest.processor import Processor
from app.metrics import Metrics, MetricsEndpoint
from app.notify.service import NotifyService
from app.notify.targets import TargetRegistry
from app.notify.worker import NotifyWorker
from app.web.ui import WebUI
from app.webhook import Webhook

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Starlette:
    db = Database(settings)
    processor = Processor(db)
    webhook = Webhook(settings, db, on_pending=processor.wake)
    targets = TargetRegistry(settings)  # one plugin instance (and lock) per target for both
    notify_worker = NotifyWorker(settings, db, targets)
    # The API behind Settings -> Notifications; it wakes the worker when rows are due now.
    notify = NotifyService(settings, db, targets, wake=notify_worker.wake)
    forwarding = load_forward_destinations(settings)  # FORWARD_URLS, read once
    forward_worker = ForwardWorker(settings, db, forwarding)
    forward = ForwardService(settings, db, forwarding, wake=forward_worker.wake)
    web = WebUI(settings, db, processor)
    health = Health(db)
    metrics = Metrics(settings, db)  # GET /metrics, read from the database when scraped

    async def healthz(request: Request) -> JSONResponse:
        # 503 when the database cannot take a write, so the container's health shows what
        # every delivery would meet; cheap enough to poll each second (see app.health).
        trouble = await health.trouble()
        if trouble is not None:
            return JSONResponse({"status": "error", "error": trouble}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(db.open)
        processor.start()
        await run_in_threadpool(notify_worker.start)
        await run_in_threadpool(forward_worker.start)
        await web.start()
        announce(settings)
        try:
            yield
        finally:
            await run_in_threadpool(notify_worker.stop)  # in-flight sends get recorded
            await run_in_threadpool(forward_worker.stop)  # likewise
            processor.stop()
            await run_in_threadpool(db.close)

    app = Starlette(
        routes=[
            Route("/webhook", metrics.count_answers(webhook.post), methods=["POST"]),
            Route("/webhook", webhook.get, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *web.routes,
        ],
        # /metrics first: a scraper holds a token, not the web UI's session.
        middleware=[Middleware(MetricsEndpoint, metrics=metrics), *web.middleware],
        exception_handlers=web.exception_handlers,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.notify = notify
    app.state.forward = forward
    app.state.processor = processor
    app.state.web = web.web
    return app


def announce(settings: Settings) -> None:
    where = settings.base_url or f"http://<this machine>:{settings.port}"
    log.info("Hello Client inbox %s ready; webhook URL: %s/webhook", __version__, where)
    if not settings.signing_keys:
        log.warning(
            "WEBHOOK_SIGNING_KEY is not set: /webhook answers 503 until it is. Copy the Sign Key "
            "from Hello Client (Workspace > Webhook) into WEBHOOK_SIGNING_KEY."
        )
