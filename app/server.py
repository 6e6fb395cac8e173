"""The ASGI application: routes, and the lifespan that owns the database and workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app import __version__
from app.config import Settings
from app.db import Database
from app.ingest.processor import Processor
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
    web = WebUI(settings, db, processor)

    async def healthz(request: Request) -> JSONResponse:
        def ping() -> None:
            with db.read() as connection:
                connection.execute(text("SELECT 1"))

        try:
            await run_in_threadpool(ping)
        except DBAPIError:
            return JSONResponse({"status": "error", "error": "database unavailable"}, 503)
        return JSONResponse({"status": "ok", "version": __version__})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(db.open)
        processor.start()
        await run_in_threadpool(notify_worker.start)
        await web.start()
        announce(settings)
        try:
            yield
        finally:
            await run_in_threadpool(notify_worker.stop)  # in-flight sends get recorded
            processor.stop()
            await run_in_threadpool(db.close)

    app = Starlette(
        routes=[
            Route("/webhook", webhook.post, methods=["POST"]),
            Route("/webhook", webhook.get, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            *web.routes,
        ],
        middleware=web.middleware,
        exception_handlers=web.exception_handlers,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db
    app.state.notify = notify
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
